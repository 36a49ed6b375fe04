//! Property tests for the patch engine: random combinations of edits on
//! every input under `testdata/` (a) succeed, (b) mean exactly what a
//! data-level model of the edits says, computed here independently of the
//! engine, and (c) are idempotent: patching twice equals patching once.
use std::path::PathBuf;

use kubectl_tingyun::patch::{EditSet, patch_source, relocate};
use kubectl_tingyun::source::Source;
use kubectl_tingyun::yaml::value::documents;
use proptest::prelude::*;
use serde_json::{Value, json};

fn inputs() -> Vec<(String, String)> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata");
    let mut out = vec![(
        "tingyunagent.yaml".to_string(),
        std::fs::read_to_string(root.join("tingyunagent.yaml")).unwrap(),
    )];
    let mut dirs: Vec<_> = std::fs::read_dir(root.join("cases"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    dirs.sort();
    for dir in dirs {
        let Ok(bytes) = std::fs::read(dir.join("input.yaml")) else {
            continue;
        };
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let Ok(src) = Source::decode(&name, None, bytes) else {
            continue;
        };
        out.push((name, src.text));
    }
    out
}

fn source(name: &str, text: &str) -> Source {
    Source::decode(name, None, text.as_bytes().to_vec()).unwrap()
}

/// The data-level meaning of the edits (the model the engine must match).
fn model(mut docs: Vec<Value>, e: &EditSet) -> Vec<Value> {
    for doc in &mut docs {
        object(doc, e);
    }
    docs
}

fn ensure_secret(obj: &mut Value, name: &str) {
    let Some(map) = obj.as_object_mut() else {
        return;
    };
    let list = map.entry("imagePullSecrets").or_insert(Value::Null);
    if list.is_null() {
        *list = json!([]);
    }
    if let Some(items) = list.as_array_mut() {
        if !items.iter().any(|i| i["name"] == name) {
            items.push(json!({ "name": name }));
        }
    }
}

fn images(spec: &mut Value, registry: &str) {
    for list in ["containers", "initContainers", "ephemeralContainers"] {
        if let Some(items) = spec.get_mut(list).and_then(Value::as_array_mut) {
            for c in items {
                if let Some(Value::String(img)) = c.get_mut("image") {
                    *img = relocate(registry, img);
                }
            }
        }
    }
}

fn object(obj: &mut Value, e: &EditSet) {
    let kind = obj["kind"].as_str().unwrap_or_default().to_string();
    if obj.get("apiVersion").is_none() {
        return;
    }
    match kind.as_str() {
        "ServiceAccount" => {
            if let Some(n) = &e.pull_secret {
                ensure_secret(obj, n);
            }
        }
        "ConfigMap" => {
            if let Some(Value::String(m)) = obj.pointer_mut("/data/mutate.yaml") {
                let mut inner = documents(m)
                    .unwrap()
                    .into_iter()
                    .next()
                    .unwrap_or(Value::Null);
                if let Some(n) = &e.inject_pull_secret {
                    ensure_secret(&mut inner, n);
                }
                if let Some(r) = &e.registry {
                    images(&mut inner, r);
                }
                *obj.pointer_mut("/data/mutate.yaml").unwrap() = inner;
            }
        }
        "List" => {
            if let Some(items) = obj.get_mut("items").and_then(Value::as_array_mut) {
                for item in items {
                    object(item, e);
                }
            }
        }
        _ => {
            let template = match kind.as_str() {
                "Pod" => Some(&mut *obj),
                "CronJob" => obj.pointer_mut("/spec/jobTemplate/spec/template"),
                "Deployment"
                | "DaemonSet"
                | "StatefulSet"
                | "ReplicaSet"
                | "ReplicationController"
                | "Job" => obj.pointer_mut("/spec/template"),
                _ => None,
            };
            let Some(t) = template.filter(|t| t.is_object()) else {
                return;
            };
            if let (Some(r), Some(spec)) = (&e.registry, t.get_mut("spec")) {
                images(spec, r);
            }
            if !e.annotations.is_empty() {
                let meta = t
                    .as_object_mut()
                    .unwrap()
                    .entry("metadata")
                    .or_insert(Value::Null);
                if !meta.is_object() {
                    *meta = json!({});
                }
                let ann = meta
                    .as_object_mut()
                    .unwrap()
                    .entry("annotations")
                    .or_insert(Value::Null);
                if !ann.is_object() {
                    *ann = json!({});
                }
                for (k, v) in &e.annotations {
                    ann[k] = json!(v);
                }
            }
        }
    }
}

/// mutate.yaml strings compared by meaning.
fn normalise(mut docs: Vec<Value>) -> Vec<Value> {
    fn walk(v: &mut Value) {
        if v["kind"] == "List" {
            if let Some(items) = v.get_mut("items").and_then(Value::as_array_mut) {
                items.iter_mut().for_each(walk);
            }
        }
        if let Some(m) = v.pointer_mut("/data/mutate.yaml") {
            if let Value::String(s) = m {
                *m = documents(s)
                    .unwrap()
                    .into_iter()
                    .next()
                    .unwrap_or(Value::Null);
            }
        }
    }
    docs.iter_mut().for_each(walk);
    docs
}

fn edit_sets() -> impl Strategy<Value = EditSet> {
    let name = "[a-z][a-z0-9-]{0,10}[a-z0-9]";
    let value = prop_oneof![
        Just("true".to_string()),
        Just("it's: #1".to_string()),
        Just("{\"a\":[1]}".to_string()),
        Just("".to_string()),
        "[ -~]{0,20}",
        "\\PC{0,8}",
    ];
    let annotation = (
        "[a-z]{1,5}(\\.[a-z]{1,5})?/[a-z][a-z0-9-]{0,6}[a-z0-9]",
        value,
    );
    (
        proptest::option::of(name),
        proptest::option::of(name),
        proptest::option::of(prop_oneof![
            Just("harbor.example.com:5000/apm".to_string()),
            Just("10.0.0.5/a/b".to_string())
        ]),
        proptest::collection::vec(annotation, 0..3),
    )
        .prop_map(|(pull_secret, inject_pull_secret, registry, annotations)| {
            let mut annotations: Vec<(String, String)> = annotations;
            let mut seen = std::collections::HashSet::new();
            annotations.retain(|(k, _)| seen.insert(k.clone()));
            EditSet {
                pull_secret,
                inject_pull_secret,
                registry,
                annotations,
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_edits_mean_exactly_what_was_asked_and_are_idempotent(edits in edit_sets(), pick in any::<prop::sample::Index>()) {
        let all = inputs();
        let (name, text) = &all[pick.index(all.len())];
        let once = patch_source(&source(name, text), &edits)
            .unwrap_or_else(|e| panic!("{name}: {edits:?}: {e:#}"));
        let before = documents(text).unwrap();
        let after = documents(&once.output).unwrap();
        prop_assert_eq!(normalise(after), normalise(model(before, &edits)), "{} with {:?}", name, edits);
        let twice = patch_source(&source(name, &once.output), &edits).unwrap();
        prop_assert_eq!(&twice.output, &once.output, "{} is not idempotent with {:?}", name, edits);
        prop_assert!(twice.changes.is_empty());
    }
}

/// Bytes outside the edited lines never change: every input line that the
/// edits do not target is still in the output, in order.
#[test]
fn untouched_lines_survive_in_order() {
    let edits = EditSet {
        pull_secret: Some("s".into()),
        inject_pull_secret: Some("s".into()),
        registry: Some("h.example.com/p".into()),
        annotations: vec![("a.example.com/k".into(), "v".into())],
    };
    for (name, text) in inputs() {
        let out = patch_source(&source(&name, &text), &edits).unwrap().output;
        let mut rest = out.split_inclusive('\n');
        // content lines of an `image: >-` / `image: |` block scalar are the image
        let mut image_block: Option<usize> = None;
        for line in text.split_inclusive('\n') {
            let indent = line.len() - line.trim_start().len();
            if let Some(col) = image_block {
                if indent > col && !line.trim().is_empty() {
                    continue;
                }
                image_block = None;
            }
            let value = line.trim_end().rsplit_once("image:").map(|(_, v)| v.trim());
            if value.is_some_and(|v| v.starts_with(['|', '>'])) {
                image_block = Some(indent);
            }
            let targeted = line.contains("image")
                || line.contains("imagePullSecrets")
                || line.contains("- name:")
                || line.contains("annotations")
                || line.contains("metadata");
            if targeted {
                continue;
            }
            // the file's last line may gain a line break when lines are added after it
            let last = !line.ends_with('\n');
            assert!(
                rest.any(|l| {
                    l == line
                        || (last && l.trim_end_matches(['\r', '\n']) == line)
                        // a JSON entry followed by a new one gains its comma
                        || l.trim_end() == format!("{},", line.trim_end())
                }),
                "{name}: line {line:?} lost or moved"
            );
        }
    }
}
