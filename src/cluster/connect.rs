//! kubectl-style connection flags and client construction, in one place.
use std::path::PathBuf;

use anyhow::Context as _;
use kube::config::{KubeConfigOptions, Kubeconfig};

/// `--kubeconfig` and `--context`, honouring `KUBECONFIG` and the current
/// context exactly as kubectl does.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ConnectArgs {
    /// Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config).
    #[arg(long, value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,

    /// The kubeconfig context to use (default: the current context).
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,
}

/// A connected client plus the namespace kubectl would default to.
pub struct Connection {
    pub client: kube::Client,
    pub default_namespace: String,
    /// The API server URL, for messages.
    pub server: String,
}

impl ConnectArgs {
    /// Build the client configuration without connecting.
    pub async fn config(&self) -> anyhow::Result<kube::Config> {
        let options = KubeConfigOptions {
            context: self.context.clone(),
            cluster: None,
            user: None,
        };
        let config = match &self.kubeconfig {
            Some(path) => {
                let kubeconfig = Kubeconfig::read_from(path)
                    .with_context(|| format!("cannot read kubeconfig {}", path.display()))?;
                kube::Config::from_custom_kubeconfig(kubeconfig, &options)
                    .await
                    .with_context(|| format!("invalid kubeconfig {}", path.display()))?
            }
            None => match kube::Config::from_kubeconfig(&options).await {
                Ok(config) => config,
                // No kubeconfig at all: inside a pod, use the service account.
                Err(kube_err) if self.context.is_none() => {
                    kube::Config::incluster().map_err(|_| {
                        anyhow::anyhow!(
                            "no usable kubeconfig ({kube_err}); set KUBECONFIG or pass --kubeconfig"
                        )
                    })?
                }
                Err(e) => return Err(e).context("cannot load kubeconfig"),
            },
        };
        Ok(config)
    }

    /// Connect: a client plus the context's default namespace.
    pub async fn connect(&self) -> anyhow::Result<Connection> {
        let config = self.config().await?;
        let default_namespace = config.default_namespace.clone();
        let server = config.cluster_url.to_string();
        let client = kube::Client::try_from(config).context("cannot build a Kubernetes client")?;
        Ok(Connection {
            client,
            default_namespace,
            server,
        })
    }
}
