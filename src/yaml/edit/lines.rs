//! Where new lines go and how they end: shared by every edit that inserts.
use crate::yaml::tree::Node;

use crate::source::{eol_near, line_end, line_start, next_line_start};

/// Insert `lines` (without line endings) after the line on which `end`
/// falls (or at `end` when it already is a line start). Returns the offset
/// and the text: each line ends with the local line ending, except at the
/// end of a file without a final line break, where the break goes first.
pub(crate) fn after(src: &str, last: Node, lines: &[String]) -> (usize, String) {
    match ends_in_block_scalar(last) {
        // `|+` / `>+` keep their trailing blank lines: insert below them
        Some(block) if keeps_trailing_lines(src, block) => {
            let mut pos = next_line_start(src, block.end_byte().saturating_sub(1));
            while pos < src.len() {
                let next = next_line_start(src, pos);
                if !src[pos..next].trim().is_empty() {
                    break;
                }
                pos = next;
            }
            let eol = eol_near(src, pos);
            if pos == src.len() && !src.ends_with('\n') {
                (pos, format!("{eol}{}", lines.join(eol)))
            } else {
                (pos, format!("{}{eol}", lines.join(eol)))
            }
        }
        block => after_offset(src, last.end_byte(), block.is_none(), lines),
    }
}

/// True for a block scalar with keep chomping (`|+`, `>+`, `|2+`).
fn keeps_trailing_lines(src: &str, block: Node) -> bool {
    let raw = &src[block.byte_range()];
    let header = raw.lines().next().unwrap_or("");
    header.split(" #").next().unwrap_or(header).contains('+')
}

/// The block scalar that is the last thing in `node`, if any (its content
/// lines may look like comments).
fn ends_in_block_scalar(node: Node) -> Option<Node> {
    let mut n = node;
    loop {
        if n.kind() == "block_scalar" {
            return Some(n);
        }
        let last = n.named().filter(|c| c.kind() != "comment").last();
        match last {
            Some(child) => n = child,
            None => return None,
        }
    }
}

/// [`after`] for a raw end offset; `skip_comments` keeps trailing comment
/// lines below the insertion.
pub(crate) fn after_offset(
    src: &str,
    end: usize,
    skip_comments: bool,
    lines: &[String],
) -> (usize, String) {
    // Nodes at the end of a document can take in trailing blank lines: go
    // back to the last line with content, so blank lines stay where they are.
    // Trailing comment lines stay below the insertion too.
    let mut end = src[..end].trim_end().len();
    loop {
        let start = line_start(src, end);
        let line = src[start..end].trim_start();
        if !skip_comments || start == 0 || !line.starts_with('#') {
            break;
        }
        end = src[..start].trim_end().len();
    }
    let pos = next_line_start(src, end);
    let eol = eol_near(src, pos);
    if pos == src.len() && !src.is_empty() && !src.ends_with('\n') {
        (pos, format!("{eol}{}", lines.join(eol)))
    } else {
        (pos, format!("{}{eol}", lines.join(eol)))
    }
}

/// Text that replaces a value after `key:` with lines below it.
pub(crate) fn below(src: &str, at: usize, lines: &[String]) -> String {
    let eol = eol_near(src, next_line_start(src, at));
    let mut out = String::new();
    for l in lines {
        out.push_str(eol);
        out.push_str(l);
    }
    out
}

/// The line ending to join replaced whole lines with.
pub(crate) fn join(src: &str, at: usize, lines: &[String]) -> String {
    lines.join(eol_near(src, next_line_start(src, at)))
}

/// End of the `:` of a mapping pair.
pub(crate) fn colon_end(pair: Node) -> usize {
    let mut cursor = pair.walk();
    let colon = pair.children(&mut cursor).find(|c| c.kind() == ":");
    colon.map_or(pair.end_byte(), |c| c.end_byte())
}

/// True when nothing but spaces precedes `pos` on its line.
pub(crate) fn alone_on_line(src: &str, pos: usize) -> bool {
    src[line_start(src, pos)..pos]
        .trim_matches([' ', '\t'])
        .is_empty()
}

/// The full line span `[line start, line end)` of `pos`, without its ending.
pub(crate) fn line_span(src: &str, pos: usize) -> (usize, usize) {
    (line_start(src, pos), line_end(src, pos))
}

pub(crate) fn indent(n: usize) -> String {
    " ".repeat(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn after_keeps_line_endings_and_final_newline_state() {
        let l = vec!["x: 1".to_string()];
        assert_eq!(
            after_offset("a: 1\nb: 2\n", 4, true, &l),
            (5, "x: 1\n".into())
        );
        assert_eq!(
            after_offset("a: 1\r\nb: 2\r\n", 4, true, &l),
            (6, "x: 1\r\n".into())
        );
        assert_eq!(
            after_offset("a: 1\nb: 2", 9, true, &l),
            (9, "\nx: 1".into())
        );
        assert_eq!(after_offset("a: 1\n", 5, true, &l), (5, "x: 1\n".into()));
        assert_eq!(
            after_offset("a:\n  b: 1\n  # end of a\n\n", 22, true, &l),
            (10, "x: 1\n".into())
        );
    }
}
