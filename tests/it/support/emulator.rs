//! The shared kube-emulator (`../shared/kube-emulator`), started per test on a
//! free loopback port with its kubeconfig in a temporary directory; killed on
//! drop. Python 3 with aiohttp and PyYAML is required: a missing emulator is a
//! test failure, never a skip.
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;

pub struct Emulator {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
    kubeconfig: PathBuf,
}

/// The emulator's directory, beside the repository (CI puts shared/ there).
pub fn emulator_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/kube-emulator")
}

impl Emulator {
    /// Start with a scenario (YAML text; "" for the defaults).
    pub fn start(scenario: &str) -> Emulator {
        let dir = tempfile::tempdir().expect("tempdir");
        let kubeconfig = dir.path().join("kubeconfig");
        let scenario_path = dir.path().join("scenario.yaml");
        std::fs::write(
            &scenario_path,
            if scenario.is_empty() {
                "{}\n"
            } else {
                scenario
            },
        )
        .unwrap();
        let script = emulator_dir().join("emulator.py");
        assert!(
            script.exists(),
            "the kube-emulator is missing at {} (CI places ../shared beside the clone)",
            script.display()
        );
        let mut child = Command::new("python3")
            .arg(&script)
            .args(["--port", "0", "--kubeconfig"])
            .arg(&kubeconfig)
            .arg("--scenario")
            .arg(&scenario_path)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python3 is needed to run the kube-emulator");
        let mut first = String::new();
        let stdout = child.stdout.take().unwrap();
        let mut reader = BufReader::new(stdout);
        let _ = reader.read_line(&mut first);
        let port: u16 = match first.trim().parse() {
            Ok(p) => p,
            Err(_) => {
                let _ = child.kill();
                let mut err = String::new();
                if let Some(mut e) = child.stderr.take() {
                    let _ = e.read_to_string(&mut err);
                }
                panic!(
                    "the kube-emulator did not start (first line {first:?}); is `pip install aiohttp pyyaml` done?\n{err}"
                );
            }
        };
        // Keep draining stdout so the emulator never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut sink = String::new();
            let _ = reader.read_to_string(&mut sink);
        });
        if let Some(mut e) = child.stderr.take() {
            std::thread::spawn(move || {
                let mut sink = Vec::new();
                let _ = e.read_to_end(&mut sink);
            });
        }
        for _ in 0..100 {
            if kubeconfig.exists() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Emulator {
            child,
            port,
            dir,
            kubeconfig,
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    pub fn kubeconfig_str(&self) -> &str {
        self.kubeconfig.to_str().unwrap()
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// One HTTP/1.0 request to the emulator; returns (status, body).
    pub fn http(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, String) {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).expect("connect to emulator");
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let payload = body.map(|b| b.to_string()).unwrap_or_default();
        let req = format!(
            "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nAuthorization: Bearer emulator-token\r\nContent-Type: application/json\r\nAccept: application/json\r\nContent-Length: {}\r\n\r\n{payload}",
            payload.len()
        );
        s.write_all(req.as_bytes()).unwrap();
        let mut resp = Vec::new();
        s.read_to_end(&mut resp).unwrap();
        let text = String::from_utf8_lossy(&resp).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        (status, body.to_string())
    }

    /// GET an API path as JSON (Null when absent).
    pub fn get(&self, path: &str) -> Value {
        let (status, body) = self.http("GET", path, None);
        if status == 404 {
            return Value::Null;
        }
        assert_eq!(status, 200, "GET {path}: {body}");
        serde_json::from_str(&body).unwrap()
    }

    /// Every stored object (read past RBAC rules and tokens of the scenario).
    pub fn objects(&self) -> Vec<Value> {
        self.get("/_emulator/state")["objects"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// A stored object by kind, namespace ("" for none) and name.
    pub fn object(&self, kind: &str, ns: &str, name: &str) -> Option<Value> {
        self.objects().into_iter().find(|o| {
            o["kind"] == kind
                && o["metadata"]["name"] == name
                && o["metadata"]["namespace"].as_str().unwrap_or("") == ns
        })
    }

    /// The request log.
    pub fn requests(&self) -> Vec<Value> {
        let v = self.get("/_emulator/requests");
        match v {
            Value::Array(a) => a,
            other => other["requests"].as_array().cloned().unwrap_or_default(),
        }
    }

    pub fn clear_requests(&self) {
        self.http("DELETE", "/_emulator/requests", None);
    }

    /// Merge keys into the running scenario.
    pub fn scenario(&self, patch: &Value) {
        let (status, body) = self.http("POST", "/_emulator/scenario", Some(patch));
        assert!(status < 300, "scenario: {body}");
    }

    /// Mutating requests (not GET/HEAD/watch) without `dryRun`.
    pub fn writes(&self) -> Vec<Value> {
        self.requests()
            .into_iter()
            .filter(|r| {
                let m = r["method"].as_str().unwrap_or("");
                let path = r["path"].as_str().unwrap_or("");
                let read = matches!(m, "GET" | "HEAD" | "OPTIONS")
                    || (m == "POST" && path.contains("selfsubject"));
                let inspection = path.starts_with("/_emulator");
                let dry = !r["query"]["dryRun"].is_null();
                !(read || inspection || dry)
            })
            .collect()
    }

    /// Run our binary against the emulator (`--kubeconfig` appended).
    pub fn tingyun(&self, args: &[&str]) -> Output {
        self.tingyun_env(args, &[])
    }

    pub fn tingyun_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = super::bin();
        cmd.args(args)
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .stdin(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().expect("run kubectl-tingyun")
    }

    /// A fresh copy of a test fixture in this emulator's directory.
    pub fn fixture(&self, name: &str, as_name: &str) -> PathBuf {
        let dst = self.dir().join(as_name);
        std::fs::copy(super::fixture_path(name), &dst).unwrap();
        dst
    }

    /// Write a file into this emulator's directory.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir().join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    /// Run the real kubectl against the emulator.
    pub fn kubectl(&self, args: &[&str]) -> Output {
        Command::new(super::KUBECTL)
            .args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("HOME", self.dir.path())
            .stdin(Stdio::null())
            .output()
            .expect("the real kubectl is needed for these tests")
    }

    /// Run kubectl and require success.
    pub fn kubectl_ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        assert!(
            out.status.success(),
            "kubectl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Wait (bounded) until `f` holds.
    pub fn until(&self, what: &str, f: impl Fn(&Emulator) -> bool) {
        for _ in 0..300 {
            if f(self) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("timed out waiting for {what}");
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
