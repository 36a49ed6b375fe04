//! Where new lines go and how they end: shared by every edit that inserts.
use tree_sitter::Node;

use crate::source::{eol_near, line_end, line_start, next_line_start};

/// Insert `lines` (without line endings) after the line on which `end`
/// falls (or at `end` when it already is a line start). Returns the offset
/// and the text: each line ends with the local line ending, except at the
/// end of a file without a final line break, where the break goes first.
pub(crate) fn after(src: &str, end: usize, lines: &[String]) -> (usize, String) {
    // Nodes at the end of a document can take in trailing blank lines: go
    // back to the last line with content, so blank lines stay where they are.
    let end = src[..end].trim_end().len();
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
        assert_eq!(after("a: 1\nb: 2\n", 4, &l), (5, "x: 1\n".into()));
        assert_eq!(after("a: 1\r\nb: 2\r\n", 4, &l), (6, "x: 1\r\n".into()));
        assert_eq!(after("a: 1\nb: 2", 9, &l), (9, "\nx: 1".into()));
        assert_eq!(after("a: 1\n", 5, &l), (5, "x: 1\n".into()));
    }
}
