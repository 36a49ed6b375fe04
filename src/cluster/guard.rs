//! Never silently undo the private-registry setup: compare what an apply
//! would leave with the live objects. An agent upgrade starts from a fresh
//! download (pull secrets commented out, vendor images); applying it as is
//! would drop `imagePullSecrets` and move images back to the vendor registry,
//! and the next pull fails. Pure: objects in, findings out.
use serde_json::Value;

/// One object as it is live and as it would be after the apply.
pub struct Change<'a> {
    /// `serviceaccount/NAME` as kubectl prints it.
    pub display: String,
    pub live: &'a Value,
    pub new: &'a Value,
}

/// Something the apply would undo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Loss {
    /// imagePullSecrets of a ServiceAccount.
    ServiceAccountPullSecrets { object: String, names: Vec<String> },
    /// imagePullSecrets inside a ConfigMap's mutate.yaml (injected pods).
    MutatePullSecrets { object: String, names: Vec<String> },
    /// An image moves from the live registry to another one.
    Registry {
        object: String,
        container: String,
        live: String,
        new: String,
    },
}

impl Loss {
    pub fn describe(&self) -> String {
        match self {
            Loss::ServiceAccountPullSecrets { object, names } => format!(
                "{object}: imagePullSecrets {} would be removed (keep with --pull-secret={})",
                names.join(", "),
                names[0]
            ),
            Loss::MutatePullSecrets { object, names } => format!(
                "{object}: mutate.yaml imagePullSecrets {} would be removed from injected pods (keep with --inject-pull-secret={})",
                names.join(", "),
                names[0]
            ),
            Loss::Registry {
                object,
                container,
                live,
                new,
            } => format!(
                "{object}: container {container} would move from {live} to {new} (keep with --registry {})",
                registry_of(live)
            ),
        }
    }
}

/// Registries the vendor's download points at.
pub const VENDOR_HOSTS: [&str; 1] = ["registry.tingyun.com"];

/// `HOST[:PORT]/PROJECT` of an image (all but its last path component), as
/// `patch --registry` writes it.
pub fn registry_of(image: &str) -> &str {
    image.rsplit_once('/').map(|(r, _)| r).unwrap_or("")
}

fn secret_names(list: &Value) -> Vec<String> {
    list.as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["name"].as_str())
        .map(String::from)
        .collect()
}

/// The parsed mutate.yaml of a ConfigMap (Null when absent or unreadable).
pub fn mutate_doc(configmap: &Value) -> Value {
    configmap["data"]["mutate.yaml"]
        .as_str()
        .and_then(|t| crate::yaml::value::documents(t).ok())
        .and_then(|d| d.into_iter().next())
        .unwrap_or(Value::Null)
}

/// Pod specs in an object: (path label, spec).
fn pod_specs(obj: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    for spec in [
        &obj["spec"]["template"]["spec"],
        &obj["spec"]["jobTemplate"]["spec"]["template"]["spec"],
    ] {
        if spec.is_object() {
            out.push(spec);
        }
    }
    if obj["kind"] == "Pod" && obj["spec"].is_object() {
        out.push(&obj["spec"]);
    }
    out
}

/// (container name, image) of every container list in a pod spec (or a mutate.yaml).
fn images(spec: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for list in ["initContainers", "containers", "ephemeralContainers"] {
        for c in spec[list].as_array().into_iter().flatten() {
            if let (Some(n), Some(i)) = (c["name"].as_str(), c["image"].as_str()) {
                out.push((n.to_string(), i.to_string()));
            }
        }
    }
    out
}

fn registry_moves(
    object: &str,
    live: &[&Value],
    new: &[&Value],
    intended: Option<&str>,
    out: &mut Vec<Loss>,
) {
    let live_images: Vec<(String, String)> = live.iter().flat_map(|s| images(s)).collect();
    for (name, image) in new.iter().flat_map(|s| images(s)) {
        let Some((_, old)) = live_images.iter().find(|(n, _)| *n == name) else {
            continue;
        };
        let (from, to) = (registry_of(old), registry_of(&image));
        // Moving away from the vendor's registry is what patch --registry is
        // for; moving away from any other (private) registry undoes a setup.
        let from_vendor = VENDOR_HOSTS.contains(&crate::k8s::pod_problem::image_host(old));
        if from != to && Some(to) != intended && !from_vendor {
            out.push(Loss::Registry {
                object: object.to_string(),
                container: name,
                live: old.clone(),
                new: image,
            });
        }
    }
}

/// What the apply would undo. `intended_registry`: `patch --registry`'s
/// value (moving there is the point, not a loss).
pub fn losses(changes: &[Change], intended_registry: Option<&str>) -> Vec<Loss> {
    let mut out = Vec::new();
    for c in changes {
        let kind = c.new["kind"].as_str().unwrap_or("");
        if kind == "ServiceAccount" {
            let keep = secret_names(&c.new["imagePullSecrets"]);
            let gone: Vec<String> = secret_names(&c.live["imagePullSecrets"])
                .into_iter()
                .filter(|n| !keep.contains(n))
                .collect();
            if !gone.is_empty() {
                out.push(Loss::ServiceAccountPullSecrets {
                    object: c.display.clone(),
                    names: gone,
                });
            }
        }
        if kind == "ConfigMap" && c.live["data"]["mutate.yaml"].is_string() {
            let (live, new) = (mutate_doc(c.live), mutate_doc(c.new));
            let keep = secret_names(&new["imagePullSecrets"]);
            let gone: Vec<String> = secret_names(&live["imagePullSecrets"])
                .into_iter()
                .filter(|n| !keep.contains(n))
                .collect();
            if !gone.is_empty() {
                out.push(Loss::MutatePullSecrets {
                    object: c.display.clone(),
                    names: gone,
                });
            }
            registry_moves(
                &format!("{} mutate.yaml", c.display),
                &[&live],
                &[&new],
                intended_registry,
                &mut out,
            );
        }
        registry_moves(
            &c.display,
            &pod_specs(c.live),
            &pod_specs(c.new),
            intended_registry,
            &mut out,
        );
    }
    out
}

/// Pull secrets an object will name: ServiceAccount imagePullSecrets,
/// mutate.yaml imagePullSecrets, pod template imagePullSecrets.
pub fn named_pull_secrets(obj: &Value) -> Vec<String> {
    let mut names = secret_names(&obj["imagePullSecrets"]);
    if obj["kind"] == "ConfigMap" {
        names.extend(secret_names(&mutate_doc(obj)["imagePullSecrets"]));
    }
    for spec in pod_specs(obj) {
        names.extend(secret_names(&spec["imagePullSecrets"]));
    }
    names.sort();
    names.dedup();
    names
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cm(mutate: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {"mutate.yaml": mutate}})
    }

    #[test]
    fn a_fresh_download_over_a_private_registry_install_is_caught() {
        let sa_live = json!({"kind": "ServiceAccount", "imagePullSecrets": [{"name": "tingyun-image-secret"}]});
        let sa_new = json!({"kind": "ServiceAccount"});
        let cm_live = cm(
            "imagePullSecrets:\n- name: tingyun-image-secret\ninitContainers:\n- name: init\n  image: harbor.example.com/apm/init:1\n",
        );
        let cm_new = cm(
            "#imagePullSecrets:\ninitContainers:\n- name: init\n  image: registry.tingyun.com/tingyun/init:1\n",
        );
        let d_live = json!({"kind": "Deployment", "spec": {"template": {"spec": {"containers": [{"name": "a", "image": "harbor.example.com/apm/a:1"}]}}}});
        let d_new = json!({"kind": "Deployment", "spec": {"template": {"spec": {"containers": [{"name": "a", "image": "registry.tingyun.com/tingyun/a:2"}]}}}});
        let changes = [
            Change {
                display: "serviceaccount/sa".into(),
                live: &sa_live,
                new: &sa_new,
            },
            Change {
                display: "configmap/cfg".into(),
                live: &cm_live,
                new: &cm_new,
            },
            Change {
                display: "deployment.apps/d".into(),
                live: &d_live,
                new: &d_new,
            },
        ];
        let found = losses(&changes, None);
        let text: Vec<String> = found.iter().map(Loss::describe).collect();
        assert_eq!(
            text,
            [
                "serviceaccount/sa: imagePullSecrets tingyun-image-secret would be removed (keep with --pull-secret=tingyun-image-secret)",
                "configmap/cfg: mutate.yaml imagePullSecrets tingyun-image-secret would be removed from injected pods (keep with --inject-pull-secret=tingyun-image-secret)",
                "configmap/cfg mutate.yaml: container init would move from harbor.example.com/apm/init:1 to registry.tingyun.com/tingyun/init:1 (keep with --registry harbor.example.com/apm)",
                "deployment.apps/d: container a would move from harbor.example.com/apm/a:1 to registry.tingyun.com/tingyun/a:2 (keep with --registry harbor.example.com/apm)",
            ]
        );
        // Moving to the registry patch was asked for is intended; a new tag is no loss.
        let d_new2 = json!({"kind": "Deployment", "spec": {"template": {"spec": {"containers": [{"name": "a", "image": "harbor2.example.com/apm/a:1"}]}}}});
        let c = [Change {
            display: "d".into(),
            live: &d_live,
            new: &d_new2,
        }];
        assert!(losses(&c, Some("harbor2.example.com/apm")).is_empty());
        let d_same = json!({"kind": "Deployment", "spec": {"template": {"spec": {"containers": [{"name": "a", "image": "harbor.example.com/apm/a:3"}]}}}});
        let c = [Change {
            display: "d".into(),
            live: &d_live,
            new: &d_same,
        }];
        assert!(losses(&c, None).is_empty());
    }

    #[test]
    fn named_pull_secrets_come_from_every_place() {
        let c = cm("imagePullSecrets:\n- name: inj\n");
        assert_eq!(named_pull_secrets(&c), ["inj"]);
        let sa =
            json!({"kind": "ServiceAccount", "imagePullSecrets": [{"name": "a"}, {"name": "b"}]});
        assert_eq!(named_pull_secrets(&sa), ["a", "b"]);
    }
}
