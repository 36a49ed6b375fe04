//! `images push`: read image archives, plan where each image goes, upload
//! what the registry lacks.
//!
//! ```text
//! archive::scan + archive::images  -> SourceImages
//! plan::plan                       -> Targets (one per destination tag)
//! (upload)                         -> blobs, manifests, index per target
//! ```
pub mod plan;

use std::path::PathBuf;

use anyhow::Result;
use serde_json::{Value, json};

use crate::registry::archive::{self, SourceImage};
pub use plan::{Format, PlanOptions, Target};

/// Read every source into its images.
pub fn load(sources: &[PathBuf]) -> Result<Vec<SourceImage>> {
    let mut out = Vec::new();
    for s in sources {
        let containers = archive::scan::scan(s)?;
        out.extend(archive::images(&containers)?);
    }
    Ok(out)
}

/// What happened to one target (or would, for a dry run).
#[derive(Debug, Clone, Default)]
pub struct TargetReport {
    pub source: String,
    pub destination: String,
    /// Digest of what the tag points at; `None` in a dry run when it is
    /// known only after compressing layers.
    pub digest: Option<String>,
    pub media_type: String,
    pub platforms: Vec<String>,
    pub blobs_uploaded: usize,
    pub blobs_skipped: usize,
    pub bytes_uploaded: u64,
}

impl TargetReport {
    pub fn planned(t: &Target) -> TargetReport {
        let digest = match (&t.keep_index, t.multi) {
            (Some(ix), true) => Some(ix.digest.clone()),
            (_, false) if t.members[0].keep_manifest => t.members[0].image.manifest.as_ref().map(|m| m.digest.clone()),
            _ => None,
        };
        TargetReport {
            source: t.source_text(),
            destination: t.destination.to_string(),
            digest,
            media_type: t.media_type().to_string(),
            platforms: t.platforms(),
            ..Default::default()
        }
    }

    pub fn to_json(&self) -> Value {
        json!({
            "source": self.source,
            "destination": self.destination,
            "digest": self.digest,
            "mediaType": self.media_type,
            "platforms": self.platforms,
            "blobsUploaded": self.blobs_uploaded,
            "blobsSkipped": self.blobs_skipped,
            "bytesUploaded": self.bytes_uploaded,
        })
    }
}

/// `--dry-run` lines: what would be pushed where.
pub fn dry_run_text(targets: &[Target]) -> String {
    let mut s = String::new();
    for t in targets {
        let kind = if t.multi {
            if t.docker { "manifest list" } else { "image index" }
        } else {
            "manifest"
        };
        s.push_str(&format!(
            "would push {} ({}: {}) <- {}\n",
            t.destination,
            kind,
            t.platforms().join(", "),
            t.source_text()
        ));
    }
    s
}
