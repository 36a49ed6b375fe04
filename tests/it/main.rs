//! The integration tests, one binary: a module per area, shared helpers in
//! `support` (running the binary, the kube-emulator, registries) and
//! `common` (files, snapshots, the independent meaning check).
mod common;
mod support;

mod apply_cli;
mod bad_input;
mod cluster_emulator;
mod completion;
mod doctor_cluster;
mod e2e;
mod fuzz_regressions;
mod images_cli;
mod images_push;
mod images_push_robust;
mod krew_manifest;
mod krm_kpt;
mod limits;
mod patch_apply_cli;
mod patch_cases;
mod patch_output;
mod plugin_discovery;
mod profile_cli;
mod properties;
mod readme_flags;
mod registry_client;
mod secret_cli;
mod secret_cluster;
mod secret_masking;
mod usage_hints;
