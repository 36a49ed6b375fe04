//! The registry client (`kubectl_tingyun::registry`) against the real CNCF
//! distribution registry (Debian's docker-registry 2.8) on loopback: plain,
//! Basic (htpasswd bcrypt), TLS with a generated CA, and Bearer tokens from
//! a token service. Images are built here and pushed with the real skopeo;
//! expected digests and media types come from the layouts we wrote and from
//! `skopeo inspect --raw`, not from the code under test.
use crate::support;

use std::time::Duration;

use crate::support::registry::{Auth, Layout, Registry};
use kubectl_tingyun::image::{Host, ImageRef, Platform};
use kubectl_tingyun::registry::check::{Wanted, check_image};
use kubectl_tingyun::registry::client::{DOCKER_LIST, MANIFEST_ACCEPT, OCI_INDEX, sha256_digest};
use kubectl_tingyun::registry::{
    Client, CredentialStore, Credentials, RegistryOptions, Status, TlsOptions,
};
use serde_json::json;

const ROBOT: &str = "robot$tingyun+pull";
const ROBOT_PASSWORD: &str = "p$a+s:s\"w0rd";

fn options() -> RegistryOptions {
    RegistryOptions {
        tls: TlsOptions {
            no_system_roots: true,
            ..Default::default()
        },
        timeout: Duration::from_secs(10),
        connect_timeout: Duration::from_secs(5),
        ..Default::default()
    }
}

fn with_creds(mut o: RegistryOptions, user: &str, pass: &str) -> RegistryOptions {
    let mut store = CredentialStore::new();
    store.push_fixed(Credentials::new(user, pass), "--username");
    o.credentials = store;
    o
}

fn http(o: RegistryOptions, reg: &Registry) -> RegistryOptions {
    let mut o = o;
    o.tls.http = vec![Host::parse(&reg.host()).unwrap()];
    o
}

fn wanted(ps: &[&str]) -> Vec<Wanted> {
    ps.iter()
        .map(|p| Wanted {
            platform: Platform::parse(p).unwrap(),
            nodes: vec![],
        })
        .collect()
}

fn img(reg: &Registry, rest: &str) -> ImageRef {
    ImageRef::parse(&format!("{}/{rest}", reg.host())).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_registry_multi_arch_single_arch_and_missing() {
    let reg = Registry::plain();
    let multi = Layout::new(&["linux/amd64", "linux/arm64/v8"], true, false);
    reg.push(&multi, "tingyun/agent:1.0", None);
    let single = Layout::new(&["linux/amd64"], false, false);
    reg.push(&single, "tingyun/single:1.0", None);
    let client = Client::new(http(options(), &reg)).unwrap();

    // The index, as skopeo sees it, byte for byte.
    let m = client
        .manifest(&img(&reg, "tingyun/agent:1.0"), MANIFEST_ACCEPT)
        .await
        .unwrap();
    assert_eq!(m.media_type, OCI_INDEX);
    assert_eq!(m.digest, multi.digest);
    assert_eq!(m.body, reg.skopeo_raw("tingyun/agent:1.0", None));

    let c = check_image(
        &client,
        &img(&reg, "tingyun/agent:1.0"),
        &wanted(&["linux/amd64", "linux/arm64"]),
    )
    .await;
    assert_eq!(c.status, Status::Ok, "{c:?}");
    let ps: Vec<String> = c.platforms.iter().map(|p| p.to_string()).collect();
    assert_eq!(ps, ["linux/amd64", "linux/arm64/v8"]);
    assert_eq!(c.digest.as_deref(), Some(multi.digest.as_str()));

    // Single-arch: platform from the config blob; arm64 missing.
    let c = check_image(
        &client,
        &img(&reg, "tingyun/single:1.0"),
        &[Wanted {
            platform: Platform::parse("linux/arm64").unwrap(),
            nodes: vec!["node-2".into()],
        }],
    )
    .await;
    assert_eq!(c.status, Status::PlatformMissing, "{c:?}");
    assert_eq!(c.platforms, vec![Platform::parse("linux/amd64").unwrap()]);
    assert_eq!(
        c.missing_platforms,
        vec![Platform::parse("linux/arm64").unwrap()]
    );
    assert!(c.message.contains("node-2"), "{}", c.message);
    assert_eq!(c.digest.as_deref(), Some(single.digest.as_str()));

    // Missing tag and missing repository: both "missing".
    for r in ["tingyun/agent:nope", "tingyun/nothing:1.0"] {
        let c = check_image(&client, &img(&reg, r), &wanted(&["linux/amd64"])).await;
        assert_eq!(c.status, Status::Missing, "{r}: {c:?}");
        assert!(
            c.message.contains("MANIFEST_UNKNOWN") || c.message.contains("NAME_UNKNOWN"),
            "{}",
            c.message
        );
    }

    // By digest, and blobs.
    let by_digest = img(&reg, &format!("tingyun/agent@{}", multi.digest));
    let m = client.manifest(&by_digest, MANIFEST_ACCEPT).await.unwrap();
    assert_eq!(sha256_digest(&m.body), multi.digest);
    let layer = support::registry::tiny_tar("platform.txt", b"linux/amd64");
    let layer_digest = sha256_digest(&layer);
    assert_eq!(
        client
            .head_blob(&reg.host(), "tingyun/agent", &layer_digest)
            .await
            .unwrap(),
        Some(layer.len() as u64)
    );
    assert_eq!(
        client
            .head_blob(&reg.host(), "tingyun/agent", &sha256_digest(b"absent"))
            .await
            .unwrap(),
        None
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_manifest_list_is_read() {
    let reg = Registry::plain();
    let layout = Layout::new(&["linux/amd64", "linux/arm64"], true, true);
    reg.push(&layout, "tingyun/docker:2", None);
    let raw = reg.skopeo_raw("tingyun/docker:2", None);
    let v: serde_json::Value = serde_json::from_slice(&raw).unwrap();
    assert_eq!(v["mediaType"], DOCKER_LIST, "skopeo pushed {v}");
    let client = Client::new(http(options(), &reg)).unwrap();
    let m = client
        .manifest(&img(&reg, "tingyun/docker:2"), MANIFEST_ACCEPT)
        .await
        .unwrap();
    assert_eq!(m.media_type, DOCKER_LIST);
    assert_eq!(m.digest, sha256_digest(&raw));
    let c = check_image(
        &client,
        &img(&reg, "tingyun/docker:2"),
        &wanted(&["linux/arm64"]),
    )
    .await;
    assert_eq!(c.status, Status::Ok, "{c:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_auth_with_a_robot_account() {
    let reg = Registry::start(
        Auth::Basic(vec![(ROBOT.into(), ROBOT_PASSWORD.into())]),
        false,
    );
    reg.push(
        &Layout::new(&["linux/amd64"], false, false),
        "tingyun/agent:1",
        Some((ROBOT, ROBOT_PASSWORD)),
    );
    let image = img(&reg, "tingyun/agent:1");
    let want = wanted(&["linux/amd64"]);

    let anonymous = Client::new(http(options(), &reg)).unwrap();
    let c = check_image(&anonymous, &image, &want).await;
    assert_eq!(c.status, Status::Unauthorized, "{c:?}");
    assert!(c.message.contains("none were found"), "{}", c.message);

    let wrong = Client::new(http(with_creds(options(), ROBOT, "wrong"), &reg)).unwrap();
    let c = check_image(&wrong, &image, &want).await;
    assert_eq!(c.status, Status::Unauthorized, "{c:?}");
    assert!(c.message.contains("refused"), "{}", c.message);
    assert!(
        !c.message.contains("wrong"),
        "password leaked: {}",
        c.message
    );

    let right = Client::new(http(with_creds(options(), ROBOT, ROBOT_PASSWORD), &reg)).unwrap();
    let c = check_image(&right, &image, &want).await;
    assert_eq!(c.status, Status::Ok, "{c:?}");
    right.ping(&reg.host()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_unknown_ca_ca_file_and_insecure() {
    let reg = Registry::start(Auth::None, true);
    reg.push(&Layout::new(&["linux/amd64"], false, false), "a/b:1", None);
    let image = img(&reg, "a/b:1");
    let want = wanted(&["linux/amd64"]);

    let untrusted = Client::new(options()).unwrap();
    let c = check_image(&untrusted, &image, &want).await;
    assert_eq!(c.status, Status::TlsError, "{c:?}");
    assert!(c.message.contains("--ca-file"), "{}", c.message);

    let mut o = options();
    o.tls.ca_files = vec![reg.ca_file()];
    let c = check_image(&Client::new(o).unwrap(), &image, &want).await;
    assert_eq!(c.status, Status::Ok, "{c:?}");

    let mut o = options();
    o.tls.insecure = vec![Host::parse(&reg.host()).unwrap()];
    let c = check_image(&Client::new(o).unwrap(), &image, &want).await;
    assert_eq!(c.status, Status::Ok, "{c:?}");

    // Plain HTTP sent to the TLS port.
    let c = check_image(&Client::new(http(options(), &reg)).unwrap(), &image, &want).await;
    assert_ne!(c.status, Status::Ok, "{c:?}");
    assert!(c.message.contains("speaks HTTPS"), "{}", c.message);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_only_and_unreachable() {
    let reg = Registry::plain();
    reg.push(&Layout::new(&["linux/amd64"], false, false), "a/b:1", None);
    let client = Client::new(options()).unwrap();
    let c = check_image(&client, &img(&reg, "a/b:1"), &wanted(&["linux/amd64"])).await;
    assert_eq!(c.status, Status::HttpOnly, "{c:?}");
    assert!(c.message.contains("--http-registry"), "{}", c.message);

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let closed = ImageRef::parse(&format!("127.0.0.1:{port}/a/b:1")).unwrap();
    let c = check_image(&client, &closed, &wanted(&["linux/amd64"])).await;
    assert_eq!(c.status, Status::Unreachable, "{c:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bearer_tokens_per_scope_like_harbor() {
    let users = json!({
        "pusher": {"password": "push-pw", "access": {"*": ["pull", "push"]}},
        ROBOT: {"password": ROBOT_PASSWORD, "access": {"tingyun/*": ["pull"]}},
    });
    let reg = Registry::start(Auth::Token(users), false);
    let layout = Layout::new(&["linux/amd64", "linux/arm64"], true, false);
    reg.push(&layout, "tingyun/agent:1", Some(("pusher", "push-pw")));
    reg.push(&layout, "other/agent:1", Some(("pusher", "push-pw")));
    let want = wanted(&["linux/arm64"]);

    let robot = Client::new(http(with_creds(options(), ROBOT, ROBOT_PASSWORD), &reg)).unwrap();
    let before = reg.token_log().len();
    for _ in 0..3 {
        let c = check_image(&robot, &img(&reg, "tingyun/agent:1"), &want).await;
        assert_eq!(c.status, Status::Ok, "{c:?}");
        assert_eq!(c.digest.as_deref(), Some(layout.digest.as_str()));
    }
    // One token for the scope, reused (cached) by later requests.
    let log = reg.token_log();
    let mine: Vec<_> = log[before..]
        .iter()
        .filter(|e| e["user"] == ROBOT)
        .collect();
    assert_eq!(mine.len(), 1, "token requests: {mine:?}");
    assert_eq!(mine[0]["scope"], json!(["repository:tingyun/agent:pull"]));
    assert_eq!(mine[0]["service"], json!(["harbor-registry"]));

    // No pull permission on another project: the registry refuses the token.
    let c = check_image(&robot, &img(&reg, "other/agent:1"), &want).await;
    assert_eq!(c.status, Status::Unauthorized, "{c:?}");
    assert!(c.message.contains("no pull permission"), "{}", c.message);

    // Wrong password: the token service refuses.
    let bad = Client::new(http(with_creds(options(), ROBOT, "nope"), &reg)).unwrap();
    let c = check_image(&bad, &img(&reg, "tingyun/agent:1"), &want).await;
    assert_eq!(c.status, Status::Unauthorized, "{c:?}");
    assert!(c.message.contains("token service"), "{}", c.message);

    // Anonymous: the token service refuses anonymous tokens here.
    let anon = Client::new(http(options(), &reg)).unwrap();
    let c = check_image(&anon, &img(&reg, "tingyun/agent:1"), &want).await;
    assert_eq!(c.status, Status::Unauthorized, "{c:?}");
}
