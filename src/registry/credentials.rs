//! Registry credentials and where they come from, in the order `images
//! --check` asks: the command line (`--username` with `--password-stdin` or
//! `TINGYUN_REGISTRY_PASSWORD`), the pull secrets of the cluster
//! (`--from-cluster`: `.dockerconfigjson`), the user's docker login
//! (`config.json` `auths`, `credHelpers`, `credsStore`) and podman's
//! `auth.json`. Passwords are never printed: [`Credentials`]'s `Debug` hides
//! them and error texts never include them.
use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// A user name and password (or robot token).
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl Credentials {
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        Credentials {
            username: username.into(),
            password: password.into(),
        }
    }

    /// The value of an `Authorization: Basic` header.
    pub fn basic_header(&self) -> String {
        let raw = format!("{}:{}", self.username, self.password);
        format!("Basic {}", STANDARD.encode(raw))
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<hidden>")
            .finish()
    }
}

/// Credentials found for a registry, and where they came from (for messages:
/// "the credentials of secret tingyun/tingyun-image-secret were refused").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub credentials: Credentials,
    pub origin: String,
}

/// One place credentials come from.
#[derive(Debug, Clone)]
enum Source {
    /// Used for every registry (`--username`).
    Fixed { creds: Credentials, origin: String },
    /// A docker config / dockerconfigjson / auth.json.
    Config {
        origin: String,
        auths: BTreeMap<String, Credentials>,
        helpers: BTreeMap<String, String>,
        store: Option<String>,
    },
}

/// An ordered list of credential sources; the first that knows a registry
/// wins.
#[derive(Debug, Clone, Default)]
pub struct CredentialStore {
    sources: Vec<Source>,
    /// Non-fatal problems met while reading (unreadable files, ...).
    pub warnings: Vec<String>,
}

/// Where the user's docker/podman logins live. Built from the environment by
/// the command line; tests give their own.
#[derive(Debug, Clone, Default)]
pub struct UserConfigPaths {
    /// `$DOCKER_CONFIG` (a directory holding `config.json`).
    pub docker_config_dir: Option<PathBuf>,
    /// `$HOME`, for `~/.docker/config.json`.
    pub home: Option<PathBuf>,
    /// `$REGISTRY_AUTH_FILE` (podman, skopeo).
    pub registry_auth_file: Option<PathBuf>,
    /// `$XDG_RUNTIME_DIR`, for podman's default `containers/auth.json`.
    pub xdg_runtime_dir: Option<PathBuf>,
}

impl UserConfigPaths {
    pub fn from_env() -> Self {
        let var = |k: &str| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        UserConfigPaths {
            docker_config_dir: var("DOCKER_CONFIG"),
            home: var("HOME"),
            registry_auth_file: var("REGISTRY_AUTH_FILE"),
            xdg_runtime_dir: var("XDG_RUNTIME_DIR"),
        }
    }

    /// The files to read, in order: docker's `config.json`, then podman's
    /// `auth.json`.
    pub fn files(&self) -> Vec<PathBuf> {
        let mut files = Vec::new();
        match (&self.docker_config_dir, &self.home) {
            (Some(dir), _) => files.push(dir.join("config.json")),
            (None, Some(home)) => files.push(home.join(".docker").join("config.json")),
            (None, None) => {}
        }
        match (&self.registry_auth_file, &self.xdg_runtime_dir) {
            (Some(f), _) => files.push(f.clone()),
            (None, Some(dir)) => files.push(dir.join("containers").join("auth.json")),
            (None, None) => {}
        }
        files
    }
}

/// The registry key a docker config uses for `registry`: Docker Hub is
/// `https://index.docker.io/v1/` there; others are `HOST[:PORT]`, sometimes
/// with a scheme or path.
pub fn normalize_key(key: &str) -> String {
    let k = key.trim();
    let k = k
        .strip_prefix("https://")
        .or_else(|| k.strip_prefix("http://"))
        .unwrap_or(k);
    let k = k.split('/').next().unwrap_or(k).to_ascii_lowercase();
    match k.as_str() {
        "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => {
            "docker.io".to_string()
        }
        _ => k,
    }
}

impl CredentialStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// `--username` and its password: used for every registry.
    pub fn push_fixed(&mut self, creds: Credentials, origin: impl Into<String>) {
        self.sources.push(Source::Fixed {
            creds,
            origin: origin.into(),
        });
    }

    /// A docker config (`config.json`, `auth.json`, a secret's
    /// `.dockerconfigjson`) or an old `.dockercfg` (a bare `auths` map).
    /// `origin` names it in messages. Errors say what is wrong, not the
    /// secrets in it.
    pub fn push_docker_config(&mut self, bytes: &[u8], origin: &str) -> Result<(), String> {
        let v: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| format!("{origin}: not valid JSON ({e})"))?;
        let obj = v
            .as_object()
            .ok_or_else(|| format!("{origin}: expected a JSON object"))?;
        let auths_value = match obj.get("auths") {
            Some(a) => a.clone(),
            // .dockercfg: the map itself, if its values look like entries.
            None if obj
                .values()
                .all(|e| e.get("auth").is_some() || e.get("username").is_some()) =>
            {
                v.clone()
            }
            None => serde_json::Value::Object(Default::default()),
        };
        let mut auths = BTreeMap::new();
        if let Some(map) = auths_value.as_object() {
            for (key, entry) in map {
                match entry_credentials(entry) {
                    Ok(Some(c)) => {
                        auths.entry(normalize_key(key)).or_insert(c);
                    }
                    Ok(None) => {}
                    Err(why) => self.warnings.push(format!("{origin}: {key:?}: {why}")),
                }
            }
        }
        let mut helpers = BTreeMap::new();
        if let Some(map) = obj.get("credHelpers").and_then(|h| h.as_object()) {
            for (key, helper) in map {
                if let Some(h) = helper.as_str().filter(|h| !h.is_empty()) {
                    helpers.insert(normalize_key(key), h.to_string());
                }
            }
        }
        let store = obj
            .get("credsStore")
            .and_then(|s| s.as_str())
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        self.sources.push(Source::Config {
            origin: origin.to_string(),
            auths,
            helpers,
            store,
        });
        Ok(())
    }

    /// Read the user's docker and podman logins. Missing files are fine;
    /// unreadable or broken ones become warnings.
    pub fn push_user_config(&mut self, paths: &UserConfigPaths) {
        for file in paths.files() {
            self.push_file(&file);
        }
    }

    fn push_file(&mut self, file: &Path) {
        match std::fs::read(file) {
            Ok(bytes) => {
                if let Err(e) = self.push_docker_config(&bytes, &file.display().to_string()) {
                    self.warnings.push(e);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => self
                .warnings
                .push(format!("{}: cannot read it ({e})", file.display())),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.sources.is_empty()
    }

    /// The credentials for `registry` (`HOST[:PORT]`, or `docker.io`), from
    /// the first source that has some. A credential helper that fails is an
    /// error (its message, never a secret).
    pub fn lookup(&self, registry: &str) -> Result<Option<Found>, String> {
        let key = normalize_key(registry);
        for source in &self.sources {
            match source {
                Source::Fixed { creds, origin } => {
                    return Ok(Some(Found {
                        credentials: creds.clone(),
                        origin: origin.clone(),
                    }));
                }
                Source::Config {
                    origin,
                    auths,
                    helpers,
                    store,
                } => {
                    if let Some(helper) = helpers.get(&key) {
                        if let Some(c) = run_helper(helper, &key)? {
                            return Ok(Some(Found {
                                credentials: c,
                                origin: format!("{origin} (docker-credential-{helper})"),
                            }));
                        }
                        continue;
                    }
                    if let Some(c) = auths.get(&key) {
                        return Ok(Some(Found {
                            credentials: c.clone(),
                            origin: origin.clone(),
                        }));
                    }
                    if let Some(helper) = store
                        && let Some(c) = run_helper(helper, &key)?
                    {
                        return Ok(Some(Found {
                            credentials: c,
                            origin: format!("{origin} (docker-credential-{helper})"),
                        }));
                    }
                }
            }
        }
        Ok(None)
    }
}

/// The user name and password of one `auths` entry: `auth` (base64 of
/// `user:password`) or `username`/`password`. An entry with only an
/// `identitytoken` (OAuth refresh token) is not supported: `None`.
fn entry_credentials(entry: &serde_json::Value) -> Result<Option<Credentials>, String> {
    if let Some(auth) = entry
        .get("auth")
        .and_then(|a| a.as_str())
        .filter(|a| !a.is_empty())
    {
        let decoded = STANDARD
            .decode(auth.trim())
            .map_err(|_| "\"auth\" is not base64".to_string())?;
        let text =
            String::from_utf8(decoded).map_err(|_| "\"auth\" is not UTF-8 text".to_string())?;
        let Some((user, pass)) = text.split_once(':') else {
            return Err("\"auth\" does not decode to USER:PASSWORD".into());
        };
        return Ok(Some(Credentials::new(user, pass)));
    }
    let user = entry.get("username").and_then(|u| u.as_str());
    let pass = entry.get("password").and_then(|p| p.as_str());
    match (user, pass) {
        (Some(u), Some(p)) if !u.is_empty() => Ok(Some(Credentials::new(u, p))),
        _ => Ok(None),
    }
}

/// Run `docker-credential-HELPER get` with the server on stdin, as docker
/// does. "credentials not found" is `None`.
fn run_helper(helper: &str, registry_key: &str) -> Result<Option<Credentials>, String> {
    let program = format!("docker-credential-{helper}");
    let server = if registry_key == "docker.io" {
        "https://index.docker.io/v1/".to_string()
    } else {
        registry_key.to_string()
    };
    let mut child = Command::new(&program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            format!(
                "credential helper {program} (named in the docker config) cannot be run: {e}; \
                 install it or remove it from config.json"
            )
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(server.as_bytes());
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("credential helper {program}: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        if stdout.contains("credentials not found") || stdout.trim().is_empty() {
            return Ok(None);
        }
        return Err(format!(
            "credential helper {program} failed for {server}: {}",
            stdout.trim()
        ));
    }
    let v: serde_json::Value = serde_json::from_str(&stdout)
        .map_err(|_| format!("credential helper {program} printed something that is not JSON"))?;
    let user = v.get("Username").and_then(|u| u.as_str()).unwrap_or("");
    let secret = v.get("Secret").and_then(|u| u.as_str()).unwrap_or("");
    if secret.is_empty() {
        return Ok(None);
    }
    Ok(Some(Credentials::new(user, secret)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_normalize_like_docker() {
        assert_eq!(normalize_key("https://index.docker.io/v1/"), "docker.io");
        assert_eq!(
            normalize_key("http://Harbor.Example.com:5000/v2/"),
            "harbor.example.com:5000"
        );
        assert_eq!(normalize_key("10.0.0.5:5000"), "10.0.0.5:5000");
    }

    #[test]
    fn robot_names_and_awkward_passwords_survive_auth_and_fields() {
        let pass = "p$a+s:s\"w 密码";
        let auth = STANDARD.encode(format!("robot$apm+pull:{pass}"));
        let cfg = format!(
            r#"{{"auths":{{"harbor.example.com":{{"auth":"{auth}"}},
                "https://other.example.com/v1/":{{"username":"u","password":"x"}}}}}}"#
        );
        let mut store = CredentialStore::new();
        store
            .push_docker_config(cfg.as_bytes(), "secret a/b")
            .unwrap();
        let found = store.lookup("harbor.example.com").unwrap().unwrap();
        assert_eq!(found.credentials, Credentials::new("robot$apm+pull", pass));
        assert_eq!(found.origin, "secret a/b");
        assert_eq!(
            store
                .lookup("other.example.com")
                .unwrap()
                .unwrap()
                .credentials
                .username,
            "u"
        );
        assert!(store.lookup("harbor.example.com:5000").unwrap().is_none());
        assert!(!format!("{found:?}").contains("密码"));
    }

    #[test]
    fn first_source_wins_and_fixed_covers_every_host() {
        let mut store = CredentialStore::new();
        store
            .push_docker_config(
                br#"{"auths":{"a.io":{"auth":"dTE6cDE="}}}"#, // u1:p1
                "first",
            )
            .unwrap();
        store.push_fixed(Credentials::new("cli", "pw"), "--username");
        assert_eq!(
            store.lookup("a.io").unwrap().unwrap().credentials.username,
            "u1"
        );
        assert_eq!(
            store.lookup("b.io").unwrap().unwrap().credentials.username,
            "cli"
        );
    }

    #[test]
    fn broken_entries_are_warnings_not_panics() {
        let mut store = CredentialStore::new();
        store
            .push_docker_config(br#"{"auths":{"a.io":{"auth":"%%%"}}}"#, "f")
            .unwrap();
        assert_eq!(store.warnings.len(), 1);
        assert!(store.push_docker_config(b"[1]", "f").is_err());
        assert!(store.push_docker_config(b"{", "f").is_err());
    }

    #[test]
    fn missing_helper_is_an_error_naming_it() {
        let mut store = CredentialStore::new();
        store
            .push_docker_config(br#"{"credsStore":"tingyun-test-absent"}"#, "cfg")
            .unwrap();
        let e = store.lookup("x.io").unwrap_err();
        assert!(e.contains("docker-credential-tingyun-test-absent"), "{e}");
    }
}
