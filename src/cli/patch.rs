//! `kubectl tingyun patch` flags.
use clap::Args;

use super::DryRunArg;
use super::apply::ApplyOpts;
use crate::names::DEFAULT_SECRET_NAME;
use crate::patch::PatchOptions;

#[derive(Args, Debug, Clone)]
#[command(after_help = "Examples:\n  \
# The guide's procedure: uncomment imagePullSecrets (ServiceAccount and mutate.yaml)\n  \
kubectl tingyun patch tingyunagent.yaml\n\n  \
# Point every image at a private registry project and show the diff only\n  \
kubectl tingyun patch tingyunagent.yaml --registry harbor.example.com:5000/apm --dry-run\n\n  \
# Kingsoft KCI virtual nodes pulling from a plain-HTTP registry\n  \
kubectl tingyun patch tingyunagent.yaml --registry 10.0.0.5:5000/apm --http-registry \\\n      \
--host-aliases '[{\"ip\":\"10.0.0.5\",\"hostnames\":[\"registry.local\"]}]'\n\n  \
# As a Helm post-renderer: stdin to stdout\n  \
helm template agent ./chart | kubectl tingyun patch - --registry harbor.example.com/apm")]
pub struct PatchArgs {
    /// The manifest to edit; `-` reads standard input (output then goes to standard output).
    pub file: String,

    /// Add imagePullSecrets {name: NAME} to every ServiceAccount (uncommenting the download's template).
    #[arg(long, value_name = "NAME", num_args = 0..=1, require_equals = true,
          default_missing_value = DEFAULT_SECRET_NAME)]
    pub pull_secret: Option<String>,

    /// Add imagePullSecrets {name: NAME} inside the ConfigMap's mutate.yaml (the injected pods' template).
    #[arg(long, value_name = "NAME", num_args = 0..=1, require_equals = true,
          default_missing_value = DEFAULT_SECRET_NAME)]
    pub inject_pull_secret: Option<String>,

    /// Rewrite every container image to HOST[:PORT]/PROJECT/<name>[:tag|@digest].
    #[arg(long, value_name = "HOST[:PORT]/PROJECT")]
    pub registry: Option<String>,

    /// KCI: pull these hosts over plain HTTP (annotation k8s.ksyun.com/kci-http-registry).
    /// Defaults to the host of --registry.
    #[arg(long, value_name = "HOSTS", num_args = 0..=1, require_equals = true)]
    pub http_registry: Option<Option<String>>,

    /// KCI: skip TLS verification for these hosts (annotation k8s.ksyun.com/kci-insecure-registry).
    /// Defaults to the host of --registry.
    #[arg(long, value_name = "HOSTS", num_args = 0..=1, require_equals = true)]
    pub insecure_registry: Option<Option<String>>,

    /// KCI: PodDNSConfig as JSON (annotation k8s.ksyun.com/kci-dns-config).
    #[arg(long, value_name = "JSON")]
    pub dns_config: Option<String>,

    /// KCI: a list of HostAlias as JSON (annotation k8s.ksyun.com/kci-host-aliases).
    #[arg(long, value_name = "JSON")]
    pub host_aliases: Option<String>,

    /// Any other pod-template annotation (repeatable).
    #[arg(long = "annotation", value_name = "KEY=VALUE")]
    pub annotations: Vec<String>,

    /// Write nothing; print a unified diff of what would change. With --apply,
    /// `--dry-run` (= client) sends nothing to the cluster and `--dry-run=server`
    /// diffs against the live cluster (only dryRun requests).
    #[arg(long, value_enum, value_name = "MODE", num_args = 0..=1, require_equals = true,
          default_missing_value = "client")]
    pub dry_run: Option<DryRunArg>,

    /// Where to write the result: a path, or `-` for standard output. Default: FILE itself.
    #[arg(short = 'o', long = "output", value_name = "PATH")]
    pub output: Option<String>,

    /// After writing, server-side apply the result and restart the agent.
    #[arg(long)]
    pub apply: bool,

    #[command(flatten)]
    pub profile: super::profile_args::ProfileArgs,

    /// Write the flags of this run (with the profile's values they did not
    /// override) to the profile: --config FILE, else tingyun.yaml beside FILE.
    #[arg(long)]
    pub save_config: bool,

    #[command(flatten)]
    pub cluster: ApplyOpts,
}

impl PatchArgs {
    pub fn options(&self) -> PatchOptions {
        PatchOptions {
            file: self.file.clone(),
            pull_secret: self.pull_secret.clone(),
            inject_pull_secret: self.inject_pull_secret.clone(),
            registry: self.registry.clone(),
            http_registry: self.http_registry.clone(),
            insecure_registry: self.insecure_registry.clone(),
            dns_config: self.dns_config.clone(),
            host_aliases: self.host_aliases.clone(),
            annotations: self.annotations.clone(),
            dry_run: super::dry_run(self.dry_run),
            output: self.output.clone(),
            apply: self.apply,
            cluster: self.cluster.options(),
        }
    }
}
