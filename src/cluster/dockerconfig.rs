//! The pure part of `kubectl tingyun secret`: validating the inputs, reading
//! the password, and building the `kubernetes.io/dockerconfigjson` Secret
//! that `kubectl create secret docker-registry` would build.
//!
//! Nothing here talks to a cluster or prints anything.
use std::collections::BTreeMap;
use std::io::Read;

use anyhow::{Context as _, bail};
use base64::Engine as _;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::{Value, json};

use crate::image::reference::{Host, RefError};

pub const SECRET_TYPE: &str = "kubernetes.io/dockerconfigjson";
pub const DATA_KEY: &str = ".dockerconfigjson";
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
pub const MANAGED_BY_VALUE: &str = "kubectl-tingyun";
pub const PASSWORD_ENV: &str = "TINGYUN_REGISTRY_PASSWORD";

/// The `.dockerconfigjson` document, byte for byte what kubectl writes:
/// `{"auths":{SERVER:{"username":U,"password":P,"auth":base64("U:P")}}}`.
pub fn dockerconfigjson(server: &str, username: &str, password: &str) -> String {
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
    // serde_json with `preserve_order` keeps kubectl's field order.
    let doc = json!({
        "auths": {
            server: { "username": username, "password": password, "auth": auth }
        }
    });
    go_json_escapes(&doc.to_string())
}

/// Escape as Go's `encoding/json` (which kubectl uses) does beyond what
/// serde_json does: `<`, `>`, `&`, U+2028 and U+2029. These characters can
/// only occur inside strings of the document, so the result is the same
/// JSON value, byte for byte what kubectl writes.
fn go_json_escapes(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

/// The pull Secret for one namespace (`None`: leave the namespace out, as
/// `kubectl create --dry-run=client` does without `-n`).
///
/// This does not validate its inputs: call [`validate_server`],
/// [`validate_username`] and [`validate_secret_name`] first.
pub fn build_secret(
    name: &str,
    namespace: Option<&str>,
    server: &str,
    username: &str,
    password: &str,
) -> Secret {
    let data = BTreeMap::from([(
        DATA_KEY.to_string(),
        ByteString(dockerconfigjson(server, username, password).into_bytes()),
    )]);
    Secret {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            namespace: namespace.map(str::to_string),
            labels: Some(BTreeMap::from([(
                MANAGED_BY_LABEL.to_string(),
                MANAGED_BY_VALUE.to_string(),
            )])),
            ..ObjectMeta::default()
        },
        data: Some(data),
        type_: Some(SECRET_TYPE.to_string()),
        ..Secret::default()
    }
}

/// What `--dry-run` prints: the Secret itself, or a `v1` `List` of them.
pub fn printable(secrets: &[Secret]) -> anyhow::Result<Value> {
    let mut items = secrets
        .iter()
        .map(serde_json::to_value)
        .collect::<Result<Vec<_>, _>>()
        .context("cannot serialize the Secret")?;
    if items.len() == 1 {
        return Ok(items.remove(0));
    }
    Ok(json!({ "apiVersion": "v1", "kind": "List", "items": items }))
}

/// `--server` is a registry host with an optional port, the key kubelet
/// looks up for an image `HOST[:PORT]/project/name:tag`.
///
/// Rejected: empty, whitespace or control characters, a scheme
/// (`https://...`), a path (`harbor.example.com/apm`: kubectl would accept
/// it and kubelet would match it as a path prefix, but KCI virtual nodes and
/// most guides key credentials by host only, and the usual cause is pasting
/// the `--registry HOST/PROJECT` value of `patch`), user info (`user@host`)
/// and a non-numeric or out-of-range port.
pub fn validate_server(server: &str) -> anyhow::Result<()> {
    if server.is_empty() {
        bail!("--server is empty: give the registry host, e.g. harbor.example.com:5000");
    }
    if server.chars().any(|c| c.is_whitespace() || c.is_control()) {
        bail!(
            "--server {server:?} contains whitespace: give the registry host, e.g. harbor.example.com:5000"
        );
    }
    if let Some(i) = server.find("://") {
        let rest = &server[i + 3..];
        let host = rest.split('/').next().unwrap_or(rest);
        let example = if host.is_empty() {
            "harbor.example.com:5000"
        } else {
            host
        };
        bail!(
            "--server {server:?} is a URL: give the registry host, e.g. harbor.example.com:5000, not a URL \
             (here: --server {example})"
        );
    }
    if let Some(i) = server.find('/') {
        let (host, path) = server.split_at(i);
        bail!(
            "--server {server:?} has a path ({path}): give the registry host only, e.g. --server {host} \
             (the project belongs in the image name, see `patch --registry`)"
        );
    }
    if server.contains('@') {
        bail!(
            "--server {server:?} contains '@': give the registry host, e.g. harbor.example.com:5000, \
             and the user name with --username"
        );
    }
    if server.starts_with(':') {
        bail!(
            "--server {server:?} has no host: give the registry host, e.g. harbor.example.com:5000"
        );
    }
    // The host rules are the image references' (a pull secret for a host
    // no image can name would never be used).
    Host::parse(server).map_err(|e| match e {
        RefError::BadPort { port, .. } => {
            anyhow::anyhow!("--server {server:?}: port {port:?} is not a number from 1 to 65535")
        }
        RefError::BadHost { host, .. } => match host
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']')))
        {
            Some(bad) => anyhow::anyhow!(
                "--server {server:?}: {bad:?} cannot appear in a host name; give HOST[:PORT], e.g. harbor.example.com:5000"
            ),
            None => anyhow::anyhow!(
                "--server {server:?} is not HOST[:PORT], e.g. harbor.example.com:5000"
            ),
        },
        other => anyhow::anyhow!("--server {other}"),
    })?;
    Ok(())
}

/// Any characters are allowed except a colon: registries (and kubelet, which
/// decodes `auth`) split `user:password` at the first colon, so a user name
/// with a colon could never log in.
pub fn validate_username(username: &str) -> anyhow::Result<()> {
    if username.is_empty() {
        bail!("--username is empty: give the registry user name");
    }
    if username.contains(':') {
        bail!(
            "--username contains ':': registries split \"user:password\" at the first colon, \
             so a user name cannot contain one"
        );
    }
    if username.chars().any(char::is_control) {
        bail!("--username contains a control character (newline, tab, ...): check the value");
    }
    Ok(())
}

/// A Secret name: a DNS-1123 subdomain, as the API server requires.
pub fn validate_secret_name(name: &str) -> anyhow::Result<()> {
    if let Err(why) = crate::names::dns1123_subdomain(name) {
        bail!(
            "--name {name:?} is not a valid Secret name: {why} \
             (lowercase letters, digits, '-' and '.', starting and ending with a letter or digit, e.g. tingyun-image-secret)"
        );
    }
    Ok(())
}

/// A namespace name: a DNS-1123 label.
pub fn validate_namespace(ns: &str) -> anyhow::Result<()> {
    if let Err(why) = crate::names::dns1123_label(ns) {
        bail!(
            "namespace {ns:?} is not a valid namespace name: {why} \
             (lowercase letters, digits and '-', starting and ending with a letter or digit)"
        );
    }
    Ok(())
}

/// The password, from standard input with `--password-stdin` (all of it,
/// minus one trailing newline, as `docker login --password-stdin` does), or
/// else from `TINGYUN_REGISTRY_PASSWORD`. Errors never contain the password.
pub fn read_password(
    password_stdin: bool,
    stdin: impl Read,
    env_value: Option<std::ffi::OsString>,
) -> anyhow::Result<String> {
    if password_stdin {
        let mut bytes = Vec::new();
        let mut stdin = stdin;
        stdin
            .read_to_end(&mut bytes)
            .context("cannot read the password from standard input")?;
        let Ok(mut password) = String::from_utf8(bytes) else {
            bail!("the password on standard input is not UTF-8 text");
        };
        if password.ends_with('\n') {
            password.pop();
            if password.ends_with('\r') {
                password.pop();
            }
        }
        if password.is_empty() {
            bail!(
                "--password-stdin: standard input is empty; pipe the password in, \
                 e.g. printf '%s' \"$TOKEN\" | kubectl tingyun secret ... --password-stdin"
            );
        }
        return Ok(password);
    }
    match env_value {
        Some(value) => {
            let Some(password) = value.to_str() else {
                bail!("{PASSWORD_ENV} is not UTF-8 text");
            };
            if password.is_empty() {
                bail!(
                    "{PASSWORD_ENV} is set but empty; set it to the registry password or use --password-stdin"
                );
            }
            Ok(password.to_string())
        }
        None => bail!(
            "no registry password: pipe it to --password-stdin \
             (printf '%s' \"$TOKEN\" | kubectl tingyun secret ... --password-stdin) \
             or set {PASSWORD_ENV}; it is never taken from the command line"
        ),
    }
}

/// Keep the first occurrence of each namespace, in order.
pub fn dedup_keep_order<I: IntoIterator<Item = String>>(names: I) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    names
        .into_iter()
        .filter(|n| seen.insert(n.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn decode_config(secret: &Secret) -> Value {
        let bytes = &secret.data.as_ref().unwrap()[DATA_KEY].0;
        serde_json::from_slice(bytes).unwrap()
    }

    #[test]
    fn dockerconfig_matches_kubectl_byte_for_byte() {
        // From: kubectl create secret docker-registry x --docker-server='harbor.example.com:5000'
        //   --docker-username='robot$test+app-readonly' --docker-password='p:a"s\s 密码' --dry-run=client -o json
        assert_eq!(
            dockerconfigjson(
                "harbor.example.com:5000",
                "robot$test+app-readonly",
                "p:a\"s\\s 密码"
            ),
            r#"{"auths":{"harbor.example.com:5000":{"username":"robot$test+app-readonly","password":"p:a\"s\\s 密码","auth":"cm9ib3QkdGVzdCthcHAtcmVhZG9ubHk6cDphInNccyDlr4bnoIE="}}}"#
        );
    }

    #[test]
    fn dockerconfig_uses_gos_escapes_like_kubectl() {
        // kubectl create secret docker-registry x --docker-server=h --docker-username='<a&b>'
        //   --docker-password=$'x\u2028\b\x01' --dry-run=client -o json
        let json = dockerconfigjson("h", "<a&b>", "x\u{2028}\u{8}\u{1}");
        assert_eq!(
            json,
            r#"{"auths":{"h":{"username":"\u003ca\u0026b\u003e","password":"x\u2028\b\u0001","auth":"PGEmYj46eOKAqAgB"}}}"#
        );
        let v: Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["auths"]["h"]["username"], "<a&b>");
        assert_eq!(v["auths"]["h"]["password"], "x\u{2028}\u{8}\u{1}");
    }

    #[test]
    fn secret_has_type_name_namespace_label_and_one_key() {
        let s = build_secret("tingyun-image-secret", Some("shop"), "h:5000", "u", "p");
        assert_eq!(s.type_.as_deref(), Some(SECRET_TYPE));
        assert_eq!(s.metadata.name.as_deref(), Some("tingyun-image-secret"));
        assert_eq!(s.metadata.namespace.as_deref(), Some("shop"));
        assert_eq!(
            s.metadata.labels.as_ref().unwrap()[MANAGED_BY_LABEL],
            MANAGED_BY_VALUE
        );
        assert_eq!(s.data.as_ref().unwrap().len(), 1);
        assert!(s.string_data.is_none());
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["apiVersion"], "v1");
        assert_eq!(v["kind"], "Secret");
        assert_eq!(
            v["data"][DATA_KEY],
            base64::engine::general_purpose::STANDARD
                .encode(r#"{"auths":{"h:5000":{"username":"u","password":"p","auth":"dTpw"}}}"#)
        );
        assert!(
            build_secret("n", None, "h", "u", "p")
                .metadata
                .namespace
                .is_none()
        );
    }

    proptest! {
        #[test]
        fn any_credentials_round_trip(user in "[^:]+", pass in any::<String>()) {
            let s = build_secret("x", None, "harbor.example.com", &user, &pass);
            let cfg = decode_config(&s);
            let entry = &cfg["auths"]["harbor.example.com"];
            prop_assert_eq!(entry["username"].as_str().unwrap(), user.as_str());
            prop_assert_eq!(entry["password"].as_str().unwrap(), pass.as_str());
            let auth = base64::engine::general_purpose::STANDARD.decode(entry["auth"].as_str().unwrap()).unwrap();
            let auth = String::from_utf8(auth).unwrap();
            let (u, p) = auth.split_once(':').unwrap();
            prop_assert_eq!(u, user.as_str());
            prop_assert_eq!(p, pass.as_str());
        }
    }

    #[test]
    fn printable_is_the_secret_or_a_list() {
        let one = [build_secret("x", Some("a"), "h", "u", "p")];
        assert_eq!(printable(&one).unwrap()["kind"], "Secret");
        let two = [
            build_secret("x", Some("a"), "h", "u", "p"),
            build_secret("x", Some("b"), "h", "u", "p"),
        ];
        let list = printable(&two).unwrap();
        assert_eq!(list["apiVersion"], "v1");
        assert_eq!(list["kind"], "List");
        assert_eq!(list["items"][1]["metadata"]["namespace"], "b");
    }

    #[test]
    fn servers() {
        for ok in [
            "harbor.example.com",
            "harbor.example.com:5000",
            "10.0.0.5:5000",
            "localhost",
            "[::1]:5000",
            "[fe80::1]",
            "reg-1.local",
        ] {
            validate_server(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        let err = |s: &str| validate_server(s).unwrap_err().to_string();
        let e = err("https://harbor.example.com:5000/v2/");
        assert!(
            e.contains("give the registry host, e.g. harbor.example.com:5000, not a URL"),
            "{e}"
        );
        assert!(e.contains("--server harbor.example.com:5000)"), "{e}");
        assert!(err("http://x").contains("not a URL"));
        assert!(err("harbor.example.com/apm").contains("has a path (/apm)"));
        assert!(err("harbor.example.com/apm").contains("--server harbor.example.com "));
        assert!(err("harbor example.com").contains("whitespace"));
        assert!(err(" harbor.example.com").contains("whitespace"));
        assert!(err("harbor.example.com\n").contains("whitespace"));
        assert!(err("").contains("empty"));
        assert!(err("h:0").contains("port"));
        assert!(err("h:70000").contains("port"));
        assert!(err("h:x").contains("port"));
        assert!(err("h:").contains("port"));
        assert!(err(":5000").contains("no host"));
        assert!(err("u@h").contains("'@'"));
        assert!(err("a:b:c").contains("HOST[:PORT]"));
        assert!(err("h,i").contains("','"));
        // Docker's host names have no '_' (image references could not name it).
        assert!(err("reg_1.local").contains("'_'"));
    }

    #[test]
    fn usernames() {
        for ok in [
            "robot$test+app-readonly",
            "cn-north-4@AK",
            "名字",
            "a\"b\\c'd",
            "x y",
        ] {
            validate_username(ok).unwrap();
        }
        assert!(validate_username("").is_err());
        assert!(
            validate_username("a:b")
                .unwrap_err()
                .to_string()
                .contains("':'")
        );
        assert!(validate_username("a\nb").is_err());
    }

    #[test]
    fn names() {
        validate_secret_name("tingyun-image-secret").unwrap();
        validate_secret_name("a.b-c.d").unwrap();
        for bad in [
            "",
            "Upper",
            "a_b",
            "-a",
            "a-",
            "a..b",
            ".a",
            &"a".repeat(254),
        ] {
            assert!(validate_secret_name(bad).is_err(), "{bad}");
        }
        validate_namespace("tingyun").unwrap();
        validate_namespace(&"a".repeat(63)).unwrap();
        for bad in ["", "a.b", "A", "-a", "a-", &"a".repeat(64), "a b"] {
            assert!(validate_namespace(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn password_from_stdin_strips_one_newline() {
        let read = |s: &str| read_password(true, s.as_bytes(), Some("env-ignored".into()));
        assert_eq!(read("s3cret").unwrap(), "s3cret");
        assert_eq!(read("s3cret\n").unwrap(), "s3cret");
        assert_eq!(read("s3cret\r\n").unwrap(), "s3cret");
        assert_eq!(read("s3cret\n\n").unwrap(), "s3cret\n");
        assert_eq!(read(" pass with spaces \n").unwrap(), " pass with spaces ");
        assert_eq!(read("a:b\\\"c").unwrap(), "a:b\\\"c");
        assert!(
            read("")
                .unwrap_err()
                .to_string()
                .contains("standard input is empty")
        );
        assert!(
            read("\n")
                .unwrap_err()
                .to_string()
                .contains("standard input is empty")
        );
        assert!(read_password(true, &[0xff, 0xfe][..], None).is_err());
    }

    #[test]
    fn password_from_env_or_a_clear_error() {
        assert_eq!(
            read_password(false, &b"ignored"[..], Some("e:v\n".into())).unwrap(),
            "e:v\n"
        );
        assert!(
            read_password(false, &b""[..], Some("".into()))
                .unwrap_err()
                .to_string()
                .contains("empty")
        );
        let e = read_password(false, &b""[..], None)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("--password-stdin") && e.contains(PASSWORD_ENV),
            "{e}"
        );
    }

    #[test]
    fn dedup_keeps_first_order() {
        let v = dedup_keep_order(["b", "a", "b", "c", "a"].map(String::from));
        assert_eq!(v, ["b", "a", "c"]);
    }
}
