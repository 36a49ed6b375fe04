//! kubectl's connection flags, shared by every cluster command.
use std::path::PathBuf;

use clap::Args;

use crate::cluster::connect::ConnectOptions;

/// `--kubeconfig`, `--context` and `--request-timeout`, as kubectl spells them.
#[derive(Args, Debug, Clone)]
pub struct ConnectArgs {
    /// Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config).
    #[arg(long, value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,

    /// The kubeconfig context to use (default: the current context).
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,

    /// Bound for each request to the API server (e.g. 30s; 0 = no bound).
    #[arg(long, value_name = "DURATION", default_value = "30s",
          value_parser = super::parse_duration)]
    pub request_timeout: std::time::Duration,
}

impl ConnectArgs {
    pub fn options(&self) -> ConnectOptions {
        ConnectOptions {
            kubeconfig: self.kubeconfig.clone(),
            context: self.context.clone(),
            request_timeout: self.request_timeout,
        }
    }
}
