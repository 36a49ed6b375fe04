//! Split a YAML stream into its documents by their markers, so each document
//! is parsed, edited and checked on its own (memory stays proportional to one
//! document; an error names its own document).
//!
//! YAML forbids a `---` or `...` marker at column 0 inside any content
//! (block scalars, quoted scalars included), so a line scan is exact.

/// One document's region of the stream: `[start, end)` in bytes. Comments
/// and blank lines after a document's content, before the next `---`,
/// belong to it (the download keeps its commented-out templates there).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunk {
    pub start: usize,
    pub end: usize,
}

fn is_marker(line: &str, marker: &str) -> bool {
    line.strip_prefix(marker)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t', '\r', '\n']))
}

/// Split `text` into document chunks covering it completely, in order.
pub fn split(text: &str) -> Vec<Chunk> {
    let mut chunks = Vec::new();
    let mut start = 0;
    let mut has_content = false;
    let mut pos = 0;
    while pos < text.len() {
        // (a byte loop: lines are short, and `str::find` costs more per call)
        let next = crate::source::newline_from(text, pos).map_or(text.len(), |i| i + 1);
        let line = &text[pos..next];
        let first = text.as_bytes()[pos];
        if first == b'-' && is_marker(line, "---") {
            if has_content {
                chunks.push(Chunk { start, end: pos });
                start = pos;
            }
            has_content = true;
        } else if first == b'.' && is_marker(line, "...") {
            chunks.push(Chunk { start, end: next });
            start = next;
            has_content = false;
        } else if !has_content {
            // (once a document has content, its other lines need no look)
            let t = line.trim_start();
            if !(t.is_empty() || t.starts_with('#') || line.starts_with('%')) {
                has_content = true;
            }
        }
        pos = next;
    }
    if start < text.len() || chunks.is_empty() {
        chunks.push(Chunk {
            start,
            end: text.len(),
        });
    }
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pieces(text: &str) -> Vec<&str> {
        split(text).iter().map(|c| &text[c.start..c.end]).collect()
    }

    #[test]
    fn splits_on_markers_keeping_every_byte() {
        let text = "# head\na: 1\n#c\n---\nb: 2\n...\n%YAML 1.2\n---\nc: |\n  x\n---   \n";
        let p = pieces(text);
        assert_eq!(
            p,
            [
                "# head\na: 1\n#c\n",
                "---\nb: 2\n...\n",
                "%YAML 1.2\n---\nc: |\n  x\n",
                "---   \n"
            ]
        );
        assert_eq!(p.concat(), text);
    }

    #[test]
    fn leading_marker_and_comments_stay_with_first_document() {
        assert_eq!(pieces("# x\n---\na: 1\n"), ["# x\n---\na: 1\n"]);
        assert_eq!(pieces("a: ---x\n----\n"), ["a: ---x\n----\n"]);
        assert_eq!(pieces(""), [""]);
    }
}
