//! plugin.yaml must pass krew's manifest rules: the structural checks of
//! krew's `validation.ValidatePlugin` (apiVersion, kind, safe name, short
//! description, `v`-prefixed semantic version, per-platform uri, lowercase
//! sha256, bin, files, os/arch-only selectors) and those of krew-index's
//! `validate-krew-manifest` (every platform selects a supported os/arch, no
//! os/arch selected twice, description line lengths). On top of these, the
//! project's own promises: the version equals Cargo.toml's, all six
//! linux/darwin/windows x amd64/arm64 builds are covered, the binary is
//! `kubectl-tingyun` (`.exe` on Windows) and every uri is https.
//!
//! `validate` collects every broken rule; the tests below run it on the real
//! file and on broken copies so that each rule is shown to bite.
use kubectl_tingyun::yaml::value::documents;
use serde_json::{Value, json};

const MANIFEST: &str = include_str!("../../plugin.yaml");

/// The name the manifest is submitted under in the krew index
/// (plugins/tingyun.yaml); users then run `kubectl krew install tingyun`.
const PLUGIN_NAME: &str = "tingyun";

const PLATFORMS: [(&str, &str); 6] = [
    ("linux", "amd64"),
    ("linux", "arm64"),
    ("darwin", "amd64"),
    ("darwin", "arm64"),
    ("windows", "amd64"),
    ("windows", "arm64"),
];

fn manifest() -> Value {
    let docs = documents(MANIFEST).expect("plugin.yaml is valid YAML");
    assert_eq!(docs.len(), 1, "plugin.yaml holds exactly one document");
    docs.into_iter().next().unwrap()
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v, |v, k| v.get(k))?.as_str()
}

/// krew's `^[\w-]+$` plus the Windows reserved device names.
fn safe_plugin_name(name: &str) -> bool {
    const WINDOWS_FORBIDDEN: [&str; 22] = [
        "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8",
        "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
    ];
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
        && !WINDOWS_FORBIDDEN
            .iter()
            .any(|f| f.eq_ignore_ascii_case(name))
}

/// Semantic version as krew parses it: a leading `v`, then
/// MAJOR.MINOR.PATCH (no leading zeros), optional `-pre.release` and
/// `+build` made of `[0-9A-Za-z-]` identifiers.
fn krew_semver(s: &str) -> bool {
    let Some(rest) = s.strip_prefix('v') else {
        return false;
    };
    let (rest, build) = match rest.split_once('+') {
        Some((r, b)) => (r, Some(b)),
        None => (rest, None),
    };
    let (core, pre) = match rest.split_once('-') {
        Some((c, p)) => (c, Some(p)),
        None => (rest, None),
    };
    let numeric = |p: &str| {
        !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) && (p == "0" || !p.starts_with('0'))
    };
    let idents = |s: &str| {
        s.split('.')
            .all(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
    };
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3
        && parts.iter().all(|p| numeric(p))
        && pre.is_none_or(|p| {
            idents(p)
                && p.split('.')
                    .all(|id| !id.bytes().all(|b| b.is_ascii_digit()) || numeric(id))
        })
        && build.is_none_or(idents)
}

fn lowercase_sha256(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// krew-index warns when a line with spaces is longer than `max`.
fn lines_fit(s: &str, max: usize) -> bool {
    s.lines()
        .all(|l| l.chars().count() <= max || !l.trim().contains(' '))
}

/// Does a krew platform selector (a Kubernetes label selector over the
/// labels `os` and `arch`) select this os/arch? Returns None when the
/// selector is malformed.
fn selects(selector: &Value, os: &str, arch: &str) -> Option<bool> {
    let label = |k: &str| match k {
        "os" => Some(os),
        "arch" => Some(arch),
        _ => None,
    };
    let mut ok = true;
    if let Some(labels) = selector.get("matchLabels") {
        for (k, v) in labels.as_object()? {
            ok &= label(k)? == v.as_str()?;
        }
    }
    if let Some(exprs) = selector.get("matchExpressions") {
        for e in exprs.as_array()? {
            let have = label(e.get("key")?.as_str()?)?;
            let values: Vec<&str> = e
                .get("values")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            ok &= match e.get("operator")?.as_str()? {
                "In" => values.contains(&have),
                "NotIn" => !values.contains(&have),
                "Exists" => true,
                "DoesNotExist" => false,
                _ => return None,
            };
        }
    }
    Some(ok)
}

/// Every rule the manifest breaks, as one message each.
fn validate(m: &Value) -> Vec<String> {
    let mut errs = Vec::new();
    let mut fail = |msg: String| errs.push(msg);

    if str_at(m, &["apiVersion"]) != Some("krew.googlecontainertools.github.com/v1alpha2") {
        fail(format!(
            "apiVersion must be krew.googlecontainertools.github.com/v1alpha2, not {:?}",
            m.get("apiVersion")
        ));
    }
    if str_at(m, &["kind"]) != Some("Plugin") {
        fail(format!("kind must be Plugin, not {:?}", m.get("kind")));
    }
    let name = str_at(m, &["metadata", "name"]).unwrap_or_default();
    if !safe_plugin_name(name) {
        fail(format!(
            "metadata.name {name:?} is not a safe krew plugin name"
        ));
    }
    if name != PLUGIN_NAME {
        fail(format!(
            "metadata.name must be {PLUGIN_NAME:?} (the manifest's file name in the index), not {name:?}"
        ));
    }

    let short = str_at(m, &["spec", "shortDescription"]).unwrap_or_default();
    if short.trim().is_empty() {
        fail("spec.shortDescription is missing".into());
    }
    if short.contains(['\r', '\n']) {
        fail("spec.shortDescription must be one line".into());
    }
    // krew-index warns above 70; `kubectl krew search` shows ~50 columns.
    if short.chars().count() > 50 {
        fail(format!(
            "spec.shortDescription is {} characters; keep it to 50",
            short.chars().count()
        ));
    }
    let desc = str_at(m, &["spec", "description"]).unwrap_or_default();
    if desc.trim().is_empty() {
        fail("spec.description is missing".into());
    }
    if !lines_fit(desc, 80) {
        fail("spec.description has a line over 80 characters".into());
    }
    if !lines_fit(str_at(m, &["spec", "caveats"]).unwrap_or_default(), 80) {
        fail("spec.caveats has a line over 80 characters".into());
    }
    match str_at(m, &["spec", "homepage"]) {
        Some(h) if h.starts_with("https://") => {}
        other => fail(format!("spec.homepage must be an https URL, not {other:?}")),
    }

    let version = str_at(m, &["spec", "version"]).unwrap_or_default();
    if !krew_semver(version) {
        fail(format!(
            "spec.version {version:?} is not a v-prefixed semantic version"
        ));
    }
    let cargo_version = format!("v{}", env!("CARGO_PKG_VERSION"));
    if version != cargo_version {
        fail(format!(
            "spec.version {version:?} differs from Cargo.toml's {cargo_version:?}"
        ));
    }

    let platforms = m
        .pointer("/spec/platforms")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if platforms.is_empty() {
        fail("spec.platforms is empty".into());
    }
    let mut selected_by: Vec<Vec<usize>> = vec![Vec::new(); PLATFORMS.len()];
    for (i, p) in platforms.iter().enumerate() {
        let at = |field: &str| format!("spec.platforms[{i}].{field}");
        let uri = p.get("uri").and_then(Value::as_str).unwrap_or_default();
        if !uri.starts_with("https://") {
            fail(format!("{} must be an https URL, not {uri:?}", at("uri")));
        }
        if !(uri.ends_with(".tar.gz") || uri.ends_with(".zip")) {
            fail(format!("{} must name a .tar.gz or .zip archive", at("uri")));
        }
        if !uri.contains(&format!("/{version}/")) {
            fail(format!("{} does not point at release {version}", at("uri")));
        }
        let sha = p.get("sha256").and_then(Value::as_str).unwrap_or_default();
        if !lowercase_sha256(sha) {
            fail(format!(
                "{} {sha:?} is not 64 lowercase hex digits",
                at("sha256")
            ));
        }

        let bin = p.get("bin").and_then(Value::as_str).unwrap_or_default();
        if bin.is_empty() || bin.starts_with('/') || bin.split(['/', '\\']).any(|c| c == "..") {
            fail(format!(
                "{} {bin:?} must be a relative path inside the plugin directory",
                at("bin")
            ));
        }
        let files = p
            .get("files")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if files.is_empty() {
            fail(format!("{} must list the archive's files", at("files")));
        }
        for f in &files {
            let from = f.get("from").and_then(Value::as_str).unwrap_or_default();
            let to = f.get("to").and_then(Value::as_str).unwrap_or_default();
            if from.is_empty() || to.is_empty() {
                fail(format!(
                    "{}: every entry needs `from` and `to`",
                    at("files")
                ));
            }
        }
        let installs_bin = files.iter().any(|f| {
            let from = f.get("from").and_then(Value::as_str).unwrap_or_default();
            let to = f.get("to").and_then(Value::as_str).unwrap_or_default();
            (to == "." && from.rsplit('/').next() == Some(bin)) || to == bin
        });
        if !installs_bin {
            fail(format!(
                "{} {bin:?} is not installed by any files entry",
                at("bin")
            ));
        }

        let Some(selector) = p.get("selector").filter(|s| s.is_object()) else {
            fail(format!("{} is missing", at("selector")));
            continue;
        };
        let labels = selector.get("matchLabels");
        let exprs = selector.get("matchExpressions");
        if labels.is_none() && exprs.is_none_or(|e| e.as_array().is_none_or(Vec::is_empty)) {
            fail(format!("{} is empty", at("selector")));
        }
        if labels.is_some_and(|l| l.as_object().is_none_or(|o| o.is_empty())) {
            fail(format!(
                "{}.matchLabels is specified but empty",
                at("selector")
            ));
        }
        if exprs.is_some_and(|e| e.as_array().is_none_or(Vec::is_empty)) {
            fail(format!(
                "{}.matchExpressions is specified but empty",
                at("selector")
            ));
        }
        let mut matched = Vec::new();
        for (j, (os, arch)) in PLATFORMS.iter().enumerate() {
            match selects(selector, os, arch) {
                None => {
                    fail(format!(
                        "{} uses a key other than os/arch or is malformed",
                        at("selector")
                    ));
                    break;
                }
                Some(true) => {
                    selected_by[j].push(i);
                    matched.push(*os);
                }
                Some(false) => {}
            }
        }
        if matched.is_empty() {
            fail(format!("{} selects no supported os/arch", at("selector")));
        }
        let want_bin = |os: &str| {
            if os == "windows" {
                "kubectl-tingyun.exe"
            } else {
                "kubectl-tingyun"
            }
        };
        if let Some(os) = matched.iter().find(|os| want_bin(os) != bin) {
            fail(format!(
                "{} is {bin:?}, but on {os} it must be {:?}",
                at("bin"),
                want_bin(os)
            ));
        }
    }
    for ((os, arch), by) in PLATFORMS.iter().zip(&selected_by) {
        match by.len() {
            0 => fail(format!("no platform installs on {os}/{arch}")),
            1 => {}
            _ => fail(format!("platforms {by:?} overlap: all select {os}/{arch}")),
        }
    }
    errs
}

#[test]
fn plugin_yaml_passes_krews_rules() {
    let errs = validate(&manifest());
    assert!(
        errs.is_empty(),
        "plugin.yaml breaks krew's rules:\n  {}",
        errs.join("\n  ")
    );
}

#[test]
fn plugin_yaml_installs_the_six_builds_with_matching_archives() {
    let m = manifest();
    let platforms = m["spec"]["platforms"].as_array().unwrap();
    assert_eq!(platforms.len(), PLATFORMS.len());
    for p in platforms {
        let os = p["selector"]["matchLabels"]["os"].as_str().unwrap();
        let arch = p["selector"]["matchLabels"]["arch"].as_str().unwrap();
        let uri = p["uri"].as_str().unwrap();
        // The archive a platform downloads is the one built for it.
        assert!(
            uri.contains(&format!("_{os}_{arch}.")),
            "{os}/{arch} downloads {uri}"
        );
    }
}

/// Apply `edit` to a copy of the real manifest and return the broken rules.
fn errors_after(edit: impl FnOnce(&mut Value)) -> Vec<String> {
    let mut m = manifest();
    edit(&mut m);
    validate(&m)
}

fn assert_rejected(errs: Vec<String>, needle: &str) {
    assert!(
        errs.iter().any(|e| e.contains(needle)),
        "expected an error containing {needle:?}, got {errs:?}"
    );
}

#[test]
fn validator_rejects_bad_names_versions_and_descriptions() {
    assert_rejected(
        errors_after(|m| m["metadata"]["name"] = json!("tingyun.agent")),
        "not a safe krew plugin name",
    );
    assert_rejected(
        errors_after(|m| m["metadata"]["name"] = json!("nul")),
        "not a safe krew plugin name",
    );
    assert_rejected(
        errors_after(|m| m["kind"] = json!("Deployment")),
        "kind must be Plugin",
    );
    assert_rejected(
        errors_after(|m| m["apiVersion"] = json!("krew.googlecontainertools.github.com/v1alpha1")),
        "apiVersion",
    );
    for bad in [
        "0.1.0",
        "v0.1",
        "v01.1.0",
        "v0.1.0-",
        "v0.1.0+",
        "v0.1.0-01",
        "V0.1.0",
    ] {
        assert_rejected(
            errors_after(|m| m["spec"]["version"] = json!(bad)),
            "not a v-prefixed semantic version",
        );
    }
    assert_rejected(
        errors_after(|m| m["spec"]["version"] = json!("v9.9.9")),
        "differs from Cargo.toml",
    );
    assert_rejected(
        errors_after(|m| m["spec"]["shortDescription"] = json!("two\nlines")),
        "one line",
    );
    assert_rejected(
        errors_after(|m| m["spec"]["shortDescription"] = json!("x".repeat(51))),
        "keep it to 50",
    );
    assert_rejected(
        errors_after(|m| m["spec"]["description"] = json!("")),
        "description is missing",
    );
    assert_rejected(
        errors_after(|m| m["spec"]["homepage"] = json!("http://example.com")),
        "homepage",
    );
}

#[test]
fn validator_accepts_semver_prerelease_and_build() {
    for good in [
        "v0.1.0",
        "v1.20.3",
        "v1.0.0-rc.1",
        "v1.0.0-alpha-2+build.7",
        "v10.0.0+20240101",
    ] {
        assert!(krew_semver(good), "{good}");
    }
}

#[test]
fn validator_rejects_bad_platforms() {
    assert_rejected(
        errors_after(|m| m["spec"]["platforms"][0]["sha256"] = json!("ABCDEF".repeat(10) + "ABCD")),
        "64 lowercase hex",
    );
    assert_rejected(
        errors_after(|m| m["spec"]["platforms"][0]["sha256"] = json!("abc")),
        "64 lowercase hex",
    );
    assert_rejected(
        errors_after(|m| {
            m["spec"]["platforms"][0]["uri"] = json!("http://example.com/v0.1.0/a.tar.gz")
        }),
        "https",
    );
    assert_rejected(
        errors_after(|m| m["spec"]["platforms"][4]["bin"] = json!("kubectl-tingyun")),
        "on windows it must be \"kubectl-tingyun.exe\"",
    );
    assert_rejected(
        errors_after(|m| m["spec"]["platforms"][0]["bin"] = json!("../kubectl-tingyun")),
        "relative path",
    );
    assert_rejected(
        errors_after(|m| m["spec"]["platforms"][0]["files"] = json!([])),
        "must list the archive's files",
    );
    assert_rejected(
        errors_after(|m| m["spec"]["platforms"][0]["files"] = json!([{"from": "x"}])),
        "`from` and `to`",
    );
    assert_rejected(
        errors_after(|m| {
            m["spec"]["platforms"][0]["files"] = json!([{"from": "LICENSE", "to": "."}])
        }),
        "not installed by any files entry",
    );
    assert_rejected(
        errors_after(|m| {
            m["spec"]["platforms"][0]["selector"]["matchLabels"]["distro"] = json!("debian")
        }),
        "other than os/arch",
    );
    assert_rejected(
        errors_after(|m| m["spec"]["platforms"][0]["selector"] = json!({"matchLabels": {}})),
        "specified but empty",
    );
    assert_rejected(
        errors_after(|m| m["spec"]["platforms"][0]["selector"] = json!({})),
        "is empty",
    );
    assert_rejected(
        errors_after(|m| {
            m["spec"]["platforms"][0]["selector"]["matchLabels"]["arch"] = json!("386")
        }),
        "selects no supported os/arch",
    );
    // Dropping linux/amd64 leaves it uncovered; duplicating darwin/arm64 overlaps.
    assert_rejected(
        errors_after(|m| {
            let arr = m["spec"]["platforms"].as_array_mut().unwrap();
            arr.remove(0);
        }),
        "no platform installs on linux/amd64",
    );
    assert_rejected(
        errors_after(|m| {
            let arr = m["spec"]["platforms"].as_array_mut().unwrap();
            arr[0]["selector"]["matchLabels"] = json!({"os": "darwin", "arch": "arm64"});
        }),
        "overlap: all select darwin/arm64",
    );
    // A selector by os alone (matchExpressions) covering both arches is
    // valid krew, but then it overlaps with the per-arch entries here.
    assert_rejected(
        errors_after(|m| {
            m["spec"]["platforms"][0]["selector"] =
                json!({"matchExpressions": [{"key": "os", "operator": "In", "values": ["linux"]}]});
        }),
        "overlap: all select linux/arm64",
    );
    assert_rejected(
        errors_after(|m| m["spec"]["platforms"] = json!([])),
        "spec.platforms is empty",
    );
}
