//! `kubectl tingyun apply`: server-side apply, restart, wait until Ready.
use crate::cli::{ApplyArgs, ApplyOpts};

pub fn run(_args: &ApplyArgs) -> anyhow::Result<i32> {
    anyhow::bail!("apply: not implemented yet")
}

/// Apply already-read manifest text (used by `patch --apply`).
/// `label` names the source in messages (a path or `<stdin>`).
pub fn apply_text(
    _label: &str,
    _text: &str,
    _opts: &ApplyOpts,
    _server_dry_run: bool,
) -> anyhow::Result<i32> {
    anyhow::bail!("apply: not implemented yet")
}
