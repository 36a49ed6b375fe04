//! What `images --check`, `images push` and `doctor --check-registry` read
//! alike: host lists and the registry timeout.
use std::time::Duration;

use crate::image::Host;
use crate::registry::tls::parse_hosts;

/// Every value of a repeatable `HOST[:PORT],...` flag
/// (`--insecure-registry`, `--http-registry`).
pub fn hosts(flag: &str, values: &[String]) -> anyhow::Result<Vec<Host>> {
    let mut out = Vec::new();
    for v in values {
        out.extend(parse_hosts(flag, v)?);
    }
    Ok(out)
}

/// `--registry-timeout`: 0 means no bound of ours (an hour).
pub fn registry_timeout(given: Duration) -> Duration {
    if given.is_zero() {
        Duration::from_secs(3600)
    } else {
        given
    }
}
