//! The async runtime of the cluster commands, built in one place.
use std::future::Future;

use anyhow::Context as _;

/// Run `future` to completion on a current-thread tokio runtime (timers
/// and I/O enabled): the cluster commands are one sequence of requests
/// and watches, and a single thread keeps Ctrl-C and output ordering simple.
pub fn block_on<F: Future>(future: F) -> anyhow::Result<F::Output> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    Ok(runtime.block_on(future))
}
