//! `kubectl tingyun secret` as a user runs it: the built binary, awkward
//! credentials, and the real `kubectl create secret docker-registry
//! --dry-run=client` as the reference for what the Secret must mean.

use std::io::Write;
use std::path::Path;
use std::process::{Output, Stdio};

use crate::support::kubectl_secret;
use base64::Engine as _;
use kubectl_tingyun::yaml::value::documents;
use serde_json::Value;

/// Run our binary with `stdin` piped in and a clean environment (no
/// kubeconfig, no password variable unless given in `env`).
fn tingyun(args: &[&str], stdin: Option<&[u8]>, env: &[(&str, &str)]) -> Output {
    let mut cmd = crate::support::bin();
    cmd.args(args)
        .env_remove("TINGYUN_REGISTRY_PASSWORD")
        .env("KUBECONFIG", "/nonexistent/kubeconfig")
        .env("HOME", "/nonexistent-home")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("run kubectl-tingyun");
    {
        let mut pipe = child.stdin.take().unwrap();
        if let Some(bytes) = stdin {
            // The process may exit before reading (usage errors): ignore EPIPE.
            let _ = pipe.write_all(bytes);
        }
    }
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn ok_json(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "exit {:?}\nstderr: {}",
        out.status.code(),
        text(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", text(&out.stdout)))
}

/// The decoded `.dockerconfigjson` of a Secret object, parsed.
fn dockerconfig(secret: &Value) -> Value {
    let encoded = secret["data"][".dockerconfigjson"]
        .as_str()
        .expect(".dockerconfigjson");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// User name, password, server: everything that needed shell escaping by hand.
const AWKWARD: &[(&str, &str, &str)] = &[
    (
        "robot$test+app-readonly",
        "Harbor12345",
        "harbor.example.com:5000",
    ),
    ("robot$tingyun+pull", "p:a:ss:", "10.0.0.5:5000"),
    ("us\"er'", "pa\\ss\"wo'rd\\", "harbor.example.com"),
    ("名字", "密码🦀 é", "registry.cn-hangzhou.aliyuncs.com"),
    (
        "cn-north-4@AK",
        " spaces around ",
        "swr.cn-north-4.myhuaweicloud.com",
    ),
    ("u", "$(id)`id`;&|<>*?!#~%{}[]", "[::1]:5000"),
    ("u", "tab\there", "localhost:5000"),
    ("u", "two\nlines", "harbor.example.com"),
    ("u", "-starts-with-dash", "harbor.example.com"),
    (
        "<a&b>",
        "<script>&amp;\u{2028}\u{2029}\u{7f}\u{85}\u{feff}",
        "harbor.example.com",
    ),
    (
        "u",
        "ctl\u{1}\u{8}\u{c}\r\u{1b}\u{1f}",
        "harbor.example.com",
    ),
];

/// The decoded `.dockerconfigjson` bytes.
fn dockerconfig_bytes(secret: &Value) -> Vec<u8> {
    let encoded = secret["data"][".dockerconfigjson"]
        .as_str()
        .expect(".dockerconfigjson");
    base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .unwrap()
}

#[test]
fn the_secret_means_what_kubectl_writes_for_awkward_credentials() {
    for &(user, password, server) in AWKWARD {
        // (kubectl is required: kubectl_secret fails the test without it)
        let reference =
            kubectl_secret("tingyun-image-secret", Some("shop"), server, user, password);

        // Password on standard input, with the newline `echo` adds.
        let stdin = format!("{password}\n");
        let ours = ok_json(&tingyun(
            &[
                "secret",
                "--server",
                server,
                "--username",
                user,
                "--password-stdin",
                "-n",
                "shop",
                "--dry-run",
                "-o",
                "json",
            ],
            Some(stdin.as_bytes()),
            &[],
        ));
        assert_eq!(
            dockerconfig(&ours),
            dockerconfig(&reference),
            "user {user:?} password {password:?}"
        );
        // Even the bytes (Go's escapes for <, >, &, U+2028/9 included), so
        // taking over a secret made by kubectl leaves its data unchanged.
        assert_eq!(
            text(&dockerconfig_bytes(&ours)),
            text(&dockerconfig_bytes(&reference)),
            "user {user:?} password {password:?}"
        );
        for field in ["apiVersion", "kind", "type"] {
            assert_eq!(ours[field], reference[field], "{field}");
        }
        assert_eq!(ours["metadata"]["name"], reference["metadata"]["name"]);
        assert_eq!(
            ours["metadata"]["namespace"],
            reference["metadata"]["namespace"]
        );
        assert_eq!(
            ours["metadata"]["labels"]["app.kubernetes.io/managed-by"],
            "kubectl-tingyun"
        );
        assert_eq!(
            ours["data"].as_object().unwrap().len(),
            1,
            "only .dockerconfigjson"
        );

        // The same from the environment, and the same in YAML.
        let env = tingyun(
            &[
                "secret",
                "--server",
                server,
                "--username",
                user,
                "-n",
                "shop",
                "--dry-run=client",
            ],
            None,
            &[("TINGYUN_REGISTRY_PASSWORD", password)],
        );
        assert!(env.status.success(), "{}", text(&env.stderr));
        let docs =
            documents(&text(&env.stdout)).unwrap_or_else(|e| panic!("YAML does not parse: {e:?}"));
        assert_eq!(docs.len(), 1);
        assert_eq!(
            docs[0], ours,
            "YAML and JSON outputs differ for {user:?}/{password:?}"
        );
        assert!(env.stderr.is_empty(), "{}", text(&env.stderr));
    }
}

#[test]
fn several_namespaces_make_a_list_deduplicated_in_order() {
    for format in ["json", "yaml"] {
        let out = tingyun(
            &[
                "secret",
                "--server",
                "harbor.example.com",
                "--username",
                "u",
                "--password-stdin",
                "-n",
                "tingyun",
                "-n",
                "shop",
                "--namespace",
                "tingyun",
                "-n",
                "billing",
                "--dry-run",
                "-o",
                format,
            ],
            Some(b"pw"),
            &[],
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
        let list = match format {
            "json" => serde_json::from_slice::<Value>(&out.stdout).unwrap(),
            _ => documents(&text(&out.stdout)).unwrap().remove(0),
        };
        assert_eq!(list["apiVersion"], "v1");
        assert_eq!(list["kind"], "List");
        let items = list["items"].as_array().unwrap();
        let namespaces: Vec<&str> = items
            .iter()
            .map(|i| i["metadata"]["namespace"].as_str().unwrap())
            .collect();
        assert_eq!(namespaces, ["tingyun", "shop", "billing"]);
        for item in items {
            assert_eq!(item["kind"], "Secret");
            assert_eq!(item["metadata"]["name"], "tingyun-image-secret");
            assert_eq!(
                dockerconfig(item)["auths"]["harbor.example.com"]["password"],
                "pw"
            );
        }
    }
}

#[test]
fn client_dry_run_without_namespace_leaves_it_out_and_needs_no_kubeconfig() {
    // KUBECONFIG points nowhere: nothing is read or contacted.
    let out = tingyun(
        &[
            "secret",
            "--server",
            "h",
            "--username",
            "u",
            "--password-stdin",
            "--dry-run",
            "--name",
            "pull",
        ],
        Some(b"pw\n"),
        &[],
    );
    let v = documents(&text(&out.stdout)).unwrap().remove(0);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(v["metadata"]["name"], "pull");
    assert!(v["metadata"].get("namespace").is_none(), "{v}");
}

fn stdin_password(stdin: &[u8]) -> Result<String, String> {
    let out = tingyun(
        &[
            "secret",
            "--server",
            "h",
            "--username",
            "u",
            "--password-stdin",
            "-n",
            "a",
            "--dry-run",
            "-o",
            "json",
        ],
        Some(stdin),
        &[("TINGYUN_REGISTRY_PASSWORD", "from-env")],
    );
    if !out.status.success() {
        assert_eq!(out.status.code(), Some(1));
        return Err(text(&out.stderr));
    }
    Ok(dockerconfig(&ok_json(&out))["auths"]["h"]["password"]
        .as_str()
        .unwrap()
        .to_string())
}

#[test]
fn stdin_loses_exactly_one_trailing_newline_and_wins_over_the_environment() {
    assert_eq!(stdin_password(b"pw"), Ok("pw".into()));
    assert_eq!(stdin_password(b"pw\n"), Ok("pw".into()));
    assert_eq!(stdin_password(b"pw\r\n"), Ok("pw".into()));
    assert_eq!(stdin_password(b"pw\n\n"), Ok("pw\n".into()));
    assert_eq!(stdin_password(b" pw \n"), Ok(" pw ".into()));
    for empty in [&b""[..], b"\n"] {
        let err = stdin_password(empty).unwrap_err();
        assert!(err.contains("standard input is empty"), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
}

#[test]
fn no_password_source_is_a_clear_error() {
    let out = tingyun(
        &["secret", "--server", "h", "--username", "u", "--dry-run"],
        None,
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.starts_with("error: no registry password"), "{err}");
    assert!(
        err.contains("--password-stdin") && err.contains("TINGYUN_REGISTRY_PASSWORD"),
        "{err}"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn there_is_no_password_flag_and_its_value_is_not_echoed() {
    const PW: &str = "Hunter2-secret-value";
    for args in [
        vec!["--password", PW],
        vec!["--password=Hunter2-secret-value"],
        vec!["--docker-password=Hunter2-secret-value"],
        vec!["-p", PW],
        vec![&"-pHunter2-secret-value"],
    ] {
        let mut all = vec!["secret", "--server", "h", "--username", "u", "--dry-run"];
        all.extend(args.iter().copied());
        let out = tingyun(&all, None, &[]);
        assert_eq!(out.status.code(), Some(2), "{args:?} was accepted");
        assert!(out.stdout.is_empty());
        assert!(
            !text(&out.stderr).contains(PW),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    let help = tingyun(&["secret", "--help"], None, &[]);
    let help = text(&help.stdout);
    assert!(help.contains("--password-stdin"), "{help}");
    assert!(
        !help.replace("--password-stdin", "").contains("--password"),
        "{help}"
    );
}

#[test]
fn the_password_never_reaches_stderr() {
    const PW: &str = "S3cr3t:pa$$word";
    let cases: &[&[&str]] = &[
        &["--server", "https://harbor.example.com", "--username", "u"],
        &["--server", "harbor.example.com", "--username", "a:b"],
        &[
            "--server",
            "harbor.example.com",
            "--username",
            "u",
            "--name",
            "Bad_Name",
        ],
        &[
            "--server",
            "harbor.example.com",
            "--username",
            "u",
            "-n",
            "Bad.NS",
        ],
        &[
            "--server",
            "harbor.example.com",
            "--username",
            "u",
            "--injected-namespaces",
            "--dry-run",
        ],
        // Not a dry run: tries the (missing) kubeconfig.
        &[
            "--server",
            "harbor.example.com",
            "--username",
            "u",
            "-n",
            "a",
        ],
    ];
    for case in cases {
        let mut args = vec!["secret", "--password-stdin"];
        args.extend_from_slice(case);
        for (stdin, env) in [
            (Some(PW.as_bytes()), vec![]),
            (None, vec![("TINGYUN_REGISTRY_PASSWORD", PW)]),
        ] {
            let mut args = args.clone();
            if stdin.is_none() {
                args.retain(|a| *a != "--password-stdin");
            }
            let out = tingyun(&args, stdin, &env);
            assert_eq!(
                out.status.code(),
                Some(1),
                "{args:?}: {}",
                text(&out.stderr)
            );
            let err = text(&out.stderr);
            assert!(!err.contains(PW), "{args:?}: {err}");
            assert!(err.starts_with("error: "), "{args:?}: {err}");
            assert!(out.stdout.is_empty(), "{args:?}");
        }
    }
}

#[test]
fn url_and_whitespace_servers_are_rejected() {
    for (server, expect) in [
        (
            "https://harbor.example.com:5000",
            "give the registry host, e.g. harbor.example.com:5000, not a URL",
        ),
        ("http://10.0.0.5:5000/v2/", "not a URL"),
        ("harbor.example.com/apm", "has a path (/apm)"),
        ("harbor .example.com", "whitespace"),
        ("harbor.example.com ", "whitespace"),
        ("", "--server is empty"),
    ] {
        let out = tingyun(
            &[
                "secret",
                "--server",
                server,
                "--username",
                "u",
                "--password-stdin",
                "--dry-run",
            ],
            Some(b"pw"),
            &[],
        );
        assert_eq!(out.status.code(), Some(1), "{server:?} accepted");
        let err = text(&out.stderr);
        assert!(err.contains(expect), "{server:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn output_without_dry_run_and_injected_namespaces_with_client_dry_run_are_refused() {
    let out = tingyun(
        &[
            "secret",
            "--server",
            "h",
            "--username",
            "u",
            "--password-stdin",
            "-o",
            "yaml",
        ],
        Some(b"pw"),
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("add --dry-run"),
        "{}",
        text(&out.stderr)
    );

    let out = tingyun(
        &[
            "secret",
            "--server",
            "h",
            "--username",
            "u",
            "--password-stdin",
            "--injected-namespaces",
            "--dry-run",
        ],
        Some(b"pw"),
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("--injected-namespaces reads the cluster"),
        "{}",
        text(&out.stderr)
    );
}

/// A kubeconfig whose server is a loopback port nobody listens on.
fn unreachable_kubeconfig(dir: &Path) -> (std::path::PathBuf, String) {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let server = format!("http://127.0.0.1:{port}");
    let path = dir.join("kubeconfig");
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: test\n\
             clusters:\n- name: test\n  cluster:\n    server: {server}\n\
             users:\n- name: test\n  user:\n    token: not-a-real-token\n\
             contexts:\n- name: test\n  context:\n    cluster: test\n    user: test\n    namespace: from-context\n"
        ),
    )
    .unwrap();
    (path, server)
}

#[test]
fn an_unreachable_cluster_is_one_clear_failure_and_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let (kubeconfig, server) = unreachable_kubeconfig(dir.path());
    const PW: &str = "Unreachable-Pw";
    let out = tingyun(
        &[
            "secret",
            "--server",
            "h",
            "--username",
            "u",
            "--password-stdin",
            "--kubeconfig",
            kubeconfig.to_str().unwrap(),
        ],
        Some(PW.as_bytes()),
        &[],
    );
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(out.stdout.is_empty());
    assert!(!err.contains(PW), "{err}");
    // The context's namespace is the default.
    assert!(
        err.starts_with("error: secret/tingyun-image-secret in namespace from-context: cannot reach the API server"),
        "{err}"
    );
    assert!(
        err.contains(&format!("check that the API server {server}")),
        "{err}"
    );
}
