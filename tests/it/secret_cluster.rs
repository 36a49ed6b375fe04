//! `kubectl tingyun secret` against the shared kube-emulator: the real
//! binary, the emulator's kubeconfig, and the requests it sent read back from
//! the emulator's request log.
use crate::support;

use std::io::Write as _;
use std::process::{Output, Stdio};

use crate::support::emulator::Emulator;
use crate::support::{stderr, stdout};
use base64::Engine as _;
use serde_json::{Value, json};

/// The emulator seen through the few questions these tests ask.
struct ApiServer(Emulator);

/// One logged request.
#[derive(Debug, Clone)]
struct Recorded {
    method: String,
    path: String,
    /// The query as `k=v&k=v`.
    query: String,
    body: String,
    content_type: String,
    raw: Value,
}

impl Recorded {
    fn param(&self, name: &str) -> Option<String> {
        self.raw["query"][name].as_str().map(String::from)
    }
    fn json(&self) -> Value {
        self.raw["body"].clone()
    }
}

impl ApiServer {
    fn start() -> Self {
        ApiServer(Emulator::start(""))
    }
    fn kubeconfig(&self) -> &std::path::Path {
        self.0.kubeconfig()
    }
    fn path(plural: &str, ns: &str) -> String {
        match plural {
            "namespaces" => "/api/v1/namespaces".into(),
            "mutatingwebhookconfigurations" => {
                "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations".into()
            }
            p if ns.is_empty() => format!("/api/v1/{p}"),
            p => format!("/api/v1/namespaces/{ns}/{p}"),
        }
    }
    fn kind(plural: &str) -> &'static str {
        match plural {
            "secrets" => "Secret",
            "namespaces" => "Namespace",
            "pods" => "Pod",
            p => panic!("no kind for {p}"),
        }
    }
    fn get(&self, plural: &str, ns: &str, name: &str) -> Option<Value> {
        self.0.object(Self::kind(plural), ns, name)
    }
    /// All objects of a kind (every namespace).
    fn list(&self, plural: &str, _ns: &str) -> Vec<Value> {
        self.0
            .objects()
            .into_iter()
            .filter(|o| o["kind"] == Self::kind(plural))
            .collect()
    }
    fn insert(&self, obj: Value) {
        let plural = match obj["kind"].as_str().unwrap() {
            "Namespace" => "namespaces",
            "Pod" => "pods",
            "MutatingWebhookConfiguration" => "mutatingwebhookconfigurations",
            k => panic!("no path for {k}"),
        };
        let ns = obj["metadata"]["namespace"].as_str().unwrap_or("");
        let (status, body) = self.0.http("POST", &Self::path(plural, ns), Some(&obj));
        assert!(status < 300, "insert: {body}");
    }
    fn requests(&self) -> Vec<Recorded> {
        self.0
            .requests()
            .into_iter()
            .filter(|r| !r["path"].as_str().unwrap_or("").starts_with("/_emulator"))
            .map(|r| Recorded {
                method: r["method"].as_str().unwrap_or("").into(),
                path: r["path"].as_str().unwrap_or("").into(),
                query: r["query"]
                    .as_object()
                    .map(|q| {
                        q.iter()
                            .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                            .collect::<Vec<_>>()
                            .join("&")
                    })
                    .unwrap_or_default(),
                body: match &r["body"] {
                    Value::Null => String::new(),
                    Value::String(s) => s.clone(),
                    v => v.to_string(),
                },
                content_type: r["contentType"].as_str().unwrap_or("").into(),
                raw: r,
            })
            .collect()
    }
    fn requests_matching(&self, method: &str, path: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == method && r.path == path)
            .collect()
    }
    /// Refuse a verb on a resource (403 with the RBAC message).
    fn deny(&self, verb: &str, resource: &str) {
        self.0
            .scenario(&json!({"forbidden": [{"verb": verb, "resource": resource}]}));
    }
    /// Every bearer token is refused with 401 from now on.
    fn reject_all_credentials(&self) {
        self.0
            .scenario(&json!({"requireToken": "not-the-kubeconfig-token"}));
        self.0.clear_requests();
    }
}

const NAME: &str = "tingyun-image-secret";
const SERVER: &str = "harbor.example.com:5000";
/// The guide's robot account, which needed escaping by hand in the shell.
const USER: &str = "robot$test+app-readonly";
/// Quotes, backslashes, colons, HTML characters (escaped by Go's encoding/json) and non-ASCII.
const PASSWORD: &str = "pa:ss\"w\\o<r>d&密码 x";

fn b64(bytes: impl AsRef<[u8]>) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

enum Password<'a> {
    Stdin(&'a str),
    Env(&'a str),
}

/// Run `secret` with `extra` arguments against `api`.
fn secret(api: &ApiServer, password: Password, extra: &[&str]) -> Output {
    let mut cmd = support::bin();
    cmd.args([
        "secret",
        "--server",
        SERVER,
        "--username",
        USER,
        "--kubeconfig",
    ])
    .arg(api.kubeconfig())
    .args(extra)
    .env_remove("TINGYUN_REGISTRY_PASSWORD")
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let stdin = match password {
        Password::Stdin(p) => {
            cmd.arg("--password-stdin").stdin(Stdio::piped());
            Some(p)
        }
        Password::Env(p) => {
            cmd.env("TINGYUN_REGISTRY_PASSWORD", p).stdin(Stdio::null());
            None
        }
    };
    let mut child = cmd.spawn().expect("run kubectl-tingyun");
    if let Some(p) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        pipe.write_all(p.as_bytes()).unwrap();
    }
    child.wait_with_output().expect("wait")
}

fn namespace(api: &ApiServer, name: &str, labels: Value) {
    api.insert(json!({"apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": name, "labels": labels}, "status": {"phase": "Active"}}));
}

fn pod(api: &ApiServer, ns: &str, name: &str, labels: Value) {
    api.insert(json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": labels},
        "spec": {"containers": [{"name": "app", "image": "shop:1"}]}}));
}

/// What `kubectl create secret docker-registry` puts in `.dockerconfigjson`.
fn expected_auths(password: &str) -> Value {
    json!({"auths": {SERVER: {
        "username": USER,
        "password": password,
        "auth": b64(format!("{USER}:{password}")),
    }}})
}

/// The stored Secret's `.dockerconfigjson`, decoded and parsed.
fn stored_config(api: &ApiServer, ns: &str) -> Value {
    let s = api
        .get("secrets", ns, NAME)
        .unwrap_or_else(|| panic!("no Secret in {ns}"));
    let encoded = s["data"][".dockerconfigjson"]
        .as_str()
        .unwrap_or_else(|| panic!("no .dockerconfigjson in {s}"));
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .expect("base64");
    serde_json::from_slice(&bytes).expect("JSON")
}

/// The same credentials through the real kubectl (required: a missing
/// kubectl fails the test).
fn kubectl_config(password: &str) -> Value {
    let v = support::kubectl_secret(NAME, None, SERVER, USER, password);
    assert_eq!(v["type"], "kubernetes.io/dockerconfigjson");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(v["data"][".dockerconfigjson"].as_str().unwrap())
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

fn secret_patches(api: &ApiServer, ns: &str) -> Vec<Recorded> {
    api.requests_matching("PATCH", &format!("/api/v1/namespaces/{ns}/secrets/{NAME}"))
}

fn is_secret_patch(r: &Recorded) -> bool {
    r.method == "PATCH" && r.path.ends_with(&format!("/secrets/{NAME}"))
}

/// Every form in which `password` could leak: raw, JSON-escaped, and inside
/// the base64 `auth` field.
fn leak_forms(password: &str) -> Vec<String> {
    let escaped = serde_json::to_string(password).unwrap();
    vec![
        password.to_string(),
        escaped[1..escaped.len() - 1].to_string(),
        b64(format!("{USER}:{password}")),
    ]
}

/// The password (and its encodings) appears nowhere but in Secret bodies.
fn assert_no_leak(api: &ApiServer, out: &Output, password: &str) {
    let mut forms = leak_forms(password);
    // The stored `.dockerconfigjson` in base64, as it travels in the Secret body.
    for s in api.list("secrets", "") {
        if let Some(d) = s["data"][".dockerconfigjson"].as_str() {
            forms.push(d.to_string());
        }
    }
    let (so, se) = (stdout(out), stderr(out));
    for f in &forms {
        assert!(
            !so.contains(f.as_str()),
            "password form {f:?} on stdout:\n{so}"
        );
        assert!(
            !se.contains(f.as_str()),
            "password form {f:?} on stderr:\n{se}"
        );
    }
    for r in api.requests() {
        for f in &forms {
            assert!(
                !r.path.contains(f.as_str()) && !r.query.contains(f.as_str()),
                "password form in the URL of {r:?}"
            );
            if !is_secret_patch(&r) {
                assert!(
                    !r.body.contains(f.as_str()),
                    "password form {f:?} in a request other than the Secret body: {r:?}"
                );
            }
        }
    }
}

#[test]
fn creates_in_several_namespaces_then_unchanged_then_configured() {
    let api = ApiServer::start();
    namespace(&api, "tingyun", json!({}));
    namespace(&api, "shop", json!({}));

    // Password from standard input.
    let out = secret(
        &api,
        Password::Stdin(PASSWORD),
        &["-n", "tingyun", "-n", "shop"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "secret/tingyun-image-secret created in namespace tingyun\n\
         secret/tingyun-image-secret created in namespace shop\n"
    );
    let reference = kubectl_config(PASSWORD);
    for ns in ["tingyun", "shop"] {
        let s = api.get("secrets", ns, NAME).unwrap();
        assert_eq!(s["type"], "kubernetes.io/dockerconfigjson", "{s}");
        assert_eq!(s["metadata"]["namespace"], ns);
        assert_eq!(
            s["data"].as_object().unwrap().len(),
            1,
            "only .dockerconfigjson: {s}"
        );
        assert_eq!(stored_config(&api, ns), expected_auths(PASSWORD), "{ns}");
        assert_eq!(
            stored_config(&api, ns),
            reference,
            "differs from kubectl in {ns}"
        );
        let patches = secret_patches(&api, ns);
        assert_eq!(patches.len(), 1, "{patches:?}");
        let p = &patches[0];
        assert_eq!(p.content_type, "application/apply-patch+yaml");
        assert_eq!(p.param("fieldManager").as_deref(), Some("kubectl-tingyun"));
        assert_eq!(p.param("force").as_deref(), Some("true"));
        assert_eq!(p.param("dryRun"), None);
        let body = p.json();
        assert_eq!(body["kind"], "Secret");
        assert_eq!(body["metadata"]["name"], NAME);
        assert_eq!(body["metadata"]["namespace"], ns);
    }
    assert!(api.get("secrets", "default", NAME).is_none());
    assert_no_leak(&api, &out, PASSWORD);

    // The same password again, now from the environment: nothing changes.
    let rv = |api: &ApiServer, ns: &str| {
        api.get("secrets", ns, NAME).unwrap()["metadata"]["resourceVersion"].clone()
    };
    let rvs = (rv(&api, "tingyun"), rv(&api, "shop"));
    let out = secret(
        &api,
        Password::Env(PASSWORD),
        &["-n", "tingyun", "-n", "shop"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "secret/tingyun-image-secret unchanged in namespace tingyun\n\
         secret/tingyun-image-secret unchanged in namespace shop\n"
    );
    assert_eq!((rv(&api, "tingyun"), rv(&api, "shop")), rvs);
    assert_no_leak(&api, &out, PASSWORD);

    // A rotated password: configured, and stored.
    let rotated = "n3w'pass word";
    let out = secret(
        &api,
        Password::Env(rotated),
        &["-n", "shop", "-n", "tingyun"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "secret/tingyun-image-secret configured in namespace shop\n\
         secret/tingyun-image-secret configured in namespace tingyun\n"
    );
    for ns in ["tingyun", "shop"] {
        assert_eq!(stored_config(&api, ns), expected_auths(rotated));
    }
    assert_no_leak(&api, &out, rotated);
    assert_no_leak(&api, &out, PASSWORD);
}

#[test]
fn field_manager_and_name_flags_reach_the_request() {
    let api = ApiServer::start();
    let out = secret(
        &api,
        Password::Env(PASSWORD),
        &["--name", "pull", "--field-manager", "ops-team"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // No -n: the context's namespace (`default` in the stand-in's kubeconfig).
    assert_eq!(stdout(&out), "secret/pull created in namespace default\n");
    let patches = api.requests_matching("PATCH", "/api/v1/namespaces/default/secrets/pull");
    assert_eq!(patches.len(), 1);
    assert_eq!(
        patches[0].param("fieldManager").as_deref(),
        Some("ops-team")
    );
    let stored = api.get("secrets", "default", "pull").unwrap();
    assert_eq!(stored["type"], "kubernetes.io/dockerconfigjson");
}

#[test]
fn a_missing_namespace_is_one_line_and_the_others_still_succeed() {
    let api = ApiServer::start();
    namespace(&api, "tingyun", json!({}));
    namespace(&api, "shop", json!({}));
    let out = secret(
        &api,
        Password::Stdin(PASSWORD),
        &["-n", "tingyun", "-n", "nope", "-n", "shop"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "secret/tingyun-image-secret created in namespace tingyun\n\
         secret/tingyun-image-secret created in namespace shop\n"
    );
    assert_eq!(
        stderr(&out),
        "error: secret/tingyun-image-secret in namespace nope: namespace nope not found: \
         create it first (kubectl create namespace nope)\n\
         error: 1 of 3 namespaces failed\n"
    );
    assert!(api.get("secrets", "tingyun", NAME).is_some());
    assert!(api.get("secrets", "shop", NAME).is_some());
    assert!(api.get("secrets", "nope", NAME).is_none());
    assert_no_leak(&api, &out, PASSWORD);
}

#[test]
fn a_denied_verb_is_named_with_its_resource() {
    let api = ApiServer::start();
    namespace(&api, "shop", json!({}));
    api.deny("patch", "secrets");
    let out = secret(&api, Password::Env(PASSWORD), &["-n", "shop"]);
    assert_eq!(out.status.code(), Some(1));
    let se = stderr(&out);
    let lines: Vec<&str> = se.lines().collect();
    assert_eq!(lines.len(), 2, "{se}");
    assert!(
        lines[0].starts_with(
            "error: secret/tingyun-image-secret in namespace shop: forbidden: \
             you may not patch secrets in namespace shop"
        ),
        "{se}"
    );
    assert!(
        lines[0].ends_with("ask for RBAC permission to patch secrets"),
        "{se}"
    );
    assert_eq!(lines[1], "error: 1 of 1 namespaces failed");
    assert!(api.get("secrets", "shop", NAME).is_none());
    assert_no_leak(&api, &out, PASSWORD);

    // Only GET denied: the apply still goes through, reported as `applied`.
    let api = ApiServer::start();
    namespace(&api, "shop", json!({}));
    api.deny("get", "secrets");
    let out = secret(&api, Password::Env(PASSWORD), &["-n", "shop"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "secret/tingyun-image-secret applied in namespace shop\n"
    );
    assert_eq!(stored_config(&api, "shop"), expected_auths(PASSWORD));

    // Listing the webhooks denied: --injected-namespaces says which verb on what.
    let api = ApiServer::start();
    api.deny("list", "mutatingwebhookconfigurations");
    let out = secret(
        &api,
        Password::Env(PASSWORD),
        &["-n", "default", "--injected-namespaces"],
    );
    assert_eq!(out.status.code(), Some(1));
    let se = stderr(&out);
    assert_eq!(se.lines().count(), 1, "{se}");
    assert!(
        se.contains("forbidden: you may not list mutatingwebhookconfigurations"),
        "{se}"
    );
    assert!(api.list("secrets", "").is_empty(), "nothing applied");
}

fn webhook_config(name: &str, hook: &str, selector: Value) -> Value {
    let mut h = json!({"name": hook, "admissionReviewVersions": ["v1"], "sideEffects": "None",
        "clientConfig": {"service": {"name": "tingyun-agent", "namespace": "tingyun", "path": "/mutate"}}});
    for (k, v) in selector.as_object().unwrap() {
        h[k] = v.clone();
    }
    json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
           "metadata": {"name": name}, "webhooks": [h]})
}

#[test]
fn injected_namespaces_follow_the_webhook_selectors() {
    let api = ApiServer::start();
    namespace(&api, "tingyun", json!({}));
    namespace(&api, "shop", json!({"tingyun-injection": "enabled"}));
    namespace(&api, "billing", json!({"tingyun-injection": "enabled"}));
    namespace(&api, "legacy", json!({"tingyun-injection": "disabled"}));
    namespace(&api, "orders", json!({}));
    namespace(&api, "meshed", json!({"istio-injection": "enabled"}));
    namespace(&api, "plain", json!({}));
    pod(
        &api,
        "orders",
        "orders-1",
        json!({"tingyun-inject": "enabled", "app": "orders"}),
    );
    pod(
        &api,
        "orders",
        "orders-2",
        json!({"tingyun-inject": "enabled"}),
    );
    pod(&api, "plain", "web-1", json!({"app": "web"}));
    pod(&api, "meshed", "mesh-1", json!({"tingyun-inject": "no"}));
    // A namespaceSelector (with an expression, as installers often add) ...
    api.insert(webhook_config(
        "tingyun-agent-injector",
        "inject.tingyun.com",
        json!({"namespaceSelector": {
            "matchLabels": {"tingyun-injection": "enabled"},
            "matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "NotIn",
                                  "values": ["kube-system", "tingyun"]}]}}),
    ));
    // ... an objectSelector on pods ...
    api.insert(webhook_config(
        "tingyun-pod-injector",
        "pods.inject.tingyun.com",
        json!({"objectSelector": {"matchLabels": {"tingyun-inject": "enabled"}}}),
    ));
    // ... and somebody else's injector, which must be ignored.
    let mut istio = webhook_config(
        "istio-sidecar-injector",
        "sidecar-injector.istio.io",
        json!({"namespaceSelector": {"matchLabels": {"istio-injection": "enabled"}}}),
    );
    istio["webhooks"][0]["clientConfig"]["service"] =
        json!({"name": "istiod", "namespace": "istio-system"});
    api.insert(istio);

    let out = secret(
        &api,
        Password::Stdin(PASSWORD),
        &["-n", "tingyun", "--injected-namespaces"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "secret/tingyun-image-secret created in namespace tingyun\n\
         secret/tingyun-image-secret created in namespace billing\n\
         secret/tingyun-image-secret created in namespace orders\n\
         secret/tingyun-image-secret created in namespace shop\n"
    );
    let se = stderr(&out);
    assert!(
        se.contains(
            "webhook tingyun-agent-injector/inject.tingyun.com selects namespaces with \
             tingyun-injection=enabled"
        ) && se.contains(": billing, shop\n"),
        "{se}"
    );
    assert!(
        se.contains(
            "webhook tingyun-pod-injector/pods.inject.tingyun.com selects namespaces with pods \
             labelled tingyun-inject=enabled: orders\n"
        ),
        "{se}"
    );
    assert!(!se.contains("istio"), "{se}");
    for ns in ["tingyun", "billing", "orders", "shop"] {
        assert_eq!(stored_config(&api, ns), expected_auths(PASSWORD), "{ns}");
    }
    for ns in ["legacy", "meshed", "plain", "default", "kube-system"] {
        assert!(api.get("secrets", ns, NAME).is_none(), "secret in {ns}");
    }
    // The selectors went to the server as label selectors.
    let ns_lists = api.requests_matching("GET", "/api/v1/namespaces");
    let ns_list = ns_lists
        .iter()
        .find(|r| r.path == "/api/v1/namespaces")
        .expect("namespaces listed");
    let sel = ns_list.param("labelSelector").unwrap();
    assert!(sel.contains("tingyun-injection=enabled"), "{sel}");
    assert!(
        sel.contains("kubernetes.io/metadata.name notin (kube-system,tingyun)"),
        "{sel}"
    );
    let pod_lists = api.requests_matching("GET", "/api/v1/pods");
    assert_eq!(pod_lists.len(), 1, "{pod_lists:?}");
    assert_eq!(
        pod_lists[0].param("labelSelector").as_deref(),
        Some("tingyun-inject=enabled")
    );
    assert_no_leak(&api, &out, PASSWORD);
}

#[test]
fn server_dry_run_sends_dry_run_all_and_stores_nothing() {
    let api = ApiServer::start();
    namespace(&api, "tingyun", json!({}));
    namespace(&api, "shop", json!({}));
    let out = secret(&api, Password::Env(PASSWORD), &["-n", "tingyun"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let before = api.get("secrets", "tingyun", NAME).unwrap();
    let requests_before = api.requests().len();

    let out = secret(
        &api,
        Password::Stdin(PASSWORD),
        &["-n", "tingyun", "-n", "shop", "--dry-run=server"],
    );
    // Exit 1: differences (shop's secret would be created), as apply --dry-run=server.
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "secret/tingyun-image-secret unchanged in namespace tingyun (server dry run)\n\
         secret/tingyun-image-secret created in namespace shop (server dry run)\n"
    );
    assert_no_leak(&api, &out, PASSWORD);

    let out = secret(
        &api,
        Password::Env("other password"),
        &["-n", "tingyun", "-n", "shop", "--dry-run=server"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "secret/tingyun-image-secret configured in namespace tingyun (server dry run)\n\
         secret/tingyun-image-secret created in namespace shop (server dry run)\n"
    );
    assert_no_leak(&api, &out, "other password");

    let later = &api.requests()[requests_before..];
    let patches: Vec<&Recorded> = later.iter().filter(|r| r.method == "PATCH").collect();
    assert_eq!(patches.len(), 4, "{later:?}");
    for r in &patches {
        assert_eq!(r.param("dryRun").as_deref(), Some("All"), "{r:?}");
        assert_eq!(r.content_type, "application/apply-patch+yaml");
    }
    assert!(
        later
            .iter()
            .all(|r| r.method == "GET" || r.method == "PATCH"),
        "{later:?}"
    );
    assert_eq!(api.get("secrets", "tingyun", NAME).unwrap(), before);
    assert!(api.get("secrets", "shop", NAME).is_none());

    // No difference: exit 0.
    let out = secret(
        &api,
        Password::Env(PASSWORD),
        &["-n", "tingyun", "--dry-run=server"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn rejected_credentials_stop_after_the_first_namespace() {
    let api = ApiServer::start();
    api.reject_all_credentials();
    let out = secret(
        &api,
        Password::Env(PASSWORD),
        &["-n", "tingyun", "-n", "shop", "-n", "billing"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out), "");
    assert_eq!(
        stderr(&out),
        "error: secret/tingyun-image-secret in namespace tingyun: unauthorized: the API server rejected \
         the kubeconfig credentials (get secrets in namespace tingyun); log in again or refresh the token\n\
         error: not tried: shop, billing\n\
         error: 3 of 3 namespaces failed\n"
    );
    // The same credentials are not sent again for every namespace.
    assert_eq!(api.requests().len(), 1, "{:#?}", api.requests());
    assert_no_leak(&api, &out, PASSWORD);
}

/// Connection as kubectl resolves it: `KUBECONFIG` from the environment and
/// its current context's namespace; `--context` switches context (and with
/// it the default namespace, `other`, which does not exist here).
#[test]
fn kubeconfig_from_the_environment_and_context_selection() {
    let api = ApiServer::start();
    // A second context whose namespace `other` does not exist.
    let text = std::fs::read_to_string(api.kubeconfig()).unwrap();
    let with_other = text.replacen(
        "contexts:\n",
        "contexts:\n- name: other\n  context:\n    cluster: emulator\n    user: emulator\n    namespace: other\n",
        1,
    );
    assert_ne!(with_other, text, "unexpected emulator kubeconfig:\n{text}");
    let kubeconfig = api.0.write("two-contexts", &with_other);
    let run = |extra: &[&str]| {
        support::bin()
            .args(["secret", "--server", SERVER, "--username", USER])
            .args(extra)
            .env("KUBECONFIG", &kubeconfig)
            .env("TINGYUN_REGISTRY_PASSWORD", PASSWORD)
            .stdin(Stdio::null())
            .output()
            .expect("run kubectl-tingyun")
    };
    let out = run(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(api.get("secrets", "default", NAME).is_some());
    let out = run(&["--context", "other"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("namespace other not found"),
        "{}",
        stderr(&out)
    );
    let out = run(&["--context", "nope"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("nope"), "{}", stderr(&out));
}

#[test]
fn a_secret_of_another_type_is_explained() {
    let api = ApiServer::start();
    namespace(&api, "a", json!({}));
    let (status, body) = api.0.http(
        "POST",
        "/api/v1/namespaces/a/secrets",
        Some(
            &json!({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": NAME, "namespace": "a"}, "data": {"k": "dg=="}}),
        ),
    );
    assert!(status < 300, "{body}");
    let out = secret(&api, Password::Env(PASSWORD), &["-n", "a"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out), "");
    let err = stderr(&out);
    let first = err.lines().next().unwrap();
    assert!(first.contains("field is immutable"), "{err}");
    assert!(
        first.ends_with(
            "`kubectl -n a delete secret tingyun-image-secret` or choose another --name)"
        ),
        "{err}"
    );
    assert_eq!(api.get("secrets", "a", NAME).unwrap()["type"], "Opaque");
}

#[test]
fn output_with_server_dry_run_prints_the_returned_objects() {
    let api = ApiServer::start();
    namespace(&api, "a", json!({}));
    namespace(&api, "b", json!({}));
    let out = secret(
        &api,
        Password::Env(PASSWORD),
        &["-n", "a", "-n", "b", "--dry-run=server", "-o", "json"],
    );
    assert_eq!(out.status.code(), Some(1), "new secrets are differences");
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["kind"], "List");
    assert_eq!(v["items"][0]["metadata"]["namespace"], "a");
    assert_eq!(v["items"][1]["metadata"]["namespace"], "b");
    assert_eq!(
        stderr(&out),
        "secret/tingyun-image-secret created in namespace a (server dry run)\n\
         secret/tingyun-image-secret created in namespace b (server dry run)\n"
    );
    assert!(api.get("secrets", "a", NAME).is_none());
}

#[test]
fn injected_namespaces_refuses_what_it_cannot_resolve() {
    let api = ApiServer::start();
    namespace(&api, "shop", json!({}));
    let mut istio = webhook_config(
        "istio-sidecar-injector",
        "sidecar-injector.istio.io",
        json!({"namespaceSelector": {"matchLabels": {"istio-injection": "enabled"}}}),
    );
    istio["webhooks"][0]["clientConfig"]["service"] =
        json!({"name": "istiod", "namespace": "istio-system"});
    api.insert(istio);
    let out = secret(
        &api,
        Password::Env(PASSWORD),
        &["-n", "shop", "--injected-namespaces"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out)
            .contains("no Tingyun injection webhook among the 1 MutatingWebhookConfigurations"),
        "{}",
        stderr(&out)
    );
    // The same error in a server dry run: exit 2 (1 would mean "differences").
    let out = secret(
        &api,
        Password::Env(PASSWORD),
        &["-n", "shop", "--injected-namespaces", "--dry-run=server"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let mut everything = webhook_config(
        "tingyun-agent-injector",
        "inject.tingyun.com",
        json!({"objectSelector": {}, "namespaceSelector": {}}),
    );
    everything["metadata"]["name"] = json!("tingyun-agent-injector");
    api.insert(everything);
    let out = secret(
        &api,
        Password::Env(PASSWORD),
        &["-n", "shop", "--injected-namespaces"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out)
            .contains("injects pods in every namespace; name the namespaces with -n instead"),
        "{}",
        stderr(&out)
    );
    assert!(
        api.list("secrets", "")
            .iter()
            .all(|s| s["metadata"]["name"] != NAME)
    );
}

#[test]
fn an_unreachable_server_stops_after_the_first_namespace() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port(); // closed when dropped
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!("apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {{server: 'http://127.0.0.1:{port}'}}\n\
contexts:\n- name: c\n  context: {{cluster: c, user: u}}\ncurrent-context: c\nusers:\n- name: u\n  user: {{token: t}}\n"),
    )
    .unwrap();
    let out = support::bin()
        .args([
            "secret",
            "--server",
            SERVER,
            "--username",
            USER,
            "-n",
            "a",
            "-n",
            "b",
            "-n",
            "c",
        ])
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .env("TINGYUN_REGISTRY_PASSWORD", PASSWORD)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out), "");
    let err = stderr(&out);
    let lines: Vec<&str> = err.lines().collect();
    assert!(
        lines[0].starts_with(
            "error: secret/tingyun-image-secret in namespace a: cannot reach the API server (get secrets in namespace a)"
        ),
        "{err}"
    );
    assert!(lines[0].to_lowercase().contains("refused"), "{err}");
    assert_eq!(
        lines[1],
        format!(
            "error: check that the API server http://127.0.0.1:{port} is reachable (kubectl cluster-info)"
        )
    );
    assert_eq!(lines[2], "error: not tried: b, c");
    assert_eq!(lines[3], "error: 3 of 3 namespaces failed");
    assert_eq!(lines.len(), 4);
}
