//! The exit-code contract, in one place. The library reports how a command
//! ended as a [`Status`] (or an error); only the command line
//! (`src/cli/`) turns that into a process exit code, with [`code`].
//!
//! An error exits 1, as `kubectl apply` does; a usage error (flags that do
//! not parse) exits 2, as it always has here and as the argument parser and most Unix tools
//! do, so scripts can tell "you called it wrong" from "it failed". In a
//! server-side dry run, which reports differences the way `kubectl diff`
//! does, 1 means "there are differences", so every error there exits 2 too
//! (`kubectl diff`: "greater than 1: kubectl or diff failed"). 2 is thus
//! always "no result": the command could not run as asked.
//!
//! | code | meaning |
//! | --- | --- |
//! | 0 | success; with `--dry-run=server`: no differences |
//! | 1 | an error (message on standard error), or the agent did not become Ready; with `--dry-run=server`: there are differences |
//! | 2 | a usage error (flags that do not parse); with `--dry-run=server`: any error, no diff was produced |
//! | 130 | interrupted (Ctrl-C); what was already applied is listed |
//! | 141 | the reader of the output went away (`... \| head`): killed by SIGPIPE, as kubectl and cat are (a shell shows 141 = 128 + 13) |
//!
//! `--help` and `--version` exit 0. The README's "Exit codes" section is
//! this table.

/// Success; with `--dry-run=server`: no differences.
pub const OK: i32 = 0;
/// An error; with `--dry-run=server`: there are differences.
pub const FAILURE: i32 = 1;
/// With `--dry-run=server`: an error (1 means "differences" there).
pub const DIFF_ERROR: i32 = 2;
/// A usage error: the flags do not parse (every mode).
pub const USAGE: i32 = 2;
/// Interrupted by Ctrl-C (128 + SIGINT, as shells report it).
pub const INTERRUPTED: i32 = 130;

/// The reader of standard output (or error) went away, e.g. `| head`,
/// after the command succeeded: the process kills itself with SIGPIPE, as
/// kubectl (any Go program) and cat do; a shell reports 128 + 13.
pub const BROKEN_PIPE: i32 = 141;

/// How a command ended, its messages already written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Everything asked was done; for a server dry run: no differences.
    Done,
    /// A server dry run found differences.
    Differences,
    /// The command failed and has said why (some objects or namespaces
    /// failed, the agent did not become Ready, ...).
    Failed,
    /// Ctrl-C; what was done is reported.
    Interrupted,
}

/// The mode a command ran in: it decides what an error exits with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Anything but a server-side dry run.
    Normal,
    /// A server-side dry run (`--dry-run=server`): 1 means "differences".
    ServerDiff,
}

/// The exit code of a command's result (the error itself is printed by
/// the caller).
pub fn code<E>(result: &Result<Status, E>, mode: Mode) -> i32 {
    match result {
        Ok(Status::Done) => OK,
        Ok(Status::Differences) => FAILURE,
        Ok(Status::Interrupted) => INTERRUPTED,
        Ok(Status::Failed) | Err(_) => error(mode),
    }
}

/// The exit code of an error (a usage error included) in `mode`.
pub fn error(mode: Mode) -> i32 {
    match mode {
        Mode::Normal => FAILURE,
        Mode::ServerDiff => DIFF_ERROR,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_means_differences_only_in_a_server_diff() {
        let failed: Result<Status, ()> = Ok(Status::Failed);
        assert_eq!(code(&failed, Mode::Normal), 1);
        assert_eq!(code(&failed, Mode::ServerDiff), 2);
        assert_eq!(code(&Err::<Status, ()>(()), Mode::ServerDiff), 2);
        assert_eq!(code(&Ok::<_, ()>(Status::Differences), Mode::ServerDiff), 1);
        assert_eq!(code(&Ok::<_, ()>(Status::Done), Mode::ServerDiff), 0);
        assert_eq!(code(&Ok::<_, ()>(Status::Interrupted), Mode::Normal), 130);
    }
}
