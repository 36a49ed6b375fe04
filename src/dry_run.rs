//! `--dry-run` as the library sees it.

/// What a command may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DryRun {
    /// Change things (no dry run).
    #[default]
    Off,
    /// Do everything locally, change nothing, contact no cluster.
    Client,
    /// Ask the API server what would change (dryRun requests only).
    Server,
}

impl DryRun {
    /// Any dry run: nothing is written or changed.
    pub fn any(self) -> bool {
        self != DryRun::Off
    }
}
