//! KRM function mode with the real kpt (`kpt fn eval --exec`): the same
//! edits as `patch FILE`, bytes outside the edits kept, warnings as results.
//! kpt is required (.ci/run fails without it).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::support::{bin, fixture_copy, stderr, stdout};

const KPT: &str = "kpt";

fn kpt(args: &[&str], cwd: &Path, stdin: Option<&[u8]>) -> Output {
    use std::io::Write as _;
    let mut child = Command::new(KPT)
        .args(args)
        .current_dir(cwd)
        .env("HOME", cwd)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("kpt is required for the KRM tests (apt/binary at /usr/bin/kpt): {e}")
        });
    if let Some(input) = stdin {
        child.stdin.take().unwrap().write_all(input).unwrap();
    }
    child.wait_with_output().unwrap()
}

fn exe() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_kubectl-tingyun"))
}

/// kpt's serialisation of a package directory holding `file`.
fn kpt_source(dir: &Path) -> String {
    let o = kpt(&["fn", "source", "."], dir, None);
    assert!(o.status.success(), "kpt fn source: {}", stderr(&o));
    stdout(&o)
}

#[test]
fn kpt_fn_eval_exec_gives_the_file_modes_edits() {
    // The package: the held-out download as a kpt package.
    let pkg = tempfile::tempdir().unwrap();
    fixture_copy(pkg.path(), "tingyunagent.yaml");
    let exec = format!("{} patch --krm", exe().display());
    let o = kpt(
        &[
            "fn",
            "eval",
            ".",
            "--exec",
            &exec,
            "--",
            "registry=harbor.example.com/apm",
            "pull-secret=true",
            "inject-pull-secret=tingyun-image-secret",
        ],
        pkg.path(),
        None,
    );
    assert!(
        o.status.success(),
        "kpt fn eval: {}{}",
        stdout(&o),
        stderr(&o)
    );

    // The same edits in file mode, then through kpt's own serialisation.
    let want = tempfile::tempdir().unwrap();
    let file = fixture_copy(want.path(), "tingyunagent.yaml");
    let f = bin()
        .args([
            "patch",
            file.to_str().unwrap(),
            "--registry",
            "harbor.example.com/apm",
            "--pull-secret",
            "--inject-pull-secret",
        ])
        .output()
        .unwrap();
    assert!(f.status.success(), "{}", stderr(&f));
    let strip = |s: String| -> String {
        // drop results (ours), kpt's bookkeeping annotations, and comment
        // and blank lines (kpt re-attaches comments when it writes; the
        // download's commented-out template may stay as a comment there)
        s.lines()
            .take_while(|l| !l.starts_with("results:"))
            .filter(|l| !l.contains("config.kubernetes.io/"))
            .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(
        strip(kpt_source(pkg.path())),
        strip(kpt_source(want.path()))
    );
}

#[test]
fn resource_lists_keep_every_byte_outside_the_edits_and_report_results() {
    let pkg = tempfile::tempdir().unwrap();
    let file = fixture_copy(pkg.path(), "tingyunagent.yaml");
    // The ResourceList kpt hands to functions, with a ConfigMap functionConfig.
    let mut list = kpt_source(pkg.path());
    list.push_str(
        "functionConfig:\n  apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: tingyun\n  data:\n    registry: harbor.example.com/apm\n    pull-secret: \"true\"\n",
    );
    let run = |input: &str, extra: &[&str]| krm(pkg.path(), input, extra);
    let o = run(&list, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let (body, results) = out.split_once("\nresults:\n").expect("results were added");
    // Lines removed / added, compared with what the file mode changes.
    let f = bin()
        .args([
            "patch",
            file.to_str().unwrap(),
            "--registry",
            "harbor.example.com/apm",
            "--pull-secret",
            "-o",
            "-",
        ])
        .output()
        .unwrap();
    let file_in = std::fs::read_to_string(&file).unwrap();
    let file_out = stdout(&f);
    let changed = |a: &str, b: &str| -> (Vec<String>, Vec<String>) {
        let la: Vec<&str> = a.lines().collect();
        let lb: Vec<&str> = b.lines().collect();
        let removed = la
            .iter()
            .filter(|l| !lb.contains(l))
            .map(|l| l.trim().to_string())
            .collect();
        let added = lb
            .iter()
            .filter(|l| !la.contains(l))
            .map(|l| l.trim().to_string())
            .collect();
        (removed, added)
    };
    let body = format!("{body}\n");
    assert_eq!(changed(&list, &body), changed(&file_in, &file_out));
    assert!(body.starts_with(&list[..list.find("items:").unwrap()]));
    assert!(results.contains("\"severity\":\"info\""), "{results}");
    assert!(
        results.contains("harbor.example.com/apm/k8s-uniagent"),
        "{results}"
    );
    // a flag overrides the functionConfig
    let o = run(&list, &["--registry", "flag.example.com/x"]);
    assert!(stdout(&o).contains("image: flag.example.com/x/k8s-uniagent"));
    // a warning becomes a result
    let o = run(
        &list.replace(
            "registry: harbor.example.com/apm",
            "annotation: a.example.com/x=1",
        ),
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    // a bad functionConfig value: located in the ResourceList
    let bad = list.replace("pull-secret: \"true\"", "pull-secret: \"Bad_Name\"");
    let o = run(&bad, &[]);
    assert_eq!(o.status.code(), Some(1));
    let line = bad.lines().position(|l| l.contains("Bad_Name")).unwrap() + 1;
    assert!(
        stderr(&o).starts_with(&format!("<stdin>:{line}:")),
        "{}",
        stderr(&o)
    );
    assert!(stdout(&o).is_empty());
}

/// An error inside an item names ResourceList lines, also the line of a
/// duplicate key's first definition (the item is parsed on its own).
#[test]
fn item_errors_name_resource_list_lines() {
    let head = "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n\
                - apiVersion: v1\n  kind: Namespace\n  metadata:\n    name: a\n\
                - apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: c\n  data:\n";
    for (body, want) in [
        (
            "    on: a\n    x: b\n    true: c\n",
            "<stdin>:15:5: duplicate key \"true\" (first defined on line 13): kubectl reads both keys as \"true\"",
        ),
        (
            "    k: a\n    x: b\n    k: c\n",
            "<stdin>:15:5: duplicate key \"k\" (first defined on line 13): remove one of them",
        ),
    ] {
        let o = krm(&std::env::temp_dir(), &format!("{head}{body}"), &[]);
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        assert!(
            stderr(&o).starts_with(want),
            "want {want:?}\n{}",
            stderr(&o)
        );
        assert!(stdout(&o).is_empty(), "{}", stdout(&o));
    }
}

/// `patch --krm [EXTRA]` with `input` (a ResourceList) on standard input.
fn krm(cwd: &Path, input: &str, extra: &[&str]) -> Output {
    let mut args = vec!["patch".to_string(), "--krm".to_string()];
    args.extend(extra.iter().map(|a| a.to_string()));
    crate::common::run(cwd, &args, Some(input.as_bytes()))
}
