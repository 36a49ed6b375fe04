//! `kubectl tingyun images` flags.
use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};

use super::connect::ConnectArgs;
use super::push::PushArgs;
use crate::image::Platform;
use crate::images::{Format, ImagesOptions};
use crate::registry::tls::parse_hosts;

#[derive(Args, Debug, Clone)]
#[command(
    after_help = "Examples:\n  \
# Every image the manifest makes nodes pull, with its object, container and line\n  \
kubectl tingyun images tingyunagent.yaml\n\n  \
# Ask the registry: is each image there, for every node architecture of the cluster?\n  \
kubectl tingyun images tingyunagent.yaml --check\n\n  \
# With the pull secrets the pods will use, read from the cluster (what the kubelet sends)\n  \
kubectl tingyun images tingyunagent.yaml --check --from-cluster\n\n  \
# A robot account, a private CA, two architectures, JSON\n  \
printf '%s' \"$TOKEN\" | kubectl tingyun images tingyunagent.yaml --check --username 'robot$apm+pull' \\\n      \
--password-stdin --ca-file ca.crt --platform linux/amd64,linux/arm64 -o json\n\n\
Statuses: ok, missing (repository or tag), unauthorized, tls-error, http-only, unreachable,\n\
platform-missing, error. With --check the exit code is 0 when every image is ok, 1 otherwise.\n\n\
`kubectl tingyun images push SOURCE... --to HOST[:PORT]/PROJECT` pushes the vendor's image archive \
(see `kubectl tingyun images push --help`).",
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
pub struct ImagesArgs {
    #[command(subcommand)]
    pub command: Option<ImagesCommand>,

    /// The manifest to read; `-` reads standard input.
    #[arg(required = true)]
    pub file: Option<String>,

    /// Output format.
    #[arg(
        short = 'o',
        long = "output",
        value_enum,
        value_name = "FORMAT",
        default_value = "table"
    )]
    pub output: ImagesOutputArg,

    /// Ask each image's registry (OCI distribution API) whether it is there for the wanted platforms.
    #[arg(long)]
    pub check: bool,

    /// Platforms the images must provide, OS/ARCH[/VARIANT],... Default: the os/arch of the
    /// cluster's nodes when a cluster is reachable, else linux/amd64.
    #[arg(long, value_name = "OS/ARCH,...", value_delimiter = ',', value_parser = Platform::parse)]
    pub platform: Vec<Platform>,

    /// Use the pull secrets the manifest's pods name (ServiceAccount, pod spec, mutate.yaml),
    /// read from the cluster: exactly the credentials the kubelet will send.
    #[arg(long)]
    pub from_cluster: bool,

    /// Registry user name (robot accounts like 'robot$project+name' are fine; quote them).
    #[arg(long, value_name = "USER")]
    pub username: Option<String>,

    /// Read the registry password from standard input (otherwise from TINGYUN_REGISTRY_PASSWORD).
    #[arg(long)]
    pub password_stdin: bool,

    /// Trust this CA certificate (PEM) for registries, besides the system's (repeatable).
    #[arg(long, value_name = "PATH")]
    pub ca_file: Vec<PathBuf>,

    /// Do not verify the TLS certificate of these hosts (HOST[:PORT],...).
    #[arg(long, value_name = "HOSTS")]
    pub insecure_registry: Vec<String>,

    /// Speak plain HTTP to these hosts (HOST[:PORT],...).
    #[arg(long, value_name = "HOSTS")]
    pub http_registry: Vec<String>,

    /// Images checked at once.
    #[arg(long, value_name = "N", default_value_t = 8,
          value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,

    /// Bound for each registry request (e.g. 20s).
    #[arg(long, value_name = "DURATION", default_value = "20s", value_parser = super::parse_duration)]
    pub registry_timeout: std::time::Duration,

    #[command(flatten)]
    pub connect: ConnectArgs,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImagesOutputArg {
    Table,
    Json,
}

impl ImagesArgs {
    pub fn options(&self) -> anyhow::Result<ImagesOptions> {
        let hosts = |flag: &str, values: &[String]| -> anyhow::Result<Vec<_>> {
            let mut out = Vec::new();
            for v in values {
                out.extend(parse_hosts(flag, v)?);
            }
            Ok(out)
        };
        let timeout = if self.registry_timeout.is_zero() {
            std::time::Duration::from_secs(3600)
        } else {
            self.registry_timeout
        };
        Ok(ImagesOptions {
            file: self.file.clone().unwrap_or_default(),
            output: match self.output {
                ImagesOutputArg::Table => Format::Table,
                ImagesOutputArg::Json => Format::Json,
            },
            check: self.check,
            platforms: if self.platform.is_empty() {
                None
            } else {
                let mut ps: Vec<Platform> = Vec::new();
                for p in &self.platform {
                    if !ps.contains(p) {
                        ps.push(p.clone());
                    }
                }
                Some(ps)
            },
            from_cluster: self.from_cluster,
            connect: self.connect.options(),
            username: self.username.clone(),
            password_stdin: self.password_stdin,
            ca_files: self.ca_file.clone(),
            insecure: hosts("--insecure-registry", &self.insecure_registry)?,
            http: hosts("--http-registry", &self.http_registry)?,
            concurrency: self.concurrency as usize,
            timeout,
        })
    }
}

#[derive(Subcommand, Debug, Clone)]
pub enum ImagesCommand {
    /// Push the vendor's image archive (every platform under one tag) to a private registry, without docker.
    Push(PushArgs),
}
