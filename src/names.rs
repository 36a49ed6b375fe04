//! Kubernetes name rules, shared by the patch flags and the cluster commands.

/// The pull secret's name when none is given (`--pull-secret`, `secret --name`).
pub const DEFAULT_SECRET_NAME: &str = "tingyun-image-secret";

/// A DNS-1123 label (namespace names): why not, if it is not one.
pub fn dns1123_label(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("it is empty".into());
    }
    if s.len() > 63 {
        return Err(format!(
            "it has {} characters, at most 63 are allowed",
            s.len()
        ));
    }
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return Err(format!("{c:?} is not allowed"));
    }
    if s.starts_with('-') || s.ends_with('-') {
        return Err("it starts or ends with '-'".into());
    }
    Ok(())
}

/// A DNS-1123 subdomain (Secret names, annotation key prefixes).
pub fn dns1123_subdomain(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("it is empty".into());
    }
    if s.len() > 253 {
        return Err(format!(
            "it has {} characters, at most 253 are allowed",
            s.len()
        ));
    }
    for part in s.split('.') {
        if part.is_empty() {
            return Err("it has an empty part between dots".into());
        }
        if let Some(c) = part
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
        {
            return Err(format!("{c:?} is not allowed"));
        }
        if part.starts_with('-') || part.ends_with('-') {
            return Err("a part starts or ends with '-'".into());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(dns1123_label("tingyun").is_ok());
        assert!(dns1123_label("a.b").is_err());
        assert!(dns1123_label(&"a".repeat(64)).is_err());
        assert!(dns1123_subdomain("tingyun-image-secret.v1").is_ok());
        assert!(
            dns1123_subdomain("Harbor_Pull")
                .unwrap_err()
                .contains("'H'")
        );
        assert!(dns1123_subdomain("a..b").is_err());
        assert!(dns1123_subdomain("-a").is_err());
    }
}
