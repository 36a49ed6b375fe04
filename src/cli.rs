//! Command-line definitions (clap) and dispatch. The flags here are a
//! contract: scripts and tests outside the project call exactly these.
mod complete;
mod hints;

use std::time::Duration;

use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};

use crate::cluster::connect::ConnectArgs;

pub const DEFAULT_SECRET_NAME: &str = "tingyun-image-secret";

/// Exit codes, as kubectl uses them.
pub mod exit {
    /// Success; for `--dry-run=server`: no differences.
    pub const OK: i32 = 0;
    /// An error; for `--dry-run=server`: there are differences.
    pub const FAILURE: i32 = 1;
    /// Usage error (bad flags), or an error while computing a server diff.
    pub const USAGE: i32 = 2;
}

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
    /// Print a shell completion script for kubectl-tingyun (bash, zsh, fish, powershell).
    #[command(after_help = "Examples:\n  \
# bash, this shell only\n  \
source <(kubectl tingyun completion bash)\n\n  \
# `kubectl tingyun <TAB>` (kubectl >= 1.26): put kubectl_complete-tingyun from the\n  \
# release archive next to kubectl-tingyun on PATH (krew does this)")]
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
pub enum DryRun {
    /// Do everything locally, change nothing.
    Client,
    /// Ask the API server what would change (server-side apply dry run).
    Server,
    /// No dry run (for symmetry with kubectl).
    None,
}

#[derive(Args, Debug, Clone)]
#[command(after_help = "Examples:\n  \
# The guide's procedure: uncomment imagePullSecrets (ServiceAccount and mutate.yaml)\n  \
kubectl tingyun patch tingyunagent.yaml\n\n  \
# Point every image at a private registry project and show the diff only\n  \
kubectl tingyun patch tingyunagent.yaml --registry harbor.example.com:5000/apm --dry-run\n\n  \
# Kingsoft KCI virtual nodes pulling from a plain-HTTP registry\n  \
kubectl tingyun patch tingyunagent.yaml --registry 10.0.0.5:5000/apm --http-registry \\\n      \
--host-aliases '[{\"ip\":\"10.0.0.5\",\"hostnames\":[\"registry.local\"]}]'\n\n  \
# As a Helm post-renderer: stdin to stdout\n  \
helm template agent ./chart | kubectl tingyun patch - --registry harbor.example.com/apm")]
pub struct PatchArgs {
    /// The manifest to edit; `-` reads standard input (output then goes to standard output).
    pub file: String,

    /// Add imagePullSecrets {name: NAME} to every ServiceAccount (uncommenting the download's template).
    #[arg(long, value_name = "NAME", num_args = 0..=1, require_equals = true,
          default_missing_value = DEFAULT_SECRET_NAME)]
    pub pull_secret: Option<String>,

    /// Add imagePullSecrets {name: NAME} inside the ConfigMap's mutate.yaml (the injected pods' template).
    #[arg(long, value_name = "NAME", num_args = 0..=1, require_equals = true,
          default_missing_value = DEFAULT_SECRET_NAME)]
    pub inject_pull_secret: Option<String>,

    /// Rewrite every container image to HOST[:PORT]/PROJECT/<name>[:tag|@digest].
    #[arg(long, value_name = "HOST[:PORT]/PROJECT")]
    pub registry: Option<String>,

    /// KCI: pull these hosts over plain HTTP (annotation k8s.ksyun.com/kci-http-registry).
    /// Defaults to the host of --registry.
    #[arg(long, value_name = "HOSTS", num_args = 0..=1, require_equals = true)]
    pub http_registry: Option<Option<String>>,

    /// KCI: skip TLS verification for these hosts (annotation k8s.ksyun.com/kci-insecure-registry).
    /// Defaults to the host of --registry.
    #[arg(long, value_name = "HOSTS", num_args = 0..=1, require_equals = true)]
    pub insecure_registry: Option<Option<String>>,

    /// KCI: PodDNSConfig as JSON (annotation k8s.ksyun.com/kci-dns-config).
    #[arg(long, value_name = "JSON")]
    pub dns_config: Option<String>,

    /// KCI: a list of HostAlias as JSON (annotation k8s.ksyun.com/kci-host-aliases).
    #[arg(long, value_name = "JSON")]
    pub host_aliases: Option<String>,

    /// Any other pod-template annotation (repeatable).
    #[arg(long = "annotation", value_name = "KEY=VALUE")]
    pub annotations: Vec<String>,

    /// Write nothing; print a unified diff of what would change. With --apply,
    /// `--dry-run` (= client) sends nothing to the cluster and `--dry-run=server`
    /// diffs against the live cluster (only dryRun requests).
    #[arg(long, value_enum, value_name = "MODE", num_args = 0..=1, require_equals = true,
          default_missing_value = "client")]
    pub dry_run: Option<DryRun>,

    /// Where to write the result: a path, or `-` for standard output. Default: FILE itself.
    #[arg(short = 'o', long = "output", value_name = "PATH")]
    pub output: Option<String>,

    /// After writing, server-side apply the result and restart the agent.
    #[arg(long)]
    pub apply: bool,

    #[command(flatten)]
    pub cluster: ApplyOpts,
}

/// Options shared by `apply` and `patch --apply`.
#[derive(Args, Debug, Clone)]
pub struct ApplyOpts {
    #[command(flatten)]
    pub connect: ConnectArgs,

    /// Namespace for objects in the file that do not name one.
    #[arg(short = 'n', long = "namespace", value_name = "NS")]
    pub namespace: Option<String>,

    /// Do not restart the agent after applying.
    #[arg(long)]
    pub no_restart: bool,

    /// How long to wait for the restarted agent to become Ready (e.g. 90s, 5m, 1h).
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
    pub timeout: Duration,

    /// Field manager for server-side apply.
    #[arg(long, value_name = "NAME", default_value = "kubectl-tingyun")]
    pub field_manager: String,

    /// Take ownership of fields managed by other tools (Helm, Argo CD, an
    /// operator) instead of stopping. Fields of kubectl's own managers
    /// (a hand-made install) are taken over without this flag.
    #[arg(long)]
    pub force_conflicts: bool,

    /// Proceed even when the apply removes imagePullSecrets that the live
    /// ServiceAccount or mutate.yaml has, or moves images to another registry.
    #[arg(long)]
    pub allow_removal: bool,

    /// The registry `patch --registry` moved the images to (not a flag: a
    /// move there is intended, not a loss).
    #[arg(skip)]
    pub intended_registry: Option<String>,
}

#[derive(Args, Debug, Clone)]
#[command(after_help = "Examples:\n  \
# Agent namespace plus two business namespaces; password from standard input\n  \
printf '%s' \"$TOKEN\" | kubectl tingyun secret --server harbor.example.com \\\n      \
--username 'robot$tingyun+pull' --password-stdin -n tingyun -n shop -n billing\n\n  \
# Password from the environment, preview only\n  \
TINGYUN_REGISTRY_PASSWORD=... kubectl tingyun secret --server swr.cn-north-4.myhuaweicloud.com \\\n      \
--username cn-north-4@AK -n tingyun --dry-run -o yaml")]
pub struct SecretArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,

    /// Registry server, HOST[:PORT] (no scheme, no path).
    #[arg(long, value_name = "HOST[:PORT]")]
    pub server: String,

    /// Registry user name (any characters; no shell escaping needed when quoted).
    #[arg(long, value_name = "USER")]
    pub username: String,

    /// Read the password from standard input (otherwise from TINGYUN_REGISTRY_PASSWORD).
    #[arg(long)]
    pub password_stdin: bool,

    /// Namespace to create the secret in (repeatable). Default: the context's namespace.
    #[arg(short = 'n', long = "namespace", value_name = "NS")]
    pub namespaces: Vec<String>,

    /// Also every namespace whose pods the Tingyun injection webhook selects.
    #[arg(long)]
    pub injected_namespaces: bool,

    /// Secret name.
    #[arg(long, value_name = "NAME", default_value = DEFAULT_SECRET_NAME)]
    pub name: String,

    /// `--dry-run` (client) prints the Secret and contacts no cluster; `server` asks the API
    /// server (only dryRun requests; exit 1 when something would change).
    #[arg(long, value_enum, value_name = "MODE", num_args = 0..=1, require_equals = true,
          default_missing_value = "client")]
    pub dry_run: Option<DryRun>,

    /// Output format for --dry-run: yaml or json.
    #[arg(short = 'o', long = "output", value_enum, value_name = "FORMAT")]
    pub output: Option<OutputFormat>,

    /// Field manager for server-side apply.
    #[arg(long, value_name = "NAME", default_value = "kubectl-tingyun")]
    pub field_manager: String,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputFormat {
    Yaml,
    Json,
}

#[derive(Args, Debug, Clone)]
#[command(after_help = "Examples:\n  \
# Apply, restart the agent and wait until it is Ready\n  \
kubectl tingyun apply tingyunagent.yaml\n\n  \
# What would change on the cluster (exit 1 when something differs)\n  \
kubectl tingyun apply tingyunagent.yaml --dry-run=server")]
pub struct ApplyArgs {
    /// The manifest to apply; `-` reads standard input.
    pub file: String,

    /// `--dry-run` (= client) lists the objects and contacts no cluster;
    /// `--dry-run=server` prints a diff of live vs merged objects (exit 1 when they differ).
    #[arg(long, value_enum, value_name = "MODE", num_args = 0..=1, require_equals = true,
          default_missing_value = "client")]
    pub dry_run: Option<DryRun>,

    #[command(flatten)]
    pub opts: ApplyOpts,
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

/// Parse the command line, run, and return the process exit code.
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
        let _ = complete::write_answer(&mut std::io::stdout().lock(), &items, directive);
        return exit::OK;
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
                eprintln!("{hint}");
            }
            return code;
        }
    };
    let result = match cli.command {
        Command::Patch(args) => {
            if let Some(msg) = hints::output_format_word(args.output.as_deref()) {
                eprintln!("error: {msg}");
                return exit::USAGE;
            }
            crate::patch::run(&args)
        }
        Command::Secret(args) => crate::cluster::secret::run(&args),
        Command::Apply(args) => crate::cluster::apply::run(&args),
        Command::Completion(args) => {
            complete::print_script(args.shell, &mut Cli::command(), &mut std::io::stdout());
            Ok(exit::OK)
        }
        Command::Version(args) => {
            if args.output.is_some() {
                println!("{}", crate::version::json());
            } else {
                println!("{}", crate::version::line());
            }
            Ok(exit::OK)
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{}", crate::error::render(&e));
            if let Some(hint) = space_hint() {
                eprintln!("{hint}");
            }
            exit::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(p.dry_run, Some(DryRun::Client));
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
