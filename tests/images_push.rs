//! `kubectl tingyun images push` as a user runs it, on archives the tests
//! build themselves with scripts/gen-image-archive.py (docker save classic
//! and OCI-inside layouts, OCI layouts as directory and tar, a vendor-style
//! .tar.gz with nested tars). Expected digests come from the generator's
//! own report and from skopeo, never from the code under test.
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_kubectl-tingyun");

fn require(tool: &str) {
    let ok = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "{tool} is required by these tests (bash .ci/run installs it)"
    );
}

/// Run the generator; return its JSON report.
fn generate(args: &[&str]) -> Value {
    require("python3");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/gen-image-archive.py");
    let out = Command::new("python3")
        .arg(script)
        .args(args)
        .output()
        .expect("run python3");
    assert!(
        out.status.success(),
        "generator failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("generator JSON")
}

fn push(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(["images", "push"])
        .args(args)
        .env("HOME", std::env::temp_dir())
        .env_remove("DOCKER_CONFIG")
        .env_remove("REGISTRY_AUTH_FILE")
        .stdin(Stdio::null())
        .output()
        .expect("run kubectl-tingyun")
}

fn s(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn p(path: &Path) -> String {
    path.display().to_string()
}

fn json_of(o: &Output) -> Value {
    assert!(
        o.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status,
        s(&o.stdout),
        s(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", s(&o.stdout)))
}

fn by_destination(v: &Value) -> std::collections::BTreeMap<String, Value> {
    v["images"]
        .as_array()
        .expect("images list")
        .iter()
        .map(|i| (i["destination"].as_str().unwrap().to_string(), i.clone()))
        .collect()
}

fn vendor_archive(dir: &Path) -> (PathBuf, Value) {
    let out = dir.join("tingyun-k8s-images-3.4.0.0.tar.gz");
    let report = generate(&[
        "--kind",
        "vendor",
        "--out",
        &p(&out),
        "--image",
        "tingyunagent/k8s-uniagent:3.4.0.0",
        "--image",
        "tingyunagent/k8s-init:3.4.0.0",
        "--image",
        "tingyunagent/k8s-collector:3.4.0.0",
        "--layer-size",
        "300K",
        "--shared-base",
    ]);
    (out, report)
}

#[test]
fn dry_run_lists_one_multi_arch_target_per_name_and_tag() {
    let dir = tempfile::tempdir().unwrap();
    let (archive, report) = vendor_archive(dir.path());
    let o = push(&[
        &p(&archive),
        "--to",
        "harbor.example.com:8443/apm",
        "--dry-run",
        "-o",
        "json",
    ]);
    let got = by_destination(&json_of(&o));
    let names: Vec<&str> = got.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "harbor.example.com:8443/apm/k8s-collector:3.4.0.0",
            "harbor.example.com:8443/apm/k8s-init:3.4.0.0",
            "harbor.example.com:8443/apm/k8s-uniagent:3.4.0.0",
        ]
    );
    for (dest, img) in &got {
        assert_eq!(
            img["platforms"],
            serde_json::json!(["linux/amd64", "linux/arm64"]),
            "{dest}"
        );
        assert_eq!(img["blobsUploaded"], 0);
        assert_eq!(img["bytesUploaded"], 0);
    }
    // The -amd64/-arm64 docker save tars of one tag become a Docker manifest list.
    let init = &got["harbor.example.com:8443/apm/k8s-init:3.4.0.0"];
    assert_eq!(
        init["mediaType"],
        "application/vnd.docker.distribution.manifest.list.v2+json"
    );
    let src = init["source"].as_str().unwrap();
    assert!(
        src.contains("amd64/k8s-init_3.4.0.0.tar") && src.contains("arm64/k8s-init_3.4.0.0.tar"),
        "{src}"
    );
    // The nested OCI layout keeps its index, digest included.
    let agent = &got["harbor.example.com:8443/apm/k8s-uniagent:3.4.0.0"];
    assert_eq!(
        agent["mediaType"],
        "application/vnd.oci.image.index.v1+json"
    );
    let index_digest = report["images"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|i| i.get("index"))
        .expect("generator reports the index digest");
    assert_eq!(&agent["digest"], index_digest);

    // Plain lines without -o json.
    let o = push(&[
        &p(&archive),
        "--to",
        "harbor.example.com:8443/apm",
        "--dry-run",
    ]);
    assert!(o.status.success(), "{}", s(&o.stderr));
    let text = s(&o.stdout);
    assert!(
        text.contains("would push harbor.example.com:8443/apm/k8s-init:3.4.0.0 (manifest list: linux/amd64, linux/arm64)"),
        "{text}"
    );
}

#[test]
fn every_layout_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let img = [
        "--image",
        "tingyun/agent:1.0",
        "--image",
        "tingyun/init:2.0",
        "--layer-size",
        "300K",
    ];
    let kinds = [
        ("docker-save", "classic.tar"),
        ("docker-save-oci", "newer.tar"),
        ("oci-tar", "layout.tar"),
        ("oci-dir", "layout-dir"),
    ];
    for (kind, name) in kinds {
        let out = d.join(name);
        let mut args = vec!["--kind", kind, "--out", out.to_str().unwrap()];
        args.extend(img);
        if kind.starts_with("docker") {
            args.extend(["--platform", "linux/arm64/v8"]);
        }
        generate(&args);
        let o = push(&[
            &p(&out),
            "--to",
            "localhost:5000/apm",
            "--dry-run",
            "-o",
            "json",
        ]);
        let got = by_destination(&json_of(&o));
        let keys: Vec<&str> = got.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "localhost:5000/apm/agent:1.0",
                "localhost:5000/apm/init:2.0"
            ],
            "{kind}"
        );
        let agent = &got["localhost:5000/apm/agent:1.0"];
        if kind.starts_with("docker") {
            assert_eq!(
                agent["platforms"],
                serde_json::json!(["linux/arm64"]),
                "{kind}"
            );
            assert_eq!(
                agent["mediaType"], "application/vnd.docker.distribution.manifest.v2+json",
                "{kind}"
            );
        } else {
            assert_eq!(
                agent["platforms"],
                serde_json::json!(["linux/amd64", "linux/arm64"]),
                "{kind}"
            );
            assert_eq!(
                agent["mediaType"], "application/vnd.oci.image.index.v1+json",
                "{kind}"
            );
        }
    }
    // --format docker turns the OCI layout into Docker manifest lists.
    let o = push(&[
        &p(&d.join("layout.tar")),
        "--to",
        "localhost:5000/apm",
        "--dry-run",
        "-o",
        "json",
        "--format",
        "docker",
    ]);
    let got = by_destination(&json_of(&o));
    assert_eq!(
        got["localhost:5000/apm/agent:1.0"]["mediaType"],
        "application/vnd.docker.distribution.manifest.list.v2+json"
    );
    // Several sources at once: an arm64 docker save and an amd64-only layout
    // make one two-platform target; a second different arm64 image is refused.
    let amd = d.join("amd64-only");
    generate(&[
        "--kind",
        "oci-dir",
        "--out",
        &p(&amd),
        "--image",
        "tingyun/agent:1.0",
        "--platform",
        "linux/amd64",
    ]);
    let o = push(&[
        &p(&d.join("classic.tar")),
        &p(&amd),
        "--to",
        "localhost:5000/apm",
        "--dry-run",
        "-o",
        "json",
    ]);
    let got = by_destination(&json_of(&o));
    assert_eq!(
        got["localhost:5000/apm/agent:1.0"]["platforms"],
        serde_json::json!(["linux/amd64", "linux/arm64"])
    );
    let o = push(&[
        &p(&d.join("classic.tar")),
        &p(&d.join("layout-dir")),
        "--to",
        "localhost:5000/apm",
        "--dry-run",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        s(&o.stderr)
            .contains("two different linux/arm64 images would go to localhost:5000/apm/agent:1.0"),
        "{}",
        s(&o.stderr)
    );
}

#[test]
fn platform_filter_and_missing_platform() {
    let dir = tempfile::tempdir().unwrap();
    let (archive, _) = vendor_archive(dir.path());
    let a = p(&archive);
    let o = push(&[
        &a,
        "--to",
        "10.0.0.5:5000/apm",
        "--dry-run",
        "-o",
        "json",
        "--platform",
        "linux/arm64",
    ]);
    for (dest, img) in by_destination(&json_of(&o)) {
        assert_eq!(
            img["platforms"],
            serde_json::json!(["linux/arm64"]),
            "{dest}"
        );
    }
    let o = push(&[
        &a,
        "--to",
        "10.0.0.5:5000/apm",
        "--dry-run",
        "--platform",
        "linux/amd64,linux/s390x",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let err = s(&o.stderr);
    assert!(
        err.contains("no linux/s390x image") && err.contains("linux/amd64, linux/arm64"),
        "{err}"
    );
    assert!(
        o.stdout.is_empty(),
        "nothing listed when a platform is missing: {}",
        s(&o.stdout)
    );
}

#[test]
fn bad_sources_and_destinations_say_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("notes.txt");
    std::fs::write(&junk, "hello").unwrap();
    let o = push(&[&p(&junk), "--to", "10.0.0.5:5000/apm", "--dry-run"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        s(&o.stderr).contains("neither a tar archive"),
        "{}",
        s(&o.stderr)
    );

    let o = push(&[
        &p(&dir.path().join("missing.tar.gz")),
        "--to",
        "10.0.0.5:5000/apm",
        "--dry-run",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(s(&o.stderr).contains("missing.tar.gz"), "{}", s(&o.stderr));

    let (archive, _) = vendor_archive(dir.path());
    let o = push(&[&p(&archive), "--to", "apm", "--dry-run"]);
    assert_ne!(o.status.code(), Some(0));
    assert!(
        s(&o.stderr).contains("HOST[:PORT]/PROJECT"),
        "{}",
        s(&o.stderr)
    );

    // A truncated download.
    let bytes = std::fs::read(&archive).unwrap();
    let cut = dir.path().join("cut.tar.gz");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let o = push(&[&p(&cut), "--to", "10.0.0.5:5000/apm", "--dry-run"]);
    assert_eq!(o.status.code(), Some(1), "{}", s(&o.stdout));
    assert!(!s(&o.stderr).contains("panicked"), "{}", s(&o.stderr));
}
