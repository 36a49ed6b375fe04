//! KRM function mode (`patch --krm`): a `ResourceList` on standard input,
//! the same edits applied to its `items`, the `ResourceList` on standard
//! output, warnings and changes as `results`. This is how kpt
//! (`kpt fn eval --exec`) and kustomize (exec KRM functions) run us, so
//! Argo CD and Flux fleets get the same edits.
//!
//! The edit options come from the command line, then from the
//! `functionConfig`: a ConfigMap's `data` or any other kind's `spec`, with
//! the keys of a profile ([`crate::profile`]).
//!
//! Bytes: each item is cut out of the ResourceList text (a block sequence
//! entry), de-indented into a document, patched exactly as a file is (byte
//! splices, then the self-check), indented back and put where it was.
//! Every byte outside the edits stays as the engine sent it. Afterwards the
//! whole output is parsed again and must mean the input with only the
//! patched items changed (and `results` added).
use anyhow::{anyhow, bail};
use saphyr::{LoadableYamlNode, MarkedYaml, Scalar, YamlData};
use serde_json::Value;

use crate::error::Located;
use crate::patch::{EditSet, PatchOptions, patch_source};
use crate::profile;
use crate::source::Source;
use crate::yaml::value::documents;

/// One entry of `items`: the byte range in the ResourceList text and the
/// indentation of its `- `.
struct Item {
    start: usize,
    end: usize,
    indent: usize,
    first_line: usize,
}

/// Find the block-sequence entries of the top-level `items:`.
fn items(text: &str) -> Result<Vec<Item>, String> {
    let mut offset = 0;
    let mut lines = Vec::new();
    for l in text.split_inclusive('\n') {
        lines.push((offset, l));
        offset += l.len();
    }
    let Some(start_idx) = lines.iter().position(|(_, l)| {
        l.trim_end() == "items:" || l.starts_with("items: #") || l.starts_with("items:\t")
    }) else {
        let flow = lines.iter().any(|(_, l)| l.starts_with("items:"));
        if flow {
            // `items: []` (nothing to do) or a flow sequence (not supported)
            if lines.iter().any(|(_, l)| l.trim_end() == "items: []") {
                return Ok(Vec::new());
            }
            return Err("items is a flow sequence; send it in block style".into());
        }
        return Ok(Vec::new());
    };
    let mut out: Vec<Item> = Vec::new();
    let mut seq_indent: Option<usize> = None;
    for (i, (off, l)) in lines.iter().enumerate().skip(start_idx + 1) {
        let body = l.trim_end_matches(['\n', '\r']);
        let trimmed = body.trim_start_matches(' ');
        let ind = body.len() - trimmed.len();
        if trimmed.is_empty() || (trimmed.starts_with('#') && seq_indent.is_some()) {
            continue;
        }
        let is_entry = trimmed == "-" || trimmed.starts_with("- ");
        match seq_indent {
            None if is_entry => seq_indent = Some(ind),
            None => break,
            Some(s) if is_entry && ind == s => {}
            Some(s) if ind > s => continue,
            Some(_) => {
                // the end of `items`
                if let Some(last) = out.last_mut() {
                    last.end = *off;
                }
                return Ok(trim_trailing(text, out));
            }
        }
        if let Some(last) = out.last_mut() {
            last.end = *off;
        }
        out.push(Item {
            start: *off,
            end: text.len(),
            indent: ind,
            first_line: i + 1,
        });
    }
    Ok(trim_trailing(text, out))
}

/// An item ends at its last non-blank line (blank lines and comments
/// between items stay outside).
fn trim_trailing(text: &str, mut items: Vec<Item>) -> Vec<Item> {
    for it in &mut items {
        let mut end = it.end;
        loop {
            let chunk = &text[it.start..end];
            let without_eol = chunk.trim_end_matches(['\n', '\r']);
            let last_line_start = without_eol.rfind('\n').map(|p| p + 1).unwrap_or(0);
            let last = &without_eol[last_line_start..];
            let trimmed = last.trim_start_matches(' ');
            let blank = trimmed.is_empty();
            let outdented_comment =
                trimmed.starts_with('#') && last.len() - trimmed.len() <= it.indent;
            if (blank || outdented_comment) && last_line_start > 0 {
                end = it.start + last_line_start;
            } else {
                break;
            }
        }
        it.end = end;
    }
    items
}

/// `- a: 1\n  b: 2\n` at `indent` -> `a: 1\nb: 2\n`; `None` when a line is
/// not indented as an entry's continuation (then the item is left alone).
fn dedent(chunk: &str, indent: usize) -> Option<String> {
    let mut out = String::with_capacity(chunk.len());
    for (n, line) in chunk.split_inclusive('\n').enumerate() {
        if n == 0 {
            let rest = &line[indent..];
            let rest = rest.strip_prefix("- ").or_else(|| rest.strip_prefix('-'))?;
            out.push_str(rest);
            continue;
        }
        let body = line.trim_end_matches(['\n', '\r']);
        if body.is_empty() {
            out.push_str(line);
        } else {
            out.push_str(line.strip_prefix(&" ".repeat(indent + 2)[..])?);
        }
    }
    Some(out)
}

fn indent_back(doc: &str, indent: usize) -> String {
    let pad = " ".repeat(indent + 2);
    let mut out = String::with_capacity(doc.len() + 64);
    for (n, line) in doc.split_inclusive('\n').enumerate() {
        if n == 0 {
            out.push_str(&" ".repeat(indent));
            out.push_str("- ");
            out.push_str(line);
        } else if line.trim_end_matches(['\n', '\r']).is_empty() {
            out.push_str(line);
        } else {
            out.push_str(&pad);
            out.push_str(line);
        }
    }
    out
}

/// A message about an item, with the positions it names ("first defined on
/// line N", "in line N, column M") moved from the item's text to the
/// ResourceList's: `lines` more lines, `cols` more columns.
fn shift_positions(msg: &str, lines: usize, cols: usize) -> String {
    let number = |s: &str| -> Option<(usize, usize)> {
        let digits = s.len() - s.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        s[..digits].parse().ok().map(|n| (n, digits))
    };
    let mut out = String::with_capacity(msg.len() + 8);
    let mut rest = msg;
    while let Some(i) = rest.find("line ") {
        let (head, tail) = rest.split_at(i + "line ".len());
        out.push_str(head);
        let is_position = head.ends_with(" on line ") || head.ends_with(" in line ");
        match number(tail).filter(|_| is_position) {
            Some((n, len)) => {
                out.push_str(&(n + lines).to_string());
                rest = &tail[len..];
                if let Some(after) = rest.strip_prefix(", column ")
                    && let Some((c, len)) = number(after)
                {
                    out.push_str(&format!(", column {}", c + cols));
                    rest = &after[len..];
                }
            }
            None => rest = tail,
        }
    }
    out.push_str(rest);
    out
}

/// The profile in `functionConfig` (ConfigMap `data`, else `spec`).
fn function_config(label: &str, text: &str) -> Result<profile::Profile, Located> {
    let docs = MarkedYaml::load_from_str(text).map_err(|e| {
        let m = e.marker();
        let (line, col) = (m.line().max(1), m.col() + 1);
        // a duplicate key: where its first definition is
        if let Some(dup) = crate::yaml::value::duplicated_key(text, e.info(), line, col) {
            return Located::new(label, line, col, dup.msg);
        }
        // a Secret among the items: no input character in the message
        let msg = crate::yaml::secret::message_about(text, e.info());
        Located::new(label, line, col, msg)
    })?;
    let Some(root) = docs.first() else {
        return Err(Located::new(
            label,
            1,
            1,
            "empty input: expected a ResourceList",
        ));
    };
    let kind = root
        .data
        .as_mapping_get("kind")
        .and_then(|k| match &k.data {
            YamlData::Value(Scalar::String(s)) => Some(s.to_string()),
            _ => None,
        });
    if kind.as_deref() != Some("ResourceList") {
        return Err(Located::new(
            label,
            1,
            1,
            "--krm reads a ResourceList (kind: ResourceList, items, functionConfig) from standard input",
        ));
    }
    let Some(fc) = root.data.as_mapping_get("functionConfig") else {
        return Ok(profile::Profile::default());
    };
    let fc_kind = fc.data.as_mapping_get("kind").and_then(|k| match &k.data {
        YamlData::Value(Scalar::String(s)) => Some(s.to_string()),
        _ => None,
    });
    let body = if fc_kind.as_deref() == Some("ConfigMap") {
        fc.data.as_mapping_get("data")
    } else {
        fc.data.as_mapping_get("spec")
    };
    match body {
        Some(b) => profile::from_node(label, b),
        None => Ok(profile::Profile::default()),
    }
}

/// Run the function: `input` is the ResourceList text. Returns the output
/// ResourceList text.
pub fn run(label: &str, input: &str, options: &PatchOptions) -> anyhow::Result<String> {
    let mut options = options.clone();
    function_config(label, input)?.fill_patch(&mut options);
    let edits = EditSet::from_options(&options)?;
    let found = items(input).map_err(|e| anyhow!("{label}: {e}"))?;
    let mut out = String::with_capacity(input.len() + 1024);
    let mut results: Vec<Value> = Vec::new();
    let mut expected_items: Vec<Value> = Vec::new();
    let mut last = 0;
    for it in &found {
        let chunk = &input[it.start..it.end];
        let Some(doc) = dedent(chunk, it.indent) else {
            bail!(
                "{label}:{}: this item is not indented as a block sequence entry; \
                 nothing was written",
                it.first_line
            );
        };
        let source = Source {
            label: label.to_string(),
            path: None,
            bom: false,
            text: doc.clone(),
        };
        let patched = match patch_source(&source, &edits) {
            Ok(o) => o,
            Err(e) => match e.downcast::<Located>() {
                Ok(mut loc) => {
                    loc.line += it.first_line - 1;
                    loc.col += it.indent + 2;
                    // positions inside the message too ("first defined on line N")
                    loc.msg = shift_positions(&loc.msg, it.first_line - 1, it.indent + 2);
                    return Err(loc.into());
                }
                Err(e) if e.to_string().contains("no Kubernetes object") => {
                    out.push_str(&input[last..it.end]);
                    last = it.end;
                    expected_items.push(
                        documents(&doc)
                            .ok()
                            .and_then(|d| d.into_iter().next())
                            .unwrap_or(Value::Null),
                    );
                    continue;
                }
                Err(e) => return Err(e),
            },
        };
        let item_value = documents(&patched.output)
            .map_err(|e| anyhow!("internal error: a patched item does not parse ({})", e.msg))?
            .into_iter()
            .next()
            .unwrap_or(Value::Null);
        let reference = resource_ref(&item_value);
        for c in &patched.changes {
            results.push(result(
                "info",
                &format!("{}: {}", c.object, c.what),
                &reference,
            ));
        }
        for w in &patched.warnings {
            let msg = w.split_once("warning: ").map(|(_, m)| m).unwrap_or(w);
            results.push(result("warning", msg, &reference));
        }
        expected_items.push(item_value);
        out.push_str(&input[last..it.start]);
        out.push_str(&indent_back(&patched.output, it.indent));
        last = it.end;
    }
    out.push_str(&input[last..]);
    if !results.is_empty() {
        if !out.ends_with('\n') {
            out.push('\n');
        }
        if input.lines().any(|l| l.starts_with("results:")) {
            // keep the results of earlier functions; ours are on stderr
            for r in &results {
                eprintln!(
                    "{label}: {}: {}",
                    r["severity"].as_str().unwrap_or(""),
                    r["message"].as_str().unwrap_or("")
                );
            }
        } else {
            out.push_str("results:\n");
            for r in &results {
                out.push_str(&format!("- {}\n", r));
            }
        }
    }
    self_check(input, &out, &expected_items)?;
    Ok(out)
}

fn resource_ref(item: &Value) -> Value {
    let mut r = serde_json::Map::new();
    for k in ["apiVersion", "kind"] {
        if let Some(v) = item.get(k) {
            r.insert(k.into(), v.clone());
        }
    }
    for k in ["name", "namespace"] {
        if let Some(v) = item.pointer(&format!("/metadata/{k}")) {
            r.insert(k.into(), v.clone());
        }
    }
    Value::Object(r)
}

fn result(severity: &str, message: &str, reference: &Value) -> Value {
    serde_json::json!({"message": message, "severity": severity, "resourceRef": reference})
}

/// The output must mean the input with `items` replaced by the patched
/// items and `results` added; nothing else may change.
fn self_check(input: &str, output: &str, expected_items: &[Value]) -> anyhow::Result<()> {
    let parse = |t: &str| -> anyhow::Result<Value> {
        documents(t)
            .map_err(|e| anyhow!("{}:{}: {}", e.line, e.col, e.msg))?
            .into_iter()
            .next()
            .ok_or_else(|| anyhow!("empty"))
    };
    let before = parse(input).map_err(|e| anyhow!("the ResourceList does not parse: {e}"))?;
    let after = parse(output).map_err(|e| {
        anyhow!("internal error: the edited ResourceList does not parse ({e}); nothing was written")
    })?;
    let items_after = after
        .get("items")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut rest_before = before.clone();
    let mut rest_after = after.clone();
    for v in [&mut rest_before, &mut rest_after] {
        if let Some(m) = v.as_object_mut() {
            m.remove("items");
            if !input.lines().any(|l| l.starts_with("results:")) {
                m.remove("results");
            }
        }
    }
    let items_before = before
        .get("items")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    if rest_before != rest_after
        || items_after.len() != items_before
        || items_after.as_slice() != expected_items
    {
        bail!(
            "internal error: the edited ResourceList failed its self-check (something besides \
             the patched items changed); nothing was written. Please report this with the input."
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_in_item_messages_move_to_the_list() {
        assert_eq!(
            shift_positions("duplicate key \"a\" (first defined on line 3): x", 10, 4),
            "duplicate key \"a\" (first defined on line 13): x"
        );
        assert_eq!(
            shift_positions(
                "while parsing a flow sequence in line 2, column 5: expected ']', but found end in line 3, column 1",
                7,
                2
            ),
            "while parsing a flow sequence in line 9, column 7: expected ']', but found end in line 10, column 3"
        );
        assert_eq!(
            shift_positions("a line 5 and line", 1, 1),
            "a line 5 and line"
        );
    }

    #[test]
    fn items_are_cut_and_put_back_byte_for_byte() {
        let text = "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n- apiVersion: v1\n  kind: A # c\n\n  data:\n    x: |\n      keep\n\n      me\n# between\n- apiVersion: v1\n  kind: B\nfunctionConfig:\n  kind: ConfigMap\n";
        let found = items(text).unwrap();
        assert_eq!(found.len(), 2);
        let mut rebuilt = String::new();
        let mut last = 0;
        for it in &found {
            rebuilt.push_str(&text[last..it.start]);
            let doc = dedent(&text[it.start..it.end], it.indent).unwrap();
            assert!(doc.starts_with("apiVersion: v1\n"), "{doc}");
            rebuilt.push_str(&indent_back(&doc, it.indent));
            last = it.end;
        }
        rebuilt.push_str(&text[last..]);
        assert_eq!(rebuilt, text);
        assert_eq!(
            &text[found[1].start..found[1].end],
            "- apiVersion: v1\n  kind: B\n"
        );
    }
}
