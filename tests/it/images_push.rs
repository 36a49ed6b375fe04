//! `kubectl tingyun images push` as a user runs it, on archives the tests
//! build themselves with scripts/gen-image-archive.py (docker save classic
//! and OCI-inside layouts, OCI layouts as directory and tar, a vendor-style
//! .tar.gz with nested tars). Expected digests come from the generator's
//! own report and from skopeo, never from the code under test.
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};

use crate::support;
use crate::support::registry::{Auth, Registry, require_tool};

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
pub(crate) fn generate(args: &[&str]) -> Value {
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
    push_in(&std::env::temp_dir(), args, None)
}

/// Run `images push` with HOME (and so the push cache) at `home`, feeding `stdin`.
pub(crate) fn push_in(home: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    use std::io::Write as _;
    let mut child = Command::new(BIN)
        .args(["images", "push"])
        .args(args)
        .env("HOME", home)
        .env_remove("XDG_CACHE_HOME")
        .env_remove("DOCKER_CONFIG")
        .env_remove("REGISTRY_AUTH_FILE")
        .env_remove("TINGYUN_REGISTRY_PASSWORD")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run kubectl-tingyun");
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    child.wait_with_output().unwrap()
}

pub(crate) fn s(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

pub(crate) fn p(path: &Path) -> String {
    path.display().to_string()
}

pub(crate) fn json_of(o: &Output) -> Value {
    assert!(
        o.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status,
        s(&o.stdout),
        s(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", s(&o.stdout)))
}

pub(crate) fn by_destination(v: &Value) -> std::collections::BTreeMap<String, Value> {
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

pub(crate) fn sha256(b: &[u8]) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, b);
    let hex: String = d.as_ref().iter().map(|x| format!("{x:02x}")).collect();
    format!("sha256:{hex}")
}

/// skopeo's flags to read from `reg` (TLS via a cert dir, or no verification).
fn skopeo_src(reg: &Registry, creds: Option<(&str, &str)>) -> Vec<String> {
    let mut args = Vec::new();
    if reg.tls {
        let certs = reg.dir.path().join("skopeo-src-certs");
        std::fs::create_dir_all(&certs).unwrap();
        std::fs::copy(reg.ca_file(), certs.join("ca.crt")).unwrap();
        args.push(format!("--src-cert-dir={}", certs.display()));
    } else {
        args.push("--src-tls-verify=false".into());
    }
    if let Some((u, p)) = creds {
        let file = reg.dir.path().join("skopeo-src-auth.json");
        support::registry::write_auth_json(&file, &reg.host(), u, p);
        args.push(format!("--src-authfile={}", file.display()));
    }
    args
}

/// `skopeo inspect --raw` of REPO:TAG.
pub(crate) fn raw(reg: &Registry, repo_tag: &str, creds: Option<(&str, &str)>) -> (Vec<u8>, Value) {
    let bytes = reg.skopeo_raw(repo_tag, creds);
    let v = serde_json::from_slice(&bytes).expect("manifest JSON");
    (bytes, v)
}

/// `skopeo copy --all docker://... oci:DIR` — checks every blob's digest
/// — then the diff_ids of every layer (decompressed here) against its config.
pub(crate) fn copy_and_verify(
    reg: &Registry,
    repo_tag: &str,
    creds: Option<(&str, &str)>,
) -> PathBuf {
    require_tool("skopeo");
    let dir = reg
        .dir
        .path()
        .join(format!("copy-{}", repo_tag.replace(['/', ':'], "_")));
    let out = Command::new("skopeo")
        .args(["copy", "-q", "--all"])
        .args(skopeo_src(reg, creds))
        .arg(format!("docker://{}/{repo_tag}", reg.host()))
        .arg(format!("oci:{}:x", dir.display()))
        .env_remove("REGISTRY_AUTH_FILE")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "skopeo copy {repo_tag}: {}",
        s(&out.stderr)
    );
    let blob = |d: &str| {
        std::fs::read(
            dir.join("blobs/sha256")
                .join(d.trim_start_matches("sha256:")),
        )
        .unwrap()
    };
    let index: Value =
        serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
    let top = index["manifests"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let top: Value = serde_json::from_slice(&blob(&top)).unwrap();
    let manifests: Vec<Value> = match top.get("manifests") {
        Some(list) => list
            .as_array()
            .unwrap()
            .iter()
            .map(|m| serde_json::from_slice(&blob(m["digest"].as_str().unwrap())).unwrap())
            .collect(),
        None => vec![top],
    };
    for m in manifests {
        let config: Value =
            serde_json::from_slice(&blob(m["config"]["digest"].as_str().unwrap())).unwrap();
        let diff_ids = config["rootfs"]["diff_ids"].as_array().unwrap();
        let layers = m["layers"].as_array().unwrap();
        assert_eq!(diff_ids.len(), layers.len());
        for (l, want) in layers.iter().zip(diff_ids) {
            let data = blob(l["digest"].as_str().unwrap());
            let plain = if data.starts_with(&[0x1f, 0x8b]) {
                let mut v = Vec::new();
                std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&data[..]), &mut v)
                    .unwrap();
                v
            } else {
                data
            };
            assert_eq!(&json!(sha256(&plain)), want, "{repo_tag}: layer diff_id");
        }
    }
    dir
}

pub(crate) fn platforms_of(index: &Value) -> Vec<String> {
    let mut v: Vec<String> = index["manifests"]
        .as_array()
        .expect("an index")
        .iter()
        .map(|m| {
            format!(
                "{}/{}",
                m["platform"]["os"].as_str().unwrap(),
                m["platform"]["architecture"].as_str().unwrap()
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn vendor_archive_to_a_plain_registry_then_nothing_on_a_re_run() {
    let reg = Registry::plain();
    let home = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (archive, report) = vendor_archive(dir.path());
    let host = reg.host();
    let to = format!("{host}/apm");
    let args = [
        p(&archive),
        "--to".into(),
        to.clone(),
        "--http-registry".into(),
        host.clone(),
        "-o".into(),
        "json".into(),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let first = json_of(&push_in(home.path(), &args, None));
    let got = by_destination(&first);
    assert_eq!(got.len(), 3);
    for (dest, img) in &got {
        let repo_tag = dest.strip_prefix(&format!("{host}/")).unwrap();
        let (bytes, index) = raw(&reg, repo_tag, None);
        assert_eq!(
            img["digest"],
            json!(sha256(&bytes)),
            "{dest}: the reported digest is what the tag points at"
        );
        assert_eq!(img["mediaType"], index["mediaType"], "{dest}");
        assert_eq!(
            platforms_of(&index),
            ["linux/amd64", "linux/arm64"],
            "{dest}"
        );
        assert!(img["blobsUploaded"].as_u64().unwrap() > 0, "{dest}: {img}");
        copy_and_verify(&reg, repo_tag, None);
    }
    // The docker save images: one Docker manifest list whose platform
    // manifests carry the generator's configs.
    let (_, init) = raw(&reg, "apm/k8s-init:3.4.0.0", None);
    assert_eq!(
        init["mediaType"],
        "application/vnd.docker.distribution.manifest.list.v2+json"
    );
    let configs: Vec<String> = init["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let (_, pm) = raw(
                &reg,
                &format!("apm/k8s-init@{}", m["digest"].as_str().unwrap()),
                None,
            );
            assert_eq!(
                pm["mediaType"],
                "application/vnd.docker.distribution.manifest.v2+json"
            );
            pm["config"]["digest"].as_str().unwrap().to_string()
        })
        .collect();
    for c in &configs {
        assert!(
            report["images"]
                .as_array()
                .unwrap()
                .iter()
                .any(|i| i["config"] == json!(c)
                    && i["image"].as_str().unwrap().contains("k8s-init")),
            "config {c} is one the generator wrote"
        );
    }
    // The nested OCI layout kept its index digest.
    let index_digest = report["images"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|i| i.get("index"))
        .unwrap();
    let (bytes, _) = raw(&reg, "apm/k8s-uniagent:3.4.0.0", None);
    assert_eq!(&json!(sha256(&bytes)), index_digest);

    // Re-run: nothing uploaded, and it says so.
    let again = push_in(home.path(), &args[..5], None);
    assert!(again.status.success(), "{}", s(&again.stderr));
    assert!(
        s(&again.stdout).contains("nothing uploaded"),
        "{}",
        s(&again.stdout)
    );
    // Also without the cache (another HOME): the registry is asked blob by blob.
    let other_home = tempfile::tempdir().unwrap();
    let v = json_of(&push_in(other_home.path(), &args, None));
    for (dest, img) in by_destination(&v) {
        assert_eq!(img["blobsUploaded"], 0, "{dest}: {img}");
        assert_eq!(img["bytesUploaded"], 0, "{dest}");
        assert_eq!(
            img["digest"], got[&dest]["digest"],
            "{dest}: same digest on a re-run"
        );
    }
}

#[test]
fn basic_auth_over_tls_with_a_robot_account() {
    const ROBOT: &str = "robot$apm+push";
    const PASSWORD: &str = "p$a+s:s\"w0rd";
    let reg = Registry::start(Auth::Basic(vec![(ROBOT.into(), PASSWORD.into())]), true);
    let home = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("layout.tar");
    let report = generate(&[
        "--kind",
        "oci-tar",
        "--out",
        &p(&out),
        "--image",
        "tingyun/agent:1.0",
        "--layer-size",
        "400K",
    ]);
    let to = format!("{}/apm", reg.host());
    let ca = p(&reg.ca_file());
    let base = [
        p(&out),
        "--to".into(),
        to.clone(),
        "--ca-file".into(),
        ca.clone(),
        "-o".into(),
        "json".into(),
    ];
    let base: Vec<&str> = base.iter().map(String::as_str).collect();

    // No credentials: refused, naming the repository.
    let o = push_in(home.path(), &base, None);
    assert_eq!(o.status.code(), Some(1), "{}", s(&o.stdout));
    let err = s(&o.stderr);
    assert!(err.contains("apm/agent"), "{err}");
    // Wrong password (from the environment is tested by the secret tests; stdin here).
    let mut with_user = base.clone();
    with_user.extend(["--username", ROBOT, "--password-stdin"]);
    let o = push_in(home.path(), &with_user, Some("wrong\n"));
    assert_eq!(o.status.code(), Some(1));
    assert!(
        !s(&o.stderr).contains("wrong"),
        "never print the password: {}",
        s(&o.stderr)
    );
    // Right password: pushed, the OCI index digest kept.
    let v = json_of(&push_in(
        home.path(),
        &with_user,
        Some(&format!("{PASSWORD}\n")),
    ));
    let img = &v["images"][0];
    let index_digest = report["images"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|i| i.get("index"))
        .unwrap();
    assert_eq!(&img["digest"], index_digest);
    let (bytes, _) = raw(&reg, "apm/agent:1.0", Some((ROBOT, PASSWORD)));
    assert_eq!(&json!(sha256(&bytes)), index_digest);
    copy_and_verify(&reg, "apm/agent:1.0", Some((ROBOT, PASSWORD)));
}

#[test]
fn token_auth_pull_only_robot_is_told_and_pusher_succeeds() {
    let users = json!({
        "pusher": {"password": "push-pw", "access": {"*": ["pull", "push"]}},
        "robot$apm+pull": {"password": "pull-pw", "access": {"apm/*": ["pull"]}},
    });
    let reg = Registry::start(Auth::Token(users), false);
    let home = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a-amd64.tar");
    let b = dir.path().join("a-arm64.tar");
    generate(&[
        "--kind",
        "docker-save",
        "--out",
        &p(&a),
        "--image",
        "tingyun/agent:2.0-amd64",
        "--platform",
        "linux/amd64",
        "--layer-size",
        "300K",
    ]);
    generate(&[
        "--kind",
        "docker-save-oci",
        "--out",
        &p(&b),
        "--image",
        "tingyun/agent:2.0-arm64",
        "--platform",
        "linux/arm64",
        "--layer-size",
        "300K",
    ]);
    let to = format!("{}/apm", reg.host());
    let host = reg.host();
    let base = [
        p(&a),
        p(&b),
        "--to".into(),
        to,
        "--http-registry".into(),
        host,
        "-o".into(),
        "json".into(),
        "--username".into(),
    ];
    let mut robot: Vec<&str> = base.iter().map(String::as_str).collect();
    robot.extend(["robot$apm+pull", "--password-stdin"]);
    let o = push_in(home.path(), &robot, Some("pull-pw"));
    assert_eq!(o.status.code(), Some(1), "{}", s(&o.stdout));
    let err = s(&o.stderr);
    assert!(err.contains("apm/agent") && err.contains("push"), "{err}");

    let mut pusher: Vec<&str> = base.iter().map(String::as_str).collect();
    pusher.extend(["pusher", "--password-stdin"]);
    let v = json_of(&push_in(home.path(), &pusher, Some("push-pw")));
    assert_eq!(
        v["images"][0]["destination"],
        format!("{}/apm/agent:2.0", reg.host())
    );
    let (_, index) = raw(&reg, "apm/agent:2.0", Some(("pusher", "push-pw")));
    assert_eq!(
        index["mediaType"],
        "application/vnd.docker.distribution.manifest.list.v2+json"
    );
    assert_eq!(platforms_of(&index), ["linux/amd64", "linux/arm64"]);
    copy_and_verify(&reg, "apm/agent:2.0", Some(("pusher", "push-pw")));
}

#[test]
fn an_interrupted_push_resumes_with_what_is_missing() {
    let reg = Registry::plain();
    let home = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("big.tar.gz");
    generate(&[
        "--kind",
        "vendor",
        "--out",
        &p(&out),
        "--image",
        "tingyun/a:1",
        "--image",
        "tingyun/b:1",
        "--image",
        "tingyun/c:1",
        "--layers",
        "3",
        "--layer-size",
        "3M",
    ]);
    let host = reg.host();
    let to = format!("{host}/apm");
    let args = [
        p(&out),
        "--to".into(),
        to,
        "--http-registry".into(),
        host,
        "--jobs".into(),
        "1".into(),
    ];
    let mut args: Vec<&str> = args.iter().map(String::as_str).collect();
    // Start, and kill it after the first blob is uploaded.
    let mut child = Command::new(BIN)
        .args(["images", "push"])
        .args(&args)
        .env("HOME", home.path())
        .env_remove("XDG_CACHE_HOME")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(child.stderr.take().unwrap()));
    let first = lines.next().expect("a progress line").unwrap();
    assert!(first.starts_with("uploaded sha256:"), "{first}");
    child.kill().unwrap();
    child.wait().unwrap();
    // The re-run skips what the first run uploaded and finishes.
    args.extend(["-o", "json"]);
    let v = json_of(&push_in(home.path(), &args, None));
    let skipped: u64 = v["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["blobsSkipped"].as_u64().unwrap())
        .sum();
    let uploaded: u64 = v["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["blobsUploaded"].as_u64().unwrap())
        .sum();
    assert!(skipped >= 1, "{v}");
    assert!(uploaded >= 1, "{v}");
    for img in v["images"].as_array().unwrap() {
        let dest = img["destination"].as_str().unwrap();
        let repo_tag = dest.split_once('/').unwrap().1;
        copy_and_verify(&reg, repo_tag, None);
    }
}
