//! Bad inputs to `kubectl tingyun patch`: exit 1, one `FILE:LINE:COL: message`
//! naming the problem, the input untouched (bytes and mtime), nothing new in
//! the directory, never a panic.

use std::fs;
use std::path::Path;

use crate::common::*;

struct Bad {
    name: &'static str,
    bytes: &'static [u8],
    /// The line the error must point at, when the spec pins it down.
    line: Option<usize>,
    /// The message must contain one of these (case-insensitive).
    words: &'static [&'static str],
}

const YAML_WORDS: &[&str] = &[
    "yaml",
    "syntax",
    "flow",
    "unclosed",
    "unterminated",
    "expected",
    "indent",
    "invalid",
];

const MUTATE_BAD_VALUE: &[u8] = b"apiVersion: v1
kind: ConfigMap
metadata:
  name: cfg
data:
  other: x
  mutate.yaml: |
    initContainers:
    - name: init
      image: busybox: 1.36
  more: y
";

const MUTATE_DUP_KEY: &[u8] = b"apiVersion: v1
kind: ConfigMap
metadata:
  name: cfg
data:
  mutate.yaml: |-
    initContainers:
    - name: init
      image: busybox:1.36
    initContainers: []
";

const MUTATE_TAB: &[u8] = b"apiVersion: v1
kind: ConfigMap
metadata:
  name: cfg
data:
  mutate.yaml: |
    initContainers:
    - name: init
      resources:
      \t  cpu: 1
";

fn bad_cases() -> Vec<Bad> {
    vec![
        Bad {
            name: "unclosed-flow-mapping",
            bytes: b"apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: agent, namespace: tingyun\n",
            line: None,
            words: YAML_WORDS,
        },
        Bad {
            name: "unclosed-flow-sequence",
            bytes: b"apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: agent\nimagePullSecrets: [{name: a}\nautomountServiceAccountToken: true\n",
            line: None,
            words: YAML_WORDS,
        },
        Bad {
            name: "bad-indentation",
            bytes: b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n    name: x\n  namespace: y\n",
            line: Some(5),
            words: YAML_WORDS,
        },
        Bad {
            name: "tab-indentation",
            bytes: b"apiVersion: v1\nkind: ServiceAccount\nmetadata:\n\tname: agent\n",
            line: Some(4),
            words: &["tab"],
        },
        Bad {
            name: "duplicate-top-level-key",
            bytes: b"apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: agent\nkind: ConfigMap\n",
            line: Some(5),
            words: &["duplicate"],
        },
        Bad {
            name: "duplicate-nested-key",
            bytes: b"apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: agent\n  namespace: a\n  name: other\n",
            line: Some(6),
            words: &["duplicate"],
        },
        Bad {
            name: "duplicate-key-second-document",
            bytes: b"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: agent\n  labels: {a: x, a: y}\n",
            line: Some(10),
            words: &["duplicate"],
        },
        Bad {
            name: "mutate-yaml-bad-value",
            bytes: MUTATE_BAD_VALUE,
            line: Some(10),
            words: &["mutate.yaml", "yaml", "syntax", "mapping", "invalid"],
        },
        Bad {
            name: "mutate-yaml-duplicate-key",
            bytes: MUTATE_DUP_KEY,
            line: Some(10),
            words: &["duplicate"],
        },
        Bad { name: "mutate-yaml-tab", bytes: MUTATE_TAB, line: Some(10), words: &["tab"] },
        Bad {
            name: "nul-bytes",
            bytes: b"apiVersion: v1\nkind: ServiceAccount\x00\x00\nmetadata:\n  name: a\n",
            line: None,
            words: &["nul", "binary", "null byte", "\\0", "0x00", "control"],
        },
        Bad {
            name: "latin1-byte",
            bytes: b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: caf\xe9\n",
            line: Some(4),
            words: &["utf-8", "utf8"],
        },
        Bad { name: "empty-file", bytes: b"", line: None, words: &["empty", "no kubernetes object", "no object"] },
        Bad {
            name: "whitespace-and-comments-only",
            bytes: b"\n   \n# just a comment\n---\n# another\n",
            line: None,
            words: &["no kubernetes object", "no object", "apiversion", "kind"],
        },
        Bad {
            name: "no-apiversion-or-kind",
            bytes: b"name: agent\nimages:\n  - registry.tingyun.com/tingyun/agent:1.0\n",
            line: None,
            words: &["no kubernetes object", "no object", "apiversion", "kind"],
        },
    ]
}

/// Check one failed run: exit 1, first stderr line `PATH:LINE:COL: msg`.
fn check_failure(
    label: &str,
    path_arg: &str,
    out: &std::process::Output,
    line: Option<usize>,
    words: &[&str],
) -> Vec<String> {
    let mut p = Vec::new();
    let stderr = text(&out.stderr);
    if stderr.contains("panicked") {
        p.push(format!("{label}: panic:\n{stderr}"));
    }
    if out.status.code() != Some(1) {
        p.push(format!(
            "{label}: exit {:?}, expected 1; stderr:\n{stderr}",
            out.status.code()
        ));
    }
    let first = stderr
        .lines()
        .find(|l| l.starts_with(path_arg))
        .unwrap_or("");
    let rest = first
        .strip_prefix(path_arg)
        .and_then(|r| r.strip_prefix(':'));
    let parsed = rest.and_then(|r| {
        let mut it = r.splitn(3, ':');
        let l: usize = it.next()?.parse().ok()?;
        let c: usize = it.next()?.parse().ok()?;
        let msg = it.next()?.strip_prefix(' ')?;
        Some((l, c, msg.to_string()))
    });
    match parsed {
        None => p.push(format!(
            "{label}: stderr has no `{path_arg}:LINE:COL: message` line:\n{stderr}"
        )),
        Some((l, _c, msg)) => {
            if let Some(want) = line
                && l != want
            {
                p.push(format!(
                    "{label}: error points at line {l}, expected line {want}: {first}"
                ));
            }
            let lower = msg.to_lowercase();
            if !words.iter().any(|w| lower.contains(&w.to_lowercase())) {
                p.push(format!(
                    "{label}: message does not name the problem (one of {words:?}): {first}"
                ));
            }
        }
    }
    if !out.stdout.is_empty() {
        p.push(format!(
            "{label}: printed on stdout: {:?}",
            text(&out.stdout)
        ));
    }
    p
}

fn check_untouched(
    label: &str,
    dir: &Path,
    before: &std::collections::BTreeMap<std::path::PathBuf, Option<Vec<u8>>>,
    file: Option<&Path>,
) -> Vec<String> {
    let mut p = Vec::new();
    let after = snapshot_dir(dir);
    if &after != before {
        let b: Vec<_> = before.keys().collect();
        let a: Vec<_> = after.keys().collect();
        p.push(format!(
            "{label}: directory changed (before {b:?}, after {a:?}, or bytes differ)"
        ));
    }
    if let Some(f) = file
        && mtime(f) != old_mtime()
    {
        p.push(format!("{label}: input mtime changed"));
    }
    p
}

#[test]
fn bad_inputs_fail_cleanly_and_touch_nothing() {
    let mut failures = Vec::new();
    for case in bad_cases() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("bad.yaml");
        fs::write(&path, case.bytes).unwrap();
        set_mtime(&path, old_mtime());
        let before = snapshot_dir(tmp.path());
        let mut p = Vec::new();
        for extra in [
            &[][..],
            &["--registry", "harbor.example.com/apm"][..],
            &["-o", "out.yaml"][..],
        ] {
            let mut args: Vec<String> = vec!["patch".into(), "bad.yaml".into()];
            args.extend(extra.iter().map(|s| s.to_string()));
            let label = format!("patch bad.yaml {}", extra.join(" "));
            let out = run(tmp.path(), &args, None);
            p.extend(check_failure(
                &label, "bad.yaml", &out, case.line, case.words,
            ));
            p.extend(check_untouched(&label, tmp.path(), &before, Some(&path)));
        }
        // --dry-run must fail the same way, printing no diff.
        let out = run(
            tmp.path(),
            &["patch".into(), "bad.yaml".into(), "--dry-run".into()],
            None,
        );
        p.extend(check_failure(
            "--dry-run",
            "bad.yaml",
            &out,
            case.line,
            case.words,
        ));
        p.extend(check_untouched(
            "--dry-run",
            tmp.path(),
            &before,
            Some(&path),
        ));
        if !p.is_empty() {
            failures.push(format!("=== {} ===\n{}", case.name, p.join("\n")));
        }
    }
    assert!(
        failures.is_empty(),
        "{} bad inputs mishandled:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn bad_stdin_fails_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    let before = snapshot_dir(tmp.path());
    let out = run(
        tmp.path(),
        &["patch".into(), "-".into()],
        Some(b"apiVersion: v1\nkind: X\nmetadata: {name: a\n"),
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        out.stdout.is_empty(),
        "printed output for bad input: {:?}",
        text(&out.stdout)
    );
    assert!(
        stderr.lines().any(|l| l
            .split(':')
            .nth(1)
            .is_some_and(|n| n.parse::<usize>().is_ok())),
        "no FILE:LINE:COL: line: {stderr}"
    );
    assert_eq!(snapshot_dir(tmp.path()), before);
}

#[test]
fn missing_file_fails_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    let before = snapshot_dir(tmp.path());
    let out = run(tmp.path(), &["patch".into(), "missing.yaml".into()], None);
    let p = check_failure(
        "missing file",
        "missing.yaml",
        &out,
        None,
        &["no such file", "not found", "does not exist", "missing"],
    );
    let mut p = p;
    p.extend(check_untouched("missing file", tmp.path(), &before, None));
    assert!(p.is_empty(), "{}", p.join("\n"));
}

#[test]
fn directory_fails_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    fs::create_dir(tmp.path().join("manifests")).unwrap();
    fs::write(
        tmp.path().join("manifests/a.yaml"),
        "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: a\n",
    )
    .unwrap();
    let before = snapshot_dir(tmp.path());
    let out = run(tmp.path(), &["patch".into(), "manifests".into()], None);
    let mut p = check_failure("directory", "manifests", &out, None, &["directory"]);
    p.extend(check_untouched("directory", tmp.path(), &before, None));
    assert!(p.is_empty(), "{}", p.join("\n"));
}

/// Invalid edit arguments are errors that write nothing (exit non-zero, no panic).
#[test]
fn invalid_annotation_json_writes_nothing() {
    let input = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: c\n    image: nginx:1.25\n";
    let bad: &[&[&str]] = &[
        &["--dns-config", "{\"nameservers\": [\"10.0.0.10\"]"],
        &["--dns-config", "{\"nameserver\": [\"10.0.0.10\"]}"],
        &["--dns-config", "{\"nameservers\": [\"10.0.0.300\"]}"],
        &[
            "--host-aliases",
            "[{\"ip\": \"not-an-ip\", \"hostnames\": [\"a\"]}]",
        ],
        &[
            "--host-aliases",
            "[{\"ip\": \"10.0.0.1\", \"hostnames\": [\"a\"], \"extra\": 1}]",
        ],
        &[
            "--host-aliases",
            "{\"ip\": \"10.0.0.1\", \"hostnames\": [\"a\"]}",
        ],
        &["--http-registry"],
        // Kubernetes would refuse these Secret names: say so before editing.
        &["--pull-secret=Harbor_Pull"],
        &["--inject-pull-secret=bad name"],
        &["--registry", "https://harbor.example.com/apm"],
    ];
    let mut failures = Vec::new();
    for args in bad {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("pod.yaml");
        fs::write(&path, input).unwrap();
        set_mtime(&path, old_mtime());
        let before = snapshot_dir(tmp.path());
        let mut argv: Vec<String> = vec!["patch".into(), "pod.yaml".into()];
        argv.extend(args.iter().map(|s| s.to_string()));
        let out = run(tmp.path(), &argv, None);
        let stderr = text(&out.stderr);
        let label = args.join(" ");
        if out.status.success() {
            failures.push(format!("{label}: succeeded; stderr: {stderr}"));
        }
        if stderr.contains("panicked") {
            failures.push(format!("{label}: panic: {stderr}"));
        }
        if stderr.trim().is_empty() {
            failures.push(format!("{label}: no error message"));
        }
        failures.extend(check_untouched(&label, tmp.path(), &before, Some(&path)));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Usage errors and argument errors found after parsing exit 1 (kubectl's
/// convention, the README's exit-code table); in a server dry run, where 1
/// means "differences", they exit 2; none touches the file.
#[test]
fn usage_and_argument_errors_have_their_exit_codes() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("sa.yaml");
    let input = "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: a\n";
    fs::write(&path, input).unwrap();
    let p = path.to_str().unwrap();
    for (args, code, needle) in [
        (vec!["patch", p, "--no-such-flag"], 1, "--no-such-flag"),
        (vec!["patch"], 1, "FILE"),
        (vec!["patch", p, "--dry-run=bogus"], 1, "bogus"),
        (vec!["patch", p, "--dry-run=server"], 1, "--apply"),
        (
            vec!["patch", p, "--apply", "--dry-run=server", "--no-such-flag"],
            2,
            "--no-such-flag",
        ),
        (
            vec!["apply", p, "--dry-run=server", "--timeout=5x"],
            2,
            "5x",
        ),
    ] {
        let out = crate::support::bin().args(&args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
        assert_eq!(fs::read_to_string(&path).unwrap(), input);
    }
}
