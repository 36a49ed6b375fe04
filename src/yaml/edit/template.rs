//! Finding a commented-out template of an entry: a comment line `#KEY:`
//! and the `# - ITEM_KEY: value` comment lines right below it.
use std::ops::Range;

use crate::yaml::tree::Node;

use super::lines;
use crate::source::next_line_start;
use crate::yaml::cst;

/// What a commented-out template looks like.
///
/// ```text
/// #imagePullSecrets:            key: "imagePullSecrets"
/// #  - name: secret             item_key: "name"
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Template<'a> {
    pub key: &'a str,
    pub item_key: &'a str,
}

impl Template<'_> {
    /// The span (line start of the head to the end of its last line, without
    /// the line ending) of the first such template among the comments of
    /// `root` that start inside `region`, whose lines, once uncommented at
    /// column `col`, close the block above them.
    pub fn find(
        &self,
        src: &str,
        root: Node,
        region: Range<usize>,
        col: usize,
    ) -> Option<(usize, usize)> {
        let comments: Vec<Node> = cst::comments(root)
            .into_iter()
            .filter(|c| region.contains(&c.start_byte()))
            .collect();
        let head_text = format!("{}:", self.key);
        for (i, head) in comments.iter().enumerate() {
            // Any column: a template belongs here wherever its `#` sits, as
            // long as uncommenting it at `col` closes the block above.
            if comment_body(src, *head) != Some(head_text.as_str()) {
                continue;
            }
            let mut last = *head;
            for next in &comments[i + 1..] {
                let follows = next.start_position().row == last.start_position().row + 1;
                if !(follows && self.is_item(comment_body(src, *next))) {
                    break;
                }
                last = *next;
            }
            let (start, _) = lines::line_span(src, head.start_byte());
            let (_, end) = lines::line_span(src, last.start_byte());
            if closes_block(src, end, col) {
                return Some((start, end));
            }
        }
        None
    }

    /// `- ITEM_KEY: something`.
    fn is_item(&self, body: Option<&str>) -> bool {
        body.and_then(|b| b.strip_prefix('-'))
            .and_then(|r| r.trim_start().strip_prefix(self.item_key))
            .and_then(|r| r.strip_prefix(':'))
            .is_some_and(|v| !v.trim().is_empty())
    }
}

/// The bytes of `node` and the comment and blank lines right after it (up
/// to the next line with content): where a commented-out template that
/// belongs to `node` can be.
pub fn with_trailing_comments(src: &str, node: Node) -> Range<usize> {
    let mut at = next_line_start(
        src,
        node.end_byte().saturating_sub(1).max(node.start_byte()),
    );
    while at < src.len() {
        let next = next_line_start(src, at);
        let body = src[at..next].trim_start_matches([' ', '\t']);
        if !(body.trim().is_empty() || body.starts_with('#')) {
            break;
        }
        at = next;
    }
    node.start_byte()..at
}

/// Text after `#` and spaces, if `comment` is alone on its line.
fn comment_body<'s>(src: &'s str, comment: Node) -> Option<&'s str> {
    if !lines::alone_on_line(src, comment.start_byte()) {
        return None;
    }
    Some(src[comment.byte_range()].strip_prefix('#')?.trim())
}

/// True when the first content line after `pos` is not nested deeper than
/// `col` (so uncommented lines at `col` end the block above them).
fn closes_block(src: &str, pos: usize, col: usize) -> bool {
    let mut at = next_line_start(src, pos);
    while at < src.len() {
        let next = next_line_start(src, at);
        let line = &src[at..next];
        let body = line.trim_start_matches(' ');
        if !(body.trim().is_empty() || body.starts_with('#')) {
            return line.len() - body.len() <= col
                || line.starts_with("---")
                || line.starts_with("...");
        }
        at = next;
    }
    true
}
