//! Inputs the fuzzer (scripts/fuzz.sh) found or that exercise the limits it
//! must never hit, replayed as ordinary tests with the fuzz target's own
//! property (tests/it/support/fuzz_check.rs): no panic, no abort; a success parses
//! and is idempotent. Each file of testdata/fuzz/ is one input: the first
//! byte selects the edits, the rest is the file.
use std::fs;

use crate::support::fuzz_check;

/// The fuzz property on `data`, within the fuzzer's own time limit (a
/// hang fails the test instead of stopping the suite). `false` on a panic.
fn holds_within_time_limit(data: Vec<u8>) -> bool {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let r = std::panic::catch_unwind(|| fuzz_check::check(&data));
        let _ = tx.send(r.is_ok());
    });
    // libFuzzer's -timeout in scripts/fuzz.sh is 10 s (release build); a debug
    // build on a loaded machine gets more
    rx.recv_timeout(std::time::Duration::from_secs(60))
        .expect("not finished within 60 s (a hang)")
}

#[test]
fn every_kept_finding_holds_the_property() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/fuzz");
    let mut n = 0;
    for entry in fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let data = fs::read(&path).unwrap();
        assert!(
            holds_within_time_limit(data),
            "{} fails the fuzz property",
            path.display()
        );
        n += 1;
    }
    // testdata/fuzz/timeout-tab-after-colon-loop.yaml (fuzzer, session 5):
    // the slow path for `key:<TAB>value` turned the same spaces into spaces
    // forever when saphyr kept complaining at one place;
    // crash-dash-key-after-indentless-sequence.yaml (fuzzer, session 5): an
    // empty imagePullSecrets filled with an indentless sequence before a key
    // `-:`, valid YAML that tree-sitter refuses, so a second run failed
    assert!(n > 2, "inputs missing in {}", dir.display());
}

#[test]
fn deep_and_long_inputs_hold_the_property() {
    let mut inputs: Vec<Vec<u8>> = Vec::new();
    for sel in [0x07u8, 0x1f] {
        inputs.push([&[sel][..], format!("a: {}", "[".repeat(10_000)).as_bytes()].concat());
        inputs.push(
            [
                &[sel][..],
                format!("a:\n{}x\n", "- ".repeat(10_000)).as_bytes(),
            ]
            .concat(),
        );
        inputs.push([&[sel][..], "{\"a\": ".repeat(5_000).as_bytes()].concat());
        if sel != 0x1f {
            continue;
        }
        // over 30,000 lines: edited item by item
        let mut list = String::from("apiVersion: v1\nkind: List\nitems:\n");
        for i in 0..3_800 {
            list.push_str(&format!(
                "- apiVersion: v1\n  kind: Pod\n  metadata:\n    name: p{i}\n  spec:\n    containers:\n    - name: c\n      image: nginx\n"
            ));
        }
        inputs.push([&[sel][..], list.as_bytes()].concat());
    }
    for data in inputs {
        fuzz_check::check(&data);
    }
}
