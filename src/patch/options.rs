//! What the user asked for, validated before any file is read.
use std::net::IpAddr;

use anyhow::{Context as _, bail};
use serde_json::{Map, Value};

use crate::cluster::apply::ApplyOptions;
use crate::dry_run::DryRun;
use crate::image::reference::{Host, Project};
use crate::names::DEFAULT_SECRET_NAME;

pub const KCI_HTTP_REGISTRY: &str = "k8s.ksyun.com/kci-http-registry";
pub const KCI_INSECURE_REGISTRY: &str = "k8s.ksyun.com/kci-insecure-registry";
pub const KCI_DNS_CONFIG: &str = "k8s.ksyun.com/kci-dns-config";
pub const KCI_HOST_ALIASES: &str = "k8s.ksyun.com/kci-host-aliases";

/// What `patch` was asked to do, before validation (the command line's
/// values; see `src/cli/patch.rs` for each flag's meaning).
#[derive(Debug, Clone, Default)]
pub struct PatchOptions {
    /// The manifest to edit; `-` is standard input.
    pub file: String,
    pub pull_secret: Option<String>,
    pub inject_pull_secret: Option<String>,
    /// `HOST[:PORT]/PROJECT`.
    pub registry: Option<String>,
    /// `None`: not asked; `Some(None)`: the host of `registry`.
    pub http_registry: Option<Option<String>>,
    /// `None`: not asked; `Some(None)`: the host of `registry`.
    pub insecure_registry: Option<Option<String>>,
    pub dns_config: Option<String>,
    pub host_aliases: Option<String>,
    /// `KEY=VALUE` pod-template annotations.
    pub annotations: Vec<String>,
    pub dry_run: DryRun,
    /// A path, or `-` for standard output; default: the file itself.
    pub output: Option<String>,
    /// Server-side apply the result afterwards.
    pub apply: bool,
    pub cluster: ApplyOptions,
}

/// The edits of one `patch` run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EditSet {
    /// imagePullSecrets name for every ServiceAccount.
    pub pull_secret: Option<String>,
    /// imagePullSecrets name inside ConfigMap `mutate.yaml`.
    pub inject_pull_secret: Option<String>,
    /// `HOST[:PORT]/PROJECT` every container image moves to (no trailing `/`).
    pub registry: Option<String>,
    /// Pod-template annotations, in the order they are added.
    pub annotations: Vec<(String, String)>,
}

impl EditSet {
    /// Validate the command line. No edit flag at all means the guide's
    /// procedure: `--pull-secret --inject-pull-secret`.
    pub fn from_options(args: &PatchOptions) -> anyhow::Result<EditSet> {
        let mut set = EditSet {
            pull_secret: args.pull_secret.clone(),
            inject_pull_secret: args.inject_pull_secret.clone(),
            registry: args.registry.as_deref().map(parse_registry).transpose()?,
            annotations: Vec::new(),
        };
        for (flag, name) in [
            ("--pull-secret", &set.pull_secret),
            ("--inject-pull-secret", &set.inject_pull_secret),
        ] {
            if let Some(name) = name {
                check_dns_subdomain(name).with_context(|| format!("{flag}={name}"))?;
            }
        }
        let registry_host = set
            .registry
            .as_deref()
            .map(|r| r.split('/').next().unwrap_or(r).to_string());
        for (flag, key, value) in [
            ("--http-registry", KCI_HTTP_REGISTRY, &args.http_registry),
            (
                "--insecure-registry",
                KCI_INSECURE_REGISTRY,
                &args.insecure_registry,
            ),
        ] {
            match value {
                None => {}
                Some(Some(hosts)) => set.annotations.push((
                    key.into(),
                    parse_hosts(hosts).with_context(|| flag.to_string())?,
                )),
                Some(None) => match &registry_host {
                    Some(host) => set.annotations.push((key.into(), host.clone())),
                    None => bail!(
                        "{flag} without HOSTS needs --registry to take the host from (or give {flag}=HOST[:PORT],...)"
                    ),
                },
            }
        }
        if let Some(json) = &args.dns_config {
            set.annotations.push((
                KCI_DNS_CONFIG.into(),
                dns_config(json).context("--dns-config")?,
            ));
        }
        if let Some(json) = &args.host_aliases {
            set.annotations.push((
                KCI_HOST_ALIASES.into(),
                host_aliases(json).context("--host-aliases")?,
            ));
        }
        for kv in &args.annotations {
            let (k, v) = kv
                .split_once('=')
                .with_context(|| format!("--annotation {kv:?}: expected KEY=VALUE"))?;
            check_annotation_key(k).with_context(|| format!("--annotation {kv:?}"))?;
            set.annotations.retain(|(existing, _)| existing != k);
            set.annotations.push((k.to_string(), v.to_string()));
        }
        if set.pull_secret.is_none()
            && set.inject_pull_secret.is_none()
            && set.registry.is_none()
            && set.annotations.is_empty()
        {
            set.pull_secret = Some(DEFAULT_SECRET_NAME.into());
            set.inject_pull_secret = Some(DEFAULT_SECRET_NAME.into());
        }
        Ok(set)
    }
}

/// `HOST[:PORT]/PROJECT` as Docker reads image names: the first part must
/// be a registry host (`apm` or `myproject/apm` would go to docker.io), the
/// rest valid repository name components; trailing `/` dropped.
pub fn parse_registry(s: &str) -> anyhow::Result<String> {
    let project = Project::parse(s).map_err(|e| anyhow::anyhow!("--registry: {e}"))?;
    Ok(project.to_string())
}

/// A comma-separated list of `host[:port]`.
pub fn parse_hosts(s: &str) -> anyhow::Result<String> {
    let hosts: Vec<&str> = s.split(',').map(str::trim).collect();
    if hosts.iter().any(|h| h.is_empty()) {
        bail!("{s:?}: expected a comma-separated list of HOST[:PORT]");
    }
    for h in &hosts {
        check_host_port(h)?;
    }
    Ok(hosts.join(","))
}

fn check_host_port(h: &str) -> anyhow::Result<()> {
    Host::parse(h)
        .map(|_| ())
        .map_err(|e| anyhow::anyhow!("{e}"))
}

/// A DNS-1123 subdomain (Secret names).
pub fn check_dns_subdomain(name: &str) -> anyhow::Result<()> {
    crate::names::dns1123_subdomain(name).map_err(|why| {
        anyhow::anyhow!(
            "{name:?} is not a valid Secret name: {why} (lowercase letters, digits, '-' and '.', \
             starting and ending with a letter or digit)"
        )
    })
}

/// A Kubernetes qualified name: `[prefix/]name`.
fn check_annotation_key(key: &str) -> anyhow::Result<()> {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    if let Some(p) = prefix {
        check_dns_subdomain(p).map_err(|_| {
            anyhow::anyhow!(
                "annotation key prefix {p:?} must be a DNS subdomain (e.g. example.com)"
            )
        })?;
    }
    let name_ok = !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric());
    if !name_ok {
        bail!(
            "annotation key name {name:?}: up to 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit"
        );
    }
    Ok(())
}

fn parse_json(s: &str) -> anyhow::Result<Value> {
    serde_json::from_str(s).map_err(|e| {
        anyhow::anyhow!(
            "invalid JSON at line {} column {}: {e}",
            e.line(),
            e.column()
        )
    })
}

fn object<'v>(
    v: &'v Value,
    what: &str,
    allowed: &[&str],
) -> anyhow::Result<&'v Map<String, Value>> {
    let obj = v
        .as_object()
        .with_context(|| format!("{what} must be a JSON object"))?;
    if let Some(unknown) = obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        bail!(
            "{what}: unknown field {unknown:?} (allowed: {})",
            allowed.join(", ")
        );
    }
    Ok(obj)
}

fn strings<'v>(v: &'v Value, what: &str) -> anyhow::Result<Vec<&'v str>> {
    v.as_array()
        .with_context(|| format!("{what} must be a list of strings"))?
        .iter()
        .map(|s| {
            s.as_str()
                .with_context(|| format!("{what} must be a list of strings"))
        })
        .collect()
}

fn ip(s: &str, what: &str) -> anyhow::Result<()> {
    s.parse::<IpAddr>()
        .map(|_| ())
        .map_err(|_| anyhow::anyhow!("{what}: {s:?} is not an IP address"))
}

/// Validate a Kubernetes PodDNSConfig and return it as compact JSON.
pub fn dns_config(json: &str) -> anyhow::Result<String> {
    let v = parse_json(json)?;
    let obj = object(&v, "PodDNSConfig", &["nameservers", "searches", "options"])?;
    if let Some(ns) = obj.get("nameservers") {
        for s in strings(ns, "nameservers")? {
            ip(s, "nameservers")?;
        }
    }
    if let Some(s) = obj.get("searches") {
        strings(s, "searches")?;
    }
    if let Some(opts) = obj.get("options") {
        for o in opts
            .as_array()
            .context("options must be a list of {\"name\": ..., \"value\": ...}")?
        {
            let o = object(o, "options item", &["name", "value"])?;
            o.get("name")
                .and_then(Value::as_str)
                .context("options item needs a string \"name\"")?;
            if let Some(val) = o.get("value") {
                val.as_str()
                    .context("options item \"value\" must be a string")?;
            }
        }
    }
    Ok(serde_json::to_string(&v)?)
}

/// Validate a list of Kubernetes HostAlias and return it as compact JSON.
pub fn host_aliases(json: &str) -> anyhow::Result<String> {
    let v = parse_json(json)?;
    let list = v
        .as_array()
        .context("must be a JSON list of {\"ip\": ..., \"hostnames\": [...]}")?;
    for item in list {
        let o = object(item, "host alias", &["ip", "hostnames"])?;
        let addr = o
            .get("ip")
            .and_then(Value::as_str)
            .context("host alias needs a string \"ip\"")?;
        ip(addr, "ip")?;
        if let Some(h) = o.get("hostnames") {
            strings(h, "hostnames")?;
        }
    }
    Ok(serde_json::to_string(&v)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registries() {
        assert_eq!(
            parse_registry("harbor.example.com:5000/apm/").unwrap(),
            "harbor.example.com:5000/apm"
        );
        assert_eq!(
            parse_registry("10.0.0.5:5000/a/b").unwrap(),
            "10.0.0.5:5000/a/b"
        );
        assert_eq!(
            parse_registry("[fd00::5]:5000/apm").unwrap(),
            "[fd00::5]:5000/apm"
        );
        assert_eq!(parse_registry("localhost/apm").unwrap(), "localhost/apm");
        let e = parse_registry("myproject/apm").unwrap_err().to_string();
        assert!(e.contains("docker.io"), "{e}");
        for bad in [
            "https://h/apm",
            "h /apm",
            "h//apm",
            "h:99999/apm",
            "h/APM",
            "",
            "h/apm:1",
            "h/a@sha256:1",
            "apm",
            "myproject/apm",
            "h.com/-a",
            "h.com/a..b",
        ] {
            assert!(parse_registry(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn kci_json_is_validated_and_compacted() {
        assert_eq!(
            dns_config(r#"{ "nameservers": ["1.1.1.1"], "options": [{"name":"ndots","value":"2"}], "searches": ["a.com"] }"#).unwrap(),
            r#"{"nameservers":["1.1.1.1"],"options":[{"name":"ndots","value":"2"}],"searches":["a.com"]}"#
        );
        assert!(
            dns_config(r#"{"nameserver": ["1.1.1.1"]}"#)
                .unwrap_err()
                .to_string()
                .contains("unknown field")
        );
        assert!(
            dns_config(r#"{"nameservers": ["1.1.1"]}"#)
                .unwrap_err()
                .to_string()
                .contains("not an IP")
        );
        assert!(
            dns_config("{")
                .unwrap_err()
                .to_string()
                .contains("invalid JSON")
        );
        assert_eq!(
            host_aliases(r#"[{"ip":"1.2.3.4","hostnames":["r.local"]}]"#).unwrap(),
            r#"[{"ip":"1.2.3.4","hostnames":["r.local"]}]"#
        );
        assert!(host_aliases(r#"[{"ip":"1.2.3.400","hostnames":["r"]}]"#).is_err());
        assert!(host_aliases(r#"{"ip":"1.2.3.4"}"#).is_err());
        assert!(host_aliases(r#"[{"ip":"::1","hostname":["r"]}]"#).is_err());
    }

    #[test]
    fn annotation_keys() {
        assert!(check_annotation_key("k8s.ksyun.com/kci-http-registry").is_ok());
        assert!(check_annotation_key("simple").is_ok());
        assert!(check_annotation_key("Bad Key").is_err());
        assert!(check_annotation_key("UPPER.com/x").is_err());
        assert!(check_annotation_key("").is_err());
    }

    #[test]
    fn hosts() {
        assert_eq!(
            parse_hosts("a.com:5000, b.com").unwrap(),
            "a.com:5000,b.com"
        );
        assert!(parse_hosts("http://a.com").is_err());
        assert!(parse_hosts("a.com,").is_err());
    }
}
