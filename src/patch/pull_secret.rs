//! `imagePullSecrets: [{name: NAME}]` in a mapping: keep what is there,
//! uncomment the download's commented-out template, or insert it.
use crate::yaml::tree::Node;

use super::layer::{Layer, Op};
use crate::yaml::cst;
use crate::yaml::edit::{self, New, Scalar, Template};

const KEY: &str = "imagePullSecrets";

/// The download's commented-out `#imagePullSecrets:` / `#  - name: x`.
const TEMPLATE: Template = Template {
    key: KEY,
    item_key: "name",
};

/// `{name: NAME}`.
fn secret(name: &str) -> New {
    New::Map(vec![(Scalar::plain("name"), New::Str(Scalar::plain(name)))])
}

/// Make `map` (an object, or the inner document of mutate.yaml) list
/// `name` under `imagePullSecrets`. A commented-out template is looked for
/// anywhere in the document at document level, else (an item of a `kind:
/// List`) inside `map` and in the comment lines right after it.
pub(crate) fn ensure(layer: &mut Layer, map: Node, name: &str, document_level: bool) {
    let src = layer.text;
    let doc = layer.doc();
    let list = New::Seq(vec![secret(name)]);
    let Some(first) = cst::pairs(map).first().copied() else {
        if map.kind() == "flow_mapping" {
            let entries = [(Scalar::plain(KEY), list)];
            if let Some(s) = edit::insert_entries(&doc, map, &entries) {
                layer.splice(s, format!("added {KEY} ({name})"));
                layer.intend(Op::PullSecret(name.to_string()));
            }
        }
        return;
    };
    let (splice, what) = match cst::get(map, src, KEY) {
        Some(pair) => match pair.value.and_then(cst::content) {
            None => (
                edit::fill_value(&doc, pair, &list),
                format!("filled empty {KEY} with {name}"),
            ),
            Some(seq) if cst::is_sequence(seq) => {
                if has_name(seq, src, name) {
                    return;
                }
                let what = if cst::items(seq).is_empty() {
                    format!("added {name} to {KEY}")
                } else {
                    format!("appended {name} to {KEY}")
                };
                let Some(s) = edit::append_item(&doc, seq, &secret(name)) else {
                    return;
                };
                (s, what)
            }
            Some(other) => {
                layer.warn(
                    other.start_byte(),
                    format!("{KEY} is not a list; left unchanged"),
                );
                return;
            }
        },
        None => {
            let col = cst::column(first.key);
            let region = if document_level {
                0..src.len()
            } else {
                edit::with_trailing_comments(src, map)
            };
            let template = (map.kind() == "block_mapping")
                .then(|| TEMPLATE.find(src, cst::root(map), region, col))
                .flatten();
            match template {
                Some(found) => (
                    edit::uncomment_template(&doc, found, col, &Scalar::plain(KEY), &list),
                    format!("uncommented {KEY} ({name})"),
                ),
                None => {
                    let entries = [(Scalar::plain(KEY), list)];
                    let Some(s) = edit::insert_entries(&doc, map, &entries) else {
                        return;
                    };
                    (s, format!("added {KEY} ({name})"))
                }
            }
        }
    };
    layer.splice(splice, what);
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
