//! A small YAML emitter for JSON values (API objects we print), block style,
//! like `kubectl -o yaml`. Every string value is double-quoted with YAML
//! escapes, so no value can change type (`"yes"`, `"0123"`, `"null"`) or
//! break the layout (newlines, `: `, `#`, quotes, unicode line separators).
//! Keys are written plain only when that is unambiguous.
use serde_json::Value;

/// Render one YAML document (without `---`), ending with a newline.
pub fn to_yaml(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(map) if !map.is_empty() => emit_map(&mut out, map, 0),
        Value::Array(items) if !items.is_empty() => emit_seq(&mut out, items, 0),
        scalar => {
            out.push_str(&inline(scalar));
            out.push('\n');
        }
    }
    out
}

fn indent(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

/// A value that fits on the line after `key:` or `- `: scalars and empty
/// collections.
fn inline(value: &Value) -> String {
    match value {
        Value::Null => "null".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => quote(s),
        Value::Array(a) if a.is_empty() => "[]".to_string(),
        Value::Object(m) if m.is_empty() => "{}".to_string(),
        _ => unreachable!("collections are emitted in block style"),
    }
}

fn emit_map(out: &mut String, map: &serde_json::Map<String, Value>, col: usize) {
    let mut first = true;
    for (key, value) in map {
        // The first entry of a map that is a sequence item continues the `- ` line.
        if !first || !out.ends_with("- ") {
            indent(out, col);
        }
        first = false;
        out.push_str(&key_text(key));
        out.push(':');
        match value {
            Value::Object(m) if !m.is_empty() => {
                out.push('\n');
                emit_map(out, m, col + 2);
            }
            // Sequences inside maps are indented by two, like kubectl.
            Value::Array(a) if !a.is_empty() => {
                out.push('\n');
                emit_seq(out, a, col + 2);
            }
            scalar => {
                out.push(' ');
                out.push_str(&inline(scalar));
                out.push('\n');
            }
        }
    }
}

fn emit_seq(out: &mut String, items: &[Value], col: usize) {
    for item in items {
        indent(out, col);
        out.push_str("- ");
        match item {
            Value::Object(m) if !m.is_empty() => emit_map(out, m, col + 2),
            Value::Array(a) if !a.is_empty() => {
                out.push('\n');
                emit_seq(out, a, col + 2);
            }
            scalar => {
                out.push_str(&inline(scalar));
                out.push('\n');
            }
        }
    }
}

/// Plain keys for the usual Kubernetes spellings (`apiVersion`,
/// `.dockerconfigjson`, `app.kubernetes.io/managed-by`); anything else, or
/// anything a YAML 1.1 or 1.2 reader could take for a non-string, is quoted.
fn key_text(key: &str) -> String {
    let plain_chars = key
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '/' | '-'));
    let first_ok = key
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '.');
    let lower = key.to_ascii_lowercase();
    let reserved = matches!(
        lower.as_str(),
        "y" | "n"
            | "yes"
            | "no"
            | "on"
            | "off"
            | "true"
            | "false"
            | "null"
            | "~"
            | ".inf"
            | ".nan"
            | "<<"
    ) || lower.starts_with(".inf")
        || lower.starts_with(".nan")
        || key.starts_with("...")
        || key.chars().all(|c| c.is_ascii_digit() || c == '.');
    if plain_chars && first_ok && !reserved {
        key.to_string()
    } else {
        quote(key)
    }
}

/// A YAML double-quoted scalar. Only YAML's printable characters are kept
/// as they are; line breaks of any kind (including NEL, LS, PS), other
/// control characters, the BOM and non-characters are escaped.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{20}'..='\u{7e}' => out.push(c),
            '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..='\u{10ffff}'
                if !matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}') =>
            {
                out.push(c)
            }
            c if (c as u32) <= 0xffff => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push_str(&format!("\\U{:08X}", c as u32)),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::value::documents;
    use proptest::prelude::*;
    use serde_json::json;

    fn roundtrip(v: &Value) -> Value {
        let text = to_yaml(v);
        let docs = documents(&text)
            .unwrap_or_else(|e| panic!("emitted YAML does not parse: {e:?}\n{text}"));
        assert_eq!(docs.len(), 1, "{text}");
        docs.into_iter().next().unwrap()
    }

    #[test]
    fn secret_shape_reads_back_and_looks_like_kubectl() {
        let v = json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "tingyun-image-secret", "namespace": "shop",
                         "labels": {"app.kubernetes.io/managed-by": "kubectl-tingyun"}},
            "data": {".dockerconfigjson": "eyJhdXRocyI6e319"},
            "type": "kubernetes.io/dockerconfigjson"
        });
        let text = to_yaml(&v);
        assert_eq!(
            text,
            "apiVersion: \"v1\"\nkind: \"Secret\"\nmetadata:\n  name: \"tingyun-image-secret\"\n  namespace: \"shop\"\n  \
labels:\n    app.kubernetes.io/managed-by: \"kubectl-tingyun\"\ndata:\n  .dockerconfigjson: \"eyJhdXRocyI6e319\"\n\
type: \"kubernetes.io/dockerconfigjson\"\n"
        );
        assert_eq!(roundtrip(&v), v);
    }

    #[test]
    fn lists_and_nesting_read_back() {
        let v = json!({"apiVersion": "v1", "kind": "List", "items": [
            {"a": {"b": [1, "2", {"c": null, "d": []}], "e": {}}, "f": true},
            [["x"], []],
            "plain"
        ]});
        assert_eq!(roundtrip(&v), v);
    }

    #[test]
    fn strings_that_look_like_other_things_stay_strings() {
        for s in [
            "yes",
            "No",
            "on",
            "null",
            "~",
            "0123",
            "1e3",
            ".inf",
            "true",
            "- a",
            "a: b",
            "#x",
            "a #b",
            "'q'",
            "\"q\"",
            "back\\slash",
            "",
            " lead",
            "trail ",
            "tab\there",
            "line\nbreak",
            "cr\r",
            "nel\u{85}",
            "ls\u{2028}",
            "ps\u{2029}",
            "bom\u{feff}",
            "del\u{7f}",
            "c1\u{9b}",
            "nul\u{0}",
            "bell\u{7}",
            "密码",
            "emoji 🦀",
            "%TAG",
            "@at",
            "`tick",
            "!tag",
            "&anchor",
            "*alias",
            "{flow}",
            "[seq]",
            "|",
            ">",
            "?",
            "---",
            "...",
        ] {
            let v = json!({ s: s, "k": [s] });
            assert_eq!(roundtrip(&v), v, "{s:?}");
        }
    }

    proptest! {
        #[test]
        fn any_string_reads_back(s in any::<String>(), k in any::<String>()) {
            let v = json!({ k.clone(): s.clone(), "list": [s.clone(), {"x": s}] });
            prop_assert_eq!(roundtrip(&v), v);
        }
    }
}
