//! `fault_proxy.py` in front of a real registry: 413 for large request
//! bodies (nginx's `client_max_body_size`), 5xx answers or connection
//! resets for the first N requests of a method. Dies with the value.
use std::path::{Path, PathBuf};
use std::process::{Child, Command};

use serde_json::Value;

pub struct FaultProxy {
    child: Child,
    pub port: u16,
    pub log: PathBuf,
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl FaultProxy {
    /// Start in front of `upstream` (`HOST:PORT`). `max_body`: answer 413
    /// to larger bodies; `fails`: `METHOD:N:KIND` (KIND a status code or
    /// `reset`).
    pub fn start(dir: &Path, upstream: &str, max_body: Option<u64>, fails: &[&str]) -> FaultProxy {
        super::registry::require_tool("python3");
        let log = dir.join("proxy.log");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/support/fault_proxy.py");
        let mut cmd = Command::new("python3");
        cmd.arg(script)
            .args(["--upstream", upstream])
            .arg("--log")
            .arg(&log);
        if let Some(m) = max_body {
            cmd.args(["--max-body", &m.to_string()]);
        }
        for f in fails {
            cmd.args(["--fail", f]);
        }
        let (child, port) =
            super::registry::spawn_printing_port(&mut cmd, "fault_proxy.py (python3)");
        FaultProxy { child, port, log }
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The requests seen so far (method, path, length, action, status).
    pub fn requests(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}
