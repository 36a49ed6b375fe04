//! End-to-end: the whole flow against a real cluster. Ignored by default.
//!
//! Run it against a disposable cluster (kind, minikube, k3d, a test cluster):
//!
//! ```text
//! TINGYUN_E2E_KUBECONFIG=~/.kube/config cargo test --test it e2e -- --ignored --nocapture
//! ```
//!
//! What it does, with the real binary, in this order:
//! 1. `patch FILE --dry-run` on a copy of testdata/tingyunagent.yaml
//!    (prints the diff, writes nothing), then `patch FILE [--registry R]`;
//! 2. `secret --server S --username U --password-stdin -n tingyun` when
//!    `TINGYUN_E2E_REGISTRY_SERVER`, `TINGYUN_E2E_REGISTRY_USER` and
//!    `TINGYUN_REGISTRY_PASSWORD` are set;
//! 3. `apply FILE --dry-run=server` (exit 0 or 1, never an error);
//! 4. `apply FILE` — server-side apply, restart, wait (`TINGYUN_E2E_TIMEOUT`,
//!    default 5m) until the agent pods are Ready;
//! 5. `apply FILE` again: everything `unchanged`, nothing restarted;
//! 6. deletes what it created (namespace `tingyun` and the cluster-scoped
//!    ClusterRole, ClusterRoleBinding and MutatingWebhookConfiguration)
//!    unless `TINGYUN_E2E_KEEP=1`.
//!
//! The agent's images must be pullable from the cluster: set
//! `TINGYUN_E2E_REGISTRY=HOST[:PORT]/PROJECT` to a registry holding them
//! (with the pull-secret variables above when it needs credentials), or point
//! `TINGYUN_E2E_MANIFEST` at your own tingyunagent.yaml. Optional:
//! `TINGYUN_E2E_CONTEXT` picks a kubeconfig context.
//!
//! Safety: the test refuses to run when the namespace `tingyun` already
//! exists (an existing installation would be changed and then deleted),
//! unless `TINGYUN_E2E_ALLOW_EXISTING=1`, in which case it never deletes.
use crate::support;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

use crate::support::{stderr, stdout};

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn expand_home(p: &str) -> PathBuf {
    match (p.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => Path::new(&home).join(rest),
        _ => PathBuf::from(p),
    }
}

struct Cluster {
    kubeconfig: PathBuf,
    context: Option<String>,
}

impl Cluster {
    fn flags(&self) -> Vec<String> {
        let mut f = vec![
            "--kubeconfig".to_string(),
            self.kubeconfig.display().to_string(),
        ];
        if let Some(c) = &self.context {
            f.extend(["--context".to_string(), c.clone()]);
        }
        f
    }

    fn run(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut cmd = support::bin();
        cmd.args(args).args(self.flags());
        cmd.stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn kubectl-tingyun");
        if let Some(input) = stdin {
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(input.as_bytes())
                .expect("write stdin");
        }
        let out = child.wait_with_output().expect("wait");
        println!(
            "$ kubectl tingyun {}\n{}{}",
            args.join(" "),
            stdout(&out),
            stderr(&out)
        );
        out
    }

    async fn client(&self) -> kube::Client {
        let args = kubectl_tingyun::cluster::connect::ConnectOptions {
            kubeconfig: Some(self.kubeconfig.clone()),
            context: self.context.clone(),
            ..Default::default()
        };
        args.connect()
            .await
            .expect("connect to the e2e cluster")
            .client
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

#[test]
#[ignore = "needs a real cluster: set TINGYUN_E2E_KUBECONFIG (see the module docs)"]
fn whole_flow_against_a_real_cluster() {
    let Some(kubeconfig) = env("TINGYUN_E2E_KUBECONFIG") else {
        panic!("set TINGYUN_E2E_KUBECONFIG to a kubeconfig for a disposable cluster");
    };
    let cluster = Cluster {
        kubeconfig: expand_home(&kubeconfig),
        context: env("TINGYUN_E2E_CONTEXT"),
    };
    let rt = runtime();
    let client = rt.block_on(cluster.client());
    use k8s_openapi::api::core::v1::Namespace;
    let namespaces: kube::Api<Namespace> = kube::Api::all(client.clone());
    let existed = rt
        .block_on(namespaces.get_opt("tingyun"))
        .expect("read namespace tingyun")
        .is_some();
    let allow_existing = env("TINGYUN_E2E_ALLOW_EXISTING").as_deref() == Some("1");
    assert!(
        !existed || allow_existing,
        "namespace tingyun exists on this cluster; use a disposable cluster or set TINGYUN_E2E_ALLOW_EXISTING=1"
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let file = match env("TINGYUN_E2E_MANIFEST") {
        Some(m) => {
            let dst = dir.path().join("tingyunagent.yaml");
            std::fs::copy(expand_home(&m), &dst).expect("copy TINGYUN_E2E_MANIFEST");
            dst
        }
        None => support::fixture_copy(dir.path(), "tingyunagent.yaml"),
    };
    let f = file.to_str().expect("utf-8 path");

    // 1. patch: review, then write.
    let mut patch: Vec<&str> = vec!["patch", f];
    let registry = env("TINGYUN_E2E_REGISTRY");
    if let Some(r) = &registry {
        patch.extend(["--registry", r.as_str()]);
    }
    let before = std::fs::read(&file).expect("read manifest");
    let mut dry = patch.clone();
    dry.push("--dry-run");
    let out = support::bin()
        .args(&dry)
        .stdin(Stdio::null())
        .output()
        .expect("patch --dry-run");
    assert_eq!(
        out.status.code(),
        Some(0),
        "patch --dry-run: {}",
        stderr(&out)
    );
    assert_eq!(
        std::fs::read(&file).unwrap(),
        before,
        "--dry-run wrote the file"
    );
    let out = support::bin()
        .args(&patch)
        .stdin(Stdio::null())
        .output()
        .expect("patch");
    assert_eq!(out.status.code(), Some(0), "patch: {}", stderr(&out));

    // 2. the pull secret, when a registry with credentials is configured.
    if let (Some(server), Some(user), Some(password)) = (
        env("TINGYUN_E2E_REGISTRY_SERVER"),
        env("TINGYUN_E2E_REGISTRY_USER"),
        env("TINGYUN_REGISTRY_PASSWORD"),
    ) {
        // The namespace must exist before the secret can be created in it.
        let ns_only = dir.path().join("ns.yaml");
        std::fs::write(
            &ns_only,
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: tingyun\n",
        )
        .unwrap();
        let out = cluster.run(&["apply", ns_only.to_str().unwrap(), "--no-restart"], None);
        assert_eq!(out.status.code(), Some(0));
        let out = cluster.run(
            &[
                "secret",
                "--server",
                &server,
                "--username",
                &user,
                "--password-stdin",
                "-n",
                "tingyun",
            ],
            Some(&password),
        );
        assert_eq!(out.status.code(), Some(0), "secret failed");
        assert!(
            !stdout(&out).contains(&password) && !stderr(&out).contains(&password),
            "password printed"
        );
    }

    // 3. server dry run: a diff or nothing, never an error.
    let out = cluster.run(&["apply", f, "--dry-run=server"], None);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "apply --dry-run=server failed"
    );

    // 4. apply, restart, wait.
    let timeout = env("TINGYUN_E2E_TIMEOUT").unwrap_or_else(|| "5m".into());
    let out = cluster.run(&["apply", f, "--timeout", &timeout], None);
    let ok = out.status.code() == Some(0);

    // 5. again: nothing to do.
    let again = if ok {
        Some(cluster.run(&["apply", f, "--timeout", &timeout], None))
    } else {
        None
    };

    // 6. clean up what this test created.
    if !existed && env("TINGYUN_E2E_KEEP").as_deref() != Some("1") {
        rt.block_on(cleanup(client));
    }

    assert!(ok, "apply did not finish: {}", stderr(&out));
    let again = again.expect("second apply");
    assert_eq!(
        again.status.code(),
        Some(0),
        "second apply: {}",
        stderr(&again)
    );
    let so = stdout(&again);
    assert!(
        !so.contains("restarted") && !so.contains("created"),
        "second apply changed something:\n{so}"
    );
}

async fn cleanup(client: kube::Client) {
    use k8s_openapi::api::admissionregistration::v1::MutatingWebhookConfiguration;
    use k8s_openapi::api::core::v1::Namespace;
    use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
    use kube::api::{Api, DeleteParams};
    let dp = DeleteParams::default();
    let _ = Api::<MutatingWebhookConfiguration>::all(client.clone())
        .delete("tingyun-agent-injector", &dp)
        .await;
    let _ = Api::<ClusterRoleBinding>::all(client.clone())
        .delete("tingyun-k8s-monitor", &dp)
        .await;
    let _ = Api::<ClusterRole>::all(client.clone())
        .delete("tingyun-k8s-monitor", &dp)
        .await;
    let _ = Api::<Namespace>::all(client).delete("tingyun", &dp).await;
}
