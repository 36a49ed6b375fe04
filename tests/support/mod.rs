//! Shared test support. Integration tests use it with `mod support;`.
#![allow(dead_code)]

pub mod emulator;
pub mod registry;

use std::path::Path;
use std::process::{Command, Output, Stdio};

/// The plugin binary built by cargo for integration tests.
pub fn bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kubectl-tingyun"));
    // Never pick up the developer's cluster.
    cmd.env_remove("KUBECONFIG")
        .env("HOME", std::env::temp_dir())
        .env("NO_COLOR", "1");
    cmd
}

/// Run the binary with `args`, return its output (stdin closed).
pub fn run(args: &[&str]) -> Output {
    bin()
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run kubectl-tingyun")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Copy a fixture into a fresh file in `dir` and return its path.
pub fn fixture_copy(dir: &Path, name: &str) -> std::path::PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let dst = dir.join(name);
    std::fs::copy(&src, &dst).unwrap_or_else(|e| panic!("copy {}: {e}", src.display()));
    dst
}

/// Where the real kubectl is on this machine kind.
pub const KUBECTL: &str = "/usr/bin/kubectl";

/// The Secret the real `kubectl create secret docker-registry
/// --dry-run=client -o json` prints for these credentials, or `None` (with a
/// note) when kubectl is not installed.
pub fn kubectl_secret(
    name: &str,
    namespace: Option<&str>,
    server: &str,
    user: &str,
    password: &str,
) -> Option<serde_json::Value> {
    if !Path::new(KUBECTL).exists() {
        eprintln!("note: {KUBECTL} is missing; skipping the comparison with kubectl");
        return None;
    }
    let mut cmd = Command::new(KUBECTL);
    cmd.args([
        "create",
        "secret",
        "docker-registry",
        name,
        "--dry-run=client",
        "-o",
        "json",
    ]);
    if let Some(ns) = namespace {
        cmd.args(["-n", ns]);
    }
    let out = cmd
        .arg(format!("--docker-server={server}"))
        .arg(format!("--docker-username={user}"))
        .arg(format!("--docker-password={password}"))
        .env("KUBECONFIG", "/nonexistent/kubeconfig")
        .env("HOME", "/nonexistent-home")
        .output()
        .expect("run kubectl");
    assert!(out.status.success(), "kubectl failed: {}", stderr(&out));
    Some(serde_json::from_slice(&out.stdout).expect("kubectl JSON"))
}
