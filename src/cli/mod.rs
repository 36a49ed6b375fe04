//! Command-line definitions (clap) and dispatch. The flags here are a
//! contract: scripts and tests outside the project call exactly these.
//!
//! Each command's flags live in their own file and turn into the plain
//! option structs the library takes; this module alone (with `main.rs`)
//! maps results to exit codes ([`crate::exit`]).
mod apply;
mod complete;
mod connect;
mod doctor;
mod hints;
mod images;
mod patch;
mod profile_args;
mod push;
mod registry_args;
mod secret;

use std::time::Duration;

use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};

pub use apply::{ApplyArgs, ApplyOpts};
pub use connect::ConnectArgs;
pub use doctor::DoctorArgs;
pub use images::{ImagesArgs, ImagesCommand};
pub use patch::PatchArgs;
pub use push::PushArgs;
pub use secret::{OutputFormatArg, SecretArgs};

use crate::dry_run::DryRun;
use crate::exit::{self, Mode};

#[derive(Parser, Debug)]
#[command(
    name = "kubectl-tingyun",
    bin_name = "kubectl tingyun",
    version,
    about = "Prepare and install the Tingyun APM Kubernetes agent for a private image registry",
    long_about = "Prepare and install the Tingyun APM Kubernetes agent for a private image registry.\n\n\
Edits a downloaded tingyunagent.yaml the way the Tingyun install guide describes \
(imagePullSecrets, private registry images, Kingsoft KCI annotations) without \
touching any other byte, creates the docker-registry pull secrets, applies the \
file with server-side apply and restarts the agent.",
    after_help = "Examples:\n  \
# Uncomment imagePullSecrets in the ServiceAccount and in mutate.yaml (the guide's procedure)\n  \
kubectl tingyun patch tingyunagent.yaml\n\n  \
# Review first: print a diff and write nothing\n  \
kubectl tingyun patch tingyunagent.yaml --registry harbor.example.com/apm --dry-run\n\n  \
# Create the pull secret in the agent namespace and a business namespace\n  \
printf '%s' \"$TOKEN\" | kubectl tingyun secret --server harbor.example.com \\\n      \
--username 'robot$tingyun+pull' --password-stdin -n tingyun -n shop\n\n  \
# Patch (keeping the pull secrets), apply and restart the agent, waiting until it is Ready\n  \
kubectl tingyun patch tingyunagent.yaml --registry harbor.example.com/apm --pull-secret --inject-pull-secret --apply"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Edit a tingyunagent.yaml in place: pull secrets, registry, KCI annotations.
    Patch(PatchArgs),
    /// Create or update the docker-registry pull secret in one or more namespaces.
    Secret(SecretArgs),
    /// Server-side apply a manifest, restart the agent and wait until it is Ready.
    Apply(ApplyArgs),
    /// List the images a manifest makes nodes pull (--check asks their registries); `images push`
    /// pushes the vendor's image archive to a private registry.
    Images(ImagesArgs),
    /// Explain why the agent's pods (or those it injects into) are not Ready, and name the fix.
    Doctor(DoctorArgs),
    /// Print a shell completion script for kubectl-tingyun (bash, zsh, fish, powershell).
    #[command(after_help = "Examples:\n  \
# bash, this shell only\n  \
source <(kubectl tingyun completion bash)\n\n  \
# `kubectl tingyun <TAB>` (kubectl >= 1.26): put kubectl_complete-tingyun from the\n  \
# release archive next to kubectl-tingyun on PATH")]
    Completion(CompletionArgs),
    /// Print the version, the commit it was built from and the build date.
    Version(VersionArgs),
}

#[derive(Args, Debug, Clone)]
pub struct CompletionArgs {
    /// The shell to generate the script for.
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

#[derive(Args, Debug, Clone)]
pub struct VersionArgs {
    /// `json` prints the same as a JSON object.
    #[arg(short = 'o', long = "output", value_name = "FORMAT", value_parser = ["json"])]
    pub output: Option<String>,
}

/// `--dry-run` as kubectl spells it: `--dry-run` alone means `client`.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum DryRunArg {
    /// Do everything locally, change nothing.
    Client,
    /// Ask the API server what would change (server-side apply dry run).
    Server,
    /// No dry run (for symmetry with kubectl).
    None,
}

/// The library's [`DryRun`] for a `--dry-run` flag.
fn dry_run(arg: Option<DryRunArg>) -> DryRun {
    match arg {
        Some(DryRunArg::Client) => DryRun::Client,
        Some(DryRunArg::Server) => DryRun::Server,
        Some(DryRunArg::None) | None => DryRun::Off,
    }
}

/// Parse `90s`, `5m`, `1h`, `1m30s` or a bare number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("empty duration".into());
    }
    if let Ok(secs) = s.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    let mut total = 0f64;
    let mut num = String::new();
    let mut rest = s.chars().peekable();
    while let Some(c) = rest.next() {
        if c.is_ascii_digit() || c == '.' {
            num.push(c);
            continue;
        }
        let mut unit = c.to_string();
        if c == 'm' && rest.peek() == Some(&'s') {
            unit.push(rest.next().unwrap_or('s'));
        }
        let value: f64 = num.parse().map_err(|_| format!("invalid duration {s:?}"))?;
        num.clear();
        total += match unit.as_str() {
            "ms" => value / 1000.0,
            "s" => value,
            "m" => value * 60.0,
            "h" => value * 3600.0,
            _ => {
                return Err(format!(
                    "invalid duration {s:?}: unknown unit {unit:?} (use s, m or h)"
                ));
            }
        };
    }
    if !num.is_empty() {
        return Err(format!(
            "invalid duration {s:?}: missing unit (use s, m or h)"
        ));
    }
    Ok(Duration::from_secs_f64(total))
}

/// Parse the command line, run, and return the process exit code
/// (the table is in [`crate::exit`]).
pub fn main() -> i32 {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    // Run as `kubectl_complete-tingyun` (a link to this binary) or through
    // contrib/kubectl_complete-tingyun: kubectl's plugin completion protocol.
    let as_completer = std::env::args_os()
        .next()
        .and_then(|a| {
            std::path::Path::new(&a)
                .file_stem()
                .map(|s| s == "kubectl_complete-tingyun")
        })
        .unwrap_or(false);
    if as_completer || argv.first().map(String::as_str) == Some("__complete") {
        let words = if as_completer { &argv[..] } else { &argv[1..] };
        let (items, directive) = complete::answer(&Cli::command(), words);
        let _ = complete::write_answer(&mut crate::output::stdout(), &items, directive);
        return finish(exit::OK);
    }
    let space_hint = || hints::space_instead_of_equals(&Cli::command(), &argv);
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            };
            let _ = e.print();
            if e.use_stderr()
                && let Some(hint) = space_hint()
            {
                say(hint);
            }
            return code;
        }
    };
    // One output handle over the process's streams for every command.
    // (a reader that goes away, `| head`, ends the process quietly: see `finish`)
    let (mut stdout, mut stderr) = (crate::output::stdout(), crate::output::stderr());
    let mut output = crate::output::Output::stdio(&mut stdout, &mut stderr);
    let (mode, result) = match &cli.command {
        Command::Patch(args) => {
            if let Some(msg) = hints::output_format_word(args.output.as_deref()) {
                say(format!("error: {msg}"));
                return exit::error(raw_mode(std::env::args_os()));
            }
            let mut options = args.options();
            if args.krm {
                return krm(&options);
            }
            let server_diff = options.apply && options.dry_run == DryRun::Server;
            let result = profile_args::patch(&args.profile, args.save_config, &mut options)
                .and_then(|save| {
                    let status = crate::patch::run(&options, &mut output)?;
                    if let Some((to, base)) = save
                        && matches!(status, exit::Status::Done | exit::Status::Differences)
                    {
                        profile_args::save(&to, &options, &base)?;
                    }
                    Ok(status)
                });
            (mode_of(server_diff), result)
        }
        Command::Secret(args) => {
            let mut options = args.options();
            let mode = mode_of(options.dry_run == DryRun::Server);
            let result = profile_args::secret(
                &args.profile,
                [
                    args.server.is_some(),
                    args.username.is_some(),
                    args.name.is_some(),
                ],
                &mut options,
            )
            .and_then(|()| crate::cluster::secret::run(&options, &mut output));
            (mode, result)
        }
        Command::Apply(args) => {
            let dry_run = dry_run(args.dry_run);
            let mode = mode_of(dry_run == DryRun::Server);
            let mut options = args.opts.options();
            let result =
                profile_args::apply(&args.profile, &args.file, &mut options).and_then(|()| {
                    crate::cluster::apply::run(&args.file, dry_run, &options, &mut output)
                });
            (mode, result)
        }
        Command::Images(args) => match &args.command {
            Some(ImagesCommand::Push(push)) => (
                Mode::Normal,
                push.options()
                    .and_then(|o| crate::registry::push::run(&o, &mut output)),
            ),
            None => (
                Mode::Normal,
                args.options()
                    .and_then(|o| crate::images::run(&o, &mut output)),
            ),
        },
        Command::Doctor(args) => (
            Mode::Normal,
            args.options()
                .and_then(|o| crate::doctor::run(&o, &mut output)),
        ),
        Command::Completion(args) => {
            complete::print_script(args.shell, &mut Cli::command(), &mut *output.out);
            return finish(exit::OK);
        }
        Command::Version(args) => {
            let line = if args.output.is_some() {
                crate::version::json()
            } else {
                crate::version::line()
            };
            let _ = writeln!(output.out, "{line}");
            return finish(exit::OK);
        }
    };
    if let Err(e) = &result {
        say(crate::error::render(e));
        if let Some(hint) = space_hint() {
            say(hint);
        }
    }
    finish(exit::code(&result, mode))
}

/// A line on standard error (dropped if nobody reads it any more).
fn say(line: impl std::fmt::Display) {
    use std::io::Write as _;
    let _ = writeln!(crate::output::stderr(), "{line}");
}

/// The exit code, or [`exit::BROKEN_PIPE`] when the command succeeded but
/// the reader of its output went away (`| head`): the process then ends as
/// kubectl and cat do, killed by SIGPIPE (`src/main.rs`), not with an error.
fn finish(code: i32) -> i32 {
    if code == exit::OK && crate::output::pipe_closed() {
        exit::BROKEN_PIPE
    } else {
        code
    }
}

/// `patch --krm`: standard input to standard output; errors on stderr.
fn krm(options: &crate::patch::PatchOptions) -> i32 {
    use std::io::{Read as _, Write as _};
    let mut input = String::new();
    if let Err(e) = std::io::stdin().read_to_string(&mut input) {
        say(format!(
            "error: cannot read the ResourceList from standard input: {e}"
        ));
        return exit::FAILURE;
    }
    match crate::krm::run("<stdin>", &input, options) {
        Ok(out) => match crate::output::stdout().write_all(out.as_bytes()) {
            Ok(()) => finish(exit::OK),
            Err(e) => {
                say(format!("error: cannot write standard output: {e}"));
                exit::FAILURE
            }
        },
        Err(e) => {
            say(crate::error::render(&e));
            exit::FAILURE
        }
    }
}

fn mode_of(server_diff: bool) -> Mode {
    if server_diff {
        Mode::ServerDiff
    } else {
        Mode::Normal
    }
}

/// The mode of a command line clap rejected: a server dry run if it asks
/// for one (`--dry-run=server`; the flag requires the `=`).
fn raw_mode(args: impl Iterator<Item = std::ffi::OsString>) -> Mode {
    mode_of(args.skip(1).any(|a| a == "--dry-run=server"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::names::DEFAULT_SECRET_NAME;

    #[test]
    fn durations_parse_like_kubectl() {
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse_duration("5x").is_err());
        assert!(parse_duration("5").is_ok());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("m").is_err());
    }

    #[test]
    fn bare_flags_take_their_defaults() {
        let cli = Cli::try_parse_from([
            "kubectl-tingyun",
            "patch",
            "f.yaml",
            "--pull-secret",
            "--dry-run",
        ])
        .unwrap();
        let Command::Patch(p) = cli.command else {
            panic!("not patch")
        };
        assert_eq!(p.pull_secret.as_deref(), Some(DEFAULT_SECRET_NAME));
        assert_eq!(p.dry_run, Some(DryRunArg::Client));
        assert_eq!(p.http_registry, None);
        let cli = Cli::try_parse_from([
            "kubectl-tingyun",
            "patch",
            "f.yaml",
            "--http-registry",
            "--pull-secret=x",
        ])
        .unwrap();
        let Command::Patch(p) = cli.command else {
            panic!("not patch")
        };
        assert_eq!(p.http_registry, Some(None));
        assert_eq!(p.pull_secret.as_deref(), Some("x"));
    }
}
