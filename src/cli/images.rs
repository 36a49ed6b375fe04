//! `kubectl tingyun images ...` flags: `images push`.
use clap::{Args, Subcommand};

use super::push::PushArgs;

#[derive(Args, Debug, Clone)]
pub struct ImagesArgs {
    #[command(subcommand)]
    pub command: ImagesCommand,
}

#[derive(Subcommand, Debug, Clone)]
pub enum ImagesCommand {
    /// Push the vendor's image archive (every platform under one tag) to a private registry, without docker.
    Push(PushArgs),
}
