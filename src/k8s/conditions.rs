//! Status conditions: pure functions over API objects, in the manner of
//! kube-runtime's `wait::conditions` (and usable with its `await_condition`:
//! the `is_*` functions return a [`Condition`]).
//!
//! kube's own `is_deployment_completed` is not used: it looks only at the
//! Deployment's `Progressing` condition (reason `NewReplicaSetAvailable`),
//! not at `observedGeneration`, so right after a restart it still sees the
//! previous rollout's "complete" until the controller catches up; it gives
//! no counts for a progress line, and there is none for DaemonSets. The
//! rules here are `kubectl rollout status`'s, so `apply --wait` agrees with
//! what the user would see there.
use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::runtime::wait::Condition;

/// How far a workload has rolled out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rollout {
    /// Every wanted pod is updated and available (`kubectl rollout status` says done).
    pub done: bool,
    /// New pods available so far.
    pub ready: i32,
    /// Pods wanted.
    pub want: i32,
}

/// A Deployment's rollout, by `kubectl rollout status`'s rules: the
/// controller has seen the latest spec, every wanted replica is updated,
/// no old one is left and the updated ones are available.
pub fn deployment_rollout(d: &Deployment) -> Rollout {
    let generation = d.metadata.generation.unwrap_or(0);
    let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let Some(st) = &d.status else {
        return Rollout {
            done: false,
            ready: 0,
            want,
        };
    };
    let observed = st.observed_generation.unwrap_or(0) >= generation;
    let updated = st.updated_replicas.unwrap_or(0);
    let available = st.available_replicas.unwrap_or(0);
    let total = st.replicas.unwrap_or(0);
    let done = observed && updated >= want && total <= updated && available >= updated;
    Rollout {
        done,
        ready: if observed { available.min(updated) } else { 0 },
        want,
    }
}

/// A DaemonSet's rollout: the controller has seen the latest spec and
/// every node that should run a pod runs an updated, available one.
pub fn daemonset_rollout(d: &DaemonSet) -> Rollout {
    let generation = d.metadata.generation.unwrap_or(0);
    let Some(st) = &d.status else {
        return Rollout {
            done: false,
            ready: 0,
            want: 0,
        };
    };
    let observed = st.observed_generation.unwrap_or(0) >= generation;
    let want = st.desired_number_scheduled;
    let updated = st.updated_number_scheduled.unwrap_or(0);
    let available = st.number_available.unwrap_or(0);
    let done = observed && updated >= want && available >= want;
    Rollout {
        done,
        ready: if observed { available.min(updated) } else { 0 },
        want,
    }
}

/// Holds once the Deployment has rolled out ([`deployment_rollout`]).
#[must_use]
pub fn is_deployment_rolled_out() -> impl Condition<Deployment> {
    |d: Option<&Deployment>| d.is_some_and(|d| deployment_rollout(d).done)
}

/// Holds once the DaemonSet has rolled out ([`daemonset_rollout`]).
#[must_use]
pub fn is_daemonset_rolled_out() -> impl Condition<DaemonSet> {
    |d: Option<&DaemonSet>| d.is_some_and(|d| daemonset_rollout(d).done)
}

/// Holds once the pod's `Ready` condition is `True`.
#[must_use]
pub fn is_pod_ready() -> impl Condition<Pod> {
    |p: Option<&Pod>| p.is_some_and(pod_ready)
}

/// The pod's `Ready` condition is `True`.
pub fn pod_ready(p: &Pod) -> bool {
    p.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// Nothing to look into: the pod is Ready, has finished (Succeeded or
/// Failed) or is being deleted.
pub fn pod_settled(p: &Pod) -> bool {
    let finished = matches!(
        p.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded") | Some("Failed")
    );
    finished || p.metadata.deletion_timestamp.is_some() || pod_ready(p)
}

/// Why a pod is not Ready, in one line: its phase plus each container's
/// waiting or failed state, or why it is not scheduled.
pub fn pod_not_ready_reason(p: &Pod) -> String {
    let Some(st) = &p.status else {
        return "no status yet".into();
    };
    let mut parts = vec![st.phase.clone().unwrap_or_else(|| "Unknown".into())];
    let all = st
        .init_container_statuses
        .iter()
        .flatten()
        .chain(st.container_statuses.iter().flatten());
    for cs in all {
        let Some(state) = &cs.state else { continue };
        if let Some(w) = &state.waiting {
            let reason = w.reason.clone().unwrap_or_else(|| "Waiting".into());
            match w.message.as_deref().filter(|m| !m.is_empty()) {
                Some(m) => parts.push(format!("container {} waiting: {reason}: {m}", cs.name)),
                None => parts.push(format!("container {} waiting: {reason}", cs.name)),
            }
        } else if let Some(t) = &state.terminated {
            if t.exit_code != 0 {
                let reason = t.reason.clone().unwrap_or_else(|| "Error".into());
                parts.push(format!(
                    "container {} terminated: {reason} (exit code {})",
                    cs.name, t.exit_code
                ));
            }
        } else if state.running.is_some() && !cs.ready {
            parts.push(format!("container {} running but not Ready", cs.name));
        }
    }
    if parts.len() == 1
        && let Some(c) = st
            .conditions
            .iter()
            .flatten()
            .find(|c| c.type_ == "PodScheduled" && c.status == "False")
    {
        parts.push(format!(
            "not scheduled: {}",
            c.message.clone().unwrap_or_default()
        ));
    }
    parts.join("; ")
}

/// A word for a progress line: the first container's waiting reason, else
/// the pod's phase.
pub fn pod_state_word(p: &Pod) -> String {
    let st = p.status.as_ref();
    let waiting = st.and_then(|s| {
        s.init_container_statuses
            .iter()
            .flatten()
            .chain(s.container_statuses.iter().flatten())
            .find_map(|cs| cs.state.as_ref()?.waiting.as_ref()?.reason.clone())
    });
    waiting
        .or_else(|| st.and_then(|s| s.phase.clone()))
        .unwrap_or_else(|| "Pending".into())
}

/// The pod waits in a state the kubelet only backs off from (a refused
/// pull, a crash loop): worth diagnosing whether it can recover by itself.
pub fn pod_may_be_stuck(p: &Pod) -> bool {
    matches!(
        pod_state_word(p).as_str(),
        "ErrImagePull" | "ImagePullBackOff" | "CrashLoopBackOff"
    )
}

/// Does a workload's label selector pick this pod? An absent selector
/// picks nothing (the API server would not accept one anyway).
pub fn selector_matches(sel: Option<&LabelSelector>, pod: &Pod) -> bool {
    let Some(sel) = sel else { return false };
    let empty = BTreeMap::new();
    let labels = pod.metadata.labels.as_ref().unwrap_or(&empty);
    let labels_ok = sel
        .match_labels
        .as_ref()
        .is_none_or(|m| m.iter().all(|(k, v)| labels.get(k) == Some(v)));
    let exprs_ok = sel.match_expressions.as_ref().is_none_or(|es| {
        es.iter().all(|e| {
            let values = e.values.as_deref().unwrap_or(&[]);
            match e.operator.as_str() {
                "In" => labels.get(&e.key).is_some_and(|v| values.contains(v)),
                "NotIn" => labels.get(&e.key).is_none_or(|v| !values.contains(v)),
                "Exists" => labels.contains_key(&e.key),
                "DoesNotExist" => !labels.contains_key(&e.key),
                _ => false,
            }
        })
    });
    labels_ok && exprs_ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj<K: serde::de::DeserializeOwned>(v: serde_json::Value) -> K {
        serde_json::from_value(v).unwrap()
    }

    fn deployment(generation: i64, status: serde_json::Value) -> Deployment {
        obj(json!({
            "metadata": {"name": "tingyun-operator", "generation": generation},
            "spec": {"replicas": 2, "selector": {}, "template": {}},
            "status": status,
        }))
    }

    #[test]
    fn a_deployment_is_rolled_out_when_every_replica_is_new_and_available() {
        let d = deployment(
            3,
            json!({"observedGeneration": 3, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 2}),
        );
        assert_eq!(
            deployment_rollout(&d),
            Rollout {
                done: true,
                ready: 2,
                want: 2
            }
        );
        assert!(is_deployment_rolled_out().matches_object(Some(&d)));
        assert!(!is_deployment_rolled_out().matches_object(None));
    }

    #[test]
    fn a_deployment_mid_rollout_is_not_done() {
        // An old pod is still there (3 replicas, 2 updated).
        let surge = deployment(
            3,
            json!({"observedGeneration": 3, "replicas": 3, "updatedReplicas": 2, "availableReplicas": 3}),
        );
        assert!(!deployment_rollout(&surge).done);
        assert_eq!(deployment_rollout(&surge).ready, 2);
        // The controller has not seen the new spec: nothing of it is ready.
        let unseen = deployment(
            4,
            json!({"observedGeneration": 3, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 2}),
        );
        assert_eq!(
            deployment_rollout(&unseen),
            Rollout {
                done: false,
                ready: 0,
                want: 2
            }
        );
        // Updated but not yet available.
        let starting = deployment(
            3,
            json!({"observedGeneration": 3, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 1}),
        );
        assert!(!is_deployment_rolled_out().matches_object(Some(&starting)));
        // No status at all yet.
        let fresh: Deployment = obj(json!({"metadata": {"name": "x"}}));
        assert_eq!(
            deployment_rollout(&fresh),
            Rollout {
                done: false,
                ready: 0,
                want: 1
            }
        );
    }

    fn daemonset(status: serde_json::Value) -> DaemonSet {
        obj(json!({
            "metadata": {"name": "tingyun-agent", "generation": 2},
            "spec": {"selector": {}, "template": {}},
            "status": status,
        }))
    }

    #[test]
    fn a_daemonset_is_rolled_out_when_every_node_runs_a_new_available_pod() {
        let base = json!({"observedGeneration": 2, "currentNumberScheduled": 3, "numberMisscheduled": 0,
                          "desiredNumberScheduled": 3, "numberReady": 3});
        let mut done = base.clone();
        done["updatedNumberScheduled"] = json!(3);
        done["numberAvailable"] = json!(3);
        let ds = daemonset(done);
        assert_eq!(
            daemonset_rollout(&ds),
            Rollout {
                done: true,
                ready: 3,
                want: 3
            }
        );
        assert!(is_daemonset_rolled_out().matches_object(Some(&ds)));
        let mut part = base;
        part["updatedNumberScheduled"] = json!(1);
        part["numberAvailable"] = json!(3);
        let ds = daemonset(part);
        assert_eq!(
            daemonset_rollout(&ds),
            Rollout {
                done: false,
                ready: 1,
                want: 3
            }
        );
        assert!(!is_daemonset_rolled_out().matches_object(Some(&ds)));
    }

    fn pod(v: serde_json::Value) -> Pod {
        obj(v)
    }

    #[test]
    fn pod_readiness_and_settled_pods() {
        let ready = pod(json!({"status": {"phase": "Running",
            "conditions": [{"type": "Ready", "status": "True"}]}}));
        let running = pod(json!({"status": {"phase": "Running",
            "conditions": [{"type": "Ready", "status": "False"}]}}));
        let done = pod(json!({"status": {"phase": "Succeeded"}}));
        let leaving = pod(
            json!({"metadata": {"deletionTimestamp": "2026-01-01T00:00:00Z"},
            "status": {"phase": "Running"}}),
        );
        assert!(pod_ready(&ready) && is_pod_ready().matches_object(Some(&ready)));
        assert!(!pod_ready(&running) && !is_pod_ready().matches_object(None));
        assert!(pod_settled(&ready) && pod_settled(&done) && pod_settled(&leaving));
        assert!(!pod_settled(&running));
    }

    #[test]
    fn why_a_pod_is_not_ready() {
        let pulling = pod(
            json!({"status": {"phase": "Pending", "containerStatuses": [{
            "name": "agent", "image": "a", "imageID": "", "ready": false, "restartCount": 0,
            "state": {"waiting": {"reason": "ImagePullBackOff",
                                  "message": "Back-off pulling image \"a\""}}}]}}),
        );
        assert_eq!(
            pod_not_ready_reason(&pulling),
            "Pending; container agent waiting: ImagePullBackOff: Back-off pulling image \"a\""
        );
        assert_eq!(pod_state_word(&pulling), "ImagePullBackOff");
        assert!(pod_may_be_stuck(&pulling));

        let crashed = pod(
            json!({"status": {"phase": "Running", "containerStatuses": [{
            "name": "agent", "image": "a", "imageID": "", "ready": false, "restartCount": 4,
            "state": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}}]}}),
        );
        assert_eq!(
            pod_not_ready_reason(&crashed),
            "Running; container agent terminated: OOMKilled (exit code 137)"
        );
        assert_eq!(pod_state_word(&crashed), "Running");
        assert!(!pod_may_be_stuck(&crashed));

        let unscheduled = pod(json!({"status": {"phase": "Pending", "conditions": [{
            "type": "PodScheduled", "status": "False",
            "message": "0/3 nodes are available: 3 Insufficient memory."}]}}));
        assert_eq!(
            pod_not_ready_reason(&unscheduled),
            "Pending; not scheduled: 0/3 nodes are available: 3 Insufficient memory."
        );
        assert_eq!(pod_not_ready_reason(&Pod::default()), "no status yet");
        assert_eq!(pod_state_word(&Pod::default()), "Pending");
    }

    #[test]
    fn label_selectors() {
        let p = pod(json!({"metadata": {"labels": {"app": "tingyun-agent", "tier": "node"}}}));
        let sel = |v| -> LabelSelector { obj(v) };
        assert!(selector_matches(
            Some(&sel(json!({"matchLabels": {"app": "tingyun-agent"}}))),
            &p
        ));
        assert!(!selector_matches(
            Some(&sel(json!({"matchLabels": {"app": "other"}}))),
            &p
        ));
        assert!(selector_matches(
            Some(&sel(json!({"matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["node", "edge"]},
                {"key": "canary", "operator": "DoesNotExist"},
                {"key": "app", "operator": "Exists"},
                {"key": "zone", "operator": "NotIn", "values": ["b"]}]}))),
            &p
        ));
        assert!(!selector_matches(
            Some(&sel(json!({"matchExpressions": [
                {"key": "tier", "operator": "NotIn", "values": ["node"]}]}))),
            &p
        ));
        assert!(!selector_matches(None, &p));
    }
}
