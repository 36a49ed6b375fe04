//! What went wrong talking to a registry, sorted into the statuses that
//! `images --check` reports (and that match the kubelet's pull failures).
use std::fmt;

/// The outcome of asking a registry about one image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Status {
    /// The manifest is there and provides every wanted platform.
    Ok,
    /// The registry has no such repository or tag (registry 2.8 answers both
    /// with `MANIFEST_UNKNOWN`, so they cannot be told apart).
    Missing,
    /// No credentials, wrong ones, or no pull permission.
    Unauthorized,
    /// The TLS handshake failed: unknown CA, self-signed, wrong name, expired.
    TlsError,
    /// The host speaks plain HTTP where HTTPS was tried.
    HttpOnly,
    /// Connection refused, DNS failure, timeout.
    Unreachable,
    /// The tag exists but lacks a wanted OS/architecture.
    PlatformMissing,
    /// Anything else the registry answered that we cannot use.
    Error,
}

impl Status {
    /// The word used in tables and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Missing => "missing",
            Status::Unauthorized => "unauthorized",
            Status::TlsError => "tls-error",
            Status::HttpOnly => "http-only",
            Status::Unreachable => "unreachable",
            Status::PlatformMissing => "platform-missing",
            Status::Error => "error",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed registry request. `message` says what happened and what to do;
/// it never contains a password or token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryError {
    pub status: Status,
    /// HTTP status code, when the registry answered.
    pub code: Option<u16>,
    pub message: String,
    /// The connection broke mid-request (reset, closed early, timed out):
    /// worth retrying, unlike an answer.
    pub transient: bool,
}

impl RegistryError {
    pub fn new(status: Status, message: impl Into<String>) -> Self {
        RegistryError {
            status,
            code: None,
            message: message.into(),
            transient: false,
        }
    }

    pub fn transient(mut self) -> Self {
        self.transient = true;
        self
    }

    pub fn with_code(mut self, code: u16) -> Self {
        self.code = Some(code);
        self
    }
}

impl fmt::Display for RegistryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.status, self.message)
    }
}

impl std::error::Error for RegistryError {}

/// The first error of a distribution-API error body
/// (`{"errors":[{"code":"MANIFEST_UNKNOWN","message":"..."}]}`), as
/// `CODE: message`.
pub fn api_error_text(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let first = v.get("errors")?.as_array()?.first()?;
    let code = first.get("code").and_then(|c| c.as_str()).unwrap_or("");
    let message = first.get("message").and_then(|c| c.as_str()).unwrap_or("");
    match (code.is_empty(), message.is_empty()) {
        (true, true) => None,
        (false, true) => Some(code.to_string()),
        (true, false) => Some(message.to_string()),
        (false, false) => Some(format!("{code}: {message}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_error_text_reads_the_first_error() {
        let body = br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"x"}}]}"#;
        assert_eq!(
            api_error_text(body).as_deref(),
            Some("MANIFEST_UNKNOWN: manifest unknown")
        );
        assert_eq!(api_error_text(b"not json"), None);
        assert_eq!(api_error_text(br#"{"errors":[]}"#), None);
    }

    #[test]
    fn status_words_are_the_documented_ones() {
        let all = [
            Status::Ok,
            Status::Missing,
            Status::Unauthorized,
            Status::TlsError,
            Status::HttpOnly,
            Status::Unreachable,
            Status::PlatformMissing,
        ];
        let words: Vec<_> = all.iter().map(|s| s.as_str()).collect();
        assert_eq!(
            words,
            [
                "ok",
                "missing",
                "unauthorized",
                "tls-error",
                "http-only",
                "unreachable",
                "platform-missing"
            ]
        );
    }
}
