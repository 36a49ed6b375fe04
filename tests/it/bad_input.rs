//! Bad inputs to `kubectl tingyun patch`: exit 1, one `FILE:LINE:COL: message`
//! naming the problem, the input untouched (bytes and mtime), nothing new in
//! the directory, never a panic.

use std::fs;
use std::path::Path;

use crate::common::*;

struct Bad {
    name: &'static str,
    bytes: &'static [u8],
    /// Line and column the error must point at (1-based; columns count
    /// characters), worked out by hand from the bytes.
    at: (usize, usize),
    /// The message must start with this, word for word.
    msg: &'static str,
}

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

/// Two keys kubectl reads alike (`on`, `yes`) inside mutate.yaml, in the
/// file's second document, after another block scalar: lines of the file.
const MUTATE_DUP_RESOLVED: &[u8] = b"apiVersion: v1
kind: ServiceAccount
metadata:
  name: a
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: c
data:
  other: |
    x
  mutate.yaml: |
    initContainers: []
    on: 1
    # comment
    yes: 2
";

/// An unclosed `[` inside mutate.yaml, the next inner line where the
/// parser gives up: both positions in the file's lines and columns.
const MUTATE_UNCLOSED: &[u8] = b"apiVersion: v1
kind: ConfigMap
metadata:
  name: cfg
data:
  mutate.yaml: |
    imagePullSecrets: [{name: a}
    initContainers: []
  more: y
";

/// The same at the block's last line: the parser reaches the block's end.
const MUTATE_UNCLOSED_LAST: &[u8] = b"apiVersion: v1
kind: ConfigMap
metadata:
  name: cfg
data:
  mutate.yaml: |
    initContainers: []
    imagePullSecrets: [{name: a}
  more: y
";

const NO_OBJECT: &str = "no Kubernetes object (a document with apiVersion and kind) in this file";

fn bad_cases() -> Vec<Bad> {
    vec![
        Bad {
            name: "unclosed-flow-mapping",
            bytes: b"apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: agent, namespace: tingyun\n",
            at: (3, 11),
            msg: "invalid YAML: while parsing a flow mapping in line 3, column 11: expected ',' or '}', but found end of file in line 4, column 1",
        },
        Bad {
            name: "unclosed-flow-sequence",
            bytes: b"apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: agent\nimagePullSecrets: [{name: a}\nautomountServiceAccountToken: true\n",
            at: (5, 19),
            msg: "invalid YAML: while parsing a flow sequence in line 5, column 19: expected ',' or ']', but found 'a' in line 6, column 1",
        },
        Bad {
            name: "unclosed-flow-sequence-before-next-document",
            bytes: b"apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: agent\nsecrets: [a, b\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n",
            at: (5, 10),
            msg: "invalid YAML: while parsing a flow sequence in line 5, column 10: expected ',' or ']', but found the end of this document (the next ---) in line 6, column 1",
        },
        Bad {
            name: "unclosed-double-quote",
            bytes: b"apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: \"agent\n  namespace: tingyun\n",
            at: (4, 9),
            msg: "invalid YAML: while scanning a quoted scalar in line 4, column 9: the closing \" is missing, but found end of file in line 6, column 1",
        },
        Bad {
            name: "unclosed-single-quote",
            bytes: b"apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: agent\n  labels:\n    app: 'x\n",
            at: (6, 10),
            msg: "invalid YAML: while scanning a quoted scalar in line 6, column 10: the closing ' is missing, but found end of file in line 7, column 1",
        },
        Bad {
            name: "bad-indentation",
            bytes: b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n    name: x\n  namespace: y\n",
            at: (5, 3),
            // PyYAML: "while parsing a block mapping ... expected <block end>" at 5:3
            msg: "invalid YAML: while parsing a block mapping",
        },
        Bad {
            name: "tab-indentation",
            bytes: b"apiVersion: v1\nkind: ServiceAccount\nmetadata:\n\tname: agent\n",
            at: (4, 1),
            msg: "tab character in indentation: YAML allows only spaces for indentation",
        },
        Bad {
            name: "duplicate-top-level-key",
            bytes: b"apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: agent\nkind: ConfigMap\n",
            at: (5, 1),
            msg: "duplicate key \"kind\" (first defined on line 2): remove one of them",
        },
        Bad {
            name: "duplicate-nested-key",
            bytes: b"apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: agent\n  namespace: a\n  name: other\n",
            at: (6, 3),
            msg: "duplicate key \"name\" (first defined on line 4): remove one of them",
        },
        Bad {
            // the first error in document order: a key written twice in an
            // edited document before a syntax error in a later one
            name: "duplicate-key-before-a-later-syntax-error",
            bytes: b"apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: a\n  name: b\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: c\n  labels: [x\n",
            at: (5, 3),
            msg: "duplicate key \"name\" (first defined on line 4): remove one of them",
        },
        Bad {
            // a key written twice in a workload whose image is edited
            name: "duplicate-key-in-an-edited-workload",
            bytes: b"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n      - name: web\n        image: nginx:1.25\n        image: nginx:1.26\n",
            at: (11, 9),
            msg: "duplicate key \"image\" (first defined on line 10): remove one of them",
        },
        Bad {
            name: "duplicate-key-second-document",
            bytes: b"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: agent\n  labels: {a: x, a: y}\n",
            at: (10, 18),
            msg: "duplicate key \"a\" (first defined on line 10): remove one of them",
        },
        Bad {
            // `on` and `true` are both the key "true" to kubectl (YAML 1.1)
            name: "duplicate-after-resolution-second-document",
            bytes: b"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  on: a\n  x: b\n  true: c\n",
            at: (13, 3),
            msg: "duplicate key \"true\" (first defined on line 11): kubectl reads both keys as \"true\"",
        },
        Bad {
            // `yes` is true, and "true" the string kubectl makes of it
            name: "duplicate-after-resolution-flow",
            bytes: b"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  labels: {yes: a,\n    \"true\": b}\n",
            at: (11, 5),
            msg: "duplicate key \"true\" (first defined on line 10): kubectl reads both keys as \"true\"",
        },
        Bad {
            name: "mutate-yaml-duplicate-after-resolution",
            bytes: MUTATE_DUP_RESOLVED,
            at: (17, 5),
            msg: "mutate.yaml: duplicate key \"true\" (first defined on line 15): kubectl reads both keys as \"true\"",
        },
        Bad {
            name: "mutate-yaml-bad-value",
            bytes: MUTATE_BAD_VALUE,
            at: (10, 21),
            // PyYAML: "mapping values are not allowed here", inner 3:15 = outer 10:21
            msg: "mutate.yaml: invalid YAML: mapping values are not allowed",
        },
        Bad {
            name: "mutate-yaml-duplicate-key",
            bytes: MUTATE_DUP_KEY,
            at: (10, 5),
            msg: "mutate.yaml: duplicate key \"initContainers\" (first defined on line 7): remove one of them",
        },
        Bad {
            name: "mutate-yaml-tab",
            bytes: MUTATE_TAB,
            at: (10, 7),
            msg: "mutate.yaml: tab character in indentation",
        },
        Bad {
            name: "mutate-yaml-unclosed",
            bytes: MUTATE_UNCLOSED,
            at: (7, 23),
            msg: "mutate.yaml: invalid YAML: while parsing a flow sequence in line 7, column 23: expected ',' or ']', but found 'i' in line 8, column 5",
        },
        Bad {
            name: "mutate-yaml-unclosed-at-its-end",
            bytes: MUTATE_UNCLOSED_LAST,
            at: (8, 23),
            msg: "mutate.yaml: invalid YAML: while parsing a flow sequence in line 8, column 23: expected ',' or ']', but found the end of the mutate.yaml block in line 9, column 1",
        },
        Bad {
            name: "nul-bytes",
            bytes: b"apiVersion: v1\nkind: ServiceAccount\x00\x00\nmetadata:\n  name: a\n",
            at: (2, 21),
            msg: "binary data (NUL byte): this is not a YAML manifest",
        },
        Bad {
            name: "latin1-byte",
            bytes: b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: caf\xe9\n",
            at: (4, 12),
            msg: "invalid UTF-8: save the file as UTF-8",
        },
        Bad { name: "empty-file", bytes: b"", at: (1, 1), msg: NO_OBJECT },
        Bad {
            name: "whitespace-and-comments-only",
            bytes: b"\n   \n# just a comment\n---\n# another\n",
            at: (1, 1),
            msg: NO_OBJECT,
        },
        Bad {
            name: "no-apiversion-or-kind",
            bytes: b"name: agent\nimages:\n  - registry.tingyun.com/tingyun/agent:1.0\n",
            at: (1, 1),
            msg: NO_OBJECT,
        },
    ]
}

/// Check one failed run: exit 1, first stderr line exactly
/// `PATH:LINE:COL: MSG...`, nothing on stdout.
fn check_failure(
    label: &str,
    path_arg: &str,
    out: &std::process::Output,
    at: (usize, usize),
    msg: &str,
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
    let want = format!("{path_arg}:{}:{}: {msg}", at.0, at.1);
    let first = stderr.lines().next().unwrap_or("");
    if !first.starts_with(&want) {
        p.push(format!(
            "{label}: the error must start with\n  {want}\nbut stderr is\n  {stderr}"
        ));
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
            p.extend(check_failure(&label, "bad.yaml", &out, case.at, case.msg));
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
            case.at,
            case.msg,
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
    let want = "<stdin>:3:11: invalid YAML: while parsing a flow mapping in line 3, column 11: \
                expected ',' or '}', but found end of file in line 4, column 1";
    assert_eq!(stderr.lines().next(), Some(want), "{stderr}");
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
        (1, 1),
        "no such file: check the path of the downloaded tingyunagent.yaml",
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
    let mut p = check_failure(
        "directory",
        "manifests",
        &out,
        (1, 1),
        "is a directory: give the path of a YAML manifest file",
    );
    p.extend(check_untouched("directory", tmp.path(), &before, None));
    assert!(p.is_empty(), "{}", p.join("\n"));
}

/// Invalid edit arguments are errors that write nothing: exit 1, one
/// `error: FLAG: ...` line saying what is wrong with that flag, no panic.
#[test]
fn invalid_annotation_json_writes_nothing() {
    let input = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: c\n    image: nginx:1.25\n";
    // (arguments, the error line's start, what it must name)
    let bad: &[(&[&str], &str, &str)] = &[
        (
            &["--dns-config", "{\"nameservers\": [\"10.0.0.10\"]"],
            "error: --dns-config: ",
            "invalid JSON",
        ),
        (
            &["--dns-config", "{\"nameserver\": [\"10.0.0.10\"]}"],
            "error: --dns-config: ",
            "unknown field \"nameserver\"",
        ),
        (
            &["--dns-config", "{\"nameservers\": [\"10.0.0.300\"]}"],
            "error: --dns-config: ",
            "\"10.0.0.300\" is not an IP address",
        ),
        (
            &[
                "--host-aliases",
                "[{\"ip\": \"not-an-ip\", \"hostnames\": [\"a\"]}]",
            ],
            "error: --host-aliases: ",
            "\"not-an-ip\" is not an IP address",
        ),
        (
            &[
                "--host-aliases",
                "[{\"ip\": \"10.0.0.1\", \"hostnames\": [\"a\"], \"extra\": 1}]",
            ],
            "error: --host-aliases: ",
            "unknown field \"extra\"",
        ),
        (
            &[
                "--host-aliases",
                "{\"ip\": \"10.0.0.1\", \"hostnames\": [\"a\"]}",
            ],
            "error: --host-aliases: ",
            "list",
        ),
        (&["--http-registry"], "error: --http-registry", "--registry"),
        // Kubernetes would refuse these Secret names: say so before editing.
        (
            &["--pull-secret=Harbor_Pull"],
            "error: --pull-secret=Harbor_Pull: ",
            "not a valid Secret name",
        ),
        (
            &["--inject-pull-secret=bad name"],
            "error: --inject-pull-secret=bad name: ",
            "not a valid Secret name",
        ),
        (
            &["--registry", "https://harbor.example.com/apm"],
            "error: --registry: ",
            "URL",
        ),
    ];
    let mut failures = Vec::new();
    for &(args, start, names) in bad {
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
        if out.status.code() != Some(1) {
            failures.push(format!(
                "{label}: exit {:?}, expected 1; stderr: {stderr}",
                out.status.code()
            ));
        }
        if stderr.contains("panicked") {
            failures.push(format!("{label}: panic: {stderr}"));
        }
        let first = stderr.lines().next().unwrap_or("");
        if !first.starts_with(start) || !first.contains(names) {
            failures.push(format!(
                "{label}: the error must start with {start:?} and name {names:?}; stderr: {stderr}"
            ));
        }
        failures.extend(check_untouched(&label, tmp.path(), &before, Some(&path)));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Usage errors (flags that do not parse) exit 2; argument errors found
/// after parsing exit 1, except in a server dry run, where 1 means
/// "differences" and every error exits 2 (the README's exit-code table);
/// none touches the file.
#[test]
fn usage_and_argument_errors_have_their_exit_codes() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("sa.yaml");
    let input = "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: a\n";
    fs::write(&path, input).unwrap();
    let p = path.to_str().unwrap();
    for (args, code, needle) in [
        (vec!["patch", p, "--no-such-flag"], 2, "--no-such-flag"),
        (vec!["patch"], 2, "FILE"),
        (vec!["patch", p, "--dry-run=bogus"], 2, "bogus"),
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

/// The positions of an unclosed `[`, `{` or quote are PyYAML's (an
/// independent parser): the error's LINE:COL is where PyYAML's "while
/// parsing ..." context mark is, its "in line L, column C" where PyYAML's
/// problem mark is.
#[test]
fn unclosed_positions_agree_with_pyyaml() {
    require_pyyaml();
    let script = r#"
import sys, yaml
try:
    list(yaml.safe_load_all(open(sys.argv[1], 'rb')))
    print('parsed')
except yaml.MarkedYAMLError as e:
    c, p = e.context_mark, e.problem_mark
    print(c.line + 1, c.column + 1, p.line + 1, p.column + 1)
"#;
    let mut failures = Vec::new();
    for case in bad_cases()
        .into_iter()
        .filter(|c| c.name.starts_with("unclosed-"))
    {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("bad.yaml");
        fs::write(&path, case.bytes).unwrap();
        let py = std::process::Command::new("python3")
            .args(["-c", script])
            .arg(&path)
            .output()
            .expect("run python3");
        let marks: Vec<usize> = text(&py.stdout)
            .split_whitespace()
            .filter_map(|n| n.parse().ok())
            .collect();
        assert_eq!(
            marks.len(),
            4,
            "{}: PyYAML: {}",
            case.name,
            text(&py.stdout)
        );
        let out = run(tmp.path(), &["patch".into(), "bad.yaml".into()], None);
        let first = text(&out.stderr).lines().next().unwrap_or("").to_string();
        let at = format!("bad.yaml:{}:{}: ", marks[0], marks[1]);
        let gave_up = format!("in line {}, column {}", marks[2], marks[3]);
        if !first.starts_with(&at) || !first.ends_with(&gave_up) {
            failures.push(format!(
                "{}: PyYAML: opened {}:{}, gave up {}:{}; ours: {first}",
                case.name, marks[0], marks[1], marks[2], marks[3]
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// `apply` reads manifests with the second parser only: its duplicate-key
/// errors name the first definition too (before any cluster is asked).
#[test]
fn apply_names_a_duplicate_keys_first_definition() {
    let tmp = tempfile::tempdir().unwrap();
    for (input, want) in [
        (
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  k: a\n  x: b\n  k: c\n",
            "bad.yaml:8:3: duplicate key \"k\" (first defined on line 6): remove one of them\n",
        ),
        (
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  on: a\n  true: c\n",
            "bad.yaml:12:3: duplicate key \"true\" (first defined on line 11): kubectl reads both keys as \"true\"; quote or rename one of them\n",
        ),
    ] {
        fs::write(tmp.path().join("bad.yaml"), input).unwrap();
        let args = ["apply", "bad.yaml", "--dry-run=client"].map(String::from);
        let out = run(tmp.path(), &args, None);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
        assert_eq!(text(&out.stderr), want);
        assert!(out.stdout.is_empty(), "{}", text(&out.stdout));
    }
}
