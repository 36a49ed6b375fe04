//! Shared test support. Integration tests use it with `mod support;`.
#![allow(dead_code)]

pub mod emulator;
pub mod fault_proxy;
pub mod fuzz_check;
pub mod registry;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The binary under test: cargo's build of `kubectl-tingyun`, or the file
/// named by `KUBECTL_TINGYUN_BIN` (to test an installed or copied binary).
pub fn bin_path() -> PathBuf {
    match std::env::var_os("KUBECTL_TINGYUN_BIN") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from(env!("CARGO_BIN_EXE_kubectl-tingyun")),
    }
}

/// The one way the tests run the binary: a command for [`bin_path`] that
/// never picks up the developer's cluster or colours.
pub fn bin() -> Command {
    let mut cmd = Command::new(bin_path());
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

/// A test input: the example download and the other inputs live once, in
/// `testdata/`.
pub fn fixture_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(name)
}

/// Copy a fixture into a fresh file in `dir` and return its path.
pub fn fixture_copy(dir: &Path, name: &str) -> PathBuf {
    let src = fixture_path(name);
    let dst = dir.join(name);
    std::fs::copy(&src, &dst).unwrap_or_else(|e| panic!("copy {}: {e}", src.display()));
    dst
}

/// Where the real kubectl is on this machine kind.
pub const KUBECTL: &str = "/usr/bin/kubectl";

/// The Secret the real `kubectl create secret docker-registry
/// --dry-run=client -o json` prints for these credentials. kubectl is
/// required (`.ci/run` installs it): a missing kubectl fails the test.
pub fn kubectl_secret(
    name: &str,
    namespace: Option<&str>,
    server: &str,
    user: &str,
    password: &str,
) -> serde_json::Value {
    assert!(
        Path::new(KUBECTL).exists(),
        "{KUBECTL} is missing: the comparison with the real kubectl needs it (apt-get install kubectl)"
    );
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
    serde_json::from_slice(&out.stdout).expect("kubectl JSON")
}
