//! Shell completion.
//!
//! * `kubectl tingyun completion SHELL` prints a script generated from the
//!   clap definition (clap_complete) for the `kubectl-tingyun` executable.
//! * `kubectl-tingyun __complete WORD...` answers kubectl's plugin completion
//!   protocol (kubectl >= 1.26 runs `kubectl_complete-tingyun ARGS... CUR`,
//!   see contrib/kubectl_complete-tingyun): one candidate per line
//!   (`VALUE<TAB>description`), then `:DIRECTIVE` as cobra defines it.
//!   Flags and values come from the clap definition; namespaces and contexts
//!   are asked of kubectl (bounded by a short request timeout); files are
//!   left to the shell.
use std::io::Write;
use std::process::Command as Process;

use clap::{Arg, ArgAction, Command};

/// cobra's ShellCompDirective bits.
const DEFAULT: u32 = 0; // the shell may complete file names
const NO_SPACE: u32 = 2;
const NO_FILE: u32 = 4;
const FILTER_FILE_EXT: u32 = 8; // the candidates are file extensions

pub fn print_script(shell: clap_complete::Shell, cmd: &mut Command, out: &mut dyn Write) {
    clap_complete::generate(shell, cmd, "kubectl-tingyun", out);
}

/// Answer one `__complete` request; `words` are the arguments after the
/// plugin name, the last one being the word under the cursor (maybe empty).
pub fn answer(root: &Command, words: &[String]) -> (Vec<String>, u32) {
    let (cur, before) = match words.split_last() {
        Some((cur, before)) => (cur.as_str(), before),
        None => ("", &[][..]),
    };
    let mut cmd = root;
    let mut positionals = 0usize;
    let mut pending: Option<&Arg> = None;
    let mut after_dashdash = false;
    for w in before {
        if let Some(arg) = pending.take() {
            let _ = arg;
            continue;
        }
        if after_dashdash {
            positionals += 1;
            continue;
        }
        if w == "--" {
            after_dashdash = true;
        } else if let Some(long) = w.strip_prefix("--") {
            if !long.contains('=')
                && let Some(arg) = find_long(cmd, long)
                && needs_separate_value(arg)
            {
                pending = Some(arg);
            }
        } else if w.len() > 1 && w.starts_with('-') {
            let last = w.chars().last().unwrap_or('-');
            if w.len() == 2
                && let Some(arg) = find_short(cmd, last)
                && needs_separate_value(arg)
            {
                pending = Some(arg);
            }
        } else if positionals == 0
            && let Some(sub) = cmd
                .get_subcommands()
                .find(|s| s.get_name() == w || s.get_all_aliases().any(|a| a == w))
        {
            cmd = sub;
        } else {
            positionals += 1;
        }
    }
    if let Some(arg) = pending {
        return values(arg, "", cur, before);
    }
    if !after_dashdash && cur.starts_with('-') {
        if let Some((flag, value)) = cur.strip_prefix("--").and_then(|c| c.split_once('=')) {
            return match find_long(cmd, flag) {
                Some(arg) => values(arg, &format!("--{flag}="), value, before),
                None => (Vec::new(), NO_FILE),
            };
        }
        let mut out = Vec::new();
        for arg in cmd.get_arguments().filter(|a| !a.is_hide_set()) {
            let help = arg
                .get_help()
                .map(|h| first_line(&h.to_string()))
                .unwrap_or_default();
            if let Some(long) = arg.get_long() {
                let flag = format!("--{long}");
                if flag.starts_with(cur) {
                    out.push(described(&flag, &help));
                }
            }
        }
        return (out, NO_FILE);
    }
    // a positional word
    let subs: Vec<&Command> = cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
        .collect();
    if positionals == 0 && !subs.is_empty() {
        let out = subs
            .iter()
            .filter(|s| s.get_name().starts_with(cur))
            .map(|s| {
                described(
                    s.get_name(),
                    &s.get_about().map(|a| a.to_string()).unwrap_or_default(),
                )
            })
            .collect();
        return (out, NO_FILE);
    }
    let positional: Vec<&Arg> = cmd.get_positionals().collect();
    match positional.get(positionals) {
        Some(arg) => values(arg, "", cur, before),
        None => (Vec::new(), NO_FILE),
    }
}

/// Write the cobra-style answer.
pub fn write_answer(out: &mut dyn Write, items: &[String], directive: u32) -> std::io::Result<()> {
    for i in items {
        writeln!(out, "{i}")?;
    }
    writeln!(out, ":{directive}")
}

fn described(value: &str, help: &str) -> String {
    if help.is_empty() {
        value.to_string()
    } else {
        format!("{value}\t{}", first_line(help))
    }
}

fn first_line(s: &str) -> String {
    s.lines()
        .next()
        .unwrap_or("")
        .trim_end_matches('.')
        .to_string()
}

fn find_long<'a>(cmd: &'a Command, long: &str) -> Option<&'a Arg> {
    cmd.get_arguments().find(|a| a.get_long() == Some(long))
}

fn find_short(cmd: &Command, short: char) -> Option<&Arg> {
    cmd.get_arguments().find(|a| a.get_short() == Some(short))
}

/// Does `--flag VALUE` (value in the next word) apply to this flag?
fn needs_separate_value(arg: &Arg) -> bool {
    let takes = matches!(arg.get_action(), ArgAction::Set | ArgAction::Append);
    let optional = arg.get_num_args().is_some_and(|n| n.min_values() == 0);
    takes && !optional && !arg.is_require_equals_set()
}

/// Candidates for the value of `arg`, each prefixed with `prefix`.
fn values(arg: &Arg, prefix: &str, cur: &str, before: &[String]) -> (Vec<String>, u32) {
    let possible = arg.get_possible_values();
    if !possible.is_empty() {
        let out = possible
            .iter()
            .filter(|p| !p.is_hide_set() && p.get_name().starts_with(cur))
            .map(|p| {
                described(
                    &format!("{prefix}{}", p.get_name()),
                    &p.get_help().map(|h| h.to_string()).unwrap_or_default(),
                )
            })
            .collect();
        return (out, NO_FILE);
    }
    let id = arg.get_id().as_str();
    let from_kubectl = match id {
        "namespace" | "namespaces" => kubectl(
            before,
            &[
                "get",
                "namespaces",
                "-o",
                "jsonpath={range .items[*]}{.metadata.name}{\"\\n\"}{end}",
            ],
        ),
        "context" => kubectl(before, &["config", "get-contexts", "-o", "name"]),
        _ => None,
    };
    if let Some(names) = from_kubectl {
        let out = names
            .lines()
            .map(str::trim)
            .filter(|n| !n.is_empty() && n.starts_with(cur))
            .map(|n| format!("{prefix}{n}"))
            .collect();
        return (out, NO_FILE);
    }
    let value_name = arg
        .get_value_names()
        .and_then(|v| v.first())
        .map(|v| v.to_string())
        .unwrap_or_default();
    if matches!(id, "file" | "config") && prefix.is_empty() {
        // manifests and profiles: YAML (and JSON) files and directories
        let exts = ["yaml", "yml", "json"].map(String::from).to_vec();
        return (exts, FILTER_FILE_EXT);
    }
    if matches!(id, "kubeconfig" | "output") || value_name == "PATH" || value_name == "FILE" {
        if prefix.is_empty() {
            return (Vec::new(), DEFAULT);
        }
        return (Vec::new(), NO_SPACE | NO_FILE);
    }
    (Vec::new(), NO_FILE)
}

/// Run kubectl with the --kubeconfig/--context the command line already
/// has; `None` when it fails (no cluster: no candidates, no error).
fn kubectl(before: &[String], args: &[&str]) -> Option<String> {
    let mut cmd = Process::new("kubectl");
    let mut it = before.iter();
    while let Some(w) = it.next() {
        for flag in ["--kubeconfig", "--context"] {
            if w == flag {
                if let Some(v) = it.clone().next() {
                    cmd.arg(format!("{flag}={v}"));
                }
            } else if w.starts_with(&format!("{flag}=")) {
                cmd.arg(w);
            }
        }
    }
    cmd.arg("--request-timeout=5s").args(args);
    let out = cmd.stderr(std::process::Stdio::null()).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}
