//! Completion as a user gets it: the real bash with bash-completion, the
//! real kubectl's completion script (kubectl >= 1.26 asks plugins through
//! `kubectl_complete-tingyun`), our binary and contrib/kubectl_complete-tingyun
//! on PATH. Namespaces and contexts come from the kube-emulator. Missing
//! bash, bash-completion or kubectl fail the test (.ci/run installs them).
use crate::support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::support::emulator::Emulator;

const BASH_COMPLETION: &str = "/usr/share/bash-completion/bash_completion";

/// A directory with kubectl-tingyun and kubectl_complete-tingyun, as the
/// release archive ships them.
fn plugin_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        crate::support::bin_path(),
        dir.path().join("kubectl-tingyun"),
    )
    .unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/kubectl_complete-tingyun");
    std::fs::copy(&script, dir.path().join("kubectl_complete-tingyun")).unwrap();
    dir
}

fn require_tools() {
    assert!(
        Path::new(BASH_COMPLETION).exists(),
        "{BASH_COMPLETION} is missing: apt-get install bash-completion (.ci/run does)"
    );
    assert!(
        Path::new(support::KUBECTL).exists(),
        "{} is missing: the completion tests drive the real kubectl",
        support::KUBECTL
    );
}

/// What bash offers for `line` (the cursor at its end), run in `cwd` with
/// `kubeconfig`: kubectl's own completion function, as a TAB would call it.
fn complete(line: &str, cwd: &Path, kubeconfig: Option<&Path>) -> Vec<String> {
    require_tools();
    let plugins = plugin_dir();
    let script = format!(
        r#"source {BASH_COMPLETION}
source <(kubectl completion bash)
COMP_LINE={line:?}; COMP_POINT=${{#COMP_LINE}}
read -ra COMP_WORDS <<< "$COMP_LINE"
[[ "$COMP_LINE" == *" " ]] && COMP_WORDS+=("")
COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 ))
__start_kubectl kubectl "${{COMP_WORDS[-1]}}" "${{COMP_WORDS[-2]}}" 2>/dev/null
printf '%s\n' "${{COMPREPLY[@]}}"
"#
    );
    let path = format!(
        "{}:{}",
        plugins.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = Command::new("bash");
    cmd.arg("-c")
        .arg(&script)
        .current_dir(cwd)
        .env("PATH", path)
        .env("HOME", cwd)
        .env_remove("KUBECONFIG")
        .stdin(Stdio::null());
    if let Some(kc) = kubeconfig {
        cmd.env("KUBECONFIG", kc);
    }
    let out = cmd
        .output()
        .expect("bash is needed for the completion tests");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[test]
fn kubectl_tab_completes_subcommands_and_flags_through_the_plugin() {
    let dir = tempfile::tempdir().unwrap();
    let subs = complete("kubectl tingyun ", dir.path(), None);
    for s in ["patch", "secret", "apply", "completion", "version"] {
        assert!(subs.contains(&s.to_string()), "{s} not offered: {subs:?}");
    }
    assert!(!subs.iter().any(|s| s.starts_with("__")), "{subs:?}");
    assert_eq!(
        complete("kubectl tingyun pa", dir.path(), None),
        vec!["patch".to_string()]
    );
    let flags = complete("kubectl tingyun patch --re", dir.path(), None);
    assert_eq!(
        sorted(flags),
        vec!["--registry".to_string(), "--request-timeout".to_string()]
    );
    let shells = complete("kubectl tingyun completion ", dir.path(), None);
    assert_eq!(
        sorted(shells),
        ["bash", "elvish", "fish", "powershell", "zsh"].map(String::from)
    );
}

#[test]
fn kubectl_tab_completes_manifest_paths() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tingyunagent.yaml"), "").unwrap();
    std::fs::write(dir.path().join("notes.txt"), "").unwrap();
    std::fs::create_dir(dir.path().join("downloads")).unwrap();
    let got = sorted(complete("kubectl tingyun patch ", dir.path(), None));
    assert_eq!(got, vec!["downloads", "tingyunagent.yaml"]);
    let got = complete("kubectl tingyun apply ting", dir.path(), None);
    assert_eq!(got, vec!["tingyunagent.yaml"]);
}

#[test]
fn kubectl_tab_completes_namespaces_and_contexts_from_the_cluster() {
    let emu = Emulator::start("");
    emu.kubectl_ok(&["create", "namespace", "shop-billing"]);
    let kc: PathBuf = emu.kubeconfig().to_path_buf();
    let got = complete("kubectl tingyun secret -n shop-", emu.dir(), Some(&kc));
    assert_eq!(got, vec!["shop-billing"]);
    let got = complete("kubectl tingyun apply --namespace ", emu.dir(), Some(&kc));
    assert!(got.contains(&"shop-billing".to_string()), "{got:?}");
    let contexts = emu.kubectl_ok(&["config", "get-contexts", "-o", "name"]);
    let want: Vec<String> = contexts.lines().map(str::to_string).collect();
    assert!(!want.is_empty());
    let got = complete("kubectl tingyun patch --context ", emu.dir(), Some(&kc));
    assert_eq!(sorted(got), sorted(want));
}

#[test]
fn completion_scripts_for_four_shells() {
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let out = support::run(&["completion", shell]);
        assert!(out.status.success(), "{shell}: {}", support::stderr(&out));
        let text = support::stdout(&out);
        for word in ["kubectl-tingyun", "patch", "registry", "pull-secret"] {
            assert!(text.contains(word), "{shell} script lacks {word}");
        }
    }
    // The bash script loads in a real bash and completes `kubectl-tingyun pa`.
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("c.bash");
    std::fs::write(
        &script,
        support::stdout(&support::run(&["completion", "bash"])),
    )
    .unwrap();
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!(
            r#"source {BASH_COMPLETION}; source {}
COMP_WORDS=(kubectl-tingyun pa); COMP_CWORD=1; COMP_LINE="kubectl-tingyun pa"; COMP_POINT=18
$(complete -p kubectl-tingyun | sed -n 's/.*-F \([^ ]*\).*/\1/p') kubectl-tingyun pa kubectl-tingyun
printf '%s\n' "${{COMPREPLY[@]}}""#,
            script.display()
        ))
        .output()
        .expect("bash");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "patch");
}

#[test]
fn version_names_the_commit_and_build_date() {
    let out = support::run(&["version"]);
    assert!(out.status.success());
    let line = support::stdout(&out);
    assert!(
        line.starts_with(&format!("kubectl-tingyun v{} ", env!("CARGO_PKG_VERSION"))),
        "{line}"
    );
    // The commit git reports for this checkout (the binary may be built
    // from a dirty tree: then it says so).
    let head = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    let json: serde_json::Value =
        serde_json::from_str(&support::stdout(&support::run(&["version", "-o", "json"])))
            .expect("version -o json is JSON");
    let commit = json["commit"].as_str().unwrap();
    match head {
        // HEAD may have moved since the build; the commit is a hash anyway
        Some(_) => assert!(
            commit.len() >= 12 && commit[..12].chars().all(|c| c.is_ascii_hexdigit()),
            "{commit}"
        ),
        None => assert!(!commit.is_empty()),
    }
    let date = json["buildDate"].as_str().unwrap();
    let b = date.as_bytes();
    assert!(
        date.len() == 20 && b[4] == b'-' && b[10] == b'T' && date.ends_with('Z'),
        "{date}"
    );
    assert!(line.contains(commit) && line.contains(date), "{line}");
}
