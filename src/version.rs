//! What `kubectl tingyun version` prints: the release, the commit it was
//! built from and when (recorded by build.rs).

/// The crate version, e.g. `0.1.0`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// Short commit hash (`-dirty` when built from a modified checkout), or `unknown`.
pub const COMMIT: &str = env!("TINGYUN_BUILD_COMMIT");
/// Build time, `YYYY-MM-DDTHH:MM:SSZ` (UTC; `$SOURCE_DATE_EPOCH` when set).
pub const BUILD_DATE: &str = env!("TINGYUN_BUILD_DATE");
/// The Rust target triple the binary was built for.
pub const TARGET: &str = env!("TINGYUN_BUILD_TARGET");

/// One line: `kubectl-tingyun v0.1.0 (commit 0123abcd, built 2026-01-01T00:00:00Z, x86_64-unknown-linux-gnu)`.
pub fn line() -> String {
    format!("kubectl-tingyun v{VERSION} (commit {COMMIT}, built {BUILD_DATE}, {TARGET})")
}

/// The same as JSON, for scripts.
pub fn json() -> String {
    serde_json::json!({
        "version": format!("v{VERSION}"),
        "commit": COMMIT,
        "buildDate": BUILD_DATE,
        "target": TARGET,
    })
    .to_string()
}
