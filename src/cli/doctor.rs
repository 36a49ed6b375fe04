//! `kubectl tingyun doctor` flags.
use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::connect::ConnectArgs;
use crate::doctor::{DoctorOptions, Format};
use crate::registry::tls::parse_hosts;

#[derive(Args, Debug, Clone)]
#[command(after_help = "Examples:\n  \
# The agent namespace and every namespace the webhook injects into\n  \
kubectl tingyun doctor\n\n  \
# Two business namespaces, as JSON\n  \
kubectl tingyun doctor -n shop -n billing -o json\n\n  \
# Also ask the registry about each failing image, with the pods' pull secrets\n  \
kubectl tingyun doctor --check-registry --ca-file ca.crt\n\n\
Causes: unauthorized, missing, tls-error, http-only, unreachable, platform-missing,\n\
exec-format-error, crash-loop, pull-failed, secret-missing, not-ready.\n\
Exit code: 0 when nothing is wrong, 1 when a problem is found.")]
pub struct DoctorArgs {
    /// A namespace to examine besides the agent's (repeatable). Default: the namespaces
    /// the Tingyun webhook injects into.
    #[arg(short = 'n', long = "namespace", value_name = "NS")]
    pub namespaces: Vec<String>,

    /// The agent's namespace.
    #[arg(long, value_name = "NS", default_value = "tingyun")]
    pub agent_namespace: String,

    /// Output format.
    #[arg(
        short = 'o',
        long = "output",
        value_enum,
        value_name = "FORMAT",
        default_value = "text"
    )]
    pub output: DoctorOutputArg,

    /// Confirm each image failure against the registry (with the pod's pull secrets and the
    /// user's docker login), as `images --check` does.
    #[arg(long)]
    pub check_registry: bool,

    /// Trust this CA certificate (PEM) for registries (repeatable; --check-registry).
    #[arg(long, value_name = "PATH")]
    pub ca_file: Vec<PathBuf>,

    /// Do not verify the TLS certificate of these hosts (--check-registry).
    #[arg(long, value_name = "HOSTS")]
    pub insecure_registry: Vec<String>,

    /// Speak plain HTTP to these hosts (--check-registry).
    #[arg(long, value_name = "HOSTS")]
    pub http_registry: Vec<String>,

    /// Bound for each registry request.
    #[arg(long, value_name = "DURATION", default_value = "20s", value_parser = super::parse_duration)]
    pub registry_timeout: std::time::Duration,

    #[command(flatten)]
    pub connect: ConnectArgs,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum DoctorOutputArg {
    Text,
    Json,
}

impl DoctorArgs {
    pub fn options(&self) -> anyhow::Result<DoctorOptions> {
        let hosts = |flag: &str, values: &[String]| -> anyhow::Result<Vec<_>> {
            let mut out = Vec::new();
            for v in values {
                out.extend(parse_hosts(flag, v)?);
            }
            Ok(out)
        };
        for ns in self.namespaces.iter().chain([&self.agent_namespace]) {
            crate::cluster::dockerconfig::validate_namespace(ns)?;
        }
        Ok(DoctorOptions {
            connect: self.connect.options(),
            agent_namespace: self.agent_namespace.clone(),
            namespaces: self.namespaces.clone(),
            output: match self.output {
                DoctorOutputArg::Text => Format::Text,
                DoctorOutputArg::Json => Format::Json,
            },
            check_registry: self.check_registry,
            ca_files: self.ca_file.clone(),
            insecure: hosts("--insecure-registry", &self.insecure_registry)?,
            http: hosts("--http-registry", &self.http_registry)?,
            registry_timeout: if self.registry_timeout.is_zero() {
                std::time::Duration::from_secs(3600)
            } else {
                self.registry_timeout
            },
        })
    }
}
