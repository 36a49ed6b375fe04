//! Pod-template annotations (`--http-registry`, `--dns-config`, ...):
//! update in place, append, or create `annotations:`/`metadata:`.
use crate::yaml::tree::Node;

use super::layer::{Layer, Op, Seg};
use crate::yaml::cst;
use crate::yaml::edit::{self, New, Quoting, Scalar};
use crate::yaml::scalar;

/// The JSON object key kubectl makes of a mapping key node (`on` -> "true").
fn kubectl_key(key: cst::Pair, src: &str) -> Option<String> {
    let k = cst::content(key.key)?;
    let text = cst::scalar_text(k, src)?;
    if k.kind() != "plain_scalar" {
        return Some(text);
    }
    Some(match scalar::kubectl(&text) {
        scalar::Plain::Null => "null".into(),
        scalar::Plain::Bool(b) => b.to_string(),
        scalar::Plain::Int(i) => i.to_string(),
        _ => text,
    })
}

/// How an existing value is shown in "(was ...)".
fn shown(value: Option<Node>, src: &str) -> String {
    match value {
        None => String::new(),
        Some(v) => cst::scalar_text(v, src)
            .or_else(|| cst::block_scalar_text(v, src))
            .unwrap_or_else(|| src[v.byte_range()].trim().to_string()),
    }
}

fn names(wanted: &[&(String, String)]) -> String {
    let parts: Vec<String> = wanted.iter().map(|(k, v)| format!("{k}={v}")).collect();
    parts.join(", ")
}

/// Where a pod template keeps its annotations, as far as it has them.
struct Found<'t> {
    meta_pair: Option<cst::Pair<'t>>,
    meta: Option<Node<'t>>,
    ann_pair: Option<cst::Pair<'t>>,
    ann: Option<Node<'t>>,
}

/// Set `wanted` annotations on the pod template mapping `template` (at
/// `tpath` in the object).
pub(crate) fn ensure(
    layer: &mut Layer,
    template: Node,
    tpath: &[Seg],
    wanted: &[(String, String)],
) -> Result<(), (usize, String)> {
    let src = layer.text;
    let intend = |layer: &mut Layer, k: &str, v: &str| {
        let mut path = tpath.to_vec();
        path.extend([
            Seg::Key("metadata".into()),
            Seg::Key("annotations".into()),
            Seg::Key(k.to_owned().into()),
        ]);
        layer.intend(Op::Set(path, v.into()));
    };
    let meta_pair = cst::get(template, src, "metadata");
    let meta = meta_pair
        .and_then(|p| p.value)
        .and_then(cst::content)
        .filter(|m| cst::is_mapping(*m));
    let ann_pair = meta.and_then(|m| cst::get(m, src, "annotations"));
    let ann = ann_pair.and_then(|p| p.value).and_then(cst::content);
    let found = Found {
        meta_pair,
        meta,
        ann_pair,
        ann,
    };

    // Update what exists, collect what is missing.
    let missing: Vec<&(String, String)> = match ann {
        Some(a) if cst::is_mapping(a) => {
            let mut missing = Vec::new();
            for kv in wanted {
                check_collision(a, src, &kv.0)?;
                match cst::get(a, src, &kv.0) {
                    Some(p) => {
                        if update(layer, p, kv) {
                            intend(layer, &kv.0, &kv.1);
                        }
                    }
                    None => missing.push(kv),
                }
            }
            missing
        }
        Some(other) => {
            layer.warn(
                other.start_byte(),
                "annotations is not a mapping; left unchanged".into(),
            );
            return Ok(());
        }
        None => wanted.iter().collect(),
    };
    if missing.is_empty() {
        return Ok(());
    }
    for (k, v) in &missing {
        intend(layer, k, v);
    }
    add(layer, template, &found, &missing);
    Ok(())
}

/// A key kubectl reads as `key`, written differently (`on:` is "true"),
/// or `key` written so that kubectl reads something else: adding or
/// updating would collide.
fn check_collision(ann: Node, src: &str, key: &str) -> Result<(), (usize, String)> {
    for p in cst::pairs(ann) {
        let decoded = cst::key_text(p.key, src);
        let read = kubectl_key(p, src);
        if read != decoded && (read.as_deref() == Some(key) || decoded.as_deref() == Some(key)) {
            return Err((
                p.key.start_byte(),
                format!(
                    "annotation key {:?} is read by kubectl as {:?}, which collides with \
                     annotation {key:?}; quote the key ('{}') or remove it, then run again",
                    decoded.unwrap_or_default(),
                    read.unwrap_or_default(),
                    src[p.key.byte_range()].trim()
                ),
            ));
        }
    }
    Ok(())
}

/// Set an existing annotation to its wanted value; false when it has it.
fn update(layer: &mut Layer, pair: cst::Pair, kv: &(String, String)) -> bool {
    let src = layer.text;
    let value = pair.value.and_then(cst::content);
    let current = value.and_then(|v| cst::string_value(v, src));
    if current.as_deref() == Some(kv.1.as_str()) {
        return false;
    }
    let splice = edit::set_scalar(&layer.doc(), pair, &kv.1, Quoting::Always);
    let (k, v) = kv;
    let was = shown(value, src);
    layer.splice(splice, format!("annotation {k}={v} (was {was:?})"));
    true
}

/// `{key: {entries}}`.
fn under(key: &str, entries: Vec<(Scalar, New)>) -> Vec<(Scalar, New)> {
    vec![(Scalar::plain(key), New::Map(entries))]
}

/// Add the `missing` annotations: to the annotations there are, in place
/// of an empty `annotations:`, or with new `annotations:`/`metadata:`.
fn add(layer: &mut Layer, template: Node, found: &Found, missing: &[&(String, String)]) {
    let what = format!("annotations {}", names(missing));
    let entries: Vec<(Scalar, New)> = missing
        .iter()
        .map(|(k, v)| {
            let value = New::Str(Scalar::new(v, Quoting::Always));
            (Scalar::new(k, Quoting::Word), value)
        })
        .collect();
    let doc = layer.doc();
    let added = format!("added {what}");
    let (splice, what) = match (found.meta_pair, found.meta, found.ann_pair, found.ann) {
        // annotations: {a: b, ...} / block mapping with entries
        (_, _, Some(_), Some(a)) if !cst::pairs(a).is_empty() => {
            (edit::insert_entries(&doc, a, &entries), added)
        }
        // annotations: {} / annotations: (null)
        (_, Some(_), Some(p), _) => (Some(edit::fill_value(&doc, p, &New::Map(entries))), added),
        // metadata without annotations
        (_, Some(m), None, _) => {
            let new = under("annotations", entries);
            (edit::insert_entries(&doc, m, &new), added)
        }
        // `metadata:` with nothing
        (Some(p), None, _, _) if p.value.and_then(cst::content).is_none() => {
            let new = New::Map(under("annotations", entries));
            (Some(edit::fill_value(&doc, p, &new)), added)
        }
        (Some(p), None, _, _) => {
            layer.warn(
                p.key.start_byte(),
                "metadata is not a mapping; left unchanged".into(),
            );
            return;
        }
        // no metadata: create it (first in a block template)
        (None, None, _, _) => {
            let new = under("metadata", under("annotations", entries));
            let splice = if template.kind() == "block_mapping" {
                edit::insert_entries_first(&doc, template, &new)
            } else {
                edit::insert_entries(&doc, template, &new)
            };
            if splice.is_none() {
                let first = cst::pairs(template).first().map(|p| p.node);
                layer.warn(
                    first.unwrap_or(template).start_byte(),
                    "pod template starts on its parent's line; add annotations by hand".into(),
                );
                return;
            }
            (splice, format!("added metadata.{what}"))
        }
    };
    if let Some(splice) = splice {
        layer.splice(splice, what);
    }
}
