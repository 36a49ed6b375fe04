//! The HTTP side: one [`Client`] per run, shared by concurrent checks (and
//! by `images push`). See the module docs of [`crate::registry`].
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{
    ACCEPT, AUTHORIZATION, HeaderMap, HeaderName, HeaderValue, WWW_AUTHENTICATE,
};
use reqwest::{Method, StatusCode, Url};

use super::auth::{AuthCache, Challenge, parse_challenge, parse_token_response, repository_scope};
use super::credentials::{CredentialStore, Found};
use super::error::{RegistryError, Status, api_error_text};
use super::tls::TlsOptions;
use crate::image::{Host, ImageRef};

/// OCI image index.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// OCI image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// Docker manifest list (multi-arch).
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// Docker image manifest, schema 2.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Every manifest type we read: send them all, or registry 2.8 answers 404
/// for an OCI index.
pub const MANIFEST_ACCEPT: &[&str] = &[OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST];

/// Largest manifest we read (registries cap them at 4 MiB).
pub const MAX_MANIFEST_BYTES: usize = 4 << 20;

/// Everything a [`Client`] needs. Plain data: the command line fills it in.
#[derive(Debug, Clone)]
pub struct RegistryOptions {
    pub tls: TlsOptions,
    pub credentials: CredentialStore,
    /// Whole-request timeout.
    pub timeout: Duration,
    pub connect_timeout: Duration,
}

impl Default for RegistryOptions {
    fn default() -> Self {
        RegistryOptions {
            tls: TlsOptions::default(),
            credentials: CredentialStore::default(),
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
        }
    }
}

/// One request to a registry. `path` is `/v2/...`, or an absolute URL (an
/// upload `Location`). `scope` (`repository:NAME:pull[,push]`) is what a
/// Bearer token must grant; without one the challenge's scope is used.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: Method,
    /// `HOST[:PORT]`, or `docker.io`.
    pub registry: String,
    pub path: String,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub body: Option<Bytes>,
    pub scope: Option<String>,
}

impl Request {
    pub fn new(method: Method, registry: impl Into<String>, path: impl Into<String>) -> Self {
        Request {
            method,
            registry: registry.into(),
            path: path.into(),
            headers: Vec::new(),
            body: None,
            scope: None,
        }
    }

    pub fn header(mut self, name: HeaderName, value: &str) -> Self {
        if let Ok(v) = HeaderValue::from_str(value) {
            self.headers.push((name, v));
        }
        self
    }

    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = Some(body.into());
        self
    }

    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = Some(scope.into());
        self
    }
}

/// A manifest as the registry sent it.
#[derive(Debug, Clone)]
pub struct FetchedManifest {
    /// `Content-Type` (parameters dropped), or the body's `mediaType`.
    pub media_type: String,
    /// `Docker-Content-Digest`, else the sha256 of the body.
    pub digest: String,
    pub body: Vec<u8>,
}

/// A registry client: two HTTP clients (verifying, and not verifying for
/// `--insecure-registry` hosts), the credential sources and the token cache.
/// Cheap to clone (shared state).
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    verifying: reqwest::Client,
    insecure: reqwest::Client,
    tls: TlsOptions,
    credentials: CredentialStore,
    found: Mutex<HashMap<String, Result<Option<Found>, String>>>,
    cache: AuthCache,
    timeout: Duration,
}

impl Client {
    /// Build the client. Fails on an unreadable `--ca-file` (the error says
    /// which and what to give).
    pub fn new(options: RegistryOptions) -> anyhow::Result<Client> {
        let build = |tls: rustls::ClientConfig| {
            reqwest::Client::builder()
                .use_preconfigured_tls(tls)
                .timeout(options.timeout)
                .connect_timeout(options.connect_timeout)
                .user_agent(concat!("kubectl-tingyun/", env!("CARGO_PKG_VERSION")))
                .build()
        };
        let verifying = build(options.tls.verifying_config()?)?;
        let insecure = build(TlsOptions::insecure_config()?)?;
        Ok(Client {
            inner: Arc::new(Inner {
                verifying,
                insecure,
                tls: options.tls,
                credentials: options.credentials,
                found: Mutex::new(HashMap::new()),
                cache: AuthCache::default(),
                timeout: options.timeout,
            }),
        })
    }

    /// The scheme and `HOST[:PORT]` requests to `registry` go to
    /// (`docker.io` is served by `registry-1.docker.io`).
    pub fn endpoint(&self, registry: &str) -> Result<(&'static str, Host), RegistryError> {
        let name = if registry == crate::image::reference::DOCKER_HUB {
            "registry-1.docker.io"
        } else {
            registry
        };
        let host =
            Host::parse(name).map_err(|e| RegistryError::new(Status::Error, e.to_string()))?;
        let scheme = if self.inner.tls.is_http(&host) {
            "http"
        } else {
            "https"
        };
        Ok((scheme, host))
    }

    /// The credentials that will be sent to `registry`, and where they come
    /// from (looked up once per registry).
    pub fn credentials_for(&self, registry: &str) -> Result<Option<Found>, RegistryError> {
        let mut found = self
            .inner
            .found
            .lock()
            .map_err(|_| RegistryError::new(Status::Error, "internal: lock poisoned"))?;
        let entry = found
            .entry(registry.to_string())
            .or_insert_with(|| self.inner.credentials.lookup(registry));
        entry
            .clone()
            .map_err(|e| RegistryError::new(Status::Unauthorized, e))
    }

    /// `GET /v2/`: is the registry there, and do our credentials work?
    pub async fn ping(&self, registry: &str) -> Result<(), RegistryError> {
        let resp = self
            .send(Request::new(Method::GET, registry, "/v2/"))
            .await?;
        if resp.status().is_success() {
            return Ok(());
        }
        Err(status_error(resp, "GET /v2/").await)
    }

    /// The manifest of `image` (by digest if it has one, else tag, else
    /// `latest`), asking for the given media types.
    pub async fn manifest(
        &self,
        image: &ImageRef,
        accept: &[&str],
    ) -> Result<FetchedManifest, RegistryError> {
        self.manifest_of(
            &image.registry(),
            &image.repository(),
            image.reference(),
            accept,
        )
        .await
    }

    /// The manifest `reference` (tag or digest) of `repository`.
    pub async fn manifest_of(
        &self,
        registry: &str,
        repository: &str,
        reference: &str,
        accept: &[&str],
    ) -> Result<FetchedManifest, RegistryError> {
        let req = Request::new(
            Method::GET,
            registry,
            format!("/v2/{repository}/manifests/{reference}"),
        )
        .header(ACCEPT, &accept.join(", "))
        .scope(repository_scope(repository, "pull"));
        let resp = self.send(req).await?;
        if !resp.status().is_success() {
            return Err(status_error(resp, &format!("manifest {repository}:{reference}")).await);
        }
        let content_type = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or(v).trim().to_string());
        let header_digest = resp
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = read_limited(resp, MAX_MANIFEST_BYTES).await?;
        let computed = sha256_digest(&body);
        if reference.starts_with("sha256:") && reference != computed {
            return Err(RegistryError::new(
                Status::Error,
                format!(
                    "the registry sent a manifest for {repository}@{reference} whose digest is {computed}"
                ),
            ));
        }
        let media_type = match content_type {
            Some(ct) if !ct.is_empty() && ct != "application/json" && ct != "text/plain" => ct,
            _ => serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v.get("mediaType")?.as_str().map(str::to_string))
                .unwrap_or_default(),
        };
        Ok(FetchedManifest {
            media_type,
            digest: header_digest.unwrap_or(computed),
            body,
        })
    }

    /// `HEAD /v2/NAME/blobs/DIGEST`: the blob's size if the registry has
    /// it, `None` if not (404).
    pub async fn head_blob(
        &self,
        registry: &str,
        repository: &str,
        digest: &str,
    ) -> Result<Option<u64>, RegistryError> {
        let req = Request::new(
            Method::HEAD,
            registry,
            format!("/v2/{repository}/blobs/{digest}"),
        )
        .scope(repository_scope(repository, "pull"));
        let resp = self.send(req).await?;
        match resp.status() {
            s if s.is_success() => Ok(Some(
                resp.headers()
                    .get(reqwest::header::CONTENT_LENGTH)
                    .and_then(|v| v.to_str().ok()?.parse().ok())
                    .unwrap_or(0),
            )),
            StatusCode::NOT_FOUND => Ok(None),
            _ => Err(status_error(resp, &format!("blob {repository}@{digest}")).await),
        }
    }

    /// `GET /v2/NAME/blobs/DIGEST`, at most `max` bytes, digest checked.
    pub async fn blob(
        &self,
        registry: &str,
        repository: &str,
        digest: &str,
        max: usize,
    ) -> Result<Vec<u8>, RegistryError> {
        let req = Request::new(
            Method::GET,
            registry,
            format!("/v2/{repository}/blobs/{digest}"),
        )
        .scope(repository_scope(repository, "pull"));
        let resp = self.send(req).await?;
        if !resp.status().is_success() {
            return Err(status_error(resp, &format!("blob {repository}@{digest}")).await);
        }
        let body = read_limited(resp, max).await?;
        if digest.starts_with("sha256:") && sha256_digest(&body) != digest {
            return Err(RegistryError::new(
                Status::Error,
                format!("blob {repository}@{digest}: the content does not match its digest"),
            ));
        }
        Ok(body)
    }

    /// Send a request, doing the authentication dance (module docs). Any
    /// status but an unresolved 401 comes back as the response; transport
    /// failures and refused credentials are [`RegistryError`]s.
    pub async fn send(&self, req: Request) -> Result<reqwest::Response, RegistryError> {
        let registry = req.registry.clone();
        let found = self.credentials_for(&registry)?;
        let mut sent = self.preemptive_auth(&req, found.as_ref()).await?;
        let resp = self
            .execute(&req, sent.as_ref().map(|s| s.header.as_str()))
            .await?;
        if resp.status() != StatusCode::UNAUTHORIZED {
            return Ok(resp);
        }
        let challenge = resp
            .headers()
            .get_all(WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(parse_challenge)
            .max_by_key(|c| matches!(c, Challenge::Bearer { .. }));
        let body = read_limited(resp, 64 << 10).await.unwrap_or_default();
        let who = found.as_ref().map(describe);
        match challenge {
            Some(Challenge::Basic { .. }) => {
                let Some(f) = &found else {
                    return Err(no_credentials(&registry, &body));
                };
                if sent.as_ref().is_some_and(|s| s.kind == Kind::Basic) {
                    return Err(refused(&registry, who.as_deref(), &body));
                }
                self.inner.cache.set_basic(&registry);
                sent = Some(Sent {
                    kind: Kind::Basic,
                    header: f.credentials.basic_header(),
                });
            }
            Some(Challenge::Bearer {
                realm,
                service,
                scope,
                ..
            }) => {
                self.inner
                    .cache
                    .set_bearer_realm(&registry, &realm, service.as_deref());
                let token_scope = req.scope.clone().or(scope).unwrap_or_default();
                self.inner.cache.forget_token(&registry, &token_scope);
                let token = self
                    .fetch_token(&realm, service.as_deref(), &token_scope, found.as_ref())
                    .await?;
                self.inner
                    .cache
                    .store_token(&registry, &token_scope, &token);
                sent = Some(Sent {
                    kind: Kind::Bearer,
                    header: format!("Bearer {}", token.token),
                });
            }
            None => {
                return Err(RegistryError::new(
                    Status::Unauthorized,
                    format!(
                        "{registry} answered 401 without a usable Www-Authenticate challenge{}",
                        detail(&body)
                    ),
                )
                .with_code(401));
            }
        }
        let resp = self
            .execute(&req, sent.as_ref().map(|s| s.header.as_str()))
            .await?;
        if resp.status() != StatusCode::UNAUTHORIZED {
            return Ok(resp);
        }
        let body = read_limited(resp, 64 << 10).await.unwrap_or_default();
        match (&found, sent.map(|s| s.kind)) {
            (None, _) => Err(no_credentials(&registry, &body)),
            (Some(_), Some(Kind::Bearer)) => Err(RegistryError::new(
                Status::Unauthorized,
                format!(
                    "{registry} refused the token issued for {} with {}: the account has no {} \
                     permission there (or the repository does not exist){}",
                    req.scope.as_deref().unwrap_or("this request"),
                    who.as_deref().unwrap_or("no credentials"),
                    scope_actions(req.scope.as_deref()),
                    detail(&body)
                ),
            )
            .with_code(401)),
            _ => Err(refused(&registry, who.as_deref(), &body)),
        }
    }

    /// Authorization to send before any challenge: a cached token for the
    /// scope, Basic for a registry known to want it, or a fresh token from
    /// a realm learnt earlier.
    async fn preemptive_auth(
        &self,
        req: &Request,
        found: Option<&Found>,
    ) -> Result<Option<Sent>, RegistryError> {
        let cache = &self.inner.cache;
        if let Some(scope) = &req.scope {
            if let Some(token) = cache.token(&req.registry, scope) {
                return Ok(Some(Sent {
                    kind: Kind::Bearer,
                    header: format!("Bearer {token}"),
                }));
            }
            if let Some((realm, service)) = cache.bearer_realm(&req.registry) {
                let token = self
                    .fetch_token(&realm, service.as_deref(), scope, found)
                    .await?;
                cache.store_token(&req.registry, scope, &token);
                return Ok(Some(Sent {
                    kind: Kind::Bearer,
                    header: format!("Bearer {}", token.token),
                }));
            }
        }
        if let Some(f) = found
            && cache.uses_basic(&req.registry)
        {
            return Ok(Some(Sent {
                kind: Kind::Basic,
                header: f.credentials.basic_header(),
            }));
        }
        Ok(None)
    }

    async fn fetch_token(
        &self,
        realm: &str,
        service: Option<&str>,
        scope: &str,
        found: Option<&Found>,
    ) -> Result<super::auth::Token, RegistryError> {
        let mut url = Url::parse(realm).map_err(|e| {
            RegistryError::new(
                Status::Error,
                format!("the registry named a token service {realm:?} that is not a URL ({e})"),
            )
        })?;
        {
            let mut q = url.query_pairs_mut();
            if let Some(s) = service {
                q.append_pair("service", s);
            }
            if !scope.is_empty() {
                q.append_pair("scope", scope);
            }
        }
        let realm_host = url
            .host_str()
            .map(|h| match url.port() {
                Some(p) => format!("{h}:{p}"),
                None => h.to_string(),
            })
            .unwrap_or_default();
        let insecure = Host::parse(&realm_host).is_ok_and(|h| self.inner.tls.is_insecure(&h));
        let client = if insecure {
            &self.inner.insecure
        } else {
            &self.inner.verifying
        };
        let mut rb = client.get(url.clone());
        if let Some(f) = found {
            rb = rb.header(AUTHORIZATION, f.credentials.basic_header());
        }
        let resp = rb
            .send()
            .await
            .map_err(|e| transport_error(&e, &realm_host, url.scheme(), self.inner.timeout))?;
        let status = resp.status();
        let body = read_limited(resp, 1 << 20).await?;
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            let who = found.map(describe);
            return Err(RegistryError::new(
                Status::Unauthorized,
                match who {
                    Some(w) => format!(
                        "the token service {realm} refused {w} (HTTP {}): wrong user name or password, \
                         or the account is disabled; check them (a Harbor robot account is named like \
                         robot$project+name)",
                        status.as_u16()
                    ),
                    None => format!(
                        "the token service {realm} refused an anonymous token (HTTP {}): give \
                         credentials (--username with --password-stdin, --from-cluster, or docker login)",
                        status.as_u16()
                    ),
                },
            )
            .with_code(status.as_u16()));
        }
        if !status.is_success() {
            return Err(RegistryError::new(
                Status::Error,
                format!(
                    "the token service {realm} answered HTTP {}{}",
                    status.as_u16(),
                    detail(&body)
                ),
            )
            .with_code(status.as_u16()));
        }
        parse_token_response(&body).ok_or_else(|| {
            RegistryError::new(
                Status::Error,
                format!("the token service {realm} answered without a token"),
            )
        })
    }

    async fn execute(
        &self,
        req: &Request,
        authorization: Option<&str>,
    ) -> Result<reqwest::Response, RegistryError> {
        let (scheme, host) = self.endpoint(&req.registry)?;
        let url = if req.path.starts_with("http://") || req.path.starts_with("https://") {
            req.path.clone()
        } else {
            format!("{scheme}://{host}{}", req.path)
        };
        let url = Url::parse(&url).map_err(|e| {
            RegistryError::new(Status::Error, format!("bad request URL {url:?}: {e}"))
        })?;
        let client = if self.inner.tls.is_insecure(&host) {
            &self.inner.insecure
        } else {
            &self.inner.verifying
        };
        let mut headers = HeaderMap::new();
        for (k, v) in &req.headers {
            headers.append(k.clone(), v.clone());
        }
        if let Some(a) = authorization
            && let Ok(v) = HeaderValue::from_str(a)
        {
            let mut v = v;
            v.set_sensitive(true);
            headers.insert(AUTHORIZATION, v);
        }
        let mut rb = client
            .request(req.method.clone(), url.clone())
            .headers(headers);
        if let Some(body) = &req.body {
            rb = rb.body(body.clone());
        }
        let result = rb.send().await;
        let resp = match result {
            Ok(r) => r,
            Err(e) => {
                let mut err =
                    transport_error(&e, &host.to_string(), url.scheme(), self.inner.timeout);
                if err.status == Status::Error
                    && url.scheme() == "https"
                    && speaks_plain_http(&host, self.inner.timeout).await
                {
                    err = RegistryError::new(
                        Status::HttpOnly,
                        format!(
                            "{host} speaks plain HTTP, not HTTPS: add --http-registry {host} to use it \
                             (and for the cluster: the KCI annotation via `patch --http-registry`, or the \
                             container runtime's insecure/HTTP registry setting on every node)"
                        ),
                    );
                }
                return Err(err);
            }
        };
        if resp.status() == StatusCode::BAD_REQUEST && url.scheme() == "http" {
            let body = read_limited(resp, 4096).await.unwrap_or_default();
            let text = String::from_utf8_lossy(&body);
            if text.contains("HTTP request to an HTTPS server") {
                return Err(RegistryError::new(
                    Status::Error,
                    format!(
                        "{host} speaks HTTPS, but it is listed in --http-registry: remove it from there"
                    ),
                )
                .with_code(400));
            }
            return Err(RegistryError::new(
                Status::Error,
                format!("{host} answered 400 Bad Request{}", detail(&body)),
            )
            .with_code(400));
        }
        Ok(resp)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Basic,
    Bearer,
}

struct Sent {
    kind: Kind,
    header: String,
}

fn describe(found: &Found) -> String {
    format!(
        "the credentials of user {:?} from {}",
        found.credentials.username, found.origin
    )
}

fn scope_actions(scope: Option<&str>) -> &str {
    scope.and_then(|s| s.rsplit(':').next()).unwrap_or("pull")
}

fn no_credentials(registry: &str, body: &[u8]) -> RegistryError {
    RegistryError::new(
        Status::Unauthorized,
        format!(
            "{registry} requires credentials and none were found for it{}: pass --username with \
             --password-stdin (or {}), --from-cluster to use the cluster's pull secrets, or run \
             `docker login {registry}`",
            detail(body),
            crate::cluster::dockerconfig::PASSWORD_ENV
        ),
    )
    .with_code(401)
}

fn refused(registry: &str, who: Option<&str>, body: &[u8]) -> RegistryError {
    RegistryError::new(
        Status::Unauthorized,
        format!(
            "{registry} refused {}{}: check the user name and password",
            who.unwrap_or("the credentials"),
            detail(body)
        ),
    )
    .with_code(401)
}

fn detail(body: &[u8]) -> String {
    match api_error_text(body) {
        Some(t) => format!(" ({t})"),
        None => String::new(),
    }
}

/// The error for a non-success status (401 is handled by `send`).
pub async fn status_error(resp: reqwest::Response, what: &str) -> RegistryError {
    let code = resp.status().as_u16();
    let body = read_limited(resp, 64 << 10).await.unwrap_or_default();
    let text = api_error_text(&body);
    let (status, message) = match code {
        404 => (
            Status::Missing,
            format!(
                "{what}: not found{} - the repository or tag is not in the registry (was the image pushed?)",
                text.map(|t| format!(" ({t})")).unwrap_or_default()
            ),
        ),
        401 | 403 => (
            Status::Unauthorized,
            format!(
                "{what}: access denied (HTTP {code}){}: the account has no pull permission",
                text.map(|t| format!(" ({t})")).unwrap_or_default()
            ),
        ),
        _ => (
            Status::Error,
            format!(
                "{what}: HTTP {code}{}",
                text.map(|t| format!(" ({t})")).unwrap_or_default()
            ),
        ),
    };
    RegistryError::new(status, message).with_code(code)
}

/// Read a body, refusing more than `max` bytes.
pub async fn read_limited(
    mut resp: reqwest::Response,
    max: usize,
) -> Result<Vec<u8>, RegistryError> {
    if let Some(len) = resp.content_length()
        && len > max as u64
    {
        return Err(RegistryError::new(
            Status::Error,
            format!("the response is {len} bytes, more than the {max} bytes expected"),
        ));
    }
    let mut out = Vec::new();
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                if out.len() + chunk.len() > max {
                    return Err(RegistryError::new(
                        Status::Error,
                        format!("the response is larger than the {max} bytes expected"),
                    ));
                }
                out.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(out),
            Err(e) => {
                return Err(RegistryError::new(
                    Status::Unreachable,
                    format!(
                        "the connection broke while reading the response: {}",
                        chain(&e)
                    ),
                ));
            }
        }
    }
}

/// `sha256:HEX` of `bytes`.
pub fn sha256_digest(bytes: &[u8]) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, bytes);
    let mut s = String::with_capacity(71);
    s.push_str("sha256:");
    for b in d.as_ref() {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// The error and its sources, `: `-joined (io::Error's wrapped error
/// included, which `source()` skips).
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(s) = cur {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        if let Some(io) = s.downcast_ref::<std::io::Error>()
            && let Some(inner) = io.get_ref()
        {
            let t = inner.to_string();
            if !parts.iter().any(|p| p.contains(&t)) {
                parts.push(t);
            }
        }
        cur = s.source();
    }
    parts.join(": ")
}

/// The rustls error in a chain, if any.
fn find_rustls(e: &(dyn std::error::Error + 'static)) -> Option<rustls::Error> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = cur {
        if let Some(r) = s.downcast_ref::<rustls::Error>() {
            return Some(r.clone());
        }
        if let Some(io) = s.downcast_ref::<std::io::Error>()
            && let Some(inner) = io.get_ref()
        {
            if let Some(r) = inner.downcast_ref::<rustls::Error>() {
                return Some(r.clone());
            }
            if let Some(r) = inner.source().and_then(find_rustls) {
                return Some(r);
            }
        }
        cur = s.source();
    }
    None
}

fn find_io_kind(e: &(dyn std::error::Error + 'static)) -> Option<std::io::ErrorKind> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = cur {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return Some(io.kind());
        }
        cur = s.source();
    }
    None
}

/// Sort a transport failure into a status with a message saying what to do;
/// a connection that broke mid-request is marked transient (worth a retry).
fn transport_error(
    e: &reqwest::Error,
    host: &str,
    scheme: &str,
    timeout: Duration,
) -> RegistryError {
    let err = classify_transport_error(e, host, scheme, timeout);
    if broken_connection(e) {
        err.transient()
    } else {
        err
    }
}

/// A reset, an early close or a timeout, as opposed to a refusal (TLS, DNS).
fn broken_connection(e: &reqwest::Error) -> bool {
    use std::io::ErrorKind as K;
    if e.is_timeout() {
        return true;
    }
    if matches!(
        find_io_kind(e),
        Some(K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe | K::UnexpectedEof)
    ) {
        return true;
    }
    let text = chain(e).to_ascii_lowercase();
    text.contains("connection closed before message completed")
        || text.contains("connection reset")
        || text.contains("broken pipe")
}

fn classify_transport_error(
    e: &reqwest::Error,
    host: &str,
    scheme: &str,
    timeout: Duration,
) -> RegistryError {
    let text = chain(e);
    if e.is_timeout() {
        return RegistryError::new(
            Status::Unreachable,
            format!(
                "{host}: no answer within {}s ({text}); check the address, the firewall and any proxy",
                timeout.as_secs()
            ),
        );
    }
    let lower = text.to_ascii_lowercase();
    // rustls errors, found by type where the chain exposes them, else by
    // their Display text (reqwest's connector hides the io::Error wrapper).
    let rustls_err = find_rustls(e).or_else(|| {
        use rustls::{CertificateError, Error as R};
        if lower.contains("invalid peer certificate") {
            Some(R::InvalidCertificate(if text.contains("UnknownIssuer") {
                CertificateError::UnknownIssuer
            } else if text.contains("NotValidForName") {
                CertificateError::NotValidForName
            } else if text.contains("Expired") {
                CertificateError::Expired
            } else {
                CertificateError::BadEncoding
            }))
        } else if lower.contains("received corrupt message")
            || lower.contains("tls handshake eof")
            || lower.contains("peer is incompatible")
            || lower.contains("peer misbehaved")
        {
            Some(R::General(text.clone()))
        } else {
            None
        }
    });
    if let Some(r) = rustls_err {
        use rustls::{CertificateError, Error as R};
        let why = match &r {
            R::InvalidCertificate(CertificateError::UnknownIssuer) => Some(
                "its certificate is signed by an unknown authority (self-signed or a private CA)",
            ),
            R::InvalidCertificate(CertificateError::NotValidForName)
            | R::InvalidCertificate(CertificateError::NotValidForNameContext { .. }) => {
                Some("its certificate is not valid for this host name")
            }
            R::InvalidCertificate(CertificateError::Expired)
            | R::InvalidCertificate(CertificateError::ExpiredContext { .. }) => {
                Some("its certificate has expired")
            }
            R::InvalidCertificate(_) => Some("its certificate was rejected"),
            _ => None,
        };
        if let Some(why) = why {
            return RegistryError::new(
                Status::TlsError,
                format!(
                    "{host}: TLS verification failed: {why} ({text}); pass the CA with --ca-file PATH, \
                     or --insecure-registry {host} to skip verification (nodes need the same CA in \
                     their container runtime, or the KCI insecure-registry annotation)"
                ),
            );
        }
        // A handshake that is not TLS at all: decided by the caller's probe.
        return RegistryError::new(
            Status::Error,
            format!("{host}: TLS handshake failed ({text})"),
        );
    }
    match find_io_kind(e) {
        Some(std::io::ErrorKind::ConnectionRefused) => {
            return RegistryError::new(
                Status::Unreachable,
                format!(
                    "{host}: connection refused; is the registry running on that address and port?"
                ),
            );
        }
        Some(std::io::ErrorKind::TimedOut) => {
            return RegistryError::new(
                Status::Unreachable,
                format!("{host}: connection timed out ({text})"),
            );
        }
        _ => {}
    }
    if lower.contains("dns error")
        || lower.contains("failed to lookup address")
        || lower.contains("name or service not known")
        || lower.contains("no such host")
    {
        return RegistryError::new(
            Status::Unreachable,
            format!(
                "{host}: the name does not resolve ({text}); check the registry host name and DNS"
            ),
        );
    }
    if e.is_connect() && scheme == "http" {
        return RegistryError::new(Status::Unreachable, format!("{host}: {text}"));
    }
    if e.is_connect() && !lower.contains("tls") && !lower.contains("handshake") {
        return RegistryError::new(Status::Unreachable, format!("{host}: {text}"));
    }
    RegistryError::new(Status::Error, format!("{host}: {text}"))
}

/// Does `host` answer a plain-HTTP request? (Tells "HTTP-only registry"
/// from other handshake failures.)
async fn speaks_plain_http(host: &Host, timeout: Duration) -> bool {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = format!(
        "{}:{}",
        host.name().trim_start_matches('[').trim_end_matches(']'),
        host.port().unwrap_or(443)
    );
    let addr = if host.name().starts_with('[') {
        format!(
            "[{}]:{}",
            host.name().trim_start_matches('[').trim_end_matches(']'),
            host.port().unwrap_or(443)
        )
    } else {
        addr
    };
    let probe = async {
        let mut s = tokio::net::TcpStream::connect(&addr).await.ok()?;
        s.write_all(format!("GET /v2/ HTTP/1.0\r\nHost: {host}\r\n\r\n").as_bytes())
            .await
            .ok()?;
        let mut buf = [0u8; 5];
        s.read_exact(&mut buf).await.ok()?;
        Some(&buf == b"HTTP/")
    };
    tokio::time::timeout(timeout.min(Duration::from_secs(5)), probe)
        .await
        .ok()
        .flatten()
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_empty() {
        assert_eq!(
            sha256_digest(b""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn docker_hub_goes_to_registry_1() {
        let c = Client::new(RegistryOptions::default()).unwrap();
        let (scheme, host) = c.endpoint("docker.io").unwrap();
        assert_eq!(
            (scheme, host.to_string().as_str()),
            ("https", "registry-1.docker.io")
        );
        assert!(c.endpoint("http://x").is_err());
    }
}
