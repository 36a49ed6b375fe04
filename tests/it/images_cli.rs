//! `kubectl tingyun images` end to end: the real binary, real registries
//! (docker-registry on loopback, images pushed by skopeo), the kube-emulator
//! for node architectures and pull secrets, and the real kubectl to create
//! those secrets. Expected lines come from searching the manifest text;
//! expected digests from the layouts the tests wrote.
use crate::support;

use std::io::Write as _;
use std::process::{Output, Stdio};

use crate::support::emulator::Emulator;
use crate::support::registry::{Auth, Layout, Registry, write_auth_json};
use crate::support::{stderr, stdout};
use serde_json::{Value, json};

const ROBOT: &str = "robot$apm+pull";
const ROBOT_PASSWORD: &str = "p$a+s:s\"w 0rd";

fn manifest(images: &[(&str, &str)], service_account_secret: Option<&str>) -> String {
    let mut text = String::new();
    if let Some(s) = service_account_secret {
        text.push_str(&format!(
            "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: agent\n  namespace: tingyun\n\
             imagePullSecrets:\n- name: {s}\n---\n"
        ));
    }
    text.push_str(
        "apiVersion: apps/v1\nkind: DaemonSet\nmetadata:\n  name: node-agent\n  namespace: tingyun\n\
         spec:\n  template:\n    spec:\n      serviceAccountName: agent\n      containers:\n",
    );
    for (name, image) in images {
        text.push_str(&format!("      - name: {name}\n        image: {image}\n"));
    }
    text
}

/// 1-based line of the first line containing `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).unwrap() + 1
}

fn run_in(
    dir: &std::path::Path,
    args: &[&str],
    env: &[(&str, &str)],
    stdin: Option<&str>,
) -> Output {
    let mut cmd = support::bin();
    cmd.args(args)
        .env_remove("TINGYUN_REGISTRY_PASSWORD")
        .env_remove("DOCKER_CONFIG")
        .env_remove("REGISTRY_AUTH_FILE")
        .env("HOME", dir)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    if let Some(s) = stdin {
        child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
    }
    child.wait_with_output().unwrap()
}

fn json_rows(o: &Output) -> Vec<Value> {
    serde_json::from_slice::<Value>(&o.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\nstderr: {}", stdout(o), stderr(o)))
        .as_array()
        .unwrap()
        .clone()
}

fn by_container<'a>(rows: &'a [Value], c: &str) -> &'a Value {
    rows.iter().find(|r| r["container"] == c).unwrap()
}

#[test]
fn lists_the_fixture_images_with_objects_and_lines() {
    let fixture = support::fixture_path("tingyunagent.yaml");
    let text = std::fs::read_to_string(&fixture).unwrap();
    let o = support::run(&["images", fixture.to_str().unwrap(), "-o", "json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let rows = json_rows(&o);
    // Independently: every `image:` line of the file, in order.
    let expected: Vec<(String, usize)> = text
        .lines()
        .enumerate()
        .filter_map(|(i, l)| {
            let t = l.trim_start().trim_start_matches("- ");
            t.strip_prefix("image: ")
                .map(|img| (img.trim().to_string(), i + 1))
        })
        .collect();
    let got: Vec<(String, usize)> = rows
        .iter()
        .map(|r| {
            (
                r["image"].as_str().unwrap().to_string(),
                r["line"].as_u64().unwrap() as usize,
            )
        })
        .collect();
    assert_eq!(got, expected);
    let init = rows
        .iter()
        .find(|r| {
            r["image"]
                .as_str()
                .unwrap()
                .contains("universal-agent-init")
        })
        .unwrap();
    assert_eq!(init["in"], "mutate.yaml");
    assert!(
        init["object"]
            .as_str()
            .unwrap()
            .starts_with("ConfigMap/tingyun/")
    );
    let dep = rows
        .iter()
        .find(|r| r["image"].as_str().unwrap().contains("k8s-uniagent"))
        .unwrap();
    assert_eq!(dep["object"], "Deployment/tingyun/tingyun-agent");
    // Table: a header and one line per image.
    let o = support::run(&["images", fixture.to_str().unwrap()]);
    assert!(o.status.success());
    let table = stdout(&o);
    assert!(table.starts_with("IMAGE"), "{table}");
    assert_eq!(table.lines().count(), 1 + expected.len(), "{table}");
}

#[test]
fn check_statuses_platforms_and_exit_codes_on_a_plain_registry() {
    let reg = Registry::plain();
    let multi = Layout::new(&["linux/amd64", "linux/arm64"], true, false);
    reg.push(&multi, "apm/agent:1", None);
    let single = Layout::new(&["linux/amd64"], false, false);
    reg.push(&single, "apm/single:1", None);
    let h = reg.host();
    let dir = tempfile::tempdir().unwrap();
    let text = manifest(
        &[
            ("multi", &format!("{h}/apm/agent:1")),
            ("single", &format!("{h}/apm/single:1")),
            ("notag", &format!("{h}/apm/agent:2")),
        ],
        None,
    );
    let file = dir.path().join("m.yaml");
    std::fs::write(&file, &text).unwrap();
    let f = file.to_str().unwrap();
    let o = run_in(
        dir.path(),
        &[
            "images",
            f,
            "--check",
            "-o",
            "json",
            "--http-registry",
            &h,
            "--platform",
            "linux/amd64,linux/arm64",
        ],
        &[],
        None,
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let rows = json_rows(&o);
    let m = by_container(&rows, "multi");
    assert_eq!(m["status"], "ok");
    assert_eq!(m["platforms"], json!(["linux/amd64", "linux/arm64"]));
    assert_eq!(m["missingPlatforms"], json!([]));
    assert_eq!(m["digest"], multi.digest);
    assert_eq!(m["line"], line_of(&text, "apm/agent:1"));
    assert_eq!(m["object"], "DaemonSet/tingyun/node-agent");
    let s = by_container(&rows, "single");
    assert_eq!(s["status"], "platform-missing");
    assert_eq!(s["platforms"], json!(["linux/amd64"]));
    assert_eq!(s["missingPlatforms"], json!(["linux/arm64"]));
    assert_eq!(s["digest"], single.digest);
    let n = by_container(&rows, "notag");
    assert_eq!(n["status"], "missing");
    assert!(
        n["message"].as_str().unwrap().contains("MANIFEST_UNKNOWN"),
        "{n}"
    );

    // Only what exists, for amd64: exit 0.
    let ok = manifest(
        &[
            ("multi", &format!("{h}/apm/agent:1")),
            ("single", &format!("{h}/apm/single:1")),
        ],
        None,
    );
    std::fs::write(&file, ok).unwrap();
    let o = run_in(
        dir.path(),
        &[
            "images",
            f,
            "--check",
            "--http-registry",
            &h,
            "--platform",
            "linux/amd64",
        ],
        &[],
        None,
    );
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("STATUS"), "{}", stdout(&o));

    // Without --http-registry the host is reported as plain HTTP.
    let o = run_in(
        dir.path(),
        &[
            "images",
            f,
            "--check",
            "-o",
            "json",
            "--platform",
            "linux/amd64",
        ],
        &[],
        None,
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        json_rows(&o).iter().all(|r| r["status"] == "http-only"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn check_with_username_password_stdin_env_and_docker_login() {
    let reg = Registry::start(
        Auth::Basic(vec![(ROBOT.into(), ROBOT_PASSWORD.into())]),
        false,
    );
    reg.push(
        &Layout::new(&["linux/amd64"], false, false),
        "apm/agent:1",
        Some((ROBOT, ROBOT_PASSWORD)),
    );
    let h = reg.host();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("m.yaml");
    std::fs::write(&file, manifest(&[("a", &format!("{h}/apm/agent:1"))], None)).unwrap();
    let f = file.to_str().unwrap();
    let base = [
        "images",
        f,
        "--check",
        "-o",
        "json",
        "--http-registry",
        &h,
        "--platform",
        "linux/amd64",
    ];
    let status = |o: &Output| json_rows(o)[0]["status"].as_str().unwrap().to_string();

    let o = run_in(dir.path(), &base, &[], None);
    assert_eq!(status(&o), "unauthorized", "{}", stderr(&o));

    let mut args = base.to_vec();
    args.extend(["--username", ROBOT, "--password-stdin"]);
    let o = run_in(dir.path(), &args, &[], Some(&format!("{ROBOT_PASSWORD}\n")));
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert_eq!(status(&o), "ok");

    let o = run_in(dir.path(), &args, &[], Some("wrong\n"));
    assert_eq!(status(&o), "unauthorized");
    assert!(!stdout(&o).contains("wrong") && !stderr(&o).contains("wrong"));

    let mut args = base.to_vec();
    args.extend(["--username", ROBOT]);
    let o = run_in(
        dir.path(),
        &args,
        &[("TINGYUN_REGISTRY_PASSWORD", ROBOT_PASSWORD)],
        None,
    );
    assert_eq!(status(&o), "ok", "{}", stderr(&o));

    // docker login: $DOCKER_CONFIG/config.json; podman: REGISTRY_AUTH_FILE.
    let docker = dir.path().join("docker");
    std::fs::create_dir_all(&docker).unwrap();
    write_auth_json(&docker.join("config.json"), &h, ROBOT, ROBOT_PASSWORD);
    let o = run_in(
        dir.path(),
        &base,
        &[("DOCKER_CONFIG", docker.to_str().unwrap())],
        None,
    );
    assert_eq!(status(&o), "ok", "{}", stderr(&o));
    let podman = dir.path().join("auth.json");
    write_auth_json(&podman, &h, ROBOT, ROBOT_PASSWORD);
    let o = run_in(
        dir.path(),
        &base,
        &[("REGISTRY_AUTH_FILE", podman.to_str().unwrap())],
        None,
    );
    assert_eq!(status(&o), "ok", "{}", stderr(&o));
}

#[test]
fn check_token_auth_and_tls_with_a_ca_file() {
    let users = json!({
        "pusher": {"password": "pw", "access": {"*": ["pull", "push"]}},
        ROBOT: {"password": ROBOT_PASSWORD, "access": {"apm/*": ["pull"]}},
    });
    let reg = Registry::start(Auth::Token(users), true);
    reg.push(
        &Layout::new(&["linux/amd64", "linux/arm64"], true, false),
        "apm/agent:1",
        Some(("pusher", "pw")),
    );
    reg.push(
        &Layout::new(&["linux/amd64"], false, false),
        "other/agent:1",
        Some(("pusher", "pw")),
    );
    let h = reg.host();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("m.yaml");
    std::fs::write(
        &file,
        manifest(
            &[
                ("a", &format!("{h}/apm/agent:1")),
                ("b", &format!("{h}/other/agent:1")),
            ],
            None,
        ),
    )
    .unwrap();
    let f = file.to_str().unwrap();
    let ca = reg.ca_file();
    let args = [
        "images",
        f,
        "--check",
        "-o",
        "json",
        "--platform",
        "linux/arm64",
        "--username",
        ROBOT,
        "--password-stdin",
    ];
    let o = run_in(dir.path(), &args, &[], Some(ROBOT_PASSWORD));
    let rows = json_rows(&o);
    assert!(rows.iter().all(|r| r["status"] == "tls-error"), "{rows:?}");
    let mut with_ca = args.to_vec();
    with_ca.extend(["--ca-file", ca.to_str().unwrap()]);
    let o = run_in(dir.path(), &with_ca, &[], Some(ROBOT_PASSWORD));
    let rows = json_rows(&o);
    assert_eq!(by_container(&rows, "a")["status"], "ok", "{rows:?}");
    // The robot has no pull permission on "other".
    assert_eq!(
        by_container(&rows, "b")["status"],
        "unauthorized",
        "{rows:?}"
    );
    assert_eq!(o.status.code(), Some(1));
    let mut insecure = args.to_vec();
    insecure.extend(["--insecure-registry", &h]);
    let o = run_in(dir.path(), &insecure, &[], Some(ROBOT_PASSWORD));
    assert_eq!(by_container(&json_rows(&o), "a")["status"], "ok");
}

#[test]
fn cluster_nodes_and_pull_secrets_from_the_cluster() {
    let reg = Registry::start(
        Auth::Basic(vec![(ROBOT.into(), ROBOT_PASSWORD.into())]),
        false,
    );
    reg.push(
        &Layout::new(&["linux/amd64"], false, false),
        "apm/agent:1",
        Some((ROBOT, ROBOT_PASSWORD)),
    );
    let h = reg.host();
    let emu = Emulator::start(
        "nodes: 3\nnodeArchs: [amd64, arm64]\nobjects:\n- {apiVersion: v1, kind: Namespace, metadata: {name: tingyun}}\n",
    );
    // The secret, created by the real kubectl.
    emu.kubectl_ok(&[
        "create",
        "secret",
        "docker-registry",
        "tingyun-image-secret",
        "-n",
        "tingyun",
        &format!("--docker-server={h}"),
        &format!("--docker-username={ROBOT}"),
        &format!("--docker-password={ROBOT_PASSWORD}"),
    ]);
    let arm_nodes: Vec<String> = emu
        .kubectl_ok(&[
            "get",
            "nodes",
            "-l",
            "kubernetes.io/arch=arm64",
            "-o",
            "name",
        ])
        .lines()
        .map(|l| l.trim_start_matches("node/").to_string())
        .collect();
    assert!(!arm_nodes.is_empty());
    let file = emu.write(
        "m.yaml",
        &manifest(
            &[("a", &format!("{h}/apm/agent:1"))],
            Some("tingyun-image-secret"),
        ),
    );
    let f = file.to_str().unwrap();

    let o = emu.tingyun_env(
        &[
            "images",
            f,
            "--check",
            "-o",
            "json",
            "--http-registry",
            &h,
            "--from-cluster",
        ],
        &[("TINGYUN_REGISTRY_PASSWORD", "")],
    );
    let rows = json_rows(&o);
    let r = &rows[0];
    // Credentials from the cluster worked; the arm64 nodes lack their image.
    assert_eq!(r["status"], "platform-missing", "{r}\n{}", stderr(&o));
    assert_eq!(r["missingPlatforms"], json!(["linux/arm64"]));
    for n in &arm_nodes {
        assert!(r["message"].as_str().unwrap().contains(n.as_str()), "{r}");
    }
    assert_eq!(o.status.code(), Some(1));

    // A manifest naming a secret the cluster does not have: a warning, and unauthorized.
    let file = emu.write(
        "m2.yaml",
        &manifest(&[("a", &format!("{h}/apm/agent:1"))], Some("absent-secret")),
    );
    let o = emu.tingyun(&[
        "images",
        file.to_str().unwrap(),
        "--check",
        "-o",
        "json",
        "--http-registry",
        &h,
        "--from-cluster",
        "--platform",
        "linux/amd64",
    ]);
    assert_eq!(json_rows(&o)[0]["status"], "unauthorized", "{}", stderr(&o));
    assert!(
        stderr(&o).contains("tingyun/absent-secret does not exist"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn bad_flags_and_inputs_are_errors_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("m.yaml");
    std::fs::write(&file, "a: [\n").unwrap();
    let o = run_in(dir.path(), &["images", file.to_str().unwrap()], &[], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).starts_with(&format!("{}:", file.display())),
        "{}",
        stderr(&o)
    );
    std::fs::write(&file, manifest(&[("a", "x.io/a:1")], None)).unwrap();
    let f = file.to_str().unwrap();
    let o = run_in(
        dir.path(),
        &["images", f, "--check", "--platform", "linux"],
        &[],
        None,
    );
    // A value clap cannot parse is a usage error: exit 2.
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("OS/ARCH"), "{}", stderr(&o));
    let o = run_in(
        dir.path(),
        &["images", f, "--check", "--http-registry", "https://x.io"],
        &[],
        None,
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("--http-registry"), "{}", stderr(&o));
    let o = run_in(
        dir.path(),
        &[
            "images",
            f,
            "--check",
            "--ca-file",
            "/nonexistent/ca.pem",
            "--platform",
            "linux/amd64",
        ],
        &[],
        None,
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("--ca-file /nonexistent/ca.pem"),
        "{}",
        stderr(&o)
    );
    let o = run_in(
        dir.path(),
        &[
            "images",
            f,
            "--check",
            "--username",
            "u",
            "--platform",
            "linux/amd64",
        ],
        &[],
        None,
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("TINGYUN_REGISTRY_PASSWORD"),
        "{}",
        stderr(&o)
    );
}
