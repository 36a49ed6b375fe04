//! Edits inside flow collections (`{...}`, `[...]`), which is where JSON
//! manifests (`kubectl get -o json`) keep everything: new entries follow
//! the collection's own layout, one per line when its entries are, and JSON
//! documents get JSON keys and strings so that the file stays valid JSON.
use crate::yaml::tree::Node;

use super::lines;
use crate::source::{eol_near, line_start};
use crate::yaml::cst;

/// True when a document is written as JSON: a flow mapping whose first key
/// is double-quoted.
pub fn is_json(top: Node) -> bool {
    top.kind() == "flow_mapping"
        && cst::pairs(top)
            .first()
            .and_then(|p| cst::content(p.key))
            .is_some_and(|k| k.kind() == "double_quote_scalar")
}

/// Insert `entry` after `last`, the last entry of a flow collection:
/// `, ENTRY` on the same line, or a new line at `last`'s column when
/// `last` starts its own line.
pub(crate) fn append(src: &str, last: Node, entry: &str) -> (usize, String) {
    let at = last.end_byte();
    if lines::alone_on_line(src, last.start_byte()) {
        let col = last.start_byte() - line_start(src, last.start_byte());
        let eol = eol_near(src, at);
        (at, format!(",{eol}{}{entry}", lines::indent(col)))
    } else {
        (at, format!(", {entry}"))
    }
}
