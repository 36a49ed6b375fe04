//! The write half of the distribution API on top of [`Client::send`]:
//! blob existence, cross-repository mount, monolithic and chunked uploads,
//! manifests. Retries with backoff on 5xx and broken connections.
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{ACCEPT, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, LOCATION};
use reqwest::{Method, StatusCode};

use crate::registry::auth::repository_scope;
use crate::registry::client::MANIFEST_ACCEPT;
use crate::registry::error::{Status, api_error_text};
use crate::registry::{Client, RegistryError, Request};

/// Chunk size of a chunked upload (halved on 413, down to 256 KiB).
const CHUNK: usize = 8 << 20;
const RETRIES: u32 = 4;

/// Push-side requests to one registry.
pub struct Uploader {
    pub client: Client,
    pub registry: String,
    /// A proxy refused a monolithic PUT (413 or otherwise): go chunked first.
    prefer_chunked: AtomicBool,
    /// Chunk size that last got through (a proxy's 413 halves it; later
    /// blobs start from there).
    chunk: AtomicUsize,
}

/// An error that says which repository and what to do.
pub fn push_error(repo: &str, what: &str, e: RegistryError) -> anyhow::Error {
    let hint = match (e.status, e.code) {
        (_, Some(403)) | (Status::Unauthorized, _) => format!(
            "\nthe account cannot push to {repo}: give it push permission on the project (Harbor robot accounts are often pull-only), \
             or pass an account that has it (--username ... --password-stdin, or docker login)"
        ),
        _ => String::new(),
    };
    anyhow::anyhow!("{what} {repo}: {}{hint}", e.message)
}

impl Uploader {
    pub fn new(client: Client, registry: String) -> Self {
        Uploader {
            client,
            registry,
            prefer_chunked: AtomicBool::new(false),
            chunk: AtomicUsize::new(CHUNK),
        }
    }

    fn req(&self, method: Method, path: impl Into<String>, repo: &str) -> Request {
        Request::new(method, self.registry.clone(), path).scope(repository_scope(repo, "pull,push"))
    }

    async fn send(&self, req: Request) -> Result<reqwest::Response, RegistryError> {
        let mut wait = Duration::from_millis(300);
        for attempt in 0.. {
            match self.client.send(req.clone()).await {
                Ok(r) if r.status().is_server_error() && attempt < RETRIES => {}
                Ok(r) => return Ok(r),
                Err(e) if (e.status == Status::Unreachable || e.transient) && attempt < RETRIES => {
                }
                Err(e) => return Err(e),
            }
            tokio::time::sleep(wait).await;
            wait *= 2;
        }
        unreachable!()
    }

    /// The blob's size if `repo` has it.
    pub async fn exists(&self, repo: &str, digest: &str) -> Result<bool, RegistryError> {
        let r = self
            .send(self.req(Method::HEAD, format!("/v2/{repo}/blobs/{digest}"), repo))
            .await?;
        match r.status() {
            s if s.is_success() => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            _ => Err(status_err(r, &format!("HEAD blob {digest}")).await),
        }
    }

    /// Mount `digest` from `from` into `repo`; false when the registry
    /// would rather have it uploaded (202).
    pub async fn mount(&self, repo: &str, digest: &str, from: &str) -> Result<bool, RegistryError> {
        let req = Request::new(
            Method::POST,
            self.registry.clone(),
            format!("/v2/{repo}/blobs/uploads/?mount={digest}&from={from}"),
        )
        .scope(format!(
            "{} {}",
            repository_scope(repo, "pull,push"),
            repository_scope(from, "pull")
        ))
        .header(CONTENT_LENGTH, "0");
        let r = self.send(req).await?;
        match r.status() {
            StatusCode::CREATED => Ok(true),
            s if s.is_success() => {
                // An upload session was opened instead: leave it to expire.
                Ok(false)
            }
            _ => Ok(false),
        }
    }

    /// Upload `data` (whose sha256 is `digest`) to `repo`. When the upload
    /// fails after its retries, the registry is asked whether the blob
    /// arrived anyway (a proxy that broke the connection after forwarding
    /// the last request).
    pub async fn upload(&self, repo: &str, digest: &str, data: Bytes) -> Result<(), RegistryError> {
        match self.upload_once(repo, digest, data).await {
            Err(e) if e.status != Status::Unauthorized => {
                if let Ok(true) = self.exists(repo, digest).await {
                    return Ok(());
                }
                Err(e)
            }
            r => r,
        }
    }

    async fn upload_once(
        &self,
        repo: &str,
        digest: &str,
        data: Bytes,
    ) -> Result<(), RegistryError> {
        if !self.prefer_chunked.load(Ordering::Relaxed) {
            match self.monolithic(repo, digest, data.clone()).await {
                Ok(()) => return Ok(()),
                Err(e) if e.status == Status::Unauthorized => return Err(e),
                Err(e) if matches!(e.code, Some(400..=499)) && e.code != Some(404) => {
                    // 413 from a proxy, or a proxy/registry that refuses a
                    // body on the finishing PUT: switch to chunks.
                    self.prefer_chunked.store(true, Ordering::Relaxed);
                }
                Err(e) => return Err(e),
            }
        }
        match self.chunked(repo, digest, data.clone()).await {
            Ok(()) => Ok(()),
            Err(e) if e.status == Status::Unauthorized => Err(e),
            Err(e) if matches!(e.code, Some(400..=499)) => {
                // Some proxies break PATCH: the reverse fallback.
                self.prefer_chunked.store(false, Ordering::Relaxed);
                self.monolithic(repo, digest, data).await
            }
            Err(e) => Err(e),
        }
    }

    async fn start(&self, repo: &str) -> Result<String, RegistryError> {
        let r = self
            .send(
                self.req(Method::POST, format!("/v2/{repo}/blobs/uploads/"), repo)
                    .header(CONTENT_LENGTH, "0"),
            )
            .await?;
        if r.status() != StatusCode::ACCEPTED {
            return Err(status_err(r, "start an upload").await);
        }
        location(&r).ok_or_else(|| {
            RegistryError::new(
                Status::Error,
                "the registry started an upload without a Location",
            )
        })
    }

    async fn monolithic(&self, repo: &str, digest: &str, data: Bytes) -> Result<(), RegistryError> {
        let loc = self.start(repo).await?;
        let req = self
            .req(Method::PUT, with_digest(&loc, digest), repo)
            .header(CONTENT_TYPE, "application/octet-stream")
            .body(data);
        let r = self.send(req).await?;
        if r.status() != StatusCode::CREATED {
            return Err(status_err(r, &format!("PUT blob {digest}")).await);
        }
        Ok(())
    }

    async fn chunked(&self, repo: &str, digest: &str, data: Bytes) -> Result<(), RegistryError> {
        let mut chunk = self.chunk.load(Ordering::Relaxed);
        'restart: loop {
            let mut loc = self.start(repo).await?;
            let mut at = 0usize;
            while at < data.len() {
                let end = (at + chunk).min(data.len());
                let req = self
                    .req(Method::PATCH, loc.clone(), repo)
                    .header(CONTENT_TYPE, "application/octet-stream")
                    .header(CONTENT_RANGE, &format!("{at}-{}", end - 1))
                    .body(data.slice(at..end));
                let r = self.send(req).await?;
                if r.status() == StatusCode::PAYLOAD_TOO_LARGE && chunk > 256 << 10 {
                    chunk /= 2;
                    self.chunk.fetch_min(chunk, Ordering::Relaxed);
                    continue 'restart;
                }
                if r.status() != StatusCode::ACCEPTED {
                    return Err(status_err(r, &format!("PATCH blob {digest}")).await);
                }
                loc = location(&r).unwrap_or(loc);
                at = end;
            }
            let r = self
                .send(
                    self.req(Method::PUT, with_digest(&loc, digest), repo)
                        .header(CONTENT_LENGTH, "0"),
                )
                .await?;
            if r.status() != StatusCode::CREATED {
                return Err(status_err(r, &format!("PUT blob {digest}")).await);
            }
            return Ok(());
        }
    }

    /// The digest `repo:reference` points at now, if any.
    pub async fn manifest_digest(
        &self,
        repo: &str,
        reference: &str,
    ) -> Result<Option<String>, RegistryError> {
        let req = self
            .req(
                Method::HEAD,
                format!("/v2/{repo}/manifests/{reference}"),
                repo,
            )
            .header(ACCEPT, &MANIFEST_ACCEPT.join(", "));
        let r = self.send(req).await?;
        match r.status() {
            s if s.is_success() => Ok(r
                .headers()
                .get("docker-content-digest")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)),
            StatusCode::NOT_FOUND => Ok(None),
            _ => Err(status_err(r, &format!("HEAD manifest {reference}")).await),
        }
    }

    pub async fn put_manifest(
        &self,
        repo: &str,
        reference: &str,
        media_type: &str,
        body: Bytes,
    ) -> Result<(), RegistryError> {
        let req = self
            .req(
                Method::PUT,
                format!("/v2/{repo}/manifests/{reference}"),
                repo,
            )
            .header(CONTENT_TYPE, media_type)
            .body(body);
        let r = self.send(req).await?;
        if !r.status().is_success() {
            return Err(status_err(r, &format!("PUT manifest {reference}")).await);
        }
        Ok(())
    }
}

fn location(r: &reqwest::Response) -> Option<String> {
    let loc = r.headers().get(LOCATION)?.to_str().ok()?.to_string();
    if loc.starts_with("http://") || loc.starts_with("https://") || loc.starts_with('/') {
        Some(loc)
    } else {
        Some(format!("/{loc}"))
    }
}

fn with_digest(loc: &str, digest: &str) -> String {
    let sep = if loc.contains('?') { '&' } else { '?' };
    format!("{loc}{sep}digest={digest}")
}

async fn status_err(r: reqwest::Response, what: &str) -> RegistryError {
    let code = r.status().as_u16();
    let body = r.bytes().await.unwrap_or_default();
    let text = api_error_text(&body)
        .unwrap_or_else(|| String::from_utf8_lossy(&body).chars().take(200).collect());
    let status = match code {
        401 | 403 => Status::Unauthorized,
        _ => Status::Error,
    };
    let advice = match code {
        413 => {
            " (a proxy in front of the registry refuses bodies this large; raise its limit, e.g. nginx client_max_body_size 0)"
        }
        _ => "",
    };
    RegistryError::new(
        status,
        format!("{what}: HTTP {code} {}{advice}", text.trim()),
    )
    .with_code(code)
}
