//! `images push` where things get in the way: a proxy that answers 413 to
//! large bodies, one that fails requests (503, connection resets), archives
//! in shapes the first tests do not build (containerd-store `docker save`,
//! a `ctr export` layout with a partial index, a vendor .tgz with `./`
//! paths, gzip'd docker save tars and a multi-image newer-layout tar), an
//! unpacked directory, and a plain-HTTP registry without --http-registry.
//! All against the real docker-registry; results checked with skopeo.
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::images_push::{
    by_destination, copy_and_verify, generate, json_of, p, platforms_of, push_in, raw, s, sha256,
};
use crate::support::fault_proxy::FaultProxy;
use crate::support::registry::{Auth, Registry};

/// Every distinct blob (config and layers, all platforms) of the image
/// skopeo copied into the OCI layout `dir`: digest -> size, read from the
/// layout's manifests (not from our report).
fn blobs_of(dir: &Path) -> BTreeMap<String, u64> {
    let read = |d: &str| -> Value {
        let b = std::fs::read(
            dir.join("blobs/sha256")
                .join(d.trim_start_matches("sha256:")),
        )
        .unwrap();
        serde_json::from_slice(&b).unwrap()
    };
    let index: Value =
        serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
    let top = read(index["manifests"][0]["digest"].as_str().unwrap());
    let manifests: Vec<Value> = match top.get("manifests") {
        Some(list) => list
            .as_array()
            .unwrap()
            .iter()
            .map(|m| read(m["digest"].as_str().unwrap()))
            .collect(),
        None => vec![top],
    };
    let mut out = BTreeMap::new();
    for m in manifests {
        for d in std::iter::once(&m["config"]).chain(m["layers"].as_array().unwrap()) {
            out.insert(
                d["digest"].as_str().unwrap().to_string(),
                d["size"].as_u64().unwrap(),
            );
        }
    }
    out
}

fn count(reqs: &[Value], method: &str, action: &str) -> usize {
    reqs.iter()
        .filter(|r| r["method"] == method && r["action"] == action)
        .count()
}

#[test]
fn a_proxy_refusing_large_bodies_gets_chunks_and_json_counts_add_up() {
    const LIMIT: u64 = 1_000_000;
    let reg = Registry::plain();
    let dir = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let proxy = FaultProxy::start(dir.path(), &reg.host(), Some(LIMIT), &[]);
    let archive = dir.path().join("tingyun-k8s-images-3.5.0.0.tar.gz");
    // Layers of 3 MiB, half random: ~1.6 MB compressed, above the limit.
    generate(&[
        "--kind",
        "vendor",
        "--out",
        &p(&archive),
        "--image",
        "tingyunagent/k8s-uniagent:3.5.0.0",
        "--image",
        "tingyunagent/k8s-init:3.5.0.0",
        "--image",
        "tingyunagent/k8s-collector:3.5.0.0",
        "--layer-size",
        "3M",
        "--shared-base",
    ]);
    let host = proxy.host();
    let args = [
        p(&archive),
        "--to".into(),
        format!("{host}/apm"),
        "--http-registry".into(),
        host.clone(),
        "-o".into(),
        "json".into(),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let v = json_of(&push_in(home.path(), &args, None));

    let reqs = proxy.requests();
    assert!(
        reqs.iter().any(|r| r["action"] == "413"),
        "the proxy refused a body: {reqs:?}"
    );
    assert!(
        reqs.iter()
            .any(|r| r["method"] == "PATCH" && r["action"] == "forwarded" && r["status"] == 202),
        "chunks went through: {reqs:?}"
    );
    for r in &reqs {
        if r["action"] == "forwarded" {
            assert!(
                r["length"].as_u64().unwrap_or(0) <= LIMIT,
                "only bodies within the limit reach the registry: {r}"
            );
        }
    }

    // What the registry holds (read directly, not through the proxy).
    let got = by_destination(&v);
    assert_eq!(got.len(), 3, "{v}");
    let mut all_blobs = BTreeMap::new();
    for (dest, img) in &got {
        let repo_tag = dest.strip_prefix(&format!("{host}/")).unwrap();
        let (bytes, index) = raw(&reg, repo_tag, None);
        assert_eq!(img["digest"], json!(sha256(&bytes)), "{dest}");
        assert_eq!(img["mediaType"], index["mediaType"], "{dest}");
        assert_eq!(
            platforms_of(&index),
            ["linux/amd64", "linux/arm64"],
            "{dest}"
        );
        let copied = copy_and_verify(&reg, repo_tag, None);
        // -o json: every blob of the image is either uploaded or skipped
        // (mounted from another repository of the run, or present).
        let blobs = blobs_of(&copied);
        let up = img["blobsUploaded"].as_u64().unwrap();
        let skipped = img["blobsSkipped"].as_u64().unwrap();
        assert_eq!(
            (up + skipped) as usize,
            blobs.len(),
            "{dest}: uploaded + skipped = the image's distinct blobs: {img}"
        );
        let src = img["source"].as_str().unwrap();
        assert!(src.contains("tingyun-k8s-images-3.5.0.0.tar.gz!"), "{src}");
        all_blobs.extend(blobs);
    }
    // Bytes uploaded over the run: each distinct blob once (the shared base
    // layer is mounted, not sent again).
    let bytes: u64 = got
        .values()
        .map(|i| i["bytesUploaded"].as_u64().unwrap())
        .sum();
    assert_eq!(bytes, all_blobs.values().sum::<u64>(), "{v}");
    let uploaded: u64 = got
        .values()
        .map(|i| i["blobsUploaded"].as_u64().unwrap())
        .sum();
    assert_eq!(uploaded as usize, all_blobs.len(), "{v}");
}

#[test]
fn failed_requests_and_connection_resets_are_retried() {
    let reg = Registry::plain();
    let dir = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    // The first HEADs and POSTs are reset, the first PUTs get 503 then a
    // reset: each would end a push that does not retry.
    let proxy = FaultProxy::start(
        dir.path(),
        &reg.host(),
        None,
        &[
            "HEAD:2:reset",
            "POST:2:reset",
            "PUT:2:503",
            "PUT:1:reset",
            "PUT:1:502",
        ],
    );
    let archive = dir.path().join("a.tar");
    generate(&[
        "--kind",
        "oci-tar",
        "--out",
        &p(&archive),
        "--image",
        "tingyun/agent:6.0",
        "--layer-size",
        "600K",
    ]);
    let host = proxy.host();
    let args = [
        p(&archive),
        "--to".into(),
        format!("{host}/apm"),
        "--http-registry".into(),
        host.clone(),
        "--jobs".into(),
        "2".into(),
        "-o".into(),
        "json".into(),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let v = json_of(&push_in(home.path(), &args, None));
    let reqs = proxy.requests();
    assert_eq!(count(&reqs, "HEAD", "reset"), 2, "{reqs:?}");
    assert_eq!(count(&reqs, "POST", "reset"), 2, "{reqs:?}");
    assert_eq!(count(&reqs, "PUT", "503"), 2, "{reqs:?}");
    assert_eq!(count(&reqs, "PUT", "reset"), 1, "{reqs:?}");
    assert_eq!(count(&reqs, "PUT", "502"), 1, "{reqs:?}");
    let img = &v["images"][0];
    let (bytes, index) = raw(&reg, "apm/agent:6.0", None);
    assert_eq!(img["digest"], json!(sha256(&bytes)));
    assert_eq!(platforms_of(&index), ["linux/amd64", "linux/arm64"]);
    copy_and_verify(&reg, "apm/agent:6.0", None);

    // A registry that keeps failing: a bounded number of tries, then an
    // error naming the repository and the answer, not a hang or a panic.
    let broken_dir = dir.path().join("broken");
    std::fs::create_dir(&broken_dir).unwrap();
    let broken = FaultProxy::start(&broken_dir, &reg.host(), None, &["*:100000:503"]);
    let host = broken.host();
    let args = [
        p(&archive),
        "--to".into(),
        format!("{host}/other"),
        "--http-registry".into(),
        host.clone(),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let started = Instant::now();
    let o = push_in(home.path(), &args, None);
    assert_eq!(o.status.code(), Some(1), "{}", s(&o.stdout));
    let err = s(&o.stderr);
    assert!(err.contains("other/agent") && err.contains("503"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "gave up in {:?}",
        started.elapsed()
    );
}

#[test]
fn held_out_shapes_to_a_token_registry_then_nothing_on_a_re_run() {
    let users = json!({
        "pusher": {"password": "push-pw", "access": {"*": ["pull", "push"]}},
    });
    let reg = Registry::start(Auth::Token(users), false);
    let creds = Some(("pusher", "push-pw"));
    let dir = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let d = dir.path();

    // A vendor .tgz: ./-prefixed paths, gzip'd classic docker save tars per
    // image for amd64 (tags -amd64), one newer-layout docker save of every
    // image for arm64 (tags _arm64).
    let flat = d.join("tingyun-apm-k8s-4.1.0.tgz");
    let flat_report = generate(&[
        "--kind",
        "vendor-flat",
        "--out",
        &p(&flat),
        "--image",
        "tingyunagent/k8s-uniagent:4.1.0",
        "--image",
        "tingyunagent/k8s-init:4.1.0",
        "--layer-size",
        "200K",
        "--layers",
        "3",
        "--shared-base",
    ]);
    // docker save by Docker with the containerd image store: the index lists
    // amd64 and arm64, the archive holds arm64 only (gzip layers).
    let ctrd = d.join("collector-arm64.tar");
    let ctrd_report = generate(&[
        "--kind",
        "docker-save-containerd",
        "--out",
        &p(&ctrd),
        "--image",
        "tingyunagent/k8s-collector:4.1.0",
        "--platform",
        "linux/arm64",
        "--platform",
        "linux/amd64",
        "--layer-size",
        "200K",
    ]);
    // ctr export --skip-manifest-json of the amd64 side: an OCI layout whose
    // index lists both platforms, with the amd64 blobs only.
    let ctr = d.join("collector-amd64.tar");
    let ctr_report = generate(&[
        "--kind",
        "docker-save-containerd",
        "--skip-manifest-json",
        "--out",
        &p(&ctr),
        "--image",
        "tingyunagent/k8s-collector:4.1.0",
        "--platform",
        "linux/amd64",
        "--platform",
        "linux/arm64",
        "--layer-size",
        "200K",
    ]);

    let host = reg.host();
    let args = [
        p(&flat),
        p(&ctrd),
        p(&ctr),
        "--to".into(),
        format!("{host}/apm"),
        "--http-registry".into(),
        host.clone(),
        "--username".into(),
        "pusher".into(),
        "--password-stdin".into(),
        "-o".into(),
        "json".into(),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let v = json_of(&push_in(home.path(), &args, Some("push-pw\n")));
    let got = by_destination(&v);
    let names: Vec<&str> = got.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            format!("{host}/apm/k8s-collector:4.1.0"),
            format!("{host}/apm/k8s-init:4.1.0"),
            format!("{host}/apm/k8s-uniagent:4.1.0"),
        ]
    );
    for (dest, img) in &got {
        let repo_tag = dest.strip_prefix(&format!("{host}/")).unwrap();
        let (bytes, index) = raw(&reg, repo_tag, creds);
        assert_eq!(img["digest"], json!(sha256(&bytes)), "{dest}");
        assert_eq!(
            index["mediaType"], "application/vnd.docker.distribution.manifest.list.v2+json",
            "{dest}: docker save images make a Docker manifest list"
        );
        assert_eq!(
            platforms_of(&index),
            ["linux/amd64", "linux/arm64"],
            "{dest}"
        );
        copy_and_verify(&reg, repo_tag, creds);
    }
    // The platform manifests carry the generator's configs; the gzip layers
    // of the containerd-store and ctr archives are pushed as they are.
    let reports = [&flat_report, &ctrd_report, &ctr_report];
    let (_, list) = raw(&reg, "apm/k8s-collector:4.1.0", creds);
    for m in list["manifests"].as_array().unwrap() {
        let (_, pm) = raw(
            &reg,
            &format!("apm/k8s-collector@{}", m["digest"].as_str().unwrap()),
            creds,
        );
        let config = pm["config"]["digest"].as_str().unwrap();
        let source = reports
            .iter()
            .flat_map(|r| r["images"].as_array().unwrap())
            .find(|i| i["config"] == json!(config))
            .unwrap_or_else(|| panic!("config {config} is not one the generator wrote"));
        let layers: Vec<&str> = pm["layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["digest"].as_str().unwrap())
            .collect();
        let want: Vec<&str> = source["layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.as_str().unwrap())
            .collect();
        assert_eq!(layers, want, "gzip layers keep their digests");
        assert_eq!(
            m["platform"]["architecture"],
            json!(
                source["platform"]
                    .as_str()
                    .unwrap()
                    .rsplit('/')
                    .next()
                    .unwrap()
            )
        );
    }
    // Re-run: nothing uploaded, and it says so; also without the push cache.
    let again = push_in(home.path(), &args[..10], Some("push-pw\n"));
    assert!(again.status.success(), "{}", s(&again.stderr));
    assert!(
        s(&again.stdout).contains("nothing uploaded"),
        "{}",
        s(&again.stdout)
    );
    let other_home = tempfile::tempdir().unwrap();
    let v2 = json_of(&push_in(other_home.path(), &args, Some("push-pw\n")));
    for (dest, img) in by_destination(&v2) {
        assert_eq!(img["blobsUploaded"], 0, "{dest}: {img}");
        assert_eq!(img["digest"], got[&dest]["digest"], "{dest}");
    }
}

#[test]
fn an_unpacked_vendor_directory_reads_like_the_archive() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let flat = d.join("pkg.tgz");
    generate(&[
        "--kind",
        "vendor-flat",
        "--out",
        &p(&flat),
        "--image",
        "tingyunagent/k8s-uniagent:4.1.0",
        "--image",
        "tingyunagent/k8s-init:4.1.0",
    ]);
    let unpacked = d.join("unpacked");
    std::fs::create_dir(&unpacked).unwrap();
    let st = Command::new("tar")
        .arg("-xzf")
        .arg(&flat)
        .arg("-C")
        .arg(&unpacked)
        .status()
        .unwrap();
    assert!(st.success());
    let plan = |src: &Path| {
        let v = json_of(&push_in(
            d,
            &[
                &p(src),
                "--to",
                "10.1.2.3:5000/apm",
                "--dry-run",
                "-o",
                "json",
            ],
            None,
        ));
        by_destination(&v)
            .into_iter()
            .map(|(k, i)| (k, (i["platforms"].clone(), i["mediaType"].clone())))
            .collect::<BTreeMap<_, _>>()
    };
    let from_archive = plan(&flat);
    assert_eq!(from_archive.len(), 2, "{from_archive:?}");
    for (dest, (platforms, _)) in &from_archive {
        assert_eq!(platforms, &json!(["linux/amd64", "linux/arm64"]), "{dest}");
    }
    assert_eq!(plan(&unpacked.join("pkg")), from_archive);
}

#[test]
fn a_plain_http_registry_without_the_flag_is_named() {
    let reg = Registry::plain();
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("a.tar");
    generate(&[
        "--kind",
        "docker-save",
        "--out",
        &p(&archive),
        "--image",
        "tingyun/agent:1.0",
    ]);
    let host = reg.host();
    let o = push_in(
        dir.path(),
        &[&p(&archive), "--to", &format!("{host}/apm")],
        None,
    );
    assert_eq!(o.status.code(), Some(1), "{}", s(&o.stdout));
    let err = s(&o.stderr);
    assert!(
        err.contains("plain HTTP") && err.contains(&format!("--http-registry {host}")),
        "{err}"
    );
    // With the flag it goes through.
    let o = push_in(
        dir.path(),
        &[
            &p(&archive),
            "--to",
            &format!("{host}/apm"),
            "--http-registry",
            &host,
        ],
        None,
    );
    assert!(o.status.success(), "{}", s(&o.stderr));
    let (_, m) = raw(&reg, "apm/agent:1.0", None);
    assert_eq!(
        m["mediaType"],
        "application/vnd.docker.distribution.manifest.v2+json"
    );
}

/// `--dry-run` contacts no registry: the proxy in front of a real registry
/// logs every request it sees, and it sees none; the plan is still listed.
#[test]
fn a_dry_run_sends_no_request_to_the_registry() {
    let reg = Registry::plain();
    let dir = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let proxy = FaultProxy::start(dir.path(), &reg.host(), None, &[]);
    let archive = dir.path().join("tingyun-k8s-images-3.5.0.0.tar.gz");
    generate(&[
        "--kind",
        "vendor",
        "--out",
        &p(&archive),
        "--image",
        "tingyunagent/k8s-uniagent:3.5.0.0",
    ]);
    let host = proxy.host();
    let to = format!("{host}/apm");
    let o = push_in(
        home.path(),
        &[
            &p(&archive),
            "--to",
            &to,
            "--http-registry",
            &host,
            "--dry-run",
            "-o",
            "json",
        ],
        None,
    );
    let got = by_destination(&json_of(&o));
    assert_eq!(
        got.keys().cloned().collect::<Vec<_>>(),
        [format!("{host}/apm/k8s-uniagent:3.5.0.0")]
    );
    // give a stray request time to be logged before looking
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        proxy.requests(),
        Vec::<Value>::new(),
        "a dry run reached the registry"
    );
}
