//! `kubectl tingyun patch`: plan typed edits as byte splices, verify, write.
use crate::cli::PatchArgs;

pub fn run(_args: &PatchArgs) -> anyhow::Result<i32> {
    anyhow::bail!("patch: not implemented yet")
}
