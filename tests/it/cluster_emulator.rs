//! The cluster side against the shared kube-emulator (../shared/kube-emulator)
//! and the real kubectl: installs made the ways users make them, then our
//! commands; dry runs judged by the server's request log; the upgrade trap;
//! pull failures and crash loops whose cause must be in the output.
use crate::support;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use crate::support::emulator::Emulator;
use crate::support::{stderr, stdout};
use serde_json::{Value, json};

const FIXTURE: &str = "tingyunagent.yaml";
const REGISTRY: &str = "harbor.example.com/apm";

fn tingyun(emu: &Emulator, args: &[&str]) -> Output {
    emu.tingyun(args)
}

fn tingyun_env(emu: &Emulator, args: &[&str], env: &[(&str, &str)]) -> Output {
    emu.tingyun_env(args, env)
}

fn both(o: &Output) -> String {
    format!("{}{}", stdout(o), stderr(o))
}

fn fresh(emu: &Emulator, name: &str) -> PathBuf {
    emu.fixture(FIXTURE, name)
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

/// Install the unedited download with the real kubectl (`how` = the verb and flags).
fn install_with_kubectl(emu: &Emulator, how: &[&str]) {
    let file = fresh(emu, "download.yaml");
    let mut args: Vec<&str> = how.to_vec();
    args.extend(["-f", p(&file)]);
    emu.kubectl_ok(&args);
}

fn sa(emu: &Emulator) -> Value {
    emu.get("/api/v1/namespaces/tingyun/serviceaccounts/tingyun-k8s-monitor")
}

fn deployment(emu: &Emulator) -> Value {
    emu.get("/apis/apps/v1/namespaces/tingyun/deployments/tingyun-agent")
}

fn agent_image(emu: &Emulator) -> String {
    deployment(emu)["spec"]["template"]["spec"]["containers"][0]["image"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The README's headline: patch for the private registry, keep the pull
/// secrets, apply, restart, wait.
fn headline<'a>(file: &'a Path, extra: &[&'a str]) -> Vec<&'a str> {
    let mut a = vec![
        "patch",
        p(file),
        "--registry",
        REGISTRY,
        "--pull-secret",
        "--inject-pull-secret",
        "--apply",
    ];
    a.extend_from_slice(extra);
    if !extra.contains(&"--timeout") {
        a.extend(["--timeout", "30s"]);
    }
    a
}

fn assert_no_writes(emu: &Emulator, what: &str) {
    let writes = emu.writes();
    assert!(
        writes.is_empty(),
        "{what}: writes without dryRun reached the server: {:#?}",
        writes
            .iter()
            .map(|r| format!("{} {} {}", r["method"], r["path"], r["query"]))
            .collect::<Vec<_>>()
    );
}

#[test]
fn dry_runs_never_write() {
    let emu = Emulator::start("nodes: 1\nreadyDelay: 0.1\n");
    install_with_kubectl(&emu, &["apply"]);
    let pw = [("TINGYUN_REGISTRY_PASSWORD", "s3cret")];
    let secret = |mode: Option<&str>| -> Output {
        let mut a = vec![
            "secret",
            "--server",
            "harbor.example.com",
            "--username",
            "robot",
            "-n",
            "tingyun",
        ];
        a.extend(mode);
        tingyun_env(&emu, &a, &pw)
    };
    for mode in ["--dry-run", "--dry-run=client"] {
        emu.clear_requests();
        let file = fresh(&emu, "d.yaml");
        let o = tingyun(&emu, &headline(&file, &[mode]));
        assert_eq!(code(&o), 0, "patch --apply {mode}: {}", both(&o));
        assert_no_writes(&emu, &format!("patch --apply {mode}"));
        let o = tingyun(&emu, &["apply", p(&file), mode]);
        assert_eq!(code(&o), 0, "apply {mode}: {}", both(&o));
        assert_no_writes(&emu, &format!("apply {mode}"));
        let o = secret(Some(mode));
        assert_eq!(code(&o), 0, "secret {mode}: {}", both(&o));
        assert!(!both(&o).contains("s3cret"), "the password is printed");
        assert_no_writes(&emu, &format!("secret {mode}"));
        // A client dry run does not even ask.
        assert!(
            emu.requests().is_empty(),
            "{mode}: the cluster was contacted"
        );
    }

    // Server dry runs send only dryRun=All writes; exit 1 = differences.
    emu.clear_requests();
    let file = fresh(&emu, "s.yaml");
    let o = tingyun(&emu, &headline(&file, &["--dry-run=server"]));
    assert_eq!(code(&o), 1, "{}", both(&o));
    assert!(
        stdout(&o).lines().any(|l| l.starts_with('+')
            && l.trim_start_matches('+').trim()
                == format!("image: {REGISTRY}/k8s-uniagent:2.5.3.0")),
        "{}",
        both(&o)
    );
    let o = tingyun(
        &emu,
        &["apply", p(&fresh(&emu, "plain.yaml")), "--dry-run=server"],
    );
    assert_eq!(
        code(&o),
        0,
        "the installed file has no differences: {}",
        both(&o)
    );
    let o = secret(Some("--dry-run=server"));
    assert_eq!(code(&o), 1, "a new secret is a difference: {}", both(&o));
    assert_no_writes(&emu, "server dry runs");
    let dry: Vec<Value> = emu
        .requests()
        .into_iter()
        .filter(|r| r["query"]["dryRun"] == "All")
        .collect();
    assert!(dry.len() >= 10, "server dry runs ask the server: {dry:?}");
    assert!(sa(&emu)["imagePullSecrets"].is_null());
    assert!(
        emu.get("/api/v1/namespaces/tingyun/secrets/tingyun-image-secret")
            .is_null()
    );
    // Once it exists with the same content: no difference, exit 0.
    assert_eq!(code(&secret(None)), 0);
    let o = secret(Some("--dry-run=server"));
    assert_eq!(code(&o), 0, "{}", both(&o));
}

/// kubectl's managers own the fields of a hand-made install: taken over
/// without a flag, reported per object, everything applied, agent restarted.
fn over_an_install_by(how: &[&str], manager: &str) {
    let emu = Emulator::start("nodes: 2\nreadyDelay: 0.2\n");
    install_with_kubectl(&emu, how);
    let file = fresh(&emu, "t.yaml");
    let o = tingyun(&emu, &headline(&file, &[]));
    let out = both(&o);
    assert_eq!(code(&o), 0, "{out}");
    assert!(
        out.contains(&format!(
            "deployment.apps/tingyun-agent serverside-applied (took over 1 field from {manager})"
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "daemonset.apps/tingyun-node-agent serverside-applied (took over 2 fields from {manager})"
        )),
        "{out}"
    );
    assert!(out.contains("rolled out: new pods Ready"), "{out}");
    assert_eq!(
        agent_image(&emu),
        format!("{REGISTRY}/k8s-uniagent:2.5.3.0")
    );
    assert_eq!(
        sa(&emu)["imagePullSecrets"],
        json!([{"name": "tingyun-image-secret"}])
    );
    let cm = emu.get("/api/v1/namespaces/tingyun/configmaps/tingyun-agent-config");
    let mutate = cm["data"]["mutate.yaml"].as_str().unwrap();
    assert!(
        mutate.contains("imagePullSecrets:\n- name: tingyun-image-secret"),
        "{mutate}"
    );
    // The secret does not exist yet: said so.
    assert!(
        out.contains("names pull secret \"tingyun-image-secret\", which does not exist in namespace \"tingyun\""),
        "{out}"
    );
}

#[test]
fn over_kubectl_apply() {
    over_an_install_by(&["apply"], "kubectl-client-side-apply");
}

#[test]
fn over_kubectl_create() {
    over_an_install_by(&["create"], "kubectl-create");
}

#[test]
fn over_kubectl_server_side_apply() {
    over_an_install_by(&["apply", "--server-side"], "kubectl");
}

#[test]
fn kubectls_last_applied_stays_current() {
    let emu = Emulator::start("nodes: 1\nreadyDelay: 0.1\n");
    install_with_kubectl(&emu, &["apply"]);
    let file = fresh(&emu, "t.yaml");
    let o = tingyun(&emu, &headline(&file, &[]));
    assert_eq!(code(&o), 0, "{}", both(&o));
    let last = deployment(&emu)["metadata"]["annotations"]
        ["kubectl.kubernetes.io/last-applied-configuration"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(last.contains(&format!("{REGISTRY}/k8s-uniagent")), "{last}");
    // Byte for byte what kubectl itself writes for this file, on every object.
    let kubectl_view: Value = serde_json::from_str(&emu.kubectl_ok(&[
        "apply",
        "-f",
        p(&file),
        "--dry-run=client",
        "-o",
        "json",
    ]))
    .unwrap();
    let items = kubectl_view["items"].as_array().unwrap();
    assert_eq!(items.len(), 10);
    for want in items {
        let kind = want["kind"].as_str().unwrap();
        let ns = want["metadata"]["namespace"].as_str().unwrap_or("");
        let name = want["metadata"]["name"].as_str().unwrap();
        let live = emu.object(kind, ns, name).expect("stored");
        assert_eq!(
            live["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"],
            want["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"],
            "{kind}/{name}"
        );
    }
    // The user's next `kubectl apply -f` of the same file sees nothing to do.
    let out = emu.kubectl_ok(&["apply", "-f", p(&file)]);
    assert!(
        out.contains("deployment.apps/tingyun-agent unchanged")
            && out.contains("configmap/tingyun-agent-config unchanged")
            && out.contains("serviceaccount/tingyun-k8s-monitor unchanged"),
        "{out}"
    );
    // Objects without the annotation do not get one.
    let emu2 = Emulator::start("nodes: 1\nreadyDelay: 0.1\n");
    install_with_kubectl(&emu2, &["create"]);
    let file = fresh(&emu2, "t.yaml");
    assert_eq!(code(&tingyun(&emu2, &headline(&file, &[]))), 0);
    assert!(
        deployment(&emu2)["metadata"]["annotations"]
            ["kubectl.kubernetes.io/last-applied-configuration"]
            .is_null()
    );
}

#[test]
fn a_foreign_manager_stops_before_any_write() {
    let emu = Emulator::start("nodes: 1\nreadyDelay: 0.1\n");
    install_with_kubectl(&emu, &["apply", "--server-side", "--field-manager=helm"]);
    emu.clear_requests();
    let file = fresh(&emu, "t.yaml");
    let o = tingyun(&emu, &headline(&file, &[]));
    let err = stderr(&o);
    assert_eq!(code(&o), 1, "{}", both(&o));
    assert!(
        err.contains("deployment.apps/tingyun-agent: conflict: \"helm\" owns .spec.template.spec.containers[name=\"tingyun-agent\"].image"),
        "{err}"
    );
    assert!(err.contains("--force-conflicts"), "{err}");
    assert!(err.contains("nothing was applied"), "{err}");
    assert_no_writes(&emu, "a refused apply");
    assert_eq!(
        agent_image(&emu),
        "registry.tingyun.com/tingyun/k8s-uniagent:2.5.3.0"
    );
    assert!(sa(&emu)["imagePullSecrets"].is_null(), "half-applied");
    // The user decides: --force-conflicts takes them over.
    let o = tingyun(
        &emu,
        &["apply", p(&file), "--force-conflicts", "--timeout", "30s"],
    );
    assert_eq!(code(&o), 0, "{}", both(&o));
    assert_eq!(
        agent_image(&emu),
        format!("{REGISTRY}/k8s-uniagent:2.5.3.0")
    );
}

#[test]
fn the_upgrade_trap_is_caught() {
    let emu = Emulator::start("nodes: 1\nreadyDelay: 0.1\n");
    // Installed by us for the private registry.
    let file = fresh(&emu, "t.yaml");
    let o = tingyun(&emu, &headline(&file, &[]));
    assert_eq!(code(&o), 0, "{}", both(&o));
    // A fresh download applied as is: pull secrets commented out, vendor images.
    let download = fresh(&emu, "download.yaml");
    emu.clear_requests();
    let o = tingyun(&emu, &["apply", p(&download), "--timeout", "30s"]);
    let err = stderr(&o);
    assert_eq!(code(&o), 1, "{}", both(&o));
    for want in [
        "serviceaccount/tingyun-k8s-monitor: imagePullSecrets tingyun-image-secret would be removed (keep with --pull-secret=tingyun-image-secret)",
        "configmap/tingyun-agent-config: mutate.yaml imagePullSecrets tingyun-image-secret would be removed from injected pods (keep with --inject-pull-secret=tingyun-image-secret)",
        "deployment.apps/tingyun-agent: container tingyun-agent would move from harbor.example.com/apm/k8s-uniagent:2.5.3.0 to registry.tingyun.com/tingyun/k8s-uniagent:2.5.3.0 (keep with --registry harbor.example.com/apm)",
        "--allow-removal",
    ] {
        assert!(err.contains(want), "missing {want:?} in\n{err}");
    }
    assert_no_writes(&emu, "the refused upgrade");
    assert_eq!(
        sa(&emu)["imagePullSecrets"],
        json!([{"name": "tingyun-image-secret"}])
    );
    // A server dry run shows the same warning with the diff, and writes nothing.
    let o = tingyun(&emu, &["apply", p(&download), "--dry-run=server"]);
    assert_eq!(code(&o), 1, "{}", both(&o));
    assert!(
        stderr(&o).contains("without --allow-removal the apply will stop"),
        "{}",
        both(&o)
    );
    assert!(stdout(&o).contains("-imagePullSecrets:"), "{}", both(&o));
    assert_no_writes(&emu, "the server dry run of the upgrade");
    // The old README command (registry only): the pull secrets would go.
    let o = tingyun(
        &emu,
        &[
            "patch",
            p(&download),
            "--registry",
            REGISTRY,
            "--apply",
            "--timeout",
            "30s",
        ],
    );
    let err = stderr(&o);
    assert_eq!(code(&o), 1, "{}", both(&o));
    assert!(
        err.contains("(keep with --pull-secret=tingyun-image-secret)"),
        "{err}"
    );
    assert!(
        err.contains("(keep with --inject-pull-secret=tingyun-image-secret)"),
        "{err}"
    );
    assert!(!err.contains("would move from"), "{err}");
    assert_no_writes(&emu, "the refused upgrade");
    // The headline command keeps everything.
    let download = fresh(&emu, "download2.yaml");
    let o = tingyun(&emu, &headline(&download, &[]));
    assert_eq!(code(&o), 0, "{}", both(&o));
    // --allow-removal proceeds.
    let vendor = fresh(&emu, "vendor.yaml");
    let o = tingyun(
        &emu,
        &["apply", p(&vendor), "--allow-removal", "--no-restart"],
    );
    assert_eq!(code(&o), 0, "{}", both(&o));
    assert!(sa(&emu)["imagePullSecrets"].is_null());
}

/// Install with a scripted failure; the output must carry the kubelet's
/// words, the class and the fix; return (output, seconds taken, exit code).
fn failing_rollout(scenario: &str) -> (String, f64, i32) {
    let emu = Emulator::start(scenario);
    let file = fresh(&emu, "t.yaml");
    let start = Instant::now();
    let o = tingyun(&emu, &headline(&file, &["--timeout", "25s"]));
    (both(&o), start.elapsed().as_secs_f64(), code(&o))
}

fn pull_failure(kind: &str) -> String {
    format!(
        "nodes: 1\nreadyDelay: 0.2\nimagePullFailures:\n  - image: \"{REGISTRY}/k8s-uniagent*\"\n    error: {kind}\n"
    )
}

#[test]
fn unrecoverable_pull_failures_stop_early_and_say_why() {
    for (kind, label, kubelet, fix) in [
        (
            "unauthorized",
            "unauthorized",
            "401 Unauthorized",
            "kubectl tingyun secret --server harbor.example.com",
        ),
        (
            "notfound",
            "image not found",
            "harbor.example.com/apm/k8s-uniagent:2.5.3.0: not found",
            "push harbor.example.com/apm/k8s-uniagent:2.5.3.0",
        ),
        (
            "platform",
            "platform missing from image",
            "no match for platform in manifest",
            "the image lacks linux/amd64",
        ),
    ] {
        let (out, secs, code) = failing_rollout(&pull_failure(kind));
        assert_eq!(code, 1, "{kind}: {out}");
        assert!(out.contains("stopped waiting"), "{kind}: {out}");
        assert!(
            secs < 20.0,
            "{kind}: waited {secs}s for something that cannot recover"
        );
        assert!(
            out.contains(&format!(
                "container tingyun-agent: ImagePullBackOff: {label}"
            )),
            "{kind}: {out}"
        );
        assert!(out.contains("on node node-1 (amd64)"), "{kind}: {out}");
        assert!(out.contains(kubelet), "{kind}: {out}");
        assert!(
            out.contains(&format!("fix: {fix}")) || out.contains(fix),
            "{kind}: {out}"
        );
    }
}

#[test]
fn other_pull_failures_are_named_at_the_timeout() {
    for (kind, label, kubelet, fix) in [
        (
            "http",
            "HTTP-only registry",
            "server gave HTTP response to HTTPS client",
            "--http-registry",
        ),
        (
            "x509",
            "TLS certificate",
            "x509: certificate signed by unknown authority",
            "--insecure-registry",
        ),
        (
            "timeout",
            "registry unreachable or timed out",
            "i/o timeout",
            "cannot reach harbor.example.com",
        ),
    ] {
        let emu = Emulator::start(&pull_failure(kind));
        let file = fresh(&emu, "t.yaml");
        let o = tingyun(&emu, &headline(&file, &["--timeout", "3s"]));
        let out = both(&o);
        assert_eq!(code(&o), 1, "{kind}: {out}");
        assert!(out.contains("timed out after 3s"), "{kind}: {out}");
        assert!(
            out.contains(&format!(
                "container tingyun-agent: ImagePullBackOff: {label}"
            )) || out.contains(&format!("container tingyun-agent: ErrImagePull: {label}")),
            "{kind}: {out}"
        );
        assert!(out.contains(kubelet), "{kind}: {out}");
        assert!(out.contains(fix), "{kind}: {out}");
    }
}

#[test]
fn a_crash_loop_on_an_arm64_node_names_the_architecture() {
    let scenario = "nodes: 2\nnodeArchs: [amd64, arm64]\nreadyDelay: 0.2\ncrashImages:\n  - image: \"*node-agent:*\"\n    arch: arm64\n    exitCode: 255\n    message: \"exec /bin/sh: exec format error\"\n";
    let (out, secs, code) = failing_rollout(scenario);
    assert_eq!(code, 1, "{out}");
    assert!(secs < 20.0, "waited {secs}s");
    assert!(
        out.contains("on node node-2 (arm64): container node-agent: CrashLoopBackOff: wrong CPU architecture, exit code 255, 3 restarts"),
        "{out}"
    );
    assert!(out.contains("| exec /bin/sh: exec format error"), "{out}");
    assert!(out.contains("push its linux/arm64 variant"), "{out}");
    // The amd64 node's pod is fine and not blamed.
    assert!(
        !out.contains("node-1 (amd64): container node-agent"),
        "{out}"
    );
}

#[test]
fn an_unchanged_reapply_still_checks_the_agent() {
    let scenario = "nodes: 1\nreadyDelay: 0.2\ncrashImages:\n  - image: \"*k8s-uniagent*\"\n    exitCode: 1\n    message: \"panic: license.key is empty\"\n";
    let emu = Emulator::start(scenario);
    let file = fresh(&emu, "t.yaml");
    let o = tingyun(&emu, &headline(&file, &[]));
    assert_eq!(code(&o), 1, "{}", both(&o));
    let o = tingyun(&emu, &["apply", p(&file), "--timeout", "20s"]);
    let out = both(&o);
    assert_eq!(code(&o), 1, "{out}");
    assert!(
        out.contains("deployment.apps/tingyun-agent unchanged"),
        "{out}"
    );
    assert!(
        out.contains("CrashLoopBackOff: crash loop, exit code 1"),
        "{out}"
    );
}

#[test]
fn connection_behaves_like_kubectl() {
    let emu = Emulator::start("nodes: 1\nreadyDelay: 0.1\n");
    // A KUBECONFIG list naming a missing file still works.
    let file = fresh(&emu, "t.yaml");
    let list = format!("/nonexistent/config:{}", emu.kubeconfig_str());
    let o = support::bin()
        .args(["apply", p(&file), "--dry-run=server"])
        .env("KUBECONFIG", &list)
        .output()
        .unwrap();
    assert_eq!(code(&o), 1, "differences expected: {}", both(&o));
    assert!(stdout(&o).contains("+++ merged/apps.v1.Deployment.tingyun.tingyun-agent"));
    // --request-timeout bounds each request: a server answering after 10s.
    emu.scenario(&json!({"latency": 10}));
    let start = Instant::now();
    let o = tingyun(&emu, &["apply", p(&file), "--request-timeout", "1s"]);
    let took = start.elapsed();
    assert_ne!(code(&o), 0, "{}", both(&o));
    assert!(took < Duration::from_secs(6), "took {took:?}: {}", both(&o));
    assert!(
        stderr(&o).contains("did not answer within --request-timeout")
            && stderr(&o).contains("nothing was applied"),
        "{}",
        both(&o)
    );
}

#[test]
fn ctrl_c_during_apply_lists_what_was_applied() {
    use std::io::BufRead as _;
    // Slow answers so that the interrupt lands in the middle of the apply.
    let emu = Emulator::start("nodes: 1\nlatency: 0.15\n");
    let file = fresh(&emu, "t.yaml");
    let mut child = support::bin()
        .args(["apply", p(&file), "--kubeconfig", emu.kubeconfig_str()])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().expect("a first report line").unwrap();
    assert_eq!(first, "namespace/tingyun created");
    let kill = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let out = child.wait_with_output().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(
        err.contains("interrupted: applied ") && err.contains("namespace/tingyun"),
        "{err}"
    );
    assert!(err.contains("; not applied: "), "{err}");
    assert!(
        err.contains(
            "mutatingwebhookconfiguration.admissionregistration.k8s.io/tingyun-agent-injector"
        ),
        "{err}"
    );
}

/// The README's flow on a registry that needs credentials: without the pull
/// secret the agent cannot pull (and the output says which secret is
/// missing); with `secret` first, the same command succeeds.
#[test]
fn the_readme_flow_on_a_registry_that_needs_credentials() {
    let scenario = "nodes: 1\nreadyDelay: 0.2\nregistryAuth:\n  - host: harbor.example.com\n    username: \"robot$tingyun+pull\"\n    password: \"s3cret\"\n";
    let emu = Emulator::start(scenario);
    install_with_kubectl(&emu, &["apply"]);
    // Without the secret: the kubelet cannot find it, the registry says 401.
    let file = fresh(&emu, "t.yaml");
    let o = tingyun(&emu, &headline(&file, &[]));
    let out = both(&o);
    assert_eq!(code(&o), 1, "{out}");
    assert!(
        out.contains("which does not exist in namespace \"tingyun\""),
        "{out}"
    );
    assert!(out.contains("ImagePullBackOff: unauthorized"), "{out}");
    assert!(out.contains("401 Unauthorized"), "{out}");
    assert!(
        out.contains("Unable to retrieve some image pull secrets"),
        "{out}"
    );
    // The README: create the secret, then the same command.
    let o = tingyun_env(
        &emu,
        &[
            "secret",
            "--server",
            "harbor.example.com",
            "--username",
            "robot$tingyun+pull",
            "-n",
            "tingyun",
        ],
        &[("TINGYUN_REGISTRY_PASSWORD", "s3cret")],
    );
    assert_eq!(code(&o), 0, "{}", both(&o));
    // The pods failed before the secret existed: the kubelet's next retry
    // may succeed, so an unchanged re-run waits instead of giving up at once.
    // (Event times have whole seconds: let the old failures be in an earlier one.)
    std::thread::sleep(Duration::from_millis(1100));
    let o = tingyun(&emu, &headline(&file, &["--timeout", "4s"]));
    let out = both(&o);
    assert_eq!(code(&o), 1, "{out}");
    assert!(!out.contains("stopped waiting"), "{out}");
    assert!(out.contains("timed out after 4s"), "{out}");
    // (The emulator's kubelet never retries a pull; a real one would within
    // its back-off.) New pods pull with the secret.
    emu.kubectl_ok(&[
        "-n",
        "tingyun",
        "rollout",
        "restart",
        "deployment/tingyun-agent",
    ]);
    emu.kubectl_ok(&[
        "-n",
        "tingyun",
        "rollout",
        "restart",
        "daemonset/tingyun-node-agent",
    ]);
    let o = tingyun(&emu, &["apply", p(&file), "--timeout", "30s"]);
    assert_eq!(code(&o), 0, "{}", both(&o));
    assert!(stdout(&o).contains("daemonset.apps/tingyun-node-agent rolled out"));
}

#[test]
fn ctrl_c_while_waiting_says_everything_was_applied() {
    use std::io::BufRead as _;
    let emu = Emulator::start(&pull_failure("http"));
    let file = fresh(&emu, "t.yaml");
    let mut child = support::bin()
        .args([
            "apply",
            p(&file),
            "--timeout",
            "60s",
            "--kubeconfig",
            emu.kubeconfig_str(),
        ])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    loop {
        let line = lines.next().expect("the wait starts").unwrap();
        if line.starts_with("waiting up to ") {
            break;
        }
    }
    let start = Instant::now();
    let kill = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let out = child.wait_with_output().unwrap();
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "Ctrl-C was ignored"
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(
        err.contains("interrupted: all 10 objects were applied"),
        "{err}"
    );
}

#[test]
fn a_slow_cluster_never_holds_the_command_beyond_timeout_plus_request_timeout() {
    // Every answer takes 0.4s: each request is within --request-timeout, but
    // the whole apply would take far longer than --timeout.
    let emu = Emulator::start("nodes: 1\nlatency: 0.4\n");
    let file = fresh(&emu, "t.yaml");
    let start = Instant::now();
    let o = tingyun(
        &emu,
        &[
            "apply",
            p(&file),
            "--timeout",
            "2s",
            "--request-timeout",
            "1s",
        ],
    );
    let took = start.elapsed();
    assert_eq!(code(&o), 1, "{}", both(&o));
    assert!(took < Duration::from_secs(7), "took {took:?}");
    assert!(
        stderr(&o).contains("gave up after 3s (--timeout plus --request-timeout)"),
        "{}",
        both(&o)
    );
}

#[test]
fn a_wrong_registry_password_is_named_as_such() {
    let scenario = "nodes: 1\nreadyDelay: 0.2\nregistryAuth:\n  - host: harbor.example.com\n    username: robot\n    password: right\n";
    let emu = Emulator::start(scenario);
    emu.kubectl_ok(&["create", "namespace", "tingyun"]);
    let o = tingyun_env(
        &emu,
        &[
            "secret",
            "--server",
            "harbor.example.com",
            "--username",
            "robot",
            "-n",
            "tingyun",
        ],
        &[("TINGYUN_REGISTRY_PASSWORD", "p4ss-Wr0ng")],
    );
    assert_eq!(code(&o), 0, "{}", both(&o));
    let file = fresh(&emu, "t.yaml");
    let o = tingyun(&emu, &headline(&file, &[]));
    let out = both(&o);
    assert_eq!(code(&o), 1, "{out}");
    assert!(out.contains("stopped waiting"), "{out}");
    assert!(
        out.contains("harbor.example.com refused the credentials of pull secret tingyun-image-secret in namespace \"tingyun\""),
        "{out}"
    );
    assert!(
        !out.contains("p4ss-Wr0ng"),
        "the password is printed: {out}"
    );
}
