//! README.md and README.zh-CN.md both mention every subcommand and every
//! long flag. The list comes from the binary itself (its completion
//! protocol, which walks the clap definition), so a new subcommand or flag
//! fails this test until both READMEs mention it.

use std::collections::BTreeSet;

fn complete(words: &[&str]) -> Vec<String> {
    let out = crate::support::bin()
        .arg("__complete")
        .args(words)
        .output()
        .unwrap();
    assert!(out.status.success());
    crate::support::stdout(&out)
        .lines()
        .filter(|l| !l.starts_with(':'))
        .map(|l| l.split('\t').next().unwrap().to_string())
        .collect()
}

/// (subcommand path, long flags) for every subcommand, nested ones too.
fn commands(path: Vec<String>, out: &mut Vec<(Vec<String>, BTreeSet<String>)>) {
    let mut words: Vec<&str> = path.iter().map(String::as_str).collect();
    words.push("--");
    let flags: BTreeSet<String> = complete(&words)
        .into_iter()
        .filter(|f| f.starts_with("--"))
        .collect();
    words.pop();
    words.push("");
    let subs: Vec<String> = if path.is_empty() || !flags.is_empty() || path.len() == 1 {
        complete(&words)
            .into_iter()
            .filter(|s| s.chars().all(|c| c.is_ascii_lowercase() || c == '-'))
            .collect()
    } else {
        Vec::new()
    };
    if !path.is_empty() {
        out.push((path.clone(), flags));
    }
    // subcommands are offered only where no positional is expected yet;
    // file-extension candidates (yaml, yml, json) and shells are not commands
    let root_subs = path.is_empty();
    for s in subs {
        if !root_subs
            && [
                "yaml",
                "yml",
                "json",
                "bash",
                "zsh",
                "fish",
                "powershell",
                "elvish",
            ]
            .contains(&s.as_str())
        {
            continue;
        }
        let mut p = path.clone();
        p.push(s);
        if p.len() <= 3 {
            commands(p, out);
        }
    }
}

#[test]
fn both_readmes_mention_every_subcommand_and_flag() {
    let mut all = Vec::new();
    commands(Vec::new(), &mut all);
    let names: Vec<String> = all.iter().map(|(p, _)| p.join(" ")).collect();
    for want in ["patch", "secret", "apply", "completion", "version"] {
        assert!(
            names.contains(&want.to_string()),
            "{want} missing from {names:?}"
        );
    }
    for readme in ["README.md", "README.zh-CN.md"] {
        let text =
            std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(readme))
                .unwrap_or_else(|e| panic!("{readme}: {e}"));
        let mut missing = Vec::new();
        for (path, flags) in &all {
            let cmd = format!("kubectl tingyun {}", path.join(" "));
            if !text.contains(&cmd) {
                missing.push(cmd.clone());
            }
            for f in flags {
                // a flag name followed by a non-name character
                let found = text.match_indices(f.as_str()).any(|(i, _)| {
                    !text[i + f.len()..]
                        .chars()
                        .next()
                        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '-')
                });
                if !found {
                    missing.push(format!("{cmd} {f}"));
                }
            }
        }
        assert!(
            missing.is_empty(),
            "{readme} does not mention:\n  {}",
            missing.join("\n  ")
        );
    }
}
