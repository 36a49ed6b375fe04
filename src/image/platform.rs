//! Image platforms (`linux/arm64/v8`) and how a node's OS/architecture
//! matches the platforms an image provides, as containerd matches them.
use std::fmt;

/// An OS/architecture[/variant] triple.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
}

impl Platform {
    pub fn new(os: &str, architecture: &str, variant: Option<&str>) -> Self {
        Platform {
            os: os.to_ascii_lowercase(),
            architecture: normalize_arch(architecture).to_string(),
            variant: variant
                .filter(|v| !v.is_empty())
                .map(|v| v.to_ascii_lowercase()),
        }
    }

    /// Parse `OS/ARCH[/VARIANT]` (`linux/amd64`, `linux/arm/v7`).
    pub fn parse(s: &str) -> Result<Platform, String> {
        let parts: Vec<&str> = s.trim().split('/').collect();
        let bad = |why: &str| {
            format!(
                "{s:?} is not a platform: {why}; write OS/ARCH[/VARIANT], e.g. linux/amd64 or linux/arm64"
            )
        };
        if parts.len() < 2 || parts.len() > 3 {
            return Err(bad("expected 2 or 3 parts"));
        }
        let valid = |p: &str| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
        };
        if !parts.iter().all(|p| valid(p)) {
            return Err(bad(
                "a part is empty or has characters other than letters, digits, '_', '-', '.'",
            ));
        }
        Ok(Platform::new(parts[0], parts[1], parts.get(2).copied()))
    }

    /// Parse a comma-separated list (`--platform linux/amd64,linux/arm64`).
    pub fn parse_list(s: &str) -> Result<Vec<Platform>, String> {
        let mut out: Vec<Platform> = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let p = Platform::parse(part)?;
            if !out.contains(&p) {
                out.push(p);
            }
        }
        if out.is_empty() {
            return Err(
                "--platform: give OS/ARCH[,OS/ARCH...], e.g. linux/amd64,linux/arm64".into(),
            );
        }
        Ok(out)
    }

    /// Does an image variant `self` serve a node that wants `wanted`? OS and
    /// architecture must be equal; a wanted variant must match (arm64's `v8`
    /// is the default and equals none); no wanted variant accepts any.
    pub fn serves(&self, wanted: &Platform) -> bool {
        if self.os != wanted.os || self.architecture != wanted.architecture {
            return false;
        }
        let norm = |p: &Platform| match (p.architecture.as_str(), p.variant.as_deref()) {
            ("arm64", Some("v8")) => None,
            (_, v) => v.map(str::to_string),
        };
        match norm(wanted) {
            None => true,
            Some(w) => norm(self).is_none_or(|v| v == w),
        }
    }
}

/// Docker's and Go's spellings of the same architecture.
pub fn normalize_arch(arch: &str) -> &str {
    match arch {
        "x86_64" | "x86-64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// The default when no platform is given and no cluster is reachable.
pub fn default_platform() -> Platform {
    Platform::new("linux", "amd64", None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Platform {
        Platform::parse(s).unwrap()
    }

    #[test]
    fn parse_and_print() {
        assert_eq!(p("linux/arm/v7").to_string(), "linux/arm/v7");
        assert_eq!(p("Linux/x86_64").to_string(), "linux/amd64");
        assert!(Platform::parse("linux").is_err());
        assert!(Platform::parse("linux//v7").is_err());
        assert!(Platform::parse("a/b/c/d").is_err());
        assert_eq!(
            Platform::parse_list("linux/amd64, linux/arm64,linux/amd64").unwrap(),
            vec![p("linux/amd64"), p("linux/arm64")]
        );
        assert!(Platform::parse_list(" , ").is_err());
    }

    #[test]
    fn matching_like_containerd() {
        assert!(p("linux/arm64/v8").serves(&p("linux/arm64")));
        assert!(p("linux/arm64").serves(&p("linux/arm64/v8")));
        assert!(p("linux/arm/v7").serves(&p("linux/arm")));
        assert!(!p("linux/arm/v6").serves(&p("linux/arm/v7")));
        assert!(!p("linux/amd64").serves(&p("linux/arm64")));
        assert!(!p("windows/amd64").serves(&p("linux/amd64")));
    }
}
