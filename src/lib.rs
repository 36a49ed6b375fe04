//! kubectl-tingyun: prepare a downloaded `tingyunagent.yaml` for a private
//! image registry and install it.
//!
//! Data flow, one module per step:
//!
//! ```text
//! source (read bytes, BOM, line endings, UTF-8)
//!   -> yaml (tree-sitter CST with byte spans; block-scalar inner documents)
//!   -> patch (plan typed edits as byte splices)
//!   -> patch::splice (apply) -> patch::verify (re-parse, compare meaning)
//!   -> diff / write (atomic)
//!   -> cluster (server-side apply, restart, wait; pull secrets)
//! ```
pub mod cli;
pub mod cluster;
pub mod diff;
pub mod doctor;
pub mod dry_run;
pub mod error;
pub mod exit;
pub mod image;
pub mod images;
pub mod k8s;
pub mod names;
pub mod output;
pub mod patch;
pub mod profile;
pub mod registry;
pub mod runtime;
pub mod source;
pub mod version;
pub mod write;
pub mod yaml;
