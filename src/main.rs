//! `kubectl-tingyun`: a thin entry point; everything lives in the library.
fn main() {
    let code = kubectl_tingyun::cli::main();
    if code == kubectl_tingyun::exit::BROKEN_PIPE {
        die_of_sigpipe();
    }
    std::process::exit(code);
}

/// End the way kubectl (any Go program) and cat end when the reader of
/// their output has gone: killed by SIGPIPE. Rust ignores SIGPIPE, so a
/// write there fails instead; the output handle drops it and the command
/// line asks for this ending ([`kubectl_tingyun::exit::BROKEN_PIPE`]).
#[cfg(unix)]
fn die_of_sigpipe() {
    // SAFETY: restores the default action of one signal and raises it;
    // the process ends here (no handler runs, nothing is shared).
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        libc::raise(libc::SIGPIPE);
    }
}

#[cfg(not(unix))]
fn die_of_sigpipe() {}
