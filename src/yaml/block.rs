//! The document carried inside a block scalar (`mutate.yaml: |`): its text
//! with the block indentation removed, and the mapping of positions and
//! edits back to the outer file.
use crate::yaml::tree::Node;

/// The inner text of a block scalar and how it sits in the outer text.
#[derive(Debug, Clone)]
pub struct BlockText {
    /// The content with `indent` columns removed from every line.
    pub text: String,
    /// The block's content indentation in the outer file.
    pub indent: usize,
    /// Per inner line: (inner start offset, outer physical line start, bytes removed).
    lines: Vec<(usize, usize, usize)>,
    /// Outer offset just after the block's last content line.
    outer_end: usize,
}

impl BlockText {
    /// Read a `block_scalar` node. `parent_indent` is the column of the key
    /// whose value it is (used with an explicit indentation indicator).
    /// Errors carry an outer byte offset.
    pub fn read(
        node: Node,
        outer: &str,
        parent_indent: usize,
    ) -> Result<BlockText, (usize, String)> {
        let range = node.byte_range();
        let raw = &outer[range.clone()];
        let header_len = raw.find('\n').map_or(raw.len(), |i| i + 1);
        let header = raw[..header_len].trim_end();
        let header = header.split(" #").next().unwrap_or(header).trim_end();
        let indicator = header
            .chars()
            .find_map(|c| c.to_digit(10))
            .map(|d| d as usize);
        let body_start = range.start + header_len;
        let body = &outer[body_start..range.end];
        let indent = match indicator {
            Some(d) => parent_indent + d,
            None => body
                .split('\n')
                .find(|l| !l.trim_matches([' ', '\r']).is_empty())
                .map_or(parent_indent + 2, |l| {
                    l.len() - l.trim_start_matches(' ').len()
                }),
        };
        let mut text = String::with_capacity(body.len());
        let mut lines = Vec::new();
        let mut pos = body_start;
        while pos < range.end {
            let next = outer[pos..range.end]
                .find('\n')
                .map_or(range.end, |i| pos + i + 1);
            let line = &outer[pos..next];
            let spaces = line.len() - line.trim_start_matches(' ').len();
            let blank = line.trim_matches([' ', '\r', '\n']).is_empty();
            if spaces < indent && !blank {
                return Err((
                    pos + spaces,
                    format!("block scalar line is indented less than its {indent} columns"),
                ));
            }
            let strip = spaces.min(indent);
            lines.push((text.len(), pos, strip));
            text.push_str(&line[strip..]);
            pos = next;
        }
        Ok(BlockText {
            text,
            indent,
            lines,
            outer_end: range.end,
        })
    }

    /// The text of `outer[start..end]` with `indent` columns removed from
    /// every line: an item of a `kind: List` cut out of a document too long
    /// to parse whole. The first line loses its first `indent` bytes
    /// whatever they are (the item's `- `); blank and comment lines may be
    /// indented less. Errors carry an outer byte offset.
    pub fn from_range(
        outer: &str,
        start: usize,
        end: usize,
        indent: usize,
    ) -> Result<BlockText, (usize, String)> {
        let mut text = String::with_capacity(end - start);
        let mut lines = Vec::new();
        let mut pos = start;
        while pos < end {
            let next = outer[pos..end].find('\n').map_or(end, |i| pos + i + 1);
            let line = &outer[pos..next];
            let spaces = line.len() - line.trim_start_matches(' ').len();
            let rest = line.trim_matches([' ', '\r', '\n']);
            let strip = if pos == start {
                indent.min(line.len())
            } else if spaces >= indent {
                indent
            } else if rest.is_empty() || rest.starts_with('#') {
                spaces
            } else {
                return Err((
                    pos + spaces,
                    format!("this line is indented less than its list item's {indent} columns"),
                ));
            };
            if !line.is_char_boundary(strip) {
                return Err((pos, "list item does not start where expected".into()));
            }
            lines.push((text.len(), pos, strip));
            text.push_str(&line[strip..]);
            pos = next;
        }
        Ok(BlockText {
            text,
            indent,
            lines,
            outer_end: end,
        })
    }

    /// Outer offset of an inner offset (for messages).
    pub fn outer_offset(&self, inner: usize) -> usize {
        self.map(inner).0
    }

    /// Outer offset of an inner offset for messages that name a column: at
    /// the start of a line with content, the column where the block's
    /// content starts on that line (after the indentation it strips).
    pub fn outer_position(&self, inner: usize) -> usize {
        let i = self.lines.partition_point(|&(s, _, _)| s <= inner);
        match i.checked_sub(1).map(|i| self.lines[i]) {
            Some((start, outer_line, strip))
                if inner == start && !self.text[start..].starts_with(['\n', '\r']) =>
            {
                outer_line + strip
            }
            _ => self.map(inner).0,
        }
    }

    /// Map an inner offset: (outer offset, at a line start). At a line start
    /// the outer offset is the physical line start, before the indentation.
    fn map(&self, inner: usize) -> (usize, bool) {
        let i = self.lines.partition_point(|&(s, _, _)| s <= inner);
        if i == 0 {
            return (self.outer_end, true);
        }
        let (start, outer_line, strip) = self.lines[i - 1];
        if inner == start {
            return (outer_line, true);
        }
        let line_len = self.lines.get(i).map_or(self.text.len(), |l| l.0) - start;
        if inner - start >= line_len && self.text[start..start + line_len].ends_with('\n') {
            // just past this line's break: the start of the next physical line
            return (self.lines.get(i).map_or(self.outer_end, |l| l.1), true);
        }
        (outer_line + strip + (inner - start), false)
    }

    /// Translate an inner splice `[start, end) -> text` to the outer file,
    /// indenting every inserted line by the block's indentation.
    pub fn translate(&self, start: usize, end: usize, text: &str) -> (usize, usize, String) {
        let (outer_start, at_line_start) = self.map(start);
        let (outer_end, _) = if end == start {
            (outer_start, at_line_start)
        } else {
            self.map(end)
        };
        let pad = " ".repeat(self.indent);
        let mut out = String::with_capacity(text.len() + 4 * self.indent);
        let mut line_start = at_line_start;
        for piece in text.split_inclusive('\n') {
            if line_start && !piece.trim_start_matches(['\r', '\n']).is_empty() && piece != "\r\n" {
                out.push_str(&pad);
            }
            out.push_str(piece);
            line_start = piece.ends_with('\n');
        }
        (outer_start, outer_end, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::cst;

    fn block(src: &str) -> BlockText {
        let tree = cst::parse(src).unwrap();
        let map = cst::content(tree.root_node().named_child(0).unwrap()).unwrap();
        let pair = cst::get(map, src, "m").unwrap();
        let node = cst::content(pair.value.unwrap()).unwrap();
        BlockText::read(node, src, cst::column(pair.key)).unwrap()
    }

    fn splice(src: &str, b: &BlockText, start: usize, end: usize, text: &str) -> String {
        let (s, e, t) = b.translate(start, end, text);
        format!("{}{}{}", &src[..s], t, &src[e..])
    }

    #[test]
    fn inner_text_is_dedented() {
        let src = "m: |\n    a: 1\n\n    b:\n    - x\nz: 1\n";
        let b = block(src);
        // mid-document, tree-sitter ends the block before its last line break
        assert_eq!(b.text, "a: 1\n\nb:\n- x");
        assert_eq!(b.indent, 4);
    }

    #[test]
    fn indentation_indicator_is_honoured() {
        let src = "x:\n  m: |2\n      deep: 1\n    top: 2\n";
        let tree = cst::parse(src).unwrap();
        let map = cst::content(tree.root_node().named_child(0).unwrap()).unwrap();
        let inner = cst::get_value(map, src, "x").unwrap();
        let pair = cst::get(inner, src, "m").unwrap();
        let b = BlockText::read(
            cst::content(pair.value.unwrap()).unwrap(),
            src,
            cst::column(pair.key),
        )
        .unwrap();
        assert_eq!(b.indent, 4);
        assert_eq!(b.text, "  deep: 1\ntop: 2\n");
    }

    #[test]
    fn insertions_at_line_starts_and_end_are_indented() {
        let src = "m: |\n  a: 1\n  b: 2\nz: 1\n";
        let b = block(src);
        assert_eq!(
            splice(src, &b, 0, 0, "new: 0\n"),
            "m: |\n  new: 0\n  a: 1\n  b: 2\nz: 1\n"
        );
        let end = b.text.len();
        assert_eq!(
            splice(src, &b, end, end, "\nc: 3\nd: 4"),
            "m: |\n  a: 1\n  b: 2\n  c: 3\n  d: 4\nz: 1\n"
        );
        // replace a value in the middle of a line
        assert_eq!(splice(src, &b, 3, 4, "9"), "m: |\n  a: 9\n  b: 2\nz: 1\n");
        // replace a whole line
        assert_eq!(
            splice(src, &b, 0, 4, "x: y"),
            "m: |\n  x: y\n  b: 2\nz: 1\n"
        );
    }

    #[test]
    fn block_at_end_without_newline() {
        let src = "m: |-\n  a: 1";
        let b = block(src);
        assert_eq!(b.text, "a: 1");
        assert_eq!(splice(src, &b, 4, 4, "\nb: 2"), "m: |-\n  a: 1\n  b: 2");
    }
}
