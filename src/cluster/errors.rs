//! API errors: classified once, from kube's error types, into an
//! [`ApiError`]; then worded for the user, with what to do ([`describe`]).
use kube::core::Status;

/// What an API call ran into. Built only by [`ApiError::classify`] (and
/// [`ApiError::from_status`] for a watch's status), from kube's error
/// types and the API server's `Status` (code, reason, details); the one
/// place that reads the server's message is telling an admission denial or
/// a terminating namespace from an RBAC 403, which the server says in
/// words only.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// 401: the credentials were rejected.
    #[error("401 Unauthorized: {message}")]
    Unauthorized { message: String },
    /// 403. `admission`: an admission webhook or policy denied the request
    /// (the message explains why), not RBAC.
    #[error("403 Forbidden: {message}")]
    Forbidden { admission: bool, message: String },
    /// 403: the namespace is being deleted; nothing can be created in it.
    #[error("403 Forbidden (namespace terminating): {message}")]
    NamespaceTerminating { message: String },
    /// 409 from server-side apply: each conflicting field manager and the
    /// fields it owns.
    #[error("409 Conflict: {message}")]
    Conflict {
        managers: Vec<(String, Vec<String>)>,
        message: String,
    },
    /// 404 because the namespace does not exist.
    #[error("404 NotFound: namespace {namespace:?} not found")]
    NotFound { namespace: String },
    /// Any other answer of the API server.
    #[error("{code} {reason}: {message}")]
    Status {
        code: u16,
        reason: String,
        message: String,
    },
    /// No answer within `--request-timeout`.
    #[error("timed out: {cause}")]
    Timeout { cause: String },
    /// The API server could not be reached (connection, TLS, transport).
    #[error("unreachable: {cause}")]
    Unreachable { cause: String },
    /// The client failed otherwise (an answer it cannot read, discovery).
    #[error("{cause}")]
    Client { cause: String },
}

impl ApiError {
    /// Classify an error of the kube client.
    pub fn classify(err: &kube::Error) -> ApiError {
        match err {
            kube::Error::Api(status) => ApiError::from_status(status),
            kube::Error::HyperError(_) | kube::Error::Service(_) if timed_out(err) => {
                ApiError::Timeout {
                    cause: root_cause(err),
                }
            }
            kube::Error::HyperError(_) | kube::Error::Service(_) => ApiError::Unreachable {
                cause: root_cause(err),
            },
            other => ApiError::Client {
                cause: root_cause(other),
            },
        }
    }

    /// Classify a failure `Status` the API server returned.
    pub fn from_status(status: &Status) -> ApiError {
        let message = status.message.trim().to_string();
        match status.code {
            401 => ApiError::Unauthorized { message },
            403 if message.contains("because it is being terminated") => {
                ApiError::NamespaceTerminating { message }
            }
            403 => ApiError::Forbidden {
                admission: message.contains("admission webhook")
                    || message.contains("denied request"),
                message,
            },
            409 if status.reason == "Conflict" => ApiError::Conflict {
                managers: crate::k8s::conflict::by_manager(&crate::k8s::conflict::parse(status)),
                message,
            },
            404 => match missing_namespace(status) {
                Some(namespace) => ApiError::NotFound { namespace },
                None => ApiError::Status {
                    code: status.code,
                    reason: status.reason.clone(),
                    message,
                },
            },
            code => ApiError::Status {
                code,
                reason: status.reason.clone(),
                message,
            },
        }
    }

    /// Trying anything else against this API server would fail the same
    /// way (it cannot be reached, or it rejects the credentials).
    pub fn stops_everything(&self) -> bool {
        matches!(
            self,
            ApiError::Unauthorized { .. } | ApiError::Timeout { .. } | ApiError::Unreachable { .. }
        )
    }

    /// The request never got an answer (unreachable, timed out, unreadable).
    pub fn is_transport(&self) -> bool {
        matches!(
            self,
            ApiError::Timeout { .. } | ApiError::Unreachable { .. } | ApiError::Client { .. }
        )
    }
}

/// Did a transport error end in a timeout? Read from the error types in
/// the chain (the client's timeouts surface as `io::ErrorKind::TimedOut`
/// or tokio's `Elapsed`), not from messages.
fn timed_out(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        if e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut)
            || e.is::<tokio::time::error::Elapsed>()
        {
            return true;
        }
        cur = e.source();
    }
    false
}

/// What failed, for the message: the verb and the resource it was used on.
#[derive(Debug, Clone)]
pub struct Attempt<'a> {
    /// Kubernetes verb: get, list, watch, patch, delete, ...
    pub verb: &'a str,
    /// Plural resource, with the group for non-core: `deployments.apps`.
    pub resource: &'a str,
    /// Namespace, or None for cluster-scoped.
    pub namespace: Option<&'a str>,
}

/// A classified failure, worded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub message: String,
    /// No point in trying further objects (cluster unreachable, credentials rejected).
    pub fatal: bool,
}

/// Classify and word an error from the kube client.
pub fn classify(err: &kube::Error, attempt: &Attempt, server: &str) -> Failure {
    describe(&ApiError::classify(err), attempt, server)
}

/// Word a classified error: what was refused and what to do.
pub fn describe(err: &ApiError, attempt: &Attempt, server: &str) -> Failure {
    let fatal = err.stops_everything();
    let message = match err {
        ApiError::Timeout { .. } => format!(
            "the Kubernetes API server at {server} did not answer within --request-timeout; \
             check the cluster's health, or raise --request-timeout"
        ),
        ApiError::Unreachable { cause } => format!(
            "cannot reach the Kubernetes API server at {server}: {cause}; check that the cluster is running and that --kubeconfig/--context point at it"
        ),
        ApiError::Client { cause } => {
            format!("{} {}: {cause}", attempt.verb, attempt.resource)
        }
        ApiError::Unauthorized { .. } => format!(
            "the API server at {server} rejected the credentials (401 Unauthorized); log in again or fix the user in the kubeconfig"
        ),
        ApiError::NamespaceTerminating { .. } => terminating(attempt),
        ApiError::Forbidden {
            admission: true,
            message,
        } => refused_by_admission(message, attempt),
        ApiError::Forbidden { .. } => format!(
            "forbidden: not allowed to {} {}{}; ask a cluster admin for RBAC permission to {} {}",
            attempt.verb,
            attempt.resource,
            scope(attempt),
            attempt.verb,
            attempt.resource
        ),
        ApiError::Conflict { managers, message } => {
            let who = crate::k8s::conflict::owners(&managers.iter().collect::<Vec<_>>());
            format!(
                "conflict: {}; change the value in the tool that manages it, \
                 or re-run with --force-conflicts to take the fields over",
                if who.is_empty() { message } else { &who }
            )
        }
        ApiError::NotFound { namespace } => format!(
            "namespace \"{namespace}\" does not exist; create it first, or add a Namespace object to the file"
        ),
        ApiError::Status {
            code,
            reason,
            message,
        } => {
            let reason = if_given(reason, |r| format!(" ({code} {r})"));
            format!(
                "{} {}{}: {message}{reason}",
                attempt.verb,
                attempt.resource,
                scope(attempt)
            )
        }
    };
    Failure { message, fatal }
}

fn scope(attempt: &Attempt) -> String {
    match attempt.namespace {
        Some(ns) => format!(" in namespace \"{ns}\""),
        None => " (cluster-wide)".to_string(),
    }
}

/// Classify and word a failure `Status` (a watch's error event).
pub fn classify_status(status: &Status, attempt: &Attempt, server: &str) -> Failure {
    describe(&ApiError::from_status(status), attempt, server)
}

/// A 403 that RBAC did not give: the namespace is being deleted.
pub fn terminating(attempt: &Attempt) -> String {
    let ns = attempt.namespace.unwrap_or_default();
    format!(
        "namespace \"{ns}\" is being deleted, so nothing can be created in it; \
         wait until it is gone and create it again, or use another namespace"
    )
}

/// A 403 that RBAC did not give: an admission webhook (Gatekeeper,
/// Kyverno, ...) or a ValidatingAdmissionPolicy denied the request. Asking
/// for RBAC permission would be the wrong advice; the server's message is
/// the explanation.
pub fn refused_by_admission(message: &str, attempt: &Attempt) -> String {
    format!(
        "{} {}{} was refused by an admission policy (403, not RBAC): {message}",
        attempt.verb,
        attempt.resource,
        scope(attempt)
    )
}

/// `namespaces "x" not found` -> `x`.
fn missing_namespace(status: &Status) -> Option<String> {
    let details_kind = status
        .details
        .as_ref()
        .map(|d| d.kind.as_str())
        .unwrap_or("");
    let from_message = status
        .message
        .strip_prefix("namespaces \"")
        .and_then(|r| r.split_once('"'))
        .map(|(n, _)| n.to_string());
    if details_kind == "namespaces" {
        return status
            .details
            .as_ref()
            .map(|d| d.name.clone())
            .filter(|n| !n.is_empty())
            .or(from_message);
    }
    from_message
}

/// The innermost error message (e.g. `Connection refused (os error 111)`).
pub fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut cur: &(dyn std::error::Error + 'static) = err;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

/// `render(text)`, or nothing when `text` is empty (a status reason the
/// server left out).
pub(crate) fn if_given(text: &str, render: impl FnOnce(&str) -> String) -> String {
    if text.is_empty() {
        String::new()
    } else {
        render(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16, reason: &str, message: &str) -> Status {
        serde_json::from_value(serde_json::json!({"code": code, "reason": reason, "message": message, "status": "Failure"})).unwrap()
    }

    const ATTEMPT: Attempt = Attempt {
        verb: "patch",
        resource: "secrets",
        namespace: Some("tingyun"),
    };

    #[test]
    fn classified_once_from_code_reason_and_details() {
        assert_eq!(
            ApiError::from_status(&status(401, "Unauthorized", "Unauthorized")),
            ApiError::Unauthorized {
                message: "Unauthorized".into()
            }
        );
        let s = status(
            409,
            "Conflict",
            "Apply failed with 1 conflict: conflict with \"helm\" using apps/v1: .spec.replicas",
        );
        let ApiError::Conflict { managers, .. } = ApiError::from_status(&s) else {
            panic!("not a conflict")
        };
        assert_eq!(
            managers,
            vec![("helm".to_string(), vec![".spec.replicas".to_string()])]
        );
        assert_eq!(
            ApiError::from_status(&status(404, "NotFound", "namespaces \"shop\" not found")),
            ApiError::NotFound {
                namespace: "shop".into()
            }
        );
        assert!(matches!(
            ApiError::from_status(&status(404, "NotFound", "secrets \"x\" not found")),
            ApiError::Status { code: 404, .. }
        ));
        assert!(matches!(
            ApiError::from_status(&status(
                403,
                "Forbidden",
                "admission webhook \"x\" denied the request: no"
            )),
            ApiError::Forbidden {
                admission: true,
                ..
            }
        ));
        assert!(ApiError::from_status(&status(401, "", "")).stops_everything());
        assert!(!ApiError::from_status(&status(403, "", "")).stops_everything());
    }

    #[test]
    fn a_timeout_is_told_by_its_error_type() {
        let timeout = std::io::Error::new(std::io::ErrorKind::TimedOut, "whatever the words");
        assert!(timed_out(&timeout));
        let refused = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "timed out");
        assert!(!timed_out(&refused));
    }

    #[test]
    fn forbidden_names_verb_and_resource() {
        let f = classify_status(
            &status(403, "Forbidden", "secrets \"x\" is forbidden"),
            &ATTEMPT,
            "https://k",
        );
        assert!(
            f.message
                .contains("not allowed to patch secrets in namespace \"tingyun\""),
            "{}",
            f.message
        );
        assert!(!f.fatal);
    }

    #[test]
    fn forbidden_by_admission_is_not_called_rbac() {
        let webhook = "admission webhook \"validation.gatekeeper.sh\" denied the request: \
                       [must-have-owner] you must provide labels: {\"owner\"}";
        let f = classify_status(&status(403, "Forbidden", webhook), &ATTEMPT, "https://k");
        assert_eq!(
            f.message,
            format!(
                "patch secrets in namespace \"tingyun\" was refused by an admission policy (403, not RBAC): {webhook}"
            )
        );
        let policy = "secrets \"x\" is forbidden: ValidatingAdmissionPolicy 'no-secrets' with binding \
                      'no-secrets-binding' denied request: failed expression: object.type != 'Opaque'";
        let f = classify_status(&status(403, "Forbidden", policy), &ATTEMPT, "https://k");
        assert!(
            f.message.contains("admission policy") && f.message.ends_with(policy),
            "{}",
            f.message
        );
        let terminating = "secrets \"x\" is forbidden: unable to create new content in namespace tingyun \
                           because it is being terminated";
        let f = classify_status(
            &status(403, "Forbidden", terminating),
            &ATTEMPT,
            "https://k",
        );
        assert_eq!(
            f.message,
            "namespace \"tingyun\" is being deleted, so nothing can be created in it; \
             wait until it is gone and create it again, or use another namespace"
        );
        // The RBAC wording stays for RBAC denials.
        let rbac = "secrets \"x\" is forbidden: User \"dev\" cannot patch resource \"secrets\" \
                    in API group \"\" in the namespace \"tingyun\"";
        let f = classify_status(&status(403, "Forbidden", rbac), &ATTEMPT, "https://k");
        assert!(
            f.message
                .starts_with("forbidden: not allowed to patch secrets"),
            "{}",
            f.message
        );
    }

    #[test]
    fn conflicts_name_the_manager_and_the_flag() {
        let s = status(
            409,
            "Conflict",
            "Apply failed with 1 conflict: conflict with \"helm\" using apps/v1: .spec.replicas",
        );
        let f = classify_status(&s, &ATTEMPT, "https://k");
        assert_eq!(
            f.message,
            "conflict: \"helm\" owns .spec.replicas; change the value in the tool that manages it, \
             or re-run with --force-conflicts to take the fields over"
        );
    }

    #[test]
    fn missing_namespace_is_one_line() {
        let f = classify_status(
            &status(404, "NotFound", "namespaces \"shop\" not found"),
            &ATTEMPT,
            "https://k",
        );
        assert_eq!(
            f.message,
            "namespace \"shop\" does not exist; create it first, or add a Namespace object to the file"
        );
    }

    #[test]
    fn unauthorized_is_fatal() {
        let f = classify_status(
            &status(401, "Unauthorized", "Unauthorized"),
            &ATTEMPT,
            "https://k",
        );
        assert!(f.fatal && f.message.contains("401"), "{}", f.message);
    }
}
