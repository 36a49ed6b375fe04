//! What `patch` prints, checked with real tools: the `--dry-run` diff
//! applies with GNU `patch` and `git apply` to the original file and gives
//! exactly the written result (CRLF, BOM, no final newline included); a
//! reader that goes away (`| head`) ends the process as it ends kubectl
//! (killed by SIGPIPE, no message); a FIFO or device as FILE is refused at
//! once instead of blocking.
use std::fs;
use std::io::Read as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;

const APT_PATCH: &str = "apt-get install patch; .ci/run does";
const APT_GIT: &str = "apt-get install git; .ci/run does";

/// `patch ARGS --dry-run` on a copy of `input` named `manifest.yaml`, then
/// the diff applied to another copy by `tool`: the result must equal what
/// `patch ARGS -o` writes.
fn diff_applies(label: &str, input: &[u8], args: &[String], problems: &mut Vec<String>) {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("manifest.yaml");
    fs::write(&file, input).unwrap();
    let mut argv = vec!["patch".to_string(), "manifest.yaml".to_string()];
    argv.extend(args.iter().cloned());
    let mut written = argv.clone();
    written.extend(["-o".to_string(), "written.yaml".to_string()]);
    let out = run(tmp.path(), &written, None);
    assert_eq!(out.status.code(), Some(0), "{label}: {}", text(&out.stderr));
    let want = fs::read(tmp.path().join("written.yaml")).unwrap();
    argv.push("--dry-run".into());
    let out = run(tmp.path(), &argv, None);
    assert_eq!(out.status.code(), Some(0), "{label}: {}", text(&out.stderr));
    let diff = tmp.path().join("changes.diff");
    fs::write(&diff, &out.stdout).unwrap();
    if want == input {
        if !out.stdout.is_empty() {
            problems.push(format!("{label}: a diff although nothing changes"));
        }
        return;
    }
    for (tool, cmd) in [
        (
            "patch",
            vec![
                "patch",
                "--fuzz=0",
                "--batch",
                "manifest.yaml",
                "changes.diff",
            ],
        ),
        ("git apply", vec!["git", "apply", "-p0", "changes.diff"]),
    ] {
        fs::write(&file, input).unwrap();
        let o = Command::new(cmd[0])
            .args(&cmd[1..])
            .current_dir(tmp.path())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", cmd[0]));
        if !o.status.success() {
            problems.push(format!(
                "{label}: {tool} refuses the --dry-run diff: {}{}\ndiff:\n{}",
                text(&o.stdout),
                text(&o.stderr),
                text(&out.stdout)
            ));
            continue;
        }
        let got = fs::read(&file).unwrap();
        if got != want {
            problems.push(format!(
                "{label}: {tool} applied the diff, but the result is not the written file:\n{}",
                show_diff(&want, &got)
            ));
        }
    }
}

fn case_dirs() -> Vec<std::path::PathBuf> {
    let mut dirs: Vec<_> = fs::read_dir(repo_root().join("testdata/cases"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs
}

#[test]
fn dry_run_diff_applies_with_patch_and_git_apply() {
    require("patch", APT_PATCH);
    require("git", APT_GIT);
    let mut problems = Vec::new();
    let mut crlf = 0;
    for dir in case_dirs() {
        let input = fs::read(dir.join("input.yaml")).unwrap();
        crlf += usize::from(input.windows(2).any(|w| w == b"\r\n"));
        let args: Vec<String> = fs::read_to_string(dir.join("args"))
            .unwrap()
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect();
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        diff_applies(&name, &input, &args, &mut problems);
    }
    assert!(
        crlf >= 3,
        "expected CRLF cases in testdata/cases, found {crlf}"
    );
    // the first line (with its BOM) inside the hunk's context, a CRLF file
    // without a final line break, mixed line endings
    let sa = "apiVersion: v1\r\nkind: ServiceAccount\r\nmetadata:\r\n  name: a\r\n";
    let generated: [(&str, Vec<u8>); 3] = [
        ("BOM + CRLF", format!("\u{feff}{sa}").into_bytes()),
        (
            "CRLF, no final line break",
            format!("{sa}---\r\nkind: Pod\r\napiVersion: v1\r\nmetadata: {{name: p}}\r\nspec:\r\n  containers:\r\n  - name: c\r\n    image: nginx").into_bytes(),
        ),
        (
            "mixed line endings",
            "apiVersion: v1\nkind: ServiceAccount\r\nmetadata:\n  name: a\r\n".into(),
        ),
    ];
    let args = ["--pull-secret", "--registry", "h.example.com/p"].map(String::from);
    for (label, input) in generated {
        diff_applies(label, &input, &args, &mut problems);
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

/// How a process whose reader went away ended: (exit code, signal).
fn ended(status: std::process::ExitStatus) -> (Option<i32>, Option<i32>) {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt as _;
        (status.code(), status.signal())
    }
    #[cfg(not(unix))]
    {
        (status.code(), None)
    }
}

/// Start `cmd` with stdout on a pipe (and `stdin` fed to it), read `keep`
/// bytes, close the pipe (as `head -c` does) and wait: how it ended and
/// its stderr.
fn reader_goes_away(
    cmd: &mut Command,
    stdin: Option<String>,
    keep: usize,
) -> ((Option<i32>, Option<i32>), String) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .spawn()
        .expect("spawn");
    if let Some(data) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        std::thread::spawn(move || {
            use std::io::Write as _;
            let _ = pipe.write_all(data.as_bytes());
        });
    }
    // stderr is read meanwhile: a full stderr pipe would block the child
    let mut stderr = child.stderr.take().unwrap();
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let mut stdout = child.stdout.take().unwrap();
    let mut buf = vec![0u8; keep];
    stdout
        .read_exact(&mut buf)
        .expect("the first bytes of the output");
    drop(stdout);
    let status = child.wait().unwrap();
    (ended(status), err.join().unwrap())
}

/// `kubectl tingyun patch ... | head` ends as `kubectl ... | head` does:
/// killed by SIGPIPE (a shell shows 141), no "Broken pipe" message.
#[test]
fn a_reader_that_goes_away_ends_the_process_like_kubectl() {
    let kubectl = require(
        "kubectl",
        "https://kubernetes.io/docs/tasks/tools/; .ci/run checks it",
    );
    let tmp = tempfile::tempdir().unwrap();
    // kubectl's own behaviour, measured, not assumed: 2 MB of output (far
    // more than a pipe holds), no cluster needed
    fs::write(tmp.path().join("big.txt"), "x".repeat(2_000_000)).unwrap();
    let (theirs, kerr) = reader_goes_away(
        Command::new(&kubectl)
            .args(["create", "configmap", "x", "--from-file=big.txt"])
            .args(["--dry-run=client", "-o", "yaml"])
            .env("KUBECONFIG", tmp.path().join("no-kubeconfig"))
            .current_dir(tmp.path()),
        None,
        100,
    );
    assert_eq!(theirs, (None, Some(13)), "kubectl under `| head`: {kerr}");

    let mut big = String::new();
    for i in 0..3000 {
        big.push_str(&format!(
            "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: p{i}\nspec:\n  containers:\n  - name: c\n    image: nginx:1.{i}\n"
        ));
    }
    fs::write(tmp.path().join("big.yaml"), &big).unwrap();
    for args in [
        &[
            "patch",
            "big.yaml",
            "--registry",
            "h.example.com/p",
            "--dry-run",
        ][..],
        &[
            "patch",
            "big.yaml",
            "--registry",
            "h.example.com/p",
            "-o",
            "-",
        ][..],
    ] {
        let (ours, err) = reader_goes_away(
            crate::support::bin().args(args).current_dir(tmp.path()),
            None,
            100,
        );
        assert_eq!(ours, theirs, "{args:?}: stderr: {err}");
        assert!(
            !err.contains("Broken pipe") && !err.contains("error") && !err.contains("panicked"),
            "{args:?}: {err}"
        );
        // the report on stderr is still complete
        assert!(
            err.contains("3000 changes in 3000 objects"),
            "{args:?}: {err}"
        );
    }
    // stdin to stdout (a Helm post-renderer whose reader stops early)
    let (ours, err) = reader_goes_away(
        crate::support::bin().args(["patch", "-", "--registry", "h.example.com/p"]),
        Some(big),
        10,
    );
    assert_eq!(ours, theirs, "stdin to stdout: {err}");
    assert!(!err.contains("Broken pipe"), "{err}");
}

/// Run with a deadline: a command that blocks is killed and reported.
fn run_within(cmd: &mut Command, limit: Duration) -> std::process::Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "{cmd:?} still running after {limit:?} (blocked reading?); stderr: {}",
                text(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

#[cfg(unix)]
#[test]
fn a_fifo_or_device_as_file_is_refused_at_once() {
    let mkfifo = require("mkfifo", "coreutils");
    let tmp = tempfile::tempdir().unwrap();
    let fifo = tmp.path().join("pipe.yaml");
    let o = Command::new(mkfifo).arg(&fifo).output().unwrap();
    assert!(o.status.success(), "mkfifo: {}", text(&o.stderr));
    for (file, what) in [
        (
            fifo.to_str().unwrap(),
            "is a FIFO (named pipe), not a regular file",
        ),
        ("/dev/zero", "is a character device, not a regular file"),
    ] {
        for cmd in [
            &["patch", file][..],
            &["patch", file, "--dry-run"],
            &["apply", file, "--dry-run"],
        ] {
            let out = run_within(
                crate::support::bin().args(cmd).current_dir(tmp.path()),
                Duration::from_secs(20),
            );
            let err = text(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{cmd:?}: {err}");
            let first = err.lines().next().unwrap_or_default();
            assert!(
                first.starts_with(&format!("{file}:1:1: {what}: ")) && first.contains("`-`"),
                "{cmd:?}: {err}"
            );
            assert!(out.stdout.is_empty());
        }
    }
    // `-` still reads a pipe
    let out = run(
        tmp.path(),
        &["patch", "-", "--pull-secret"].map(String::from),
        Some(b"apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: a\n"),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("imagePullSecrets"));
    assert!(Path::new(&fifo).exists());
}

/// A big output (written on a second thread beside the report) that cannot
/// be written: the report comes first, then the error naming the file;
/// exit status 1, nothing created.
#[test]
fn a_big_output_that_cannot_be_written_fails_after_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let docs: String = (0..800)
        .map(|i| {
            format!(
                "---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web-{i}\nspec:\n  template:\n    spec:\n      containers:\n      - name: web\n        image: nginx:1.{i}\n"
            )
        })
        .collect();
    assert!(docs.len() > 64 * 1024, "big enough for a second thread");
    let input = dir.path().join("big.yaml");
    std::fs::write(&input, &docs).unwrap();
    let target = dir.path().join("missing-dir").join("out.yaml");
    let args: Vec<String> = [
        "patch",
        input.to_str().unwrap(),
        "--registry",
        "harbor.example.com/apm",
        "-o",
        target.to_str().unwrap(),
    ]
    .map(String::from)
    .to_vec();
    let out = run(dir.path(), &args, None);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{err}");
    let summary = err.find("800 changes in 800 objects").expect(&err);
    let failure = err
        .find(&format!("cannot write {}", target.display()))
        .expect(&err);
    assert!(summary < failure, "{err}");
    assert!(!target.exists());
    assert!(!dir.path().join("missing-dir").exists());
}

/// A big result is written beside its target while it is being checked;
/// when the check refuses it (here an anchor the edit would also change
/// elsewhere, found only by comparing meanings), the file stays as it was
/// and nothing is left beside it.
#[test]
fn a_big_result_the_check_refuses_leaves_the_directory_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let mut docs: String = (0..800)
        .map(|i| {
            format!(
                "---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web-{i}\nspec:\n  template:\n    spec:\n      containers:\n      - name: web\n        image: nginx:1.{i}\n"
            )
        })
        .collect();
    docs.push_str(
        "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: shared\nspec:\n  containers:\n  - name: a\n    image: &img nginx:1.25\n    env:\n    - name: IMG\n      value: *img\n",
    );
    assert!(docs.len() > 64 * 1024, "big enough for a second thread");
    let input = dir.path().join("big.yaml");
    std::fs::write(&input, &docs).unwrap();
    let args: Vec<String> = [
        "patch",
        input.to_str().unwrap(),
        "--registry",
        "harbor.example.com/apm",
    ]
    .map(String::from)
    .to_vec();
    let out = run(dir.path(), &args, None);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("Pod/shared: cannot edit safely: the anchor &img is used elsewhere"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&input).unwrap(), docs);
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["big.yaml"]);
}
