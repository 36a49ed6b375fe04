//! Reading manifests: an index / manifest list names its platforms; a single
//! image manifest points at a config blob that does.
use serde_json::Value;

use super::client::{DOCKER_LIST, DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST};
use crate::image::Platform;

/// A content descriptor (`mediaType`, `digest`, `size`, `platform`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Descriptor {
    pub media_type: String,
    pub digest: String,
    pub size: u64,
    pub platform: Option<Platform>,
}

/// A manifest, by kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Manifest {
    /// OCI index or Docker manifest list.
    Index { manifests: Vec<Descriptor> },
    /// OCI or Docker schema-2 image manifest.
    Image {
        config: Descriptor,
        layers: Vec<Descriptor>,
    },
}

impl Manifest {
    /// Parse a manifest body. `media_type` is the `Content-Type`; when it is
    /// missing or generic the body's `mediaType` or shape decides.
    pub fn parse(media_type: &str, body: &[u8]) -> Result<Manifest, String> {
        let v: Value = serde_json::from_slice(body)
            .map_err(|e| format!("the manifest is not valid JSON ({e})"))?;
        let body_type = v.get("mediaType").and_then(Value::as_str).unwrap_or("");
        let kind = [media_type, body_type]
            .into_iter()
            .find(|t| [OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST].contains(t))
            .unwrap_or(if v.get("manifests").is_some() {
                OCI_INDEX
            } else if v.get("config").is_some() {
                OCI_MANIFEST
            } else {
                ""
            });
        match kind {
            OCI_INDEX | DOCKER_LIST => {
                let list = v
                    .get("manifests")
                    .and_then(Value::as_array)
                    .ok_or("the index has no \"manifests\" list")?;
                let manifests = list.iter().map(descriptor).collect::<Result<Vec<_>, _>>()?;
                Ok(Manifest::Index { manifests })
            }
            OCI_MANIFEST | DOCKER_MANIFEST => {
                let config = descriptor(v.get("config").ok_or("the manifest has no \"config\"")?)?;
                let layers = match v.get("layers").and_then(Value::as_array) {
                    Some(l) => l.iter().map(descriptor).collect::<Result<Vec<_>, _>>()?,
                    None => Vec::new(),
                };
                Ok(Manifest::Image { config, layers })
            }
            _ => Err(format!(
                "unsupported manifest type {:?} (schema 1 or unknown); push the image again with a current client",
                if media_type.is_empty() {
                    body_type
                } else {
                    media_type
                }
            )),
        }
    }

    /// The platforms an index lists (attestation entries, `unknown/unknown`,
    /// left out), in order, without repeats.
    pub fn index_platforms(&self) -> Vec<Platform> {
        let mut out: Vec<Platform> = Vec::new();
        if let Manifest::Index { manifests } = self {
            for d in manifests {
                if let Some(p) = &d.platform
                    && p.os != "unknown"
                    && !out.contains(p)
                {
                    out.push(p.clone());
                }
            }
        }
        out
    }
}

fn descriptor(v: &Value) -> Result<Descriptor, String> {
    let digest = v
        .get("digest")
        .and_then(Value::as_str)
        .ok_or("a descriptor has no \"digest\"")?;
    Ok(Descriptor {
        media_type: v
            .get("mediaType")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        digest: digest.to_string(),
        size: v.get("size").and_then(Value::as_u64).unwrap_or(0),
        platform: v.get("platform").and_then(platform_of),
    })
}

/// The platform of an index entry or of an image config blob
/// (`os`, `architecture`, `variant`).
pub fn platform_of(v: &Value) -> Option<Platform> {
    let os = v.get("os").and_then(Value::as_str)?;
    let arch = v.get("architecture").and_then(Value::as_str)?;
    let variant = v.get("variant").and_then(Value::as_str);
    Some(Platform::new(os, arch, variant))
}

/// The platform of an image config blob.
pub fn config_platform(body: &[u8]) -> Option<Platform> {
    let v: Value = serde_json::from_slice(body).ok()?;
    platform_of(&v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_with_attestation() {
        let body = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[
          {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:a","size":1,"platform":{"architecture":"amd64","os":"linux"}},
          {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:b","size":1,"platform":{"architecture":"arm64","os":"linux","variant":"v8"}},
          {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:c","size":1,"platform":{"architecture":"unknown","os":"unknown"}}]}"#;
        let m = Manifest::parse("", body).unwrap();
        let ps: Vec<String> = m.index_platforms().iter().map(|p| p.to_string()).collect();
        assert_eq!(ps, ["linux/amd64", "linux/arm64/v8"]);
    }

    #[test]
    fn image_manifest_and_errors() {
        let body = br#"{"schemaVersion":2,"config":{"mediaType":"x","digest":"sha256:c","size":3},"layers":[]}"#;
        let m = Manifest::parse(DOCKER_MANIFEST, body).unwrap();
        assert!(matches!(m, Manifest::Image { ref config, .. } if config.digest == "sha256:c"));
        assert!(
            Manifest::parse("", b"{}")
                .unwrap_err()
                .contains("unsupported")
        );
        assert!(Manifest::parse("", b"nope").is_err());
        assert!(Manifest::parse(OCI_INDEX, br#"{"manifests":[{}]}"#).is_err());
        assert_eq!(
            config_platform(br#"{"os":"linux","architecture":"arm","variant":"v7"}"#)
                .unwrap()
                .to_string(),
            "linux/arm/v7"
        );
    }
}
