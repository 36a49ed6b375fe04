//! Plain data view of YAML documents (via saphyr, an independent parser from
//! the tree-sitter one used for editing): used to check edits by meaning and
//! to turn manifests into JSON objects for the API server.
//!
//! Scalars are resolved the way kubectl resolves them (YAML 1.1, see
//! [`crate::yaml::scalar::kubectl`]): `on` is `true`, `012` is 10, and
//! timestamps stay the strings written. Aliases are expanded, merge keys
//! (`<<: *common`) merged, and keys that become equal after resolution
//! (`on:` and `true:`) are an error, as they would be for the API server.
use saphyr::{AnnotatedMapping, MarkedYaml, ScalarStyle, YamlData, YamlLoader};
use serde_json::{Map, Number, Value};

use super::scalar::{self, Plain};

mod tabs;

/// A parse error with a 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub line: usize,
    pub col: usize,
    pub msg: String,
    /// For a duplicate key: line and column of its first definition (the
    /// message names that line as `(first defined on line N)`).
    pub first: Option<(usize, usize)>,
}

/// How a duplicate-key message names the line of the first definition.
pub fn first_defined(line: usize) -> String {
    format!("(first defined on line {line})")
}

impl ParseError {
    /// The message for the user: `invalid YAML: ...`, or `duplicate key
    /// ... (first defined on line N): ...` with N counted by `line_of`
    /// (this text's line and column -> the line to show), for a text that
    /// is a part of a file.
    pub fn describe(&self, line_of: impl Fn(usize, usize) -> usize) -> String {
        match self.first {
            Some((line, col)) => {
                self.msg
                    .replacen(&first_defined(line), &first_defined(line_of(line, col)), 1)
            }
            None => format!("invalid YAML: {}", self.msg),
        }
    }
}

/// Parse every document of a YAML stream into JSON values. Empty documents
/// (e.g. after a trailing `---`) are returned as `Value::Null`.
pub fn documents(text: &str) -> Result<Vec<Value>, ParseError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let cleaned;
    let text = if text.contains('\u{feff}') {
        cleaned = without_document_boms(text);
        cleaned.as_str()
    } else {
        text
    };
    // the common case straight from the event stream; anything it does
    // not decide (anchors, tags, errors, ...) by the loader below
    if let Some(docs) = quick_values(text) {
        return Ok(docs);
    }
    // values are built recursively: never from a text nested too deep
    super::limits::check_depth(text).map_err(|e| {
        let (line, col) = crate::source::line_col(text, e.offset);
        ParseError {
            line,
            col,
            msg: e
                .msg
                .strip_prefix("invalid YAML: ")
                .unwrap_or(&e.msg)
                .to_string(),
            first: None,
        }
    })?;
    match load(text, false) {
        Err(e) if e.msg == tabs::TAB_AFTER_COLON => {
            tabs::parse_separating_tabs(text, |t| load(t, true))
        }
        other => other.map(|(docs, _)| docs),
    }
}

/// Parse with saphyr and turn its documents into JSON values; with
/// `spans`, also the character spans of their quoted and block scalars.
fn load(text: &str, spans: bool) -> Result<tabs::Parsed, ParseError> {
    let mut parser = saphyr_parser::Parser::new_from_str(text);
    let mut loader: YamlLoader<MarkedYaml> = YamlLoader::default();
    loader.early_parse(false);
    let scan_error = |e: &saphyr::ScanError| {
        let m = e.marker();
        let (line, col) = (m.line(), m.col() + 1);
        duplicated_key(text, e.info(), line, col).unwrap_or_else(|| ParseError {
            line,
            col,
            msg: e.info().to_string(),
            first: None,
        })
    };
    parser.load(&mut loader, true).map_err(|e| scan_error(&e))?;
    if let Some(e) = loader.error() {
        return Err(scan_error(e));
    }
    let docs = loader.into_documents();
    let mut content = Vec::new();
    if spans {
        docs.iter()
            .for_each(|d| tabs::content_spans(d, &mut content));
    }
    let values = docs.iter().map(to_json).collect::<Result<_, _>>()?;
    Ok((values, content))
}

/// saphyr's loader says only "duplicated key in mapping", at the second
/// key (`line`, 1-based `col`): the error as this crate says it, naming the
/// line of the first definition (found on saphyr's event stream). `None`
/// for any other message.
pub fn duplicated_key(text: &str, info: &str, line: usize, col: usize) -> Option<ParseError> {
    use saphyr_parser::Event;
    if info != "duplicated key in mapping" {
        return None;
    }
    // per open collection: for a mapping, whether a key comes next and
    // the scalar keys seen with their positions
    let mut stack: Vec<Option<(bool, Vec<(String, usize, usize)>)>> = Vec::new();
    let mut parser = saphyr_parser::Parser::new_from_str(text);
    while let Some(Ok((event, span))) = parser.next_event() {
        let node = matches!(
            event,
            Event::Scalar(..)
                | Event::MappingStart(..)
                | Event::SequenceStart(..)
                | Event::Alias(_)
        );
        if let (true, Some(Some((expect_key, keys)))) = (node, stack.last_mut()) {
            if *expect_key {
                if let Event::Scalar(raw, ..) = &event {
                    let at = (span.start.line(), span.start.col() + 1);
                    if at == (line, col) {
                        let (_, fl, fc) = keys.iter().find(|(k, ..)| k == raw.as_ref())?;
                        return Some(ParseError {
                            line,
                            col,
                            msg: format!(
                                "duplicate key {raw:?} {}: remove one of them",
                                first_defined(*fl)
                            ),
                            first: Some((*fl, *fc)),
                        });
                    }
                    keys.push((raw.to_string(), at.0, at.1));
                }
            }
            *expect_key = !*expect_key;
        }
        match event {
            Event::MappingStart(..) => stack.push(Some((true, Vec::new()))),
            Event::SequenceStart(..) => stack.push(None),
            Event::MappingEnd | Event::SequenceEnd => {
                stack.pop();
            }
            _ => {}
        }
    }
    None
}

/// The values of a text without anchors, aliases, tags or merge keys,
/// built straight from saphyr's events (no intermediate tree): what
/// [`documents`] returns for it, or `None` for anything else (see
/// [`node_value`]), which the loader then decides.
fn quick_values(text: &str) -> Option<Vec<Value>> {
    use saphyr_parser::Event;
    let mut events = super::subset::Events::saphyr(text);
    let mut next = || events.next();
    let mut docs = Vec::new();
    let mut root: Option<Value> = None;
    loop {
        match next()? {
            Event::StreamEnd => break,
            Event::DocumentEnd => docs.push(root.take().unwrap_or(Value::Null)),
            Event::Nothing | Event::StreamStart | Event::DocumentStart(_) => {}
            event if root.is_none() => root = Some(node_value(event, &mut next, 0)?),
            _ => return None,
        }
    }
    root.is_none().then_some(docs)
}

/// The value of the node that starts with `first`, the rest of its events
/// read from `next` (`None` at a syntax error), `depth` collections deep:
/// what [`documents`] builds for it, or `None` for what only the loader
/// decides — an anchor, alias, tag or merge key, a collection as a key,
/// keys alike once resolved, nesting past [`super::limits::MAX_DEPTH`] —
/// and for an error.
pub(crate) fn node_value<'a>(
    first: saphyr_parser::Event<'a>,
    mut next: impl FnMut() -> Option<saphyr_parser::Event<'a>>,
    depth: usize,
) -> Option<Value> {
    use saphyr_parser::Event;
    enum Frame {
        Seq(Vec<Value>),
        Map(Map<String, Value>, Option<String>),
    }
    let mut stack: Vec<Frame> = Vec::new();
    let mut event = first;
    loop {
        let done = match event {
            Event::Scalar(raw, style, 0, None) => {
                if let Some(Frame::Map(_, key @ None)) = stack.last_mut() {
                    *key = Some(key_text(&raw, style)?.into_owned());
                    event = next()?;
                    continue;
                }
                if style == ScalarStyle::Plain {
                    resolve(&raw)
                } else {
                    Value::String(raw.into_owned())
                }
            }
            Event::MappingStart(0, None) | Event::SequenceStart(0, None) => {
                if depth + stack.len() >= super::limits::MAX_DEPTH
                    || matches!(stack.last(), Some(Frame::Map(_, None)))
                {
                    return None; // too deep, or a collection as a key
                }
                stack.push(if matches!(event, Event::MappingStart(..)) {
                    Frame::Map(Map::new(), None)
                } else {
                    Frame::Seq(Vec::new())
                });
                event = next()?;
                continue;
            }
            Event::SequenceEnd => match stack.pop()? {
                Frame::Seq(items) => Value::Array(items),
                Frame::Map(..) => return None,
            },
            Event::MappingEnd => match stack.pop()? {
                Frame::Map(map, None) => Value::Object(map),
                _ => return None,
            },
            // anchors, aliases, tags
            _ => return None,
        };
        match stack.last_mut() {
            None => return Some(done),
            Some(Frame::Seq(items)) => items.push(done),
            Some(Frame::Map(map, key)) => {
                let key = key.take()?;
                if map.contains_key(&key) {
                    return None; // the loader names the duplicate
                }
                map.insert(key, done);
            }
        }
        event = next()?;
    }
}

/// A mapping key as [`documents`] has it: a plain key resolved and written
/// back as text (`1`, `true`, `null`), others as they are; `None` for the
/// merge key `<<` (the loader expands it).
pub(crate) fn key_text(raw: &str, style: ScalarStyle) -> Option<std::borrow::Cow<'_, str>> {
    use std::borrow::Cow;
    if style != ScalarStyle::Plain {
        return Some(Cow::Borrowed(raw));
    }
    match scalar::kubectl(raw) {
        _ if raw == "<<" => None,
        Plain::Str | Plain::Timestamp | Plain::Merge => Some(Cow::Borrowed(raw)),
        _ => json_key(resolve(raw)).map(Cow::Owned),
    }
}

/// A hash of a mapping key's text for a [`KeySet`] (FNV-1a: keys are
/// short, and SipHash's setup cost showed in profiles). Equal keys hash
/// alike; a collision only sends the text to a slower path.
pub(crate) fn key_hash(key: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Set apart a decoded key's hash from a resolved one's in one [`KeySet`].
const DECODED: u64 = 0x9e37_79b9_7f4a_7c15;

/// What [`quick_check`] learns of a valid text: the first document's
/// object label, as the planner names objects (`Kind/name` when the top
/// mapping has a scalar `kind` and `apiVersion`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    pub label: Option<String>,
}

/// A check-only pass over the events of `text` (the subset reader's where
/// it reads the text, else saphyr's) that builds no values: fast and in
/// little memory. `Some` only when [`documents`] would accept `text`
/// (the same events, no anchors, aliases, tags or merge keys, no two keys of a
/// mapping alike once resolved or decoded); `None` when it cannot tell
/// (then [`documents`] decides and names any error).
pub fn quick_check(text: &str) -> Option<Checked> {
    // the keys of each open mapping, as hashes of their resolved and their
    // decoded text (a hash collision only sends the text to the slow path)
    enum Frame {
        Seq,
        Map {
            expect_key: bool,
            keys: KeySet,
            /// Which key's value comes next (top mapping / metadata only).
            slot: Slot,
        },
    }
    #[derive(Clone, Copy, PartialEq, Eq)]
    enum Slot {
        Other,
        Kind,
        ApiVersion,
        Metadata,
        Name,
    }
    // (a text with a BOM: None)
    let mut events = super::subset::Events::of(text)?;
    let mut stack: Vec<Frame> = Vec::new();
    let mut docs = 0usize;
    let (mut kind, mut api_version, mut name) = (None, false, None);
    let mut top_is_map = false;
    // the metadata mapping of the first document is open at depth 2
    let mut in_metadata = false;
    loop {
        let event = events.next()?;
        let (is_node, collection) = match &event {
            saphyr_parser::Event::StreamEnd => break,
            saphyr_parser::Event::Alias(_) => return None,
            saphyr_parser::Event::Scalar(_, _, anchor, tag)
            | saphyr_parser::Event::MappingStart(anchor, tag)
            | saphyr_parser::Event::SequenceStart(anchor, tag) => {
                if *anchor > 0 || tag.is_some() {
                    return None;
                }
                (true, !matches!(event, saphyr_parser::Event::Scalar(..)))
            }
            saphyr_parser::Event::DocumentEnd => {
                docs += 1;
                (false, false)
            }
            saphyr_parser::Event::MappingEnd | saphyr_parser::Event::SequenceEnd => {
                stack.pop();
                if stack.len() == 1 {
                    in_metadata = false;
                }
                (false, false)
            }
            _ => (false, false),
        };
        if !is_node {
            continue;
        }
        let first_doc = docs == 0;
        let depth = stack.len();
        // the node's place in its parent
        let mut slot = Slot::Other;
        if let Some(Frame::Map {
            expect_key,
            keys,
            slot: next,
        }) = stack.last_mut()
        {
            if *expect_key {
                let saphyr_parser::Event::Scalar(raw, style, ..) = &event else {
                    return None; // a collection as a key
                };
                let plain = *style == ScalarStyle::Plain;
                let resolved = key_text(raw, *style)?;
                // the span parser's duplicate check reads `~`/`null` keys as ""
                let decoded: &str = if plain && matches!(scalar::kubectl(raw), Plain::Null) {
                    ""
                } else {
                    raw
                };
                if !keys.insert(key_hash(&resolved)) || !keys.insert(key_hash(decoded) ^ DECODED) {
                    return None;
                }
                *next = match (first_doc, depth, in_metadata, raw.as_ref()) {
                    (true, 1, _, "kind") if top_is_map => Slot::Kind,
                    (true, 1, _, "apiVersion") if top_is_map => Slot::ApiVersion,
                    (true, 1, _, "metadata") if top_is_map => Slot::Metadata,
                    (true, 2, true, "name") => Slot::Name,
                    _ => Slot::Other,
                };
                *expect_key = false;
                continue;
            }
            *expect_key = true;
            slot = std::mem::replace(next, Slot::Other);
        }
        match event {
            saphyr_parser::Event::Scalar(raw, style, ..) => {
                let null =
                    style == ScalarStyle::Plain && matches!(scalar::kubectl(&raw), Plain::Null);
                let block = matches!(style, ScalarStyle::Literal | ScalarStyle::Folded);
                if !null && !block {
                    match slot {
                        Slot::Kind => kind = Some(raw.into_owned()),
                        Slot::ApiVersion => api_version = true,
                        Slot::Name => name = Some(raw.into_owned()),
                        _ => {}
                    }
                }
            }
            _ => {
                let is_map = matches!(event, saphyr_parser::Event::MappingStart(..));
                if first_doc && depth == 0 {
                    top_is_map = is_map;
                }
                if is_map && slot == Slot::Metadata && depth == 1 {
                    in_metadata = true;
                }
                if depth >= super::limits::MAX_DEPTH {
                    return None; // deeper than the value builder goes
                }
                stack.push(if collection && is_map {
                    Frame::Map {
                        expect_key: true,
                        keys: KeySet::default(),
                        slot: Slot::Other,
                    }
                } else {
                    Frame::Seq
                });
            }
        }
    }
    let label = match (kind, api_version) {
        (Some(kind), true) => Some(format!("{kind}/{}", name.unwrap_or_default())),
        _ => None,
    };
    Some(Checked { label })
}

/// The key hashes of one mapping in [`quick_check`]: a short list searched
/// in order, held in place (most mappings have a few keys: no allocation
/// per mapping), a hash set once it grows.
#[derive(Default)]
pub(crate) struct KeySet {
    few: [u64; FEW_KEYS],
    len: usize,
    many: Option<std::collections::HashSet<u64, Mix>>,
}

/// Keys a [`KeySet`] holds in place.
const FEW_KEYS: usize = 8;

/// The hash-set hasher of a [`KeySet`]: its keys are hashes already, so a
/// finalizer over the key xor a secret drawn per set is enough (keys that
/// differ only in some bits still spread over the table, and a text
/// cannot aim at one bucket without the secret).
#[derive(Clone)]
struct Mix(u64);

impl Mix {
    fn new() -> Self {
        use std::hash::BuildHasher;
        Mix(std::collections::hash_map::RandomState::new().hash_one(0u64))
    }
}

impl std::hash::BuildHasher for Mix {
    type Hasher = Mixer;
    fn build_hasher(&self) -> Mixer {
        Mixer(self.0)
    }
}

struct Mixer(u64);

impl std::hash::Hasher for Mixer {
    fn write(&mut self, bytes: &[u8]) {
        // only u64s are hashed; anything else is folded in
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    fn write_u64(&mut self, h: u64) {
        self.0 ^= h;
    }
    fn finish(&self) -> u64 {
        // the splitmix64 finalizer
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

impl KeySet {
    /// Add a hash; false when it was there already.
    pub(crate) fn insert(&mut self, h: u64) -> bool {
        if let Some(many) = &mut self.many {
            return many.insert(h);
        }
        if self.few[..self.len].contains(&h) {
            return false;
        }
        if self.len < FEW_KEYS {
            self.few[self.len] = h;
            self.len += 1;
        } else {
            let mut many = std::collections::HashSet::with_capacity_and_hasher(64, Mix::new());
            many.extend(self.few);
            many.insert(h);
            self.many = Some(many);
        }
        true
    }
}

/// YAML 1.2 allows a byte order mark at the start of every document (a
/// concatenation of files that each had one): drop those, keep any other.
fn without_document_boms(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut after_marker = true;
    for line in text.split_inclusive('\n') {
        let line = match line.strip_prefix('\u{feff}') {
            Some(rest) if after_marker || rest.starts_with("---") || rest.starts_with('%') => rest,
            _ => line,
        };
        after_marker = line.starts_with("---") || line.starts_with("...");
        out.push_str(line);
    }
    out
}

/// A flow collection or quoted scalar left open: where it was opened and
/// where the parser gave up (PyYAML reports both: "while parsing a flow
/// sequence in line 9, column 14 ... but found end of stream in line 10").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unclosed {
    /// `flow sequence`, `flow mapping` or `quoted scalar`.
    pub what: &'static str,
    /// Byte offset of its `[`, `{` or quote.
    pub opened: usize,
    /// Byte offset where the parser gave up.
    pub gave_up: usize,
    /// What the parser expected there (`expected ',' or ']'`).
    pub expected: String,
    /// What it found there instead.
    pub found: Found,
}

/// What stood where the parser gave up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// Nothing but blank lines and comments up to the end of the text.
    End,
    /// A line indented less than the quoted scalar's key.
    LessIndented,
    /// This character.
    Char(char),
}

/// If `text` fails to parse because a flow collection or a quoted scalar
/// is not closed, where it was opened and where the parser gave up.
pub fn unclosed(text: &str) -> Option<Unclosed> {
    let body = text.strip_prefix('\u{feff}').unwrap_or(text);
    let skip = text.len() - body.len();
    let mut starts = vec![0];
    starts.extend(body.match_indices('\n').map(|(i, _)| i + 1));
    // saphyr's markers: 1-based line, 0-based character column
    let offset = |line: usize, col: usize| -> usize {
        let Some(&start) = starts.get(line.saturating_sub(1)) else {
            return body.len();
        };
        let rest = &body[start..];
        start + rest.char_indices().nth(col).map_or(rest.len(), |(i, _)| i)
    };
    // the flow collections open at each point: (is a mapping, offset)
    let mut open: Vec<(bool, usize)> = Vec::new();
    let mut parser = saphyr_parser::Parser::new_from_str(body);
    let err = loop {
        match parser.next_event()? {
            Ok((saphyr_parser::Event::MappingStart(..), span))
            | Ok((saphyr_parser::Event::SequenceStart(..), span))
                if matches!(
                    body.as_bytes()
                        .get(offset(span.start.line(), span.start.col())),
                    Some(b'[' | b'{')
                ) =>
            {
                let at = offset(span.start.line(), span.start.col());
                open.push((body.as_bytes()[at] == b'{', at));
            }
            Ok((saphyr_parser::Event::MappingStart(..), _))
            | Ok((saphyr_parser::Event::SequenceStart(..), _)) => open.push((false, usize::MAX)),
            Ok((saphyr_parser::Event::MappingEnd | saphyr_parser::Event::SequenceEnd, _)) => {
                open.pop();
            }
            Ok(_) => {}
            Err(e) => break e,
        }
    };
    let at = offset(err.marker().line(), err.marker().col());
    let info = err.info();
    let found_at = |pos: usize| -> Found {
        let rest = &body[pos.min(body.len())..];
        let blank = rest.lines().all(|l| {
            let t = l.trim();
            t.is_empty() || t.starts_with('#')
        });
        match rest.chars().next() {
            _ if blank => Found::End,
            Some(c) => Found::Char(c),
            None => Found::End,
        }
    };
    let flow = |mapping: bool, what: &'static str, expected: &str| -> Option<Unclosed> {
        let &(_, opened) = open
            .iter()
            .rev()
            .find(|(m, at)| *m == mapping && *at != usize::MAX)?;
        Some(Unclosed {
            what,
            opened: skip + opened,
            gave_up: skip + at,
            expected: expected.to_string(),
            found: found_at(at),
        })
    };
    if info.starts_with("while parsing a flow sequence") {
        return flow(false, "flow sequence", "expected ',' or ']'");
    }
    if info.starts_with("while parsing a flow mapping") {
        return flow(true, "flow mapping", "expected ',' or '}'");
    }
    // e.g. "invalid indentation in flow construct": the innermost open one
    if info.contains("flow") {
        return match open.iter().rev().find(|(_, at)| *at != usize::MAX)? {
            (true, _) => flow(true, "flow mapping", "expected ',' or '}'"),
            (false, _) => flow(false, "flow sequence", "expected ',' or ']'"),
        };
    }
    let quote = body.as_bytes().get(at).copied();
    if !(info.contains("quoted scalar") && matches!(quote, Some(b'"' | b'\''))) {
        return None;
    }
    let q = char::from(quote.unwrap_or(b'"'));
    let (gave_up, found) = if info.contains("end of stream") {
        (body.len(), Found::End)
    } else if info.contains("document indicator") {
        let line = starts
            .iter()
            .copied()
            .find(|&s| s > at && (body[s..].starts_with("---") || body[s..].starts_with("...")))
            .unwrap_or(body.len());
        let marker = body[line..].chars().next().map_or(Found::End, Found::Char);
        (line, marker)
    } else {
        // a continuation line indented less than the key the value belongs to
        let line_start = body[..at].rfind('\n').map_or(0, |i| i + 1);
        let lead = &body[line_start..at];
        let key_col = lead.len() - lead.trim_start_matches([' ', '-']).len();
        let less = starts.iter().copied().filter(|&s| s > at).find(|&s| {
            let line = body[s..].split('\n').next().unwrap_or_default();
            let t = line.trim_start_matches(' ');
            !t.trim().is_empty() && line.len() - t.len() < key_col
        });
        match less {
            Some(s) => (s, Found::LessIndented),
            None => (body.len(), Found::End),
        }
    };
    // closed on the line where the parser gave up: the indentation is wrong
    let line_end = body[gave_up..]
        .find('\n')
        .map_or(body.len(), |i| gave_up + i);
    let expected = if closing_quote(&body[at..line_end], q) {
        "the lines of a quoted value that goes on over several lines must be indented \
         more than its key"
            .to_string()
    } else {
        format!("the closing {q} is missing")
    };
    Some(Unclosed {
        what: "quoted scalar",
        opened: skip + at,
        gave_up: skip + gave_up,
        expected,
        found,
    })
}

/// Does the quoted scalar at the start of `text` (its opening `q`) end?
fn closing_quote(text: &str, q: char) -> bool {
    let mut chars = text.chars().skip(1).peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if q == '"' => {
                chars.next();
            }
            '\'' if q == '\'' && chars.peek() == Some(&'\'') => {
                chars.next();
            }
            c if c == q => return true,
            _ => {}
        }
    }
    false
}

fn at(node: &MarkedYaml, msg: String) -> ParseError {
    ParseError {
        line: node.span.start.line(),
        col: node.span.start.col() + 1,
        msg,
        first: None,
    }
}

fn to_json(y: &MarkedYaml) -> Result<Value, ParseError> {
    Ok(match &y.data {
        YamlData::Representation(raw, style, tag) => {
            let tag = tag.as_ref().filter(|t| t.is_yaml_core_schema());
            match (style, tag.map(|t| t.suffix.as_str())) {
                (_, Some("str")) => Value::String(raw.to_string()),
                (ScalarStyle::Plain, _) => resolve(raw),
                (_, Some("int" | "float" | "bool" | "null")) => resolve(raw),
                _ => Value::String(raw.to_string()),
            }
        }
        YamlData::Value(_) => Value::Null,
        YamlData::Sequence(items) => {
            Value::Array(items.iter().map(to_json).collect::<Result<_, _>>()?)
        }
        YamlData::Mapping(map) => mapping(map)?,
        YamlData::Tagged(_, inner) => to_json(inner)?,
        YamlData::Alias(_) => {
            return Err(at(y, "an alias (*name) without its anchor".into()));
        }
        YamlData::BadValue => Value::Null,
    })
}

/// A plain scalar as kubectl reads it.
pub(crate) fn resolve(raw: &str) -> Value {
    match scalar::kubectl(raw) {
        Plain::Str | Plain::Timestamp | Plain::Merge => Value::String(raw.to_string()),
        Plain::Null => Value::Null,
        Plain::Bool(b) => Value::Bool(b),
        Plain::Int(i) => i64::try_from(i)
            .map(Number::from)
            .or_else(|_| u64::try_from(i).map(Number::from))
            .map(Value::Number)
            .unwrap_or_else(|_| Value::String(raw.to_string())),
        // JSON has no infinities or NaN: a marker that equals nothing a
        // string could be written as by us
        Plain::Float(f) => Number::from_f64(f)
            .map(Value::Number)
            .unwrap_or_else(|| Value::String(format!("!!float {raw}"))),
    }
}

/// A mapping key as the JSON object key kubectl makes of it.
fn key_string(k: &MarkedYaml) -> Result<String, ParseError> {
    json_key(to_json(k)?).ok_or_else(|| at(k, "a mapping or sequence used as a key".into()))
}

/// The JSON object key kubectl makes of a scalar key's value (`null`,
/// `true`, `1`); `None` for a collection.
pub(crate) fn json_key(v: Value) -> Option<String> {
    Some(match v {
        Value::String(s) => s,
        Value::Null => "null".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    })
}

fn is_merge_key(k: &MarkedYaml) -> bool {
    matches!(&k.data, YamlData::Representation(raw, ScalarStyle::Plain, None) if raw == "<<")
}

fn mapping(map: &AnnotatedMapping<MarkedYaml>) -> Result<Value, ParseError> {
    let mut out = Map::new();
    let mut merged: Vec<&MarkedYaml> = Vec::new();
    for (k, v) in map.iter() {
        if is_merge_key(k) {
            merged.push(v);
            continue;
        }
        let key = key_string(k)?;
        if out.contains_key(&key) {
            // the first key that reads the same (only on this error path)
            let first = map
                .keys()
                .find(|f| !is_merge_key(f) && key_string(f).is_ok_and(|f| f == key))
                .unwrap_or(k);
            let line = first.span.start.line();
            let mut err = at(
                k,
                format!(
                    "duplicate key {key:?} {}: kubectl reads both keys as {key:?}; quote or \
                     rename one of them",
                    first_defined(line)
                ),
            );
            err.first = Some((line, first.span.start.col() + 1));
            return Err(err);
        }
        out.insert(key, to_json(v)?);
    }
    // `<<: *a` / `<<: [*a, *b]`: keys not written explicitly, earlier sources first
    for source in merged {
        let sources: Vec<Value> = match to_json(source)? {
            Value::Array(list) => list,
            other => vec![other],
        };
        for s in sources {
            let Value::Object(m) = s else {
                return Err(at(
                    source,
                    "a merge key (<<) needs a mapping or a list of mappings".into(),
                ));
            };
            for (k, v) in m {
                out.entry(k).or_insert(v);
            }
        }
    }
    Ok(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Distinct keys go in, a repeated one is refused: below, at and past
    /// the number held in place, found again after the set spilled.
    #[test]
    fn key_sets_refuse_repeats_at_every_size() {
        for n in [1, FEW_KEYS - 1, FEW_KEYS, FEW_KEYS + 1, 100] {
            let mut set = KeySet::default();
            let hashes: Vec<u64> = (0..n as u64)
                .map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15))
                .collect();
            for h in &hashes {
                assert!(set.insert(*h), "{n} keys: {h} refused");
            }
            for h in &hashes {
                assert!(!set.insert(*h), "{n} keys: repeated {h} accepted");
            }
            assert!(set.insert(1), "{n} keys: a new one refused");
        }
    }
    use serde_json::json;

    #[test]
    fn duplicates_the_loader_finds_name_the_first_definition() {
        let text = "a: 1\nm:\n  k: [x, {k: 1}]\n  j: 2\n  k: 3\n";
        let err = documents(text).unwrap_err();
        assert_eq!(
            (err.line, err.col, err.first),
            (5, 3, Some((3, 3))),
            "{err:?}"
        );
        assert_eq!(
            err.msg,
            "duplicate key \"k\" (first defined on line 3): remove one of them"
        );
    }

    #[test]
    fn a_tab_after_a_colon_separates_like_a_space() {
        // a later error is reported where it would be with spaces
        assert_eq!(
            documents("a:\tb\n- x\n").unwrap_err(),
            documents("a: b\n- x\n").unwrap_err()
        );
        assert_eq!(
            documents("a:\tb\nc: {d:\t\te}\n").unwrap(),
            vec![json!({"a": "b", "c": {"d": "e"}})]
        );
        // inside quotes and block scalars a tab is content
        assert_eq!(
            documents("a:\t\"x:\ty\"\n").unwrap(),
            vec![json!({"a": "x:\ty"})]
        );
        assert_eq!(
            documents("é:\t'x:\ty'\n\"k:\tq\":\tb\nc: |\n  z:\tw\nd:\tplain\n").unwrap(),
            vec![json!({"é": "x:\ty", "k:\tq": "b", "c": "z:\tw\n", "d": "plain"})]
        );
        assert_eq!(
            documents("a: \"multi\n  line:\tx\"\nb:\tyz\n").unwrap(),
            vec![json!({"a": "multi line:\tx", "b": "yz"})]
        );
    }

    #[test]
    fn multi_document_streams_become_json() {
        let docs = documents("a: 1\nb: [x, 'y']\n---\n- true\n- ~\n").unwrap();
        assert_eq!(
            docs,
            vec![json!({"a": 1, "b": ["x", "y"]}), json!([true, null])]
        );
    }

    #[test]
    fn block_scalars_keep_their_text() {
        let docs = documents("k: |\n  line1\n  line2\n").unwrap();
        assert_eq!(docs[0]["k"], json!("line1\nline2\n"));
    }

    #[test]
    fn scalars_resolve_as_kubectl_reads_them() {
        let docs =
            documents("a: on\nb: '012'\nc: 012\nd: 2001-12-14\ne: !!str 1\nf: .inf\n").unwrap();
        assert_eq!(
            docs[0],
            json!({"a": true, "b": "012", "c": 10, "d": "2001-12-14", "e": "1", "f": "!!float .inf"})
        );
        let err = documents("m:\n  on: 1\n  'true': 2\n").unwrap_err();
        assert_eq!((err.line, err.col), (3, 3), "{err:?}");
        let docs = documents("a: &a {x: 1, z: 2}\nb:\n  <<: *a\n  z: 3\n").unwrap();
        assert_eq!(docs[0]["b"], json!({"x": 1, "z": 3}));
    }

    #[test]
    fn a_bom_may_start_any_document() {
        let docs = documents("a: 1\n---\n\u{feff}b: 2\n\u{feff}---\nc: 3\n").unwrap();
        assert_eq!(
            docs,
            vec![json!({"a": 1}), json!({"b": 2}), json!({"c": 3})]
        );
    }

    #[test]
    fn unclosed_collections_and_quotes_name_where_they_opened() {
        let u = unclosed("a: 1\nb: [x, {c: 2}\n").unwrap();
        assert_eq!((u.what, u.opened, u.gave_up), ("flow sequence", 8, 19));
        assert_eq!(u.found, Found::End);
        let u = unclosed("a:\n  b: \"x\n  c: 1\n").unwrap();
        assert_eq!(
            (u.what, u.opened, u.found),
            ("quoted scalar", 8, Found::End)
        );
        assert!(u.expected.contains("closing \""), "{u:?}");
        assert_eq!(unclosed("a: [1]\n"), None);
        assert_eq!(unclosed("a: b: c\n"), None);
    }

    #[test]
    fn quick_check_vouches_only_for_what_documents_accepts() {
        let label = |t: &str| quick_check(t).map(|c| c.label);
        assert_eq!(
            label(
                "apiVersion: v1\nkind: Service\nmetadata:\n  labels: {name: x}\n  name: web\nspec: {ports: [{port: 80}]}\n"
            ),
            Some(Some("Service/web".into()))
        );
        assert_eq!(
            label("{\"kind\": \"List\", \"apiVersion\": \"v1\", \"items\": []}"),
            Some(Some("List/".into()))
        );
        // not an object: no apiVersion, a null or block kind, not a mapping
        assert_eq!(label("kind: Service\n"), Some(None));
        assert_eq!(label("apiVersion: v1\nkind: ~\n"), Some(None));
        assert_eq!(label("apiVersion: v1\nkind: |\n  X\n"), Some(None));
        assert_eq!(label("- apiVersion: v1\n  kind: X\n"), Some(None));
        assert_eq!(label("# only a comment\n"), Some(None));
        // what only the full path decides
        for text in [
            "a: &x 1\nb: *x\n",
            "a: !!str 1\n",
            "a: {x: 1}\nb:\n  <<: {y: 2}\n",
            "a: 1\n'a': 2\n",
            "on: 1\n'true': 2\n",
            "~: 1\n'': 2\n",
            "? [a]\n: 1\n",
            "a: [1, 2\nb: 3\n",
            "\u{feff}a: 1\n",
            &format!("a: {}{}\n", "[".repeat(300), "]".repeat(300)),
        ] {
            assert_eq!(quick_check(text), None, "{text:?}");
        }
        for text in [
            "a: 1\nb: [x, 'y']\n---\n- true\n- ~\n",
            "k: |\n  line1\n",
            "m:\n  on: 1\n  'off': 2\n",
            "a: 1\nb:\n  a: 2\n",
        ] {
            assert!(quick_check(text).is_some(), "{text:?}");
            assert!(documents(text).is_ok(), "{text:?}");
        }
    }

    #[test]
    fn values_from_events_equal_the_loaders() {
        for text in [
            "a: 1\nb: [x, 'y', \"z\"]\n---\n- true\n- ~\n",
            "k: |\n  line1\n  line2\nf: >-\n  a\n  b\n",
            "m:\n  on: 1\n  'off': 2\n  012: 3\n  1e3: x\n  .inf: y\n",
            "{\"kind\": \"List\", \"items\": [{\"a\": null}, [], {}]}",
            "",
            "# only a comment\n",
            "---\n---\na: 1\n...\n",
            "- [a: 1, b]\n- ? x\n  : y\n",
            "a:\nb: ''\n",
        ] {
            let quick = quick_values(text).unwrap_or_else(|| panic!("{text:?}"));
            assert_eq!(Ok(quick), load(text, false).map(|(v, _)| v), "{text:?}");
        }
        for text in [
            "a: &x 1\nb: *x\n",
            "a: !!str 1\n",
            "b:\n  <<: {y: 2}\n",
            "on: 1\n'true': 2\n",
            "? [a]\n: 1\n",
            "a: [1, 2\nb: 3\n",
            "a:\tb\n",
        ] {
            assert_eq!(quick_values(text), None, "{text:?}");
        }
    }

    #[test]
    fn errors_have_positions() {
        let err = documents("a: [1,\nb: 2\n").unwrap_err();
        assert!(err.line >= 1, "{err:?}");
    }
}
