//! saphyr refuses a tab right after `:` before a plain value
//! (`key:\tvalue`), which YAML 1.2 and kubectl accept. Such a tab only
//! separates the `:` from the value, so it can be read as a space (same
//! length: every position stays) — except inside a quoted or block scalar,
//! where it is content. In one pass: every tab run after a `:` becomes
//! spaces, the result is parsed, and the runs that lie inside a quoted or
//! block scalar get their tabs back (then it is parsed once more).
use saphyr::{MarkedYaml, ScalarStyle, YamlData};
use serde_json::Value;

use super::ParseError;

/// Documents as values, and the character spans of their quoted and block
/// scalars.
pub(super) type Parsed = (Vec<Value>, Vec<(usize, usize)>);

pub(super) const TAB_AFTER_COLON: &str = "':' must be followed by a valid YAML whitespace";

/// A run of spaces and tabs right after a `:`.
struct Run {
    bytes: std::ops::Range<usize>,
    /// Character offset of its start (saphyr counts characters).
    char_start: usize,
}

/// Parse `text` with `parse`, reading tabs after `:` as separation.
pub(super) fn parse_separating_tabs(
    text: &str,
    parse: impl Fn(&str) -> Result<Parsed, ParseError>,
) -> Result<Vec<Value>, ParseError> {
    let runs = runs(text);
    let spaced = with_spaces(text, &runs, |_| true);
    let (docs, content) = match parse(&spaced) {
        Ok(parsed) => parsed,
        Err(_) => return one_at_a_time(text, &parse),
    };
    let inside = |r: &Run| {
        content
            .iter()
            .any(|(s, e)| *s <= r.char_start && r.char_start < *e)
    };
    if !runs.iter().any(inside) {
        return Ok(docs);
    }
    let restored = with_spaces(text, &runs, |r| !inside(r));
    match parse(&restored) {
        Err(e) if e.msg == TAB_AFTER_COLON => one_at_a_time(text, &parse),
        other => other.map(|(docs, _)| docs),
    }
}

fn runs(text: &str) -> Vec<Run> {
    let mut out = Vec::new();
    let mut chars = 0;
    let mut last = 0;
    for (i, _) in text.match_indices(':') {
        chars += text[last..i].chars().count();
        last = i;
        let after = &text[i + 1..];
        let len = after.len() - after.trim_start_matches([' ', '\t']).len();
        if after[..len].contains('\t') {
            out.push(Run {
                bytes: i + 1..i + 1 + len,
                char_start: chars + 1,
            });
        }
    }
    out
}

/// `text` with the tabs of the runs `pick` chooses turned into spaces.
fn with_spaces(text: &str, runs: &[Run], pick: impl Fn(&Run) -> bool) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pos = 0;
    for r in runs.iter().filter(|r| pick(r)) {
        out.push_str(&text[pos..r.bytes.start]);
        out.push_str(&" ".repeat(r.bytes.len()));
        pos = r.bytes.end;
    }
    out.push_str(&text[pos..]);
    out
}

/// Character spans of every quoted or block scalar (keys included).
pub(super) fn content_spans(y: &MarkedYaml, out: &mut Vec<(usize, usize)>) {
    match &y.data {
        YamlData::Representation(_, style, _) if *style != ScalarStyle::Plain => {
            out.push((y.span.start.index(), y.span.end.index()));
        }
        YamlData::Sequence(items) => items.iter().for_each(|i| content_spans(i, out)),
        YamlData::Mapping(map) => {
            for (k, v) in map.iter() {
                content_spans(k, out);
                content_spans(v, out);
            }
        }
        YamlData::Tagged(_, inner) => content_spans(inner, out),
        _ => {}
    }
}

/// The slow way, for texts the one-pass way cannot settle: where saphyr
/// complains, the run before the complaint becomes spaces; parse again.
fn one_at_a_time(
    text: &str,
    parse: &impl Fn(&str) -> Result<Parsed, ParseError>,
) -> Result<Vec<Value>, ParseError> {
    let mut current = text.to_string();
    loop {
        match parse(&current) {
            Err(e) if e.msg == TAB_AFTER_COLON => {
                let at = crate::source::LineIndex::offset_of(&current, e.line, e.col);
                let start = current[..at].trim_end_matches([' ', '\t']).len();
                // each round turns at least one tab into a space, or stops
                if !current[start..at].contains('\t') || !current[..start].ends_with(':') {
                    return Err(e);
                }
                current.replace_range(start..at, &" ".repeat(at - start));
            }
            other => return other.map(|(docs, _)| docs),
        }
    }
}
