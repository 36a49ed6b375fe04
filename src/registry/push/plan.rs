//! What goes where: source images grouped by destination (platform
//! variants of one name and tag become one multi-arch target), filtered by
//! `--platform`, with the manifest media types `--format` asks for.
use std::collections::BTreeMap;

use anyhow::{Result, bail};
use serde_json::{Value, json};

use crate::image::{ImageRef, Project};
use crate::registry::archive::{
    Blob, MT_DOCKER_CONFIG, MT_DOCKER_LAYER, MT_DOCKER_LAYER_GZ, MT_DOCKER_LIST,
    MT_DOCKER_MANIFEST, MT_OCI_CONFIG, MT_OCI_INDEX, MT_OCI_LAYER, MT_OCI_LAYER_GZ,
    MT_OCI_MANIFEST, Platform, PlatformImage, SourceImage, Verbatim, names,
};

/// `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// Keep the sources' media types (Docker for `docker save` images).
    #[default]
    Auto,
    /// Docker schema 2 manifests and manifest lists (Huawei SWR needs these).
    Docker,
    /// OCI manifests and image indexes.
    Oci,
}

#[derive(Debug, Clone)]
pub struct PlanOptions {
    pub project: Project,
    pub format: Format,
    /// Push only these platforms (empty: all).
    pub platforms: Vec<Platform>,
}

/// One destination tag and what goes there.
#[derive(Debug, Clone)]
pub struct Target {
    pub destination: ImageRef,
    /// `origin: reference` of each source image that contributes.
    pub sources: Vec<String>,
    /// One per platform, sorted by platform.
    pub members: Vec<Member>,
    /// Push an index / manifest list (several platforms, or the source
    /// had one); otherwise the single member's manifest goes to the tag.
    pub multi: bool,
    /// Docker media types (manifest list, schema 2) rather than OCI.
    pub docker: bool,
    /// The source's index, pushed byte for byte (same digest) when nothing
    /// in it had to change.
    pub keep_index: Option<Verbatim>,
}

/// One platform of a target.
#[derive(Debug, Clone)]
pub struct Member {
    pub image: PlatformImage,
    /// The source's manifest is pushed byte for byte (same digest).
    pub keep_manifest: bool,
}

impl Target {
    pub fn platforms(&self) -> Vec<String> {
        self.members
            .iter()
            .map(|m| m.image.platform.to_string())
            .collect()
    }

    pub fn source_text(&self) -> String {
        self.sources.join(", ")
    }

    /// Media type of what goes to the tag.
    pub fn media_type(&self) -> &str {
        match (self.multi, &self.keep_index) {
            (true, Some(v)) => &v.media_type,
            (true, None) if self.docker => MT_DOCKER_LIST,
            (true, None) => MT_OCI_INDEX,
            (false, _) => {
                let m = &self.members[0];
                match (&m.image.manifest, m.keep_manifest) {
                    (Some(v), true) => &v.media_type,
                    _ if self.docker => MT_DOCKER_MANIFEST,
                    _ => MT_OCI_MANIFEST,
                }
            }
        }
    }
}

/// Group the images by destination and decide the media types.
pub fn plan(images: &[SourceImage], opts: &PlanOptions) -> Result<Vec<Target>> {
    struct Group<'a> {
        dest: ImageRef,
        sources: Vec<&'a SourceImage>,
    }
    let mut groups: BTreeMap<String, Group> = BTreeMap::new();
    for s in images {
        let dest = names::destination(&opts.project, &s.reference)
            .map_err(|e| anyhow::anyhow!("{}: {e}", s.origin))?;
        groups
            .entry(dest.to_string())
            .or_insert_with(|| Group {
                dest,
                sources: vec![],
            })
            .sources
            .push(s);
    }
    if groups.is_empty() {
        bail!(
            "no images found: the source holds no docker save tar (manifest.json) and no OCI image layout (index.json)"
        );
    }
    let mut out = Vec::new();
    for (_, g) in groups {
        let mut by_platform: BTreeMap<Platform, (&SourceImage, &PlatformImage)> = BTreeMap::new();
        for s in &g.sources {
            for img in &s.images {
                if let Some((other, prev)) = by_platform.get(&img.platform) {
                    if prev.config.digest != img.config.digest {
                        bail!(
                            "two different {} images would go to {}: {} ({}) and {} ({}); push them separately (--platform) or rename one",
                            img.platform,
                            g.dest,
                            other.reference,
                            other.origin,
                            s.reference,
                            s.origin
                        );
                    }
                    continue;
                }
                by_platform.insert(img.platform.clone(), (s, img));
            }
        }
        let available: Vec<Platform> = by_platform.keys().cloned().collect();
        if !opts.platforms.is_empty() {
            for want in &opts.platforms {
                if !by_platform.contains_key(want) {
                    bail!(
                        "{}: the archive has no {} image (it has {}); drop {} from --platform or get an archive that includes it",
                        g.dest,
                        want,
                        join(&available),
                        want
                    );
                }
            }
            by_platform.retain(|p, _| opts.platforms.contains(p));
        }
        let filtered = by_platform.len() != available.len();
        // One `docker save` member is enough for a Docker manifest list:
        // every registry (SWR included) takes one, not every one an OCI index.
        let any_docker_save = by_platform.values().any(|(_, i)| i.from_docker_save);
        let source_docker = by_platform.values().all(|(_, i)| {
            i.from_docker_save
                || i.manifest
                    .as_ref()
                    .is_some_and(|m| m.media_type == MT_DOCKER_MANIFEST)
        });
        let docker = match opts.format {
            Format::Docker => true,
            Format::Oci => false,
            Format::Auto => any_docker_save || source_docker,
        };
        let members: Vec<Member> = by_platform
            .values()
            .map(|(_, img)| {
                let keep = img.manifest.as_ref().is_some_and(|m| {
                    (m.media_type == MT_DOCKER_MANIFEST) == docker
                        && img
                            .layers
                            .iter()
                            .all(|l| l.digest.is_some() && !l.needs_compression())
                });
                Member {
                    image: (*img).clone(),
                    keep_manifest: keep,
                }
            })
            .collect();
        let single_source = g.sources.len() == 1;
        let source_index = single_source.then(|| g.sources[0].index.clone()).flatten();
        let keep_index = source_index.filter(|ix| {
            !filtered
                && members.iter().all(|m| m.keep_manifest)
                && (ix.media_type == MT_DOCKER_LIST) == docker
                && members.len() == g.sources[0].images.len()
        });
        let multi = members.len() > 1 || g.sources.iter().any(|s| s.index.is_some());
        out.push(Target {
            destination: g.dest,
            sources: g
                .sources
                .iter()
                .map(|s| format!("{}: {}", s.origin, s.reference))
                .collect(),
            members,
            multi,
            docker,
            keep_index,
        });
    }
    Ok(out)
}

fn join(p: &[Platform]) -> String {
    p.iter()
        .map(|p| p.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// A layer or config as it will be in the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pushed {
    pub digest: String,
    pub size: u64,
    /// Compressed with gzip (for the layer media type).
    pub gzip: bool,
}

/// The manifest of a member whose layers ended up as `layers` (same order),
/// in the target's media types. Deterministic: the same input gives the
/// same bytes, so re-runs find the same digest.
pub fn build_manifest(
    img: &PlatformImage,
    config: &Pushed,
    layers: &[Pushed],
    docker: bool,
) -> Vec<u8> {
    let layer_type = |l: &Pushed, src: &Blob| -> String {
        let foreign = !matches!(
            src.media_type.as_str(),
            MT_DOCKER_LAYER | MT_DOCKER_LAYER_GZ | MT_OCI_LAYER | MT_OCI_LAYER_GZ
        );
        if foreign && !src.needs_compression() {
            return convert_foreign(&src.media_type, docker);
        }
        match (docker, l.gzip) {
            (true, true) => MT_DOCKER_LAYER_GZ,
            (true, false) => MT_DOCKER_LAYER,
            (false, true) => MT_OCI_LAYER_GZ,
            (false, false) => MT_OCI_LAYER,
        }
        .to_string()
    };
    let config_type = if docker {
        MT_DOCKER_CONFIG
    } else {
        MT_OCI_CONFIG
    };
    let layers: Vec<Value> = layers
        .iter()
        .zip(&img.layers)
        .map(
            |(l, src)| json!({"mediaType": layer_type(l, src), "size": l.size, "digest": l.digest}),
        )
        .collect();
    let m = json!({
        "schemaVersion": 2,
        "mediaType": if docker { MT_DOCKER_MANIFEST } else { MT_OCI_MANIFEST },
        "config": {"mediaType": config_type, "size": config.size, "digest": config.digest},
        "layers": layers,
    });
    serde_json::to_vec_pretty(&m).expect("JSON")
}

/// Docker and OCI spell the foreign/non-distributable layer types differently.
fn convert_foreign(mt: &str, docker: bool) -> String {
    let pairs = [
        (
            "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
            "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
        ),
        (
            "application/vnd.docker.image.rootfs.foreign.diff.tar",
            "application/vnd.oci.image.layer.nondistributable.v1.tar",
        ),
    ];
    for (d, o) in pairs {
        if mt == d || mt == o {
            return if docker { d } else { o }.to_string();
        }
    }
    mt.to_string()
}

/// The index / manifest list over the members' manifests (digest, size,
/// media type) with their platforms.
pub fn build_index(entries: &[(Platform, String, u64, String)], docker: bool) -> Vec<u8> {
    let manifests: Vec<Value> = entries
        .iter()
        .map(|(p, digest, size, mt)| json!({"mediaType": mt, "size": size, "digest": digest, "platform": p.to_json()}))
        .collect();
    let m = json!({
        "schemaVersion": 2,
        "mediaType": if docker { MT_DOCKER_LIST } else { MT_OCI_INDEX },
        "manifests": manifests,
    });
    serde_json::to_vec_pretty(&m).expect("JSON")
}

/// A platform list from `--platform a,b` values.
pub fn parse_platforms(values: &[String]) -> Result<Vec<Platform>> {
    let mut out = Vec::new();
    for v in values {
        for p in v.split(',').filter(|s| !s.trim().is_empty()) {
            let p = Platform::parse(p)?;
            if !out.contains(&p) {
                out.push(p);
            }
        }
    }
    Ok(out)
}
