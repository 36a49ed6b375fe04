//! `kubectl tingyun apply` against the shared kube-emulator: what is sent
//! (the request log), what is stored, what is restarted, what is said.
use crate::support;

use std::path::PathBuf;
use std::process::Output;

use crate::support::emulator::Emulator;
use crate::support::{stderr, stdout};
use serde_json::{Value, json};

const FIXTURE: &str = "tingyunagent.yaml";

fn both(o: &Output) -> String {
    format!("{}{}", stdout(o), stderr(o))
}

fn apply(emu: &Emulator, file: &std::path::Path, extra: &[&str]) -> Output {
    let mut args = vec!["apply", file.to_str().unwrap()];
    args.extend_from_slice(extra);
    if !extra.contains(&"--timeout") {
        args.extend(["--timeout", "30s"]);
    }
    emu.tingyun(&args)
}

/// The guide's edit: imagePullSecrets in the ServiceAccount.
fn with_sa_pull_secret(text: &str) -> String {
    let out = text.replace(
        "#imagePullSecrets:\n# - name: tingyun-image-secret",
        "imagePullSecrets:\n- name: tingyun-image-secret",
    );
    assert_ne!(out, text);
    out
}

/// The guide's edit: imagePullSecrets in mutate.yaml (the ConfigMap).
fn with_mutate_pull_secret(text: &str) -> String {
    let out = text.replace(
        "    #imagePullSecrets:\n    #- name: tingyun-image-secret",
        "    imagePullSecrets:\n    - name: tingyun-image-secret",
    );
    assert_ne!(out, text);
    out
}

/// A cluster where the fixture is installed by us and its agent pods run.
fn installed() -> (Emulator, String) {
    let emu = Emulator::start("nodes: 2\nreadyDelay: 0.2\n");
    let file = emu.fixture(FIXTURE, FIXTURE);
    let out = apply(&emu, &file, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    emu.clear_requests();
    (emu, std::fs::read_to_string(file).unwrap())
}

fn requests(emu: &Emulator, method: &str) -> Vec<Value> {
    emu.requests()
        .into_iter()
        .filter(|r| r["method"] == method)
        .collect()
}

fn pod_names(emu: &Emulator) -> Vec<String> {
    emu.get("/api/v1/namespaces/tingyun/pods")["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
        .map(|p| p["metadata"]["name"].as_str().unwrap().to_string())
        .collect()
}

/// Merge patches (the rollout restarts), by path.
fn restarts(emu: &Emulator) -> Vec<(String, Value)> {
    requests(emu, "PATCH")
        .into_iter()
        .filter(|r| r["contentType"] == "application/merge-patch+json")
        .map(|r| (r["path"].as_str().unwrap().to_string(), r["body"].clone()))
        .collect()
}

#[test]
fn first_apply_checks_then_creates_everything_then_reapply_reports_unchanged() {
    let emu = Emulator::start("nodes: 2\nreadyDelay: 0.2\n");
    let file = emu.fixture(FIXTURE, FIXTURE);
    let out = apply(&emu, &file, &[]);
    let so = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    for line in [
        "namespace/tingyun created",
        "serviceaccount/tingyun-k8s-monitor created",
        "clusterrole.rbac.authorization.k8s.io/tingyun-k8s-monitor created",
        "deployment.apps/tingyun-agent created",
        "mutatingwebhookconfiguration.admissionregistration.k8s.io/tingyun-agent-injector created",
        "deployment.apps/tingyun-agent rolled out",
        "daemonset.apps/tingyun-node-agent rolled out",
    ] {
        assert!(so.contains(line), "missing {line:?} in\n{so}");
    }
    // Every object went by server-side apply with our field manager.
    let applies: Vec<Value> = requests(&emu, "PATCH")
        .into_iter()
        .filter(|r| r["query"]["dryRun"].is_null())
        .collect();
    assert_eq!(applies.len(), 10, "{applies:#?}");
    for r in &applies {
        assert_eq!(r["contentType"], "application/apply-patch+yaml", "{r}");
        assert_eq!(r["query"]["fieldManager"], "kubectl-tingyun");
    }
    let cm = emu.get("/api/v1/namespaces/tingyun/configmaps/tingyun-agent-config");
    assert!(
        cm["data"]["mutate.yaml"]
            .as_str()
            .unwrap()
            .contains("tingyun-agent-init")
    );

    emu.clear_requests();
    let out = apply(&emu, &file, &[]);
    let so = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert_eq!(so.matches(" unchanged\n").count(), 10, "{so}");
    assert!(!so.contains("restarted"), "{so}");
    // Nothing changed, but the agent's readiness is still checked.
    assert!(
        so.contains("deployment.apps/tingyun-agent rolled out"),
        "{so}"
    );
    for r in emu.writes() {
        assert_eq!(r["contentType"], "application/apply-patch+yaml", "{r}");
    }
}

#[test]
fn namespaces_and_crds_go_first_and_a_missing_namespace_applies_nothing() {
    let emu = Emulator::start("");
    let text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\ndata: {a: b}\n---\n\
apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: reader}\nrules: []\n---\n\
apiVersion: v1\nkind: ConfigMap\nmetadata: {name: elsewhere, namespace: apm}\n---\n\
apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: agents.tingyun.com}\n\
spec:\n  group: tingyun.com\n  scope: Namespaced\n  names: {plural: agents, singular: agent, kind: Agent}\n  versions: [{name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}}]\n---\n\
apiVersion: tingyun.com/v1\nkind: Agent\nmetadata: {name: a1, namespace: apm}\n---\n\
apiVersion: v1\nkind: Namespace\nmetadata: {name: apm}\n";
    let file = emu.write("m.yaml", text);
    // `team` does not exist: nothing is applied.
    let out = apply(&emu, &file, &["-n", "team", "--no-restart"]);
    let se = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    assert!(
        se.contains("configmap/cfg: namespace \"team\" does not exist; create it first"),
        "{se}"
    );
    assert!(
        se.contains("1 of 6 objects cannot be applied: configmap/cfg; nothing was applied"),
        "{se}"
    );
    assert!(emu.writes().is_empty(), "{:#?}", emu.writes());
    assert!(
        emu.get("/apis/rbac.authorization.k8s.io/v1/clusterroles/reader")
            .is_null()
    );

    // Without -n the context's namespace (`default`) is used; order:
    // Namespace, CRD, then file order.
    emu.clear_requests();
    let out = apply(&emu, &file, &["--no-restart"]);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let mut paths: Vec<String> = emu
        .writes()
        .into_iter()
        .filter(|r| r["query"]["fieldManager"] == "kubectl-tingyun")
        .map(|r| r["path"].as_str().unwrap().to_string())
        .collect();
    paths.dedup();
    assert_eq!(
        paths,
        [
            "/api/v1/namespaces/apm",
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/agents.tingyun.com",
            "/api/v1/namespaces/default/configmaps/cfg",
            "/apis/rbac.authorization.k8s.io/v1/clusterroles/reader",
            "/api/v1/namespaces/apm/configmaps/elsewhere",
            "/apis/tingyun.com/v1/namespaces/apm/agents/a1",
        ]
    );
    assert!(
        !emu.get("/apis/tingyun.com/v1/namespaces/apm/agents/a1")
            .is_null()
    );
}

#[test]
fn a_refusal_in_a_namespace_the_file_creates_leaves_nothing_behind() {
    let emu = Emulator::start(
        "forbidden:\n  - verb: patch\n    resource: secrets\n    namespace: tingyun\n",
    );
    let file = emu.fixture(FIXTURE, FIXTURE);
    let out = apply(&emu, &file, &[]);
    let se = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    assert!(
        se.contains("secret/tingyun-webhook-certs: forbidden: not allowed to patch secrets in namespace \"tingyun\"; ask a cluster admin"),
        "{se}"
    );
    assert!(se.contains("nothing was applied"), "{se}");
    assert!(
        se.contains("namespace/tingyun created for the check and removed again"),
        "{se}"
    );
    assert!(
        emu.get("/apis/apps/v1/namespaces/tingyun/deployments/tingyun-agent")
            .is_null()
    );
    assert!(
        emu.get("/apis/rbac.authorization.k8s.io/v1/clusterroles/tingyun-k8s-monitor")
            .is_null()
    );
}

#[test]
fn changed_service_account_restarts_both_agents_and_deletes_only_ownerless_agent_pods() {
    let (emu, text) = installed();
    let owned_before = pod_names(&emu);
    assert_eq!(owned_before.len(), 3, "{owned_before:?}");
    for name in ["tingyun-agent-7d9f-old", "other-tool"] {
        let (status, body) = emu.http(
            "POST",
            "/api/v1/namespaces/tingyun/pods",
            Some(&json!({"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": name, "namespace": "tingyun"},
                "spec": {"containers": [{"name": "c", "image": "x"}]}})),
        );
        assert!(status < 300, "{body}");
    }
    emu.clear_requests();
    let file = emu.write("edited.yaml", &with_sa_pull_secret(&text));
    let out = apply(&emu, &file, &[]);
    let so = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert!(
        so.contains("serviceaccount/tingyun-k8s-monitor serverside-applied"),
        "{so}"
    );
    assert!(
        so.contains(
            "deployment.apps/tingyun-agent restarted (serviceaccount/tingyun-k8s-monitor changed)"
        ),
        "{so}"
    );
    assert!(so.contains("daemonset.apps/tingyun-node-agent restarted (serviceaccount/tingyun-k8s-monitor changed)"), "{so}");
    let r = restarts(&emu);
    let paths: Vec<&str> = r.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/apis/apps/v1/namespaces/tingyun/deployments/tingyun-agent",
            "/apis/apps/v1/namespaces/tingyun/daemonsets/tingyun-node-agent"
        ]
    );
    for (_, body) in &r {
        let at = body["spec"]["template"]["metadata"]["annotations"]
            ["kubectl.kubernetes.io/restartedAt"]
            .as_str()
            .expect("restartedAt");
        assert!(
            at.len() == 20 && at.ends_with('Z') && at.as_bytes()[10] == b'T',
            "not RFC 3339: {at}"
        );
    }
    let deletes: Vec<String> = requests(&emu, "DELETE")
        .into_iter()
        .map(|r| r["path"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        deletes,
        ["/api/v1/namespaces/tingyun/pods/tingyun-agent-7d9f-old"]
    );
    let pods = pod_names(&emu);
    assert!(pods.contains(&"other-tool".to_string()), "{pods:?}");
    // The controllers replaced the workloads' pods.
    assert!(owned_before.iter().all(|p| !pods.contains(p)), "{pods:?}");
}

#[test]
fn changed_mutate_yaml_restarts_only_the_workload_mounting_the_configmap() {
    let (emu, text) = installed();
    let file = emu.write("edited.yaml", &with_mutate_pull_secret(&text));
    let out = apply(&emu, &file, &[]);
    let so = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert!(
        so.contains("configmap/tingyun-agent-config serverside-applied"),
        "{so}"
    );
    assert!(
        so.contains(
            "deployment.apps/tingyun-agent restarted (configmap/tingyun-agent-config changed)"
        ),
        "{so}"
    );
    let paths: Vec<String> = restarts(&emu).into_iter().map(|(p, _)| p).collect();
    assert_eq!(
        paths,
        ["/apis/apps/v1/namespaces/tingyun/deployments/tingyun-agent"]
    );
    // It watched instead of polling; plain progress lines off a terminal.
    assert!(
        emu.requests()
            .iter()
            .any(|r| r["path"] == "/api/v1/namespaces/tingyun/pods"
                && matches!(r["query"]["watch"].as_str(), Some("true" | "1"))),
        "no pod watch"
    );
    assert!(!stderr(&out).contains('\r'));
}

#[test]
fn no_restart_applies_but_restarts_and_deletes_nothing() {
    let (emu, text) = installed();
    let file = emu.write(
        "edited.yaml",
        &with_mutate_pull_secret(&with_sa_pull_secret(&text)),
    );
    let out = apply(&emu, &file, &["--no-restart"]);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert!(stdout(&out).contains("configmap/tingyun-agent-config serverside-applied"));
    assert!(restarts(&emu).is_empty());
    assert!(requests(&emu, "DELETE").is_empty());
}

#[test]
fn server_dry_run_shows_a_masked_diff_and_changes_nothing() {
    let (emu, text) = installed();
    let same = emu.write("same.yaml", &text);
    let out = apply(&emu, &same, &["--dry-run=server"]);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert_eq!(stdout(&out), "");

    let edited = with_mutate_pull_secret(&text).replace(
        "  tls.key: LS0tLS1CRUdJTiBFQyBQUklW",
        "  tls.key: QUJDREVGR0hJSktMTU5PUFFSU1RV",
    );
    assert_ne!(edited, with_mutate_pull_secret(&text));
    let file = emu.write("edited.yaml", &edited);
    let cm_before = emu.get("/api/v1/namespaces/tingyun/configmaps/tingyun-agent-config");
    emu.clear_requests();
    let out = apply(&emu, &file, &["--dry-run=server"]);
    let so = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    assert!(so.contains("--- live/v1.ConfigMap.tingyun.tingyun-agent-config\n+++ merged/v1.ConfigMap.tingyun.tingyun-agent-config\n"), "{so}");
    assert!(
        so.contains("+    imagePullSecrets:\n+    - name: tingyun-image-secret\n"),
        "{so}"
    );
    assert!(
        so.contains("-  tls.key: \"*** (before)\"\n+  tls.key: \"*** (after)\"\n"),
        "{so}"
    );
    assert!(
        !so.contains("QUJDREVGR0hJSktMTU5PUFFSU1RV") && !so.contains("LS0tLS1CRUdJTiBFQyBQUklW"),
        "secret data leaked:\n{so}"
    );
    assert!(
        !so.contains("resourceVersion") && !so.contains("managedFields"),
        "{so}"
    );
    assert!(
        !so.contains("Deployment"),
        "unchanged objects have no diff:\n{so}"
    );
    assert!(emu.writes().is_empty(), "{:#?}", emu.writes());
    assert_eq!(
        emu.get("/api/v1/namespaces/tingyun/configmaps/tingyun-agent-config"),
        cm_before
    );

    // An error while comparing exits 2.
    emu.scenario(&json!({"forbidden": [{"verb": "patch", "resource": "secrets"}]}));
    let out = apply(&emu, &file, &["--dry-run=server"]);
    assert_eq!(out.status.code(), Some(2), "{}", both(&out));
}

#[test]
fn missing_namespace_is_one_clear_line() {
    let emu = Emulator::start("");
    let file = emu.write(
        "cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: shop}\n",
    );
    let out = apply(&emu, &file, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        "configmap/c: namespace \"shop\" does not exist; create it first, or add a Namespace object to the file\n\
error: 1 of 1 objects cannot be applied: configmap/c; nothing was applied\n"
    );
}

#[test]
fn unreachable_cluster_is_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port(); // closed when dropped
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!("apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {{server: 'http://127.0.0.1:{port}'}}\n\
contexts:\n- name: c\n  context: {{cluster: c, user: u}}\ncurrent-context: c\nusers:\n- name: u\n  user: {{token: t}}\n"),
    )
    .unwrap();
    let file: PathBuf = support::fixture_copy(dir.path(), FIXTURE);
    let out = support::run(&[
        "apply",
        file.to_str().unwrap(),
        "--kubeconfig",
        kubeconfig.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let se = stderr(&out);
    assert_eq!(se.lines().count(), 1, "{se}");
    assert!(
        se.starts_with(&format!(
            "error: cannot reach the Kubernetes API server at http://127.0.0.1:{port}: "
        )),
        "{se}"
    );
    assert!(se.to_lowercase().contains("refused"), "{se}");
    assert!(se.contains("nothing was applied"), "{se}");
}

#[test]
fn rejected_credentials_stop_at_once() {
    let emu = Emulator::start("requireToken: another-token\n");
    let file = emu.fixture(FIXTURE, FIXTURE);
    let out = apply(&emu, &file, &[]);
    assert_eq!(out.status.code(), Some(1));
    let se = stderr(&out);
    assert!(
        se.contains("rejected the credentials (401 Unauthorized)"),
        "{se}"
    );
    assert_eq!(se.lines().count(), 1, "{se}");
    assert_eq!(emu.requests().len(), 1, "no further requests after a 401");
}
