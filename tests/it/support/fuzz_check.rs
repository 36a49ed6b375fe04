//! The property the fuzz target checks (fuzz/fuzz_targets/engine.rs), kept
//! here so every finding can be replayed as an ordinary test
//! (tests/it/fuzz_regressions.rs).
//!
//! Input: the first byte chooses the edits (one bit each), the rest is the
//! file. Property: the engine never panics or aborts; a refusal produces no
//! output (so nothing can be written); a success parses as the input did
//! (same number of documents), "nothing changed" means byte-identical
//! output, patching the output again changes nothing, and the engine's
//! self-check agrees with its exact form (values built and compared, no
//! digest fast path) on each changed document's meaning.
#![allow(dead_code)]

use kubectl_tingyun::patch::{EditSet, patch_source};
use kubectl_tingyun::source::Source;
use kubectl_tingyun::yaml::value::documents;

/// The edits selected by the bits of `selector`.
pub fn edits_for(selector: u8) -> EditSet {
    let bit = |b: u8| selector & (1 << b) != 0;
    let mut annotations = Vec::new();
    if bit(3) {
        annotations.push((
            "k8s.ksyun.com/kci-http-registry".to_string(),
            "harbor.example.com:5000".to_string(),
        ));
    }
    if bit(4) {
        annotations.push(("on".to_string(), "2024-01-01".to_string()));
    }
    EditSet {
        pull_secret: bit(0).then(|| "tingyun-image-secret".to_string()),
        inject_pull_secret: bit(1).then(|| "tingyun-image-secret".to_string()),
        registry: bit(2).then(|| {
            if bit(5) {
                "[fd00::5]:5000/apm".to_string()
            } else {
                "harbor.example.com:5000/apm".to_string()
            }
        }),
        annotations,
    }
}

/// Check the property on one input; panics with what failed.
pub fn check(data: &[u8]) {
    let Some((&selector, bytes)) = data.split_first() else {
        return;
    };
    let edits = edits_for(selector);
    let Ok(source) = Source::decode("fuzz.yaml", None, bytes.to_vec()) else {
        return;
    };
    for chunk in kubectl_tingyun::yaml::stream::split(&source.text) {
        subset_agrees(&source.text[chunk.start..chunk.end]);
    }
    let Ok(outcome) = patch_source(&source, &edits) else {
        return; // refused: nothing is produced, so nothing can be written
    };
    // the self-check's digest fast path accepted only what comparing the
    // built values accepts
    let plan = kubectl_tingyun::patch::plan::plan(&source, &edits).expect("planned once already");
    if let Err(e) = kubectl_tingyun::patch::verify::check_exact(&source, &outcome.output, &plan) {
        panic!(
            "the self-check passed, comparing values fails: {e:?}\n--- output:\n{}",
            outcome.output
        );
    }
    if !outcome.changed() {
        assert_eq!(
            outcome.output, source.text,
            "no change but a different output"
        );
        return;
    }
    if let Ok(before) = documents(&source.text) {
        match documents(&outcome.output) {
            Ok(after) => assert_eq!(
                before.len(),
                after.len(),
                "the output has another number of documents"
            ),
            Err(e) => panic!("the output does not parse: {e:?}\n{}", outcome.output),
        }
    }
    for chunk in kubectl_tingyun::yaml::stream::split(&outcome.output) {
        subset_agrees(&outcome.output[chunk.start..chunk.end]);
    }
    let again = Source::decode(
        "fuzz.yaml",
        None,
        source.encode(&outcome.output).into_owned(),
    )
    .expect("the output decodes");
    match patch_source(&again, &edits) {
        Ok(second) => assert!(
            !second.changed(),
            "patching the output again changes it: {:?}\n--- output:\n{}",
            second.changes,
            outcome.output
        ),
        Err(e) => panic!(
            "patching the output again fails: {e:#}\n--- output:\n{}",
            outcome.output
        ),
    }
}

/// Wherever the self-check's subset reader reads a text, its events are
/// saphyr's (the reader's own tests hold it to that on known texts; this
/// holds it there on arbitrary ones).
pub fn subset_agrees(text: &str) {
    use saphyr_parser::{Event, Parser};
    let Some(mine) = kubectl_tingyun::yaml::subset::events(text) else {
        return;
    };
    let mut parser = Parser::new_from_str(text);
    let mut theirs = Vec::new();
    loop {
        match parser.next_event() {
            Some(Ok((event, _))) => {
                let end = matches!(event, Event::StreamEnd);
                theirs.push(event);
                if end {
                    break;
                }
            }
            other => panic!("the subset reader read {text:?}; saphyr: {other:?}"),
        }
    }
    assert_eq!(
        mine, theirs,
        "the subset reader and saphyr differ on {text:?}"
    );
}
