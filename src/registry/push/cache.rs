//! What earlier pushes learnt, kept in the user's cache directory
//! (`$XDG_CACHE_HOME/kubectl-tingyun/push-cache.json`, else
//! `~/.cache/...`): the gzip digest of each uncompressed layer (so a re-run
//! asks the registry before compressing anything), and per source/options
//! the digests the tags got (so an unchanged re-run only compares tags).
//! Losing it costs time, never correctness: the registry is always asked.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Default, Serialize, Deserialize)]
struct Data {
    #[serde(default)]
    layers: BTreeMap<String, (String, u64)>,
    #[serde(default)]
    runs: BTreeMap<String, Vec<Value>>,
}

pub struct Cache {
    path: Option<PathBuf>,
    data: Mutex<Data>,
}

impl Cache {
    pub fn load() -> Cache {
        let path = cache_dir().map(|d| d.join("push-cache.json"));
        let data = path
            .as_ref()
            .and_then(|p| std::fs::read(p).ok())
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        Cache {
            path,
            data: Mutex::new(data),
        }
    }

    /// The gzip digest and size an uncompressed layer got.
    pub fn layer(&self, diff_id: &str) -> Option<(String, u64)> {
        self.data.lock().ok()?.layers.get(diff_id).cloned()
    }

    pub fn set_layer(&self, diff_id: &str, digest: &str, size: u64) {
        if let Ok(mut d) = self.data.lock() {
            d.layers
                .insert(diff_id.to_string(), (digest.to_string(), size));
        }
    }

    pub fn run(&self, key: &str) -> Option<Vec<Value>> {
        self.data.lock().ok()?.runs.get(key).cloned()
    }

    pub fn set_run(&self, key: &str, reports: Vec<Value>) {
        if let Ok(mut d) = self.data.lock() {
            d.runs.insert(key.to_string(), reports);
        }
    }

    /// Write the cache (atomically); failures are ignored.
    pub fn save(&self) {
        let Some(path) = &self.path else { return };
        let Ok(d) = self.data.lock() else { return };
        let Ok(bytes) = serde_json::to_vec(&*d) else {
            return;
        };
        let _ = write_atomic(path, &bytes);
    }
}

fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = tempfile::NamedTempFile::new_in(dir)?;
    std::fs::write(tmp.path(), bytes)?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

fn cache_dir() -> Option<PathBuf> {
    if let Some(x) = std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(x).join("kubectl-tingyun"));
    }
    let home = std::env::var_os("HOME").filter(|v| !v.is_empty())?;
    Some(PathBuf::from(home).join(".cache").join("kubectl-tingyun"))
}
