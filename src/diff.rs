//! Unified diffs for review: Secret `data`/`stringData` values (and the
//! last-applied annotation, which repeats them) masked like `kubectl diff`; colour when the output handle says so
//! ([`crate::output::Output::color`]: a terminal, never with NO_COLOR).
use anstyle::AnsiColor;
use similar::{ChangeTag, TextDiff};

use crate::k8s::LAST_APPLIED;
use crate::yaml::{cst, stream};

/// A unified diff of `old` -> `new` (`--- NAME` / `+++ NAME (patched)`),
/// empty when equal.
pub fn unified(old: &str, new: &str, name: &str, color: bool) -> String {
    if old == new {
        return String::new();
    }
    let (old, new) = (mask_secrets(old), mask_secrets(new));
    let diff = TextDiff::from_lines(&old, &new);
    let mut out = format!("--- {name}\n+++ {name} (patched)\n");
    for group in diff.grouped_ops(3) {
        let (first, last) = (&group[0], &group[group.len() - 1]);
        let (o, n) = (first.old_range().start, first.new_range().start);
        let (ol, nl) = (last.old_range().end - o, last.new_range().end - n);
        let hunk = format!(
            "@@ -{},{ol} +{},{nl} @@",
            o + usize::from(ol > 0),
            n + usize::from(nl > 0)
        );
        out.push_str(&paint(&hunk, Some(AnsiColor::Cyan), color));
        out.push('\n');
        for op in &group {
            for change in diff.iter_changes(op) {
                // only the `\n`: a CRLF file's diff keeps its CRs, or
                // `patch` / `git apply` cannot apply it to the file
                let line = change.value().strip_suffix('\n').unwrap_or(change.value());
                let (sign, hue) = match change.tag() {
                    ChangeTag::Delete => ('-', Some(AnsiColor::Red)),
                    ChangeTag::Insert => ('+', Some(AnsiColor::Green)),
                    ChangeTag::Equal => (' ', None),
                };
                out.push_str(&paint(&format!("{sign}{line}"), hue, color));
                out.push('\n');
                if change.missing_newline() {
                    out.push_str("\\ No newline at end of file\n");
                }
            }
        }
    }
    out
}

/// `s` in `hue` (anstyle's escape codes) when colour is on.
fn paint(s: &str, hue: Option<AnsiColor>, color: bool) -> String {
    match hue {
        Some(hue) if color => {
            let style = hue.on_default();
            format!("{style}{s}{style:#}")
        }
        _ => s.to_string(),
    }
}

/// Replace every value under `data`/`stringData` of Secret objects, and
/// their [`LAST_APPLIED`] annotation, with `***`.
pub fn mask_secrets(text: &str) -> String {
    let spans = secret_value_spans(text);
    let mut out = String::with_capacity(text.len());
    let mut pos = 0;
    for (s, e) in spans {
        out.push_str(&text[pos..s]);
        // line by line: a multi-line value (a block scalar) keeps its
        // lines, so the diff's line numbers stay the file's
        for line in text[s..e].split_inclusive('\n') {
            let body = line.trim_end_matches(['\r', '\n']);
            let content = body.trim_start_matches([' ', '\t']);
            out.push_str(&body[..body.len() - content.len()]);
            if !content.is_empty() {
                out.push_str("***");
            }
            out.push_str(&line[body.len()..]);
        }
        pos = e;
    }
    out.push_str(&text[pos..]);
    out
}

/// Byte ranges of every value under `data`/`stringData` of Secret objects
/// and of their [`LAST_APPLIED`] annotation, in order (what
/// [`mask_secrets`] hides).
pub fn secret_value_spans(text: &str) -> Vec<(usize, usize)> {
    secret_value_spans_where(text, |_, _| true)
}

/// [`secret_value_spans`] of only the documents that hold one of `offsets`
/// (e.g. where warnings point): the others are not parsed again.
pub fn secret_value_spans_around(text: &str, offsets: &[usize]) -> Vec<(usize, usize)> {
    if offsets.is_empty() {
        return Vec::new();
    }
    let mut sorted = offsets.to_vec();
    sorted.sort_unstable();
    secret_value_spans_where(text, |start, end| {
        let i = sorted.partition_point(|&o| o < start);
        sorted.get(i).is_some_and(|&o| o < end)
    })
}

/// Spans of the documents `[start, end)` (offsets in `text`) that `wanted` picks.
fn secret_value_spans_where(
    text: &str,
    wanted: impl Fn(usize, usize) -> bool,
) -> Vec<(usize, usize)> {
    let body = text.strip_prefix('\u{feff}').unwrap_or(text);
    let bom = text.len() - body.len();
    let mut spans: Vec<(usize, usize)> =
        secret_spans_without_bom(body, |s, e| wanted(s + bom, e + bom))
            .into_iter()
            .map(|(s, e)| (s + bom, e + bom))
            .collect();
    spans.sort_unstable();
    spans
}

fn secret_spans_without_bom(
    text: &str,
    wanted: impl Fn(usize, usize) -> bool,
) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    for chunk in stream::split(text) {
        let chunk_text = &text[chunk.start..chunk.end];
        if !chunk_text.contains("Secret") || !wanted(chunk.start, chunk.end) {
            continue;
        }
        let Ok(tree) = cst::parse(chunk_text) else {
            continue;
        };
        let Some(top) = cst::document_content(tree.root_node()) else {
            continue;
        };
        let mut objects = vec![top];
        if let Some(items) = cst::get_value(top, chunk_text, "items") {
            objects.extend(cst::items(items).into_iter().flatten());
        }
        for obj in objects.into_iter().filter(|o| cst::is_mapping(*o)) {
            let kind = cst::get_value(obj, chunk_text, "kind")
                .and_then(|k| cst::scalar_text(k, chunk_text));
            if kind.as_deref() != Some("Secret") {
                continue;
            }
            // kubectl's record of the last apply holds the data as JSON
            let last_applied = cst::get_value(obj, chunk_text, "metadata")
                .and_then(|m| cst::get_value(m, chunk_text, "annotations"))
                .and_then(|a| cst::get_value(a, chunk_text, LAST_APPLIED));
            if let Some(v) = last_applied {
                spans.push((chunk.start + v.start_byte(), chunk.start + v.end_byte()));
            }
            for field in ["data", "stringData"] {
                let Some(map) =
                    cst::get_value(obj, chunk_text, field).filter(|m| cst::is_mapping(*m))
                else {
                    continue;
                };
                for pair in cst::pairs(map) {
                    if let Some(v) = pair.value {
                        spans.push((chunk.start + v.start_byte(), chunk.start + v.end_byte()));
                    }
                }
            }
        }
    }
    spans
}

/// `msg` (a message about something at a place inside the Secret value
/// `value`) with that value hidden as diffs hide it: every quoted string
/// and every word of the value become `***`.
pub fn mask_message(msg: &str, value: &str) -> String {
    let mut out = String::with_capacity(msg.len());
    let mut rest = msg;
    // quoted strings ("..." with backslash escapes, as `{:?}` writes them)
    while let Some(open) = rest.find('"') {
        let after = &rest[open + 1..];
        let mut close = None;
        let mut escaped = false;
        for (i, c) in after.char_indices() {
            match c {
                '\\' if !escaped => escaped = true,
                '"' if !escaped => {
                    close = Some(i);
                    break;
                }
                _ => escaped = false,
            }
        }
        let Some(close) = close else {
            break;
        };
        out.push_str(&rest[..open]);
        out.push_str("***");
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    let mut words: Vec<&str> = value
        .split(|c: char| c.is_whitespace() || "\"'".contains(c))
        .filter(|w| w.chars().count() >= 3)
        .collect();
    words.sort_unstable_by_key(|w| std::cmp::Reverse(w.len()));
    for w in words {
        out = out.replace(w, "***");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_shows_changed_lines_only_with_context() {
        let d = unified("a: 1\nb: 2\nc: 3\n", "a: 1\nb: 9\nc: 3\n", "f.yaml", false);
        assert_eq!(
            d,
            "--- f.yaml\n+++ f.yaml (patched)\n@@ -1,3 +1,3 @@\n a: 1\n-b: 2\n+b: 9\n c: 3\n"
        );
        assert_eq!(unified("x", "x", "f", false), "");
        assert!(unified("a: 1\n", "a: 2\n", "f", true).contains("\x1b[31m-a: 1\x1b[0m"));
    }

    #[test]
    fn secret_values_are_masked() {
        let text = "kind: Secret\napiVersion: v1\nstringData: {p: hunter2}\ndata:\n  tls.key: c2VjcmV0\n---\nkind: ConfigMap\napiVersion: v1\ndata:\n  k: visible\n";
        let m = mask_secrets(text);
        assert!(!m.contains("c2VjcmV0") && !m.contains("hunter2"), "{m}");
        assert!(m.contains("tls.key: ***") && m.contains("k: visible"));
        let applied = "kind: Secret\napiVersion: v1\nmetadata:\n  name: s\n  annotations:\n    kubectl.kubernetes.io/last-applied-configuration: |\n      {\"stringData\":{\"p\":\"hunter2\"}}\n    team: apm\nstringData: {p: hunter2}\n";
        let m = mask_secrets(applied);
        assert!(!m.contains("hunter2"), "{m}");
        assert!(
            m.contains("last-applied-configuration: ***\n      ***\n    team: apm\n"),
            "{m}"
        );
        assert_eq!(m.lines().count(), applied.lines().count());
        let m = mask_secrets(&format!("\u{feff}{text}"));
        assert!(!m.contains("hunter2") && m.starts_with('\u{feff}'), "{m}");
    }

    #[test]
    fn last_applied_is_masked_in_json_and_list_items() {
        let json = "{\n  \"apiVersion\": \"v1\",\n  \"kind\": \"Secret\",\n  \"metadata\": {\n    \"name\": \"s\",\n    \"annotations\": {\n      \"kubectl.kubernetes.io/last-applied-configuration\": \"{\\\"data\\\":{\\\"t\\\":\\\"aHVudGVyMg==\\\"}}\\n\"\n    }\n  },\n  \"data\": {\"t\": \"aHVudGVyMg==\"}\n}\n";
        let m = mask_secrets(json);
        assert!(!m.contains("aHVudGVyMg"), "{m}");
        assert!(
            m.contains("\"kubectl.kubernetes.io/last-applied-configuration\": ***\n"),
            "{m}"
        );
        let list = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Secret\n  metadata:\n    name: s\n    annotations:\n      kubectl.kubernetes.io/last-applied-configuration: '{\"data\":{\"t\":\"aHVudGVyMg==\"}}'\n  data:\n    t: aHVudGVyMg==\n- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: c\n    annotations:\n      kubectl.kubernetes.io/last-applied-configuration: '{\"data\":{\"k\":\"visible\"}}'\n";
        let m = mask_secrets(list);
        assert!(!m.contains("aHVudGVyMg") && m.contains("visible"), "{m}");
    }

    #[test]
    fn crlf_lines_keep_their_cr() {
        let d = unified("a: 1\r\nb: 2\r\n", "a: 1\r\nb: 3\r\n", "f", false);
        assert!(d.ends_with(" a: 1\r\n-b: 2\r\n+b: 3\r\n"), "{d:?}");
    }

    #[test]
    fn messages_about_a_secret_value_hide_it() {
        let m = mask_message(
            "\"reg.example/p:w0rd\" looks like an image",
            "reg.example/p:w0rd",
        );
        assert_eq!(m, "*** looks like an image");
        assert_eq!(mask_message("near p:w0rd x", "a p:w0rd"), "near *** x");
    }
}
