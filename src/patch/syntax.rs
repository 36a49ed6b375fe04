//! Syntax errors of the texts the planner parses (a document, an item of a
//! long list, the inner document of mutate.yaml), located in the FILE: both
//! offsets of an error (where an unclosed `[`, `{` or quote was opened and
//! where the parser gave up; a duplicate key and its first definition) are
//! mapped to the file before lines and columns are counted, so an error
//! inside mutate.yaml names the file's lines, not the block's.
use crate::error::Located;
use crate::source::{LineIndex, Source, line_col};
use crate::yaml::cst::{self, Duplicate};
use crate::yaml::secret;
use crate::yaml::value::{self, Found, Unclosed};

/// One text's syntax error, in that text's offsets.
pub(crate) struct Diagnosis {
    at: usize,
    msg: String,
    unclosed: Option<Unclosed>,
    /// A duplicate key's first definition: the text's line the message
    /// names, and its offset (the message is given the file's line).
    first: Option<(usize, usize)>,
    /// The text declares a Secret: the message quotes none of it, not
    /// even a character (see [`crate::yaml::secret`]).
    secret: bool,
}

/// Where a diagnosed text lies in the file, and how messages name it.
pub(crate) struct Place<'a, F: Fn(usize) -> usize> {
    pub source: &'a Source,
    /// Offset of the text -> offset of the file.
    pub outer: F,
    /// What the end of the text is, to the user: "end of file", "the end
    /// of the mutate.yaml block", ...
    pub end: &'a str,
    /// Put before every message ("mutate.yaml: ").
    pub prefix: &'a str,
}

impl Diagnosis {
    /// An error at one place, with its message.
    pub fn plain(at: usize, msg: String) -> Diagnosis {
        Diagnosis {
            at,
            msg,
            unclosed: None,
            first: None,
            secret: false,
        }
    }

    /// An error of the second parser (saphyr) in `text`.
    pub fn parse_error(text: &str, e: &value::ParseError) -> Diagnosis {
        let secret = secret::declares_secret(text);
        let msg = e.describe(|line, _| line);
        Diagnosis {
            at: LineIndex::offset_of(text, e.line, e.col),
            msg: if secret { secret::unquoted(&msg) } else { msg },
            secret,
            unclosed: None,
            first: e
                .first
                .map(|(line, col)| (line, LineIndex::offset_of(text, line, col))),
        }
    }
}

/// Explain the syntax error `err` of `text`.
pub(crate) fn diagnose(text: &str, err: cst::SyntaxError) -> Diagnosis {
    let plain = Diagnosis::plain;
    if err.msg.starts_with("nested more than") || err.msg.starts_with("this text has") {
        // a limit (nesting depth, size): the message says what to do
        return plain(err.offset, err.msg);
    }
    // A tab in the indentation is the usual cause: name it.
    let mut pos = 0;
    for line in text.split_inclusive('\n') {
        let indent = &line[..line.len() - line.trim_start_matches([' ', '\t']).len()];
        if let Some(t) = indent.find('\t')
            && !line.trim().is_empty()
        {
            return plain(
                pos + t,
                "tab character in indentation: YAML allows only spaces for indentation".into(),
            );
        }
        pos += line.len();
    }
    // The second parser usually says more precisely what is wrong.
    match value::documents(text) {
        Err(e) => Diagnosis {
            unclosed: e.first.is_none().then(|| value::unclosed(text)).flatten(),
            ..Diagnosis::parse_error(text, &e)
        },
        Ok(_) => plain(err.offset, err.msg),
    }
}

/// A located error for an outline (saphyr) error of a long document.
pub(crate) fn outline_error(text: &str, err: cst::SyntaxError) -> Diagnosis {
    let unclosed = err
        .msg
        .starts_with("invalid YAML")
        .then(|| value::unclosed(text))
        .flatten();
    let secret = secret::declares_secret(text);
    Diagnosis {
        at: err.offset,
        msg: if secret {
            secret::unquoted(&err.msg)
        } else {
            err.msg
        },
        unclosed,
        first: None,
        secret,
    }
}

impl<F: Fn(usize) -> usize> Place<'_, F> {
    /// The file's (line, column) of an offset of the text.
    fn line_col(&self, offset: usize) -> (usize, usize) {
        line_col(&self.source.text, (self.outer)(offset))
    }

    /// `d` located in the file. An unclosed collection or quote is
    /// reported where it was opened, naming where the parser gave up, as
    /// PyYAML does: "while parsing a flow sequence in line 9, column 14:
    /// expected ',' or ']', but found end of file in line 10, column 1".
    pub fn error(&self, d: Diagnosis) -> Located {
        let Some(u) = d.unclosed else {
            let msg = match d.first {
                // the first definition's line in the file, not in the text
                Some((line, offset)) => d.msg.replacen(
                    &value::first_defined(line),
                    &value::first_defined(self.line_col(offset).0),
                    1,
                ),
                None => d.msg,
            };
            return self
                .source
                .error_at((self.outer)(d.at), format!("{}{msg}", self.prefix));
        };
        let (l1, c1) = self.line_col(u.opened);
        let mut gave_up = (self.outer)(u.gave_up).min(self.source.text.len());
        if u.found == Found::End {
            // the end of a text is the start of the line after it
            let rest = &self.source.text[gave_up..];
            gave_up += [("\r\n", 2), ("\n", 1)]
                .iter()
                .find(|(eol, _)| rest.starts_with(eol))
                .map_or(0, |(_, n)| *n);
        }
        let (l2, c2) = line_col(&self.source.text, gave_up);
        let verb = if u.what == "quoted scalar" {
            "scanning"
        } else {
            "parsing"
        };
        let found = match u.found {
            Found::End => self.end.to_string(),
            Found::LessIndented => "a line indented less than its key".to_string(),
            Found::Char(_) if d.secret => "other text".to_string(),
            Found::Char(c) => format!("{c:?}"),
        };
        Located::new(
            self.source.label.clone(),
            l1,
            c1,
            format!(
                "{}invalid YAML: while {verb} a {} in line {l1}, column {c1}: {}, but found \
                 {found} in line {l2}, column {c2}",
                self.prefix, u.what, u.expected
            ),
        )
    }

    /// A key written twice, at its second occurrence, naming the file's
    /// line of the first.
    pub fn duplicate(&self, dup: Duplicate) -> Located {
        let (first, _) = self.line_col(dup.first);
        self.source.error_at(
            (self.outer)(dup.offset),
            format!(
                "{}duplicate key {:?} (first defined on line {first}): remove one of them",
                self.prefix, dup.key
            ),
        )
    }
}
