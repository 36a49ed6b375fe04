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
    // Once a document has content only marker lines matter: the next line
    // starting `---` or `...` is found by a vectorised search for each
    // (each search goes on from where it stopped: one pass over the text).
    let bytes = text.as_bytes();
    let mut dashes = memchr::memmem::find_iter(bytes, b"\n---").peekable();
    let mut dots = memchr::memmem::find_iter(bytes, b"\n...").peekable();
    while pos < text.len() {
        if has_content && pos > 0 && bytes[pos - 1] == b'\n' {
            // the next candidate line at or after `pos` (its `\n` at pos - 1 or later)
            let next_of = |found: &mut std::iter::Peekable<memchr::memmem::FindIter>| {
                while found.next_if(|&i| i + 1 < pos).is_some() {}
                found.peek().map_or(text.len(), |&i| i + 1)
            };
            pos = next_of(&mut dashes).min(next_of(&mut dots));
            if pos >= text.len() {
                break;
            }
        }
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

    /// The rule, one line at a time: a marker line `---` starts a new
    /// document if the current one has content; a `...` line ends one;
    /// comments, blank lines and directives before content are no content.
    fn by_lines(text: &str) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        let (mut start, mut content, mut pos) = (0, false, 0);
        for line in text.split_inclusive('\n') {
            let marker = |m: &str| {
                line.strip_prefix(m).is_some_and(|r| {
                    r.is_empty()
                        || r.starts_with(' ')
                        || r.starts_with('\t')
                        || r.starts_with('\r')
                        || r.starts_with('\n')
                })
            };
            if marker("---") {
                if content {
                    out.push((start, pos));
                    start = pos;
                }
                content = true;
            } else if marker("...") {
                out.push((start, pos + line.len()));
                start = pos + line.len();
                content = false;
            } else if !(line.trim().is_empty()
                || line.trim_start().starts_with('#')
                || line.starts_with('%'))
            {
                content = true;
            }
            pos += line.len();
        }
        if start < text.len() || out.is_empty() {
            out.push((start, text.len()));
        }
        out
    }

    proptest::proptest! {
        #[test]
        fn split_agrees_with_the_rule_line_by_line(
            lines in proptest::collection::vec(
                "(---|\\.\\.\\.|----|---x|--- a|...\t|#c|%YAML 1.2|a: 1|  - b|\\.x| |)(\r)?",
                0..40,
            ),
            last_newline in proptest::bool::ANY,
        ) {
            let mut text = lines.join("\n");
            if last_newline {
                text.push('\n');
            }
            let got: Vec<(usize, usize)> = split(&text).iter().map(|c| (c.start, c.end)).collect();
            proptest::prop_assert_eq!(got, by_lines(&text), "{:?}", text);
        }
    }

    #[test]
    fn leading_marker_and_comments_stay_with_first_document() {
        assert_eq!(pieces("# x\n---\na: 1\n"), ["# x\n---\na: 1\n"]);
        assert_eq!(pieces("a: ---x\n----\n"), ["a: ---x\n----\n"]);
        assert_eq!(pieces(""), [""]);
    }
}
