//! After applying: restart the agent workloads whose pods would keep stale
//! settings, and delete ownerless `tingyun-agent-*` pods.
//!
//! A pod reads its ServiceAccount (e.g. imagePullSecrets), mounted ConfigMaps
//! (e.g. the injection template `mutate.yaml`) and Secrets when it starts.
//! When one of those changed but the workload's own pod template did not,
//! nothing would replace the pods, so we do a rollout restart (the
//! `kubectl.kubernetes.io/restartedAt` annotation on the pod template, as
//! `kubectl rollout restart` does). Workloads whose template changed roll out
//! by themselves; they are waited for as well.
use std::collections::BTreeSet;

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use serde_json::{Value, json};

use super::errors::{Attempt, classify};
use super::objects::Applied;

pub const RESTARTED_AT: &str = "kubectl.kubernetes.io/restartedAt";
/// Agent pods created without a controller, named like the vendor's `tingyun-agent-xxx`.
pub const AGENT_POD_PREFIX: &str = "tingyun-agent-";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Deployment,
    DaemonSet,
}

/// A Deployment or DaemonSet from the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workload {
    pub kind: Kind,
    pub namespace: String,
    pub name: String,
}

impl Workload {
    pub fn display(&self) -> String {
        match self.kind {
            Kind::Deployment => format!("deployment.apps/{}", self.name),
            Kind::DaemonSet => format!("daemonset.apps/{}", self.name),
        }
    }
    fn resource(&self) -> &'static str {
        match self.kind {
            Kind::Deployment => "deployments.apps",
            Kind::DaemonSet => "daemonsets.apps",
        }
    }
}

/// What to do after an apply.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// Workloads to rollout-restart, with the reason.
    pub restart: Vec<(Workload, String)>,
    /// Workloads rolling out by themselves (created, or their pod template changed).
    pub rolling: Vec<Workload>,
    /// Namespaces of the file's agent workloads.
    pub agent_namespaces: Vec<String>,
    /// Did the apply change anything at all?
    pub anything_changed: bool,
}

/// References from a pod spec to objects whose content the pod reads at start.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Uses {
    pub service_account: String,
    pub config_maps: BTreeSet<String>,
    pub secrets: BTreeSet<String>,
}

pub fn pod_uses(pod_spec: &Value) -> Uses {
    let mut uses = Uses {
        service_account: pod_spec["serviceAccountName"]
            .as_str()
            .or(pod_spec["serviceAccount"].as_str())
            .filter(|s| !s.is_empty())
            .unwrap_or("default")
            .to_string(),
        ..Uses::default()
    };
    let add = |set: &mut BTreeSet<String>, v: &Value| {
        if let Some(s) = v.as_str().filter(|s| !s.is_empty()) {
            set.insert(s.to_string());
        }
    };
    for vol in pod_spec["volumes"].as_array().into_iter().flatten() {
        add(&mut uses.config_maps, &vol["configMap"]["name"]);
        add(&mut uses.secrets, &vol["secret"]["secretName"]);
        for src in vol["projected"]["sources"].as_array().into_iter().flatten() {
            add(&mut uses.config_maps, &src["configMap"]["name"]);
            add(&mut uses.secrets, &src["secret"]["name"]);
        }
    }
    for list in ["containers", "initContainers"] {
        for c in pod_spec[list].as_array().into_iter().flatten() {
            for ef in c["envFrom"].as_array().into_iter().flatten() {
                add(&mut uses.config_maps, &ef["configMapRef"]["name"]);
                add(&mut uses.secrets, &ef["secretRef"]["name"]);
            }
            for e in c["env"].as_array().into_iter().flatten() {
                add(
                    &mut uses.config_maps,
                    &e["valueFrom"]["configMapKeyRef"]["name"],
                );
                add(&mut uses.secrets, &e["valueFrom"]["secretKeyRef"]["name"]);
            }
        }
    }
    uses
}

pub fn workload_of(a: &Applied) -> Option<Workload> {
    let kind = if a.manifest.is("apps", "Deployment") {
        Kind::Deployment
    } else if a.manifest.is("apps", "DaemonSet") {
        Kind::DaemonSet
    } else {
        return None;
    };
    Some(Workload {
        kind,
        namespace: a.namespace.clone()?,
        name: a.manifest.name.clone(),
    })
}

/// Decide what to restart from what the apply did.
pub fn plan(applied: &[Applied]) -> Plan {
    let mut plan = Plan {
        anything_changed: applied.iter().any(Applied::changed),
        ..Plan::default()
    };
    let changed = |group: &str, kind: &str, ns: &str, name: &str| {
        applied.iter().any(|a| {
            a.manifest.is(group, kind)
                && a.namespace.as_deref() == Some(ns)
                && a.manifest.name == name
                && a.changed()
        })
    };
    for a in applied {
        let Some(w) = workload_of(a) else { continue };
        if !plan.agent_namespaces.contains(&w.namespace) {
            plan.agent_namespaces.push(w.namespace.clone());
        }
        let template_after = &a.after["spec"]["template"];
        let template_changed = match &a.before {
            None => true,
            Some(b) => &b["spec"]["template"] != template_after,
        };
        if template_changed {
            plan.rolling.push(w);
            continue;
        }
        let uses = pod_uses(&template_after["spec"]);
        let mut why = Vec::new();
        if changed("", "ServiceAccount", &w.namespace, &uses.service_account) {
            why.push(format!("serviceaccount/{}", uses.service_account));
        }
        for cm in &uses.config_maps {
            if changed("", "ConfigMap", &w.namespace, cm) {
                why.push(format!("configmap/{cm}"));
            }
        }
        for s in &uses.secrets {
            if changed("", "Secret", &w.namespace, s) {
                why.push(format!("secret/{s}"));
            }
        }
        if !why.is_empty() {
            plan.restart
                .push((w, format!("{} changed", why.join(", "))));
        }
    }
    plan
}

/// RFC 3339 "now" in seconds, as kubectl writes restartedAt.
fn now() -> String {
    k8s_openapi::jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// Restart and delete as planned; print what was done. Returns the workloads
/// to wait for.
pub async fn execute(
    client: &kube::Client,
    plan: &Plan,
    field_manager: &str,
    server: &str,
    out: &mut dyn std::io::Write,
) -> anyhow::Result<Vec<Workload>> {
    let params = PatchParams {
        field_manager: Some(field_manager.to_string()),
        ..PatchParams::default()
    };
    // Not kube's `Api::restart()`: it stamps `kube.kubernetes.io/restartedAt`
    // (with sub-second digits) under no field manager, while `kubectl rollout
    // restart`, the vendor guide and users' scripts look for kubectl's
    // annotation, and our patch carries `--field-manager` like every other
    // write of `apply`. Ownerless agent pods below have no controller to
    // restart them: the vendor guide's way is to delete them.
    let stamp = now();
    let body = json!({"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: stamp}}}}});
    for (w, why) in &plan.restart {
        let result = match w.kind {
            Kind::Deployment => Api::<Deployment>::namespaced(client.clone(), &w.namespace)
                .patch(&w.name, &params, &Patch::Merge(&body))
                .await
                .map(|_| ()),
            Kind::DaemonSet => Api::<DaemonSet>::namespaced(client.clone(), &w.namespace)
                .patch(&w.name, &params, &Patch::Merge(&body))
                .await
                .map(|_| ()),
        };
        if let Err(e) = result {
            let f = classify(
                &e,
                &Attempt {
                    verb: "patch",
                    resource: w.resource(),
                    namespace: Some(&w.namespace),
                },
                server,
            );
            anyhow::bail!("cannot restart {}: {}", w.display(), f.message);
        }
        writeln!(out, "{} restarted ({why})", w.display())?;
    }
    if plan.anything_changed {
        for ns in &plan.agent_namespaces {
            let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
            let attempt = |verb| Attempt {
                verb,
                resource: "pods",
                namespace: Some(ns),
            };
            let list = pods.list(&ListParams::default()).await.map_err(|e| {
                anyhow::anyhow!(
                    "cannot look for stale agent pods: {}",
                    classify(&e, &attempt("list"), server).message
                )
            })?;
            for pod in list.items {
                let name = pod.metadata.name.clone().unwrap_or_default();
                let ownerless = pod
                    .metadata
                    .owner_references
                    .as_ref()
                    .is_none_or(Vec::is_empty);
                if !name.starts_with(AGENT_POD_PREFIX)
                    || !ownerless
                    || pod.metadata.deletion_timestamp.is_some()
                {
                    continue;
                }
                pods.delete(&name, &DeleteParams::default())
                    .await
                    .map_err(|e| {
                        anyhow::anyhow!(
                            "cannot delete pod/{name}: {}",
                            classify(&e, &attempt("delete"), server).message
                        )
                    })?;
                writeln!(
                    out,
                    "pod/{name} deleted (agent pod without a controller, started with the old settings)"
                )?;
            }
        }
    }
    let mut targets: Vec<Workload> = plan.restart.iter().map(|(w, _)| w.clone()).collect();
    for w in &plan.rolling {
        if !targets.contains(w) {
            targets.push(w.clone());
        }
    }
    Ok(targets)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::objects::parse;

    fn applied(yaml: &str, before: Option<Value>, after_rv: &str) -> Applied {
        let m = parse("t", yaml).unwrap().remove(0);
        let mut after = m.object.clone();
        after["metadata"]["resourceVersion"] = json!(after_rv);
        let namespace = Some(m.namespace.clone().unwrap_or_else(|| "tingyun".into()));
        Applied {
            manifest: m,
            namespace,
            before,
            after,
        }
    }

    const DEPLOY: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: agent}\nspec:\n  template:\n    spec:\n      serviceAccountName: sa\n      containers: [{name: c, envFrom: [{secretRef: {name: env-secret}}]}]\n      volumes: [{name: v, configMap: {name: cfg}}]\n";

    fn unchanged_deploy() -> Applied {
        let m = parse("t", DEPLOY).unwrap().remove(0);
        let mut before = m.object.clone();
        before["metadata"]["resourceVersion"] = json!("5");
        applied(DEPLOY, Some(before), "5")
    }

    fn changed(yaml: &str) -> Applied {
        applied(
            yaml,
            Some(json!({"metadata": {"resourceVersion": "1"}})),
            "2",
        )
    }

    #[test]
    fn a_changed_configmap_restarts_the_workload_that_mounts_it() {
        let plan = plan(&[
            changed("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\n"),
            unchanged_deploy(),
        ]);
        assert_eq!(plan.restart.len(), 1);
        assert_eq!(plan.restart[0].0.display(), "deployment.apps/agent");
        assert_eq!(plan.restart[0].1, "configmap/cfg changed");
    }

    #[test]
    fn a_changed_service_account_or_env_secret_restarts_too() {
        let plan = plan(&[
            changed("apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: sa}\n"),
            changed("apiVersion: v1\nkind: Secret\nmetadata: {name: env-secret}\n"),
            unchanged_deploy(),
        ]);
        assert_eq!(
            plan.restart[0].1,
            "serviceaccount/sa, secret/env-secret changed"
        );
    }

    #[test]
    fn unrelated_or_unchanged_objects_restart_nothing() {
        let same = json!({"metadata": {"resourceVersion": "7"}});
        let plan = plan(&[
            applied(
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\n",
                Some(same),
                "7",
            ),
            changed("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: other}\n"),
            changed(
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg, namespace: elsewhere}\n",
            ),
            unchanged_deploy(),
        ]);
        assert!(plan.restart.is_empty(), "{:?}", plan.restart);
        assert!(plan.rolling.is_empty());
    }

    #[test]
    fn a_changed_template_rolls_by_itself() {
        let before =
            json!({"metadata": {"resourceVersion": "1"}, "spec": {"template": {"spec": {}}}});
        let plan = plan(&[
            changed("apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: sa}\n"),
            applied(DEPLOY, Some(before), "2"),
        ]);
        assert!(plan.restart.is_empty());
        assert_eq!(plan.rolling.len(), 1);
    }

    #[test]
    fn default_service_account_is_assumed() {
        assert_eq!(pod_uses(&json!({})).service_account, "default");
    }
}
