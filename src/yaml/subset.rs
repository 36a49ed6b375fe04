//! A second reader of YAML for the self-check's speed: the block style
//! manifests are written in, read line by line into saphyr's events.
//!
//! It reads block mappings and sequences (indentless ones too), plain and
//! quoted scalars on one line, literal blocks (`|`, `|-`), `{}` and `[]`,
//! comments and one `---`. Anything else gives up (`None`) and saphyr reads
//! the text: flow collections with content, plain or quoted scalars over
//! several lines, folded or kept blocks, explicit indentation, anchors,
//! aliases, tags, directives, `...`, tabs, CRs, line breaks other than LF,
//! escapes other than the common ones, nesting past [`MAX_DEPTH`].
//!
//! It shares no code with the span scanner (`scan.rs`) whose edits the
//! self-check checks. Where it accepts a text, its events are saphyr's:
//! tests hold it to that on every document under `testdata/` and on
//! generated variations, and the fuzz target on arbitrary bytes.
use std::borrow::Cow;

use saphyr_parser::{Event, Parser, ScalarStyle, StrInput};

use super::limits::MAX_DEPTH;
use crate::source::newline_from;

/// The longest implicit key YAML allows.
const MAX_KEY: usize = 1024;
/// A text this long streams through saphyr instead of having all its
/// events held at once.
const MAX_HELD: usize = 1 << 18;

/// The events of a text: this reader's where it reads the text, else
/// saphyr's as it parses.
pub enum Events<'t> {
    Read(std::vec::IntoIter<Event<'t>>),
    Parsed(Box<Parser<'t, StrInput<'t>>>),
}

impl<'t> Events<'t> {
    /// `None` for a text holding a byte order mark, which the callers
    /// leave to the exact path (the reader gives up on one, so only a text
    /// it does not read is searched).
    pub fn of(text: &'t str) -> Option<Self> {
        match Some(text).filter(|t| t.len() < MAX_HELD).and_then(events) {
            Some(events) => Some(Events::Read(events.into_iter())),
            None if text.contains('\u{feff}') => None,
            None => Some(Events::saphyr(text)),
        }
    }

    /// saphyr's events of `text`, whatever it holds.
    pub fn saphyr(text: &'t str) -> Self {
        Events::Parsed(Box::new(Parser::new_from_str(text)))
    }
}

impl<'t> Iterator for Events<'t> {
    type Item = Event<'t>;

    /// The next event; `None` after the end, and at a syntax error.
    fn next(&mut self) -> Option<Event<'t>> {
        match self {
            Events::Read(events) => events.next(),
            Events::Parsed(parser) => parser.next_event()?.ok().map(|(event, _)| event),
        }
    }
}

/// The events saphyr gives for the one document in `text`, or `None` where
/// this reader gives up (saphyr then decides, errors included).
pub fn events(text: &str) -> Option<Vec<Event<'_>>> {
    if !simple_characters(text) {
        return None;
    }
    let mut reader = Reader {
        text,
        b: text.as_bytes(),
        pos: 0,
        // (manifests give about one event per 10 bytes, some documents
        // more: from a twelfth the vector grew, 13,000 reallocations and
        // copies on 1,000 documents; the events are freed after each one)
        out: Vec::with_capacity(text.len() / 6),
        depth: 0,
    };
    reader.document()?;
    Some(reader.out)
}

/// No tab, CR or other control character, no line break but LF, no BOM
/// and no non-character.
fn simple_characters(text: &str) -> bool {
    let b = text.as_bytes();
    // (a fold without an early exit per byte: the compiler vectorises it)
    let odd = |block: &[u8]| {
        block.iter().fold(false, |odd, &c| {
            odd | ((c < b' ') & (c != b'\n')) | (c == 0x7f)
        })
    };
    if b.chunks(256).any(odd) {
        return false;
    }
    b.is_ascii() || !text.chars().any(crate::source::unusual_char)
}

/// A content line (neither blank nor only a comment): where it starts and
/// how many spaces indent it.
#[derive(Clone, Copy)]
struct Line {
    start: usize,
    indent: usize,
}

struct Reader<'t> {
    text: &'t str,
    b: &'t [u8],
    /// The start of the line to read next.
    pos: usize,
    out: Vec<Event<'t>>,
    depth: usize,
}

impl<'t> Reader<'t> {
    /// The end (the `\n` or the end of the text) of the line holding `at`.
    fn line_end(&self, at: usize) -> usize {
        newline_from(self.text, at).unwrap_or(self.b.len())
    }

    /// The start of the line after the one ending at `end`.
    fn after_line(&self, end: usize) -> usize {
        (end + 1).min(self.b.len())
    }

    fn skip_spaces(&self, mut at: usize, end: usize) -> usize {
        while at < end && self.b[at] == b' ' {
            at += 1;
        }
        at
    }

    /// Only spaces from `at` to `end`, then perhaps a comment.
    fn rest_blank(&self, at: usize, end: usize) -> bool {
        let i = self.skip_spaces(at, end);
        i == end || (self.b[i] == b'#' && i > at)
    }

    /// A block sequence's `-` at `at`.
    fn dash(&self, at: usize) -> bool {
        self.b.get(at) == Some(&b'-') && matches!(self.b.get(at + 1), None | Some(b' ' | b'\n'))
    }

    /// Skip blank and comment lines; the next line with content.
    fn skip_blank(&mut self) -> Option<Line> {
        while self.pos < self.b.len() {
            let end = self.line_end(self.pos);
            let first = self.skip_spaces(self.pos, end);
            if first == end || self.b[first] == b'#' {
                self.pos = self.after_line(end);
                continue;
            }
            return Some(Line {
                start: self.pos,
                indent: first - self.pos,
            });
        }
        None
    }

    /// The next line with content; `None` at the end of the text or at a
    /// `---` / `...` marker (which [`Reader::document`] then refuses).
    fn next_line(&mut self) -> Option<Line> {
        let line = self.skip_blank()?;
        self.marker(line).is_none().then_some(line)
    }

    /// The `---` or `...` marker that `line` is, if it is one.
    fn marker(&self, line: Line) -> Option<&'static str> {
        let rest = &self.text[line.start..];
        let marker = ["---", "..."].into_iter().find(|m| rest.starts_with(m))?;
        let ends = matches!(self.b.get(line.start + 3), None | Some(b' ' | b'\n'));
        (line.indent == 0 && ends).then_some(marker)
    }

    fn document(&mut self) -> Option<()> {
        self.out.push(Event::StreamStart);
        let mut line = self.skip_blank()?;
        let first = self.b[line.start];
        if line.indent == 0 && first == b'%' {
            return None; // a directive
        }
        let explicit = match self.marker(line) {
            Some("---") => true,
            Some(_) => return None, // `...` before any content
            // (`---x` is no marker, but not read here either)
            None if line.indent == 0 && self.text[line.start..].starts_with("---") => return None,
            None => false,
        };
        if explicit {
            let end = self.line_end(line.start);
            if !self.rest_blank(line.start + 3, end) {
                return None; // content on the marker's line
            }
            self.pos = self.after_line(end);
            line = self.next_line()?;
        }
        self.out.push(Event::DocumentStart(explicit));
        self.block(line)?;
        // nothing but blank and comment lines after the root
        if self.skip_blank().is_some() {
            return None;
        }
        self.out.push(Event::DocumentEnd);
        self.out.push(Event::StreamEnd);
        Some(())
    }

    /// The collection starting on `line` (a scalar alone on its line gives up).
    fn block(&mut self, line: Line) -> Option<()> {
        let at = line.start + line.indent;
        self.pos = line.start;
        if self.dash(at) {
            self.sequence(line.indent, false)
        } else {
            self.mapping(line.indent, at)
        }
    }

    fn deeper(&mut self) -> Option<()> {
        self.depth += 1;
        (self.depth <= MAX_DEPTH).then_some(())
    }

    /// A block mapping whose keys are at column `n`, the first at `at`.
    fn mapping(&mut self, n: usize, mut at: usize) -> Option<()> {
        self.deeper()?;
        self.out.push(Event::MappingStart(0, None));
        loop {
            let end = self.line_end(at);
            let (key, style, after) = self.key(at, end)?;
            self.out.push(Event::Scalar(key, style, 0, None));
            self.value(n, after, end, true)?;
            match self.next_line() {
                Some(l) if l.indent == n && !self.dash(l.start + n) => at = l.start + n,
                Some(l) if l.indent >= n => return None,
                _ => break,
            }
        }
        self.out.push(Event::MappingEnd);
        self.depth -= 1;
        Some(())
    }

    /// A block sequence whose dashes are at column `n`; `self.pos` is at the
    /// start of the first item's line. `indentless`: the value of a mapping
    /// key at the same column (a line of that mapping ends it).
    fn sequence(&mut self, n: usize, indentless: bool) -> Option<()> {
        self.deeper()?;
        self.out.push(Event::SequenceStart(0, None));
        loop {
            let line_start = self.pos;
            let dash = line_start + n;
            let end = self.line_end(dash);
            let item = self.skip_spaces(dash + 1, end);
            if item < end && self.key(item, end).is_some() {
                // `- key: value`: a mapping at the key's column
                self.mapping(item - line_start, item)?;
            } else if item < end && self.dash(item) {
                return None; // `- - x`
            } else {
                self.value(n, dash + 1, end, false)?;
            }
            match self.next_line() {
                Some(l) if l.indent == n && self.dash(l.start + n) => self.pos = l.start,
                Some(l) if l.indent > n || (l.indent == n && !indentless) => return None,
                _ => break,
            }
        }
        self.out.push(Event::SequenceEnd);
        self.depth -= 1;
        Some(())
    }

    /// A mapping key at `at` on a line ending at `end`: its value, style,
    /// and the position after its `:` (followed by a space or the end).
    fn key(&self, at: usize, end: usize) -> Option<(Cow<'t, str>, ScalarStyle, usize)> {
        let b = self.b;
        if matches!(b[at], b'"' | b'\'') {
            let (key, style, close) = self.quoted(at, end)?;
            let colon = close < end && b[close] == b':';
            let ok = colon && close - at <= MAX_KEY && (close + 1 == end || b[close + 1] == b' ');
            return ok.then_some((key, style, close + 1));
        }
        if !self.plain_start(at, end) {
            return None;
        }
        for i in at..end {
            match b[i] {
                b':' if i + 1 == end || b[i + 1] == b' ' => {
                    let key = self.text[at..i].trim_end_matches(' ');
                    return (key.len() <= MAX_KEY).then_some((
                        Cow::Borrowed(key),
                        ScalarStyle::Plain,
                        i + 1,
                    ));
                }
                // (the first byte is no `#`: `i > at`)
                b'#' if b[i - 1] == b' ' => return None,
                _ => {}
            }
        }
        None
    }

    /// A plain scalar may start at `at`: not an indicator, or one of
    /// `-?:` followed by a non-space.
    fn plain_start(&self, at: usize, end: usize) -> bool {
        match self.b[at] {
            b'-' | b'?' | b':' => at + 1 < end && self.b[at + 1] != b' ',
            b',' | b'[' | b']' | b'{' | b'}' | b'#' | b'&' | b'*' | b'!' | b'|' | b'>' | b'\''
            | b'"' | b'%' | b'@' | b'`' => false,
            _ => true,
        }
    }

    /// The value after a key's `:` or a sequence's `-` (from `from`, on a
    /// line ending at `end`) of a node at column `n`; leaves `self.pos` at
    /// the start of the line after the value.
    fn value(&mut self, n: usize, from: usize, end: usize, in_mapping: bool) -> Option<()> {
        let b = self.b;
        let at = self.skip_spaces(from, end);
        if at == end || b[at] == b'#' {
            // on the next lines, or empty (`#` here follows a space)
            self.pos = self.after_line(end);
            match self.next_line() {
                Some(l) if l.indent > n => self.block(l)?,
                Some(l) if in_mapping && l.indent == n && self.dash(l.start + n) => {
                    self.pos = l.start;
                    self.sequence(n, true)?;
                }
                _ => self.out.push(scalar(Cow::Borrowed(""), ScalarStyle::Plain)),
            }
            return Some(());
        }
        match b[at] {
            b'|' => return self.literal(n, at, end),
            b'{' | b'[' => {
                let after = self.flow(at, end)?;
                if !self.rest_blank(after, end) {
                    return None;
                }
            }
            b'"' | b'\'' => {
                let (v, style, close) = self.quoted(at, end)?;
                if !self.rest_blank(close, end) {
                    return None;
                }
                self.out.push(scalar(v, style));
            }
            _ => {
                if !self.plain_start(at, end) {
                    return None;
                }
                let mut stop = end;
                for i in at..end {
                    match b[i] {
                        // `key: a: b` is an error; `- a: b` was read as a mapping
                        b':' if i + 1 == end || b[i + 1] == b' ' => return None,
                        b'#' if b[i - 1] == b' ' => {
                            stop = i;
                            break;
                        }
                        _ => {}
                    }
                }
                let v = self.text[at..stop].trim_end_matches(' ');
                self.out.push(scalar(Cow::Borrowed(v), ScalarStyle::Plain));
            }
        }
        self.pos = self.after_line(end);
        Some(())
    }

    /// A flow collection opening at `at` and closed on the same line (before
    /// `end`), of scalars and flow collections; the position after it.
    fn flow(&mut self, at: usize, end: usize) -> Option<usize> {
        self.deeper()?;
        let b = self.b;
        let map = b[at] == b'{';
        let close = if map { b'}' } else { b']' };
        self.out.push(if map {
            Event::MappingStart(0, None)
        } else {
            Event::SequenceStart(0, None)
        });
        let mut i = self.skip_spaces(at + 1, end);
        if i < end && b[i] == close {
            i += 1;
        } else {
            loop {
                if map {
                    // a scalar key, `:` and a space
                    if i >= end || matches!(b[i], b'[' | b'{') {
                        return None;
                    }
                    i = self.flow_node(i, end)?;
                    if !(i + 1 < end && b[i] == b':' && b[i + 1] == b' ') {
                        return None;
                    }
                    i = self.skip_spaces(i + 1, end);
                }
                i = self.flow_node(i, end)?;
                i = self.skip_spaces(i, end);
                match b.get(i).filter(|_| i < end) {
                    Some(b',') => {
                        i = self.skip_spaces(i + 1, end);
                        if i < end && b[i] == close {
                            return None; // a trailing comma
                        }
                    }
                    Some(&c) if c == close => {
                        i += 1;
                        break;
                    }
                    _ => return None,
                }
            }
        }
        self.out.push(if map {
            Event::MappingEnd
        } else {
            Event::SequenceEnd
        });
        self.depth -= 1;
        Some(i)
    }

    /// A node inside a flow collection at `at`: its events; the position
    /// after it.
    fn flow_node(&mut self, at: usize, end: usize) -> Option<usize> {
        let b = self.b;
        if at >= end {
            return None;
        }
        match b[at] {
            b'[' | b'{' => return self.flow(at, end),
            b'"' | b'\'' => {
                let (v, style, close) = self.quoted(at, end)?;
                self.out.push(scalar(v, style));
                return Some(close);
            }
            _ => {}
        }
        let flow_indicator = |c: u8| matches!(c, b',' | b'[' | b']' | b'{' | b'}');
        let next_safe = at + 1 < end && b[at + 1] != b' ' && !flow_indicator(b[at + 1]);
        match b[at] {
            b'-' | b'?' | b':' if next_safe => {}
            b'-' | b'?' | b':' | b',' | b']' | b'}' | b'#' | b'&' | b'*' | b'!' | b'|' | b'>'
            | b'%' | b'@' | b'`' => return None,
            _ => {}
        }
        let mut j = at;
        while j < end {
            match b[j] {
                c if flow_indicator(c) => break,
                b':' if j + 1 == end || b[j + 1] == b' ' || flow_indicator(b[j + 1]) => break,
                b'#' if b[j - 1] == b' ' => return None, // a comment: the flow goes on below
                _ => j += 1,
            }
        }
        if j == end {
            return None; // not closed on this line
        }
        let v = self.text[at..j].trim_end_matches(' ');
        self.out.push(scalar(Cow::Borrowed(v), ScalarStyle::Plain));
        Some(j)
    }

    /// A quoted scalar opening at `at`, closed on the same line (before
    /// `end`): its value, style and the position after the closing quote.
    fn quoted(&self, at: usize, end: usize) -> Option<(Cow<'t, str>, ScalarStyle, usize)> {
        let b = self.b;
        let body = at + 1;
        if b[at] == b'\'' {
            let mut owned: Option<String> = None;
            let mut i = body;
            let mut run = body;
            loop {
                let q = i + self.text[i..end].find('\'')?;
                if b.get(q + 1) == Some(&b'\'') && q + 1 < end {
                    let s = owned.get_or_insert_with(String::new);
                    s.push_str(&self.text[run..=q]);
                    i = q + 2;
                    run = i;
                    continue;
                }
                let v = self.unquoted(owned, body, run, q);
                return Some((v, ScalarStyle::SingleQuoted, q + 1));
            }
        }
        let mut owned: Option<String> = None;
        let mut run = body;
        let mut i = body;
        while i < end {
            match b[i] {
                b'"' => {
                    let v = self.unquoted(owned, body, run, i);
                    return Some((v, ScalarStyle::DoubleQuoted, i + 1));
                }
                b'\\' => {
                    let s = owned.get_or_insert_with(String::new);
                    s.push_str(&self.text[run..i]);
                    let (c, len) = self.escape(i + 1, end)?;
                    s.push(c);
                    i += 1 + len;
                    run = i;
                }
                _ => i += 1,
            }
        }
        None
    }

    /// A quoted scalar's value closing at `close`: what escapes decoded so
    /// far (`owned`, up to `run`) and the rest, or the text from `body` when
    /// nothing was decoded.
    fn unquoted(
        &self,
        owned: Option<String>,
        body: usize,
        run: usize,
        close: usize,
    ) -> Cow<'t, str> {
        match owned {
            Some(mut s) => {
                s.push_str(&self.text[run..close]);
                Cow::Owned(s)
            }
            None => Cow::Borrowed(&self.text[body..close]),
        }
    }

    /// The escape after a `\` at `at`: the character and the bytes it took.
    fn escape(&self, at: usize, end: usize) -> Option<(char, usize)> {
        let c = match *self.b.get(at).filter(|_| at < end)? {
            b'\\' => '\\',
            b'"' => '"',
            b'/' => '/',
            b'n' => '\n',
            b't' => '\t',
            b'r' => '\r',
            b'0' => '\0',
            b'u' => {
                let hex = self.text.get(at + 1..at + 5).filter(|_| at + 5 <= end)?;
                if !hex.bytes().all(|h| h.is_ascii_hexdigit()) {
                    return None;
                }
                return Some((char::from_u32(u32::from_str_radix(hex, 16).ok()?)?, 5));
            }
            _ => return None,
        };
        Some((c, 1))
    }

    /// A literal block scalar (`|` or `|-`) whose header is at `at`, the
    /// value of a node at column `n`; leaves `self.pos` at the first line
    /// after it.
    fn literal(&mut self, n: usize, at: usize, end: usize) -> Option<()> {
        let b = self.b;
        let strip = b.get(at + 1) == Some(&b'-') && at + 1 < end;
        let after = at + 1 + usize::from(strip);
        // `+`, an indentation digit or anything else: give up
        if after < end && b[after] != b' ' || !self.rest_blank(after, end) {
            return None;
        }
        // leading empty lines, then the first line with content sets the indentation
        let mut pos = self.after_line(end);
        let mut leading = 0;
        let mut widest = 0;
        let indent = loop {
            if pos >= b.len() {
                return None; // empty at the end of the text
            }
            let e = self.line_end(pos);
            if e == b.len() {
                return None; // a last line without a line break (saphyr has its own reading)
            }
            let s = self.skip_spaces(pos, e);
            if s < e {
                break s - pos;
            }
            widest = widest.max(e - pos);
            leading += 1;
            pos = self.after_line(e);
        };
        if indent <= n || widest > indent {
            return None; // empty, or a leading line wider than the content
        }
        let mut value = "\n".repeat(leading);
        let mut breaks = 0;
        while pos < b.len() {
            let e = self.line_end(pos);
            let s = self.skip_spaces(pos, e);
            if s < e && s - pos < indent {
                break; // the parent's next line
            }
            if e == b.len() {
                return None; // as above: even a line of spaces
            }
            if s == e {
                if e - pos > indent {
                    return None; // a line of only spaces inside the content
                }
                breaks += 1;
                pos = self.after_line(e);
                continue;
            }
            value.extend(std::iter::repeat_n('\n', breaks));
            breaks = 0;
            value.push_str(&self.text[pos + indent..e]);
            value.push('\n');
            pos = e + 1;
        }
        if strip {
            value.pop();
        }
        self.pos = pos;
        self.out
            .push(scalar(Cow::Owned(value), ScalarStyle::Literal));
        Some(())
    }
}

fn scalar(v: Cow<'_, str>, style: ScalarStyle) -> Event<'_> {
    Event::Scalar(v, style, 0, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use saphyr_parser::Parser;

    /// saphyr's events for `text`, `None` at an error.
    fn saphyr(text: &str) -> Option<Vec<Event<'_>>> {
        let mut parser = Parser::new_from_str(text);
        let mut out = Vec::new();
        loop {
            let (event, _) = parser.next_event()?.ok()?;
            let end = matches!(event, Event::StreamEnd);
            out.push(event);
            if end {
                return Some(out);
            }
        }
    }

    /// Where the reader accepts `text`, it says what saphyr says.
    fn agrees(text: &str) -> bool {
        match events(text) {
            None => false,
            Some(mine) => {
                assert_eq!(Some(&mine), saphyr(text).as_ref(), "on {text:?}");
                true
            }
        }
    }

    #[test]
    fn reads_the_block_style_of_manifests() {
        for text in [
            "a: 1\n",
            "---\na: 1\nb:\n  c: d # note\n  e: 'it''s'\n  f: \"x\\\"y\\u00e9\"\n",
            "# head\n--- # start\nkind: List\nitems:\n- a: 1\n  b: [] \n- {}\n-\n  c: ~\n-\n- x\n",
            "spec:\n  containers:\n    - name: app\n      image: \"r.example.com/app:1\"\n      args:\n      - -x\n      - --y=1\n",
            "data:\n  mutate.yaml: |\n    a: 1\n\n    b:\n      - c\n  # after\n  x: |-\n    one\n     two\n\n\ny: 2\n",
            "a:\nb: \"\"\nc: ''\nd: -1\ne: :x\nf: a:b#c\ng: x #c\n'q k': v\n\"d k\": v\n",
            "a: |\n\n  x\n",
            "a: |\n  x\nb: c",
            "a: [1, \"2\", 'x y', [], {b: [c]}, -1, a:b ] \nb: {c: d, 'e': [f]} # x\n",
        ] {
            assert!(agrees(text), "{text:?}");
        }
    }

    #[test]
    fn gives_up_outside_the_subset() {
        for text in [
            "",
            "# only a comment\n",
            "a: &x 1\nb: *x\n",
            "a: !!str 1\n",
            "a: [1, 2\n  , 3]\n",
            "a: {b, c: 1}\n",
            "a: [1, 2,]\n",
            "a: [b: 1]\n",
            "a: >\n  folded\n",
            "a: |+\n  kept\n",
            "a: |2\n   x\n",
            "a: plain\n  over two lines\n",
            "a: \"open\n  quote\"\n",
            "a:\tb\n",
            "a: b\r\n",
            "%YAML 1.2\n---\na: 1\n",
            "a: 1\n...\n",
            // (fuzzer: `...` first is a marker, and saphyr refuses what follows)
            "... <<: --\n",
            "...\na: 1\n",
            "a: 1\n---\nb: 2\n",
            "--- a: 1\n",
            "? a\n: b\n",
            "a: \"\\x41\"\n",
            "a: b: c\n",
            "scalar\n",
            "a: |\n  x",
            // (fuzzer: saphyr keeps one more line break for the last line)
            "a: |\n\n  x\n\n  ",
            "a: |\n  x\n ",
            "a: |\n    \n  x\n",
            "\u{feff}a: 1\n",
            "- a\n- - b\n",
            "a: b\nc\n",
            "\"d k\" : v\n",
        ] {
            assert!(events(text).is_none(), "{text:?}");
        }
    }

    #[test]
    fn too_deep_gives_up_without_overflowing() {
        let mut text = String::new();
        for i in 0..5000 {
            text.push_str(&" ".repeat(i));
            text.push_str("a:\n");
        }
        assert!(events(&text).is_none());
    }

    /// Every document under `testdata/`: where the reader accepts it, saphyr
    /// agrees; and it accepts the shapes the bench and the download have.
    #[test]
    fn agrees_with_saphyr_on_testdata() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
        let mut files = vec![];
        let mut dirs = vec![root.clone()];
        while let Some(d) = dirs.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    dirs.push(p);
                } else if matches!(
                    p.extension().and_then(|x| x.to_str()),
                    Some("yaml" | "yml" | "json")
                ) {
                    files.push(p);
                }
            }
        }
        let (mut docs, mut accepted) = (0, 0);
        for f in files {
            let Ok(text) = std::fs::read_to_string(&f) else {
                continue;
            };
            for c in crate::yaml::stream::split(&text) {
                docs += 1;
                accepted += usize::from(agrees(&text[c.start..c.end]));
            }
        }
        let download = std::fs::read_to_string(root.join("tingyunagent.yaml")).unwrap();
        for c in crate::yaml::stream::split(&download) {
            assert!(
                agrees(&download[c.start..c.end]),
                "{}",
                &download[c.start..c.end]
            );
        }
        assert!(accepted * 2 > docs, "{accepted} of {docs}");
    }

    /// Variations of the testdata lines (indentation, indicators, quotes,
    /// comments spliced in): wherever the reader accepts one, saphyr agrees.
    #[test]
    fn agrees_with_saphyr_on_variations() {
        let download = include_str!("../../testdata/tingyunagent.yaml");
        let lines: Vec<&str> = download.lines().filter(|l| !l.starts_with("---")).collect();
        let pieces = [
            " ", "  ", "- ", "-", ": ", ":", "#", " #", "'", "''", "\"", "\\\"", "|", "|-", "{}",
            "[]", "~", "a", "\n", "\n\n", "\n  ", "\n    ", "--- ", "\\u00e9",
        ];
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = |m: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % m as u64) as usize
        };
        let mut accepted = 0;
        for _ in 0..20_000 {
            let start = next(lines.len());
            let len = 1 + next(12);
            let mut text: String = lines[start..(start + len).min(lines.len())]
                .iter()
                .map(|l| format!("{l}\n"))
                .collect();
            for _ in 0..1 + next(3) {
                let mut at = next(text.len() + 1);
                while !text.is_char_boundary(at) {
                    at -= 1;
                }
                match next(3) {
                    0 => text.insert_str(at, pieces[next(pieces.len())]),
                    1 => {
                        let mut to = (at + 1 + next(4)).min(text.len());
                        while !text.is_char_boundary(to) {
                            to -= 1;
                        }
                        text.replace_range(at..to.max(at), "");
                    }
                    _ => text.replace_range(at..at, &" ".repeat(1 + next(3))),
                }
            }
            accepted += usize::from(agrees(&text));
        }
        assert!(accepted > 2_000, "{accepted}");
    }
}
