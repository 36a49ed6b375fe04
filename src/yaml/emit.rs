//! The one JSON -> YAML emitter, block style, for objects we print: the
//! Secrets of `secret --dry-run -o yaml` ([`Layout::OBJECTS`]) and the
//! live-vs-merged objects of `--dry-run=server` ([`Layout::DIFF`]).
//! Scalars follow the one quoting policy of [`super::scalar`], so any string
//! reads back as itself (never as `true`, `0123` or `null`, never folded).
//!
//! ```text
//! {"b": ["x", {"k": "a b"}], "a": "l1\nl2"}
//!
//! OBJECTS (file order, strings quoted,    DIFF (sorted keys, plain when safe,
//! sequences indented, like kubectl -o):   go-yaml sequences, literal blocks):
//! b:                                      a: |-
//!   - "x"                                   l1
//!   - k: "a b"                              l2
//! a: "l1\nl2"                             b:
//!                                         - x
//!                                         - k: "a b"
//! ```
use serde_json::{Map, Value};

use super::scalar::{double_quoted, fits_literal_block, is_plain_safe};

/// How [`to_yaml`] lays out a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// Keys in sorted order (as `kubectl diff` shows objects), else as given.
    pub sort_keys: bool,
    /// A sequence under a mapping key is indented by two (`kubectl -o
    /// yaml`), else it starts in the key's column (go-yaml, `kubectl diff`).
    pub indent_sequences: bool,
    /// Every string double-quoted; else plain when that is safe, a literal
    /// block for multi-line text, quoted otherwise.
    pub quote_all_strings: bool,
}

impl Layout {
    /// API objects to print: every string quoted, nothing can change type.
    pub const OBJECTS: Layout = Layout {
        sort_keys: false,
        indent_sequences: true,
        quote_all_strings: true,
    };
    /// Objects to compare line by line, as `kubectl diff` shows them.
    pub const DIFF: Layout = Layout {
        sort_keys: true,
        indent_sequences: false,
        quote_all_strings: false,
    };
}

/// Render one YAML document (without `---`), ending with a newline.
pub fn to_yaml(value: &Value, layout: Layout) -> String {
    let mut out = String::new();
    match value {
        Value::Object(map) if !map.is_empty() => write_map(&mut out, map, 0, false, layout),
        Value::Array(items) if !items.is_empty() => write_seq(&mut out, items, 0, layout),
        scalar => {
            out.push_str(&scalar_text(scalar, 0, layout));
            out.push('\n');
        }
    }
    out
}

fn indent(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

/// A mapping at column `col`; `continued`: its first key goes on the
/// current line (after `- `).
fn write_map(
    out: &mut String,
    map: &Map<String, Value>,
    col: usize,
    continued: bool,
    layout: Layout,
) {
    let mut keys: Vec<&String> = map.keys().collect();
    if layout.sort_keys {
        keys.sort();
    }
    for (i, key) in keys.into_iter().enumerate() {
        if i > 0 || !continued {
            indent(out, col);
        }
        out.push_str(&key_text(key));
        out.push(':');
        write_after(out, &map[key], col, false, layout);
    }
}

fn write_seq(out: &mut String, items: &[Value], col: usize, layout: Layout) {
    for item in items {
        indent(out, col);
        out.push('-');
        write_after(out, item, col, true, layout);
    }
}

/// What follows `key:` or `-` written at column `col`.
fn write_after(out: &mut String, value: &Value, col: usize, in_seq: bool, layout: Layout) {
    match value {
        Value::Object(m) if !m.is_empty() => {
            if in_seq {
                out.push(' ');
                write_map(out, m, col + 2, true, layout);
            } else {
                out.push('\n');
                write_map(out, m, col + 2, false, layout);
            }
        }
        Value::Array(a) if !a.is_empty() => {
            out.push('\n');
            let inner = if in_seq || layout.indent_sequences {
                col + 2
            } else {
                col
            };
            write_seq(out, a, inner, layout);
        }
        scalar => {
            out.push(' ');
            out.push_str(&scalar_text(scalar, col + 2, layout));
            out.push('\n');
        }
    }
}

/// Keys plain when safe (`apiVersion`, `.dockerconfigjson`,
/// `app.kubernetes.io/managed-by`), double-quoted otherwise.
fn key_text(key: &str) -> String {
    if is_plain_safe(key) {
        key.to_string()
    } else {
        double_quoted(key)
    }
}

/// A scalar or empty collection; a literal block's lines go at `col`.
fn scalar_text(value: &Value, col: usize, layout: Layout) -> String {
    match value {
        Value::Null => "null".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Array(_) => "[]".to_string(),
        Value::Object(_) => "{}".to_string(),
        Value::String(s) if layout.quote_all_strings => double_quoted(s),
        Value::String(s) if fits_literal_block(s) => literal_block(s, col),
        Value::String(s) if is_plain_safe(s) => s.clone(),
        Value::String(s) => double_quoted(s),
    }
}

/// `|` with the chomping that keeps `s`'s final line breaks exactly, and
/// an indentation indicator when the first line starts with a space.
fn literal_block(s: &str, col: usize) -> String {
    let body = s.trim_end_matches('\n');
    let trailing = s.len() - body.len();
    let chomp = match trailing {
        0 => "-",
        1 => "",
        _ => "+",
    };
    let indicator = if body.trim_start_matches('\n').starts_with(' ') {
        "2"
    } else {
        ""
    };
    let pad = " ".repeat(col);
    let mut out = format!("|{indicator}{chomp}");
    for line in body.split('\n') {
        out.push('\n');
        if !line.is_empty() {
            out.push_str(&pad);
            out.push_str(line);
        }
    }
    // `|+` keeps the empty lines after the last one.
    for _ in 1..trailing.max(1) {
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::value::documents;
    use proptest::prelude::*;
    use serde_json::json;

    fn roundtrip(v: &Value, layout: Layout) -> Value {
        let text = to_yaml(v, layout);
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
        let text = to_yaml(&v, Layout::OBJECTS);
        assert_eq!(
            text,
            "apiVersion: \"v1\"\nkind: \"Secret\"\nmetadata:\n  name: \"tingyun-image-secret\"\n  namespace: \"shop\"\n  \
labels:\n    app.kubernetes.io/managed-by: \"kubectl-tingyun\"\ndata:\n  .dockerconfigjson: \"eyJhdXRocyI6e319\"\n\
type: \"kubernetes.io/dockerconfigjson\"\n"
        );
        assert_eq!(roundtrip(&v, Layout::OBJECTS), v);
    }

    #[test]
    fn diff_layout_is_block_style_and_sorted() {
        let v = json!({"b": [{"name": "x", "ports": [1, 2]}], "a": {"k": "v: w", "num": "5", "e": ""}, "s": "l1\nl2\n"});
        let y = to_yaml(&v, Layout::DIFF);
        assert_eq!(
            y,
            "a:\n  e: \"\"\n  k: \"v: w\"\n  num: \"5\"\nb:\n- name: x\n  ports:\n  - 1\n  - 2\ns: |\n  l1\n  l2\n"
        );
        assert_eq!(roundtrip(&v, Layout::DIFF), v);
    }

    #[test]
    fn literal_blocks_keep_their_line_breaks() {
        for s in [
            "l1\nl2",
            "l1\nl2\n",
            "l1\n\n",
            "l1\nl2\n\n\n",
            "\n l1\n",
            " a\nb",
            "a\n\nb\n",
        ] {
            let v = json!({ "s": s, "l": [s] });
            assert_eq!(roundtrip(&v, Layout::DIFF), v, "{s:?}");
        }
    }

    #[test]
    fn lists_and_nesting_read_back() {
        let v = json!({"apiVersion": "v1", "kind": "List", "items": [
            {"a": {"b": [1, "2", {"c": null, "d": []}], "e": {}}, "f": true},
            [["x"], []],
            "plain"
        ]});
        for layout in [Layout::OBJECTS, Layout::DIFF] {
            assert_eq!(roundtrip(&v, layout), v);
        }
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
            "2024-01-01",
            "1:20",
            "0x1f",
            "0o7",
            "1_000",
            "+1",
            ".5",
            "<<",
        ] {
            let v = json!({ s: s, "k": [s] });
            for layout in [Layout::OBJECTS, Layout::DIFF] {
                assert_eq!(roundtrip(&v, layout), v, "{s:?}");
            }
        }
    }

    proptest! {
        #[test]
        fn any_string_reads_back(s in any::<String>(), k in any::<String>()) {
            let v = json!({ k.clone(): s.clone(), "list": [s.clone(), {"x": s}] });
            prop_assert_eq!(roundtrip(&v, Layout::OBJECTS), v.clone());
            prop_assert_eq!(roundtrip(&v, Layout::DIFF), v);
        }

        #[test]
        fn any_lines_read_back(lines in proptest::collection::vec("[ a-z\t]{0,6}", 1..5), breaks in 0usize..4) {
            let s = format!("{}{}", lines.join("\n"), "\n".repeat(breaks));
            let v = json!({ "s": s.clone(), "l": [s] });
            prop_assert_eq!(roundtrip(&v, Layout::DIFF), v);
        }
    }
}
