//! `imagePullSecrets: [{name: NAME}]` in a mapping: keep what is there,
//! uncomment the download's commented-out template, or insert it.
use tree_sitter::Node;

use super::layer::{Layer, Op};
use super::{flow, lines};
use crate::source::next_line_start;
use crate::yaml::cst;
use crate::yaml::scalar;
use crate::yaml::style::{dash_spaces, plain_or_quoted};

const KEY: &str = "imagePullSecrets";

/// Make `map` (an object, or the inner document of mutate.yaml) list
/// `name` under `imagePullSecrets`. A commented-out template is only looked
/// for at document level.
pub(crate) fn ensure(layer: &mut Layer, map: Node, name: &str, document_level: bool) {
    let src = layer.text;
    let style = layer.style;
    let item = |col: usize, spaces: usize| {
        format!(
            "{}-{}name: {}",
            lines::indent(col),
            lines::indent(spaces),
            plain_or_quoted(name)
        )
    };
    let json = layer.json;
    let flow_entry = || {
        format!(
            "{{{}: {}}}",
            flow::key("name", json),
            scalar::string_in(name, json)
        )
    };
    if map.kind() == "flow_mapping" {
        // `{..., imagePullSecrets: [{name: NAME}]}` (JSON: all quoted)
        match cst::get(map, src, KEY) {
            Some(pair) if pair.value.and_then(cst::content).is_none() => {
                let at = lines::colon_end(pair.node);
                let end = pair.value.map_or(at, |v| v.end_byte());
                layer.edit(
                    at,
                    end,
                    format!(" [{}]", flow_entry()),
                    format!("filled empty {KEY} with {name}"),
                );
                layer.intend(Op::PullSecret(name.to_string()));
                return;
            }
            Some(_) => {}
            None => {
                let entry = format!("{}: [{}]", flow::key(KEY, json), flow_entry());
                match cst::pairs(map).last() {
                    Some(last) => {
                        let (at, text) = flow::append(src, last.node, &entry);
                        layer.edit(at, at, text, format!("added {KEY} ({name})"));
                    }
                    None => layer.edit(
                        map.start_byte(),
                        map.end_byte(),
                        format!("{{{entry}}}"),
                        format!("added {KEY} ({name})"),
                    ),
                }
                layer.intend(Op::PullSecret(name.to_string()));
                return;
            }
        }
    }
    let pairs = cst::pairs(map);
    let Some(first) = pairs.first() else { return };
    let first = *first;
    let col = cst::column(first.key);

    if let Some(pair) = cst::get(map, src, KEY) {
        let key_col = cst::column(pair.key);
        match pair.value.and_then(cst::content) {
            None => {
                let at = lines::colon_end(pair.node);
                let end = pair.value.map_or(at, |v| v.end_byte());
                let text = lines::below(
                    src,
                    at,
                    &[item(key_col + style.dash_offset, style.dash_spaces)],
                );
                layer.edit(at, end, text, format!("filled empty {KEY} with {name}"));
            }
            Some(seq) if seq.kind() == "block_sequence" => {
                if has_name(seq, src, name) {
                    return;
                }
                let Some(last) = cst::block_items(seq).last().copied() else {
                    return;
                };
                let (pos, text) = lines::after(
                    src,
                    last,
                    &[item(cst::column(last), dash_spaces(last, src))],
                );
                layer.edit(pos, pos, text, format!("appended {name} to {KEY}"));
            }
            Some(seq) if seq.kind() == "flow_sequence" => {
                if has_name(seq, src, name) {
                    return;
                }
                let entry = flow_entry();
                match cst::items(seq).last().copied().flatten() {
                    Some(last) => {
                        let (at, text) = flow::append(src, last, &entry);
                        layer.edit(at, at, text, format!("appended {name} to {KEY}"));
                    }
                    None => layer.edit(
                        seq.start_byte(),
                        seq.end_byte(),
                        format!("[{entry}]"),
                        format!("added {name} to {KEY}"),
                    ),
                }
            }
            Some(other) => {
                layer.warn(
                    other.start_byte(),
                    format!("{KEY} is not a list; left unchanged"),
                );
                return;
            }
        }
        layer.intend(Op::PullSecret(name.to_string()));
        return;
    }

    let new_lines = vec![
        format!("{}{KEY}:", lines::indent(col)),
        item(col + style.dash_offset, style.dash_spaces),
    ];
    if document_level {
        if let Some((start, end)) = template(src, map, col) {
            let text = lines::join(src, start, &new_lines);
            layer.edit(start, end, text, format!("uncommented {KEY} ({name})"));
            layer.intend(Op::PullSecret(name.to_string()));
            return;
        }
    }
    let Some(last) = pairs.last() else { return };
    let (pos, text) = lines::after(src, last.node, &new_lines);
    layer.edit(pos, pos, text, format!("added {KEY} ({name})"));
    layer.intend(Op::PullSecret(name.to_string()));
}

fn has_name(seq: Node, src: &str, name: &str) -> bool {
    cst::items(seq).into_iter().flatten().any(|item| {
        cst::is_mapping(item)
            && cst::get_value(item, src, "name")
                .and_then(|n| cst::string_value(n, src))
                .as_deref()
                == Some(name)
    })
}

/// Text after `#` and spaces, if `comment` is alone on its line.
fn comment_body<'s>(src: &'s str, comment: Node) -> Option<&'s str> {
    if !lines::alone_on_line(src, comment.start_byte()) {
        return None;
    }
    Some(src[comment.byte_range()].strip_prefix('#')?.trim())
}

/// The download's commented-out template at the mapping's column:
/// `#imagePullSecrets:` and the `# - name: x` lines right below it.
/// Returns the span of those lines (without the last line's ending).
fn template(src: &str, map: Node, col: usize) -> Option<(usize, usize)> {
    let mut root = map;
    while let Some(parent) = root.parent() {
        root = parent;
    }
    let comments = cst::comments(root);
    for (i, head) in comments.iter().enumerate() {
        // Any column: a template is top-level wherever its `#` sits, as long
        // as uncommenting it at `col` closes the block above (checked below).
        if comment_body(src, *head) != Some("imagePullSecrets:") {
            continue;
        }
        let mut last = *head;
        for next in &comments[i + 1..] {
            let follows = next.start_position().row == last.start_position().row + 1;
            let is_item = comment_body(src, *next).is_some_and(|b| {
                b.strip_prefix('-').is_some_and(|r| {
                    r.trim_start()
                        .strip_prefix("name:")
                        .is_some_and(|n| !n.trim().is_empty())
                })
            });
            if !(follows && is_item) {
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
