//! Pod-template annotations (`--http-registry`, `--dns-config`, ...):
//! update in place, append, or create `annotations:`/`metadata:`.
use tree_sitter::Node;

use super::layer::{Layer, Op, Seg};
use super::lines;
use crate::yaml::cst;
use crate::yaml::style::single_quoted;

fn key_text(key: &str) -> String {
    let plain = key.starts_with(|c: char| c.is_ascii_alphanumeric())
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._/-".contains(c));
    if plain {
        key.to_string()
    } else {
        single_quoted(key)
    }
}

fn entry(key: &str, value: &str) -> String {
    format!("{}: {}", key_text(key), single_quoted(value))
}

fn flow_entries(wanted: &[&(String, String)]) -> String {
    let parts: Vec<String> = wanted.iter().map(|(k, v)| entry(k, v)).collect();
    format!("{{{}}}", parts.join(", "))
}

/// `key: 'value'` lines at column `col`.
fn entry_lines(wanted: &[&(String, String)], col: usize) -> Vec<String> {
    wanted
        .iter()
        .map(|(k, v)| format!("{}{}", lines::indent(col), entry(k, v)))
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
) {
    let src = layer.text;
    let step = layer.style.step;
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
                match cst::get(a, src, &kv.0) {
                    Some(p) => {
                        let current = p
                            .value
                            .and_then(cst::content)
                            .and_then(|v| cst::scalar_text(v, src));
                        if current.as_deref() == Some(kv.1.as_str()) {
                            continue;
                        }
                        let (start, end) = match p.value {
                            Some(v) => (v.start_byte(), v.end_byte()),
                            None => {
                                let at = lines::colon_end(p.node);
                                (at, at)
                            }
                        };
                        let sep = if p.value.is_none() { " " } else { "" };
                        layer.edit(
                            start,
                            end,
                            format!("{sep}{}", single_quoted(&kv.1)),
                            format!(
                                "annotation {}={} (was {:?})",
                                kv.0,
                                kv.1,
                                current.unwrap_or_default()
                            ),
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
            return;
        }
        None => missing.extend(wanted.iter()),
    }
    if missing.is_empty() {
        return;
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
                let text: Vec<String> = missing
                    .iter()
                    .map(|(k, v)| format!(", {}", entry(k, v)))
                    .collect();
                layer.edit(
                    last.node.end_byte(),
                    last.node.end_byte(),
                    text.concat(),
                    format!("added {what}"),
                );
            } else {
                let col = cst::column(cst::pairs(a)[0].key);
                let new = entry_lines(&missing, col);
                let (pos, text) = lines::after(src, last.node, &new);
                layer.edit(pos, pos, text, format!("added {what}"));
            }
        }
        // annotations: {} / annotations: (null)
        (_, Some(m), Some(p), _) => {
            let at = lines::colon_end(p.node);
            let end = p.value.map_or(at, |v| v.end_byte());
            let text = if m.kind() == "flow_mapping" {
                format!(" {}", flow_entries(&missing))
            } else {
                let col = cst::column(p.key) + step;
                let new = entry_lines(&missing, col);
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
                    new.extend(entry_lines(&missing, col + step));
                    let (pos, text) = lines::after(src, last.node, &new);
                    layer.edit(pos, pos, text, format!("added {what}"));
                }
                Some(last) => {
                    let text = format!(", annotations: {}", flow_entries(&missing));
                    layer.edit(
                        last.node.end_byte(),
                        last.node.end_byte(),
                        text,
                        format!("added {what}"),
                    );
                }
                None => {
                    let text = format!("{{annotations: {}}}", flow_entries(&missing));
                    layer.edit(m.start_byte(), m.end_byte(), text, format!("added {what}"));
                }
            }
        }
        // no metadata (or `metadata:` with nothing): create it first in the template
        (meta_pair, None, _, _) => {
            if template.kind() != "block_mapping" {
                layer.warn(
                    template.start_byte(),
                    "pod template written as a flow mapping; add annotations by hand".into(),
                );
                return;
            }
            let first = cst::pairs(template)[0];
            let col = cst::column(first.key);
            match meta_pair {
                Some(p) if p.value.and_then(cst::content).is_none() => {
                    let at = lines::colon_end(p.node);
                    let end = p.value.map_or(at, |v| v.end_byte());
                    let mut new = vec![format!("{}annotations:", lines::indent(col + step))];
                    new.extend(entry_lines(&missing, col + 2 * step));
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
                    new.extend(entry_lines(&missing, col + 2 * step));
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
}
