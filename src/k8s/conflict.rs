//! Server-side apply conflicts: who owns which field, and whether taking
//! the fields over is the normal case (kubectl's own managers on a cluster
//! installed by hand) or needs the user's decision (Helm, Argo CD, an operator).
use kube::core::Status;

/// Field managers kubectl itself uses. A cluster installed with
/// `kubectl apply -f` / `create -f` / `edit` ... has its fields owned by these;
/// taking them over is what `kubectl apply -f` of the new file would do.
pub const KUBECTL_MANAGERS: [&str; 9] = [
    "kubectl-client-side-apply",
    "kubectl",
    "kubectl-create",
    "kubectl-edit",
    "kubectl-patch",
    "kubectl-set",
    "kubectl-annotate",
    "kubectl-label",
    "kubectl-rollout",
];

pub fn is_kubectl_manager(manager: &str) -> bool {
    KUBECTL_MANAGERS.contains(&manager)
}

/// One conflicting field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    pub manager: String,
    /// `.spec.template.spec.containers[name="x"].image`; empty when unknown.
    pub field: String,
}

/// The manager named in `conflict with "NAME" using apps/v1` (or
/// `conflicts with "NAME" ...`, or `... with subresource "status" ...`).
fn manager_in(text: &str) -> Option<String> {
    let i = text.find(" with \"")?;
    let rest = &text[i + " with \"".len()..];
    rest.split_once('"').map(|(m, _)| m.to_string())
}

/// The conflicts of a 409 from server-side apply: from the Status causes
/// when present (what the API server sends), else from the message.
pub fn parse(status: &Status) -> Vec<Conflict> {
    let mut out: Vec<Conflict> = Vec::new();
    if let Some(details) = &status.details {
        for c in &details.causes {
            if let Some(manager) = manager_in(&c.message) {
                out.push(Conflict {
                    manager,
                    field: c.field.clone(),
                });
            }
        }
    }
    if out.is_empty() {
        // `conflict with "m" using v1: .a` per line or once.
        for part in status.message.split(['\n']) {
            let part = part.trim().trim_start_matches("- ");
            if let Some(manager) = manager_in(part) {
                let field = part
                    .rsplit_once(": ")
                    .map(|(_, f)| f.trim().to_string())
                    .filter(|f| f.starts_with('.'))
                    .unwrap_or_default();
                out.push(Conflict { manager, field });
            } else if part.starts_with('.')
                && let Some(last) = out.last().cloned()
            {
                // `conflicts with "m" using v1:` followed by `- .field` lines.
                if last.field.is_empty() {
                    out.pop();
                }
                out.push(Conflict {
                    manager: last.manager,
                    field: part.to_string(),
                });
            }
        }
    }
    out
}

/// Conflicts grouped per manager, in first-seen order: (manager, fields).
pub fn by_manager(conflicts: &[Conflict]) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for c in conflicts {
        match out.iter_mut().find(|(m, _)| *m == c.manager) {
            Some((_, fields)) => {
                if !c.field.is_empty() && !fields.contains(&c.field) {
                    fields.push(c.field.clone())
                }
            }
            None => out.push((
                c.manager.clone(),
                if c.field.is_empty() {
                    vec![]
                } else {
                    vec![c.field.clone()]
                },
            )),
        }
    }
    out
}

/// `"helm" owns .spec.replicas; "argocd" owns .data.a, .data.b`
pub fn owners(groups: &[&(String, Vec<String>)]) -> String {
    groups
        .iter()
        .map(|(m, fields)| format!("\"{m}\" owns {}", fields.join(", ")))
        .collect::<Vec<_>>()
        .join("; ")
}

/// "took over 3 fields from kubectl-client-side-apply, 1 field from kubectl-edit"
pub fn takeover_summary(groups: &[(String, Vec<String>)]) -> String {
    let parts: Vec<String> = groups
        .iter()
        .map(|(m, f)| {
            let n = f.len().max(1);
            format!("{n} field{} from {m}", if n == 1 { "" } else { "s" })
        })
        .collect();
    format!("took over {}", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(v: serde_json::Value) -> Status {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn causes_name_manager_and_field() {
        // As kube-apiserver sends it (two managers, two fields).
        let s = status(serde_json::json!({
            "status": "Failure", "code": 409, "reason": "Conflict",
            "message": "Apply failed with 2 conflicts: conflicts with \"kubectl-client-side-apply\" using apps/v1:\n- .spec.replicas\nconflict with \"helm\" using apps/v1: .spec.template.spec.containers[name=\"a\"].image",
            "details": {"name": "x", "group": "apps", "kind": "deployments", "causes": [
                {"reason": "FieldManagerConflict", "message": "conflict with \"kubectl-client-side-apply\" using apps/v1", "field": ".spec.replicas"},
                {"reason": "FieldManagerConflict", "message": "conflict with \"helm\" using apps/v1", "field": ".spec.template.spec.containers[name=\"a\"].image"}
            ]}
        }));
        let c = parse(&s);
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].manager, "kubectl-client-side-apply");
        assert_eq!(c[0].field, ".spec.replicas");
        assert_eq!(c[1].manager, "helm");
        assert!(is_kubectl_manager(&c[0].manager));
        assert!(!is_kubectl_manager(&c[1].manager));
        assert!(!is_kubectl_manager("kubectl-tingyun"));
    }

    #[test]
    fn message_only_conflicts_are_parsed() {
        let s = status(serde_json::json!({
            "status": "Failure", "code": 409, "reason": "Conflict",
            "message": "Apply failed with 2 conflicts: conflicts with \"argocd-controller\" using v1:\n- .data.a\n- .data.b"
        }));
        let c = parse(&s);
        assert_eq!(
            c,
            vec![
                Conflict {
                    manager: "argocd-controller".into(),
                    field: ".data.a".into()
                },
                Conflict {
                    manager: "argocd-controller".into(),
                    field: ".data.b".into()
                },
            ]
        );
        let s = status(serde_json::json!({
            "status": "Failure", "code": 409, "reason": "Conflict",
            "message": "Apply failed with 1 conflict: conflict with \"kubectl-create\" using v1: .data.mutate.yaml"
        }));
        assert_eq!(
            parse(&s),
            vec![Conflict {
                manager: "kubectl-create".into(),
                field: ".data.mutate.yaml".into()
            }]
        );
    }

    #[test]
    fn summary_counts_fields_per_manager() {
        let c = vec![
            Conflict {
                manager: "kubectl-client-side-apply".into(),
                field: ".a".into(),
            },
            Conflict {
                manager: "kubectl-client-side-apply".into(),
                field: ".b".into(),
            },
            Conflict {
                manager: "kubectl-edit".into(),
                field: ".c".into(),
            },
            Conflict {
                manager: "kubectl-client-side-apply".into(),
                field: ".d".into(),
            },
        ];
        assert_eq!(
            takeover_summary(&by_manager(&c)),
            "took over 3 fields from kubectl-client-side-apply, 1 field from kubectl-edit"
        );
    }
}
