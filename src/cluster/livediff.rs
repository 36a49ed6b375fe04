//! `--dry-run=server`: a `kubectl diff`-style unified diff of the live object
//! against the server's dry-run result, noise removed and Secret data masked.
use serde_json::{Map, Value};

/// Metadata the server changes on every write; not worth showing.
const NOISE: [&str; 5] = [
    "managedFields",
    "resourceVersion",
    "generation",
    "uid",
    "creationTimestamp",
];

/// Remove write noise from an object.
pub fn clean(obj: &Value) -> Value {
    let mut o = obj.clone();
    if let Some(meta) = o.get_mut("metadata").and_then(Value::as_object_mut) {
        for f in NOISE {
            meta.remove(f);
        }
    }
    o
}

/// Replace Secret values by `***` the way kubectl diff does: equal values
/// become `***` on both sides, different ones `*** (before)` / `*** (after)`.
pub fn mask_secret(before: &mut Value, after: &mut Value) {
    let is_secret = |v: &Value| v["kind"] == "Secret" && v["apiVersion"] == "v1";
    if !is_secret(before) && !is_secret(after) {
        return;
    }
    for section in ["data", "stringData"] {
        let b = before
            .get(section)
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let a = after
            .get(section)
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let mut mb = Map::new();
        let mut ma = Map::new();
        for (k, v) in &b {
            let masked = match a.get(k) {
                Some(av) if av != v => "*** (before)",
                _ => "***",
            };
            mb.insert(k.clone(), Value::String(masked.into()));
        }
        for (k, v) in &a {
            let masked = match b.get(k) {
                Some(bv) if bv != v => "*** (after)",
                _ => "***",
            };
            ma.insert(k.clone(), Value::String(masked.into()));
        }
        if before.get(section).is_some_and(Value::is_object) {
            before[section] = Value::Object(mb);
        }
        if after.get(section).is_some_and(Value::is_object) {
            after[section] = Value::Object(ma);
        }
    }
}

/// A unified diff between live (None: absent) and merged, with kubectl-like
/// file names (`apps.v1.Deployment.NAMESPACE.NAME`). Empty when equal.
pub fn diff(file_name: &str, live: Option<&Value>, merged: &Value) -> String {
    let mut before = live.map(clean).unwrap_or(Value::Null);
    let mut after = clean(merged);
    mask_secret(&mut before, &mut after);
    let old = if before.is_null() {
        String::new()
    } else {
        to_yaml(&before)
    };
    let new = to_yaml(&after);
    if old == new {
        return String::new();
    }
    similar::TextDiff::from_lines(&old, &new)
        .unified_diff()
        .context_radius(3)
        .header(&format!("live/{file_name}"), &format!("merged/{file_name}"))
        .to_string()
}

/// kubectl diff's file name for an object: `GROUP.VERSION.KIND.NAMESPACE.NAME`.
pub fn file_name(api_version: &str, kind: &str, namespace: Option<&str>, name: &str) -> String {
    let gv = api_version.replace('/', ".");
    match namespace {
        Some(ns) => format!("{gv}.{kind}.{ns}.{name}"),
        None => format!("{gv}.{kind}.{name}"),
    }
}

/// Render JSON as block-style YAML with sorted keys (as kubectl diff shows objects).
pub fn to_yaml(v: &Value) -> String {
    let mut out = String::new();
    match v {
        Value::Object(m) if !m.is_empty() => write_map(&mut out, m, 0),
        Value::Array(a) if !a.is_empty() => write_seq(&mut out, a, 0),
        other => {
            out.push_str(&scalar(other, 0));
            out.push('\n');
        }
    }
    out
}

fn write_map(out: &mut String, m: &Map<String, Value>, indent: usize) {
    let mut keys: Vec<&String> = m.keys().collect();
    keys.sort();
    for k in keys {
        out.push_str(&" ".repeat(indent));
        out.push_str(&plain_or_quoted(k));
        out.push(':');
        write_value(out, &m[k], indent, false);
    }
}

fn write_seq(out: &mut String, a: &[Value], indent: usize) {
    for item in a {
        out.push_str(&" ".repeat(indent));
        out.push('-');
        write_value(out, item, indent, true);
    }
}

/// Write what follows `key:` or `-`.
fn write_value(out: &mut String, v: &Value, indent: usize, in_seq: bool) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            if in_seq {
                // `- k: v` with the following keys aligned under the first.
                let mut first = String::new();
                write_map(&mut first, m, indent + 2);
                out.push(' ');
                out.push_str(first.trim_start_matches(' '));
            } else {
                out.push('\n');
                write_map(out, m, indent + 2);
            }
        }
        Value::Array(a) if !a.is_empty() => {
            out.push('\n');
            // kubectl (go-yaml) does not indent a sequence under a mapping key.
            write_seq(out, a, if in_seq { indent + 2 } else { indent });
        }
        other => {
            out.push(' ');
            out.push_str(&scalar(other, indent + 2));
            out.push('\n');
        }
    }
}

fn scalar(v: &Value, indent: usize) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s)
            if s.contains('\n') && !s.contains('\r') && s.lines().all(|l| !l.ends_with(' ')) =>
        {
            let chomp = if s.ends_with("\n\n") {
                "+"
            } else if s.ends_with('\n') {
                ""
            } else {
                "-"
            };
            let ind = if s.starts_with(' ') { "2" } else { "" };
            let pad = " ".repeat(indent);
            let body: Vec<String> = s
                .trim_end_matches('\n')
                .split('\n')
                .map(|l| {
                    if l.is_empty() {
                        String::new()
                    } else {
                        format!("{pad}{l}")
                    }
                })
                .collect();
            format!("|{ind}{chomp}\n{}", body.join("\n"))
        }
        Value::String(s) => plain_or_quoted(s),
        Value::Object(_) => "{}".into(),
        Value::Array(_) => "[]".into(),
    }
}

fn plain_or_quoted(s: &str) -> String {
    let looks_special = s.is_empty()
        || s != s.trim()
        || s.parse::<f64>().is_ok()
        || matches!(
            s.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "null" | "~" | "y" | "n"
        )
        || s.starts_with([
            '-', '?', ':', ',', '[', ']', '{', '}', '#', '&', '*', '!', '|', '>', '\'', '"', '%',
            '@', '`',
        ])
        || s.contains(": ")
        || s.contains(" #")
        || s.ends_with(':')
        || s.chars().any(|c| c.is_control());
    if looks_special {
        serde_json::to_string(s).unwrap_or_default()
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn yaml_rendering_is_block_style_and_sorted() {
        let v = json!({"b": [{"name": "x", "ports": [1, 2]}], "a": {"k": "v: w", "num": "5", "e": ""}, "s": "l1\nl2\n"});
        let y = to_yaml(&v);
        assert_eq!(
            y,
            "a:\n  e: \"\"\n  k: \"v: w\"\n  num: \"5\"\nb:\n- name: x\n  ports:\n  - 1\n  - 2\ns: |\n  l1\n  l2\n"
        );
        // What we print is YAML that means the same thing.
        assert_eq!(crate::yaml::value::documents(&y).unwrap()[0], v);
    }

    #[test]
    fn secret_values_are_masked_and_changes_marked() {
        let live = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "uid": "u", "resourceVersion": "3"},
                          "data": {"same": "YQ==", "changed": "Yg==", "gone": "Yw=="}});
        let merged = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "uid": "u", "resourceVersion": "4"},
                            "data": {"same": "YQ==", "changed": "ZA==", "new": "ZQ=="}});
        let d = diff("v1.Secret.ns.s", Some(&live), &merged);
        assert!(
            d.contains("-  changed: '*** (before)'") || d.contains("-  changed: \"*** (before)\""),
            "{d}"
        );
        assert!(d.contains("+  changed: \"*** (after)\""), "{d}");
        assert!(
            d.contains("+  new: \"***\"") && d.contains("-  gone: \"***\""),
            "{d}"
        );
        assert!(
            !d.contains("YQ==") && !d.contains("ZA==") && !d.contains("Yg=="),
            "{d}"
        );
        assert!(!d.contains("resourceVersion"), "{d}");
    }

    #[test]
    fn equal_objects_have_no_diff() {
        let a = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "resourceVersion": "1", "managedFields": []}, "data": {"k": "v"}});
        let b = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "resourceVersion": "2"}, "data": {"k": "v"}});
        assert_eq!(diff("v1.ConfigMap.ns.c", Some(&a), &b), "");
        assert!(
            diff("v1.ConfigMap.ns.c", None, &b)
                .starts_with("--- live/v1.ConfigMap.ns.c\n+++ merged/v1.ConfigMap.ns.c\n")
        );
    }
}
