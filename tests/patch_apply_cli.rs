//! `kubectl tingyun patch FILE --apply` end to end against the loopback
//! API-server stand-in: the file is edited, every object applied, the agent
//! restarted and waited for; with `--dry-run=server` nothing is written.
mod support;

use std::path::{Path, PathBuf};
use std::process::Output;

use support::apiserver::{ApiServer, Recorded};
use support::{stderr, stdout};

const FIXTURE: &str = "tingyunagent.yaml";

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

fn run(api: &ApiServer, args: &[&str]) -> Output {
    let mut cmd = support::bin();
    cmd.args(args)
        .arg("--kubeconfig")
        .arg(api.kubeconfig())
        .stdin(std::process::Stdio::null());
    cmd.output().expect("run kubectl-tingyun")
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A cluster where the unedited fixture is installed and its pods are Ready;
/// new pods come up Ready by themselves. Returns the stand-in and a fresh
/// copy of the unedited file.
fn installed() -> (ApiServer, PathBuf) {
    let api = ApiServer::start();
    api.enable_controller();
    api.set_auto_ready(true);
    let file = support::fixture_copy(api.dir(), FIXTURE);
    let out = run(&api, &["apply", path(&file), "--timeout", "20s"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let sa = api
        .get("serviceaccounts", "tingyun", "tingyun-k8s-monitor")
        .expect("service account");
    assert!(sa.get("imagePullSecrets").is_none(), "{sa}");
    (api, file)
}

#[test]
fn patch_apply_edits_the_file_applies_everything_and_restarts_the_agent() {
    let (api, file) = installed();
    let original = std::fs::read_to_string(&file).unwrap();
    let old_pods = api.pod_names("tingyun");
    let requests_before = api.requests().len();

    let out = run(&api, &["patch", path(&file), "--apply", "--timeout", "20s"]);
    let (so, se) = (stdout(&out), stderr(&out));
    assert_eq!(out.status.code(), Some(0), "{so}{se}");

    // The file: exactly the guide's two edits, nothing else.
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        guide_edits(&original)
    );

    // Every object in the file was applied with server-side apply.
    let later: Vec<Recorded> = api.requests()[requests_before..].to_vec();
    let applies: Vec<&Recorded> = later
        .iter()
        .filter(|r| r.method == "PATCH" && r.content_type == "application/apply-patch+yaml")
        .collect();
    assert_eq!(applies.len(), 10, "{applies:#?}");
    for r in &applies {
        assert_eq!(r.param("fieldManager").as_deref(), Some("kubectl-tingyun"));
        assert_eq!(r.param("dryRun"), None);
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
    let sa = api
        .get("serviceaccounts", "tingyun", "tingyun-k8s-monitor")
        .unwrap();
    assert_eq!(
        sa["imagePullSecrets"],
        serde_json::json!([{"name": "tingyun-image-secret"}]),
        "{sa}"
    );
    let cm = api
        .get("configmaps", "tingyun", "tingyun-agent-config")
        .unwrap();
    let mutate = cm["data"]["mutate.yaml"].as_str().unwrap();
    assert!(
        mutate.starts_with("imagePullSecrets:\n- name: tingyun-image-secret\ninitContainers:\n"),
        "{mutate}"
    );
    assert!(!mutate.contains("#imagePullSecrets"), "{mutate}");

    // The agent was restarted and its new pods waited for.
    let dep = api
        .get("deployments.apps", "tingyun", "tingyun-agent")
        .unwrap();
    assert!(
        dep["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"]
            .is_string(),
        "{dep}"
    );
    let restarted: Vec<String> = api.merge_patches().into_iter().map(|r| r.path).collect();
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
    let pods = api.pod_names("tingyun");
    assert!(
        pods.iter()
            .any(|p| p.starts_with("tingyun-agent-") && !old_pods.contains(p)),
        "no new agent pod: {pods:?} (before: {old_pods:?})"
    );

    // Running it again: the file is up to date, nothing changes, nothing restarts.
    let restarts_before = api.merge_patches().len();
    let edited = std::fs::read(&file).unwrap();
    let out = run(&api, &["patch", path(&file), "--apply", "--timeout", "20s"]);
    let so = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{so}{}", stderr(&out));
    assert_eq!(std::fs::read(&file).unwrap(), edited);
    assert_eq!(so.matches(" unchanged\n").count(), 10, "{so}");
    assert_eq!(api.merge_patches().len(), restarts_before);
}

#[test]
fn patch_server_dry_run_apply_writes_nothing_and_shows_the_diff() {
    let (api, file) = installed();
    let original = std::fs::read(&file).unwrap();
    let sa_before = api
        .get("serviceaccounts", "tingyun", "tingyun-k8s-monitor")
        .unwrap();
    let cm_before = api
        .get("configmaps", "tingyun", "tingyun-agent-config")
        .unwrap();
    let requests_before = api.requests().len();

    let out = run(
        &api,
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
    let later = &api.requests()[requests_before..];
    assert!(
        later
            .iter()
            .filter(|r| r.method != "GET")
            .all(|r| r.method == "PATCH" && r.param("dryRun").as_deref() == Some("All")),
        "{later:#?}"
    );
    assert_eq!(
        api.get("serviceaccounts", "tingyun", "tingyun-k8s-monitor")
            .unwrap(),
        sa_before
    );
    assert_eq!(
        api.get("configmaps", "tingyun", "tingyun-agent-config")
            .unwrap(),
        cm_before
    );
    assert!(api.merge_patches().is_empty());
}

/// As a pipeline stage (`patch - --apply`) the result goes to the cluster;
/// standard output carries the apply report only, not the manifest.
#[test]
fn patch_from_stdin_with_apply_prints_the_report_not_the_manifest() {
    let (api, file) = installed();
    let text = std::fs::read(&file).unwrap();
    let mut child = support::bin()
        .args(["patch", "-", "--apply", "--timeout", "20s", "--kubeconfig"])
        .arg(api.kubeconfig())
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
    let sa = api
        .get("serviceaccounts", "tingyun", "tingyun-k8s-monitor")
        .unwrap();
    assert_eq!(
        sa["imagePullSecrets"][0]["name"], "tingyun-image-secret",
        "{sa}"
    );
    // the input file itself was only read
    assert_eq!(std::fs::read(&file).unwrap(), text);
}
