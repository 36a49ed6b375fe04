//! The real kubectl finds the plugin on PATH and runs it.
//! kubectl is required: a missing one fails these tests (never a skip).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::*;

/// The real kubectl: required (`.ci/run` installs it); a missing one fails
/// the test, never skips it.
fn find_kubectl() -> PathBuf {
    require(
        "kubectl",
        "https://kubernetes.io/docs/tasks/tools/; .ci/run installs it",
    )
}

/// A directory holding only a copy of the built binary named `kubectl-tingyun`.
fn plugin_dir() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join(if cfg!(windows) {
        "kubectl-tingyun.exe"
    } else {
        "kubectl-tingyun"
    });
    fs::copy(bin(), &dest).expect("copy binary");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&dest, fs::Permissions::from_mode(0o755)).unwrap();
    }
    tmp
}

/// kubectl with PATH = only the plugin directory, so no other plugin (or an
/// older installed copy) can shadow or confuse the result.
fn kubectl(kubectl: &Path, plugins: &Path, args: &[&str]) -> std::process::Output {
    let home = plugins.join("home");
    fs::create_dir_all(&home).unwrap();
    Command::new(kubectl)
        .args(args)
        .env("PATH", plugins)
        .env("HOME", &home)
        .env("KUBECONFIG", home.join("no-kubeconfig"))
        .output()
        .expect("run kubectl")
}

#[test]
fn kubectl_plugin_list_finds_and_runs_tingyun() {
    let kubectl_bin = find_kubectl();
    let dir = plugin_dir();

    let out = kubectl(&kubectl_bin, dir.path(), &["plugin", "list"]);
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    assert!(
        out.status.success(),
        "kubectl plugin list failed: {stdout}{stderr}"
    );
    let expected = dir.path().join("kubectl-tingyun");
    assert!(
        stdout.lines().any(|l| Path::new(l.trim()) == expected),
        "kubectl plugin list does not list {}:\n{stdout}{stderr}",
        expected.display()
    );
    assert!(
        !stderr.contains("warning"),
        "kubectl warns about the plugin: {stderr}"
    );

    for args in [
        &["tingyun", "--help"][..],
        &["tingyun", "patch", "--help"][..],
    ] {
        let out = kubectl(&kubectl_bin, dir.path(), args);
        let stdout = text(&out.stdout);
        let stderr = text(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(0),
            "kubectl {}: {stdout}{stderr}",
            args.join(" ")
        );
        assert!(
            stdout.contains("patch"),
            "kubectl {} does not mention patch:\n{stdout}",
            args.join(" ")
        );
        assert!(
            stdout.contains("Usage"),
            "kubectl {} printed no usage:\n{stdout}",
            args.join(" ")
        );
    }
    // The patch help names the contract's flags.
    let out = kubectl(&kubectl_bin, dir.path(), &["tingyun", "patch", "--help"]);
    let help = text(&out.stdout);
    for flag in [
        "--pull-secret",
        "--inject-pull-secret",
        "--registry",
        "--http-registry",
        "--insecure-registry",
        "--dns-config",
        "--host-aliases",
        "--annotation",
        "--dry-run",
        "--output",
    ] {
        assert!(
            help.contains(flag),
            "`kubectl tingyun patch --help` lacks {flag}:\n{help}"
        );
    }
}

/// Through kubectl, the plugin actually patches a file (the guide's procedure).
#[test]
fn kubectl_tingyun_patch_runs_through_kubectl() {
    let kubectl_bin = find_kubectl();
    let dir = plugin_dir();
    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("tingyunagent.yaml");
    fs::copy(repo_root().join("testdata/tingyunagent.yaml"), &file).unwrap();
    let file_arg = file.to_str().unwrap();
    let out = kubectl(
        &kubectl_bin,
        dir.path(),
        &["tingyun", "patch", file_arg, "-o", "-"],
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let expected =
        fs::read(repo_root().join("testdata/cases/fixture-defaults/expected.yaml")).unwrap();
    assert!(
        out.stdout == expected,
        "output differs:\n{}",
        show_diff(&expected, &out.stdout)
    );
}
