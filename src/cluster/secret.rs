//! `kubectl tingyun secret`: docker-registry pull secrets in many namespaces.
use crate::cli::SecretArgs;

pub fn run(_args: &SecretArgs) -> anyhow::Result<i32> {
    anyhow::bail!("secret: not implemented yet")
}
