//! `kubectl tingyun apply` flags, and the cluster flags `patch --apply` shares.
use std::time::Duration;

use clap::Args;

use super::DryRunArg;
use super::connect::ConnectArgs;
use crate::cluster::apply::ApplyOptions;

/// Options shared by `apply` and `patch --apply`.
#[derive(Args, Debug, Clone)]
pub struct ApplyOpts {
    #[command(flatten)]
    pub connect: ConnectArgs,

    /// Namespace for objects in the file that do not name one.
    #[arg(short = 'n', long = "namespace", value_name = "NS")]
    pub namespace: Option<String>,

    /// Do not restart the agent after applying.
    #[arg(long)]
    pub no_restart: bool,

    /// How long to wait for the restarted agent to become Ready (e.g. 90s, 5m, 1h).
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = super::parse_duration)]
    pub timeout: Duration,

    /// Field manager for server-side apply.
    #[arg(long, value_name = "NAME", default_value = "kubectl-tingyun")]
    pub field_manager: String,

    /// Take ownership of fields managed by other tools (Helm, Argo CD, an
    /// operator) instead of stopping. Fields of kubectl's own managers
    /// (a hand-made install) are taken over without this flag.
    #[arg(long)]
    pub force_conflicts: bool,

    /// Proceed even when the apply removes imagePullSecrets that the live
    /// ServiceAccount or mutate.yaml has, or moves images to another registry.
    #[arg(long)]
    pub allow_removal: bool,
}

#[derive(Args, Debug, Clone)]
#[command(after_help = "Examples:\n  \
# Apply, restart the agent and wait until it is Ready\n  \
kubectl tingyun apply tingyunagent.yaml\n\n  \
# What would change on the cluster (exit 1 when something differs)\n  \
kubectl tingyun apply tingyunagent.yaml --dry-run=server")]
pub struct ApplyArgs {
    /// The manifest to apply; `-` reads standard input.
    pub file: String,

    /// `--dry-run` (= client) lists the objects and contacts no cluster;
    /// `--dry-run=server` prints a diff of live vs merged objects (exit 1 when they differ).
    #[arg(long, value_enum, value_name = "MODE", num_args = 0..=1, require_equals = true,
          default_missing_value = "client")]
    pub dry_run: Option<DryRunArg>,

    #[command(flatten)]
    pub opts: ApplyOpts,

    #[command(flatten)]
    pub profile: super::profile_args::ProfileArgs,
}

impl ApplyOpts {
    pub fn options(&self) -> ApplyOptions {
        ApplyOptions {
            connect: self.connect.options(),
            namespace: self.namespace.clone(),
            no_restart: self.no_restart,
            timeout: self.timeout,
            field_manager: self.field_manager.clone(),
            force_conflicts: self.force_conflicts,
            allow_removal: self.allow_removal,
            intended_registry: None,
        }
    }
}
