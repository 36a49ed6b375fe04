//! Pure Kubernetes knowledge: no client, no CLI. Decisions over API objects
//! and message texts, unit-tested over real server and kubelet messages.
pub mod conditions;
pub mod conflict;
pub mod pod_problem;
