//! Pod-template annotations (`--http-registry`, `--dns-config`, ...):
//! update in place, append, or create `annotations:`/`metadata:`.
use tree_sitter::Node;

use super::layer::{Layer, Op, Seg};
use super::{flow, lines};
use crate::yaml::cst;
use crate::yaml::scalar::{self, single_quoted};

fn key_text(key: &str, json: bool) -> String {
    if json {
        return scalar::double_quoted(key);
    }
    let plain = key.starts_with(|c: char| c.is_ascii_alphanumeric())
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._/-".contains(c))
        && scalar::is_plain_string(key);
    if plain {
        key.to_string()
    } else {
        single_quoted(key)
    }
}

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

fn entry(key: &str, value: &str, json: bool) -> String {
    format!(
        "{}: {}",
        key_text(key, json),
        scalar::quoted_in(value, json)
    )
}

fn flow_entries(wanted: &[&(String, String)], json: bool) -> String {
    let parts: Vec<String> = wanted.iter().map(|(k, v)| entry(k, v, json)).collect();
    format!("{{{}}}", parts.join(", "))
}

/// `key: 'value'` lines at column `col`.
fn entry_lines(wanted: &[&(String, String)], col: usize, json: bool) -> Vec<String> {
    wanted
        .iter()
        .map(|(k, v)| format!("{}{}", lines::indent(col), entry(k, v, json)))
        .collect()
}

fn names(wanted: &[&(String, String)]) -> String {
    let parts: Vec<String> = wanted.iter().map(|(k, v)| format!("{k}={v}")).collect();
    parts.join(", ")
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
    let step = layer.style.step;
    let json = layer.json;
    let mut missing: Vec<&(String, String)> = Vec::new();
    let intend = |layer: &mut Layer, k: &str, v: &str| {
        let mut path = tpath.to_vec();
        path.extend([
            Seg::Key("metadata".into()),
            Seg::Key("annotations".into()),
            Seg::Key(k.into()),
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

    // Update what exists, collect what is missing.
    match ann {
        Some(a) if cst::is_mapping(a) => {
            for kv in wanted {
                // a key kubectl reads as this one, written differently
                // (`on:` is "true"), or this key written so that kubectl
                // reads something else: adding or updating would collide
                for p in cst::pairs(a) {
                    let decoded = cst::key_text(p.key, src);
                    let read = kubectl_key(p, src);
                    if read != decoded
                        && (read.as_deref() == Some(kv.0.as_str())
                            || decoded.as_deref() == Some(kv.0.as_str()))
                    {
                        return Err((
                            p.key.start_byte(),
                            format!(
                                "annotation key {:?} is read by kubectl as {:?}, which collides with \
                                 annotation {:?}; quote the key ('{}') or remove it, then run again",
                                decoded.unwrap_or_default(),
                                read.unwrap_or_default(),
                                kv.0,
                                src[p.key.byte_range()].trim()
                            ),
                        ));
                    }
                }
                match cst::get(a, src, &kv.0) {
                    Some(p) => {
                        let value = p.value.and_then(cst::content);
                        let current = value.and_then(|v| cst::string_value(v, src));
                        if current.as_deref() == Some(kv.1.as_str()) {
                            continue;
                        }
                        let (start, end) = match p.value {
                            // a block scalar's trailing line breaks stay
                            Some(v) => (
                                v.start_byte(),
                                v.start_byte() + src[v.byte_range()].trim_end().len(),
                            ),
                            None => {
                                let at = lines::colon_end(p.node);
                                (at, at)
                            }
                        };
                        let sep = if p.value.is_none() { " " } else { "" };
                        layer.edit(
                            start,
                            end,
                            format!("{sep}{}", scalar::quoted_in(&kv.1, json)),
                            format!("annotation {}={} (was {:?})", kv.0, kv.1, shown(value, src)),
                        );
                        intend(layer, &kv.0, &kv.1);
                    }
                    None => missing.push(kv),
                }
            }
        }
        Some(other) => {
            layer.warn(
                other.start_byte(),
                "annotations is not a mapping; left unchanged".into(),
            );
            return Ok(());
        }
        None => missing.extend(wanted.iter()),
    }
    if missing.is_empty() {
        return Ok(());
    }
    let what = format!("annotations {}", names(&missing));
    for (k, v) in &missing {
        intend(layer, k, v);
    }

    match (meta_pair, meta, ann_pair, ann) {
        // annotations: {a: b, ...} / block mapping with entries
        (_, _, Some(_), Some(a)) if !cst::pairs(a).is_empty() => {
            let last = cst::pairs(a).last().copied().expect("non-empty");
            if a.kind() == "flow_mapping" {
                let mut at = last.node.end_byte();
                let mut text = String::new();
                for (k, v) in &missing {
                    let (pos, t) = flow::append(src, last.node, &entry(k, v, json));
                    at = pos;
                    text.push_str(&t);
                }
                layer.edit(at, at, text, format!("added {what}"));
            } else {
                let col = cst::column(cst::pairs(a)[0].key);
                let new = entry_lines(&missing, col, json);
                let (pos, text) = lines::after(src, last.node, &new);
                layer.edit(pos, pos, text, format!("added {what}"));
            }
        }
        // annotations: {} / annotations: (null)
        (_, Some(m), Some(p), _) => {
            let at = lines::colon_end(p.node);
            let end = p.value.map_or(at, |v| v.end_byte());
            let text = if m.kind() == "flow_mapping" {
                format!(" {}", flow_entries(&missing, json))
            } else {
                let col = cst::column(p.key) + step;
                let new = entry_lines(&missing, col, json);
                lines::below(src, at, &new)
            };
            layer.edit(at, end, text, format!("added {what}"));
        }
        // metadata without annotations
        (_, Some(m), None, _) => {
            let mpairs = cst::pairs(m);
            match mpairs.last() {
                Some(last) if m.kind() == "block_mapping" => {
                    let col = cst::column(mpairs[0].key);
                    let mut new = vec![format!("{}annotations:", lines::indent(col))];
                    new.extend(entry_lines(&missing, col + step, json));
                    let (pos, text) = lines::after(src, last.node, &new);
                    layer.edit(pos, pos, text, format!("added {what}"));
                }
                Some(last) => {
                    let entry = format!(
                        "{}: {}",
                        flow::key("annotations", json),
                        flow_entries(&missing, json)
                    );
                    let (at, text) = flow::append(src, last.node, &entry);
                    layer.edit(at, at, text, format!("added {what}"));
                }
                None => {
                    let text = format!(
                        "{{{}: {}}}",
                        flow::key("annotations", json),
                        flow_entries(&missing, json)
                    );
                    layer.edit(m.start_byte(), m.end_byte(), text, format!("added {what}"));
                }
            }
        }
        // no metadata (or `metadata:` with nothing): create it first in the template
        (meta_pair, None, _, _) => {
            if template.kind() != "block_mapping" {
                // a flow template: `metadata: {annotations: {...}}` as a new
                // entry (or in place of an empty `metadata:`)
                let value = format!(
                    "{{{}: {}}}",
                    flow::key("annotations", json),
                    flow_entries(&missing, json)
                );
                match (meta_pair, cst::pairs(template).last()) {
                    (Some(p), _) if p.value.and_then(cst::content).is_none() => {
                        let at = lines::colon_end(p.node);
                        let end = p.value.map_or(at, |v| v.end_byte());
                        layer.edit(at, end, format!(" {value}"), format!("added {what}"));
                    }
                    (Some(p), _) => layer.warn(
                        p.key.start_byte(),
                        "metadata is not a mapping; left unchanged".into(),
                    ),
                    (None, Some(last)) => {
                        let entry = format!("{}: {value}", flow::key("metadata", json));
                        let (at, text) = flow::append(src, last.node, &entry);
                        layer.edit(at, at, text, format!("added metadata.{what}"));
                    }
                    (None, None) => {
                        let text = format!("{{{}: {value}}}", flow::key("metadata", json));
                        layer.edit(
                            template.start_byte(),
                            template.end_byte(),
                            text,
                            format!("added metadata.{what}"),
                        );
                    }
                }
                return Ok(());
            }
            let first = cst::pairs(template)[0];
            let col = cst::column(first.key);
            match meta_pair {
                Some(p) if p.value.and_then(cst::content).is_none() => {
                    let at = lines::colon_end(p.node);
                    let end = p.value.map_or(at, |v| v.end_byte());
                    let mut new = vec![format!("{}annotations:", lines::indent(col + step))];
                    new.extend(entry_lines(&missing, col + 2 * step, json));
                    layer.edit(
                        at,
                        end,
                        lines::below(src, at, &new),
                        format!("added {what}"),
                    );
                }
                Some(p) => layer.warn(
                    p.key.start_byte(),
                    "metadata is not a mapping; left unchanged".into(),
                ),
                None => {
                    let mut new = vec![
                        format!("{}metadata:", lines::indent(col)),
                        format!("{}annotations:", lines::indent(col + step)),
                    ];
                    new.extend(entry_lines(&missing, col + 2 * step, json));
                    if lines::alone_on_line(src, first.node.start_byte()) {
                        // whole new lines before the template's first entry
                        let start = crate::source::line_start(src, first.node.start_byte());
                        let (_, text) = lines::after_offset(src, start, false, &new);
                        layer.edit(start, start, text, format!("added metadata.{what}"));
                    } else {
                        layer.warn(
                            first.node.start_byte(),
                            "pod template starts on its parent's line; add annotations by hand"
                                .into(),
                        );
                    }
                }
            }
        }
    }
    Ok(())
}
