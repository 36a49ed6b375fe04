//! Turning API errors into one clear line: what was refused and what to do.
use kube::core::Status;

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

/// A classified failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub message: String,
    /// No point in trying further objects (cluster unreachable, credentials rejected).
    pub fatal: bool,
}

/// Classify an error from the kube client.
pub fn classify(err: &kube::Error, attempt: &Attempt, server: &str) -> Failure {
    match err {
        kube::Error::Api(status) => classify_status(status, attempt, server),
        kube::Error::HyperError(_) | kube::Error::Service(_)
            if root_cause(err).contains("timed out") =>
        {
            Failure {
                message: format!(
                    "the Kubernetes API server at {server} did not answer within --request-timeout; \
                     check the cluster's health, or raise --request-timeout"
                ),
                fatal: true,
            }
        }
        kube::Error::HyperError(_) | kube::Error::Service(_) => Failure {
            message: format!(
                "cannot reach the Kubernetes API server at {server}: {}; check that the cluster is running and that --kubeconfig/--context point at it",
                root_cause(err)
            ),
            fatal: true,
        },
        other => Failure {
            message: format!(
                "{} {}: {}",
                attempt.verb,
                attempt.resource,
                root_cause(other)
            ),
            fatal: false,
        },
    }
}

fn scope(attempt: &Attempt) -> String {
    match attempt.namespace {
        Some(ns) => format!(" in namespace \"{ns}\""),
        None => " (cluster-wide)".to_string(),
    }
}

pub fn classify_status(status: &Status, attempt: &Attempt, server: &str) -> Failure {
    let msg = status.message.trim();
    match status.code {
        401 => Failure {
            message: format!(
                "the API server at {server} rejected the credentials (401 Unauthorized); log in again or fix the user in the kubeconfig"
            ),
            fatal: true,
        },
        403 if not_rbac(msg, attempt).is_some() => Failure {
            message: not_rbac(msg, attempt).unwrap_or_default(),
            fatal: false,
        },
        403 => Failure {
            message: format!(
                "forbidden: not allowed to {} {}{}; ask a cluster admin for RBAC permission to {} {}",
                attempt.verb,
                attempt.resource,
                scope(attempt),
                attempt.verb,
                attempt.resource
            ),
            fatal: false,
        },
        409 if status.reason == "Conflict" || msg.contains("conflict") => {
            let groups = crate::k8s::conflict::by_manager(&crate::k8s::conflict::parse(status));
            let who = crate::k8s::conflict::owners(&groups.iter().collect::<Vec<_>>());
            Failure {
                message: format!(
                    "conflict: {}; change the value in the tool that manages it, \
                     or re-run with --force-conflicts to take the fields over",
                    if who.is_empty() { msg } else { &who }
                ),
                fatal: false,
            }
        }
        404 if missing_namespace(status).is_some() => {
            let ns = missing_namespace(status).unwrap_or_default();
            Failure {
                message: format!(
                    "namespace \"{ns}\" does not exist; create it first, or add a Namespace object to the file"
                ),
                fatal: false,
            }
        }
        _ => {
            let reason = if status.reason.is_empty() {
                String::new()
            } else {
                format!(" ({} {})", status.code, status.reason)
            };
            Failure {
                message: format!(
                    "{} {}{}: {msg}{reason}",
                    attempt.verb,
                    attempt.resource,
                    scope(attempt)
                ),
                fatal: false,
            }
        }
    }
}

/// A 403 that RBAC did not give: the API server also answers 403 when an
/// admission webhook (Gatekeeper, Kyverno, ...) or a ValidatingAdmissionPolicy
/// denies the request, or when the namespace is being deleted. Asking for RBAC
/// permission would be the wrong advice then, and the server's message is the
/// explanation. `None` for everything else (treated as RBAC).
pub fn not_rbac(msg: &str, attempt: &Attempt) -> Option<String> {
    let scope = scope(attempt);
    if msg.contains("because it is being terminated") {
        let ns = attempt.namespace.unwrap_or_default();
        return Some(format!(
            "namespace \"{ns}\" is being deleted, so nothing can be created in it; \
             wait until it is gone and create it again, or use another namespace"
        ));
    }
    if msg.contains("admission webhook") || msg.contains("denied request") {
        return Some(format!(
            "{} {}{scope} was refused by an admission policy (403, not RBAC): {msg}",
            attempt.verb, attempt.resource
        ));
    }
    None
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
