//! A loopback Kubernetes API-server stand-in for CLI integration tests.
//!
//! ```ignore
//! mod support;
//! use support::apiserver::ApiServer;
//!
//! let api = ApiServer::start();            // plain HTTP on 127.0.0.1:<random>
//! let out = support::bin()
//!     .args(["apply", "file.yaml", "--kubeconfig"]).arg(api.kubeconfig())
//!     .output().unwrap();
//! let patches = api.requests_matching("PATCH", "/api/v1/namespaces/tingyun/secrets");
//! ```
//!
//! It serves, from memory, the parts of the API the plugin uses with the API
//! server's semantics: discovery (`/api`, `/apis`, resource lists with the
//! namespaced flag, CRDs added when applied), server-side apply
//! (`application/apply-patch+yaml`: create with uid/resourceVersion/
//! creationTimestamp/generation, update by a simplified merge, `dryRun=All`,
//! `fieldManager`, `force`), JSON merge and strategic-merge patches, get,
//! list with label and field selectors, create, delete and watch. The
//! generated kubeconfig's context namespace is `default`; namespaces
//! `default` and `kube-system` exist from the start.
//!
//! Test hooks: [`ApiServer::set_pod_status`], [`ApiServer::add_event`],
//! [`ApiServer::insert`], [`ApiServer::deny`] (403 for a verb on a resource),
//! [`ApiServer::conflict`] (409 on apply without force),
//! [`ApiServer::reject_all_credentials`] (401), and a Deployment/DaemonSet
//! controller ([`ApiServer::enable_controller`]) that replaces a workload's
//! pods whenever its pod template changes. Every request is recorded
//! ([`ApiServer::requests`]).
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, StreamBody, combinators::UnsyncBoxBody};
use hyper::body::{Frame, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{Map, Value, json};
use tokio::sync::mpsc;

/// One recorded request.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    /// The raw query string (percent-encoded), empty when none.
    pub query: String,
    pub content_type: String,
    pub body: String,
}

impl Recorded {
    /// A decoded query parameter.
    pub fn param(&self, name: &str) -> Option<String> {
        form_urlencoded::parse(self.query.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }
    /// The body parsed as JSON (Null when empty or not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

/// A pod state the test drives (what a kubelet would report).
#[derive(Debug, Clone, Default)]
pub struct PodState {
    /// `Pending`, `Running`, `Succeeded`, `Failed`.
    pub phase: String,
    pub ready: bool,
    /// Container waiting reason and message, e.g. `ImagePullBackOff`.
    pub waiting: Option<(String, String)>,
}

impl PodState {
    pub fn ready() -> Self {
        PodState {
            phase: "Running".into(),
            ready: true,
            waiting: None,
        }
    }
    pub fn waiting(reason: &str, message: &str) -> Self {
        PodState {
            phase: "Pending".into(),
            ready: false,
            waiting: Some((reason.into(), message.into())),
        }
    }
}

#[derive(Debug, Clone)]
struct ResourceDef {
    group: String,
    version: String,
    plural: String,
    singular: String,
    kind: String,
    namespaced: bool,
}

impl ResourceDef {
    fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
    /// Key used in the store: `plural` for core, `plural.group` otherwise.
    fn key(&self) -> String {
        if self.group.is_empty() {
            self.plural.clone()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }
}

fn builtin_resources() -> Vec<ResourceDef> {
    let mut out = Vec::new();
    let mut add = |group: &str, version: &str, plural: &str, kind: &str, namespaced: bool| {
        out.push(ResourceDef {
            group: group.into(),
            version: version.into(),
            plural: plural.into(),
            singular: kind.to_lowercase(),
            kind: kind.into(),
            namespaced,
        })
    };
    add("", "v1", "namespaces", "Namespace", false);
    add("", "v1", "nodes", "Node", false);
    add("", "v1", "pods", "Pod", true);
    add("", "v1", "secrets", "Secret", true);
    add("", "v1", "configmaps", "ConfigMap", true);
    add("", "v1", "serviceaccounts", "ServiceAccount", true);
    add("", "v1", "services", "Service", true);
    add("", "v1", "endpoints", "Endpoints", true);
    add("", "v1", "events", "Event", true);
    add("apps", "v1", "deployments", "Deployment", true);
    add("apps", "v1", "daemonsets", "DaemonSet", true);
    add("apps", "v1", "statefulsets", "StatefulSet", true);
    add("apps", "v1", "replicasets", "ReplicaSet", true);
    add(
        "rbac.authorization.k8s.io",
        "v1",
        "clusterroles",
        "ClusterRole",
        false,
    );
    add(
        "rbac.authorization.k8s.io",
        "v1",
        "clusterrolebindings",
        "ClusterRoleBinding",
        false,
    );
    add("rbac.authorization.k8s.io", "v1", "roles", "Role", true);
    add(
        "rbac.authorization.k8s.io",
        "v1",
        "rolebindings",
        "RoleBinding",
        true,
    );
    add(
        "admissionregistration.k8s.io",
        "v1",
        "mutatingwebhookconfigurations",
        "MutatingWebhookConfiguration",
        false,
    );
    add(
        "admissionregistration.k8s.io",
        "v1",
        "validatingwebhookconfigurations",
        "ValidatingWebhookConfiguration",
        false,
    );
    add(
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        false,
    );
    add("batch", "v1", "jobs", "Job", true);
    add("batch", "v1", "cronjobs", "CronJob", true);
    out
}

type ObjKey = (String, String, String); // (resource key, namespace, name)

struct HistoryEntry {
    rv: u64,
    kind: &'static str,
    key: ObjKey,
    object: Value,
}

struct Watcher {
    resource: String,
    namespace: Option<String>,
    labels: Option<String>,
    fields: Option<String>,
    tx: mpsc::UnboundedSender<Bytes>,
}

#[derive(Default)]
struct State {
    objects: BTreeMap<ObjKey, Value>,
    rv: u64,
    uid: u64,
    history: Vec<HistoryEntry>,
    watchers: Vec<Watcher>,
    requests: Vec<Recorded>,
    denied: Vec<(String, String)>,
    conflicts: Vec<(String, String, String, String)>,
    reject_credentials: bool,
    controller: bool,
    /// Workload key -> template the controller last rolled out.
    rolled: HashMap<ObjKey, Value>,
    daemonset_nodes: u32,
    pod_seq: u64,
    auto_ready: bool,
}

/// The running stand-in. Dropping it stops the server.
pub struct ApiServer {
    state: Arc<Mutex<State>>,
    addr: SocketAddr,
    dir: tempfile::TempDir,
    kubeconfig: PathBuf,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

impl ApiServer {
    /// Start on `127.0.0.1:0` with a kubeconfig in a fresh temporary directory.
    pub fn start() -> ApiServer {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("addr");
        let state = Arc::new(Mutex::new(State {
            daemonset_nodes: 1,
            ..State::default()
        }));
        {
            let mut st = state.lock().unwrap();
            for ns in ["default", "kube-system"] {
                let obj = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}, "status": {"phase": "Active"}});
                st.store_new(
                    ("namespaces".into(), String::new(), ns.into()),
                    obj,
                    "kube-apiserver",
                );
            }
        }
        let server_state = state.clone();
        runtime.spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let state = server_state.clone();
                tokio::spawn(async move {
                    let io = hyper_util::rt::TokioIo::new(stream);
                    let service = hyper::service::service_fn(move |req| handle(state.clone(), req));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(io, service)
                        .await;
                });
            }
        });
        let dir = tempfile::tempdir().expect("tempdir");
        let kubeconfig = dir.path().join("kubeconfig");
        std::fs::write(&kubeconfig, kubeconfig_text(&format!("http://{addr}")))
            .expect("write kubeconfig");
        ApiServer {
            state,
            addr,
            dir,
            kubeconfig,
            runtime: Some(runtime),
        }
    }

    /// The generated kubeconfig (current context `standin`, namespace `default`;
    /// a second context `other` defaults to namespace `other`).
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A temporary directory that lives as long as the server.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.lock().requests.clone()
    }

    /// Requests with this method whose path starts with `path_prefix`.
    pub fn requests_matching(&self, method: &str, path_prefix: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == method && r.path.starts_with(path_prefix))
            .collect()
    }

    /// JSON merge patches: how rollout restarts reach the server.
    pub fn merge_patches(&self) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| {
                r.method == "PATCH" && r.content_type.starts_with("application/merge-patch+json")
            })
            .collect()
    }

    /// Answer 403 Forbidden for `verb` (get, list, watch, create, patch, update, delete) on `resource`
    /// (plural, e.g. `secrets`, or `deployments.apps`).
    pub fn deny(&self, verb: &str, resource: &str) {
        self.lock().denied.push((verb.into(), resource.into()));
    }

    /// Answer 409 to server-side apply of `resource`/`name` unless `force=true`,
    /// as if `manager` owned `field` (e.g. `.spec.replicas`).
    pub fn conflict(&self, resource: &str, name: &str, manager: &str, field: &str) {
        self.lock()
            .conflicts
            .push((resource.into(), name.into(), manager.into(), field.into()));
    }

    /// Answer 401 to every request.
    pub fn reject_all_credentials(&self) {
        self.lock().reject_credentials = true;
    }

    /// Turn on the Deployment/DaemonSet controller: whenever a workload is
    /// created or its pod template changes, its pods are replaced by new
    /// `Pending` pods (labels and annotations from the template, an
    /// ownerReference to the workload) and its status is kept up to date.
    /// Workloads that exist now count as already rolled out.
    pub fn enable_controller(&self) {
        let mut st = self.lock();
        st.controller = true;
        let keys: Vec<ObjKey> = st
            .objects
            .keys()
            .filter(|k| is_workload(&k.0))
            .cloned()
            .collect();
        for key in keys {
            let template = st.objects[&key]["spec"]["template"].clone();
            st.rolled.insert(key, template);
        }
    }

    /// Insert or replace an object directly (no request recorded), as if
    /// another client had created it. Returns the stored object.
    pub fn insert(&self, obj: Value) -> Value {
        let mut st = self.lock();
        let def = find_def(
            &st,
            obj["apiVersion"].as_str().unwrap_or(""),
            obj["kind"].as_str().unwrap_or(""),
        )
        .unwrap_or_else(|| panic!("unknown kind in {obj}"));
        let ns = if def.namespaced {
            obj["metadata"]["namespace"]
                .as_str()
                .unwrap_or("default")
                .to_string()
        } else {
            String::new()
        };
        let name = obj["metadata"]["name"]
            .as_str()
            .expect("metadata.name")
            .to_string();
        let key = (def.key(), ns, name);
        let stored = if st.objects.contains_key(&key) {
            let mut o = obj;
            let old = st.objects[&key].clone();
            o["metadata"]["uid"] = old["metadata"]["uid"].clone();
            o["metadata"]["creationTimestamp"] = old["metadata"]["creationTimestamp"].clone();
            st.store_update(key.clone(), o)
        } else {
            st.store_new(key.clone(), obj, "test")
        };
        st.reconcile();
        stored
    }

    /// A stored object: `resource` is the store key (`pods`, `deployments.apps`, ...); `namespace` empty for cluster-scoped.
    pub fn get(&self, resource: &str, namespace: &str, name: &str) -> Option<Value> {
        self.lock()
            .objects
            .get(&(resource.into(), namespace.into(), name.into()))
            .cloned()
    }

    /// All stored objects of a resource in a namespace (empty namespace: cluster-scoped or all).
    pub fn list(&self, resource: &str, namespace: &str) -> Vec<Value> {
        self.lock()
            .objects
            .iter()
            .filter(|(k, _)| k.0 == resource && (namespace.is_empty() || k.1 == namespace))
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// Names of the pods in a namespace.
    pub fn pod_names(&self, namespace: &str) -> Vec<String> {
        self.list("pods", namespace)
            .iter()
            .map(|p| p["metadata"]["name"].as_str().unwrap_or("").to_string())
            .collect()
    }

    /// Set a pod's status as a kubelet would report it.
    pub fn set_pod_status(&self, namespace: &str, name: &str, state: PodState) {
        let mut st = self.lock();
        let key = ("pods".to_string(), namespace.to_string(), name.to_string());
        let mut pod = st
            .objects
            .get(&key)
            .cloned()
            .unwrap_or_else(|| panic!("no pod {namespace}/{name}"));
        let containers: Vec<String> = pod["spec"]["containers"]
            .as_array()
            .map(|cs| {
                cs.iter()
                    .filter_map(|c| c["name"].as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        let now = now_rfc3339();
        let statuses: Vec<Value> = containers
            .iter()
            .map(|c| {
                let st = match &state.waiting {
                    Some((reason, message)) => json!({"waiting": {"reason": reason, "message": message}}),
                    None if state.phase == "Running" => json!({"running": {"startedAt": now}}),
                    None => json!({"waiting": {"reason": "ContainerCreating"}}),
                };
                json!({"name": c, "ready": state.ready, "restartCount": 0, "image": "", "imageID": "", "state": st})
            })
            .collect();
        let ready = if state.ready { "True" } else { "False" };
        pod["status"] = json!({
            "phase": state.phase,
            "conditions": [{"type": "Ready", "status": ready, "lastTransitionTime": now}],
            "containerStatuses": statuses,
        });
        st.store_update(key, pod);
        st.reconcile();
    }

    /// Record an Event about an object (`kind` e.g. `Pod`).
    pub fn add_event(
        &self,
        namespace: &str,
        kind: &str,
        name: &str,
        event_type: &str,
        reason: &str,
        message: &str,
    ) {
        let mut st = self.lock();
        st.uid += 1;
        let ev_name = format!("{name}.{:016x}", st.uid);
        let uid = st
            .objects
            .get(&(resource_key_for_kind(kind), namespace.into(), name.into()))
            .map(|o| o["metadata"]["uid"].clone())
            .unwrap_or(Value::Null);
        let now = now_rfc3339();
        let obj = json!({
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": ev_name, "namespace": namespace},
            "involvedObject": {"kind": kind, "name": name, "namespace": namespace, "uid": uid, "apiVersion": "v1"},
            "reason": reason, "message": message, "type": event_type,
            "firstTimestamp": now, "lastTimestamp": now, "count": 1,
            "source": {"component": "kubelet"},
        });
        st.store_new(("events".into(), namespace.into(), ev_name), obj, "kubelet");
    }

    /// Let the controller create pods that are Running and Ready at once.
    pub fn set_auto_ready(&self, on: bool) {
        self.lock().auto_ready = on;
    }

    /// Number of nodes a DaemonSet runs on (default 1).
    pub fn set_daemonset_nodes(&self, n: u32) {
        self.lock().daemonset_nodes = n;
    }

    /// Poll until `f` returns Some, or panic after `limit` (a test safety net,
    /// not a timing assertion).
    pub fn wait_until<T>(
        &self,
        limit: Duration,
        what: &str,
        mut f: impl FnMut(&ApiServer) -> Option<T>,
    ) -> T {
        let start = Instant::now();
        loop {
            if let Some(v) = f(self) {
                return v;
            }
            if start.elapsed() > limit {
                panic!("timed out waiting for {what}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn kubeconfig_text(server: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: standin\n  cluster:\n    server: {server}\n\
contexts:\n- name: standin\n  context:\n    cluster: standin\n    user: tester\n    namespace: default\n\
- name: other\n  context:\n    cluster: standin\n    user: tester\n    namespace: other\n\
current-context: standin\nusers:\n- name: tester\n  user:\n    token: standin-token\n"
    )
}

pub fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let days = (secs / 86400) as i64;
    let rem = secs % 86400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn is_workload(resource: &str) -> bool {
    resource == "deployments.apps" || resource == "daemonsets.apps"
}

fn resource_key_for_kind(kind: &str) -> String {
    builtin_resources()
        .into_iter()
        .find(|d| d.kind == kind)
        .map(|d| d.key())
        .unwrap_or_else(|| kind.to_lowercase() + "s")
}

/// Built-in resources plus those defined by stored CRDs.
fn all_defs(st: &State) -> Vec<ResourceDef> {
    let mut defs = builtin_resources();
    for (k, crd) in &st.objects {
        if k.0 != "customresourcedefinitions.apiextensions.k8s.io" {
            continue;
        }
        let spec = &crd["spec"];
        let group = spec["group"].as_str().unwrap_or("").to_string();
        let names = &spec["names"];
        for v in spec["versions"].as_array().into_iter().flatten() {
            if v["served"] == Value::Bool(false) {
                continue;
            }
            defs.push(ResourceDef {
                group: group.clone(),
                version: v["name"].as_str().unwrap_or("v1").to_string(),
                plural: names["plural"].as_str().unwrap_or("").to_string(),
                singular: names["singular"].as_str().unwrap_or("").to_string(),
                kind: names["kind"].as_str().unwrap_or("").to_string(),
                namespaced: spec["scope"].as_str() != Some("Cluster"),
            });
        }
    }
    defs
}

fn find_def(st: &State, api_version: &str, kind: &str) -> Option<ResourceDef> {
    all_defs(st)
        .into_iter()
        .find(|d| d.api_version() == api_version && d.kind == kind)
}

impl State {
    fn next_rv(&mut self) -> u64 {
        self.rv += 1;
        self.rv
    }

    fn store_new(&mut self, key: ObjKey, mut obj: Value, manager: &str) -> Value {
        let rv = self.next_rv();
        self.uid += 1;
        let api_version = obj["apiVersion"].clone();
        let meta = obj_meta(&mut obj);
        meta.insert(
            "uid".into(),
            json!(format!("00000000-0000-4000-8000-{:012x}", self.uid)),
        );
        meta.insert("resourceVersion".into(), json!(rv.to_string()));
        meta.insert("creationTimestamp".into(), json!(now_rfc3339()));
        if !key.1.is_empty() {
            meta.insert("namespace".into(), json!(key.1));
        }
        meta.insert(
            "managedFields".into(),
            json!([{"manager": manager, "operation": "Apply", "apiVersion": api_version, "time": now_rfc3339(),
                    "fieldsType": "FieldsV1", "fieldsV1": {}}]),
        );
        if obj.get("spec").is_some() {
            obj["metadata"]["generation"] = json!(1);
        }
        normalize(&key.0, &mut obj);
        self.objects.insert(key.clone(), obj.clone());
        self.emit("ADDED", key, obj.clone(), rv);
        obj
    }

    /// Store a changed object: bump resourceVersion (and generation when spec changed).
    fn store_update(&mut self, key: ObjKey, mut obj: Value) -> Value {
        let old = self.objects.get(&key).cloned().unwrap_or(Value::Null);
        normalize(&key.0, &mut obj);
        if strip_volatile(&old) == strip_volatile(&obj) {
            return old;
        }
        let rv = self.next_rv();
        obj["metadata"]["resourceVersion"] = json!(rv.to_string());
        if obj.get("spec").is_some() {
            let gen_old = old["metadata"]["generation"].as_i64().unwrap_or(0);
            let generation = if old.get("spec") != obj.get("spec") {
                gen_old + 1
            } else {
                gen_old.max(1)
            };
            obj["metadata"]["generation"] = json!(generation);
        }
        self.objects.insert(key.clone(), obj.clone());
        self.emit("MODIFIED", key, obj.clone(), rv);
        obj
    }

    fn delete(&mut self, key: &ObjKey) -> Option<Value> {
        let mut obj = self.objects.remove(key)?;
        let rv = self.next_rv();
        obj["metadata"]["resourceVersion"] = json!(rv.to_string());
        self.emit("DELETED", key.clone(), obj.clone(), rv);
        if key.0 == "namespaces" {
            let inside: Vec<ObjKey> = self
                .objects
                .keys()
                .filter(|k| k.1 == key.2)
                .cloned()
                .collect();
            for k in inside {
                self.delete(&k);
            }
        }
        Some(obj)
    }

    fn emit(&mut self, kind: &'static str, key: ObjKey, object: Value, rv: u64) {
        let line = watch_line(kind, &object);
        self.watchers.retain(|w| {
            if !watch_matches(
                w.resource.as_str(),
                w.namespace.as_deref(),
                w.labels.as_deref(),
                w.fields.as_deref(),
                &key,
                &object,
            ) {
                return true;
            }
            w.tx.send(line.clone()).is_ok()
        });
        self.history.push(HistoryEntry {
            rv,
            kind,
            key,
            object,
        });
    }

    /// The workload controller: roll out changed templates, keep status current.
    fn reconcile(&mut self) {
        if !self.controller {
            return;
        }
        let workloads: Vec<ObjKey> = self
            .objects
            .keys()
            .filter(|k| is_workload(&k.0))
            .cloned()
            .collect();
        for key in &workloads {
            let wl = self.objects[key].clone();
            let template = wl["spec"]["template"].clone();
            if self.rolled.get(key) != Some(&template) {
                self.rolled.insert(key.clone(), template.clone());
                for pod_key in self.owned_pods(&wl, &key.1) {
                    self.delete(&pod_key);
                }
                let n = if key.0 == "deployments.apps" {
                    wl["spec"]["replicas"].as_u64().unwrap_or(1) as u32
                } else {
                    self.daemonset_nodes
                };
                for _ in 0..n {
                    self.create_pod(&wl, &key.1, &template);
                }
            }
        }
        for key in &workloads {
            let wl = self.objects[key].clone();
            let pods: Vec<Value> = self
                .owned_pods(&wl, &key.1)
                .iter()
                .map(|k| self.objects[k].clone())
                .collect();
            let total = pods.len() as u64;
            let ready = pods.iter().filter(|p| pod_ready(p)).count() as u64;
            let generation = wl["metadata"]["generation"].clone();
            let status = if key.0 == "deployments.apps" {
                json!({"observedGeneration": generation, "replicas": total, "updatedReplicas": total,
                       "readyReplicas": ready, "availableReplicas": ready, "unavailableReplicas": total - ready})
            } else {
                let desired = self.daemonset_nodes as u64;
                json!({"observedGeneration": generation, "desiredNumberScheduled": desired, "currentNumberScheduled": total,
                       "updatedNumberScheduled": total, "numberReady": ready, "numberAvailable": ready,
                       "numberUnavailable": desired.saturating_sub(ready), "numberMisscheduled": 0})
            };
            if wl["status"] != status {
                let mut updated = wl;
                updated["status"] = status;
                self.store_update(key.clone(), updated);
            }
        }
    }

    fn owned_pods(&self, workload: &Value, ns: &str) -> Vec<ObjKey> {
        let uid = &workload["metadata"]["uid"];
        self.objects
            .iter()
            .filter(|(k, p)| {
                k.0 == "pods"
                    && k.1 == ns
                    && p["metadata"]["ownerReferences"]
                        .as_array()
                        .is_some_and(|o| o.iter().any(|r| &r["uid"] == uid))
            })
            .map(|(k, _)| k.clone())
            .collect()
    }

    fn create_pod(&mut self, wl: &Value, ns: &str, template: &Value) {
        self.pod_seq += 1;
        let wl_name = wl["metadata"]["name"].as_str().unwrap_or("pod");
        let hash = format!("{:x}", fnv(template.to_string().as_bytes()) & 0xffffff);
        let name = if wl["kind"] == "Deployment" {
            format!("{wl_name}-{hash}-{:05x}", self.pod_seq)
        } else {
            format!("{wl_name}-{:05x}", self.pod_seq)
        };
        let mut labels = template["metadata"]["labels"].clone();
        if !labels.is_object() {
            labels = json!({});
        }
        labels["pod-template-hash"] = json!(hash);
        let pod = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {
                "name": name, "namespace": ns, "labels": labels,
                "annotations": template["metadata"]["annotations"].clone(),
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": wl["kind"], "name": wl_name,
                                     "uid": wl["metadata"]["uid"], "controller": true, "blockOwnerDeletion": true}],
            },
            "spec": template["spec"].clone(),
            "status": {"phase": "Pending", "conditions": [{"type": "Ready", "status": "False"}]},
        });
        let mut pod = pod;
        if self.auto_ready {
            pod["status"] =
                json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]});
        }
        self.store_new(
            ("pods".into(), ns.into(), name),
            pod,
            "kube-controller-manager",
        );
    }
}

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ *b as u64).wrapping_mul(0x100000001b3)
    })
}

fn pod_ready(pod: &Value) -> bool {
    pod["status"]["conditions"].as_array().is_some_and(|cs| {
        cs.iter()
            .any(|c| c["type"] == "Ready" && c["status"] == "True")
    })
}

fn obj_meta(obj: &mut Value) -> &mut Map<String, Value> {
    if !obj["metadata"].is_object() {
        obj["metadata"] = json!({});
    }
    obj["metadata"].as_object_mut().expect("metadata object")
}

/// What the API server does to every stored object of a kind.
fn normalize(resource: &str, obj: &mut Value) {
    if resource == "secrets" {
        if let Some(Value::Object(sd)) = obj.as_object_mut().and_then(|o| o.remove("stringData")) {
            if !obj["data"].is_object() {
                obj["data"] = json!({});
            }
            for (k, v) in sd {
                let enc = base64::engine::general_purpose::STANDARD
                    .encode(v.as_str().unwrap_or_default());
                obj["data"][k] = json!(enc);
            }
        }
        if obj.get("type").is_none() {
            obj["type"] = json!("Opaque");
        }
    }
    if resource == "pods" && obj["status"]["phase"].is_null() {
        obj["status"] = json!({"phase": "Pending"});
    }
}

/// The object without fields that change on every write.
fn strip_volatile(obj: &Value) -> Value {
    let mut o = obj.clone();
    if let Some(m) = o.get_mut("metadata").and_then(Value::as_object_mut) {
        for f in ["resourceVersion", "managedFields", "generation"] {
            m.remove(f);
        }
    }
    o
}

/// JSON merge patch (RFC 7386); also used for the simplified apply merge.
fn merge(target: &mut Value, patch: &Value) {
    match patch {
        Value::Object(p) => {
            if !target.is_object() {
                *target = json!({});
            }
            let t = target.as_object_mut().expect("object");
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        other => *target = other.clone(),
    }
}

fn watch_line(kind: &str, object: &Value) -> Bytes {
    let mut s = serde_json::to_string(&json!({"type": kind, "object": object})).expect("json");
    s.push('\n');
    Bytes::from(s)
}

// ---- selectors ----

/// Does a label selector (`a=b`, `a==b`, `a!=b`, `a`, `!a`, `a in (x,y)`, `a notin (x)`) match?
pub fn labels_match(selector: &str, labels: &Value) -> bool {
    split_requirements(selector).iter().all(|req| {
        let req = req.trim();
        if req.is_empty() {
            return true;
        }
        let get = |k: &str| {
            labels
                .get(k.trim())
                .and_then(Value::as_str)
                .map(String::from)
        };
        if let Some((k, rest)) = req.split_once(" notin ") {
            let set = parse_set(rest);
            return get(k).is_none_or(|v| !set.contains(&v));
        }
        if let Some((k, rest)) = req.split_once(" in ") {
            let set = parse_set(rest);
            return get(k).is_some_and(|v| set.contains(&v));
        }
        if let Some((k, v)) = req.split_once("!=") {
            return get(k).as_deref() != Some(v.trim());
        }
        if let Some((k, v)) = req.split_once("==").or_else(|| req.split_once('=')) {
            return get(k).as_deref() == Some(v.trim());
        }
        if let Some(k) = req.strip_prefix('!') {
            return get(k).is_none();
        }
        get(req).is_some()
    })
}

fn parse_set(s: &str) -> Vec<String> {
    s.trim()
        .trim_start_matches('(')
        .trim_end_matches(')')
        .split(',')
        .map(|x| x.trim().to_string())
        .collect()
}

fn split_requirements(selector: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut depth = 0;
    for c in selector.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(String::new());
                continue;
            }
            _ => {}
        }
        out.last_mut().expect("nonempty").push(c);
    }
    out
}

/// Field selector: `path=value`, `path==value`, `path!=value` on dotted paths.
fn fields_match(selector: &str, obj: &Value) -> bool {
    selector
        .split(',')
        .filter(|r| !r.trim().is_empty())
        .all(|req| {
            let (path, want, neg) = if let Some((p, v)) = req.split_once("!=") {
                (p, v, true)
            } else if let Some((p, v)) = req.split_once("==").or_else(|| req.split_once('=')) {
                (p, v, false)
            } else {
                return true;
            };
            let mut cur = obj;
            for part in path.trim().split('.') {
                cur = &cur[part];
            }
            let have = match cur {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                other => other.to_string(),
            };
            (have == want.trim()) != neg
        })
}

fn watch_matches(
    resource: &str,
    ns: Option<&str>,
    labels: Option<&str>,
    fields: Option<&str>,
    key: &ObjKey,
    obj: &Value,
) -> bool {
    key.0 == resource
        && ns.is_none_or(|n| n == key.1)
        && labels.is_none_or(|s| labels_match(s, &obj["metadata"]["labels"]))
        && fields.is_none_or(|s| fields_match(s, obj))
}

// ---- HTTP ----

type Body = UnsyncBoxBody<Bytes, Infallible>;

fn full(b: impl Into<Bytes>) -> Body {
    Full::new(b.into()).boxed_unsync()
}

fn json_response(code: StatusCode, v: &Value) -> Response<Body> {
    Response::builder()
        .status(code)
        .header("content-type", "application/json")
        .body(full(serde_json::to_vec(v).expect("json")))
        .expect("response")
}

fn status_error(code: u16, reason: &str, message: &str, details: Value) -> Response<Body> {
    let v = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                   "message": message, "reason": reason, "details": details, "code": code});
    json_response(StatusCode::from_u16(code).expect("code"), &v)
}

async fn handle(
    state: Arc<Mutex<State>>,
    req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let content_type = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let rec = Recorded {
        method: method.to_string(),
        path: path.clone(),
        query: query.clone(),
        content_type: content_type.clone(),
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    let params: HashMap<String, String> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let mut st = state.lock().unwrap_or_else(|e| e.into_inner());
    st.requests.push(rec);
    if st.reject_credentials {
        return Ok(status_error(401, "Unauthorized", "Unauthorized", json!({})));
    }
    Ok(route(
        &mut st,
        &method,
        &path,
        &params,
        &content_type,
        &body,
    ))
}

fn route(
    st: &mut State,
    method: &Method,
    path: &str,
    params: &HashMap<String, String>,
    ct: &str,
    body: &[u8],
) -> Response<Body> {
    let segs: Vec<&str> = path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let defs = all_defs(st);
    match segs.as_slice() {
        ["version"] => {
            return json_response(
                StatusCode::OK,
                &json!({"major": "1", "minor": "33", "gitVersion": "v1.33.0-standin", "platform": "linux/amd64"}),
            );
        }
        ["api"] => {
            return json_response(
                StatusCode::OK,
                &json!({"kind": "APIVersions", "versions": ["v1"],
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]}),
            );
        }
        ["apis"] => {
            let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for d in defs.iter().filter(|d| !d.group.is_empty()) {
                let vs = groups.entry(d.group.clone()).or_default();
                if !vs.contains(&d.version) {
                    vs.push(d.version.clone());
                }
            }
            let groups: Vec<Value> = groups
                .into_iter()
                .map(|(g, vs)| {
                    let versions: Vec<Value> = vs
                        .iter()
                        .map(|v| json!({"groupVersion": format!("{g}/{v}"), "version": v}))
                        .collect();
                    json!({"name": g, "versions": versions, "preferredVersion": versions[0]})
                })
                .collect();
            return json_response(
                StatusCode::OK,
                &json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}),
            );
        }
        ["api", v] => return resource_list(&defs, "", v),
        ["apis", g, v] => return resource_list(&defs, g, v),
        _ => {}
    }
    let (group, version, rest) = match segs.as_slice() {
        ["api", v, rest @ ..] => ("", *v, rest),
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => {
            return status_error(
                404,
                "NotFound",
                &format!("the server could not find the requested resource ({path})"),
                json!({}),
            );
        }
    };
    let gv_defs: Vec<&ResourceDef> = defs
        .iter()
        .filter(|d| d.group == group && d.version == version)
        .collect();
    let find = |plural: &str| {
        gv_defs
            .iter()
            .find(|d| d.plural == plural)
            .map(|d| (*d).clone())
    };
    // (def, namespace, name, subresource)
    let parsed = match rest {
        ["namespaces", ns, plural, tail @ ..] if find(plural).is_some_and(|d| d.namespaced) => (
            find(plural),
            Some(ns.to_string()),
            tail.first().map(|s| s.to_string()),
            tail.get(1).map(|s| s.to_string()),
        ),
        [plural, tail @ ..] => (
            find(plural),
            None,
            tail.first().map(|s| s.to_string()),
            tail.get(1).map(|s| s.to_string()),
        ),
        [] => (None, None, None, None),
    };
    let (Some(def), ns, name, _subresource) = parsed else {
        return status_error(
            404,
            "NotFound",
            &format!("the server could not find the requested resource ({path})"),
            json!({}),
        );
    };
    if def.namespaced && ns.is_none() && name.is_some() {
        return status_error(
            404,
            "NotFound",
            "namespaced resource requested without a namespace",
            json!({}),
        );
    }
    let watch = params.get("watch").is_some_and(|w| w == "true" || w == "1");
    let verb = match (method.as_str(), &name, watch) {
        ("GET", None, true) => "watch",
        ("GET", None, false) => "list",
        ("GET", Some(_), _) => "get",
        ("POST", _, _) => "create",
        ("PUT", _, _) => "update",
        ("PATCH", _, _) => "patch",
        ("DELETE", _, _) => "delete",
        _ => return status_error(405, "MethodNotAllowed", "method not allowed", json!({})),
    };
    if st
        .denied
        .iter()
        .any(|(v, r)| v == verb && (*r == def.key() || *r == def.plural))
    {
        let what = match &name {
            Some(n) => format!("{} \"{n}\" is forbidden", def.key()),
            None => format!("{} is forbidden", def.key()),
        };
        let scope = match &ns {
            Some(n) => format!(" in the namespace \"{n}\""),
            None => " at the cluster scope".to_string(),
        };
        let msg = format!(
            "{what}: User \"tester\" cannot {verb} resource \"{}\" in API group \"{}\"{scope}",
            def.plural, def.group
        );
        return status_error(
            403,
            "Forbidden",
            &msg,
            json!({"name": name, "kind": def.plural}),
        );
    }
    let ns_str = ns.clone().unwrap_or_default();
    let dry_run = params.get("dryRun").is_some_and(|d| d == "All");
    let not_found = |n: &str| {
        status_error(
            404,
            "NotFound",
            &format!("{} \"{n}\" not found", def.key()),
            json!({"name": n, "kind": def.plural}),
        )
    };
    let ns_missing = |st: &State| -> Option<Response<Body>> {
        let ns = ns.as_deref()?;
        if st
            .objects
            .contains_key(&("namespaces".into(), String::new(), ns.into()))
        {
            return None;
        }
        Some(status_error(
            404,
            "NotFound",
            &format!("namespaces \"{ns}\" not found"),
            json!({"name": ns, "kind": "namespaces"}),
        ))
    };
    match verb {
        "list" => {
            let items: Vec<Value> = st
                .objects
                .iter()
                .filter(|(k, o)| {
                    watch_matches(
                        &def.key(),
                        ns.as_deref(),
                        params.get("labelSelector").map(String::as_str),
                        params.get("fieldSelector").map(String::as_str),
                        k,
                        o,
                    )
                })
                .map(|(_, o)| o.clone())
                .collect();
            json_response(
                StatusCode::OK,
                &json!({"kind": format!("{}List", def.kind), "apiVersion": def.api_version(),
                "metadata": {"resourceVersion": st.rv.to_string()}, "items": items}),
            )
        }
        "watch" => start_watch(st, &def, ns, params),
        "get" => {
            let n = name.expect("name");
            match st.objects.get(&(def.key(), ns_str, n.clone())) {
                Some(o) => json_response(StatusCode::OK, o),
                None => not_found(&n),
            }
        }
        "delete" => {
            let n = name.expect("name");
            let key = (def.key(), ns_str, n.clone());
            if !st.objects.contains_key(&key) {
                return not_found(&n);
            }
            if dry_run {
                return json_response(StatusCode::OK, &st.objects[&key].clone());
            }
            let obj = st.delete(&key).expect("exists");
            st.reconcile();
            json_response(StatusCode::OK, &obj)
        }
        "create" | "update" => {
            let Ok(mut obj) = serde_json::from_slice::<Value>(body) else {
                return status_error(400, "BadRequest", "the request body is not JSON", json!({}));
            };
            if let Some(r) = ns_missing(st) {
                return r;
            }
            let n = name
                .clone()
                .or_else(|| obj["metadata"]["name"].as_str().map(String::from))
                .unwrap_or_default();
            let key = (def.key(), ns_str.clone(), n.clone());
            let exists = st.objects.contains_key(&key);
            if verb == "create" && exists {
                return status_error(
                    409,
                    "AlreadyExists",
                    &format!("{} \"{n}\" already exists", def.key()),
                    json!({"name": n}),
                );
            }
            if verb == "update" && !exists {
                return not_found(&n);
            }
            if dry_run {
                return json_response(StatusCode::OK, &obj);
            }
            let out = if exists {
                let old = st.objects[&key].clone();
                for f in ["uid", "creationTimestamp", "generation"] {
                    obj["metadata"][f] = old["metadata"][f].clone();
                }
                st.store_update(key, obj)
            } else {
                let manager = params
                    .get("fieldManager")
                    .cloned()
                    .unwrap_or_else(|| "unknown".into());
                st.store_new(key, obj, &manager)
            };
            st.reconcile();
            json_response(
                if exists {
                    StatusCode::OK
                } else {
                    StatusCode::CREATED
                },
                &out,
            )
        }
        "patch" => {
            let Some(n) = name else {
                return status_error(405, "MethodNotAllowed", "PATCH needs a name", json!({}));
            };
            let Ok(patch) = serde_json::from_slice::<Value>(body) else {
                return status_error(400, "BadRequest", "the patch body is not JSON", json!({}));
            };
            let key = (def.key(), ns_str.clone(), n.clone());
            let live = st.objects.get(&key).cloned();
            let ct = ct.split(';').next().unwrap_or("").trim();
            if ct == "application/apply-patch+yaml" {
                let Some(manager) = params.get("fieldManager").cloned() else {
                    return status_error(
                        400,
                        "BadRequest",
                        "PATCH with apply-patch+yaml requires fieldManager",
                        json!({}),
                    );
                };
                if patch["apiVersion"].as_str() != Some(&def.api_version())
                    || patch["kind"].as_str() != Some(&def.kind)
                {
                    return status_error(
                        400,
                        "BadRequest",
                        &format!("apiVersion/kind of the body do not match {}", def.key()),
                        json!({}),
                    );
                }
                if patch["metadata"]["name"].as_str() != Some(n.as_str()) {
                    return status_error(
                        400,
                        "BadRequest",
                        "the name of the object does not match the name on the URL",
                        json!({}),
                    );
                }
                if let Some(r) = ns_missing(st) {
                    return r;
                }
                let force = params.get("force").is_some_and(|f| f == "true");
                if !force
                    && let Some((_, _, m, field)) = st
                        .conflicts
                        .iter()
                        .find(|c| c.0 == def.key() || c.0 == def.plural)
                        .filter(|c| c.1 == n)
                        .cloned()
                {
                    let msg = format!(
                        "Apply failed with 1 conflict: conflict with \"{m}\" using {}: {field}",
                        def.api_version()
                    );
                    return status_error(
                        409,
                        "Conflict",
                        &msg,
                        json!({"name": n, "kind": def.plural,
                            "causes": [{"reason": "FieldManagerConflict", "message": format!("conflict with \"{m}\" using {}", def.api_version()), "field": field}]}),
                    );
                }
                match live {
                    None => {
                        if dry_run {
                            let mut o = patch;
                            o["metadata"]["uid"] = json!("00000000-0000-4000-8000-dryrun000000");
                            o["metadata"]["creationTimestamp"] = json!(now_rfc3339());
                            if def.namespaced {
                                o["metadata"]["namespace"] = json!(ns_str);
                            }
                            normalize(&def.key(), &mut o);
                            return json_response(StatusCode::CREATED, &o);
                        }
                        let out = st.store_new(key, patch, &manager);
                        st.reconcile();
                        json_response(StatusCode::CREATED, &out)
                    }
                    Some(live) => {
                        let mut merged = live.clone();
                        let mut p = patch;
                        if let Some(m) = p.get_mut("metadata").and_then(Value::as_object_mut) {
                            for f in [
                                "resourceVersion",
                                "uid",
                                "creationTimestamp",
                                "generation",
                                "managedFields",
                            ] {
                                m.remove(f);
                            }
                        }
                        merge(&mut merged, &p);
                        let known = merged["metadata"]["managedFields"]
                            .as_array()
                            .is_some_and(|a| a.iter().any(|e| e["manager"] == json!(manager)));
                        if !known
                            && let Some(a) = merged["metadata"]["managedFields"].as_array_mut()
                        {
                            a.push(json!({"manager": manager, "operation": "Apply", "apiVersion": def.api_version(),
                                          "time": now_rfc3339(), "fieldsType": "FieldsV1", "fieldsV1": {}}));
                        }
                        if dry_run {
                            normalize(&def.key(), &mut merged);
                            return json_response(StatusCode::OK, &merged);
                        }
                        let out = st.store_update(key, merged);
                        st.reconcile();
                        json_response(StatusCode::OK, &out)
                    }
                }
            } else if ct == "application/merge-patch+json"
                || ct == "application/strategic-merge-patch+json"
            {
                let Some(mut obj) = live else {
                    return not_found(&n);
                };
                merge(&mut obj, &patch);
                if dry_run {
                    return json_response(StatusCode::OK, &obj);
                }
                let out = st.store_update(key, obj);
                st.reconcile();
                json_response(StatusCode::OK, &out)
            } else {
                status_error(
                    415,
                    "UnsupportedMediaType",
                    &format!("the stand-in does not support PATCH with content-type {ct:?}"),
                    json!({}),
                )
            }
        }
        _ => status_error(405, "MethodNotAllowed", "method not allowed", json!({})),
    }
}

fn resource_list(defs: &[ResourceDef], group: &str, version: &str) -> Response<Body> {
    let resources: Vec<Value> = defs
        .iter()
        .filter(|d| d.group == group && d.version == version)
        .map(|d| {
            json!({"name": d.plural, "singularName": d.singular, "namespaced": d.namespaced, "kind": d.kind,
                   "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"]})
        })
        .collect();
    if resources.is_empty() {
        return status_error(
            404,
            "NotFound",
            "the server could not find the requested resource",
            json!({}),
        );
    }
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    json_response(
        StatusCode::OK,
        &json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}),
    )
}

fn start_watch(
    st: &mut State,
    def: &ResourceDef,
    ns: Option<String>,
    params: &HashMap<String, String>,
) -> Response<Body> {
    let labels = params.get("labelSelector").cloned();
    let fields = params.get("fieldSelector").cloned();
    let resource = def.key();
    let (tx, rx) = mpsc::unbounded_channel::<Bytes>();
    let since: u64 = params
        .get("resourceVersion")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    if since == 0 {
        for (k, o) in &st.objects {
            if watch_matches(
                &resource,
                ns.as_deref(),
                labels.as_deref(),
                fields.as_deref(),
                k,
                o,
            ) {
                let _ = tx.send(watch_line("ADDED", o));
            }
        }
    } else {
        for h in st.history.iter().filter(|h| h.rv > since) {
            if watch_matches(
                &resource,
                ns.as_deref(),
                labels.as_deref(),
                fields.as_deref(),
                &h.key,
                &h.object,
            ) {
                let _ = tx.send(watch_line(h.kind, &h.object));
            }
        }
    }
    st.watchers.push(Watcher {
        resource,
        namespace: ns,
        labels,
        fields,
        tx,
    });
    let timeout = params
        .get("timeoutSeconds")
        .and_then(|t| t.parse::<u64>().ok())
        .unwrap_or(1800);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(timeout);
    let stream = futures::stream::unfold(rx, move |mut rx| async move {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(b)) => Some((Ok::<_, Infallible>(Frame::data(b)), rx)),
            _ => None,
        }
    });
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/json")
        .body(BodyExt::boxed_unsync(StreamBody::new(stream)))
        .expect("response")
}
