//! Generic edit operations on located YAML nodes, in the document's own
//! style: each takes a node of the concrete syntax tree ([`super::cst`]) and
//! returns a [`Splice`] (bytes to replace) that follows the document's
//! indentation, block or flow layout, JSON-ness, line endings (CRLF stays
//! CRLF) and quoting ([`super::scalar`]). Nothing here knows Kubernetes: the
//! callers choose the targets and the values.
//!
//! | operation | before | after |
//! |---|---|---|
//! | [`append_item`] | `l:\n- a: 1\n` | `l:\n- a: 1\n- a: 2\n` |
//! | [`append_item`] (flow) | `l: [{a: 1}]` | `l: [{a: 1}, {a: 2}]` |
//! | [`insert_entries`] | `m:\n  a: 1\n` | `m:\n  a: 1\n  b: 2\n` |
//! | [`insert_entries`] (JSON) | `{"a": 1}` | `{"a": 1, "b": "2"}` |
//! | [`insert_entries_first`] | `m:\n  a: 1\n` | `m:\n  b: 2\n  a: 1\n` |
//! | [`fill_value`] | `k: # note\n` | `k: # note\n  b: 2\n` |
//! | [`fill_value`] (flow) | `{k: ~}` | `{k: {b: 2}}` |
//! | [`replace_scalar`] | `k: "old"` | `k: "new"` |
//! | [`uncomment_template`] | `#k:\n#- a: 1\n` | `k:\n- a: 1\n` |
mod flow;
pub(crate) mod lines;
mod render;
mod template;
#[cfg(test)]
mod tests;

use crate::yaml::tree::Node;

pub use flow::is_json;
pub use render::{New, Quoting, Scalar};
pub use template::{Template, with_trailing_comments};

use super::cst;
use super::scalar;
use super::style::LazyStyle;
use crate::source::{line_end, line_start};

/// Replace `[start, end)` of the text with `text`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Splice {
    pub start: usize,
    pub end: usize,
    pub text: String,
}

impl Splice {
    fn insert(at: usize, text: String) -> Splice {
        Splice {
            start: at,
            end: at,
            text,
        }
    }
}

/// The text being edited and how it writes things.
#[derive(Debug, Clone, Copy)]
pub struct Doc<'a> {
    pub src: &'a str,
    pub style: &'a LazyStyle<'a>,
    /// The document is JSON: keys and strings are written as JSON.
    pub json: bool,
}

/// Append `item` to a block or flow sequence.
///
/// ```text
/// l:                 l:
///   -   a: 1    ->     -   a: 1
///                      -   a: 2        (dash column and spaces of the last item)
/// l: [{a: 1}]   ->   l: [{a: 1}, {a: 2}]
/// l: []         ->   l: [{a: 2}]
/// ```
///
/// `None` when `seq` is not a sequence.
pub fn append_item(doc: &Doc, seq: Node, item: &New) -> Option<Splice> {
    let src = doc.src;
    match seq.kind() {
        "block_sequence" => {
            let last = cst::block_items(seq).last().copied()?;
            let col = cst::column(last);
            let spaces = super::style::dash_spaces(last, src);
            let new = render::item_lines(item, col, spaces, doc);
            let (at, text) = lines::after(src, last, &new);
            Some(Splice::insert(at, text))
        }
        "flow_sequence" => {
            let entry = render::flow(item, doc.json);
            Some(match cst::items(seq).last().copied().flatten() {
                Some(last) => {
                    let (at, text) = flow::append(src, last, &entry);
                    Splice::insert(at, text)
                }
                None => Splice {
                    start: seq.start_byte(),
                    end: seq.end_byte(),
                    text: format!("[{entry}]"),
                },
            })
        }
        _ => None,
    }
}

/// Add `entries` after the last entry of a block or flow mapping (in place
/// of an empty `{}`).
///
/// ```text
/// m:               m:
///     a: 1    ->       a: 1
///                      b: 2           (the column of the first key)
/// {"a": 1}    ->   {"a": 1, "b": "2"} (JSON keys and strings in JSON)
/// {}          ->   {b: 2}
/// ```
pub fn insert_entries(doc: &Doc, map: Node, entries: &[(Scalar, New)]) -> Option<Splice> {
    let src = doc.src;
    let pairs = cst::pairs(map);
    if map.kind() == "flow_mapping" {
        let Some(last) = pairs.last() else {
            return Some(Splice {
                start: map.start_byte(),
                end: map.end_byte(),
                text: render::flow_map(entries, doc.json),
            });
        };
        let mut at = last.node.end_byte();
        let mut text = String::new();
        for e in entries {
            let (pos, t) = flow::append(src, last.node, &render::flow_entry(e, doc.json));
            at = pos;
            text.push_str(&t);
        }
        return Some(Splice::insert(at, text));
    }
    let first = pairs.first()?;
    let last = pairs.last()?;
    let new = render::entry_lines(entries, cst::column(first.key), doc);
    let (at, text) = lines::after(src, last.node, &new);
    Some(Splice::insert(at, text))
}

/// Add `entries` as whole lines before the first entry of a block mapping.
///
/// ```text
/// t:               t:
///   spec: {}  ->     metadata:
///                      x: 'y'
///                    spec: {}
/// ```
///
/// `None` when the first entry does not start its line (`- a: 1`).
pub fn insert_entries_first(doc: &Doc, map: Node, entries: &[(Scalar, New)]) -> Option<Splice> {
    let src = doc.src;
    let first = *cst::pairs(map).first()?;
    if !lines::alone_on_line(src, first.node.start_byte()) {
        return None;
    }
    let new = render::entry_lines(entries, cst::column(first.key), doc);
    let start = line_start(src, first.node.start_byte());
    let (_, text) = lines::after_offset(src, start, false, &new);
    Some(Splice::insert(start, text))
}

/// Give an entry with an empty value (`k:`, `k: ~`, `k: {}`) the value
/// `value`: inline in a flow mapping, as lines below the key in a block
/// mapping (a comment on the key's line stays there).
///
/// ```text
/// k: {}           ->   k:
///                        b: 'c'
/// k: {} # none    ->   k: # none
///                        b: 'c'
/// {k: ~}          ->   {k: {b: 'c'}}
/// ```
pub fn fill_value(doc: &Doc, pair: cst::Pair, value: &New) -> Splice {
    let src = doc.src;
    let at = lines::colon_end(pair.node);
    let end = pair.value.map_or(at, |v| v.end_byte());
    if pair.node.kind() == "flow_pair" {
        return Splice {
            start: at,
            end,
            text: format!(" {}", render::flow(value, doc.json)),
        };
    }
    let new = render::value_lines(value, cst::column(pair.key), doc);
    // `k: {} # note`: the comment stays on the key's line
    let eol = line_end(src, end);
    let rest = &src[end..eol];
    if rest.trim_start_matches([' ', '\t']).starts_with('#') {
        return Splice {
            start: at,
            end: eol,
            text: format!("{rest}{}", lines::below(src, at, &new)),
        };
    }
    Splice {
        start: at,
        end,
        text: lines::below(src, at, &new),
    }
}

/// How [`replace_scalar`] writes the new string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// The old scalar's quotes (`'...'`, `"..."`, plain when safe); a block
    /// scalar becomes a one-line scalar.
    Quotes,
    /// Always this quoting, whatever was there.
    As(Quoting),
}

/// Replace the scalar (or other value) `node` with the string `new`; a
/// block scalar's trailing line breaks stay.
///
/// ```text
/// k: 'a'      -> k: 'b'        (Keep::Quotes)
/// k: a        -> k: b
/// k: |-\n  a  -> k: b
/// k: a        -> k: 'b'        (Keep::As(Quoting::Always))
/// ```
pub fn replace_scalar(doc: &Doc, node: Node, new: &str, keep: Keep) -> Splice {
    let src = doc.src;
    let text = match keep {
        // a literal block's line break stays a line break
        Keep::Quotes if new.contains(|c: char| c.is_control()) => scalar::double_quoted(new),
        Keep::Quotes => match node.kind() {
            "single_quote_scalar" => scalar::single_quoted(new),
            "double_quote_scalar" => scalar::double_quoted(new),
            _ if scalar::is_plain_safe(new) => new.to_string(),
            _ => scalar::single_quoted(new),
        },
        Keep::As(q) => render::scalar(&Scalar::new(new, q), doc.json),
    };
    let end = node.start_byte() + src[node.byte_range()].trim_end().len();
    Splice {
        start: node.start_byte(),
        end,
        text,
    }
}

/// Set the value of an entry to the string `new`: replace the value as
/// written, or write it after `k:` when there is none.
///
/// ```text
/// k: old   -> k: 'new'
/// k:       -> k: 'new'
/// ```
pub fn set_scalar(doc: &Doc, pair: cst::Pair, new: &str, quoting: Quoting) -> Splice {
    match pair.value {
        Some(v) => replace_scalar(doc, v, new, Keep::As(quoting)),
        None => Splice::insert(
            lines::colon_end(pair.node),
            format!(" {}", render::scalar(&Scalar::new(new, quoting), doc.json)),
        ),
    }
}

/// Turn a commented-out `#KEY:` block (found by [`Template::find`]) into
/// the entry `KEY: value`, at the mapping's column `col`.
///
/// ```text
/// a: 1              a: 1
/// #k:          ->   k:
/// #  - b: 2           - b: 2        (written anew in the document's style)
/// ```
pub fn uncomment_template(
    doc: &Doc,
    found: (usize, usize),
    col: usize,
    key: &Scalar,
    value: &New,
) -> Splice {
    let (start, end) = found;
    let new = render::entry_lines(&[(key.clone(), value.clone())], col, doc);
    Splice {
        start,
        end,
        text: lines::join(doc.src, start, &new),
    }
}
