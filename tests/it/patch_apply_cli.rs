//! `kubectl tingyun patch FILE --apply` end to end against the shared
//! kube-emulator: the file is edited, every object applied, the agent
//! restarted and waited for; with `--dry-run=server` nothing is written.
use crate::support;

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::support::emulator::Emulator;
use crate::support::{stderr, stdout};
use serde_json::Value;

const FIXTURE: &str = "tingyunagent.yaml";
const SA: &str = "/api/v1/namespaces/tingyun/serviceaccounts/tingyun-k8s-monitor";
const CM: &str = "/api/v1/namespaces/tingyun/configmaps/tingyun-agent-config";
const DEPLOY: &str = "/apis/apps/v1/namespaces/tingyun/deployments/tingyun-agent";

/// The guide's two edits, spelled out independently of the patch engine.
/// The ServiceAccount's item is written in the file's own sequence style
/// (`  - `, as under `rules:` and `subjects:`), mutate.yaml's in its own (`- `).
fn guide_edits(text: &str) -> String {
    let sa = text.replace(
        "#imagePullSecrets:\n# - name: tingyun-image-secret",
        "imagePullSecrets:\n  - name: tingyun-image-secret",
    );
    assert_ne!(sa, text, "fixture lacks the ServiceAccount template");
    let both = sa.replace(
        "    #imagePullSecrets:\n    #- name: tingyun-image-secret",
        "    imagePullSecrets:\n    - name: tingyun-image-secret",
    );
    assert_ne!(both, sa, "fixture lacks the mutate.yaml template");
    both
}

fn run(emu: &Emulator, args: &[&str]) -> Output {
    emu.tingyun(args)
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn pod_names(emu: &Emulator) -> Vec<String> {
    emu.get("/api/v1/namespaces/tingyun/pods")["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["metadata"]["name"].as_str().unwrap().to_string())
        .collect()
}

/// Paths of the merge patches (rollout restarts) in the request log.
fn merge_patches(emu: &Emulator) -> Vec<String> {
    emu.requests()
        .into_iter()
        .filter(|r| r["method"] == "PATCH" && r["contentType"] == "application/merge-patch+json")
        .map(|r| r["path"].as_str().unwrap().to_string())
        .collect()
}

/// A cluster where the unedited fixture is installed and its pods are Ready.
/// Returns the emulator and a fresh copy of the unedited file.
fn installed() -> (Emulator, PathBuf) {
    let emu = Emulator::start("nodes: 1\nreadyDelay: 0.2\n");
    let file = emu.fixture(FIXTURE, FIXTURE);
    let out = run(&emu, &["apply", path(&file), "--timeout", "20s"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let sa = emu.get(SA);
    assert!(sa.get("imagePullSecrets").is_none(), "{sa}");
    emu.clear_requests();
    (emu, file)
}

#[test]
fn patch_apply_edits_the_file_applies_everything_and_restarts_the_agent() {
    let (emu, file) = installed();
    let original = std::fs::read_to_string(&file).unwrap();
    let old_pods = pod_names(&emu);

    let out = run(&emu, &["patch", path(&file), "--apply", "--timeout", "20s"]);
    let (so, se) = (stdout(&out), stderr(&out));
    assert_eq!(out.status.code(), Some(0), "{so}{se}");

    // The file: exactly the guide's two edits, nothing else.
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        guide_edits(&original)
    );

    // Every object in the file was applied with server-side apply.
    let applies: Vec<Value> = emu
        .writes()
        .into_iter()
        .filter(|r| r["method"] == "PATCH" && r["contentType"] == "application/apply-patch+yaml")
        .collect();
    assert_eq!(applies.len(), 10, "{applies:#?}");
    for r in &applies {
        assert_eq!(r["query"]["fieldManager"], "kubectl-tingyun");
    }
    assert!(
        so.contains("serviceaccount/tingyun-k8s-monitor serverside-applied"),
        "{so}"
    );
    assert!(
        so.contains("configmap/tingyun-agent-config serverside-applied"),
        "{so}"
    );
    assert!(
        so.contains("deployment.apps/tingyun-agent unchanged"),
        "{so}"
    );

    // What the cluster now holds.
    let sa = emu.get(SA);
    assert_eq!(
        sa["imagePullSecrets"],
        serde_json::json!([{"name": "tingyun-image-secret"}]),
        "{sa}"
    );
    let cm = emu.get(CM);
    let mutate = cm["data"]["mutate.yaml"].as_str().unwrap();
    assert!(
        mutate.starts_with("imagePullSecrets:\n- name: tingyun-image-secret\ninitContainers:\n"),
        "{mutate}"
    );
    assert!(!mutate.contains("#imagePullSecrets"), "{mutate}");

    // The agent was restarted and its new pods waited for.
    let dep = emu.get(DEPLOY);
    assert!(
        dep["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"]
            .is_string(),
        "{dep}"
    );
    let restarted: Vec<String> = merge_patches(&emu);
    assert!(
        restarted
            .contains(&"/apis/apps/v1/namespaces/tingyun/deployments/tingyun-agent".to_string()),
        "{restarted:?}"
    );
    assert!(
        so.contains("deployment.apps/tingyun-agent restarted"),
        "{so}"
    );
    assert!(
        so.contains("deployment.apps/tingyun-agent rolled out: new pods Ready"),
        "{so}"
    );
    let pods = pod_names(&emu);
    assert!(
        pods.iter()
            .any(|p| p.starts_with("tingyun-agent-") && !old_pods.contains(p)),
        "no new agent pod: {pods:?} (before: {old_pods:?})"
    );

    // Running it again: the file is up to date, nothing changes, nothing restarts.
    let restarts_before = merge_patches(&emu).len();
    let edited = std::fs::read(&file).unwrap();
    let out = run(&emu, &["patch", path(&file), "--apply", "--timeout", "20s"]);
    let so = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{so}{}", stderr(&out));
    assert_eq!(std::fs::read(&file).unwrap(), edited);
    assert_eq!(so.matches(" unchanged\n").count(), 10, "{so}");
    assert_eq!(merge_patches(&emu).len(), restarts_before);
}

#[test]
fn patch_server_dry_run_apply_writes_nothing_and_shows_the_diff() {
    let (emu, file) = installed();
    let original = std::fs::read(&file).unwrap();
    let sa_before = emu.get(SA);
    let cm_before = emu.get(CM);

    let out = run(
        &emu,
        &[
            "patch",
            path(&file),
            "--dry-run=server",
            "--apply",
            "--timeout",
            "20s",
        ],
    );
    let (so, se) = (stdout(&out), stderr(&out));
    assert_eq!(out.status.code(), Some(1), "{so}{se}");
    assert_eq!(
        std::fs::read(&file).unwrap(),
        original,
        "the file was written"
    );
    assert!(se.contains("(dry run: nothing written)"), "{se}");

    // A diff of live vs merged for the two edited objects, and only those.
    assert!(
        so.contains(
            "--- live/v1.ServiceAccount.tingyun.tingyun-k8s-monitor\n\
             +++ merged/v1.ServiceAccount.tingyun.tingyun-k8s-monitor\n"
        ),
        "{so}"
    );
    assert!(
        so.contains("+imagePullSecrets:\n+- name: tingyun-image-secret\n"),
        "{so}"
    );
    assert!(
        so.contains("--- live/v1.ConfigMap.tingyun.tingyun-agent-config\n"),
        "{so}"
    );
    assert!(
        so.contains("+    imagePullSecrets:\n+    - name: tingyun-image-secret\n"),
        "{so}"
    );
    assert!(!so.contains("Deployment"), "{so}");

    // Every write was a dry run; nothing stored, nothing restarted or deleted.
    assert!(emu.writes().is_empty(), "{:#?}", emu.writes());
    assert_eq!(emu.get(SA), sa_before);
    assert_eq!(emu.get(CM), cm_before);
    assert!(merge_patches(&emu).is_empty());
}

/// As a pipeline stage (`patch - --apply`) the result goes to the cluster;
/// standard output carries the apply report only, not the manifest.
#[test]
fn patch_from_stdin_with_apply_prints_the_report_not_the_manifest() {
    let (emu, file) = installed();
    let text = std::fs::read(&file).unwrap();
    let mut child = support::bin()
        .args(["patch", "-", "--apply", "--timeout", "20s", "--kubeconfig"])
        .arg(emu.kubeconfig())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run kubectl-tingyun");
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), &text).unwrap();
    let out = child.wait_with_output().unwrap();
    let so = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{so}{}", stderr(&out));
    assert!(!so.contains("apiVersion:"), "manifest printed: {so}");
    assert!(
        so.contains("serviceaccount/tingyun-k8s-monitor serverside-applied"),
        "{so}"
    );
    let sa = emu.get(SA);
    assert_eq!(
        sa["imagePullSecrets"][0]["name"], "tingyun-image-secret",
        "{sa}"
    );
    // the input file itself was only read
    assert_eq!(std::fs::read(&file).unwrap(), text);
}
