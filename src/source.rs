//! Reading input: bytes from a file or stdin, the UTF-8 BOM, UTF-8 and
//! binary checks, and line/column lookup for messages.
use std::io::Read as _;
use std::path::PathBuf;

use crate::error::Located;

const BOM: &str = "\u{feff}";

/// An input manifest, decoded. `text` never contains the BOM; `bom` says
/// whether to put it back.
#[derive(Debug, Clone)]
pub struct Source {
    /// How messages name the input: the path as given, or `<stdin>`.
    pub label: String,
    /// The file, or `None` for stdin.
    pub path: Option<PathBuf>,
    pub bom: bool,
    pub text: String,
}

impl Source {
    /// Read `arg` (a path, or `-` for stdin) and decode it.
    pub fn read(arg: &str) -> Result<Source, Located> {
        if arg == "-" {
            let mut bytes = Vec::new();
            std::io::stdin().read_to_end(&mut bytes).map_err(|e| {
                Located::new("<stdin>", 1, 1, format!("cannot read standard input: {e}"))
            })?;
            return Source::decode("<stdin>", None, bytes);
        }
        let path = PathBuf::from(arg);
        let meta = std::fs::metadata(&path).map_err(|e| Located::new(arg, 1, 1, io_message(&e)))?;
        if meta.is_dir() {
            return Err(Located::new(
                arg,
                1,
                1,
                "is a directory: give the path of a YAML manifest file",
            ));
        }
        // A FIFO without a writer, /dev/zero, a terminal: reading would
        // block or never end. Standard input (`-`) reads a pipe.
        if !meta.is_file() {
            return Err(Located::new(
                arg,
                1,
                1,
                format!(
                    "is {}, not a regular file: give the path of a YAML manifest file, or `-` \
                     to read standard input (e.g. `kubectl tingyun patch - < FILE`)",
                    file_type_name(&meta)
                ),
            ));
        }
        let bytes = std::fs::read(&path).map_err(|e| Located::new(arg, 1, 1, io_message(&e)))?;
        Source::decode(arg, Some(path), bytes)
    }

    /// Decode bytes: reject binary data and invalid UTF-8 with their position.
    pub fn decode(label: &str, path: Option<PathBuf>, bytes: Vec<u8>) -> Result<Source, Located> {
        if bytes.starts_with(&[0xff, 0xfe]) || bytes.starts_with(&[0xfe, 0xff]) {
            return Err(Located::new(
                label,
                1,
                1,
                "UTF-16 encoded file: convert it to UTF-8 first (e.g. iconv -f UTF-16 -t UTF-8)",
            ));
        }
        if let Some(pos) = memchr::memchr(0, &bytes) {
            let (line, col) = byte_line_col(&bytes, pos);
            return Err(Located::new(
                label,
                line,
                col,
                "binary data (NUL byte): this is not a YAML manifest",
            ));
        }
        let text = match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(e) => {
                let pos = e.utf8_error().valid_up_to();
                let (line, col) = byte_line_col(e.as_bytes(), pos);
                return Err(Located::new(
                    label,
                    line,
                    col,
                    "invalid UTF-8: save the file as UTF-8 (Kubernetes manifests must be UTF-8)",
                ));
            }
        };
        let (bom, text) = match text.strip_prefix(BOM) {
            Some(rest) => (true, rest.to_string()),
            None => (false, text),
        };
        Ok(Source {
            label: label.to_string(),
            path,
            bom,
            text,
        })
    }

    /// The bytes to write for `text`, with the BOM restored if the input
    /// had one (without one, `text` itself: no copy of a big output).
    pub fn encode<'t>(&self, text: &'t str) -> std::borrow::Cow<'t, [u8]> {
        if !self.bom {
            return std::borrow::Cow::Borrowed(text.as_bytes());
        }
        let mut out = Vec::with_capacity(text.len() + 3);
        out.extend_from_slice(BOM.as_bytes());
        out.extend_from_slice(text.as_bytes());
        std::borrow::Cow::Owned(out)
    }

    /// A located error at a byte offset of `text`.
    pub fn error_at(&self, offset: usize, msg: impl Into<String>) -> Located {
        let (line, col) = line_col(&self.text, offset);
        Located::new(self.label.clone(), line, col, msg)
    }
}

/// What a file that is not a regular file is, in the words of `ls -l`/`stat`.
fn file_type_name(meta: &std::fs::Metadata) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt as _;
        let t = meta.file_type();
        if t.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if t.is_char_device() {
            return "a character device";
        }
        if t.is_block_device() {
            return "a block device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    let _ = meta;
    "a special file"
}

fn io_message(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => {
            "no such file: check the path of the downloaded tingyunagent.yaml".into()
        }
        std::io::ErrorKind::PermissionDenied => "permission denied: cannot read this file".into(),
        _ => format!("cannot read: {e}"),
    }
}

fn byte_line_col(bytes: &[u8], pos: usize) -> (usize, usize) {
    let before = &bytes[..pos.min(bytes.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |p| p + 1);
    let col = String::from_utf8_lossy(&before[start..]).chars().count() + 1;
    (line, col)
}

/// 1-based line and character column of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
    let start = before.rfind('\n').map_or(0, |p| p + 1);
    (line, before[start..].chars().count() + 1)
}

/// Start offsets of every line, for repeated lookups on large texts.
#[derive(Debug, Clone)]
pub struct LineIndex {
    starts: Vec<usize>,
}

/// 1-based line numbers of offsets asked in increasing order, counting
/// the newlines in between: one pass over the text, nothing stored.
pub struct LineCounter<'t> {
    text: &'t str,
    at: usize,
    line: usize,
    /// Where the line of `at` starts.
    line_start: usize,
}

impl<'t> LineCounter<'t> {
    pub fn new(text: &'t str) -> Self {
        LineCounter {
            text,
            at: 0,
            line: 1,
            line_start: 0,
        }
    }

    /// The line of byte `offset`; offsets should not decrease from one
    /// call to the next (an earlier one restarts the count from the start).
    pub fn line(&mut self, offset: usize) -> usize {
        let offset = offset.min(self.text.len());
        if offset < self.at {
            (self.at, self.line, self.line_start) = (0, 1, 0);
        }
        let between = &self.text.as_bytes()[self.at..offset];
        // (memchr counts with vector instructions)
        let newlines = memchr::memchr_iter(b'\n', between).count();
        if newlines > 0 {
            self.line += newlines;
            self.line_start = self.at + memchr::memrchr(b'\n', between).unwrap_or(0) + 1;
        }
        self.at = offset;
        self.line
    }

    /// 1-based line and character column of byte `offset` (as [`line_col`]).
    pub fn line_col(&mut self, offset: usize) -> (usize, usize) {
        let offset = self.text.floor_char_boundary(offset);
        let line = self.line(offset);
        (line, self.text[self.line_start..offset].chars().count() + 1)
    }
}

impl LineIndex {
    pub fn new(text: &str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex { starts }
    }

    /// Byte offset of a 1-based line and character column.
    pub fn offset_of(text: &str, line: usize, col: usize) -> usize {
        let start: usize = text
            .split_inclusive('\n')
            .take(line.saturating_sub(1))
            .map(str::len)
            .sum();
        let rest = &text[start.min(text.len())..];
        start
            + rest
                .char_indices()
                .nth(col.saturating_sub(1))
                .map_or(rest.len(), |(i, _)| i)
    }

    /// 1-based line of a byte offset.
    pub fn line(&self, offset: usize) -> usize {
        self.starts.partition_point(|&s| s <= offset)
    }

    /// 1-based line and character column of a byte offset of `text` (the
    /// text this index was built from), in time proportional to the line.
    pub fn line_col(&self, text: &str, offset: usize) -> (usize, usize) {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.line(offset);
        let start = self.starts[line - 1];
        (line, text[start..offset].chars().count() + 1)
    }
}

/// The line ending to use for a line inserted at `pos`: the ending of the
/// line just before `pos`, else the first ending in the text, else `\n`.
pub fn eol_near(text: &str, pos: usize) -> &'static str {
    let before = &text[..pos.min(text.len())];
    let probe = match before.strip_suffix('\n') {
        Some(b) => Some(b.ends_with('\r')),
        None => before
            .rfind('\n')
            .map(|i| i > 0 && before.as_bytes()[i - 1] == b'\r'),
    };
    let crlf = probe.unwrap_or_else(|| {
        text.find('\n')
            .is_some_and(|i| i > 0 && text.as_bytes()[i - 1] == b'\r')
    });
    if crlf { "\r\n" } else { "\n" }
}

/// Byte offset of the start of the line containing `pos`.
pub fn line_start(text: &str, pos: usize) -> usize {
    let bytes = text.as_bytes();
    bytes[..pos.min(bytes.len())]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1)
}

/// Byte offset of the end of the line containing `pos`, before `\r\n`/`\n`.
pub fn line_end(text: &str, pos: usize) -> usize {
    // bytes, not `str` slicing: `pos` may be inside a character (the last
    // byte of a node that ends with one)
    let end = newline_from(text, pos).unwrap_or(text.len());
    if end > pos && text.as_bytes()[end - 1] == b'\r' {
        end - 1
    } else {
        end
    }
}

/// Offset just after the line containing `pos` (after its line ending), or
/// the text length for the last line.
pub fn next_line_start(text: &str, pos: usize) -> usize {
    newline_from(text, pos).map_or(text.len(), |i| i + 1)
}

/// A character the project's own YAML readers (the span scanner, the
/// self-check's subset reader) leave to a full parser: a C1 control,
/// YAML 1.1's other line breaks (U+2028, U+2029; U+0085 is a C1 control),
/// a byte order mark, the non-characters U+FFFE and U+FFFF.
pub fn unusual_char(c: char) -> bool {
    matches!(
        c,
        '\u{80}'..='\u{9f}' | '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}'
    )
}

/// The offset of the first `\n` at or after byte `pos` (any byte offset).
/// Eight bytes at a time: lines are short, so a search with a per-call
/// setup (`str::find`, `memchr`) costs more than it saves.
pub fn newline_from(text: &str, pos: usize) -> Option<usize> {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    const NEWLINES: u64 = u64::from_ne_bytes([b'\n'; 8]);
    let bytes = text.as_bytes();
    let mut at = pos;
    while let Some(word) = bytes.get(at..at + 8) {
        let w = u64::from_le_bytes(word.try_into().expect("8 bytes")) ^ NEWLINES;
        // a byte of `w` is zero where the text has '\n'; the lowest flagged
        // byte is always one (a borrow only flags bytes above a zero byte)
        let zero = w.wrapping_sub(ONES) & !w & HIGHS;
        if zero != 0 {
            return Some(at + (zero.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    bytes
        .get(at..)?
        .iter()
        .position(|&b| b == b'\n')
        .map(|i| at + i)
}

#[cfg(test)]
mod tests {
    #[test]
    fn newline_search_finds_the_first_at_or_after_any_offset() {
        // every offset of texts with newlines at every place in a word,
        // next to bytes one above and below '\n' and multi-byte characters
        let texts = [
            "",
            "\n",
            "abcdefg\nhijklmnopq\n\n",
            "\t\u{b}\n\t\u{b}\u{b}\u{b}\u{b}\u{b}\u{b}\u{b}\u{b}\n",
            "ČČČČ\nČ\u{10a}\u{a0a}xxxxxxxxxxxxxxxxxxxxxx\n",
            "no newline at all here, long enough for words",
        ];
        for text in texts {
            for pos in 0..=text.len() + 2 {
                let want = text
                    .as_bytes()
                    .get(pos..)
                    .and_then(|r| r.iter().position(|&b| b == b'\n'))
                    .map(|i| pos + i);
                assert_eq!(super::newline_from(text, pos), want, "{text:?} at {pos}");
            }
        }
    }

    #[test]
    fn line_counter_agrees_with_counting_from_the_start() {
        let text = "a\n\nbc\r\nd\ne\n\n";
        let from_start = |o: usize| text[..o].matches('\n').count() + 1;
        let mut counter = LineCounter::new(text);
        for o in 0..=text.len() {
            assert_eq!(counter.line(o), from_start(o), "offset {o}");
        }
        // past the end, and going back
        assert_eq!(counter.line(100), 7);
        assert_eq!(counter.line(3), 3);
    }

    /// Line and character column, counted by hand: every offset in order,
    /// in steps, and going back.
    #[test]
    fn line_counter_columns_are_counted_by_hand() {
        let text = "ab\n\u{e9}t\u{e9}: x\r\n\n  - \u{1f600}y\nz";
        let by_hand = |o: usize| -> (usize, usize) {
            let (mut line, mut col) = (1, 1);
            for (i, c) in text.char_indices() {
                if i >= o {
                    break;
                }
                if c == '\n' {
                    (line, col) = (line + 1, 1);
                } else {
                    col += 1;
                }
            }
            (line, col)
        };
        for step in [1, 2, 3, 7] {
            let mut counter = LineCounter::new(text);
            for o in (0..=text.len()).step_by(step) {
                if text.is_char_boundary(o) {
                    assert_eq!(counter.line_col(o), by_hand(o), "offset {o} step {step}");
                }
            }
        }
        let mut counter = LineCounter::new(text);
        assert_eq!(counter.line_col(text.len()), (5, 2));
        assert_eq!(counter.line_col(5), (2, 2));
        // inside a character: the character's own column
        assert_eq!(counter.line_col(4), (2, 1));
        assert_eq!(counter.line_col(1), (1, 2));
    }

    use super::*;

    #[test]
    fn bom_is_stripped_and_restored() {
        let s = Source::decode("f", None, b"\xef\xbb\xbfa: 1\n".to_vec()).unwrap();
        assert!(s.bom);
        assert_eq!(s.text, "a: 1\n");
        assert_eq!(&*s.encode("b: 2\n"), b"\xef\xbb\xbfb: 2\n");
        // without a BOM the text itself is written, not a copy
        let plain = Source::decode("f", None, b"a: 1\n".to_vec()).unwrap();
        assert!(matches!(
            plain.encode("b: 2\n"),
            std::borrow::Cow::Borrowed(b"b: 2\n")
        ));
    }

    #[test]
    fn binary_and_bad_utf8_are_located() {
        let e = Source::decode("f", None, b"a: 1\nb: \x00\n".to_vec()).unwrap_err();
        assert_eq!((e.line, e.col), (2, 4));
        let e = Source::decode("f", None, b"a: 1\nb: caf\xe9\n".to_vec()).unwrap_err();
        assert_eq!((e.line, e.col), (2, 7));
        assert!(e.msg.contains("UTF-8"));
    }

    #[test]
    fn utf16_is_named() {
        let e = Source::decode("f", None, b"\xff\xfea\x00:\x00".to_vec()).unwrap_err();
        assert!(e.msg.contains("UTF-16"), "{}", e.msg);
    }

    #[test]
    fn line_helpers() {
        let t = "ab\r\ncd\nef";
        assert_eq!(line_col(t, 4), (2, 1));
        assert_eq!(line_end(t, 0), 2);
        assert_eq!(next_line_start(t, 0), 4);
        assert_eq!(line_end(t, 8), 9);
        assert_eq!(eol_near(t, 4), "\r\n");
        assert_eq!(eol_near(t, 7), "\n");
        assert_eq!(eol_near("x: 1", 4), "\n");
        let idx = LineIndex::new(t);
        assert_eq!((idx.line(0), idx.line(4), idx.line(9)), (1, 2, 3));
        assert_eq!(idx.line_col(t, 8), line_col(t, 8));
        // any byte offset, also one inside a character (fuzz finding)
        let u = "a: \u{10c}\n# c\r\nb";
        assert_eq!(next_line_start(u, 4), 6);
        assert_eq!(line_end(u, 4), 5);
        assert_eq!(line_start(u, 4), 0);
        assert_eq!(line_end(u, 7), 9);
        assert_eq!(next_line_start(u, 99), u.len());
    }
}
