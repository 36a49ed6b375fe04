//! `kubectl tingyun doctor` on the kube-emulator: pods created by the real
//! kubectl, pull failures and crash loops scripted by the scenario
//! (`imagePullFailures`, `registryAuth`, `nodeArchs`, `crashImages`) with
//! containerd's texts; the expected nodes and architectures are read back
//! with the real kubectl, not from our code. `--check-registry` against a
//! real docker-registry.

use crate::support::emulator::Emulator;
use crate::support::registry::{Layout, Registry};
use crate::support::{stderr, stdout};
use serde_json::Value;

fn findings(o: &std::process::Output) -> Vec<Value> {
    serde_json::from_slice::<Value>(&o.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", stdout(o), stderr(o)))
        .as_array()
        .unwrap()
        .clone()
}

fn wait_pods(emu: &Emulator, ns: &str, n: usize) {
    emu.until("pods settled", |e| {
        let out = e.kubectl_ok(&["get", "pods", "-n", ns, "--no-headers"]);
        let lines: Vec<&str> = out.lines().collect();
        lines.len() >= n
            && lines.iter().all(|l| {
                [
                    "Running",
                    "ImagePullBackOff",
                    "ErrImagePull",
                    "CrashLoopBackOff",
                    "Error",
                ]
                .iter()
                .any(|s| l.contains(s))
            })
    });
}

#[test]
fn every_pull_failure_kind_is_named_with_its_fix() {
    let emu = Emulator::start(
        "readyDelay: 0.1\nimagePullFailures:\n\
         - {image: 'none.example.com/*', error: notfound}\n\
         - {image: 'auth.example.com/*', error: unauthorized}\n\
         - {image: 'http.example.com:5000/*', error: http}\n\
         - {image: 'tls.example.com/*', error: x509}\n\
         - {image: 'slow.example.com/*', error: timeout}\n\
         - {image: 'arm.example.com/*', error: platform}\n\
         objects:\n- {apiVersion: v1, kind: Namespace, metadata: {name: shop}}\n",
    );
    let cases = [
        ("p-none", "none.example.com/a/b:1", "missing"),
        ("p-auth", "auth.example.com/a/b:1", "unauthorized"),
        ("p-http", "http.example.com:5000/a/b:1", "http-only"),
        ("p-tls", "tls.example.com/a/b:1", "tls-error"),
        ("p-slow", "slow.example.com/a/b:1", "unreachable"),
        ("p-arm", "arm.example.com/a/b:1", "platform-missing"),
    ];
    for (pod, image, _) in cases {
        emu.kubectl_ok(&["run", pod, "-n", "shop", &format!("--image={image}")]);
    }
    emu.kubectl_ok(&["run", "fine", "-n", "shop", "--image=ok.example.com/a/b:1"]);
    wait_pods(&emu, "shop", cases.len() + 1);
    let o = emu.tingyun(&["doctor", "-n", "shop", "-o", "json"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let fs = findings(&o);
    assert_eq!(fs.len(), cases.len(), "{fs:#?}");
    for (pod, image, cause) in cases {
        let f = fs
            .iter()
            .find(|f| f["pod"] == pod)
            .unwrap_or_else(|| panic!("{pod}: {fs:#?}"));
        assert_eq!(f["cause"], cause, "{f}");
        assert_eq!(f["image"], image);
        assert_eq!(f["namespace"], "shop");
        assert!(!f["fix"].as_str().unwrap().is_empty());
    }
    let fix = |pod: &str| {
        fs.iter().find(|f| f["pod"] == pod).unwrap()["fix"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(
        fix("p-auth").contains("ServiceAccount shop/default has no imagePullSecrets"),
        "{}",
        fix("p-auth")
    );
    assert!(
        fix("p-http").contains("--http-registry"),
        "{}",
        fix("p-http")
    );
    assert!(
        fix("p-tls").contains("--insecure-registry"),
        "{}",
        fix("p-tls")
    );
    assert!(
        fix("p-none").contains("push none.example.com/a/b:1"),
        "{}",
        fix("p-none")
    );
    // Text form: one block per finding and a count.
    let o = emu.tingyun(&["doctor", "-n", "shop"]);
    let text = stdout(&o);
    assert!(
        text.contains(&format!("{} problems found.", cases.len())),
        "{text}"
    );
    assert!(text.contains("shop/p-tls container p-tls"), "{text}");
}

#[test]
fn wrong_architecture_crash_names_the_node_and_a_healthy_cluster_passes() {
    let emu = Emulator::start(
        "nodes: 2\nreadyDelay: 0.1\nnodeArchs: [amd64, arm64]\ncrashImages:\n\
         - {image: '*node-agent:*', arch: arm64, exitCode: 1, message: 'exec /bin/sh: exec format error'}\n",
    );
    let fixture = crate::support::fixture_path("tingyunagent.yaml");
    emu.kubectl_ok(&["apply", "--server-side", "-f", fixture.to_str().unwrap()]);
    wait_pods(&emu, "tingyun", 3);
    emu.until("crash loop", |e| {
        e.kubectl_ok(&["get", "pods", "-n", "tingyun", "--no-headers"])
            .contains("CrashLoopBackOff")
    });
    let arm: Vec<String> = emu
        .kubectl_ok(&[
            "get",
            "nodes",
            "-l",
            "kubernetes.io/arch=arm64",
            "-o",
            "jsonpath={.items[*].metadata.name}",
        ])
        .split_whitespace()
        .map(str::to_string)
        .collect();
    let o = emu.tingyun(&["doctor", "-o", "json"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let fs = findings(&o);
    assert_eq!(fs.len(), 1, "{fs:#?}");
    let f = &fs[0];
    assert_eq!(f["cause"], "exec-format-error");
    assert_eq!(f["arch"], "arm64");
    assert!(
        arm.contains(&f["node"].as_str().unwrap().to_string()),
        "{f} {arm:?}"
    );
    assert!(f["fix"].as_str().unwrap().contains("linux/arm64"), "{f}");

    let healthy = Emulator::start("readyDelay: 0.1\n");
    healthy.kubectl_ok(&["apply", "--server-side", "-f", fixture.to_str().unwrap()]);
    wait_pods(&healthy, "tingyun", 2);
    let o = healthy.tingyun(&["doctor"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("No problem found"), "{}", stdout(&o));
}

#[test]
fn pull_secrets_missing_refused_and_lacking() {
    let emu = Emulator::start(
        "readyDelay: 0.1\nregistryAuth:\n- {host: 'harbor.example.com:5000', username: 'robot$apm+pull', password: right}\n\
         objects:\n- {apiVersion: v1, kind: Namespace, metadata: {name: shop}}\n",
    );
    // A ServiceAccount naming a secret that is not there; another with a wrong password.
    emu.kubectl_ok(&["create", "serviceaccount", "lacking", "-n", "shop"]);
    emu.kubectl_ok(&[
        "patch",
        "serviceaccount",
        "lacking",
        "-n",
        "shop",
        "-p",
        r#"{"imagePullSecrets":[{"name":"tingyun-image-secret"}]}"#,
    ]);
    emu.kubectl_ok(&[
        "create",
        "secret",
        "docker-registry",
        "wrong",
        "-n",
        "shop",
        "--docker-server=harbor.example.com:5000",
        "--docker-username=robot$apm+pull",
        "--docker-password=wrong",
    ]);
    emu.kubectl_ok(&["create", "serviceaccount", "refused", "-n", "shop"]);
    emu.kubectl_ok(&[
        "patch",
        "serviceaccount",
        "refused",
        "-n",
        "shop",
        "-p",
        r#"{"imagePullSecrets":[{"name":"wrong"}]}"#,
    ]);
    for (pod, sa) in [("p-lacking", "lacking"), ("p-refused", "refused")] {
        emu.kubectl_ok(&[
            "run",
            pod,
            "-n",
            "shop",
            "--image=harbor.example.com:5000/apm/agent:1",
            &format!("--overrides={{\"spec\":{{\"serviceAccountName\":\"{sa}\"}}}}"),
        ]);
    }
    wait_pods(&emu, "shop", 2);
    let o = emu.tingyun(&["doctor", "-n", "shop", "-o", "json"]);
    let fs = findings(&o);
    let fix = |pod: &str| {
        fs.iter()
            .find(|f| f["pod"] == pod)
            .unwrap_or_else(|| panic!("{pod}: {fs:#?}"))["fix"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(
        fix("p-lacking")
            .contains("namespace \"shop\" lacks the pull secret \"tingyun-image-secret\""),
        "{}",
        fix("p-lacking")
    );
    assert!(
        fix("p-refused").contains("refused the credentials of pull secret wrong"),
        "{}",
        fix("p-refused")
    );
}

#[test]
fn check_registry_confirms_a_missing_image_with_the_real_registry() {
    let reg = Registry::plain();
    reg.push(
        &Layout::new(&["linux/amd64"], false, false),
        "apm/agent:1",
        None,
    );
    let h = reg.host();
    let emu = Emulator::start(&format!(
        "readyDelay: 0.1\nimagePullFailures:\n- {{image: '{h}/apm/agent:2', error: notfound}}\n\
         objects:\n- {{apiVersion: v1, kind: Namespace, metadata: {{name: shop}}}}\n"
    ));
    emu.kubectl_ok(&[
        "run",
        "p",
        "-n",
        "shop",
        &format!("--image={h}/apm/agent:2"),
    ]);
    wait_pods(&emu, "shop", 1);
    let o = emu.tingyun(&[
        "doctor",
        "-n",
        "shop",
        "-o",
        "json",
        "--check-registry",
        "--http-registry",
        &h,
    ]);
    let fs = findings(&o);
    assert_eq!(fs[0]["cause"], "missing", "{fs:#?}");
    let r = fs[0]["registry"].as_str().unwrap();
    assert!(
        r.starts_with("missing: ") && r.contains("MANIFEST_UNKNOWN"),
        "{r}"
    );
}
