//! kubectl-style connection flags and client construction, in one place.
use std::path::PathBuf;

use anyhow::Context as _;
use kube::config::{KubeConfigOptions, Kubeconfig};

/// `--kubeconfig`, `--context` and `--request-timeout`, honouring
/// `KUBECONFIG` and the current context exactly as kubectl does.
#[derive(Debug, Clone, Default)]
pub struct ConnectOptions {
    /// Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config).
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use (default: the current context).
    pub context: Option<String>,
    /// Bound for each request to the API server (zero: no bound).
    pub request_timeout: std::time::Duration,
}

/// `$KUBECONFIG` as kubectl reads it: a path list, missing files skipped,
/// the rest merged (first wins); unset: `~/.kube/config`.
fn read_default() -> Result<Kubeconfig, anyhow::Error> {
    let Some(value) = std::env::var_os("KUBECONFIG").filter(|v| !v.is_empty()) else {
        return Kubeconfig::read().map_err(anyhow::Error::from);
    };
    let paths: Vec<PathBuf> = std::env::split_paths(&value)
        .filter(|p| !p.as_os_str().is_empty())
        .collect();
    let mut merged: Option<Kubeconfig> = None;
    for p in &paths {
        if !p.exists() {
            continue;
        }
        let one = Kubeconfig::read_from(p)
            .with_context(|| format!("cannot read kubeconfig {}", p.display()))?;
        merged = Some(match merged {
            None => one,
            Some(m) => m.merge(one).context("cannot merge the KUBECONFIG files")?,
        });
    }
    merged.ok_or_else(|| {
        anyhow::anyhow!(
            "none of the KUBECONFIG files exists ({})",
            paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )
    })
}

/// A connected client plus the namespace kubectl would default to.
pub struct Connection {
    pub client: kube::Client,
    pub default_namespace: String,
    /// The API server URL, for messages.
    pub server: String,
}

impl ConnectOptions {
    /// Build the client configuration without connecting.
    pub async fn config(&self) -> anyhow::Result<kube::Config> {
        let options = KubeConfigOptions {
            context: self.context.clone(),
            cluster: None,
            user: None,
        };
        let (kubeconfig, source) = match &self.kubeconfig {
            Some(path) => {
                let kubeconfig = Kubeconfig::read_from(path)
                    .with_context(|| format!("cannot read kubeconfig {}", path.display()))?;
                (kubeconfig, path.display().to_string())
            }
            // $KUBECONFIG (merged, as kubectl does) or ~/.kube/config.
            None => match read_default() {
                Ok(kubeconfig) => (
                    kubeconfig,
                    "the kubeconfig ($KUBECONFIG or ~/.kube/config)".to_string(),
                ),
                // No kubeconfig at all: inside a pod, use the service account.
                Err(kube_err) if self.context.is_none() => {
                    return kube::Config::incluster().map_err(|_| {
                        anyhow::anyhow!(
                            "no usable kubeconfig ({kube_err}); set KUBECONFIG or pass --kubeconfig"
                        )
                    });
                }
                Err(e) => return Err(e).context("cannot load kubeconfig"),
            },
        };
        if let Some(context) = &self.context
            && !kubeconfig.contexts.iter().any(|c| &c.name == context)
        {
            let known: Vec<&str> = kubeconfig
                .contexts
                .iter()
                .map(|c| c.name.as_str())
                .collect();
            anyhow::bail!(
                "context {context:?} not found in {source} (contexts: {})",
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            );
        }
        let mut config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
            .await
            .with_context(|| format!("invalid kubeconfig {source}"))?;
        self.bound(&mut config);
        Ok(config)
    }

    /// Apply `--request-timeout` to every request (0: kube's defaults).
    fn bound(&self, config: &mut kube::Config) {
        if !self.request_timeout.is_zero() {
            config.connect_timeout = Some(self.request_timeout);
            config.read_timeout = Some(self.request_timeout);
            config.write_timeout = Some(self.request_timeout);
        }
    }

    /// Server-side timeout for watches so that they end before the
    /// client's read timeout cuts them (seconds).
    pub fn watch_timeout_secs(&self) -> u32 {
        if self.request_timeout.is_zero() {
            290
        } else {
            (self.request_timeout.as_secs().saturating_sub(1)).clamp(1, 290) as u32
        }
    }

    /// Connect: a client plus the context's default namespace.
    pub async fn connect(&self) -> anyhow::Result<Connection> {
        let config = self.config().await?;
        let default_namespace = config.default_namespace.clone();
        let server = config
            .cluster_url
            .to_string()
            .trim_end_matches('/')
            .to_string();
        let client = kube::Client::try_from(config).context("cannot build a Kubernetes client")?;
        Ok(Connection {
            client,
            default_namespace,
            server,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KUBECONFIG: &str = "apiVersion: v1
kind: Config
current-context: dev
clusters:
- name: c
  cluster:
    server: https://127.0.0.1:6443/
users:
- name: u
  user:
    token: t
contexts:
- name: dev
  context: {cluster: c, user: u, namespace: shop}
- name: bare
  context: {cluster: c, user: u}
";

    fn args(dir: &tempfile::TempDir, context: Option<&str>) -> ConnectOptions {
        let path = dir.path().join("config");
        std::fs::write(&path, KUBECONFIG).unwrap();
        ConnectOptions {
            kubeconfig: Some(path),
            context: context.map(str::to_string),
            ..ConnectOptions::default()
        }
    }

    #[tokio::test]
    async fn the_contexts_namespace_is_the_default() {
        let dir = tempfile::tempdir().unwrap();
        let current = args(&dir, None).connect().await.unwrap();
        assert_eq!(current.default_namespace, "shop");
        assert_eq!(current.server, "https://127.0.0.1:6443");
        let bare = args(&dir, Some("bare")).connect().await.unwrap();
        assert_eq!(bare.default_namespace, "default");
    }

    #[tokio::test]
    async fn an_unknown_context_names_the_known_ones() {
        let dir = tempfile::tempdir().unwrap();
        let err = args(&dir, Some("prod"))
            .config()
            .await
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("context \"prod\" not found in "), "{err}");
        assert!(err.ends_with("(contexts: dev, bare)"), "{err}");
    }

    #[tokio::test]
    async fn a_missing_kubeconfig_file_is_named() {
        let missing = ConnectOptions {
            kubeconfig: Some("/nonexistent/kubeconfig".into()),
            ..ConnectOptions::default()
        };
        let err = format!("{:#}", missing.config().await.unwrap_err());
        assert!(
            err.starts_with("cannot read kubeconfig /nonexistent/kubeconfig"),
            "{err}"
        );
    }
}
