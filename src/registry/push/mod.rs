//! `images push`: read image archives, plan where each image goes, upload
//! what the registry lacks.
//!
//! ```text
//! archive::scan + archive::images  -> SourceImages
//! plan::plan                       -> Targets (one per destination tag)
//! (upload)                         -> blobs, manifests, index per target
//! ```
pub mod blob;
pub mod cache;
pub mod engine;
pub mod plan;
pub mod upload;

use std::path::PathBuf;

use anyhow::Result;
use serde_json::{Value, json};

use crate::exit::Status;
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
            (_, false) if t.members[0].keep_manifest => t.members[0]
                .image
                .manifest
                .as_ref()
                .map(|m| m.digest.clone()),
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
            if t.docker {
                "manifest list"
            } else {
                "image index"
            }
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

/// What `images push` was asked.
#[derive(Debug, Clone)]
pub struct PushOptions {
    pub sources: Vec<PathBuf>,
    pub plan: PlanOptions,
    /// `--platform` values as given (`linux/amd64,linux/arm64`).
    pub platforms: Vec<String>,
    pub jobs: usize,
    pub dry_run: bool,
    /// `-o json`.
    pub json: bool,
    /// Registry user (`--username`); the password comes from stdin or the
    /// environment.
    pub username: Option<String>,
    pub password_stdin: bool,
    pub tls: crate::registry::TlsOptions,
    /// Bound for each registry request.
    pub timeout: std::time::Duration,
}

/// Run `images push`.
pub fn run(opts: &PushOptions, output: &mut crate::output::Output) -> Result<Status> {
    let mut plan_opts = opts.plan.clone();
    plan_opts.platforms = plan::parse_platforms(&opts.platforms)?;
    if !opts.dry_run {
        return engine::push(opts, &plan_opts, output);
    }
    let images = load(&opts.sources)?;
    let targets = plan::plan(&images, &plan_opts)?;
    let out = &mut *output.out;
    if opts.json {
        let reports: Vec<Value> = targets
            .iter()
            .map(|t| TargetReport::planned(t).to_json())
            .collect();
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&json!({"images": reports}))?
        )?;
    } else {
        write!(out, "{}", dry_run_text(&targets))?;
    }
    Ok(Status::Done)
}
