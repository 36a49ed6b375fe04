//! New content ([`New`]) written as flow text or as block lines in a
//! document's style.
use super::Doc;
use super::lines::indent;
use crate::yaml::scalar;

/// How a new string is quoted in a YAML document (JSON documents always
/// get JSON strings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quoting {
    /// Plain when that reads back as the same string, else `'...'`.
    Plain,
    /// Plain only for a word of letters, digits and `._/-` that reads back
    /// as the same string, else `'...'`.
    Word,
    /// Always `'...'` (or `"..."` for what single quotes cannot hold).
    Always,
}

/// A new string and its quoting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scalar {
    pub text: String,
    pub quoting: Quoting,
}

impl Scalar {
    pub fn new(text: &str, quoting: Quoting) -> Scalar {
        Scalar {
            text: text.to_string(),
            quoting,
        }
    }

    /// A key or value that is plain when it can be.
    pub fn plain(text: &str) -> Scalar {
        Scalar::new(text, Quoting::Plain)
    }
}

/// New content to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum New {
    Str(Scalar),
    Map(Vec<(Scalar, New)>),
    Seq(Vec<New>),
}

/// A scalar as written in a document.
pub(crate) fn scalar(s: &Scalar, json: bool) -> String {
    let text = s.text.as_str();
    match s.quoting {
        _ if json => scalar::double_quoted(text),
        Quoting::Plain => scalar::plain_or_quoted(text),
        Quoting::Always => scalar::single_quoted(text),
        Quoting::Word => {
            let word = text.starts_with(|c: char| c.is_ascii_alphanumeric())
                && text
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._/-".contains(c))
                && scalar::is_plain_string(text);
            if word {
                text.to_string()
            } else {
                scalar::single_quoted(text)
            }
        }
    }
}

/// `{a: 1}`, `[x]` or a scalar, on one line.
pub(crate) fn flow(new: &New, json: bool) -> String {
    match new {
        New::Str(s) => scalar(s, json),
        New::Map(entries) => flow_map(entries, json),
        New::Seq(items) => {
            let parts: Vec<String> = items.iter().map(|i| flow(i, json)).collect();
            format!("[{}]", parts.join(", "))
        }
    }
}

/// `key: value` in flow style.
pub(crate) fn flow_entry(entry: &(Scalar, New), json: bool) -> String {
    format!("{}: {}", scalar(&entry.0, json), flow(&entry.1, json))
}

/// `{key: value, ...}`.
pub(crate) fn flow_map(entries: &[(Scalar, New)], json: bool) -> String {
    let parts: Vec<String> = entries.iter().map(|e| flow_entry(e, json)).collect();
    format!("{{{}}}", parts.join(", "))
}

fn is_empty_collection(new: &New) -> bool {
    matches!(new, New::Map(e) if e.is_empty()) || matches!(new, New::Seq(i) if i.is_empty())
}

/// Block lines (without line endings) of mapping entries whose keys sit at
/// column `col`.
pub(crate) fn entry_lines(entries: &[(Scalar, New)], col: usize, doc: &Doc) -> Vec<String> {
    let mut out = Vec::new();
    for (key, value) in entries {
        let key = scalar(key, doc.json);
        match value {
            New::Str(_) => out.push(format!("{}{key}: {}", indent(col), flow(value, doc.json))),
            v if is_empty_collection(v) => {
                out.push(format!("{}{key}: {}", indent(col), flow(v, doc.json)))
            }
            v => {
                out.push(format!("{}{key}:", indent(col)));
                out.extend(value_lines(v, col, doc));
            }
        }
    }
    out
}

/// Block lines of a value below its key at column `key_col`: mapping keys
/// one step in, sequence dashes at the document's dash offset.
pub(crate) fn value_lines(value: &New, key_col: usize, doc: &Doc) -> Vec<String> {
    let style = doc.style.get();
    match value {
        New::Map(entries) => entry_lines(entries, key_col + style.step, doc),
        New::Seq(items) => {
            // an indentless sequence just above a key that starts with `-`
            // (`-x: 1`) at the same column is valid YAML that tree-sitter
            // misreads, so a later run could not edit the file: indent it
            let offset = if style.dash_offset == 0 && dash_key_at(doc.src, key_col) {
                style.step.max(1)
            } else {
                style.dash_offset
            };
            items
                .iter()
                .flat_map(|i| item_lines(i, key_col + offset, style.dash_spaces, doc))
                .collect()
        }
        New::Str(_) => vec![format!(
            "{}{}",
            indent(key_col + style.step),
            flow(value, doc.json)
        )],
    }
}

/// Does a line of `src` hold, at column `col`, a plain scalar that starts
/// with `-` (`-x: 1`, not an item `- x` nor a `---` marker)?
fn dash_key_at(src: &str, col: usize) -> bool {
    src.lines().any(|line| {
        let b = line.as_bytes();
        b.len() > col + 1
            && b[..col].iter().all(|&c| c == b' ')
            && b[col] == b'-'
            && !matches!(b[col + 1], b' ' | b'\r' | b'\t')
            && !(col == 0
                && line.starts_with("---")
                && matches!(b.get(3), None | Some(b' ' | b'\r' | b'\t')))
    })
}

/// Block lines of one sequence item: `-` at column `dash_col`, `spaces`
/// spaces, then the content (a mapping's first entry on the dash's line).
pub(crate) fn item_lines(item: &New, dash_col: usize, spaces: usize, doc: &Doc) -> Vec<String> {
    let dash = format!("{}-{}", indent(dash_col), indent(spaces));
    match item {
        New::Map(entries) if !entries.is_empty() => {
            let mut out = entry_lines(entries, dash_col + 1 + spaces, doc);
            out[0].replace_range(..dash.len(), &dash);
            out
        }
        other => vec![format!("{dash}{}", flow(other, doc.json))],
    }
}
