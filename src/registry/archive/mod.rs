//! Image archives as vendors ship them: a `.tar.gz` holding `docker save`
//! tars or OCI layouts (possibly nested), a directory, a `docker save` tar
//! (classic layout, or the newer one with an OCI layout inside), an OCI
//! image layout (directory or tar).
//!
//! ```text
//! scan::scan(SOURCE)      -> Containers (file tables; small files in memory)
//! images(&containers)     -> SourceImages (name as found, platform images:
//!                            config, layers, the source's own manifest/index)
//! ```
pub mod names;
pub mod scan;

use std::fmt;
use std::sync::Arc;

use anyhow::{Context, Result, anyhow, bail};
use serde_json::Value;

pub use scan::{BlobData, BlobLoc, Container};

pub const MT_DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const MT_DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const MT_DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub const MT_DOCKER_LAYER_GZ: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
pub const MT_DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar";
pub const MT_OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const MT_OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const MT_OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const MT_OCI_LAYER_GZ: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const MT_OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";

/// `sha256:<hex>` of `bytes`.
pub fn sha256(bytes: &[u8]) -> String {
    hex_digest(ring::digest::digest(&ring::digest::SHA256, bytes).as_ref())
}

pub fn hex_digest(raw: &[u8]) -> String {
    let mut s = String::with_capacity(7 + raw.len() * 2);
    s.push_str("sha256:");
    for b in raw {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// An image platform: `linux/amd64`, `linux/arm64`, `linux/arm/v7`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
}

impl Platform {
    /// Parse `OS/ARCH[/VARIANT]` (also `ARCH` alone, meaning linux).
    pub fn parse(s: &str) -> Result<Platform> {
        let parts: Vec<&str> = s.trim().split('/').collect();
        let (os, arch, variant) = match parts.as_slice() {
            [a] if !a.is_empty() => ("linux", *a, None),
            [o, a] if !o.is_empty() && !a.is_empty() => (*o, *a, None),
            [o, a, v] if !o.is_empty() && !a.is_empty() && !v.is_empty() => (*o, *a, Some(*v)),
            _ => bail!(
                "{s:?} is not a platform: give OS/ARCH[/VARIANT], e.g. linux/amd64 or linux/arm64"
            ),
        };
        Ok(Platform::new(os, arch, variant))
    }

    /// Normalized: `x86_64` -> `amd64`, `aarch64` -> `arm64`; arm64's
    /// default variant `v8` is dropped.
    pub fn new(os: &str, arch: &str, variant: Option<&str>) -> Platform {
        let architecture = match arch.to_ascii_lowercase().as_str() {
            "x86_64" | "x86-64" => "amd64".to_string(),
            "aarch64" => "arm64".to_string(),
            a => a.to_string(),
        };
        let variant = variant
            .filter(|v| !v.is_empty())
            .filter(|v| !(architecture == "arm64" && *v == "v8"))
            .map(str::to_string);
        Platform {
            os: os.to_ascii_lowercase(),
            architecture,
            variant,
        }
    }

    fn from_json(v: &Value) -> Option<Platform> {
        let os = v.get("os")?.as_str()?;
        let arch = v.get("architecture")?.as_str()?;
        let variant = v.get("variant").and_then(Value::as_str);
        Some(Platform::new(os, arch, variant))
    }

    /// The descriptor `platform` object of an index.
    pub fn to_json(&self) -> Value {
        let mut m = serde_json::Map::new();
        m.insert("architecture".into(), self.architecture.clone().into());
        m.insert("os".into(), self.os.clone().into());
        if let Some(v) = &self.variant {
            m.insert("variant".into(), v.clone().into());
        }
        Value::Object(m)
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// A blob of an image (config or layer) and where its bytes are.
#[derive(Debug, Clone)]
pub struct Blob {
    /// The digest of the bytes as stored; `None` when not known without
    /// reading them (an uncompressed `docker save` layer is compressed
    /// before upload, so its digest is known only then).
    pub digest: Option<String>,
    pub size: u64,
    pub media_type: String,
    pub data: BlobData,
    /// Stored gzip-compressed.
    pub gzip: bool,
    /// The uncompressed digest (config `rootfs.diff_ids`), for layers.
    pub diff_id: Option<String>,
}

impl Blob {
    /// An uncompressed tar layer: compressed before upload.
    pub fn needs_compression(&self) -> bool {
        !self.gzip && is_plain_layer_type(&self.media_type)
    }
}

pub fn is_plain_layer_type(mt: &str) -> bool {
    mt == MT_DOCKER_LAYER || mt == MT_OCI_LAYER
}

/// A manifest or index exactly as the source has it.
#[derive(Debug, Clone)]
pub struct Verbatim {
    pub media_type: String,
    pub bytes: Arc<Vec<u8>>,
    pub digest: String,
}

/// One platform's image.
#[derive(Debug, Clone)]
pub struct PlatformImage {
    pub platform: Platform,
    /// Came from a `docker save` (`manifest.json`): `--format auto` pushes
    /// Docker media types.
    pub from_docker_save: bool,
    /// The source's own manifest, when it has one.
    pub manifest: Option<Verbatim>,
    pub config: Blob,
    pub layers: Vec<Blob>,
}

/// An image as named in the source: one platform, or several under an index.
#[derive(Debug, Clone)]
pub struct SourceImage {
    /// Where it was found (`FILE!inner.tar`).
    pub origin: String,
    /// The name it carries (`tingyun/k8s-uniagent:3.4.0-amd64`).
    pub reference: String,
    /// The source's own index, when the name points at one.
    pub index: Option<Verbatim>,
    pub images: Vec<PlatformImage>,
}

/// Read every image in the scanned containers.
pub fn images(containers: &[Container]) -> Result<Vec<SourceImage>> {
    let mut out = Vec::new();
    for c in containers {
        for root in layout_roots(c, "manifest.json") {
            docker_save(c, &root, &mut out)?;
        }
        for root in layout_roots(c, "index.json") {
            if c.get(&join(&root, "manifest.json")).is_some() {
                continue; // newer `docker save`: read through manifest.json
            }
            oci_layout(c, &root, &mut out)?;
        }
    }
    Ok(out)
}

fn layout_roots(c: &Container, marker: &str) -> Vec<String> {
    c.files
        .keys()
        .filter_map(|p| {
            if p == marker {
                Some(String::new())
            } else {
                p.strip_suffix(&format!("/{marker}")).map(str::to_string)
            }
        })
        .filter(|root| !root.split('/').any(|part| part == "blobs"))
        .collect()
}

fn join(root: &str, p: &str) -> String {
    if root.is_empty() {
        scan::normalize(p)
    } else {
        scan::normalize(&format!("{root}/{p}"))
    }
}

fn read_json(c: &Container, path: &str) -> Result<(Vec<u8>, Value)> {
    let f = c
        .get(path)
        .ok_or_else(|| anyhow!("{}: {path} is missing", c.origin))?;
    let bytes = f
        .data
        .read_all()
        .with_context(|| format!("{}: {path}", c.origin))?;
    let v: Value = serde_json::from_slice(&bytes).map_err(|e| {
        anyhow!(
            "{}: {path}:{}:{}: not valid JSON: {e}; the archive is damaged — download it again",
            c.origin,
            e.line(),
            e.column()
        )
    })?;
    Ok((bytes, v))
}

fn docker_save(c: &Container, root: &str, out: &mut Vec<SourceImage>) -> Result<()> {
    let mpath = join(root, "manifest.json");
    let (_, manifest) = read_json(c, &mpath)?;
    let Some(entries) = manifest.as_array() else {
        bail!(
            "{}: {mpath}: expected a JSON list of images (docker save's manifest.json)",
            c.origin
        );
    };
    for (i, e) in entries.iter().enumerate() {
        let at = format!("{}: {mpath}: image {}", c.origin, i + 1);
        let cfg_path = e
            .get("Config")
            .and_then(Value::as_str)
            .ok_or_else(|| anyhow!("{at}: no \"Config\""))?;
        let (cfg_bytes, cfg) = read_json(c, &join(root, cfg_path))?;
        let platform = Platform::from_json(&cfg).ok_or_else(|| {
            anyhow!(
                "{at}: the config {cfg_path} names no os/architecture; cannot tell the platform"
            )
        })?;
        let diff_ids: Vec<String> = cfg
            .pointer("/rootfs/diff_ids")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|d| d.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let layer_paths: Vec<&str> = e
            .get("Layers")
            .and_then(Value::as_array)
            .ok_or_else(|| anyhow!("{at}: no \"Layers\""))?
            .iter()
            .filter_map(Value::as_str)
            .collect();
        if layer_paths.len() != diff_ids.len() {
            bail!(
                "{at}: {} layers but the config lists {} diff_ids; the archive is damaged",
                layer_paths.len(),
                diff_ids.len()
            );
        }
        let mut layers = Vec::new();
        for (lp, diff_id) in layer_paths.iter().zip(&diff_ids) {
            let p = join(root, lp);
            let f = c
                .get(&p)
                .ok_or_else(|| anyhow!("{at}: layer {lp} is missing from the archive"))?;
            layers.push(Blob {
                digest: if f.gzip { blob_name_digest(&p) } else { None },
                size: f.size,
                media_type: if f.gzip {
                    MT_DOCKER_LAYER_GZ
                } else {
                    MT_DOCKER_LAYER
                }
                .to_string(),
                data: f.data.clone(),
                gzip: f.gzip,
                diff_id: Some(diff_id.clone()),
            });
        }
        let config = Blob {
            digest: Some(sha256(&cfg_bytes)),
            size: cfg_bytes.len() as u64,
            media_type: MT_DOCKER_CONFIG.to_string(),
            data: BlobData::Inline(Arc::new(cfg_bytes)),
            gzip: false,
            diff_id: None,
        };
        let image = PlatformImage {
            platform,
            from_docker_save: true,
            manifest: None,
            config,
            layers,
        };
        let tags: Vec<&str> = e
            .get("RepoTags")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if tags.is_empty() {
            bail!(
                "{at}: the image has no name (saved by image ID); save it by name (docker save NAME:TAG) or load and tag it first"
            );
        }
        for t in tags {
            out.push(SourceImage {
                origin: c.origin.clone(),
                reference: t.to_string(),
                index: None,
                images: vec![image.clone()],
            });
        }
    }
    Ok(())
}

/// `sha256:<hex>` for paths like `blobs/sha256/<hex>`.
fn blob_name_digest(path: &str) -> Option<String> {
    let mut it = path.rsplit('/');
    let hex = it.next()?;
    let alg = it.next()?;
    (it.next() == Some("blobs") && alg == "sha256" && hex.len() == 64)
        .then(|| format!("sha256:{hex}"))
}

fn oci_layout(c: &Container, root: &str, out: &mut Vec<SourceImage>) -> Result<()> {
    let ipath = join(root, "index.json");
    let (_, index) = read_json(c, &ipath)?;
    let descs = index
        .get("manifests")
        .and_then(Value::as_array)
        .ok_or_else(|| {
            anyhow!(
                "{}: {ipath}: no \"manifests\" list (not an OCI image layout)",
                c.origin
            )
        })?;
    let dir_name = root.rsplit('/').next().filter(|s| !s.is_empty());
    let fallback = dir_name.unwrap_or(&c.stem).to_string();
    for (i, d) in descs.iter().enumerate() {
        let at = format!("{}: {ipath}: manifest {}", c.origin, i + 1);
        let ann = |k: &str| {
            d.pointer(&format!("/annotations/{}", k.replace('/', "~1")))
                .and_then(Value::as_str)
        };
        let name = match ann("io.containerd.image.name")
            .or(ann("org.opencontainers.image.ref.name"))
        {
            Some(n) if n.contains('/') || n.contains(':') => n.to_string(),
            Some(tag) => format!("{}:{tag}", fallback.to_ascii_lowercase()),
            None => bail!(
                "{at}: no image name (annotation org.opencontainers.image.ref.name); name the images when creating the layout (e.g. skopeo copy ... oci:DIR:NAME:TAG)"
            ),
        };
        let (mt, bytes, digest) = read_descriptor(c, root, d, &at)?;
        if is_index_type(&mt) {
            let v: Value = serde_json::from_slice(&bytes)
                .map_err(|e| anyhow!("{at}: index is not JSON: {e}"))?;
            let mut images = Vec::new();
            // Platforms whose manifest is not in the layout (`ctr export`
            // and `docker save` with the containerd store keep the whole
            // index but only the blobs of the platforms they exported).
            let mut partial = false;
            for (j, child) in v
                .get("manifests")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                let at = format!("{at}: platform manifest {}", j + 1);
                if child
                    .pointer("/annotations/vnd.docker.reference.type")
                    .is_some()
                {
                    continue; // build attestations: not an image
                }
                if let Some(d) = child.get("digest").and_then(Value::as_str)
                    && c.get(&blob_path(root, d)).is_none()
                {
                    partial = true;
                    continue;
                }
                let (cmt, cbytes, cdigest) = read_descriptor(c, root, child, &at)?;
                let mut img = oci_image(c, root, &cmt, cbytes, cdigest, &at)?;
                if let Some(p) = child.get("platform").and_then(Platform::from_json) {
                    img.platform = p;
                }
                images.push(img);
            }
            if images.is_empty() {
                bail!(
                    "{at}: the layout holds none of the platform manifests its index lists; the archive is incomplete — export it again with its platforms (e.g. ctr export --all-platforms)"
                );
            }
            out.push(SourceImage {
                origin: c.origin.clone(),
                reference: name,
                // A partial index cannot be pushed as it is: a new one is
                // built over the platforms present.
                index: (!partial).then(|| Verbatim {
                    media_type: mt,
                    bytes: Arc::new(bytes),
                    digest,
                }),
                images,
            });
        } else {
            let img = oci_image(c, root, &mt, bytes, digest, &at)?;
            out.push(SourceImage {
                origin: c.origin.clone(),
                reference: name,
                index: None,
                images: vec![img],
            });
        }
    }
    Ok(())
}

fn is_index_type(mt: &str) -> bool {
    mt == MT_OCI_INDEX || mt == MT_DOCKER_LIST
}

/// Read a small blob (manifest, index) named by a descriptor; verify its digest.
fn read_descriptor(
    c: &Container,
    root: &str,
    d: &Value,
    at: &str,
) -> Result<(String, Vec<u8>, String)> {
    let digest = d
        .get("digest")
        .and_then(Value::as_str)
        .ok_or_else(|| anyhow!("{at}: descriptor without digest"))?;
    let bytes = read_blob(c, root, digest, at)?;
    let v: Value =
        serde_json::from_slice(&bytes).map_err(|e| anyhow!("{at}: {digest} is not JSON: {e}"))?;
    let mt = d
        .get("mediaType")
        .and_then(Value::as_str)
        .or(v.get("mediaType").and_then(Value::as_str))
        .unwrap_or(MT_OCI_MANIFEST)
        .to_string();
    Ok((mt, bytes, digest.to_string()))
}

fn blob_path(root: &str, digest: &str) -> String {
    let (alg, hex) = digest.split_once(':').unwrap_or(("sha256", digest));
    join(root, &format!("blobs/{alg}/{hex}"))
}

fn read_blob(c: &Container, root: &str, digest: &str, at: &str) -> Result<Vec<u8>> {
    let p = blob_path(root, digest);
    let f = c
        .get(&p)
        .ok_or_else(|| anyhow!("{at}: blob {digest} is missing from the layout ({p})"))?;
    let bytes = f.data.read_all()?;
    if digest.starts_with("sha256:") && sha256(&bytes) != digest {
        bail!(
            "{at}: blob {digest} does not match its digest; the archive is damaged — download it again"
        );
    }
    Ok(bytes)
}

fn oci_image(
    c: &Container,
    root: &str,
    mt: &str,
    bytes: Vec<u8>,
    digest: String,
    at: &str,
) -> Result<PlatformImage> {
    let m: Value =
        serde_json::from_slice(&bytes).map_err(|e| anyhow!("{at}: manifest is not JSON: {e}"))?;
    let cd = m
        .get("config")
        .ok_or_else(|| anyhow!("{at}: manifest without config"))?;
    let cdigest = cd
        .get("digest")
        .and_then(Value::as_str)
        .ok_or_else(|| anyhow!("{at}: config without digest"))?;
    let cfg_bytes = read_blob(c, root, cdigest, at)?;
    let cfg: Value = serde_json::from_slice(&cfg_bytes).unwrap_or(Value::Null);
    let platform =
        Platform::from_json(&cfg).unwrap_or_else(|| Platform::new("unknown", "unknown", None));
    let diff_ids: Vec<Option<String>> = cfg
        .pointer("/rootfs/diff_ids")
        .and_then(Value::as_array)
        .map(|a| a.iter().map(|d| d.as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    let config = Blob {
        digest: Some(cdigest.to_string()),
        size: cfg_bytes.len() as u64,
        media_type: cd
            .get("mediaType")
            .and_then(Value::as_str)
            .unwrap_or(MT_OCI_CONFIG)
            .to_string(),
        data: BlobData::Inline(Arc::new(cfg_bytes)),
        gzip: false,
        diff_id: None,
    };
    let mut layers = Vec::new();
    for (k, l) in m
        .get("layers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let ld = l
            .get("digest")
            .and_then(Value::as_str)
            .ok_or_else(|| anyhow!("{at}: layer {} without digest", k + 1))?;
        let p = blob_path(root, ld);
        let f = c
            .get(&p)
            .ok_or_else(|| anyhow!("{at}: layer {ld} is missing from the layout ({p})"))?;
        let media_type = l
            .get("mediaType")
            .and_then(Value::as_str)
            .unwrap_or(MT_OCI_LAYER_GZ)
            .to_string();
        layers.push(Blob {
            digest: Some(ld.to_string()),
            size: f.size,
            media_type,
            data: f.data.clone(),
            gzip: f.gzip,
            diff_id: diff_ids.get(k).cloned().flatten(),
        });
    }
    Ok(PlatformImage {
        platform,
        from_docker_save: false,
        manifest: Some(Verbatim {
            media_type: mt.to_string(),
            bytes: Arc::new(bytes),
            digest,
        }),
        config,
        layers,
    })
}
