//! `kubectl tingyun patch` against the hand-written cases in testdata/cases/.
//!
//! Each case directory holds `input.yaml`, `args` (one argument per line),
//! `expected.yaml` (byte-exact, written from PATCH-SPEC.md, not from the
//! engine) and optionally `stderr-contains` / `stderr-not-contains` (one
//! substring per line; `{file}` stands for the path given on the command line).
//! Every test runs all cases and reports every failing case together.

use std::fs;
use std::path::{Path, PathBuf};

use crate::common::*;

const FILE: &str = "manifest.yaml";
const NOTHING_CHANGED: &str = "already up to date, nothing changed";

struct Case {
    name: String,
    dir: PathBuf,
    input: Vec<u8>,
    expected: Vec<u8>,
    args: Vec<String>,
    stderr_contains: Vec<String>,
    stderr_not_contains: Vec<String>,
}

impl Case {
    fn unchanged(&self) -> bool {
        self.input == self.expected
    }
    /// A fresh temporary directory holding the input as `manifest.yaml`.
    fn setup(&self) -> (tempfile::TempDir, PathBuf) {
        let tmp = tempfile::tempdir().expect("tempdir");
        let path = tmp.path().join(FILE);
        fs::write(&path, &self.input).expect("write input copy");
        set_mtime(&path, old_mtime());
        (tmp, path)
    }
    fn args_with(&self, file: &str, extra: &[&str]) -> Vec<String> {
        let mut v = vec!["patch".to_string(), file.to_string()];
        v.extend(self.args.iter().cloned());
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    }
}

fn lines_of(path: &Path) -> Vec<String> {
    match fs::read_to_string(path) {
        Ok(s) => s
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect(),
        Err(_) => Vec::new(),
    }
}

fn cases() -> Vec<Case> {
    let root = repo_root().join("testdata/cases");
    let mut dirs: Vec<PathBuf> = fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    let cases: Vec<Case> = dirs
        .into_iter()
        .map(|dir| Case {
            name: dir.file_name().unwrap().to_string_lossy().into_owned(),
            input: fs::read(dir.join("input.yaml")).expect("input.yaml"),
            expected: fs::read(dir.join("expected.yaml")).expect("expected.yaml"),
            args: fs::read_to_string(dir.join("args"))
                .expect("args")
                .lines()
                .filter(|l| !l.is_empty())
                .map(str::to_string)
                .collect(),
            stderr_contains: lines_of(&dir.join("stderr-contains")),
            stderr_not_contains: lines_of(&dir.join("stderr-not-contains")),
            dir,
        })
        .collect();
    assert!(
        cases.len() >= 30,
        "expected the testdata cases, found {}",
        cases.len()
    );
    cases
}

/// Run `check` on every case; fail once, listing every failing case.
fn for_all_cases(what: &str, check: impl Fn(&Case) -> Vec<String>) {
    let cases = cases();
    let mut failures = Vec::new();
    for case in &cases {
        let problems = check(case);
        if !problems.is_empty() {
            failures.push(format!(
                "=== case {} ===\n{}",
                case.name,
                problems.join("\n")
            ));
        }
    }
    if !failures.is_empty() {
        panic!(
            "{what}: {} of {} cases failed:\n\n{}",
            failures.len(),
            cases.len(),
            failures.join("\n\n")
        );
    }
}

fn check_no_panic(stderr: &str, problems: &mut Vec<String>) {
    if stderr.contains("panicked") {
        problems.push(format!("panic on stderr:\n{stderr}"));
    }
}

fn check_exit0(label: &str, out: &std::process::Output, problems: &mut Vec<String>) -> bool {
    let stderr = text(&out.stderr);
    check_no_panic(&stderr, problems);
    if out.status.code() != Some(0) {
        problems.push(format!(
            "{label}: exit {:?}, stderr:\n{stderr}",
            out.status.code()
        ));
        return false;
    }
    true
}

/// The testdata itself: every expected.yaml means exactly input + the
/// intended edits, by an independent parser (PyYAML). Needs no engine.
#[test]
fn expected_outputs_mean_input_plus_intended_edits() {
    for_all_cases("meaning of expected.yaml", |case| {
        match meaning_check(
            &case.dir.join("input.yaml"),
            &case.dir.join("expected.yaml"),
            &case.args,
        ) {
            Ok(()) => vec![],
            Err(e) => vec![e],
        }
    });
}

/// In place: exit 0, bytes == expected, messages, mode kept, no stray files,
/// meaning checked independently; a second run changes no byte and says so.
#[test]
fn patch_in_place_matches_expected_and_is_idempotent() {
    for_all_cases("patch in place", |case| {
        let mut p = Vec::new();
        let (tmp, path) = case.setup();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
        }
        let out = run(tmp.path(), &case.args_with(FILE, &[]), None);
        if !check_exit0("first run", &out, &mut p) {
            return p;
        }
        let stderr = text(&out.stderr);
        let actual = fs::read(&path).unwrap_or_default();
        // JSON in, JSON out (checked by a JSON parser, not the engine)
        if serde_json::from_slice::<serde_json::Value>(&case.input).is_ok() {
            if let Err(e) = serde_json::from_slice::<serde_json::Value>(&actual) {
                p.push(format!(
                    "the input is JSON but the output is not valid JSON: {e}"
                ));
            }
        }
        if actual != case.expected {
            p.push(format!(
                "output differs from expected.yaml:\n{}",
                show_diff(&case.expected, &actual)
            ));
        }
        for s in &case.stderr_contains {
            let s = s.replace("{file}", FILE);
            if !stderr.contains(&s) {
                p.push(format!("stderr lacks {s:?}; stderr was:\n{stderr}"));
            }
        }
        for s in &case.stderr_not_contains {
            let s = s.replace("{file}", FILE);
            if stderr.contains(&s) {
                p.push(format!(
                    "stderr must not contain {s:?}; stderr was:\n{stderr}"
                ));
            }
        }
        if case.unchanged() {
            if mtime(&path) != old_mtime() {
                p.push("nothing to change, yet the file was rewritten (mtime changed)".into());
            }
            if !stderr.contains(NOTHING_CHANGED) {
                p.push(format!(
                    "nothing to change: stderr lacks {NOTHING_CHANGED:?}:\n{stderr}"
                ));
            }
        } else if stderr.contains(NOTHING_CHANGED) {
            p.push(format!("changes made, yet stderr says {NOTHING_CHANGED:?}"));
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            if mode != 0o640 {
                p.push(format!("file mode not kept: {mode:o} instead of 640"));
            }
        }
        let entries: Vec<_> = snapshot_dir(tmp.path()).into_keys().collect();
        if entries != vec![PathBuf::from(FILE)] {
            p.push(format!("stray files left in the directory: {entries:?}"));
        }
        if let Err(e) = meaning_check(&case.dir.join("input.yaml"), &path, &case.args) {
            p.push(format!("independent parser: {e}"));
        }

        // Second run on the result.
        let before = fs::read(&path).unwrap_or_default();
        set_mtime(&path, old_mtime());
        let out = run(tmp.path(), &case.args_with(FILE, &[]), None);
        if !check_exit0("second run", &out, &mut p) {
            return p;
        }
        let stderr2 = text(&out.stderr);
        if fs::read(&path).unwrap_or_default() != before {
            p.push(format!(
                "second run changed bytes:\n{}",
                show_diff(&before, &fs::read(&path).unwrap_or_default())
            ));
        }
        if mtime(&path) != old_mtime() {
            p.push("second run rewrote the file (mtime changed)".into());
        }
        if !stderr2.contains(NOTHING_CHANGED) {
            p.push(format!(
                "second run: stderr lacks {NOTHING_CHANGED:?}:\n{stderr2}"
            ));
        }
        p
    });
}

/// `-o -`, `-o PATH` and stdin `-` give the same bytes as the in-place run
/// and leave the input alone.
#[test]
fn stdout_stdin_and_output_path_equal_in_place_result() {
    for_all_cases("output variants", |case| {
        let mut p = Vec::new();

        let (tmp, path) = case.setup();
        let out = run(tmp.path(), &case.args_with(FILE, &["-o", "-"]), None);
        if check_exit0("-o -", &out, &mut p) && out.stdout != case.expected {
            p.push(format!(
                "-o -: stdout differs from expected.yaml:\n{}",
                show_diff(&case.expected, &out.stdout)
            ));
        }
        if fs::read(&path).unwrap_or_default() != case.input || mtime(&path) != old_mtime() {
            p.push("-o -: the input file was modified".into());
        }

        let out = run(tmp.path(), &case.args_with("-", &[]), Some(&case.input));
        if check_exit0("stdin -", &out, &mut p) && out.stdout != case.expected {
            p.push(format!(
                "stdin -: stdout differs from expected.yaml:\n{}",
                show_diff(&case.expected, &out.stdout)
            ));
        }

        let out = run(tmp.path(), &case.args_with(FILE, &["-o", "out.yaml"]), None);
        if check_exit0("-o out.yaml", &out, &mut p) {
            let written = fs::read(tmp.path().join("out.yaml"));
            match written {
                Ok(b) if b == case.expected => {}
                Ok(b) => p.push(format!(
                    "-o out.yaml differs from expected.yaml:\n{}",
                    show_diff(&case.expected, &b)
                )),
                Err(e) => p.push(format!("-o out.yaml: not written: {e}")),
            }
        }
        if fs::read(&path).unwrap_or_default() != case.input || mtime(&path) != old_mtime() {
            p.push("-o out.yaml: the input file was modified".into());
        }
        p
    });
}

/// `--dry-run` writes nothing and prints a unified diff whose added and
/// removed lines are exactly the expected change (no colour: not a TTY).
#[test]
fn dry_run_writes_nothing_and_prints_the_diff() {
    for_all_cases("--dry-run", |case| {
        let mut p = Vec::new();
        let (tmp, path) = case.setup();
        let before = snapshot_dir(tmp.path());
        let out = run(tmp.path(), &case.args_with(FILE, &["--dry-run"]), None);
        if !check_exit0("--dry-run", &out, &mut p) {
            return p;
        }
        if snapshot_dir(tmp.path()) != before || mtime(&path) != old_mtime() {
            p.push("--dry-run modified the directory or the file".into());
        }
        let stdout = text(&out.stdout);
        if stdout.contains('\x1b') {
            p.push("--dry-run: colour escapes although stdout is not a terminal".into());
        }
        let printed: Vec<&str> = stdout.lines().map(|l| l.trim_end_matches('\r')).collect();
        if case.unchanged() {
            if printed
                .iter()
                .any(|l| l.starts_with("+++") || l.starts_with("@@"))
            {
                p.push(format!(
                    "--dry-run printed a diff although nothing changes:\n{stdout}"
                ));
            }
            return p;
        }
        if !printed
            .iter()
            .any(|l| *l == format!("--- {FILE}") || l.starts_with(&format!("--- {FILE}\t")))
        {
            p.push(format!("--dry-run: no `--- {FILE}` header:\n{stdout}"));
        }
        if !printed
            .iter()
            .any(|l| l.starts_with(&format!("+++ {FILE} (patched)")))
        {
            p.push(format!(
                "--dry-run: no `+++ {FILE} (patched)` header:\n{stdout}"
            ));
        }
        let want_in = text(&case.input);
        let want_ex = text(&case.expected);
        let diff = similar::TextDiff::from_lines(want_in.as_str(), want_ex.as_str());
        let body: Vec<&str> = printed
            .iter()
            .copied()
            .filter(|l| !l.starts_with("+++") && !l.starts_with("---"))
            .collect();
        let mut plus = 0;
        let mut minus = 0;
        for change in diff.iter_all_changes() {
            let line = change.value().trim_end_matches('\n').trim_end_matches('\r');
            let line = line.trim_start_matches('\u{feff}');
            let (sign, n) = match change.tag() {
                similar::ChangeTag::Insert => ('+', &mut plus),
                similar::ChangeTag::Delete => ('-', &mut minus),
                similar::ChangeTag::Equal => continue,
            };
            *n += 1;
            let want = format!("{sign}{line}");
            if !body
                .iter()
                .any(|l| l.trim_start_matches('\u{feff}') == want)
            {
                p.push(format!("--dry-run diff lacks the line {want:?}:\n{stdout}"));
            }
        }
        let got_plus = body.iter().filter(|l| l.starts_with('+')).count();
        let got_minus = body.iter().filter(|l| l.starts_with('-')).count();
        if (got_plus, got_minus) != (plus, minus) {
            p.push(format!(
                "--dry-run diff has {got_plus} added / {got_minus} removed lines, expected {plus} / {minus}:\n{stdout}"
            ));
        }
        p
    });
}

/// `--dry-run` masks Secret `data`/`stringData` values that appear as diff
/// context, like `kubectl diff`; never panics or leaks them on stderr.
#[test]
fn dry_run_masks_secret_values_in_context() {
    let secret_value = "c3VwZXItc2VjcmV0LXBhc3N3b3Jk";
    let plain_value = "hunter2-plain-text";
    let tail =
        "---\n#imagePullSecrets:\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: agent\n";
    let head = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\n";
    let inputs = [
        (
            "data only",
            format!("{head}data:\n  password: {secret_value}\n{tail}"),
        ),
        (
            "stringData only",
            format!("{head}stringData:\n  password: {plain_value}\n{tail}"),
        ),
        (
            "stringData before data",
            format!(
                "{head}stringData:\n  user: {plain_value}\ndata:\n  password: {secret_value}\n{tail}"
            ),
        ),
    ];
    let mut failures = Vec::new();
    for (label, input) in inputs {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join(FILE);
        fs::write(&path, &input).unwrap();
        let args = ["patch", FILE, "--pull-secret", "--dry-run"].map(String::from);
        let out = run(tmp.path(), &args, None);
        let stdout = text(&out.stdout);
        let stderr = text(&out.stderr);
        let mut p = Vec::new();
        if out.status.code() != Some(0) {
            p.push(format!("exit {:?}", out.status.code()));
        }
        if stderr.contains("panicked") {
            p.push("panicked".to_string());
        }
        if fs::read_to_string(&path).unwrap() != input {
            p.push("--dry-run wrote the file".to_string());
        }
        if !stdout.contains("+imagePullSecrets:") {
            p.push("no diff printed".to_string());
        }
        for v in [secret_value, plain_value] {
            if stdout.contains(v) || stderr.contains(v) {
                p.push(format!("Secret value {v} shown unmasked"));
            }
        }
        // The diff's context reaches back to `password:`; it must be there, masked.
        if !stdout.contains("password: ***") {
            p.push("masked `password: ***` line missing from the context".to_string());
        }
        if !p.is_empty() {
            failures.push(format!(
                "{label}: {}\nstdout:\n{stdout}\nstderr:\n{stderr}",
                p.join("; ")
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The independent meaning check is not a rubber stamp: it rejects outputs
/// with a missing edit, an extra edit, or a value that changed type.
#[test]
fn meaning_check_rejects_wrong_outputs() {
    let cases = repo_root().join("testdata/cases");
    let fixture_in = cases.join("fixture-defaults/input.yaml");
    let fixture_out = cases.join("fixture-defaults/expected.yaml");
    let no_args: Vec<String> = vec![];
    assert!(meaning_check(&fixture_in, &fixture_out, &no_args).is_ok());
    // Edit missing: --registry intended, images unchanged.
    let reg = vec![
        "--registry".to_string(),
        "harbor.example.com/apm".to_string(),
    ];
    assert!(meaning_check(&fixture_in, &fixture_out, &reg).is_err());
    // Extra edit: pull secrets added though only --registry was asked for.
    assert!(meaning_check(&fixture_in, &fixture_out, &["--pull-secret".to_string()]).is_err());
    assert!(
        meaning_check(
            &fixture_in,
            &fixture_out,
            &["--inject-pull-secret".to_string()]
        )
        .is_err()
    );
    // `name: on` unquoted is a boolean to YAML 1.1 readers, not the secret name.
    let tmp = tempfile::tempdir().unwrap();
    let (i, o) = (tmp.path().join("i.yaml"), tmp.path().join("o.yaml"));
    fs::write(
        &i,
        "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: a\n",
    )
    .unwrap();
    fs::write(&o, "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: a\nimagePullSecrets:\n- name: on\n").unwrap();
    assert!(meaning_check(&i, &o, &["--pull-secret=on".to_string()]).is_err());
}
