//! Real registries for tests: Debian's `docker-registry` (CNCF distribution
//! 2.8) started on a free loopback port, plain, with htpasswd Basic auth,
//! with TLS from a CA generated here, or with token auth backed by
//! `token_service.py`; and test images built as OCI layouts here and pushed
//! with the real `skopeo` (no network). Missing tools are test failures,
//! never skips. Everything dies with the value.
use std::io::{BufRead as _, BufReader, Read as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

pub const REGISTRY_BIN: &str = "docker-registry";
pub const SKOPEO: &str = "skopeo";

/// Fail (not skip) when a tool is missing, saying how CI installs it.
pub fn require_tool(tool: &str) {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
        .unwrap_or(false);
    assert!(
        found,
        "{tool} is required by this test and is not on PATH; install it \
         (apt-get install docker-registry skopeo apache2-utils openssl; .ci/run does)"
    );
}

/// How the registry authenticates.
#[derive(Debug, Clone)]
pub enum Auth {
    None,
    /// htpasswd (bcrypt) with these users.
    Basic(Vec<(String, String)>),
    /// Bearer tokens from a token service: users with passwords and
    /// repository globs -> actions; user "" = anonymous.
    Token(Value),
}

pub struct Registry {
    child: Child,
    token: Option<TokenService>,
    pub port: u16,
    pub tls: bool,
    pub dir: tempfile::TempDir,
}

pub struct TokenService {
    child: Child,
    pub port: u16,
    pub log: PathBuf,
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(t) = &mut self.token {
            let _ = t.child.kill();
            let _ = t.child.wait();
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn sh(cmd: &mut Command) -> Vec<u8> {
    let out = cmd.output().unwrap_or_else(|e| panic!("run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A CA and a server certificate for 127.0.0.1/localhost signed by it
/// (`ca.crt`, `server.crt`, `server.key` in `dir`).
pub fn make_tls(dir: &Path) {
    require_tool("openssl");
    std::fs::create_dir_all(dir).unwrap();
    let o = |args: &[&str]| {
        sh(Command::new("openssl").args(args).current_dir(dir));
    };
    o(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "2",
        "-subj",
        "/CN=tingyun test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    o(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=localhost",
    ]);
    std::fs::write(
        dir.join("ext.cnf"),
        "basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n\
         keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    o(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.crt",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
    ]);
}

impl Registry {
    pub fn plain() -> Registry {
        Registry::start(Auth::None, false)
    }

    pub fn start(auth: Auth, tls: bool) -> Registry {
        require_tool(REGISTRY_BIN);
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().to_path_buf();
        let mut token = None;
        let auth_cfg = match &auth {
            Auth::None => String::new(),
            Auth::Basic(users) => {
                require_tool("htpasswd");
                let mut lines = String::new();
                for (u, p) in users {
                    let out = sh(Command::new("htpasswd").args(["-Bbn", u, p]));
                    lines.push_str(String::from_utf8(out).unwrap().trim_end());
                    lines.push('\n');
                }
                std::fs::write(d.join("htpasswd"), lines).unwrap();
                format!(
                    "auth: {{htpasswd: {{realm: test-realm, path: {}}}}}\n",
                    d.join("htpasswd").display()
                )
            }
            Auth::Token(users) => {
                let t = TokenService::start(&d, users);
                let cfg = format!(
                    "auth:\n  token:\n    realm: http://127.0.0.1:{}/service/token\n    \
                     service: harbor-registry\n    issuer: test-issuer\n    rootcertbundle: {}\n",
                    t.port,
                    d.join("token.crt").display()
                );
                token = Some(t);
                cfg
            }
        };
        if tls {
            make_tls(&d.join("tls"));
        }
        for _attempt in 0..5 {
            let port = free_port();
            let tls_cfg = if tls {
                format!(
                    "  tls: {{certificate: {}, key: {}}}\n",
                    d.join("tls/server.crt").display(),
                    d.join("tls/server.key").display()
                )
            } else {
                String::new()
            };
            let config = format!(
                "version: 0.1\nlog: {{level: warn}}\nstorage: {{filesystem: {{rootdirectory: {}}}, \
                 delete: {{enabled: true}}}}\nhttp:\n  addr: 127.0.0.1:{port}\n  secret: test-secret\n\
                 {tls_cfg}{auth_cfg}",
                d.join("data").display()
            );
            std::fs::write(d.join("config.yml"), config).unwrap();
            let mut child = Command::new(REGISTRY_BIN)
                .env_clear()
                .env("PATH", "/usr/bin:/bin")
                .arg("serve")
                .arg(d.join("config.yml"))
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start docker-registry");
            let deadline = Instant::now() + Duration::from_secs(15);
            loop {
                if let Some(_status) = child.try_wait().unwrap() {
                    let mut err = String::new();
                    child.stderr.take().unwrap().read_to_string(&mut err).ok();
                    assert!(
                        err.contains("address already in use"),
                        "docker-registry exited: {err}"
                    );
                    break;
                }
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Registry {
                        child,
                        token,
                        port,
                        tls,
                        dir,
                    };
                }
                assert!(Instant::now() < deadline, "docker-registry did not start");
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        panic!("no free port for docker-registry after 5 attempts");
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("tls/ca.crt")
    }

    pub fn token_log(&self) -> Vec<Value> {
        let Some(t) = &self.token else {
            return Vec::new();
        };
        std::fs::read_to_string(&t.log)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// skopeo's destination flags for this registry.
    fn skopeo_dest(&self, creds: Option<(&str, &str)>) -> Vec<String> {
        let mut args = Vec::new();
        if self.tls {
            let certs = self.dir.path().join("skopeo-certs");
            std::fs::create_dir_all(&certs).unwrap();
            std::fs::copy(self.ca_file(), certs.join("ca.crt")).unwrap();
            args.push(format!("--dest-cert-dir={}", certs.display()));
        } else {
            args.push("--dest-tls-verify=false".into());
        }
        if let Some((u, p)) = creds {
            let file = self.dir.path().join("skopeo-auth.json");
            write_auth_json(&file, &self.host(), u, p);
            args.push(format!("--dest-authfile={}", file.display()));
        }
        args
    }

    /// Push `layout` as `REPO:TAG` with the real skopeo.
    pub fn push(&self, layout: &Layout, repo_tag: &str, creds: Option<(&str, &str)>) {
        require_tool(SKOPEO);
        let mut cmd = Command::new(SKOPEO);
        cmd.args(["copy", "-q", "--all"]);
        if layout.docker {
            cmd.arg("--format=v2s2");
        } else {
            cmd.arg("--preserve-digests");
        }
        cmd.args(self.skopeo_dest(creds));
        cmd.arg(format!(
            "oci:{}:{}",
            layout.dir.path().display(),
            layout.tag
        ));
        cmd.arg(format!("docker://{}/{repo_tag}", self.host()));
        cmd.env_remove("REGISTRY_AUTH_FILE");
        sh(&mut cmd);
    }

    /// What skopeo says about `REPO:TAG` (`inspect --raw`), as a reference.
    pub fn skopeo_raw(&self, repo_tag: &str, creds: Option<(&str, &str)>) -> Vec<u8> {
        let mut cmd = Command::new(SKOPEO);
        cmd.args(["inspect", "--raw"]);
        for a in self.skopeo_dest(creds) {
            cmd.arg(a.replace("--dest-", "--"));
        }
        cmd.arg(format!("docker://{}/{repo_tag}", self.host()));
        sh(&mut cmd)
    }
}

/// A podman/skopeo/docker `auth.json` for one registry.
pub fn write_auth_json(file: &Path, host: &str, user: &str, password: &str) {
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    std::fs::write(file, json!({"auths": {host: {"auth": auth}}}).to_string()).unwrap();
}

impl TokenService {
    fn start(dir: &Path, users: &Value) -> TokenService {
        require_tool("openssl");
        sh(Command::new("openssl").current_dir(dir).args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "token.key",
            "-out",
            "token.crt",
            "-days",
            "2",
            "-subj",
            "/CN=token-signer",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
        ]));
        std::fs::write(dir.join("users.json"), users.to_string()).unwrap();
        let log = dir.join("token.log");
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/support/token_service.py");
        let mut cmd = Command::new("python3");
        cmd.arg(script)
            .arg("--key")
            .arg(dir.join("token.key"))
            .arg("--cert")
            .arg(dir.join("token.crt"))
            .arg("--users")
            .arg(dir.join("users.json"))
            .arg("--log")
            .arg(&log);
        let (child, port) = spawn_printing_port(&mut cmd, "the token service");
        TokenService { child, port, log }
    }
}

/// An OCI image layout written by hand: one tiny layer, one config and one
/// manifest per platform, and (for several platforms) an index.
pub struct Layout {
    pub dir: tempfile::TempDir,
    pub tag: String,
    /// Push as Docker schema 2 / manifest list instead of OCI.
    pub docker: bool,
    /// Digest of the top manifest (index, or the single manifest).
    pub digest: String,
}

fn sha256(bytes: &[u8]) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, bytes);
    let hex: String = d.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

impl Layout {
    /// `platforms` like `["linux/amd64", "linux/arm64/v8"]`; one platform
    /// and `index == false` gives a single-platform image without index.
    pub fn new(platforms: &[&str], index: bool, docker: bool) -> Layout {
        let dir = tempfile::tempdir().unwrap();
        let blobs = dir.path().join("blobs/sha256");
        std::fs::create_dir_all(&blobs).unwrap();
        let put = |bytes: &[u8]| -> (String, usize) {
            let d = sha256(bytes);
            std::fs::write(blobs.join(&d[7..]), bytes).unwrap();
            (d, bytes.len())
        };
        let mut descs = Vec::new();
        for p in platforms {
            let parts: Vec<&str> = p.split('/').collect();
            // A real (if tiny) tar layer holding one file naming the platform.
            let layer = tiny_tar("platform.txt", p.as_bytes());
            let (layer_digest, layer_size) = put(&layer);
            let mut cfg = json!({"architecture": parts[1], "os": parts[0],
                "rootfs": {"type": "layers", "diff_ids": [layer_digest]}, "config": {}});
            if let Some(v) = parts.get(2) {
                cfg["variant"] = json!(v);
            }
            let (cfg_digest, cfg_size) = put(cfg.to_string().as_bytes());
            let manifest = json!({"schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                           "digest": cfg_digest, "size": cfg_size},
                "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                            "digest": layer_digest, "size": layer_size}]});
            let (m_digest, m_size) = put(manifest.to_string().as_bytes());
            let mut platform = json!({"architecture": parts[1], "os": parts[0]});
            if let Some(v) = parts.get(2) {
                platform["variant"] = json!(v);
            }
            descs.push(
                json!({"mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": m_digest, "size": m_size, "platform": platform}),
            );
        }
        let tag = "t".to_string();
        let top = if index || descs.len() > 1 {
            let idx = json!({"schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": descs});
            let (d, s) = put(idx.to_string().as_bytes());
            json!({"mediaType": "application/vnd.oci.image.index.v1+json", "digest": d, "size": s})
        } else {
            let mut d = descs[0].clone();
            d.as_object_mut().unwrap().remove("platform");
            d
        };
        let digest = top["digest"].as_str().unwrap().to_string();
        let mut top = top;
        top["annotations"] = json!({"org.opencontainers.image.ref.name": tag});
        std::fs::write(
            dir.path().join("index.json"),
            json!({"schemaVersion": 2, "manifests": [top]}).to_string(),
        )
        .unwrap();
        std::fs::write(
            dir.path().join("oci-layout"),
            r#"{"imageLayoutVersion":"1.0.0"}"#,
        )
        .unwrap();
        Layout {
            dir,
            tag,
            docker,
            digest,
        }
    }
}

/// A one-file ustar archive.
pub fn tiny_tar(name: &str, content: &[u8]) -> Vec<u8> {
    let mut h = [0u8; 512];
    h[..name.len()].copy_from_slice(name.as_bytes());
    h[100..108].copy_from_slice(b"0000644\0");
    h[108..116].copy_from_slice(b"0000000\0");
    h[116..124].copy_from_slice(b"0000000\0");
    h[124..136].copy_from_slice(format!("{:011o}\0", content.len()).as_bytes());
    h[136..148].copy_from_slice(b"00000000000\0");
    h[156] = b'0';
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| b as u32).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    let mut out = h.to_vec();
    out.extend_from_slice(content);
    out.resize(out.len().div_ceil(512) * 512, 0);
    out.extend_from_slice(&[0u8; 1024]);
    out
}

/// Start a helper script that prints the port it listens on as its first
/// line of standard output; `what` names it in the panic if it does not.
pub fn spawn_printing_port(cmd: &mut Command, what: &str) -> (Child, u16) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("start {what}: {e}"));
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("{what} did not print its port: {line:?}"));
    (child, port)
}
