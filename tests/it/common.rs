//! Helpers shared by the integration tests: run the built binary, snapshot
//! files and directories, show byte-exact diffs.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, ChildStdout, Command, Output, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, SystemTime};

/// The binary under test ([`crate::support::bin_path`]).
pub fn bin() -> PathBuf {
    crate::support::bin_path()
}

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Run the binary with `args` in `cwd`, feeding `stdin` (or nothing).
pub fn run(cwd: &Path, args: &[String], stdin: Option<&[u8]>) -> Output {
    let bin = bin();
    let mut cmd = crate::support::bin();
    cmd.args(args)
        .current_dir(cwd)
        .env_remove("NO_COLOR")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
    if let Some(data) = stdin {
        let mut pipe = child.stdin.take().expect("stdin pipe");
        let data = data.to_vec();
        // Write from a thread so a child that does not read cannot block us.
        std::thread::spawn(move || {
            let _ = pipe.write_all(&data);
        });
    }
    child.wait_with_output().expect("wait for kubectl-tingyun")
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// An old, fixed mtime so that any rewrite of a file is visible.
pub fn old_mtime() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_600_000_000)
}

pub fn set_mtime(path: &Path, t: SystemTime) {
    let f = fs::OpenOptions::new()
        .write(true)
        .open(path)
        .expect("open to set mtime");
    f.set_modified(t).expect("set mtime");
}

pub fn mtime(path: &Path) -> SystemTime {
    fs::metadata(path)
        .and_then(|m| m.modified())
        .expect("mtime")
}

/// Every entry of a directory (recursively) with its bytes (None for dirs).
pub fn snapshot_dir(dir: &Path) -> BTreeMap<PathBuf, Option<Vec<u8>>> {
    let mut out = BTreeMap::new();
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Option<Vec<u8>>>) {
        for e in fs::read_dir(dir).expect("read_dir").flatten() {
            let p = e.path();
            let rel = p.strip_prefix(root).unwrap().to_path_buf();
            if p.is_dir() {
                out.insert(rel, None);
                walk(root, &p, out);
            } else {
                out.insert(rel, Some(fs::read(&p).unwrap_or_default()));
            }
        }
    }
    walk(dir, dir, &mut out);
    out
}

/// A readable line diff of two byte strings; each line shown with escapes
/// (`\r`, BOM, missing final newline are visible).
pub fn show_diff(expected: &[u8], actual: &[u8]) -> String {
    let e = text(expected);
    let a = text(actual);
    let diff = similar::TextDiff::from_lines(e.as_str(), a.as_str());
    let mut s = String::from("    --- expected\n    +++ actual\n");
    for hunk in diff.unified_diff().context_radius(2).iter_hunks() {
        s.push_str(&format!("    {}\n", hunk.header()));
        for change in hunk.iter_changes() {
            let sign = match change.tag() {
                similar::ChangeTag::Equal => ' ',
                similar::ChangeTag::Delete => '-',
                similar::ChangeTag::Insert => '+',
            };
            s.push_str(&format!("    {sign}{:?}\n", change.value()));
        }
    }
    s
}

/// Fail (never skip) when `tool` is not on PATH, saying how to install it
/// (`.ci/run` installs every tool the suite needs).
pub fn require(tool: &str, install: &str) -> PathBuf {
    std::env::var_os("PATH")
        .and_then(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join(tool))
                .find(|p| p.is_file())
        })
        .unwrap_or_else(|| {
            panic!("{tool} is required by this test and is not on PATH: install it ({install})")
        })
}

/// Is PyYAML importable? Panics with the install command if it is not:
/// the meaning checks are part of the contract, not optional.
pub fn require_pyyaml() {
    static OK: OnceLock<Result<(), String>> = OnceLock::new();
    let r = OK.get_or_init(|| {
        let out = Command::new("python3").args(["-c", "import yaml"]).output();
        match out {
            Ok(o) if o.status.success() => Ok(()),
            Ok(o) => Err(text(&o.stderr)),
            Err(e) => Err(e.to_string()),
        }
    });
    if let Err(e) = r {
        panic!(
            "the independent meaning check needs python3 with PyYAML \
             (`python3 -m pip install pyyaml`): {e}"
        );
    }
}

/// Run tests/it/support/meaning.py: does `output` mean `input` plus exactly the
/// edits `args` intend? Err carries the checker's report.
pub fn meaning_check(input: &Path, output: &Path, args: &[String]) -> Result<(), String> {
    // UTF-8 files (all but deliberately broken ones) go to the shared server
    let read = |p: &Path| fs::read(p).ok().and_then(|b| String::from_utf8(b).ok());
    if let (Some(i), Some(o)) = (read(input), read(output)) {
        return meaning_check_text(&i, &o, args);
    }
    require_pyyaml();
    let script = repo_root().join("tests/it/support/meaning.py");
    let o = Command::new("python3")
        .arg(script)
        .arg(input)
        .arg(output)
        .args(args)
        .output()
        .expect("run python3");
    if o.status.success() {
        Ok(())
    } else {
        Err(format!("{}{}", text(&o.stdout), text(&o.stderr)))
    }
}

/// The same check as [`meaning_check`] on texts, answered by one long-lived
/// `meaning.py --serve` process shared by the whole test binary (a python
/// start per check would make the property tests slow).
pub fn meaning_check_text(input: &str, output: &str, args: &[String]) -> Result<(), String> {
    struct Server {
        stdin: ChildStdin,
        stdout: BufReader<ChildStdout>,
    }
    static SERVER: OnceLock<Mutex<Server>> = OnceLock::new();
    let server = SERVER.get_or_init(|| {
        require_pyyaml();
        let script = repo_root().join("tests/it/support/meaning.py");
        let mut child = Command::new("python3")
            .arg(&script)
            .arg("--serve")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start python3 {}: {e}", script.display()));
        Mutex::new(Server {
            stdin: child.stdin.take().expect("stdin pipe"),
            stdout: BufReader::new(child.stdout.take().expect("stdout pipe")),
        })
    });
    // a test that panicked while holding the lock left the protocol in step
    let mut server = server.lock().unwrap_or_else(|p| p.into_inner());
    let request = serde_json::json!({ "input": input, "output": output, "args": args });
    writeln!(server.stdin, "{request}")
        .and_then(|()| server.stdin.flush())
        .expect("meaning.py --serve stopped reading (see its stderr above)");
    let mut line = String::new();
    server
        .stdout
        .read_line(&mut line)
        .expect("read meaning.py --serve");
    assert!(
        !line.is_empty(),
        "meaning.py --serve exited (see its stderr above)"
    );
    let answer: serde_json::Value = serde_json::from_str(&line)
        .unwrap_or_else(|e| panic!("meaning.py --serve answered {line:?}: {e}"));
    let problems = answer["problems"]
        .as_array()
        .unwrap_or_else(|| panic!("meaning.py --serve answered {line:?}"));
    if problems.is_empty() {
        Ok(())
    } else {
        let lines: Vec<String> = problems
            .iter()
            .map(|p| format!("  {}", p.as_str().unwrap_or_default()))
            .collect();
        Err(format!(
            "meaning differs from input + intended edits:\n{}",
            lines.join("\n")
        ))
    }
}
