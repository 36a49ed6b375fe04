//! A Secret's contents never reach the terminal: not in syntax errors (the
//! rule: an error about a document that declares `kind: Secret` quotes none
//! of its text, not even one character; it says what and where), not in the
//! last-applied annotation (kubectl's copy of the data as JSON) in a
//! `patch --dry-run` diff or an `apply --dry-run=server` diff (real kubectl
//! writes the annotation, the kube-emulator serves it).
//!
//! Every check is paired with a control: the same bytes as a ConfigMap DO
//! show the text, so the tests fail if masking stops working.

use std::fs;

use crate::common::*;
use crate::support::emulator::Emulator;
use crate::support::{stderr, stdout};

const FILE: &str = "manifest.yaml";
const SECRET_WORD: &str = "s3cr3t-hunter2";

/// A ConfigMap, then `kind` (Secret or ConfigMap) with a broken `stringData`
/// line `broken` at line 12.
fn document(kind: &str, broken: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: first\n---\n\
         apiVersion: v1\nkind: {kind}\nmetadata:\n  name: creds\n\
         stringData:\n  user: admin\n{broken}\n"
    )
}

struct Broken {
    name: &'static str,
    /// Lines 12.. of the document.
    text: &'static str,
    /// Where `patch` reports it (hand-counted).
    at: (usize, usize),
    /// Text of the input a ConfigMap's error quotes, and a Secret's must not.
    quoted: &'static str,
    /// The commands whose ConfigMap error quotes it (the control).
    control: &'static [&'static str],
}

fn broken_inputs() -> Vec<Broken> {
    vec![
        Broken {
            // tree-sitter's message quotes the text where its error starts
            name: "unclosed quote over several lines",
            text: "  token: \"s3cr3t-hunter2\n  more: x\"\n   t",
            at: (12, 10),
            quoted: SECRET_WORD,
            control: &["images"],
        },
        Broken {
            // saphyr quotes the character it cannot read
            name: "a value starting with @",
            text: "  token: @s3cr3t-hunter2",
            at: (12, 10),
            quoted: "`@'",
            control: &["patch", "apply"],
        },
        Broken {
            // an unclosed flow sequence: "but found 'h'"
            name: "unclosed flow sequence",
            text: "  token: [a,\n  hunter2",
            at: (12, 10),
            quoted: "'h'",
            control: &["patch"],
        },
    ]
}

fn commands() -> Vec<(&'static str, Vec<String>)> {
    let s = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    vec![
        (
            "patch",
            s(&["patch", FILE, "--registry", "harbor.example.com/apm"]),
        ),
        ("patch", s(&["patch", FILE, "--dry-run"])),
        ("images", s(&["images", FILE])),
        ("apply", s(&["apply", FILE, "--dry-run=client"])),
    ]
}

#[test]
fn errors_in_a_secret_quote_none_of_its_text() {
    let mut failures = Vec::new();
    for case in broken_inputs() {
        for (kind, is_secret) in [("Secret", true), ("ConfigMap", false)] {
            let tmp = tempfile::tempdir().unwrap();
            let input = document(kind, case.text);
            fs::write(tmp.path().join(FILE), &input).unwrap();
            for (command, args) in commands() {
                let out = run(tmp.path(), &args, None);
                let err = text(&out.stderr);
                let label = format!("{} / {kind} / {}", case.name, args.join(" "));
                if out.status.code() != Some(1) || err.contains("panicked") {
                    failures.push(format!("{label}: exit {:?}:\n{err}", out.status.code()));
                    continue;
                }
                if command == "patch" {
                    let want = format!("{FILE}:{}:{}: invalid YAML: ", case.at.0, case.at.1);
                    if !err.starts_with(&want) {
                        failures.push(format!("{label}: must start with {want:?}:\n{err}"));
                    }
                }
                let shown = err.contains(case.quoted) || err.contains(SECRET_WORD);
                if is_secret && shown {
                    failures.push(format!("{label}: Secret text in the message:\n{err}"));
                }
                if !is_secret && case.control.contains(&command) && !err.contains(case.quoted) {
                    failures.push(format!(
                        "{label}: control: a ConfigMap's error should quote {:?}:\n{err}",
                        case.quoted
                    ));
                }
                if fs::read_to_string(tmp.path().join(FILE)).unwrap() != input {
                    failures.push(format!("{label}: the file was changed"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// A Secret whose last-applied annotation is within the diff's context of
/// an edit (the ServiceAccount template right after it).
fn with_last_applied(kind: &str, annotation: &str) -> String {
    format!(
        "apiVersion: v1\nkind: {kind}\nstringData:\n  token: {SECRET_WORD}\nmetadata:\n  name: creds\n  \
         annotations:\n    kubectl.kubernetes.io/last-applied-configuration: {annotation}\n---\n\
         #imagePullSecrets:\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: agent\n"
    )
}

#[test]
fn patch_dry_run_masks_a_secrets_last_applied_annotation() {
    let json = format!(
        "{{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{{\"name\":\"creds\"}},\"stringData\":{{\"token\":\"{SECRET_WORD}\"}}}}"
    );
    let forms = [
        ("single-quoted", format!("'{json}'")),
        ("block", format!("|\n      {json}")),
    ];
    let mut failures = Vec::new();
    for (form, annotation) in &forms {
        for (kind, is_secret) in [("Secret", true), ("ConfigMap", false)] {
            let tmp = tempfile::tempdir().unwrap();
            let input = with_last_applied(kind, annotation);
            fs::write(tmp.path().join(FILE), &input).unwrap();
            let args = ["patch", FILE, "--pull-secret", "--dry-run"].map(String::from);
            let out = run(tmp.path(), &args, None);
            let (so, se) = (text(&out.stdout), text(&out.stderr));
            let label = format!("{form} / {kind}");
            if out.status.code() != Some(0) || !so.contains("+imagePullSecrets:") {
                failures.push(format!("{label}: exit {:?}\n{so}\n{se}", out.status.code()));
                continue;
            }
            let line = "kubectl.kubernetes.io/last-applied-configuration: ";
            if is_secret {
                if so.contains(SECRET_WORD) || se.contains(SECRET_WORD) {
                    failures.push(format!("{label}: Secret data shown:\n{so}{se}"));
                }
                if !so.contains(&format!(" {line}***\n")) {
                    failures.push(format!("{label}: no masked annotation line:\n{so}"));
                }
            } else if !so.contains(SECRET_WORD) {
                failures.push(format!(
                    "{label}: control: the context should show it:\n{so}"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The live Secret was applied with the real kubectl (client-side), which
/// writes the last-applied annotation (the data as JSON); `apply
/// --dry-run=server` with a new value and a new label diffs live against
/// merged: the label's change brings the annotation into the context, and
/// neither value may show.
#[test]
fn server_dry_run_masks_the_last_applied_annotation() {
    let emu = Emulator::start("");
    let old_word = "0ld-s3cr3t-pw";
    let new_word = "n3w-s3cr3t-pw";
    let secret = |word: &str, labels: &str| {
        format!(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\n  namespace: default\n{labels}\
             type: Opaque\nstringData:\n  token: {word}\n"
        )
    };
    let live = emu.write("live.yaml", &secret(old_word, ""));
    emu.kubectl_ok(&["apply", "-f", live.to_str().unwrap()]);
    let got = emu.get("/api/v1/namespaces/default/secrets/creds");
    let annotation =
        &got["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"];
    assert!(
        annotation.as_str().is_some_and(|a| a.contains(old_word)),
        "kubectl apply should have written the annotation with the data: {got:#}"
    );
    let file = emu.write(
        "new.yaml",
        &secret(new_word, "  labels:\n    tier: backend\n"),
    );
    emu.clear_requests();
    let out = emu.tingyun(&[
        "apply",
        file.to_str().unwrap(),
        "--dry-run=server",
        "--timeout",
        "30s",
    ]);
    let (so, se) = (stdout(&out), stderr(&out));
    // a dry run: the request log shows no write, the live Secret is as kubectl left it
    assert_eq!(emu.writes(), Vec::<serde_json::Value>::new(), "{so}\n{se}");
    assert!(
        emu.requests()
            .iter()
            .any(|r| !r["query"]["dryRun"].is_null()),
        "the server dry run reached the emulator's log"
    );
    assert_eq!(
        emu.get("/api/v1/namespaces/default/secrets/creds")["metadata"]["annotations"],
        got["metadata"]["annotations"]
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "differences exit 1:\n{so}\n{se}"
    );
    let b64 = |w: &str| {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(w)
    };
    for w in [old_word, new_word] {
        for shown in [w.to_string(), b64(w)] {
            assert!(
                !so.contains(&shown) && !se.contains(&shown),
                "{shown} shown:\n{so}\n{se}"
            );
        }
    }
    assert!(so.contains("+    tier: backend\n"), "{so}");
    let line = "     kubectl.kubernetes.io/last-applied-configuration: ";
    assert!(
        so.contains(&format!("{line}\"***\"\n")) || so.contains(&format!("{line}'***'\n")),
        "the annotation, unchanged, is context and masked:\n{so}"
    );
    assert!(
        so.contains("-  token: \"*** (before)\"\n+  token: \"*** (after)\"\n"),
        "{so}"
    );
}
