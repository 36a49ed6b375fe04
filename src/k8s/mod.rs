//! Pure Kubernetes knowledge: no client, no CLI. Decisions over API objects
//! and message texts, unit-tested over real server and kubelet messages.
pub mod conditions;
pub mod conflict;
pub mod pod_problem;

/// The annotation `kubectl apply` keeps the applied configuration in (JSON:
/// a Secret's is its data, so it is masked wherever it is shown).
pub const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";
