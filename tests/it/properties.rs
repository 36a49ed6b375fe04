//! Property tests for the patch engine: random combinations of edits on
//! every input under `testdata/` (a) succeed, (b) mean exactly what was
//! asked, checked by tests/it/support/meaning.py (PyYAML with kubectl's
//! scalar rules and its own image relocation: nothing of the engine),
//! (c) change only lines an edit must change, each only in the way the edit
//! allows (a line diff by `similar` judged by the rules below, written from
//! docs/patch-rules.md, not from the engine), and (d) are idempotent:
//! patching twice equals patching once.
use std::collections::HashSet;
use std::path::PathBuf;

use kubectl_tingyun::patch::{EditSet, patch_source};
use kubectl_tingyun::source::Source;
use proptest::prelude::*;
use similar::{Algorithm, DiffTag, capture_diff_slices};

use crate::common::meaning_check_text;

fn inputs() -> Vec<(String, String)> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata");
    let mut out = vec![(
        "tingyunagent.yaml".to_string(),
        std::fs::read_to_string(root.join("tingyunagent.yaml")).unwrap(),
    )];
    let mut dirs: Vec<_> = std::fs::read_dir(root.join("cases"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    dirs.sort();
    for dir in dirs {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = std::fs::read(dir.join("input.yaml"))
            .unwrap_or_else(|e| panic!("{name}/input.yaml: {e}"));
        let src = Source::decode(&name, None, bytes)
            .unwrap_or_else(|e| panic!("{name}/input.yaml does not decode: {e}"));
        out.push((name, src.text));
    }
    assert!(
        out.len() > 30,
        "testdata/cases went missing: {} inputs",
        out.len()
    );
    out
}

fn source(name: &str, text: &str) -> Source {
    Source::decode(name, None, text.as_bytes().to_vec()).unwrap()
}

/// The command-line flags that ask for `e` (what meaning.py reads).
fn flags(e: &EditSet) -> Vec<String> {
    let mut v = Vec::new();
    if let Some(n) = &e.pull_secret {
        v.push(format!("--pull-secret={n}"));
    }
    if let Some(n) = &e.inject_pull_secret {
        v.push(format!("--inject-pull-secret={n}"));
    }
    if let Some(r) = &e.registry {
        v.push(format!("--registry={r}"));
    }
    for (k, val) in &e.annotations {
        v.push(format!("--annotation={k}={val}"));
    }
    v
}

/// Does `output` mean `input` plus exactly the edits of `e`? Asked of
/// meaning.py.
fn means(name: &str, input: &str, output: &str, e: &EditSet) -> Result<(), String> {
    let args = flags(e);
    if args.is_empty() {
        // no edit: not a byte may change (meaning.py reads no flags as the defaults)
        return if input == output {
            Ok(())
        } else {
            Err(format!("{name}: no edit asked, yet the text changed"))
        };
    }
    meaning_check_text(input, output, &args).map_err(|e| format!("{name} with {args:?}: {e}"))
}

// ---------------------------------------------------------------------------
// The changed-lines rule. Every input line must be in the output unchanged,
// except a line an edit must change, and then only as that edit changes it:
//  - an `image:` value becomes `REGISTRY/` + its text after the last `/`
//    (quotes, anchor, comment and everything else on the line kept);
//  - a commented template line (`#imagePullSecrets:`, `# - name: X`) becomes
//    its uncommented form with NAME for X, or goes;
//  - text is only inserted into a line (`[]` -> `[{name: s}]`, a JSON entry's
//    comma, `{a: b}` -> `{a: b, k: 'v'}`), made only of the pieces the edits
//    write (secret names, annotation keys and quoted values, the words
//    `imagePullSecrets`/`annotations`/`metadata`/`name`) and punctuation;
//  - an empty `annotations`/`imagePullSecrets` value (`{}`, `[]`, `~`, `null`)
//    leaves its key line (the entries follow on new lines; a comment stays);
//  - the value of an annotation the edits set is replaced by its quoted new
//    value (the lines of an old multi-line value go);
//  - an inserted line is made only of those pieces;
//  - the last line may gain a line break; no other line ending changes.
// ---------------------------------------------------------------------------

/// What one set of edits may write, as docs/patch-rules.md says.
struct Allowed {
    registry: Option<String>,
    /// Secret names the edits write.
    secrets: HashSet<String>,
    /// Annotation keys and their new values.
    annotations: Vec<(String, String)>,
    /// The strings an inserted text may hold plain (names, keys, words).
    plain: HashSet<String>,
    /// The strings an inserted text may hold quoted (those and the values).
    quoted: HashSet<String>,
    /// A JSON file: every string is double-quoted.
    json: bool,
}

/// Can single quotes hold `s`? (YAML's printable characters, no line
/// breaks; otherwise a double-quoted scalar with escapes is needed.)
fn single_quotable(s: &str) -> bool {
    s.chars().all(|c| match c {
        '\t' | ' '..='~' => true,
        '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..='\u{10ffff}' => {
            !matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}')
        }
        _ => false,
    })
}

/// Is `text` a JSON document (what `kubectl get -o json` writes)?
fn is_json(text: &str) -> bool {
    text.trim_start_matches('\u{feff}')
        .trim_start()
        .starts_with(['{', '['])
}

fn single_quoted(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn json_quoted(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

/// The string a quoted token stands for (`'it''s'`, `"a\u00e9"`); None
/// for a plain token.
fn quoted_text(t: &str) -> Option<String> {
    if t.len() >= 2 && t.starts_with('\'') && t.ends_with('\'') {
        Some(t[1..t.len() - 1].replace("''", "'"))
    } else if t.starts_with('"') {
        serde_json::from_str(t).ok()
    } else {
        None
    }
}

impl Allowed {
    fn new(e: &EditSet, json: bool) -> Allowed {
        let secrets: HashSet<String> = e
            .pull_secret
            .iter()
            .chain(&e.inject_pull_secret)
            .cloned()
            .collect();
        let mut plain = secrets.clone();
        plain.extend(["imagePullSecrets", "annotations", "metadata", "name"].map(String::from));
        plain.extend(e.annotations.iter().map(|(k, _)| k.clone()));
        let mut quoted = plain.clone();
        quoted.extend(e.annotations.iter().map(|(_, v)| v.clone()));
        Allowed {
            registry: e.registry.clone(),
            secrets,
            annotations: e.annotations.clone(),
            plain,
            quoted,
            json,
        }
    }

    /// May an edit write the token `t` (a name, key or value)? In JSON
    /// every string is double-quoted; in YAML names and keys may be plain,
    /// values are single-quoted, double-quoted only when single quotes
    /// cannot hold them.
    fn piece(&self, t: &str) -> bool {
        let double = t.starts_with('"');
        match quoted_text(t) {
            Some(s) if self.json => double && self.quoted.contains(&s),
            Some(s) => self.quoted.contains(&s) && (!double || !single_quotable(&s)),
            None => !self.json && self.plain.contains(t),
        }
    }

    /// Is `t` a secret name the edits write?
    fn secret(&self, t: &str) -> bool {
        self.secrets
            .contains(&quoted_text(t).unwrap_or_else(|| t.to_string()))
    }

    /// docs/patch-rules.md: `HOST[:PORT]/PROJECT/` + the text after the last `/`.
    fn relocated(&self, image: &str) -> Option<String> {
        let registry = self.registry.as_ref()?;
        let last = image.rsplit('/').next().unwrap_or(image);
        Some(format!("{registry}/{last}"))
    }
}

const PUNCT: &str = ",:{}[]";

fn is_ws(t: &str) -> bool {
    t.chars().all(|c| c == ' ' || c == '\t')
}

fn is_punct(t: &str) -> bool {
    t == "-" || (t.len() == 1 && PUNCT.contains(t))
}

/// A line body split into blanks, `,:{}[]`, quoted scalars and words.
fn tokens(line: &str) -> Vec<&str> {
    let chars: Vec<(usize, char)> = line.char_indices().collect();
    let at = |i: usize| chars.get(i).map(|&(b, _)| b).unwrap_or(line.len());
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let start = i;
        let c = chars[i].1;
        i += 1;
        if c == ' ' || c == '\t' {
            while i < chars.len() && matches!(chars[i].1, ' ' | '\t') {
                i += 1;
            }
        } else if PUNCT.contains(c) {
        } else if c == '\'' {
            while i < chars.len() {
                i += 1;
                if chars[i - 1].1 == '\'' {
                    if chars.get(i).is_some_and(|&(_, c)| c == '\'') {
                        i += 1;
                    } else {
                        break;
                    }
                }
            }
        } else if c == '"' {
            while i < chars.len() {
                i += 1;
                match chars[i - 1].1 {
                    '\\' => i += 1,
                    '"' => break,
                    _ => {}
                }
            }
            i = i.min(chars.len());
        } else {
            while i < chars.len()
                && !matches!(chars[i].1, ' ' | '\t')
                && !PUNCT.contains(chars[i].1)
            {
                i += 1;
            }
        }
        out.push(&line[at(start)..at(i)]);
    }
    out
}

fn unquote(t: &str) -> String {
    quoted_text(t).unwrap_or_else(|| t.to_string())
}

/// The key of a `key: value` line (after `- `), unquoted.
fn line_key(toks: &[&str]) -> Option<String> {
    let mut it = toks.iter().filter(|t| !is_ws(t));
    let mut first = *it.next()?;
    if first == "-" {
        first = it.next()?;
    }
    (it.next() == Some(&":")).then(|| unquote(first))
}

fn line_end(line: &str) -> &str {
    let body = line.trim_end_matches(['\r', '\n']);
    &line[body.len()..]
}

fn body(line: &str) -> &str {
    line.trim_end_matches(['\r', '\n'])
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start_matches([' ', '\t']).len()
}

/// An image value on a line.
enum ImageValue {
    /// Byte range of the text (inside quotes) of a plain or quoted scalar.
    Text(usize, usize),
    /// Byte range of `*alias`.
    Alias(usize, usize),
    /// Byte offset of a block scalar header (`|`, `>-` ...).
    Block(usize),
}

/// Every `image:` value on a line (YAML key, or `"image":` in JSON).
fn image_values(line: &str) -> Vec<ImageValue> {
    let b = line.as_bytes();
    let mut out = Vec::new();
    for (p, _) in line.match_indices("image") {
        let quote = p
            .checked_sub(1)
            .map(|q| b[q])
            .filter(|&q| q == b'"' || q == b'\'');
        let before_ok = match quote {
            Some(q) => b.get(p + 5) == Some(&q),
            None => p == 0 || matches!(b[p - 1], b' ' | b'\t' | b'{' | b','),
        };
        let colon = p + 5 + usize::from(quote.is_some());
        if !before_ok || b.get(colon) != Some(&b':') {
            continue;
        }
        let mut v = colon + 1;
        if quote.is_none() && !matches!(b.get(v), None | Some(b' ' | b'\t')) {
            continue;
        }
        let skip_ws = |mut v: usize| {
            while matches!(b.get(v), Some(b' ' | b'\t')) {
                v += 1;
            }
            v
        };
        v = skip_ws(v);
        // an anchor `&a` and a tag `!!str` are not the value
        while matches!(b.get(v), Some(b'&' | b'!')) {
            while v < b.len() && !matches!(b[v], b' ' | b'\t') {
                v += 1;
            }
            v = skip_ws(v);
        }
        let flow = line[..v].contains(['{', '[']);
        let plain_end = |from: usize, stops: &[u8]| {
            let mut e = from;
            while e < b.len()
                && !(flow && stops.contains(&b[e]))
                && !(b[e] == b'#' && matches!(b[e - 1], b' ' | b'\t'))
            {
                e += 1;
            }
            from + line[from..e].trim_end().len()
        };
        match b.get(v) {
            None => {}
            Some(&q @ (b'"' | b'\'')) => {
                if let Some(len) = line[v + 1..].find(q as char) {
                    out.push(ImageValue::Text(v + 1, v + 1 + len));
                }
            }
            Some(b'*') => out.push(ImageValue::Alias(v, plain_end(v, b",}]"))),
            Some(b'|' | b'>') => out.push(ImageValue::Block(v)),
            Some(_) => out.push(ImageValue::Text(v, plain_end(v, b",}]"))),
        }
    }
    out
}

#[derive(Clone)]
enum Piece<'a> {
    Lit(&'a str),
    Owned(String),
    /// `REGISTRY/` + one path component: an alias replaced by its relocated value.
    Relocated,
}

fn matches_pieces(n: &str, pieces: &[Piece], registry: &str) -> bool {
    match pieces.split_first() {
        None => n.is_empty(),
        Some((Piece::Lit(s), rest)) => n
            .strip_prefix(s)
            .is_some_and(|r| matches_pieces(r, rest, registry)),
        Some((Piece::Owned(s), rest)) => n
            .strip_prefix(s.as_str())
            .is_some_and(|r| matches_pieces(r, rest, registry)),
        Some((Piece::Relocated, rest)) => ["", "'", "\""].iter().any(|q| {
            let Some(r) = n
                .strip_prefix(q)
                .and_then(|r| r.strip_prefix(registry))
                .and_then(|r| r.strip_prefix('/'))
            else {
                return false;
            };
            for (i, c) in r.char_indices() {
                if i > 0
                    && r[i..]
                        .strip_prefix(q)
                        .is_some_and(|r| matches_pieces(r, rest, registry))
                {
                    return true;
                }
                if c == '/' || c.is_whitespace() || ",}]'\"#".contains(c) {
                    return false;
                }
            }
            q.is_empty() && !r.is_empty() && matches_pieces("", rest, registry)
        }),
    }
}

/// Can `s` not be written as a plain scalar (YAML indicators, `: `, ` #`)?
fn needs_quotes(s: &str) -> bool {
    s.starts_with([
        '[', ']', '{', '}', '&', '*', '!', '|', '>', '\'', '"', '%', '@', '`', '#', ',',
    ]) || s.contains(": ")
        || s.contains(" #")
}

/// The image line `o` with some of its image values relocated, each way it
/// may be spelled: the old quoting kept, or quotes added where the new value
/// cannot be plain (`[fd00::5]:5000/...`).
fn image_candidates<'a>(o: &'a str, allowed: &Allowed) -> Vec<Vec<Piece<'a>>> {
    let values = image_values(o);
    if values.is_empty() || values.iter().any(|v| matches!(v, ImageValue::Block(_))) {
        return Vec::new();
    }
    let mut out = Vec::new();
    // any non-empty subset of the values relocated (each image is its own
    // edit, and an image inside a string the engine does not read as YAML,
    // a one-line JSON mutate.yaml, stays); on a line with very many, all
    // of them; both quotings of a new value only on a line with few
    let all = (1u64 << values.len().min(63)) - 1;
    let few = values.len() <= 4;
    let masks = if values.len() <= 12 {
        1..all + 1
    } else {
        all..all + 1
    };
    for mask in masks {
        let mut variants: Vec<Vec<Piece>> = vec![Vec::new()];
        let mut from = 0;
        for (i, v) in values.iter().enumerate() {
            if mask & (1u64 << i) == 0 {
                continue;
            }
            let (s, e, spelled): (usize, usize, Vec<Option<String>>) = match *v {
                ImageValue::Text(s, e) => {
                    let Some(new) = allowed.relocated(&o[s..e]) else {
                        return Vec::new();
                    };
                    let quoted = s > 0 && matches!(o.as_bytes()[s - 1], b'"' | b'\'');
                    let mut spelled = vec![Some(new.clone())];
                    if !quoted && needs_quotes(&new) {
                        spelled = vec![Some(single_quoted(&new))];
                        if few {
                            spelled.push(Some(json_quoted(&new)));
                        }
                    }
                    (s, e, spelled)
                }
                ImageValue::Alias(s, e) => (s, e, vec![None]),
                ImageValue::Block(_) => unreachable!(),
            };
            let mut next = Vec::new();
            for pieces in variants {
                for sp in &spelled {
                    let mut p: Vec<Piece> = pieces.iter().map(Piece::clone).collect();
                    p.push(Piece::Lit(&o[from..s]));
                    p.push(match sp {
                        Some(t) => Piece::Owned(t.clone()),
                        None => Piece::Relocated,
                    });
                    next.push(p);
                }
            }
            variants = next;
            from = e;
        }
        for mut pieces in variants {
            pieces.push(Piece::Lit(body(&o[from..])));
            out.push(pieces);
        }
    }
    out
}

/// Is `n` the image line `o` with some of its image values relocated (and
/// perhaps text inserted as [`token_rule`] allows, in a flow line)? `next`
/// are the old lines after `o` (a block scalar's text). Returns how many of
/// them went with `o`.
fn image_rule(o: &str, n: &str, next: &[&str], allowed: &Allowed) -> Option<usize> {
    let registry = allowed.registry.as_deref()?;
    // an image in a block scalar becomes a plain scalar on the key line
    if let [ImageValue::Block(at)] = image_values(o)[..] {
        let content: Vec<&str> = next
            .iter()
            .take_while(|l| body(l).trim().is_empty() || indent(l) > indent(o))
            .copied()
            .collect();
        let text: Vec<&str> = content
            .iter()
            .map(|l| body(l).trim())
            .filter(|l| !l.is_empty())
            .collect();
        let [image] = text[..] else { return None };
        // only strip chomping (`|-`, `>-`) drops the final line break
        let header = body(o)[at..].split(" #").next().unwrap_or_default();
        let image = if header.contains('-') {
            image.to_string()
        } else {
            format!("{image}\n")
        };
        let new = allowed.relocated(&image)?;
        let fits = |v: &str| body(n) == format!("{}{v}", &o[..at]);
        let ok = if new.contains('\n') {
            fits(&json_quoted(&new))
        } else if needs_quotes(&new) {
            fits(&single_quoted(&new)) || fits(&json_quoted(&new))
        } else {
            fits(&new)
        };
        return ok.then_some(content.len());
    }
    for pieces in image_candidates(o, allowed) {
        if matches_pieces(body(n), &pieces, registry) {
            return Some(0);
        }
        let whole: Option<String> = pieces
            .iter()
            .map(|p| match p {
                Piece::Lit(s) => Some(s.to_string()),
                Piece::Owned(s) => Some(s.clone()),
                Piece::Relocated => None,
            })
            .collect();
        if whole.is_some_and(|w| token_rule(&w, n, allowed)) {
            return Some(0);
        }
    }
    None
}

/// A commented template line and its uncommented, non-blank tokens.
fn template_tokens(o: &str) -> Option<Vec<&str>> {
    let u = body(o).trim_start().strip_prefix('#')?;
    let t: Vec<&str> = tokens(u).into_iter().filter(|t| !is_ws(t)).collect();
    let is_template =
        t == ["imagePullSecrets", ":"] || (t.len() == 4 && t[..3] == ["-", "name", ":"]);
    is_template.then_some(t)
}

/// Is `n` the commented template line `o` made real, with an edit's secret name?
fn template_rule(o: &str, n: &str, allowed: &Allowed) -> bool {
    if allowed.secrets.is_empty() {
        return false;
    }
    let Some(t) = template_tokens(o) else {
        return false;
    };
    let nt: Vec<&str> = tokens(body(n)).into_iter().filter(|t| !is_ws(t)).collect();
    if t.len() == 2 {
        nt == t
    } else {
        nt.len() == 4 && nt[..3] == t[..3] && allowed.secret(nt[3])
    }
}

/// Is `n` the line `o` with only text inserted that the edits write, an
/// empty value taken off its key, or a set annotation's value replaced?
fn token_rule(o: &str, n: &str, allowed: &Allowed) -> bool {
    let ot = tokens(body(o));
    let nt = tokens(body(n));
    let solid = |t: &&str| !is_ws(t);
    for op in capture_diff_slices(Algorithm::Myers, &ot, &nt) {
        let (tag, old, new) = op.as_tag_tuple();
        if tag == DiffTag::Equal {
            continue;
        }
        let inserted: Vec<&str> = nt[new].iter().copied().filter(solid).collect();
        if inserted.iter().any(|t| !is_punct(t) && !allowed.piece(t)) {
            return false;
        }
        if old.is_empty() {
            continue;
        }
        let gone: Vec<&str> = ot[old.clone()].iter().copied().filter(solid).collect();
        if gone.is_empty() {
            continue; // blanks
        }
        let before: Vec<&str> = ot[..old.start].iter().copied().filter(solid).collect();
        // an empty or null value of `annotations`, `imagePullSecrets` or
        // `metadata` gives way: `annotations: {}` -> `annotations:` + entries
        // on the next lines, `{annotations: null}` -> `{annotations: {k: 'v'}}`
        let of_edited_key = matches!(before[..], [.., k, ":"]
            if matches!(unquote(k).as_str(), "annotations" | "imagePullSecrets" | "metadata"));
        if of_edited_key
            && ["{}", "[]", "~", "null", "Null", "NULL"].contains(&gone.concat().as_str())
        {
            continue;
        }
        // `KEY: old` -> `KEY: 'new'` for an annotation the edits set: what
        // goes is right after `KEY:`, is no comment, and the new value comes first
        let replaced = match before[..] {
            // values are always quoted
            [.., k, ":"] => allowed.annotations.iter().any(|(ak, value)| {
                *ak == unquote(k)
                    && inserted
                        .first()
                        .is_some_and(|v| quoted_text(v).as_ref() == Some(value))
            }),
            _ => false,
        };
        if !replaced || gone.iter().any(|t| t.starts_with('#')) {
            return false;
        }
    }
    true
}

/// May the old line `o` have become the new line `n`? Returns how many of
/// the old lines after `o` went with it.
fn became(o: &str, n: &str, next: &[&str], allowed: &Allowed) -> Option<usize> {
    let ending_ok = line_end(n) == line_end(o) || line_end(o).is_empty();
    if !ending_ok {
        return None;
    }
    if body(o) == body(n) {
        return Some(0);
    }
    if let Some(k) = image_rule(o, n, next, allowed) {
        return Some(k);
    }
    if template_rule(o, n, allowed) || token_rule(o, n, allowed) {
        // the lines of a replaced multi-line annotation value go with it
        let k = next
            .iter()
            .take_while(|l| body(l).trim().is_empty() || indent(l) > indent(o))
            .count();
        let replaced_value = allowed
            .annotations
            .iter()
            .any(|(k, _)| line_key(&tokens(body(o))).as_deref() == Some(k.as_str()));
        return Some(if replaced_value { k } else { 0 });
    }
    None
}

/// May `n` be a line the edits inserted?
fn inserted_ok(n: &str, allowed: &Allowed) -> bool {
    let t = tokens(body(n));
    t.iter().any(|t| allowed.piece(t))
        && t.iter()
            .all(|t| is_ws(t) || is_punct(t) || allowed.piece(t))
}

/// Every way `output` changed a line of `input` that the edits do not allow.
fn changed_line_problems(input: &str, output: &str, allowed: &Allowed) -> Vec<String> {
    let old: Vec<&str> = input.split_inclusive('\n').collect();
    let new: Vec<&str> = output.split_inclusive('\n').collect();
    let mut problems = Vec::new();
    let ops = capture_diff_slices(Algorithm::Myers, &old, &new);
    // runs of non-equal ops, judged together
    let mut runs: Vec<(std::ops::Range<usize>, std::ops::Range<usize>)> = Vec::new();
    for op in ops {
        let (tag, o, n) = op.as_tag_tuple();
        if tag == DiffTag::Equal {
            continue;
        }
        match runs.last_mut() {
            Some((ro, rn)) if ro.end == o.start && rn.end == n.start => {
                ro.end = o.end;
                rn.end = n.end;
            }
            _ => runs.push((o, n)),
        }
    }
    for (o_range, n_range) in runs {
        let olds = &old[o_range.clone()];
        let news = &new[n_range.clone()];
        let mut j = 0;
        let mut i = 0;
        while i < olds.len() {
            let o = olds[i];
            let next = &olds[i + 1..];
            let hit =
                (j..news.len()).find_map(|k| became(o, news[k], next, allowed).map(|g| (k, g)));
            match hit {
                Some((k, gone)) => {
                    for n in &news[j..k] {
                        if !inserted_ok(n, allowed) {
                            problems.push(format!("inserted line {n:?} is none an edit writes"));
                        }
                    }
                    j = k + 1;
                    i += 1 + gone;
                }
                None => {
                    let template_item = !allowed.secrets.is_empty()
                        && template_tokens(o).is_some_and(|t| t.len() == 4);
                    if !template_item {
                        problems.push(format!(
                            "line {} {o:?} lost or changed; the output has {:?} there",
                            o_range.start + i + 1,
                            news
                        ));
                    }
                    i += 1;
                }
            }
        }
        for n in &news[j..] {
            if !inserted_ok(n, allowed) {
                problems.push(format!("inserted line {n:?} is none an edit writes"));
            }
        }
    }
    problems
}

fn edit_sets() -> impl Strategy<Value = EditSet> {
    // valid Secret names, some of which kubectl reads as another type when plain
    let name = || {
        prop_oneof![
            "[a-z0-9][a-z0-9.-]{0,10}[a-z0-9]",
            prop::sample::select(vec![
                "on", "y", "no", "true", "null", "1e3", "1e-3", "0o12", "012", "09", "0x1f", "1.5",
                "123",
            ])
            .prop_map(String::from),
        ]
    };
    let value = prop_oneof![
        Just("true".to_string()),
        Just("it's: #1".to_string()),
        Just("{\"a\":[1]}".to_string()),
        Just("".to_string()),
        "[ -~]{0,20}",
        "\\PC{0,8}",
    ];
    let annotation = (
        prop_oneof![
            "[a-z]{1,5}(\\.[a-z]{1,5})?/[a-z][a-z0-9-]{0,6}[a-z0-9]",
            // keys some inputs already have: their values get replaced
            Just("note".to_string()),
            Just("team".to_string()),
            Just("prometheus.io/scrape".to_string()),
            // keys kubectl reads as a bool or number when plain
            prop::sample::select(vec!["on", "y", "1e3", "012", "0x10", "true", "a"])
                .prop_map(String::from),
        ],
        value,
    );
    (
        proptest::option::of(name()),
        proptest::option::of(name()),
        proptest::option::of(prop_oneof![
            Just("harbor.example.com:5000/apm".to_string()),
            Just("10.0.0.5/a/b".to_string()),
            Just("[fd00::5]:5000/apm".to_string()),
        ]),
        proptest::collection::vec(annotation, 0..3),
    )
        .prop_map(|(pull_secret, inject_pull_secret, registry, annotations)| {
            let mut annotations: Vec<(String, String)> = annotations;
            let mut seen = HashSet::new();
            annotations.retain(|(k, _)| seen.insert(k.clone()));
            EditSet {
                pull_secret,
                inject_pull_secret,
                registry,
                annotations,
            }
        })
}

/// `text` with CRLF line endings (every bare LF) and/or without its final
/// line break: the same meaning, other bytes to keep.
fn variant(text: &str, crlf: bool, no_final_break: bool) -> String {
    let mut t = if crlf {
        let mut out = String::with_capacity(text.len() * 2);
        let mut prev = '\0';
        for c in text.chars() {
            if c == '\n' && prev != '\r' {
                out.push('\r');
            }
            out.push(c);
            prev = c;
        }
        out
    } else {
        text.to_string()
    };
    if no_final_break {
        let kept = t.trim_end_matches(['\r', '\n']).len();
        t.truncate(kept);
    }
    t
}

/// Everything the edits `e` did to `input` (giving `once`) that they must not
/// have done; `Ok` when nothing.
fn judge(name: &str, input: &str, once: &str, e: &EditSet) -> Result<(), String> {
    let mut problems: Vec<String> =
        changed_line_problems(input, once, &Allowed::new(e, is_json(input)))
            .into_iter()
            .map(|p| format!("{name} with {:?}: {p}", flags(e)))
            .collect();
    if let Err(m) = means(name, input, once, e) {
        problems.push(m);
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_edits_mean_exactly_what_was_asked_and_are_idempotent(edits in edit_sets(), pick in any::<prop::sample::Index>(), crlf in any::<bool>(), no_final_break in any::<bool>()) {
        let all = inputs();
        let (name, text) = &all[pick.index(all.len())];
        let text = &variant(text, crlf, no_final_break);
        let once = patch_source(&source(name, text), &edits);
        prop_assert!(once.is_ok(), "{}: {:?}: {:#}", name, edits, once.as_ref().err().unwrap());
        let once = once.unwrap();
        let judged = judge(name, text, &once.output, &edits);
        prop_assert!(judged.is_ok(), "{}", judged.unwrap_err());
        let twice = patch_source(&source(name, &once.output), &edits);
        prop_assert!(twice.is_ok(), "{}: patching again failed with {:?}", name, edits);
        let twice = twice.unwrap();
        prop_assert_eq!(&twice.output, &once.output, "{} is not idempotent with {:?}", name, edits);
        prop_assert!(twice.changes.is_empty());
    }
}

/// Every input with every kind of edit at once: each changed line is one an
/// edit must change, the meaning is what was asked, patching again changes
/// nothing. No line is skipped for what it mentions.
#[test]
fn every_input_changes_only_where_the_edits_must() {
    let all_edits = EditSet {
        pull_secret: Some("s".into()),
        inject_pull_secret: Some("s".into()),
        registry: Some("h.example.com/p".into()),
        annotations: vec![("a.example.com/k".into(), "v".into())],
    };
    // keys the inputs already have, so that values get replaced
    let replacing = EditSet {
        pull_secret: Some("on".into()),
        inject_pull_secret: None,
        registry: Some("[fd00::5]:5000/apm".into()),
        annotations: vec![
            ("note".into(), "it's new".into()),
            ("team".into(), "".into()),
            ("prometheus.io/scrape".into(), "false".into()),
        ],
    };
    let mut failures = Vec::new();
    for (name, text) in inputs() {
        for edits in [&all_edits, &replacing] {
            let once = match patch_source(&source(&name, &text), edits) {
                Ok(o) => o.output,
                Err(e) => {
                    failures.push(format!("{name}: {edits:?}: {e:#}"));
                    continue;
                }
            };
            if let Err(e) = judge(&name, &text, &once, edits) {
                failures.push(e);
            }
            match patch_source(&source(&name, &once), edits) {
                Ok(twice) if twice.output == once => {}
                _ => failures.push(format!("{name}: not idempotent with {edits:?}")),
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The changed-lines rule is not a rubber stamp: each wrong output below is
/// refused, each right one accepted.
#[test]
fn changed_lines_rule_refuses_what_no_edit_does() {
    let edits = EditSet {
        pull_secret: Some("s".into()),
        inject_pull_secret: None,
        registry: Some("h.example.com/p".into()),
        annotations: vec![("team".into(), "apm".into())],
    };
    let problems =
        |i: &str, o: &str| changed_line_problems(i, o, &Allowed::new(&edits, is_json(i)));
    let ok = |i: &str, o: &str| {
        let p = problems(i, o);
        assert!(p.is_empty(), "{i:?} -> {o:?} refused: {p:?}");
    };
    let bad = |i: &str, o: &str| {
        assert!(!problems(i, o).is_empty(), "{i:?} -> {o:?} accepted");
    };
    ok("  image: a/b:1 # c\n", "  image: h.example.com/p/b:1 # c\n");
    ok(
        "  image: \"b@sha256:0\"\n",
        "  image: \"h.example.com/p/b@sha256:0\"\n",
    );
    ok(
        "  - image: &i b:1\n  - image: *i\n",
        "  - image: &i h.example.com/p/b:1\n  - image: h.example.com/p/b:1\n",
    );
    ok(
        "  image: >-\n    b:1\nx: 1\n",
        "  image: h.example.com/p/b:1\nx: 1\n",
    );
    bad("  image: a/b:1\n", "  image: h.example.com/p/b\n"); // tag dropped
    bad("  image: a/b:1 # c\n", "  image: h.example.com/p/b:1\n"); // comment dropped
    bad("  image: 'a/b:1'\n", "  image: h.example.com/p/b:1\n"); // quotes dropped
    bad("  image: a/b:1\n", "  image: h.example.com/p/a/b:1\n"); // path kept
    ok(
        "#imagePullSecrets:\n# - name: x\n",
        "imagePullSecrets:\n- name: s\n",
    );
    ok(
        "  #imagePullSecrets:\n  #  - name: x\n  #  - name: y\n",
        "  imagePullSecrets:\n    - name: s\n",
    );
    bad(
        "#imagePullSecrets:\n# - name: x\n",
        "imagePullSecrets:\n- name: x\n",
    ); // wrong name
    bad("# a comment\n", "# another comment\n");
    ok(
        "imagePullSecrets: [] # x\n",
        "imagePullSecrets: [{name: s}] # x\n",
    );
    ok(
        "  annotations: ~   # later\n",
        "  annotations:   # later\n    team: 'apm'\n",
    );
    bad(
        "  annotations: {} # none yet\n",
        "  annotations:\n    team: 'apm'\n",
    ); // comment lost
    ok(
        "  annotations: {a: \"1\"}\n",
        "  annotations: {a: \"1\", team: 'apm'}\n",
    );
    bad(
        "  annotations: {a: \"1\"}\n",
        "  annotations: {a: '1', team: 'apm'}\n",
    ); // requoted
    ok(
        "    team: |\n      old\n      text\n    x: y\n",
        "    team: 'apm'\n    x: y\n",
    );
    bad("    other: old\n", "    other: 'apm'\n"); // an annotation nobody set
    bad("  annotations:\n", "  annotations:\n    team: apm\n"); // values are quoted
    bad("  annotations:\n", "  annotations:\n    team: \"apm\"\n"); // single quotes would do
    let sa = "{\n  \"kind\": \"ServiceAccount\"\n}\n";
    ok(
        sa,
        "{\n  \"kind\": \"ServiceAccount\",\n  \"imagePullSecrets\": [{\"name\": \"s\"}]\n}\n",
    );
    bad(
        sa,
        "{\n  \"kind\": \"ServiceAccount\",\n  imagePullSecrets: [{name: s}]\n}\n",
    ); // YAML in JSON
    ok(
        "{\"metadata\": {}}",
        "{\"metadata\": {\"annotations\": {\"team\": \"\\u0061pm\"}}}",
    );
    ok("a: 1", "a: 1\nimagePullSecrets:\n- name: s");
    bad("a: 1\nb: 2\n", "a: 1\n\nb: 2\n"); // stray blank line
    bad("a: 1\nb: 2\n", "a: 1\nname: x\nb: 2\n"); // stray line
    bad("a: 1\r\n", "a: 1\n"); // line ending changed
    bad("  labels:\n", "  annotations:\n");
}

/// meaning.py reads plain scalars as kubectl does (go-yaml v2 through
/// sigs.k8s.io/yaml), not as PyYAML alone would: a secret name written
/// plain that kubectl reads as a number or boolean is caught, one it reads
/// as a string is not; keys that kubectl reads alike collide.
#[test]
fn meaning_check_reads_scalars_as_kubectl_does() {
    let sa = "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: a\n";
    let with_secret = |v: &str| format!("{sa}imagePullSecrets:\n- name: {v}\n");
    let check = |name: &str, written: &str| {
        meaning_check_text(
            sa,
            &with_secret(written),
            &[format!("--pull-secret={name}")],
        )
    };
    // float, octal (0o), float again (09 is no octal), bool, int: not strings
    for name in ["1e3", "0o12", "09", "y", "0x1f", "1_0"] {
        assert!(check(name, name).is_err(), "plain {name} read as a string");
        assert!(
            check(name, &format!("'{name}'")).is_ok(),
            "quoted {name} refused"
        );
    }
    // strings to kubectl, though PyYAML's YAML 1.1 reads some otherwise
    for name in ["1-20", "a.1e3", "2001-12-14"] {
        assert!(
            check(name, name).is_ok(),
            "plain {name} not read as a string"
        );
    }
    let pod = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  annotations: {on: a}\nspec: {}\n";
    let args = ["--annotation=true=b".to_string()];
    // `on` is the key "true" to kubectl: a second "true" is no edit of it
    let collide = pod.replace("{on: a}", "{on: a, \"true\": b}");
    assert!(meaning_check_text(pod, &collide, &args).is_err());
    let replaced = pod.replace("{on: a}", "{\"true\": b}");
    assert!(meaning_check_text(pod, &replaced, &args).is_ok());
    // sexagesimal is YAML 1.1 only: go-yaml reads `1:20` as the string
    let time = pod.replace("{on: a}", "{on: a, k: 1:20}");
    assert!(meaning_check_text(pod, &time, &["--annotation=k=1:20".to_string()]).is_ok());
}

// ---------------------------------------------------------------------------
// Generated manifests: the shapes of testdata/ recombined at random (kinds,
// indentation, sequence style, flow or block, quoting, comments, existing
// imagePullSecrets / annotations / metadata in each of their forms, JSON).
// ---------------------------------------------------------------------------

/// A small deterministic generator (xorshift64*): the seed is the test case.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize % n
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

/// How one document is written.
struct Style {
    indent: usize,
    /// Dash column relative to the key: 0 (indentless) or the indent.
    seq_offset: usize,
    /// 0 plain, 1 single, 2 double quotes, 3 mixed.
    quotes: usize,
    comments: bool,
    flow: bool,
}

fn container(r: &mut Rng, i: usize) -> serde_json::Value {
    let image = r.pick(&[
        "registry.tingyun.com/tingyun/k8s-uniagent:2.5.3.0",
        "nginx:1.25",
        "docker.io/library/redis@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "localhost:5000/a/b/c:2",
        "busybox",
    ]);
    let mut c = serde_json::json!({ "name": format!("c{i}"), "image": image });
    if r.chance(30) {
        c["ports"] = serde_json::json!([{ "containerPort": 80 }]);
    }
    c
}

fn pod_spec(r: &mut Rng) -> serde_json::Value {
    let mut spec = serde_json::Map::new();
    if r.chance(30) {
        spec.insert(
            "initContainers".into(),
            serde_json::json!([container(r, 9)]),
        );
    }
    let n = 1 + r.below(2);
    let containers: Vec<_> = (0..n).map(|i| container(r, i)).collect();
    spec.insert("containers".into(), containers.into());
    if r.chance(20) {
        spec.insert("restartPolicy".into(), "Always".into());
    }
    spec.into()
}

/// Pod template metadata in one of its forms (None: absent).
fn template_metadata(r: &mut Rng) -> Option<serde_json::Value> {
    use serde_json::json;
    match r.below(8) {
        0 => None,
        1 => Some(json!({ "labels": { "app": "web" } })),
        2 => Some(json!({ "labels": { "app": "web" }, "annotations": {} })),
        3 => Some(json!({ "annotations": { "team": "apm" } })),
        4 => Some(json!({ "annotations": null, "labels": { "app": "web" } })),
        5 => Some(json!(null)),
        6 => Some(json!({ "annotations": { "z": "w", "team": "" } })),
        _ => Some(json!({})),
    }
}

fn template(r: &mut Rng) -> serde_json::Value {
    let mut t = serde_json::Map::new();
    let meta = template_metadata(r);
    let spec_first = r.chance(20);
    if spec_first {
        t.insert("spec".into(), pod_spec(r));
    }
    if let Some(m) = meta {
        t.insert("metadata".into(), m);
    }
    if !spec_first {
        t.insert("spec".into(), pod_spec(r));
    }
    t.into()
}

fn object(r: &mut Rng, kinds: &[&str], n: usize) -> serde_json::Value {
    use serde_json::json;
    let name = format!("o{n}");
    match r.pick(kinds) {
        "Pod" => {
            let mut pod =
                json!({ "apiVersion": "v1", "kind": "Pod", "metadata": { "name": name } });
            if let Some(Some(m)) = r.chance(50).then(|| template_metadata(r)) {
                for (k, v) in m.as_object().into_iter().flatten() {
                    pod["metadata"][k] = v.clone();
                }
            }
            pod["spec"] = pod_spec(r);
            pod
        }
        "Deployment" => json!({
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": { "name": name },
            "spec": { "replicas": 1, "template": template(r) }
        }),
        "CronJob" => json!({
            "apiVersion": "batch/v1", "kind": "CronJob", "metadata": { "name": name },
            "spec": { "schedule": "*/5 * * * *", "jobTemplate": { "spec": { "template": template(r) } } }
        }),
        "ServiceAccount" => {
            let mut sa = json!({ "apiVersion": "v1", "kind": "ServiceAccount", "metadata": { "name": name } });
            match r.below(5) {
                0 => sa["imagePullSecrets"] = json!([]),
                1 => sa["imagePullSecrets"] = json!([{ "name": "other" }]),
                2 => sa["imagePullSecrets"] = json!(null),
                _ => {}
            }
            sa
        }
        "ConfigMap" => {
            let mut inner = serde_json::Map::new();
            inner.insert("initContainers".into(), json!([container(r, 7)]));
            if r.chance(25) {
                inner.insert("imagePullSecrets".into(), json!([{ "name": "other" }]));
            }
            let style = Style {
                indent: 2,
                seq_offset: 2 * r.below(2),
                quotes: 0,
                comments: false,
                flow: false,
            };
            let mut text = String::new();
            emit_map(&mut text, &inner, 0, &style, r);
            if !inner.contains_key("imagePullSecrets") && r.chance(50) {
                text.push_str("#imagePullSecrets:\n#- name: tingyun-image-secret\n");
            }
            json!({ "apiVersion": "v1", "kind": "ConfigMap", "metadata": { "name": name },
                    "data": { "other": "x", "mutate.yaml": text } })
        }
        _ => {
            let items: Vec<_> = (0..1 + r.below(3))
                .map(|i| {
                    let kinds = ["Pod", "Deployment", "ServiceAccount", "ConfigMap"];
                    object(r, &kinds, n * 10 + i)
                })
                .collect();
            json!({ "apiVersion": "v1", "kind": "List", "items": items })
        }
    }
}

fn plain_ok(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_alphabetic())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "./:@_-".contains(c))
        && !s.ends_with(':')
        && !["y", "n", "on", "off", "yes", "no", "true", "false", "null"]
            .contains(&s.to_ascii_lowercase().as_str())
}

fn scalar(v: &serde_json::Value, style: &Style, r: &mut Rng) -> String {
    match v {
        serde_json::Value::String(s) => {
            let q = if style.quotes == 3 {
                r.below(3)
            } else {
                style.quotes
            };
            match q {
                0 if plain_ok(s) => s.clone(),
                2 => json_quoted(s),
                _ => single_quoted(s),
            }
        }
        serde_json::Value::Null => r.pick(&["", "~", "null"]).to_string(),
        other => other.to_string(),
    }
}

fn flow(v: &serde_json::Value, style: &Style, r: &mut Rng) -> String {
    match v {
        serde_json::Value::Object(m) => {
            let parts: Vec<String> = m
                .iter()
                .map(|(k, v)| format!("{k}: {}", flow(v, style, r)))
                .collect();
            format!("{{{}}}", parts.join(", "))
        }
        serde_json::Value::Array(a) => {
            let parts: Vec<String> = a.iter().map(|v| flow(v, style, r)).collect();
            format!("[{}]", parts.join(", "))
        }
        serde_json::Value::Null => "null".into(),
        other => scalar(other, style, r),
    }
}

fn emit_map(
    out: &mut String,
    map: &serde_json::Map<String, serde_json::Value>,
    col: usize,
    style: &Style,
    r: &mut Rng,
) {
    let pad = " ".repeat(col);
    for (i, (k, v)) in map.iter().enumerate() {
        // no comment line between a sequence's dash and its first key
        if style.comments && i > 0 && r.chance(15) {
            out.push_str(&format!("{pad}# about {k}\n"));
        }
        let comment = if style.comments && r.chance(15) {
            " # note"
        } else {
            ""
        };
        match v {
            serde_json::Value::Object(m) if m.is_empty() => {
                out.push_str(&format!("{pad}{k}: {{}}{comment}\n"))
            }
            serde_json::Value::Array(a) if a.is_empty() => {
                out.push_str(&format!("{pad}{k}: []{comment}\n"))
            }
            serde_json::Value::Object(_) | serde_json::Value::Array(_)
                if style.flow && !v.to_string().contains("\\n") && r.chance(25) =>
            {
                out.push_str(&format!("{pad}{k}: {}{comment}\n", flow(v, style, r)))
            }
            serde_json::Value::Object(m) => {
                out.push_str(&format!("{pad}{k}:{comment}\n"));
                emit_map(out, m, col + style.indent, style, r);
            }
            serde_json::Value::Array(a) => {
                out.push_str(&format!("{pad}{k}:{comment}\n"));
                emit_seq(out, a, col + style.seq_offset, style, r);
            }
            serde_json::Value::String(s) if s.contains('\n') => {
                let indicator = style.indent.to_string();
                let header = r.pick(&["|", "|-", "|+", &indicator]);
                let header = if header.len() == 1 && header != "|" {
                    format!("|{header}")
                } else {
                    header.to_string()
                };
                out.push_str(&format!("{pad}{k}: {header}\n"));
                let inner = " ".repeat(col + style.indent);
                for line in s.lines() {
                    out.push_str(&format!("{inner}{line}\n"));
                }
            }
            other => {
                let text = scalar(other, style, r);
                let sep = if text.is_empty() { "" } else { " " };
                out.push_str(&format!("{pad}{k}:{sep}{text}{comment}\n"));
            }
        }
    }
}

fn emit_seq(
    out: &mut String,
    items: &[serde_json::Value],
    dash: usize,
    style: &Style,
    r: &mut Rng,
) {
    let pad = " ".repeat(dash);
    for item in items {
        match item {
            serde_json::Value::Object(m) if !m.is_empty() => {
                let mut body = String::new();
                emit_map(&mut body, m, dash + 2, style, r);
                out.push_str(&format!("{pad}- {}", &body[dash + 2..]));
            }
            other => out.push_str(&format!("{pad}- {}\n", flow(other, style, r))),
        }
    }
}

/// The block-style `image:` lines of one document written as block
/// scalars (`image: |-`), or the first anchored and the next an alias of it.
fn image_forms(doc: &str, r: &mut Rng) -> String {
    let mode = r.below(3);
    let mut out = String::new();
    let mut anchored = false;
    for line in doc.split_inclusive('\n') {
        let pad = line.len() - line.trim_start().len();
        let Some(value) = line.trim_start().strip_prefix("image: ") else {
            out.push_str(line);
            continue;
        };
        let value = value.trim_end();
        let text = quoted_text(value).unwrap_or_else(|| value.to_string());
        let indent = " ".repeat(pad);
        match mode {
            1 => out.push_str(&format!(
                "{indent}image: {}\n{indent}  {text}\n",
                r.pick(&["|-", ">-", "|"])
            )),
            2 if !anchored => {
                anchored = true;
                out.push_str(&format!("{indent}image: &img {value}\n"));
            }
            2 => out.push_str(&format!("{indent}image: *img\n")),
            _ => out.push_str(line),
        }
    }
    out
}

/// A manifest of one to three documents (or one JSON document).
fn generated_manifest(seed: u64) -> String {
    let mut r = Rng(seed | 1);
    let kinds = [
        "Pod",
        "Deployment",
        "CronJob",
        "ServiceAccount",
        "ConfigMap",
        "List",
    ];
    if r.chance(15) {
        let kinds = ["Pod", "Deployment", "ServiceAccount", "List"];
        let obj = object(&mut r, &kinds, 0);
        return if r.chance(30) {
            serde_json::to_string(&obj).unwrap()
        } else {
            serde_json::to_string_pretty(&obj).unwrap() + "\n"
        };
    }
    let mut out = String::new();
    if r.chance(30) {
        out.push_str("---\n");
    }
    for n in 0..1 + r.below(3) {
        if n > 0 {
            out.push_str("---\n");
        }
        let style = Style {
            indent: [2, 4][r.below(2)],
            seq_offset: 0,
            quotes: r.below(4),
            comments: r.chance(40),
            flow: r.chance(30),
        };
        let style = Style {
            seq_offset: [0, style.indent][r.below(2)],
            ..style
        };
        let obj = object(&mut r, &kinds, n);
        let mut doc = String::new();
        emit_map(&mut doc, obj.as_object().unwrap(), 0, &style, &mut r);
        if matches!(obj["kind"].as_str(), Some("Pod" | "Deployment" | "CronJob")) {
            doc = image_forms(&doc, &mut r);
        }
        out.push_str(&doc);
        if obj["kind"] == "ServiceAccount" && obj.get("imagePullSecrets").is_none() && r.chance(50)
        {
            out.push_str("#imagePullSecrets:\n#  - name: tingyun-image-secret\n");
        }
    }
    out
}

/// A case the property drew once (about one run in forty): a one-line JSON
/// `List` whose ConfigMaps hold mutate.yaml as JSON strings (left as they
/// are, with a warning) beside a Pod whose three images move: five image
/// values on one line, only three relocated.
#[test]
fn a_one_line_json_list_relocates_only_the_pod_images() {
    let seed = 9_600_012_632_145_121_486;
    let text = generated_manifest(seed);
    let edits = EditSet {
        registry: Some("harbor.example.com:5000/apm".into()),
        ..EditSet::default()
    };
    let name = format!("generated-{seed}");
    let once = patch_source(&source(&name, &text), &edits).unwrap();
    assert_eq!(once.changes.len(), 3, "{:?}", once.changes);
    judge(&name, &text, &once.output, &edits).unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, failure_persistence: None, ..ProptestConfig::default() })]

    /// Generated manifests: the edits succeed, mean what was asked, change
    /// only the lines they must, and a second run changes nothing.
    #[test]
    fn generated_manifests_take_random_edits_exactly(seed in any::<u64>(), edits in edit_sets(), crlf in any::<bool>()) {
        let text = variant(&generated_manifest(seed), crlf, false);
        let name = format!("generated-{seed}");
        // the generator itself must write what it means (PyYAML agrees)
        let parsed = meaning_check_text(&text, &text, &["--annotation=x=y".to_string()]);
        prop_assert!(
            parsed.is_ok() || !parsed.as_ref().unwrap_err().contains("not valid YAML"),
            "generator wrote invalid YAML:\n{}", text
        );
        let once = patch_source(&source(&name, &text), &edits);
        prop_assert!(once.is_ok(), "{:?}: {:#}\n{}", edits, once.as_ref().err().unwrap(), text);
        let once = once.unwrap();
        let judged = judge(&name, &text, &once.output, &edits);
        prop_assert!(judged.is_ok(), "{}\n--- input:\n{}--- output:\n{}", judged.unwrap_err(), text, once.output);
        let twice = patch_source(&source(&name, &once.output), &edits);
        prop_assert!(twice.is_ok(), "{}: patching again failed with {:?}", name, edits);
        prop_assert_eq!(&twice.unwrap().output, &once.output, "not idempotent with {:?}", edits);
    }
}
