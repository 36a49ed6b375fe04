//! `kubectl tingyun images push` flags.
use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::registry_args::{hosts, registry_timeout};
use crate::image::Project;
use crate::registry::TlsOptions;
use crate::registry::push::{Format, PlanOptions, PushOptions};

#[derive(Args, Debug, Clone)]
#[command(after_help = "Examples:\n  \
# The vendor's download as is: every image, amd64 and arm64 under one tag each\n  \
kubectl tingyun images push tingyun-k8s-images-3.4.0.0.tar.gz --to harbor.example.com/apm\n\n  \
# See what would go where, push nothing\n  \
kubectl tingyun images push tingyun-k8s-images-3.4.0.0.tar.gz --to harbor.example.com/apm --dry-run\n\n  \
# Huawei SWR wants Docker manifest lists; only amd64 nodes\n  \
kubectl tingyun images push images/ --to swr.cn-north-4.myhuaweicloud.com/apm --format docker --platform linux/amd64")]
pub struct PushArgs {
    /// The vendor's .tar.gz, a directory, a `docker save` tar or an OCI layout (directory or tar).
    #[arg(required = true, value_name = "SOURCE")]
    pub sources: Vec<PathBuf>,

    /// Where to push: HOST[:PORT]/PROJECT (images keep the last part of their name and their tag).
    #[arg(long, value_name = "HOST[:PORT]/PROJECT")]
    pub to: Project,

    /// Manifest media types: auto keeps the sources' (Docker manifest lists for docker save images).
    #[arg(long, value_enum, value_name = "FORMAT", default_value = "auto")]
    pub format: FormatArg,

    /// Push only these platforms (OS/ARCH[/VARIANT], comma-separated or repeated); one the archive lacks is an error.
    #[arg(long, value_name = "OS/ARCH")]
    pub platform: Vec<String>,

    /// Concurrent blob uploads.
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub jobs: u16,

    /// List what would be pushed where; contact no registry.
    #[arg(long)]
    pub dry_run: bool,

    /// Registry user name (robot accounts like 'robot$project+name' are fine; quote them).
    #[arg(long, value_name = "USER")]
    pub username: Option<String>,

    /// Read the registry password from standard input (otherwise from TINGYUN_REGISTRY_PASSWORD).
    #[arg(long)]
    pub password_stdin: bool,

    /// Trust this CA certificate (PEM) for the registry, besides the system's (repeatable).
    #[arg(long, value_name = "PATH")]
    pub ca_file: Vec<PathBuf>,

    /// Do not verify the TLS certificate of these hosts (HOST[:PORT],...).
    #[arg(long, value_name = "HOSTS")]
    pub insecure_registry: Vec<String>,

    /// Speak plain HTTP to these hosts (HOST[:PORT],...).
    #[arg(long, value_name = "HOSTS")]
    pub http_registry: Vec<String>,

    /// Bound for each registry request, uploads included (e.g. 5m).
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = super::parse_duration)]
    pub registry_timeout: std::time::Duration,

    /// Report format: json (per image: source, destination, digest, mediaType, platforms, blobsUploaded, blobsSkipped, bytesUploaded).
    #[arg(short = 'o', long = "output", value_enum, value_name = "FORMAT")]
    pub output: Option<PushOutputArg>,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum FormatArg {
    Auto,
    Docker,
    Oci,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum PushOutputArg {
    Json,
}

impl PushArgs {
    pub fn options(&self) -> anyhow::Result<PushOptions> {
        Ok(PushOptions {
            sources: self.sources.clone(),
            plan: PlanOptions {
                project: self.to.clone(),
                format: match self.format {
                    FormatArg::Auto => Format::Auto,
                    FormatArg::Docker => Format::Docker,
                    FormatArg::Oci => Format::Oci,
                },
                platforms: Vec::new(),
            },
            platforms: self.platform.clone(),
            jobs: usize::from(self.jobs),
            dry_run: self.dry_run,
            json: self.output == Some(PushOutputArg::Json),
            username: self.username.clone(),
            password_stdin: self.password_stdin,
            tls: TlsOptions {
                ca_files: self.ca_file.clone(),
                insecure: hosts("--insecure-registry", &self.insecure_registry)?,
                http: hosts("--http-registry", &self.http_registry)?,
                ..Default::default()
            },
            timeout: registry_timeout(self.registry_timeout),
        })
    }
}
