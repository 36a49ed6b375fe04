//! The saved profile: `patch --save-config` on the first install, then the
//! upgrade is `kubectl tingyun patch tingyunagent.yaml --apply` on a fresh
//! download, on the kube-emulator, judged by what the real kubectl reads
//! back from the cluster; flags override the profile; unknown keys and bad
//! values are `FILE:LINE:COL` errors.
use crate::support;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use crate::support::emulator::Emulator;
use crate::support::{bin, fixture_copy, stderr, stdout};
use serde_json::Value;

const REGISTRY: &str = "harbor.example.com/apm";

fn run_in(dir: &Path, args: &[&str]) -> Output {
    bin()
        .current_dir(dir)
        .env("HOME", dir)
        .env_remove("XDG_CONFIG_HOME")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn both(o: &Output) -> String {
    format!("{}{}", stdout(o), stderr(o))
}

/// The objects of `file` as the cluster has them, per the real kubectl,
/// without what changes on every write or restart.
fn live(emu: &Emulator, file: &Path) -> Value {
    let out = emu.kubectl_ok(&["get", "-f", file.to_str().unwrap(), "-o", "json"]);
    let mut v: Value = serde_json::from_str(&out).unwrap();
    for item in v["items"].as_array_mut().unwrap() {
        item.as_object_mut().unwrap().remove("status");
        let meta = item["metadata"].as_object_mut().unwrap();
        for k in [
            "resourceVersion",
            "managedFields",
            "generation",
            "uid",
            "creationTimestamp",
        ] {
            meta.remove(k);
        }
        if let Some(a) = item
            .pointer_mut("/spec/template/metadata/annotations")
            .and_then(Value::as_object_mut)
        {
            a.retain(|k, _| !k.contains("restartedAt"));
        }
    }
    v
}

#[test]
fn an_upgrade_from_the_saved_profile_gives_the_first_installs_result() {
    let emu = Emulator::start("nodes: 1\nreadyDelay: 0.1\n");
    let site = tempfile::tempdir().unwrap();
    let dir = site.path();
    let manifest = fixture_copy(dir, "tingyunagent.yaml");
    let download = std::fs::read(&manifest).unwrap();
    // First install, every flag given once and saved.
    let o = run_in(
        dir,
        &[
            "patch",
            "tingyunagent.yaml",
            "--registry",
            REGISTRY,
            "--pull-secret",
            "--inject-pull-secret=tingyun-image-secret",
            "--http-registry",
            "--annotation",
            "example.com/team=apm",
            "--kubeconfig",
            emu.kubeconfig_str(),
            "--timeout",
            "30s",
            "--apply",
            "--save-config",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", both(&o));
    assert!(stderr(&o).contains("saved these flags to"), "{}", both(&o));
    let profile = std::fs::read_to_string(dir.join("tingyun.yaml")).unwrap();
    assert!(!profile.contains("password"), "{profile}");
    let first_file = std::fs::read(&manifest).unwrap();
    let first_live = live(&emu, &manifest);
    assert_ne!(first_file, download);

    // The upgrade: a fresh download over the old file, no flags at all
    // (not even the kubeconfig: the profile has it).
    std::fs::write(&manifest, &download).unwrap();
    emu.clear_requests();
    let o = run_in(
        dir,
        &["patch", "tingyunagent.yaml", "--apply", "--timeout", "30s"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", both(&o));
    assert!(
        stderr(&o).contains("using profile ./tingyun.yaml"),
        "{}",
        both(&o)
    );
    assert_eq!(
        std::fs::read(&manifest).unwrap(),
        first_file,
        "the upgrade wrote a different file"
    );
    assert_eq!(live(&emu, &manifest), first_live);
    // and it really went to the cluster
    assert!(!emu.writes().is_empty() || !emu.requests().is_empty());
}

#[test]
fn flags_override_the_profile_and_the_user_config_is_the_fallback() {
    let site = tempfile::tempdir().unwrap();
    let dir = site.path();
    fixture_copy(dir, "tingyunagent.yaml");
    let user = dir.join(".config/kubectl-tingyun");
    std::fs::create_dir_all(&user).unwrap();
    std::fs::write(
        user.join("config.yaml"),
        "registry: user.example.com/apm\npull-secret: true\n",
    )
    .unwrap();
    // only the user config: its registry
    let o = run_in(dir, &["patch", "tingyunagent.yaml", "-o", "-"]);
    assert!(o.status.success(), "{}", both(&o));
    assert!(
        stdout(&o).contains("image: user.example.com/apm/"),
        "{}",
        both(&o)
    );
    assert!(stderr(&o).contains(".config/kubectl-tingyun/config.yaml"));
    // tingyun.yaml beside the manifest wins over the user config
    std::fs::write(
        dir.join("tingyun.yaml"),
        "registry: beside.example.com/apm\n",
    )
    .unwrap();
    let o = run_in(dir, &["patch", "tingyunagent.yaml", "-o", "-"]);
    assert!(
        stdout(&o).contains("image: beside.example.com/apm/"),
        "{}",
        both(&o)
    );
    // a flag wins over both
    let o = run_in(
        dir,
        &[
            "patch",
            "tingyunagent.yaml",
            "-o",
            "-",
            "--registry",
            "flag.example.com/x",
        ],
    );
    assert!(
        stdout(&o).contains("image: flag.example.com/x/"),
        "{}",
        both(&o)
    );
    assert!(!stdout(&o).contains("beside.example.com"));
    // --config names another file
    std::fs::write(dir.join("other.yaml"), "registry: other.example.com/apm\n").unwrap();
    let o = run_in(
        dir,
        &[
            "patch",
            "tingyunagent.yaml",
            "-o",
            "-",
            "--config",
            "other.yaml",
        ],
    );
    assert!(
        stdout(&o).contains("image: other.example.com/apm/"),
        "{}",
        both(&o)
    );
    // a missing --config file is an error
    let o = run_in(
        dir,
        &["patch", "tingyunagent.yaml", "--config", "missing.yaml"],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("missing.yaml"), "{}", both(&o));
}

#[test]
fn unknown_keys_and_bad_values_are_located_errors() {
    let site = tempfile::tempdir().unwrap();
    let dir = site.path();
    let manifest = fixture_copy(dir, "tingyunagent.yaml");
    let before = std::fs::read(&manifest).unwrap();
    for (profile, want) in [
        (
            "registry: harbor.example.com/apm\npull-secrets: x\n",
            "tingyun.yaml:2:1: unknown key \"pull-secrets\"",
        ),
        (
            "pull-secret: Not_A_Name\n",
            "tingyun.yaml:1:14: pull-secret:",
        ),
        (
            "registry: harbor.example.com/apm\nhost-aliases: '[{\"ip\": \"nope\"}]'\n",
            "tingyun.yaml:2:15: host-aliases:",
        ),
        (
            "secret:\n  server: harbor.example.com\n  password: hunter2\n",
            "tingyun.yaml:3:3: the registry password is never kept in a profile",
        ),
        ("registry: [unclosed\n", "tingyun.yaml:"),
    ] {
        std::fs::write(dir.join("tingyun.yaml"), profile).unwrap();
        let o = run_in(dir, &["patch", "tingyunagent.yaml"]);
        assert_eq!(o.status.code(), Some(1), "{profile}: {}", both(&o));
        let err = stderr(&o);
        assert!(
            err.lines().any(|l| l.contains(want)),
            "{profile}: want {want:?} in\n{err}"
        );
        assert!(!err.contains("hunter2"), "{err}");
        assert_eq!(std::fs::read(&manifest).unwrap(), before);
    }
}

#[test]
fn the_secret_command_takes_server_username_and_namespaces_from_the_profile() {
    let site = tempfile::tempdir().unwrap();
    let dir = site.path();
    std::fs::write(
        dir.join("tingyun.yaml"),
        "pull-secret: my-pull\nsecret:\n  server: harbor.example.com\n  username: robot$tingyun+pull\n  namespace: [tingyun, shop]\n",
    )
    .unwrap();
    let o = bin()
        .current_dir(dir)
        .env("HOME", dir)
        .env("TINGYUN_REGISTRY_PASSWORD", "s3cret")
        .args(["secret", "--dry-run", "-o", "json"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", both(&o));
    let text = stdout(&o);
    // Compare with what the real kubectl makes of the same values.
    let want = Command::new(support::KUBECTL)
        .args([
            "create",
            "secret",
            "docker-registry",
            "my-pull",
            "-n",
            "shop",
            "--docker-server=harbor.example.com",
            "--docker-username=robot$tingyun+pull",
            "--docker-password=s3cret",
            "--dry-run=client",
            "-o",
            "json",
        ])
        .output()
        .expect("the real kubectl");
    let want: Value = serde_json::from_slice(&want.stdout).unwrap();
    let dockerconfig = want["data"][".dockerconfigjson"].as_str().unwrap();
    assert!(text.contains(dockerconfig), "{text}");
    assert!(text.contains("\"namespace\": \"tingyun\""), "{text}");
    assert!(text.contains("\"namespace\": \"shop\""), "{text}");
    assert!(text.contains("\"name\": \"my-pull\""), "{text}");
    // without server anywhere: a clear error
    std::fs::write(dir.join("tingyun.yaml"), "registry: h.example.com/p\n").unwrap();
    let o = bin()
        .current_dir(dir)
        .env("HOME", dir)
        .env("TINGYUN_REGISTRY_PASSWORD", "s3cret")
        .args(["secret", "--dry-run", "--username", "u"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("--server is required"), "{}", both(&o));
}
