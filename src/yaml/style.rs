//! The local layout of a document, so inserted lines look like their
//! neighbours (indentation step, sequence dash placement), and the one
//! scalar quoting policy: plain only when [`is_plain_safe`], otherwise
//! single- or double-quoted so that the text reads back exactly.
use tree_sitter::Node;

use super::cst;

/// How a document lays out nested blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    /// Columns between a key and its nested mapping's keys.
    pub step: usize,
    /// Columns between a key and the `-` of its block sequence (0 = indentless).
    pub dash_offset: usize,
    /// Spaces after `-` (`-   name:` has 3).
    pub dash_spaces: usize,
}

/// What one document shows of its style (each part only if it has an example).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Observed {
    pub step: Option<usize>,
    pub seq: Option<(usize, usize)>,
}

impl Observed {
    /// Look at a document (or inner document) tree.
    pub fn of(root: Node, src: &str) -> Observed {
        let mut seen = Observed::default();
        cst::walk(root, |n| {
            if seen.step.is_some() && seen.seq.is_some() {
                return cst::Walk::Stop;
            }
            if n.kind() == "block_mapping_pair" {
                if let (Some(key), Some(value)) =
                    (n.child_by_field_name("key"), n.child_by_field_name("value"))
                {
                    if let Some(v) = cst::content(value) {
                        let same_line = v.start_position().row == key.start_position().row;
                        if !same_line && v.kind() == "block_mapping" && seen.step.is_none() {
                            let step = cst::column(v).saturating_sub(cst::column(key));
                            if step > 0 {
                                seen.step = Some(step);
                            }
                        }
                        if !same_line && v.kind() == "block_sequence" && seen.seq.is_none() {
                            if let Some(item) = cst::block_items(v).first() {
                                seen.seq = Some((
                                    cst::column(*item).saturating_sub(cst::column(key)),
                                    dash_spaces(*item, src),
                                ));
                            }
                        }
                    }
                }
            }
            cst::Walk::Descend
        });
        seen
    }

    /// Fill what this document lacks from `fallback` (e.g. the whole file).
    pub fn or(self, fallback: Observed) -> Observed {
        Observed {
            step: self.step.or(fallback.step),
            seq: self.seq.or(fallback.seq),
        }
    }

    pub fn style(self) -> Style {
        let step = self.step.unwrap_or(2);
        let (dash_offset, dash_spaces) = self.seq.unwrap_or((step, 1));
        Style {
            step,
            dash_offset,
            dash_spaces,
        }
    }
}

/// Spaces between a block sequence item's `-` and its content on the same line.
pub fn dash_spaces(item: Node, src: &str) -> usize {
    let after = &src[item.start_byte() + 1..item.end_byte()];
    let spaces = after.len() - after.trim_start_matches(' ').len();
    if after[spaces..].starts_with(['\n', '\r']) || after.len() == spaces {
        1
    } else {
        spaces.max(1)
    }
}

/// A string as a YAML plain scalar when that is unambiguous, else single-quoted.
pub fn plain_or_quoted(s: &str) -> String {
    if is_plain_safe(s) {
        s.to_string()
    } else {
        single_quoted(s)
    }
}

/// `'…'` with `'` doubled; a text that single quotes cannot hold (line
/// breaks fold inside them, control characters are not allowed) is
/// double-quoted instead.
pub fn single_quoted(s: &str) -> String {
    if s.chars().all(printable) {
        format!("'{}'", s.replace('\'', "''"))
    } else {
        double_quoted(s)
    }
}

/// Characters YAML allows as they are in a quoted scalar, line breaks of
/// every kind (NEL, LS, PS too), control characters, the BOM and
/// non-characters excluded.
fn printable(c: char) -> bool {
    match c {
        '\t' | '\u{20}'..='\u{7e}' => true,
        '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..='\u{10ffff}' => {
            !matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}')
        }
        _ => false,
    }
}

/// A YAML double-quoted scalar that reads back as exactly `s`: `"`, `\`
/// and every character that is not [`printable`] are escaped.
pub fn double_quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if printable(c) => out.push(c),
            c if (c as u32) <= 0xffff => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push_str(&format!("\\U{:08X}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// A string that can be written as a literal block (`|`): several lines,
/// some text before the last line breaks, nothing that needs escaping, no
/// trailing spaces, no carriage return.
pub fn fits_literal_block(s: &str) -> bool {
    s.contains('\n')
        && !s.trim_end_matches('\n').is_empty()
        && s.chars().all(|c| c == '\n' || (c != '\t' && printable(c)))
        && s.split('\n').all(|l| !l.ends_with(' '))
}

/// True when `s` reads back as the same string when written plain: names,
/// image references, host:port lists; never booleans, numbers or nulls.
pub fn is_plain_safe(s: &str) -> bool {
    let first_ok = s
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '/' || c == '.');
    let chars_ok = s
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "._-/:@+".contains(c));
    let lower = s.to_ascii_lowercase();
    let reserved = matches!(
        lower.as_str(),
        "true" | "false" | "yes" | "no" | "on" | "off" | "y" | "n" | "null" | "~" | ".inf" | ".nan"
    );
    let numeric = s.parse::<f64>().is_ok()
        || s.starts_with("0x")
        || s.starts_with("0o")
        || s.chars().all(|c| {
            c.is_ascii_digit() || c == ':' || c == '_' || c == '.' || c == '-' || c == '+'
        });
    first_ok && chars_ok && !reserved && !numeric && !s.contains(": ") && !s.ends_with(':')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn observed(src: &str) -> Observed {
        let tree = cst::parse(src).unwrap();
        Observed::of(tree.root_node(), src)
    }

    #[test]
    fn infers_step_and_sequence_style() {
        let o = observed("a:\n    b: 1\nl:\n-   x: 1\n");
        assert_eq!(o.step, Some(4));
        assert_eq!(o.seq, Some((0, 3)));
        let o = observed("a:\n  b: 1\nl:\n  - x\n");
        assert_eq!(
            o.style(),
            Style {
                step: 2,
                dash_offset: 2,
                dash_spaces: 1
            }
        );
        assert_eq!(
            observed("a: 1\n").style(),
            Style {
                step: 2,
                dash_offset: 2,
                dash_spaces: 1
            }
        );
        assert_eq!(observed("a: 1\n").or(o).style(), o.style());
    }

    #[test]
    fn quoting() {
        for s in [
            "tingyun-image-secret",
            "harbor.example.com:5000/apm/x:1",
            "a@sha256:ab",
        ] {
            assert_eq!(plain_or_quoted(s), s);
        }
        for s in [
            "true", "123", "1.5", "null", "a b", "x: y", "'q", "", "10:20",
        ] {
            assert!(plain_or_quoted(s).starts_with('\''), "{s}");
        }
        assert_eq!(single_quoted("it's"), "'it''s'");
        assert_eq!(double_quoted("a\"b\\"), "\"a\\\"b\\\\\"");
    }
}
