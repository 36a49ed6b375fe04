//! The parsers' fixed limits, guarded before either parser sees a text.
//!
//! - tree-sitter-yaml keeps its block indentation stack in tree-sitter's
//!   1 KiB external-scanner state: past about 250 nested block collections
//!   tree-sitter aborts the whole process with a C assertion (exit 134).
//! - tree-sitter-yaml counts rows in 16 bits: a text over 32,767 lines is
//!   misparsed (a valid document is reported as invalid YAML).
//! - saphyr counts flow nesting in 8 bits and builds values recursively.
//!
//! So nesting deeper than [`MAX_DEPTH`] is refused with its position (no
//! manifest comes near it; the project's span scanner, `super::scan`, has no
//! fixed limit but recurses per level), and no text longer than
//! [`MAX_SPAN_LINES`] lines is given to tree-sitter: longer documents are
//! read by the span scanner, and what it leaves to tree-sitter is refused
//! for its size (a long `kind: List` is also edited item by item, see
//! `patch::plan`).
use saphyr_parser::{Event, Parser};

use super::error::SyntaxError;

/// The deepest nesting of collections accepted (block and flow together).
pub const MAX_DEPTH: usize = 200;

/// The longest text (in lines) given to tree-sitter in one piece.
pub const MAX_SPAN_LINES: usize = 30_000;

/// Number of lines of `text` (a last line without a line break counts).
pub fn line_count(text: &str) -> usize {
    let breaks = text.bytes().filter(|&b| b == b'\n').count();
    breaks + usize::from(!text.is_empty() && !text.ends_with('\n'))
}

/// True when `text` may be given to tree-sitter whole.
pub fn fits_span_parser(text: &str) -> bool {
    // most texts are far below the limit: count only when they could exceed it
    text.len() / 2 < MAX_SPAN_LINES || line_count(text) <= MAX_SPAN_LINES
}

/// A cheap upper bound of the nesting depth of `text`: every nested block
/// collection needs a column of indentation or an indicator (`- `, `? `,
/// `: `) before its content on some line, plus one for an indentless
/// sequence and one for the top; every flow collection needs its own
/// opening bracket.
fn depth_bound(text: &str) -> usize {
    let mut prefix_max = 0usize;
    let mut openers = 0usize;
    let mut at_line_start = true;
    let mut prefix = 0usize;
    for &b in text.as_bytes() {
        match b {
            b'\n' => {
                at_line_start = true;
                prefix = 0;
                continue;
            }
            b'[' | b'{' => openers += 1,
            _ => {}
        }
        if at_line_start {
            if matches!(b, b' ' | b'\t' | b'-' | b'?' | b':' | b'\r') {
                prefix += 1;
                prefix_max = prefix_max.max(prefix);
            } else {
                at_line_start = false;
            }
        }
    }
    prefix_max + 2 + openers
}

/// Refuse nesting deeper than [`MAX_DEPTH`], at the collection that goes
/// past it. Other syntax errors are left to the parsers, except where the
/// depth could not be established past them (then that error is returned:
/// no parser may see a text whose depth is unknown).
pub fn check_depth(text: &str) -> Result<(), SyntaxError> {
    if depth_bound(text) <= MAX_DEPTH {
        return Ok(());
    }
    let body = text.strip_prefix('\u{feff}').unwrap_or(text);
    let skipped = text.len() - body.len();
    let mut parser = Parser::new_from_str(body);
    let mut depth = 0usize;
    while let Some(event) = parser.next_event() {
        match event {
            Ok((Event::MappingStart(..) | Event::SequenceStart(..), span)) => {
                depth += 1;
                if depth > MAX_DEPTH {
                    let offset = skipped + byte_offset(body, span.start.line(), span.start.col());
                    return Err(SyntaxError {
                        offset,
                        msg: too_deep(),
                    });
                }
            }
            Ok((Event::MappingEnd | Event::SequenceEnd, _)) => depth = depth.saturating_sub(1),
            Ok(_) => {}
            Err(e) => {
                let m = e.marker();
                let offset = skipped + byte_offset(body, m.line(), m.col());
                // saphyr's scanner, running ahead of its events, stops at 255
                // open flow collections
                let msg = if e.info() == "recursion limit exceeded" {
                    too_deep()
                } else {
                    format!("invalid YAML: {}", e.info())
                };
                return Err(SyntaxError { offset, msg });
            }
        }
    }
    Ok(())
}

fn too_deep() -> String {
    format!(
        "nested more than {MAX_DEPTH} levels deep: no Kubernetes manifest is, and the YAML \
         parsers stop here; check that this is the file you meant"
    )
}

/// Byte offset of a 1-based line and 0-based character column.
pub fn byte_offset(text: &str, line: usize, col: usize) -> usize {
    let mut start = 0;
    for _ in 1..line {
        match text[start..].find('\n') {
            Some(i) => start += i + 1,
            None => return text.len(),
        }
    }
    let rest = &text[start..];
    start + rest.char_indices().nth(col).map_or(rest.len(), |(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(levels: usize) -> String {
        let mut s = String::new();
        for i in 0..levels {
            s.push_str(&" ".repeat(i));
            s.push_str("k:\n");
        }
        s.push_str(&" ".repeat(levels));
        s.push_str("v\n");
        s
    }

    #[test]
    fn shallow_texts_pass_without_a_parse() {
        assert!(depth_bound("a: 1\nb:\n  - c: [1, {d: 2}]\n") <= MAX_DEPTH);
        assert!(check_depth(&block(MAX_DEPTH - 1)).is_ok());
    }

    #[test]
    fn deep_block_and_flow_nesting_is_refused_where_it_goes_too_deep() {
        let text = block(MAX_DEPTH + 50);
        let err = check_depth(&text).unwrap_err();
        // the mapping that starts at line MAX_DEPTH + 1
        let line = text[..err.offset].matches('\n').count() + 1;
        assert_eq!(line, MAX_DEPTH + 1, "{err:?}");
        assert!(err.msg.contains("nested more than 200 levels"), "{err:?}");

        let flow = format!("a: {}{}\n", "[".repeat(10_000), "]".repeat(10_000));
        let err = check_depth(&flow).unwrap_err();
        // where saphyr's scanner stops (255 open brackets), before its events
        // reach the limit
        assert_eq!(err.offset, 3 + 255, "{err:?}");
        assert!(err.msg.contains("nested more than 200 levels"), "{err:?}");
        let flow = format!("a: {}{}\n", "[".repeat(230), "]".repeat(230));
        assert_eq!(check_depth(&flow).unwrap_err().offset, 3 + MAX_DEPTH - 1);
    }

    #[test]
    fn wide_but_shallow_texts_pass() {
        let json = format!("[{}]", vec!["{\"a\": [1]}"; 5000].join(", "));
        assert!(check_depth(&json).is_ok());
    }

    #[test]
    fn offsets_count_characters() {
        assert_eq!(byte_offset("é: 1\nü: [x]\n", 2, 3), 10);
    }
}
