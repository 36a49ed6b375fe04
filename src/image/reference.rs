//! Image references as Docker and the OCI distribution spec name them.
//!
//! ```text
//! reference  := name [ ":" tag ] [ "@" digest ]
//! name       := [ host [ ":" port ] "/" ] path-component ( "/" path-component )*
//! host       := domain-name | IPv4 | "[" IPv6 "]"
//! path-component := [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*
//! tag        := [A-Za-z0-9_] [A-Za-z0-9_.-]{0,127}
//! digest     := algorithm ":" hex      (sha256: 64 lowercase hex digits)
//! ```
//!
//! The first path component is a registry host only if it contains `.` or
//! `:`, is `localhost`, or is an `[IPv6]` literal; otherwise the image lives
//! on Docker Hub (`nginx` is `docker.io/library/nginx`). That is why
//! `--registry apm` or `--registry myproject/apm` must be refused: Docker
//! would send the images to docker.io.
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

/// Docker Hub, where a reference without a registry host goes.
pub const DOCKER_HUB: &str = "docker.io";
/// The tag a reference without tag or digest means.
pub const DEFAULT_TAG: &str = "latest";
/// Longest repository name (host included) the distribution spec allows.
const MAX_NAME_LEN: usize = 255;
const MAX_TAG_LEN: usize = 128;

/// Why a string is not an image reference, registry host or project.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefError {
    #[error("{0:?} is empty")]
    Empty(String),
    #[error("{input:?} is a URL: give {what} without a scheme (here: {suggestion})")]
    Scheme {
        input: String,
        what: &'static str,
        suggestion: String,
    },
    #[error("{input:?} contains whitespace or a control character")]
    Whitespace { input: String },
    #[error("{input:?}: {host:?} is not a valid host name or IP address")]
    BadHost { input: String, host: String },
    #[error("{input:?}: port {port:?} is not a number from 1 to 65535")]
    BadPort { input: String, port: String },
    #[error(
        "{input:?} names no registry host: the first part ({first:?}) has no '.' or ':' and is not \
         localhost, so Docker would send it to docker.io; give HOST[:PORT]/PROJECT, e.g. harbor.example.com/{input}"
    )]
    NoHost { input: String, first: String },
    #[error(
        "{input:?}: {component:?} is not a valid repository name part (lowercase letters and digits, \
         separated by '.', '_', '__' or '-')"
    )]
    BadPath { input: String, component: String },
    #[error("{input:?} has an empty path part (\"//\" or a trailing \"/\")")]
    EmptyPath { input: String },
    #[error(
        "{input:?}: tag {tag:?} is not valid (letters, digits, '_', '.', '-'; at most 128, not starting with '.' or '-')"
    )]
    BadTag { input: String, tag: String },
    #[error(
        "{input:?}: digest {digest:?} is not valid (expected sha256: and 64 lowercase hex digits)"
    )]
    BadDigest { input: String, digest: String },
    #[error("{input:?} is longer than {MAX_NAME_LEN} characters")]
    TooLong { input: String },
    #[error("{input:?}: {what}")]
    Other { input: String, what: &'static str },
}

/// A registry host: `harbor.example.com`, `10.0.0.5:5000`, `[fd00::5]:5000`,
/// `localhost:5000`. Kept as written (case included) so that what the user
/// typed is what the cluster sees.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Host {
    /// The host without port; IPv6 literals keep their brackets.
    name: String,
    port: Option<u16>,
}

impl Host {
    /// Parse `HOST[:PORT]`. No scheme, path or user info.
    pub fn parse(input: &str) -> Result<Host, RefError> {
        check_text(input, "HOST[:PORT]")?;
        if input.contains('/') || input.contains('@') {
            return Err(RefError::Other {
                input: input.into(),
                what: "give HOST[:PORT] only, without a path or user name",
            });
        }
        parse_host(input, input)
    }

    /// The host name or address without the port (`[..]` kept for IPv6).
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// True for loopback names and addresses (where plain HTTP is usual).
    pub fn is_loopback(&self) -> bool {
        let bare = self.name.trim_start_matches('[').trim_end_matches(']');
        self.name.eq_ignore_ascii_case("localhost")
            || bare.parse::<Ipv4Addr>().is_ok_and(|a| a.is_loopback())
            || bare.parse::<Ipv6Addr>().is_ok_and(|a| a.is_loopback())
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.port {
            Some(p) => write!(f, "{}:{p}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// A parsed image reference. [`Display`](fmt::Display) gives it back as
/// written (no `docker.io/library/` added).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImageRef {
    host: Option<Host>,
    /// The path after the host, e.g. `tingyun/k8s-uniagent`.
    path: String,
    tag: Option<String>,
    digest: Option<String>,
}

impl ImageRef {
    pub fn parse(input: &str) -> Result<ImageRef, RefError> {
        check_text(input, "an image reference")?;
        let (rest, digest) = match input.split_once('@') {
            Some((r, d)) => {
                check_digest(input, d)?;
                (r, Some(d.to_string()))
            }
            None => (input, None),
        };
        // A tag follows the last ':' that comes after the last '/'.
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => {
                let at = last_slash + i;
                let tag = &rest[at + 1..];
                check_tag(input, tag)?;
                (&rest[..at], Some(tag.to_string()))
            }
            None => (rest, None),
        };
        if name.len() > MAX_NAME_LEN {
            return Err(RefError::TooLong {
                input: input.into(),
            });
        }
        let (host, path) = match name.split_once('/') {
            Some((first, path)) if is_host_like(first) => (Some(parse_host(input, first)?), path),
            _ => (None, name),
        };
        check_path(input, path)?;
        Ok(ImageRef {
            host,
            path: path.to_string(),
            tag,
            digest,
        })
    }

    /// The registry host as written, if the reference names one.
    pub fn host(&self) -> Option<&Host> {
        self.host.as_ref()
    }

    /// The registry the reference resolves to: its host, or `docker.io`.
    pub fn registry(&self) -> String {
        self.host
            .as_ref()
            .map_or_else(|| DOCKER_HUB.to_string(), Host::to_string)
    }

    /// The repository path as written (`tingyun/agent`, `nginx`).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The repository path the registry API uses: Docker Hub's official
    /// images get `library/` (`nginx` -> `library/nginx`).
    pub fn repository(&self) -> String {
        if self.host.is_none() && !self.path.contains('/') {
            format!("library/{}", self.path)
        } else {
            self.path.clone()
        }
    }

    /// The last path component (`k8s-uniagent` of `x.io/tingyun/k8s-uniagent:1`).
    pub fn name(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or(&self.path)
    }

    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    pub fn digest(&self) -> Option<&str> {
        self.digest.as_deref()
    }

    /// What to ask the registry's manifest endpoint for: the digest if there
    /// is one, else the tag, else `latest`.
    pub fn reference(&self) -> &str {
        self.digest
            .as_deref()
            .or(self.tag.as_deref())
            .unwrap_or(DEFAULT_TAG)
    }

    /// The same image under another project, keeping the last path
    /// component, tag and digest.
    pub fn relocated(&self, project: &Project) -> ImageRef {
        ImageRef {
            host: Some(project.host.clone()),
            path: format!("{}/{}", project.path, self.name()),
            tag: self.tag.clone(),
            digest: self.digest.clone(),
        }
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(h) = &self.host {
            write!(f, "{h}/")?;
        }
        f.write_str(&self.path)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for ImageRef {
    type Err = RefError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ImageRef::parse(s)
    }
}

/// A registry project, `HOST[:PORT]/PROJECT[/SUB...]`: where `patch
/// --registry` points images and `images push --to` pushes them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Project {
    host: Host,
    path: String,
}

impl Project {
    /// Parse `HOST[:PORT]/PROJECT`; a trailing `/` is dropped. The host is
    /// required (see the module docs); no tag or digest.
    pub fn parse(input: &str) -> Result<Project, RefError> {
        check_text(input, "HOST[:PORT]/PROJECT")?;
        let trimmed = input.trim_end_matches('/');
        if trimmed.contains('@') {
            return Err(RefError::Other {
                input: input.into(),
                what: "give HOST[:PORT]/PROJECT without a tag or digest",
            });
        }
        let Some((first, path)) = trimmed.split_once('/') else {
            return match is_host_like(trimmed) {
                true => Err(RefError::Other {
                    input: input.into(),
                    what: "names a host but no project: give HOST[:PORT]/PROJECT, e.g. harbor.example.com/apm",
                }),
                false => Err(RefError::NoHost {
                    input: input.into(),
                    first: trimmed.into(),
                }),
            };
        };
        if !is_host_like(first) {
            return Err(RefError::NoHost {
                input: input.into(),
                first: first.into(),
            });
        }
        let host = parse_host(input, first)?;
        check_path(input, path)?;
        if let Some((_, tail)) = path.rsplit_once(':').filter(|_| !path.contains('/')) {
            // `host/apm:1.0`: check_path already refused ':'; kept for clarity.
            return Err(RefError::BadPath {
                input: input.into(),
                component: tail.into(),
            });
        }
        Ok(Project {
            host,
            path: path.to_string(),
        })
    }

    pub fn host(&self) -> &Host {
        &self.host
    }

    /// The path after the host (`apm`, `team/apm`).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Where `image` goes in this project: `HOST[:PORT]/PROJECT/<last path
    /// component>` with its tag and digest. A string that is not a valid
    /// reference (a template placeholder, say) gets the same rule textually.
    pub fn relocate(&self, image: &str) -> String {
        match ImageRef::parse(image) {
            Ok(r) => r.relocated(self).to_string(),
            Err(_) => {
                let last = image.rsplit('/').next().unwrap_or(image);
                format!("{self}/{last}")
            }
        }
    }
}

impl fmt::Display for Project {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.host, self.path)
    }
}

impl std::str::FromStr for Project {
    type Err = RefError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Project::parse(s)
    }
}

/// Docker's rule: the first component is a registry host if it contains
/// `.` or `:`, is `localhost`, or is not all lowercase. `[` starts an IPv6
/// literal.
fn is_host_like(first: &str) -> bool {
    first.contains(['.', ':'])
        || first == "localhost"
        || first.starts_with('[')
        || first.chars().any(|c| c.is_ascii_uppercase())
}

fn check_text(input: &str, what: &'static str) -> Result<(), RefError> {
    if input.is_empty() {
        return Err(RefError::Empty(input.into()));
    }
    if let Some(i) = input.find("://") {
        let rest = input[i + 3..].trim_end_matches('/');
        let suggestion = if rest.is_empty() {
            "harbor.example.com".to_string()
        } else {
            rest.to_string()
        };
        return Err(RefError::Scheme {
            input: input.into(),
            what,
            suggestion,
        });
    }
    if input.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(RefError::Whitespace {
            input: input.into(),
        });
    }
    Ok(())
}

/// `host[:port]`, `[v6]` or `[v6]:port`.
fn parse_host(input: &str, text: &str) -> Result<Host, RefError> {
    let bad_host = || RefError::BadHost {
        input: input.into(),
        host: text.into(),
    };
    let (name, port) = if let Some(inner) = text.strip_prefix('[') {
        let end = inner.find(']').ok_or_else(bad_host)?;
        let addr = &inner[..end];
        // Zone identifiers (`%eth0`) have no place in an image name.
        addr.parse::<Ipv6Addr>().map_err(|_| bad_host())?;
        let rest = &inner[end + 1..];
        let port = match rest {
            "" => None,
            _ => Some(rest.strip_prefix(':').ok_or_else(bad_host)?),
        };
        (&text[..end + 2], port)
    } else {
        match text.split_once(':') {
            Some((_, p)) if p.contains(':') => return Err(bad_host()),
            Some((h, p)) => (h, Some(p)),
            None => (text, None),
        }
    };
    let port = match port {
        None => None,
        Some(p) => Some(
            p.parse::<u16>()
                .ok()
                .filter(|n| *n > 0 && p.bytes().all(|b| b.is_ascii_digit()))
                .ok_or_else(|| RefError::BadPort {
                    input: input.into(),
                    port: p.into(),
                })?,
        ),
    };
    if !name.starts_with('[') && !valid_domain(name) {
        return Err(bad_host());
    }
    Ok(Host {
        name: name.to_string(),
        port,
    })
}

/// A domain name or IPv4 address: labels of letters, digits and inner
/// hyphens, at most 63 characters each.
fn valid_domain(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
}

fn check_path(input: &str, path: &str) -> Result<(), RefError> {
    if path.is_empty() || path.split('/').any(str::is_empty) {
        return Err(RefError::EmptyPath {
            input: input.into(),
        });
    }
    match path.split('/').find(|c| !valid_path_component(c)) {
        Some(c) => Err(RefError::BadPath {
            input: input.into(),
            component: c.into(),
        }),
        None => Ok(()),
    }
}

/// `[a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*`
fn valid_path_component(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        if !(sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-')) {
            return false;
        }
    }
    true
}

fn check_tag(input: &str, tag: &str) -> Result<(), RefError> {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let ok = !tag.is_empty()
        && tag.len() <= MAX_TAG_LEN
        && word(tag.as_bytes()[0])
        && tag.bytes().all(|b| word(b) || b == b'.' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(RefError::BadTag {
            input: input.into(),
            tag: tag.into(),
        })
    }
}

fn check_digest(input: &str, digest: &str) -> Result<(), RefError> {
    let bad = || RefError::BadDigest {
        input: input.into(),
        digest: digest.into(),
    };
    let (alg, hex) = digest.split_once(':').ok_or_else(bad)?;
    let alg_ok = !alg.is_empty()
        && alg.starts_with(|c: char| c.is_ascii_alphabetic())
        && alg
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+._-".contains(&b));
    let hex_ok = match alg {
        "sha256" => hex.len() == 64,
        "sha512" => hex.len() == 128,
        _ => hex.len() >= 32,
    } && hex
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if alg_ok && hex_ok { Ok(()) } else { Err(bad()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn parses_the_agents_images() {
        let r = ImageRef::parse("registry.tingyun.com/tingyun/k8s-uniagent:3.4.1.0").unwrap();
        assert_eq!(r.host().unwrap().to_string(), "registry.tingyun.com");
        assert_eq!(r.path(), "tingyun/k8s-uniagent");
        assert_eq!(r.name(), "k8s-uniagent");
        assert_eq!(r.tag(), Some("3.4.1.0"));
        assert_eq!(r.reference(), "3.4.1.0");
        assert_eq!(
            r.to_string(),
            "registry.tingyun.com/tingyun/k8s-uniagent:3.4.1.0"
        );
    }

    #[test]
    fn docker_hub_names() {
        let r = ImageRef::parse("nginx").unwrap();
        assert_eq!(r.host(), None);
        assert_eq!(r.registry(), "docker.io");
        assert_eq!(r.repository(), "library/nginx");
        assert_eq!(r.reference(), "latest");
        let r = ImageRef::parse("myproject/apm:1").unwrap();
        assert_eq!(r.registry(), "docker.io");
        assert_eq!(r.repository(), "myproject/apm");
    }

    #[test]
    fn hosts_with_ports_ipv4_ipv6_and_localhost() {
        for (s, host, port) in [
            ("10.0.0.5:5000/apm/x:1", "10.0.0.5", Some(5000)),
            ("[fd00::5]:5000/apm/x:1", "[fd00::5]", Some(5000)),
            ("[::1]/apm/x", "[::1]", None),
            ("localhost/x", "localhost", None),
        ] {
            let r = ImageRef::parse(s).unwrap();
            let h = r.host().unwrap();
            assert_eq!((h.name(), h.port()), (host, port), "{s}");
            assert_eq!(r.to_string(), s);
        }
        assert!(Host::parse("[::1]:5000").unwrap().is_loopback());
        assert!(Host::parse("127.0.0.1:5000").unwrap().is_loopback());
        assert!(!Host::parse("harbor.example.com").unwrap().is_loopback());
    }

    #[test]
    fn tag_and_digest() {
        let s = format!("harbor.example.com:5000/apm/agent:1.0@{D}");
        let r = ImageRef::parse(&s).unwrap();
        assert_eq!(r.tag(), Some("1.0"));
        assert_eq!(r.digest(), Some(D));
        assert_eq!(r.reference(), D);
        assert_eq!(r.to_string(), s);
        let r = ImageRef::parse(&format!("harbor.example.com:5000/apm/agent@{D}")).unwrap();
        assert_eq!(r.tag(), None);
        assert_eq!(r.host().unwrap().port(), Some(5000));
    }

    #[test]
    fn refuses_invalid_references() {
        for bad in [
            "",
            "https://harbor.example.com/apm/x",
            "Harbor.example.com/APM/x",
            "harbor.example.com/apm//x",
            "harbor.example.com/apm/x:",
            "harbor.example.com/apm/x:-1",
            "harbor.example.com/apm/x@sha256:abc",
            "harbor.example.com:0/x",
            "harbor.example.com:99999/x",
            "harbor.example.com:50a/x",
            "[fd00::zz]:5000/x",
            "-bad.example.com/x",
            "harbor.example.com/a..b",
            "harbor.example.com/a b",
            "harbor.example.com/x/",
        ] {
            assert!(ImageRef::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(ImageRef::parse(&format!("h.io/{}", "a".repeat(260))).is_err());
    }

    #[test]
    fn path_component_separators() {
        for ok in ["a", "a.b", "a_b", "a__b", "a-b", "a---b", "a1.b2_c3"] {
            assert!(valid_path_component(ok), "{ok}");
        }
        for bad in ["A", "a___b", "a..b", "_a", "a-", "a._b", ""] {
            assert!(!valid_path_component(bad), "{bad}");
        }
    }

    #[test]
    fn project_needs_a_host() {
        assert!(matches!(
            Project::parse("apm"),
            Err(RefError::NoHost { .. })
        ));
        assert!(matches!(
            Project::parse("myproject/apm"),
            Err(RefError::NoHost { .. })
        ));
        assert!(Project::parse("harbor.example.com").is_err());
        assert!(Project::parse("harbor.example.com/APM").is_err());
        assert!(Project::parse("harbor.example.com/apm:1.0").is_err());
        assert!(Project::parse("harbor.example.com/apm@x").is_err());
        assert!(matches!(
            Project::parse("http://harbor.example.com/apm"),
            Err(RefError::Scheme { .. })
        ));
        let p = Project::parse("[fd00::5]:5000/apm/").unwrap();
        assert_eq!(p.to_string(), "[fd00::5]:5000/apm");
        assert_eq!(p.host().port(), Some(5000));
        let p = Project::parse("localhost:5000/team/apm").unwrap();
        assert_eq!(p.path(), "team/apm");
    }

    #[test]
    fn relocation_keeps_the_last_component_tag_and_digest() {
        let p = Project::parse("harbor.example.com:5000/apm").unwrap();
        assert_eq!(
            p.relocate("registry.tingyun.com/tingyun/k8s-uniagent:3.4.1.0"),
            "harbor.example.com:5000/apm/k8s-uniagent:3.4.1.0"
        );
        assert_eq!(p.relocate("nginx"), "harbor.example.com:5000/apm/nginx");
        assert_eq!(
            p.relocate(&format!("a.io/b/c/d@{D}")),
            format!("harbor.example.com:5000/apm/d@{D}")
        );
        // Not a reference: the same rule, textually.
        assert_eq!(
            p.relocate("${REGISTRY}/agent:${TAG}"),
            "harbor.example.com:5000/apm/agent:${TAG}"
        );
        // Relocating twice is relocating once.
        let once = p.relocate("registry.tingyun.com/tingyun/a:1");
        assert_eq!(p.relocate(&once), once);
    }

    #[test]
    fn errors_say_what_to_do() {
        let e = Project::parse("apm").unwrap_err().to_string();
        assert!(
            e.contains("docker.io") && e.contains("HOST[:PORT]/PROJECT"),
            "{e}"
        );
        let e = Host::parse("https://harbor.example.com/")
            .unwrap_err()
            .to_string();
        assert!(e.contains("here: harbor.example.com"), "{e}");
    }
}
