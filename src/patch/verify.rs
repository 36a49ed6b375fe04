//! The self-check: re-parse input and output with an independent parser
//! (saphyr; for the digest, the subset reader held to saphyr's events) and
//! require, document by document, that the output means exactly the input
//! plus the planned intents.
use serde_json::{Value, json};

use super::digest;
use super::plan::{Intent, Op, Plan, Seg};
use crate::error::Located;
use crate::source::{LineIndex, Source};
use crate::yaml::stream;
use crate::yaml::value::{ParseError, documents, quick_check};

/// Why a result was refused.
#[derive(Debug)]
pub enum Failure {
    /// The input itself is not valid YAML (found by the second parser).
    Input(Located),
    /// The planned output does not mean what was intended: a bug.
    Mismatch { object: String, detail: String },
    /// The edit changed another place too, through a YAML anchor that is
    /// used elsewhere (`&name` ... `*name` / `<<: *name`): not safe to edit.
    Shared {
        object: String,
        detail: String,
        /// Offset (in the input) of the anchor, and its name.
        anchor: usize,
        name: String,
    },
}

/// A document this long (bytes) has its input and output digested at
/// the same time, on two threads.
const BIG_DOCUMENT: usize = 1 << 18;

/// Check `output` against `source.text` plus `plan.intents`.
pub fn check(source: &Source, output: &str, plan: &Plan) -> Result<(), Failure> {
    check_with(source, output, plan, Some(&digest::Keys::default()))
}

/// [`check`] without the digest fast path: values built and compared for
/// every changed document (what the fuzz property holds the fast path to).
pub fn check_exact(source: &Source, output: &str, plan: &Plan) -> Result<(), Failure> {
    check_with(source, output, plan, None)
}

fn check_with(
    source: &Source,
    output: &str,
    plan: &Plan,
    keys: Option<&digest::Keys>,
) -> Result<(), Failure> {
    let out_chunks = stream::split(output);
    if out_chunks.len() != plan.chunks.len() {
        return Err(Failure::Mismatch {
            object: "the file".into(),
            detail: format!(
                "{} documents became {}",
                plan.chunks.len(),
                out_chunks.len()
            ),
        });
    }
    // documents are checked independently: ranges of them on each core,
    // the first failure in document order wins
    let results = super::parallel::map_ranges(&plan.chunks, |range| {
        check_range(source, output, plan, &out_chunks, keys, range)
    });
    results.into_iter().collect()
}

/// Check the documents `range` (see [`check`]).
fn check_range(
    source: &Source,
    output: &str,
    plan: &Plan,
    out_chunks: &[stream::Chunk],
    keys: Option<&digest::Keys>,
    range: std::ops::Range<usize>,
) -> Result<(), Failure> {
    let input = source.text.as_str();
    // intents are in document order
    let first = plan.intents.partition_point(|i| i.doc < range.start);
    let mut intents = plan.intents[first..].iter().peekable();
    for (doc, (cin, cout)) in plan
        .chunks
        .iter()
        .zip(out_chunks)
        .enumerate()
        .take(range.end)
        .skip(range.start)
    {
        let in_text = &input[cin.start..cin.end];
        let input_error = |e: ParseError| {
            let offset = cin.start + LineIndex::offset_of(in_text, e.line, e.col);
            // a duplicate key's first definition: the file's line
            let msg = e.describe(|line, col| {
                let at = cin.start + LineIndex::offset_of(in_text, line, col);
                crate::source::line_col(&source.text, at).0
            });
            Failure::Input(source.error_at(offset, msg))
        };
        let mine: Vec<&Intent> = std::iter::from_fn(|| intents.next_if(|i| i.doc == doc)).collect();
        let out_text = &output[cout.start..cout.end];
        if mine.is_empty() && in_text == out_text {
            // unchanged: the input need only be valid (the planner may know)
            if plan.checked.binary_search(&doc).is_err() && quick_check(in_text).is_none() {
                one_document(in_text).map_err(input_error)?;
            }
            continue;
        }
        // the fast path: equal digests; anything else is decided (and a
        // difference described) by comparing the values
        if let Some(keys) = keys {
            let (trie, shape) = digest::Trie::of_document(&mine);
            let same = if in_text.len() < BIG_DOCUMENT {
                digest::of(in_text, keys, &trie)
                    .is_some_and(|e| digest::of(out_text, keys, &shape) == Some(e))
            } else {
                // a huge document: its input and output on two cores
                let (a, e) = super::parallel::join(
                    || digest::of(out_text, keys, &shape),
                    || digest::of(in_text, keys, &trie),
                );
                e.is_some() && e == a
            };
            if same {
                continue;
            }
        }
        let before = one_document(in_text).map_err(input_error)?;
        let object = plan.labels.get(doc).cloned().unwrap_or_default();
        let mismatch = |detail: String| Failure::Mismatch {
            object: object.clone(),
            detail,
        };
        let after = one_document(out_text).map_err(|e| {
            mismatch(format!(
                "output does not parse at {}:{}: {}",
                e.line, e.col, e.msg
            ))
        })?;
        let mut expected = before;
        let mut inner_objects: Vec<&[Seg]> = Vec::new();
        for intent in &mine {
            let target = lookup(&mut expected, &intent.object)
                .ok_or_else(|| mismatch("object path vanished".into()))?;
            if intent.inner {
                let mutate = target
                    .pointer_mut("/data/mutate.yaml")
                    .ok_or_else(|| mismatch("no data.mutate.yaml".into()))?;
                if let Value::String(s) = mutate {
                    *mutate =
                        parse_inner(s).map_err(|e| mismatch(format!("input mutate.yaml: {e}")))?;
                    inner_objects.push(&intent.object);
                }
                apply(mutate, &intent.op);
            } else {
                apply(target, &intent.op);
            }
        }
        let mut actual = after;
        for path in inner_objects {
            let mutate = lookup(&mut actual, path).and_then(|t| t.pointer_mut("/data/mutate.yaml"));
            if let Some(m) = mutate {
                if let Value::String(s) = m {
                    *m = parse_inner(s)
                        .map_err(|e| mismatch(format!("edited mutate.yaml does not parse: {e}")))?;
                }
            }
        }
        if expected != actual {
            let detail = first_difference(&expected, &actual, String::new())
                .unwrap_or_else(|| "values differ".into());
            if let Some((at, name)) = used_anchor(in_text) {
                return Err(Failure::Shared {
                    object,
                    detail,
                    anchor: cin.start + at,
                    name,
                });
            }
            return Err(mismatch(detail));
        }
    }
    Ok(())
}

/// The first anchor (`&name`) of a document that an alias (`*name`) uses:
/// its offset and name. A textual scan: a `&` or `*` inside a quoted
/// string could be taken for one, which only changes how a refusal is worded.
fn used_anchor(text: &str) -> Option<(usize, String)> {
    let name_at = |i: usize| -> &str {
        let rest = &text[i + 1..];
        let end = rest
            .find(|c: char| c.is_whitespace() || ",[]{}".contains(c))
            .unwrap_or(rest.len());
        &rest[..end]
    };
    let starts_token = |i: usize| i == 0 || text[..i].ends_with([' ', '\t', '\n', '[', '{', ',']);
    let mut anchors = Vec::new();
    let mut aliases = std::collections::HashSet::new();
    for (i, c) in text.char_indices() {
        if (c == '&' || c == '*') && starts_token(i) {
            let name = name_at(i);
            if name.is_empty() {
                continue;
            }
            if c == '&' {
                anchors.push((i, name.to_string()));
            } else {
                aliases.insert(name.to_string());
            }
        }
    }
    anchors.into_iter().find(|(_, n)| aliases.contains(n))
}

fn one_document(text: &str) -> Result<Value, ParseError> {
    let docs = documents(text)?;
    Ok(docs.into_iter().next().unwrap_or(Value::Null))
}

fn parse_inner(s: &str) -> Result<Value, String> {
    one_document(s).map_err(|e| format!("{}:{}: {}", e.line, e.col, e.msg))
}

pub(super) fn lookup<'v>(root: &'v mut Value, path: &[Seg]) -> Option<&'v mut Value> {
    let mut cur = root;
    for seg in path {
        cur = match seg {
            Seg::Key(k) => cur.get_mut(&**k)?,
            Seg::Index(i) => cur.get_mut(*i)?,
        };
    }
    Some(cur)
}

/// Apply one intent to data the way the YAML edit is meant to.
pub fn apply(target: &mut Value, op: &Op) {
    match op {
        Op::PullSecret(name) => {
            let Some(obj) = target.as_object_mut() else {
                return;
            };
            let list = obj.entry("imagePullSecrets").or_insert(Value::Null);
            if list.is_null() {
                *list = json!([]);
            }
            if let Some(items) = list.as_array_mut() {
                if !items
                    .iter()
                    .any(|i| i.get("name").and_then(Value::as_str) == Some(name))
                {
                    items.push(json!({ "name": name }));
                }
            }
        }
        Op::Set(path, value) => set(target, path, value),
    }
}

/// `Op::Set(path, value)` applied to `target`.
pub(crate) fn set(target: &mut Value, path: &[Seg], value: &str) {
    let mut cur = target;
    for seg in path {
        cur = match seg {
            Seg::Key(k) => {
                if !cur.is_object() {
                    *cur = json!({});
                }
                cur.as_object_mut()
                    .expect("object")
                    .entry(k.clone())
                    .or_insert(Value::Null)
            }
            Seg::Index(i) => match cur.get_mut(*i) {
                Some(v) => v,
                None => return,
            },
        };
    }
    *cur = Value::String(value.to_owned());
}

/// A short description of where two values first differ. Values inside a
/// Secret are not shown (`***`), as diffs do not show them.
fn first_difference(a: &Value, b: &Value, at: String) -> Option<String> {
    difference(a, b, at, false)
}

fn difference(a: &Value, b: &Value, at: String, secret: bool) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let secret = secret || x.get("kind").is_some_and(|k| k == "Secret");
            for (k, v) in x {
                match y.get(k) {
                    Some(w) => {
                        if let Some(d) = difference(v, w, format!("{at}.{k}"), secret) {
                            return Some(d);
                        }
                    }
                    None => return Some(format!("{at}.{k} is missing")),
                }
            }
            y.keys()
                .find(|k| !x.contains_key(*k))
                .map(|k| format!("{at}.{k} is unexpected"))
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (v, w))| difference(v, w, format!("{at}[{i}]"), secret)),
        _ if a == b => None,
        _ => {
            let show = |v: &Value| if secret { "***".to_string() } else { short(v) };
            Some(format!(
                "{} should be {} but is {}",
                if at.is_empty() { "." } else { &at },
                show(a),
                show(b)
            ))
        }
    }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 80 {
        format!("{}...", &s[..s.floor_char_boundary(77)])
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A document over [`BIG_DOCUMENT`] (input and output digested on two
    /// threads): the planned output passes; one changed value elsewhere in
    /// it, or in the other document, is refused and named.
    #[test]
    fn a_big_document_is_checked_on_two_threads_both_ways() {
        let keys: String = (0..20_000)
            .map(|i| format!("        k{i}: v{i}\n"))
            .collect();
        let text = format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: big\nspec:\n  \
             template:\n    metadata:\n      annotations:\n{keys}    spec:\n      \
             containers:\n      - name: c\n        image: nginx\n---\napiVersion: v1\n\
             kind: ServiceAccount\nmetadata:\n  name: sa\n"
        );
        assert!(text.len() > BIG_DOCUMENT);
        let source = Source::decode("big.yaml", None, text.into_bytes()).unwrap();
        let edits = crate::patch::options::EditSet {
            pull_secret: Some("s".into()),
            inject_pull_secret: None,
            registry: Some("r.example.com/apm".into()),
            annotations: Vec::new(),
        };
        let mut plan = super::super::plan::plan(&source, &edits).unwrap();
        let mut changes = std::mem::take(&mut plan.changes);
        let (output, _) = super::super::splice::apply(&source.text, &mut changes).unwrap();
        check(&source, &output, &plan).unwrap();
        for (from, to, object) in [
            ("k19999: v19999", "k19999: w", "Deployment/big"),
            ("name: sa", "name: sb", "ServiceAccount/sa"),
        ] {
            let wrong = output.replacen(from, to, 1);
            match check(&source, &wrong, &plan) {
                Err(Failure::Mismatch { object: o, .. }) => assert_eq!(o, object),
                other => panic!("{from:?} -> {to:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn intents_apply_to_data() {
        let mut v = json!({"imagePullSecrets": [{"name": "a"}]});
        apply(&mut v, &Op::PullSecret("b".into()));
        apply(&mut v, &Op::PullSecret("b".into()));
        assert_eq!(
            v,
            json!({"imagePullSecrets": [{"name": "a"}, {"name": "b"}]})
        );
        let mut v = json!({"spec": {"template": {"metadata": null}}});
        let path = ["spec", "template", "metadata", "annotations", "k"]
            .map(|s| Seg::Key(s.into()))
            .to_vec();
        apply(&mut v, &Op::Set(path, "v".into()));
        assert_eq!(
            v,
            json!({"spec": {"template": {"metadata": {"annotations": {"k": "v"}}}}})
        );
    }

    #[test]
    fn differences_are_described() {
        let d = first_difference(
            &json!({"a": {"b": [1, 2]}}),
            &json!({"a": {"b": [1, 3]}}),
            String::new(),
        )
        .unwrap();
        assert_eq!(d, ".a.b[1] should be 2 but is 3");
        let d = first_difference(
            &json!({"items": [{"kind": "Secret", "stringData": {"pw": "hunter2"}}]}),
            &json!({"items": [{"kind": "Secret", "stringData": {"pw": "hunter3"}}]}),
            String::new(),
        )
        .unwrap();
        assert_eq!(d, ".items[0].stringData.pw should be *** but is ***");
    }
}
