//! A saved profile: the flags of a first install, kept in a YAML file so
//! that an upgrade is `kubectl tingyun patch tingyunagent.yaml --apply` on
//! the fresh download.
//!
//! Where it is read from: `--config FILE`; else `tingyun.yaml` beside the
//! manifest (the current directory for standard input and for `secret`);
//! else `$XDG_CONFIG_HOME/kubectl-tingyun/config.yaml` (default
//! `~/.config/kubectl-tingyun/config.yaml`). Flags given on the command line
//! override it. Every key is the long name of the flag it stands for:
//!
//! ```yaml
//! registry: harbor.example.com/apm
//! pull-secret: tingyun-image-secret        # or true: the default name
//! inject-pull-secret: tingyun-image-secret
//! http-registry: true                      # or "host[:port],..."
//! insecure-registry: "10.0.0.5:5000"
//! dns-config: '{"nameservers":["10.0.0.2"]}'
//! host-aliases: '[{"ip":"10.0.0.5","hostnames":["registry.local"]}]'
//! annotation: ["example.com/team=apm"]
//! namespace: tingyun
//! context: prod-cluster
//! kubeconfig: /home/me/.kube/prod
//! secret:                                  # for `kubectl tingyun secret`
//!   server: harbor.example.com
//!   username: robot$tingyun+pull
//!   name: tingyun-image-secret
//!   namespace: [tingyun, shop]
//!   injected-namespaces: true
//! ```
//!
//! The password is never stored (a `password` key is an error). Unknown
//! keys and bad values are errors at `FILE:LINE:COL`.
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use saphyr::{LoadableYamlNode, MarkedYaml, Scalar, YamlData};

use crate::cluster::apply::ApplyOptions;
use crate::cluster::connect::ConnectOptions;
use crate::cluster::secret::SecretOptions;
use crate::error::Located;
use crate::names::DEFAULT_SECRET_NAME;
use crate::patch::PatchOptions;
use crate::patch::options as check;

/// The file name looked for beside the manifest.
pub const BESIDE_MANIFEST: &str = "tingyun.yaml";

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Profile {
    pub registry: Option<String>,
    pub pull_secret: Option<String>,
    pub inject_pull_secret: Option<String>,
    /// `Some(None)`: the host of `registry`.
    pub http_registry: Option<Option<String>>,
    pub insecure_registry: Option<Option<String>>,
    pub dns_config: Option<String>,
    pub host_aliases: Option<String>,
    /// `KEY=VALUE`.
    pub annotations: Vec<String>,
    pub namespace: Option<String>,
    pub context: Option<String>,
    pub kubeconfig: Option<String>,
    pub secret: SecretProfile,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecretProfile {
    pub server: Option<String>,
    pub username: Option<String>,
    pub name: Option<String>,
    pub namespaces: Vec<String>,
    pub injected_namespaces: Option<bool>,
}

/// A profile and the file it came from.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub path: PathBuf,
    pub profile: Profile,
}

/// The default places, in order, for a manifest at `manifest` (`None`:
/// standard input or no manifest).
pub fn default_paths(manifest: Option<&Path>) -> Vec<PathBuf> {
    let dir = manifest
        .and_then(Path::parent)
        .map(|d| {
            if d.as_os_str().is_empty() {
                Path::new(".")
            } else {
                d
            }
        })
        .unwrap_or(Path::new("."));
    let mut paths = vec![dir.join(BESIDE_MANIFEST)];
    if let Some(user) = user_config() {
        paths.push(user);
    }
    paths
}

/// `$XDG_CONFIG_HOME/kubectl-tingyun/config.yaml`, else under `~/.config`.
pub fn user_config() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(".config"))
        })?;
    Some(base.join("kubectl-tingyun").join("config.yaml"))
}

/// Read the profile: `explicit` must exist; otherwise the first default
/// place that exists, or none.
pub fn load(explicit: Option<&Path>, manifest: Option<&Path>) -> anyhow::Result<Option<Loaded>> {
    let path = match explicit {
        Some(p) => p.to_path_buf(),
        None => match default_paths(manifest).into_iter().find(|p| p.is_file()) {
            Some(p) => p,
            None => return Ok(None),
        },
    };
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read the profile {}", path.display()))?;
    let profile = parse(&path.display().to_string(), &text)?;
    Ok(Some(Loaded { path, profile }))
}

fn at(label: &str, node: &MarkedYaml, msg: impl Into<String>) -> Located {
    let m = node.span.start;
    Located::new(label, m.line().max(1), m.col() + 1, msg)
}

fn string(label: &str, key: &str, node: &MarkedYaml) -> Result<String, Located> {
    match &node.data {
        YamlData::Value(Scalar::String(s)) => Ok(s.to_string()),
        YamlData::Value(Scalar::Integer(i)) => Ok(i.to_string()),
        _ => Err(at(label, node, format!("{key}: expected a string"))),
    }
}

/// A string, or `true` (= `on_true`); `false`/null = not set.
fn string_or_true(
    label: &str,
    key: &str,
    node: &MarkedYaml,
) -> Result<Option<Option<String>>, Located> {
    match &node.data {
        YamlData::Value(Scalar::Boolean(true)) => Ok(Some(None)),
        YamlData::Value(Scalar::Boolean(false)) | YamlData::Value(Scalar::Null) => Ok(None),
        YamlData::Value(Scalar::String(s)) => Ok(Some(Some(s.to_string()))),
        _ => Err(at(label, node, format!("{key}: expected a string or true"))),
    }
}

fn strings(label: &str, key: &str, node: &MarkedYaml) -> Result<Vec<String>, Located> {
    match &node.data {
        YamlData::Sequence(items) => items.iter().map(|i| string(label, key, i)).collect(),
        YamlData::Value(Scalar::String(s)) => Ok(vec![s.to_string()]),
        _ => Err(at(
            label,
            node,
            format!("{key}: expected a list of strings"),
        )),
    }
}

/// JSON text for a value given as a JSON string or as YAML structure.
fn json_text(label: &str, key: &str, node: &MarkedYaml) -> Result<String, Located> {
    match &node.data {
        YamlData::Value(Scalar::String(s)) => Ok(s.to_string()),
        YamlData::Mapping(_) | YamlData::Sequence(_) => Ok(to_json(node).to_string()),
        _ => Err(at(
            label,
            node,
            format!("{key}: expected JSON text or a YAML mapping/list"),
        )),
    }
}

fn to_json(node: &MarkedYaml) -> serde_json::Value {
    use serde_json::Value;
    match &node.data {
        YamlData::Value(Scalar::String(s)) => Value::String(s.to_string()),
        YamlData::Value(Scalar::Integer(i)) => Value::from(*i),
        YamlData::Value(Scalar::Boolean(b)) => Value::Bool(*b),
        YamlData::Value(Scalar::FloatingPoint(f)) => Value::from(f.into_inner()),
        YamlData::Sequence(items) => Value::Array(items.iter().map(to_json).collect()),
        YamlData::Mapping(m) => Value::Object(
            m.iter()
                .map(|(k, v)| {
                    let key = match &k.data {
                        YamlData::Value(Scalar::String(s)) => s.to_string(),
                        _ => to_json(k).to_string(),
                    };
                    (key, to_json(v))
                })
                .collect(),
        ),
        _ => Value::Null,
    }
}

/// Check a value with one of `patch`'s validators; its message located.
fn valid<T>(label: &str, key: &str, node: &MarkedYaml, r: anyhow::Result<T>) -> Result<T, Located> {
    r.map_err(|e| at(label, node, format!("{key}: {e:#}")))
}

/// Parse a profile. `label` names the file in errors.
pub fn parse(label: &str, text: &str) -> Result<Profile, Located> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let docs = MarkedYaml::load_from_str(text).map_err(|e| {
        let m = e.marker();
        Located::new(label, m.line().max(1), m.col() + 1, e.info().to_string())
    })?;
    let mut profile = Profile::default();
    let Some(root) = docs.first() else {
        return Ok(profile);
    };
    if docs.len() > 1 {
        return Err(at(
            label,
            &docs[1],
            "a profile is one YAML document; remove the `---` and what follows",
        ));
    }
    let map = match &root.data {
        YamlData::Mapping(m) => m,
        YamlData::Value(Scalar::Null) => return Ok(profile),
        _ => {
            return Err(at(
                label,
                root,
                "a profile is a mapping of flag names to values (e.g. `registry: harbor.example.com/apm`)",
            ));
        }
    };
    for (k, v) in map {
        let key = match &k.data {
            YamlData::Value(Scalar::String(s)) => s.to_string(),
            _ => return Err(at(label, k, "keys are flag names (strings)")),
        };
        let p = &mut profile;
        match key.as_str() {
            "registry" => {
                let s = string(label, &key, v)?;
                valid(label, &key, v, check::parse_registry(&s))?;
                p.registry = Some(s);
            }
            "pull-secret" | "inject-pull-secret" => {
                let name = match string_or_true(label, &key, v)? {
                    None => None,
                    Some(None) => Some(DEFAULT_SECRET_NAME.to_string()),
                    Some(Some(s)) => {
                        valid(label, &key, v, check::check_dns_subdomain(&s))?;
                        Some(s)
                    }
                };
                if key == "pull-secret" {
                    p.pull_secret = name;
                } else {
                    p.inject_pull_secret = name;
                }
            }
            "http-registry" | "insecure-registry" => {
                let hosts = string_or_true(label, &key, v)?;
                if let Some(Some(h)) = &hosts {
                    valid(label, &key, v, check::parse_hosts(h))?;
                }
                if key == "http-registry" {
                    p.http_registry = hosts;
                } else {
                    p.insecure_registry = hosts;
                }
            }
            "dns-config" => {
                let json = json_text(label, &key, v)?;
                valid(label, &key, v, check::dns_config(&json))?;
                p.dns_config = Some(json);
            }
            "host-aliases" => {
                let json = json_text(label, &key, v)?;
                valid(label, &key, v, check::host_aliases(&json))?;
                p.host_aliases = Some(json);
            }
            "annotation" | "annotations" => {
                p.annotations = match &v.data {
                    YamlData::Mapping(m) => m
                        .iter()
                        .map(|(ak, av)| {
                            Ok(format!(
                                "{}={}",
                                string(label, &key, ak)?,
                                string(label, &key, av)?
                            ))
                        })
                        .collect::<Result<_, Located>>()?,
                    _ => strings(label, &key, v)?,
                };
                for a in &p.annotations {
                    if !a.contains('=') {
                        return Err(at(label, v, format!("{key}: {a:?} is not KEY=VALUE")));
                    }
                }
            }
            "namespace" => {
                let ns = string(label, &key, v)?;
                valid(label, &key, v, check::check_dns_subdomain(&ns))?;
                p.namespace = Some(ns);
            }
            "context" => p.context = Some(string(label, &key, v)?),
            "kubeconfig" => p.kubeconfig = Some(string(label, &key, v)?),
            "secret" => profile.secret = parse_secret(label, v)?,
            "password" => return Err(password(label, k)),
            other => {
                return Err(at(
                    label,
                    k,
                    format!(
                        "unknown key {other:?}; a profile holds registry, pull-secret, \
                         inject-pull-secret, http-registry, insecure-registry, dns-config, \
                         host-aliases, annotation, namespace, context, kubeconfig and secret \
                         (server, username, name, namespace, injected-namespaces)"
                    ),
                ));
            }
        }
    }
    Ok(profile)
}

fn password(label: &str, node: &MarkedYaml) -> Located {
    at(
        label,
        node,
        "the registry password is never kept in a profile: remove it and pass it with \
         --password-stdin or TINGYUN_REGISTRY_PASSWORD",
    )
}

fn parse_secret(label: &str, node: &MarkedYaml) -> Result<SecretProfile, Located> {
    let YamlData::Mapping(map) = &node.data else {
        return Err(at(
            label,
            node,
            "secret: expected a mapping (server, username, name, namespace, injected-namespaces)",
        ));
    };
    let mut s = SecretProfile::default();
    for (k, v) in map {
        let key = match &k.data {
            YamlData::Value(Scalar::String(s)) => s.to_string(),
            _ => return Err(at(label, k, "keys are flag names (strings)")),
        };
        let full = format!("secret.{key}");
        match key.as_str() {
            "server" => s.server = Some(string(label, &full, v)?),
            "username" => s.username = Some(string(label, &full, v)?),
            "name" => {
                let n = string(label, &full, v)?;
                valid(label, &full, v, check::check_dns_subdomain(&n))?;
                s.name = Some(n);
            }
            "namespace" | "namespaces" => {
                s.namespaces = strings(label, &full, v)?;
                for ns in &s.namespaces {
                    valid(label, &full, v, check::check_dns_subdomain(ns))?;
                }
            }
            "injected-namespaces" => match &v.data {
                YamlData::Value(Scalar::Boolean(b)) => s.injected_namespaces = Some(*b),
                _ => return Err(at(label, v, format!("{full}: expected true or false"))),
            },
            "password" | "password-stdin" => return Err(password(label, k)),
            other => {
                return Err(at(
                    label,
                    k,
                    format!(
                        "unknown key secret.{other}; the secret section holds server, username, \
                         name, namespace and injected-namespaces"
                    ),
                ));
            }
        }
    }
    Ok(s)
}

impl Profile {
    /// Fill what the command line left unset.
    pub fn fill_patch(&self, o: &mut PatchOptions) {
        fill(&mut o.registry, &self.registry);
        fill(&mut o.pull_secret, &self.pull_secret);
        fill(&mut o.inject_pull_secret, &self.inject_pull_secret);
        fill(&mut o.http_registry, &self.http_registry);
        fill(&mut o.insecure_registry, &self.insecure_registry);
        fill(&mut o.dns_config, &self.dns_config);
        fill(&mut o.host_aliases, &self.host_aliases);
        if o.annotations.is_empty() {
            o.annotations = self.annotations.clone();
        }
        self.fill_apply(&mut o.cluster);
    }

    pub fn fill_apply(&self, o: &mut ApplyOptions) {
        fill(&mut o.namespace, &self.namespace);
        self.fill_connect(&mut o.connect);
    }

    pub fn fill_connect(&self, o: &mut ConnectOptions) {
        fill(&mut o.context, &self.context);
        if o.kubeconfig.is_none() {
            o.kubeconfig = self.kubeconfig.as_ref().map(PathBuf::from);
        }
    }

    /// For `secret`: `given` says which of `--server`, `--username` and
    /// `--name` were on the command line (an empty value given stays).
    pub fn fill_secret(&self, o: &mut SecretOptions, given: [bool; 3]) {
        let s = &self.secret;
        let [server_given, username_given, name_given] = given;
        if !server_given {
            o.server = s.server.clone().unwrap_or_default();
        }
        if !username_given {
            o.username = s.username.clone().unwrap_or_default();
        }
        if !name_given && let Some(n) = s.name.as_ref().or(self.pull_secret.as_ref()) {
            o.name = n.clone();
        }
        if o.namespaces.is_empty() {
            o.namespaces = s.namespaces.clone();
        }
        if !o.injected_namespaces {
            o.injected_namespaces = s.injected_namespaces.unwrap_or(false);
        }
        self.fill_connect(&mut o.connect);
    }

    /// The profile of a `patch` run: its effective options, keeping this
    /// profile's `secret` section and kubeconfig.
    pub fn from_patch(o: &PatchOptions, base: &Profile) -> Profile {
        Profile {
            registry: o.registry.clone(),
            pull_secret: o.pull_secret.clone(),
            inject_pull_secret: o.inject_pull_secret.clone(),
            http_registry: o.http_registry.clone(),
            insecure_registry: o.insecure_registry.clone(),
            dns_config: o.dns_config.clone(),
            host_aliases: o.host_aliases.clone(),
            annotations: o.annotations.clone(),
            namespace: o.cluster.namespace.clone(),
            context: o.cluster.connect.context.clone(),
            kubeconfig: o
                .cluster
                .connect
                .kubeconfig
                .as_ref()
                .map(|p| p.display().to_string())
                .or_else(|| base.kubeconfig.clone()),
            secret: base.secret.clone(),
        }
    }

    /// The profile as YAML (strings double-quoted, JSON-escaped).
    pub fn render(&self) -> String {
        let q = |s: &str| serde_json::Value::String(s.to_string()).to_string();
        let mut out = String::from(
            "# kubectl-tingyun profile (written by `patch --save-config`).\n\
             # Keys are the long flag names; flags on the command line override them.\n\
             # An upgrade: kubectl tingyun patch tingyunagent.yaml --apply\n",
        );
        let mut line = |k: &str, v: Option<String>| {
            if let Some(v) = v {
                out.push_str(&format!("{k}: {v}\n"));
            }
        };
        let opt_hosts = |h: &Option<Option<String>>| match h {
            None => None,
            Some(None) => Some("true".to_string()),
            Some(Some(s)) => Some(q(s)),
        };
        line("registry", self.registry.as_deref().map(q));
        line("pull-secret", self.pull_secret.as_deref().map(q));
        line(
            "inject-pull-secret",
            self.inject_pull_secret.as_deref().map(q),
        );
        line("http-registry", opt_hosts(&self.http_registry));
        line("insecure-registry", opt_hosts(&self.insecure_registry));
        line("dns-config", self.dns_config.as_deref().map(q));
        line("host-aliases", self.host_aliases.as_deref().map(q));
        if !self.annotations.is_empty() {
            line(
                "annotation",
                Some(format!(
                    "[{}]",
                    self.annotations
                        .iter()
                        .map(|a| q(a))
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            );
        }
        line("namespace", self.namespace.as_deref().map(q));
        line("context", self.context.as_deref().map(q));
        line("kubeconfig", self.kubeconfig.as_deref().map(q));
        let s = &self.secret;
        if *s != SecretProfile::default() {
            out.push_str("secret:\n");
            let mut sub = |k: &str, v: Option<String>| {
                if let Some(v) = v {
                    out.push_str(&format!("  {k}: {v}\n"));
                }
            };
            sub("server", s.server.as_deref().map(q));
            sub("username", s.username.as_deref().map(q));
            sub("name", s.name.as_deref().map(q));
            if !s.namespaces.is_empty() {
                sub(
                    "namespace",
                    Some(format!(
                        "[{}]",
                        s.namespaces
                            .iter()
                            .map(|n| q(n))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )),
                );
            }
            sub(
                "injected-namespaces",
                s.injected_namespaces.map(|b| b.to_string()),
            );
        }
        out
    }
}

fn fill<T: Clone>(slot: &mut Option<T>, from: &Option<T>) {
    if slot.is_none() {
        slot.clone_from(from);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_point_at_the_key_or_value() {
        let e = parse("p.yaml", "registry: harbor.example.com/apm\nregistyr: x\n").unwrap_err();
        assert_eq!((e.line, e.col), (2, 1), "{e}");
        assert!(e.msg.contains("unknown key \"registyr\""), "{e}");
        let e = parse("p.yaml", "pull-secret: Bad_Name\n").unwrap_err();
        assert_eq!((e.line, e.col), (1, 14), "{e}");
        let e = parse("p.yaml", "secret:\n  server: h\n  password: x\n").unwrap_err();
        assert_eq!((e.line, e.col), (3, 3), "{e}");
        assert!(e.msg.contains("--password-stdin"), "{e}");
        let e = parse("p.yaml", "namespace: [a\n").unwrap_err();
        assert_eq!(e.path, "p.yaml");
    }

    #[test]
    fn render_parses_back_to_the_same_profile() {
        let p = Profile {
            registry: Some("harbor.example.com:5000/apm".into()),
            pull_secret: Some("tingyun-image-secret".into()),
            inject_pull_secret: Some("other".into()),
            http_registry: Some(None),
            insecure_registry: Some(Some("a.example.com,b.example.com:80".into())),
            dns_config: Some(r#"{"nameservers":["10.0.0.2"]}"#.into()),
            host_aliases: Some(r#"[{"ip":"10.0.0.5","hostnames":["r.local"]}]"#.into()),
            annotations: vec!["example.com/x=a: b \"c\"".into()],
            namespace: Some("tingyun".into()),
            context: Some("prod".into()),
            kubeconfig: Some("/k/c onfig".into()),
            secret: SecretProfile {
                server: Some("harbor.example.com".into()),
                username: Some("robot$tingyun+pull".into()),
                name: None,
                namespaces: vec!["tingyun".into(), "shop".into()],
                injected_namespaces: Some(true),
            },
        };
        assert_eq!(parse("p", &p.render()).unwrap(), p);
        assert_eq!(parse("p", "").unwrap(), Profile::default());
    }
}
