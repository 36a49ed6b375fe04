//! `--dry-run=server`: a `kubectl diff`-style unified diff of the live object
//! against the server's dry-run result, noise removed and Secret data masked.
use serde_json::{Map, Value};

use crate::k8s::LAST_APPLIED;

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
/// The last-applied annotation (the data again, as JSON) is masked the same way.
pub fn mask_secret(before: &mut Value, after: &mut Value) {
    let is_secret = |v: &Value| v["kind"] == "Secret" && v["apiVersion"] == "v1";
    if !is_secret(before) && !is_secret(after) {
        return;
    }
    let pointer = format!("/metadata/annotations/{}", LAST_APPLIED.replace('/', "~1"));
    let b = before.pointer(&pointer).cloned();
    let a = after.pointer(&pointer).cloned();
    let differ = b.is_some() && a.is_some() && a != b;
    for (v, side) in [(&mut *before, "before"), (&mut *after, "after")] {
        if let Some(slot) = v.pointer_mut(&pointer) {
            *slot = Value::String(if differ {
                format!("*** ({side})")
            } else {
                "***".into()
            });
        }
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

/// An object as `kubectl diff` shows it: block style, sorted keys.
pub fn to_yaml(v: &Value) -> String {
    crate::yaml::emit::to_yaml(v, crate::yaml::emit::Layout::DIFF)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
    fn last_applied_annotation_of_a_secret_is_masked() {
        let applied = |v: &str| {
            json!({"apiVersion": "v1", "kind": "Secret",
                   "metadata": {"name": "s", "annotations": {LAST_APPLIED: format!("{{\"data\":{{\"p\":\"{v}\"}}}}"), "team": "apm"}},
                   "data": {"p": v}})
        };
        let d = diff(
            "v1.Secret.ns.s",
            Some(&applied("aHVudGVyMg==")),
            &applied("aHVudGVyMw=="),
        );
        assert!(!d.contains("aHVudGVy"), "{d}");
        assert!(
            d.contains("last-applied-configuration: '*** (before)'")
                || d.contains("last-applied-configuration: \"*** (before)\""),
            "{d}"
        );
        assert!(d.contains("*** (after)"), "{d}");
        // unchanged: masked, and no difference shown for it
        let d = diff("v1.Secret.ns.s", None, &applied("aHVudGVyMg=="));
        assert!(
            !d.contains("aHVudGVy") && d.contains("last-applied-configuration: \"***\""),
            "{d}"
        );
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
