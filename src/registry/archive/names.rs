//! Where a source image goes: `HOST[:PORT]/PROJECT/<last path component>:<tag>`
//! — the rule of `patch --registry` ([`ImageRef::relocated`]), with
//! platform suffixes taken off the tag so that `agent:1.0-amd64` and
//! `agent:1.0-arm64` become one multi-arch `agent:1.0`.
use anyhow::{Result, anyhow};

use crate::image::{ImageRef, Project};

/// Tag suffixes that name a platform, longest first.
const SUFFIXES: &[&str] = &[
    "arm64v8", "aarch64", "x86_64", "x86-64", "arm32v7", "arm32v6", "ppc64le", "riscv64", "amd64",
    "arm64", "armv7", "armv6", "s390x", "i386", "386", "arm",
];

/// The tag without a platform suffix (`1.0-amd64` -> `1.0`, `1.0_arm64` ->
/// `1.0`, `amd64` stays), and the suffix if there was one.
pub fn strip_platform_suffix(tag: &str) -> (&str, Option<&str>) {
    let lower = tag.to_ascii_lowercase();
    for s in SUFFIXES {
        for sep in ['-', '_', '.'] {
            let suffix = format!("{sep}{s}");
            if lower.ends_with(&suffix) && lower.len() > suffix.len() {
                let cut = tag.len() - suffix.len();
                return (&tag[..cut], Some(&tag[cut + 1..]));
            }
        }
    }
    (tag, None)
}

/// The destination of the source image named `reference`.
pub fn destination(project: &Project, reference: &str) -> Result<ImageRef> {
    let r = ImageRef::parse(reference).map_err(|e| {
        anyhow!("the archive names an image {reference:?} that is not a valid reference: {e}")
    })?;
    let tag = strip_platform_suffix(r.tag().unwrap_or(crate::image::reference::DEFAULT_TAG)).0;
    let relocated = r.relocated(project);
    let text = format!("{}/{}:{tag}", project, relocated.name());
    ImageRef::parse(&text)
        .map_err(|e| anyhow!("{reference:?} would go to {text:?}, which is not valid: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_suffixes_come_off_the_tag() {
        assert_eq!(strip_platform_suffix("1.0-amd64"), ("1.0", Some("amd64")));
        assert_eq!(
            strip_platform_suffix("3.4.0.0-arm64"),
            ("3.4.0.0", Some("arm64"))
        );
        assert_eq!(
            strip_platform_suffix("1.0_arm64v8"),
            ("1.0", Some("arm64v8"))
        );
        assert_eq!(strip_platform_suffix("1.0-x86_64"), ("1.0", Some("x86_64")));
        assert_eq!(strip_platform_suffix("amd64"), ("amd64", None));
        assert_eq!(strip_platform_suffix("1.0"), ("1.0", None));
        assert_eq!(strip_platform_suffix("1.0-farm"), ("1.0-farm", None));
    }

    #[test]
    fn destination_is_the_patch_rule() {
        let p = Project::parse("10.0.0.5:5000/apm").unwrap();
        let d = destination(&p, "tingyunagent/k8s-uniagent:3.4.0-amd64").unwrap();
        assert_eq!(d.to_string(), "10.0.0.5:5000/apm/k8s-uniagent:3.4.0");
        // The same as patch --registry gives for the untagged-suffix reference.
        assert_eq!(
            p.relocate("docker.io/tingyunagent/k8s-uniagent:3.4.0"),
            d.to_string()
        );
        let d = destination(&p, "busybox").unwrap();
        assert_eq!(d.to_string(), "10.0.0.5:5000/apm/busybox:latest");
    }
}
