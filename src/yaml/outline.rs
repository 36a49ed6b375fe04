//! The outline of one document from saphyr's event stream, without
//! building its values: the object's `apiVersion`, `kind` and
//! `metadata.name`, and where each item of a top-level `items:` sequence
//! (a `kind: List`) lies in the text. Used for documents too long for the
//! span parser (see [`super::limits`]): a list is then edited item by item.
use saphyr_parser::{Event, Parser, Span};

use super::cst::SyntaxError;
use super::limits::MAX_DEPTH;

/// One mapping item of the top-level `items` sequence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// Position in the sequence (counting every item).
    pub index: usize,
    /// Byte range of the item's text: for a block item the whole lines from
    /// the one with its `-` up to the next item (comments included); for a
    /// flow item `{` ... `}`.
    pub start: usize,
    pub end: usize,
    /// Columns to remove from each line of a block item so its mapping
    /// starts at column 0 (the `- ` of its first line included); 0 for flow.
    pub indent: usize,
}

/// What [`outline`] finds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outline {
    pub api_version: Option<String>,
    pub kind: Option<String>,
    pub name: Option<String>,
    /// The items, or the offset of the first item that cannot be cut out
    /// on its own (e.g. `-` alone on its line); `None` without `items:`.
    pub items: Option<Result<Vec<Item>, usize>>,
}

/// Byte offsets of saphyr's (line, character column) markers.
struct Lines<'t> {
    text: &'t str,
    starts: Vec<usize>,
}

impl<'t> Lines<'t> {
    fn new(text: &'t str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Lines { text, starts }
    }

    fn offset(&self, line: usize, col: usize) -> usize {
        let Some(&start) = self.starts.get(line.saturating_sub(1)) else {
            return self.text.len();
        };
        let rest = &self.text[start..];
        start + rest.char_indices().nth(col).map_or(rest.len(), |(i, _)| i)
    }

    fn line_start(&self, line: usize) -> usize {
        self.starts
            .get(line.saturating_sub(1))
            .copied()
            .unwrap_or(self.text.len())
    }
}

/// Outline the first document of `text`; syntax errors and nesting past
/// [`MAX_DEPTH`] are errors at their byte offset.
pub fn outline(text: &str) -> Result<Outline, SyntaxError> {
    let body = text.strip_prefix('\u{feff}').unwrap_or(text);
    let skipped = text.len() - body.len();
    let lines = Lines::new(body);
    let mut parser = Parser::new_from_str(body);
    let mut out = Outline::default();

    let mut depth = 0usize;
    // top mapping: children seen (even: a key comes next), the last key
    let mut top_children = 0usize;
    let mut top_key: Option<String> = None;
    // metadata mapping at depth 2
    let mut in_metadata = false;
    let mut meta_children = 0usize;
    let mut meta_key_is_name = false;
    // the items sequence
    let mut in_items = false;
    let mut item_index = 0usize;
    let mut items: Vec<Item> = Vec::new();
    let mut bad_item: Option<usize> = None;
    // (index, start, indent, flow) of the mapping item being read
    let mut open_item: Option<(usize, usize, usize, bool)> = None;
    // line starts of every item (block items end where the next begins)
    let mut boundaries: Vec<usize> = Vec::new();
    let mut top_is_mapping = false;

    while let Some(event) = parser.next_event() {
        let (event, span): (Event, Span) = event.map_err(|e| {
            let m = e.marker();
            SyntaxError {
                offset: skipped + lines.offset(m.line(), m.col()),
                msg: format!("invalid YAML: {}", e.info()),
            }
        })?;
        let at = |s: &Span| lines.offset(s.start.line(), s.start.col());
        match event {
            Event::DocumentEnd if depth == 0 && top_children > 0 => break,
            Event::MappingStart(..) | Event::SequenceStart(..) => {
                let is_map = matches!(event, Event::MappingStart(..));
                if depth == 0 {
                    top_is_mapping = is_map;
                }
                if depth == 1 && top_is_mapping && top_children % 2 == 1 {
                    let key = top_key.as_deref();
                    in_items = !is_map && key == Some("items");
                    in_metadata = is_map && key == Some("metadata");
                    if in_items {
                        out.items = Some(Ok(Vec::new()));
                    }
                }
                if depth == 2 && in_items {
                    let start = at(&span);
                    boundaries.push(lines.line_start(span.start.line()));
                    if is_map {
                        let flow = body.as_bytes().get(start) == Some(&b'{');
                        open_item = Some((item_index, start, span.start.col(), flow));
                    }
                    item_index += 1;
                }
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(SyntaxError {
                        offset: skipped + at(&span),
                        msg: format!("nested more than {MAX_DEPTH} levels deep"),
                    });
                }
            }
            Event::MappingEnd | Event::SequenceEnd => {
                depth = depth.saturating_sub(1);
                if depth == 2 && in_items {
                    if let Some((index, start, col, flow)) = open_item.take() {
                        if flow {
                            let end = at(&span) + 1;
                            if body.as_bytes().get(end - 1) == Some(&b'}') {
                                items.push(Item {
                                    index,
                                    start,
                                    end,
                                    indent: 0,
                                });
                            } else {
                                bad_item.get_or_insert(start);
                            }
                        } else {
                            let line_start = start - col;
                            let prefix = &body[line_start..start];
                            let dash_only = prefix.trim_matches(' ') == "-";
                            if dash_only && prefix.is_ascii() {
                                items.push(Item {
                                    index,
                                    start: line_start,
                                    end: 0, // set from the boundaries below
                                    indent: col,
                                });
                            } else {
                                bad_item.get_or_insert(line_start);
                            }
                        }
                    }
                }
                if depth == 1 && in_items {
                    // the end of the items sequence
                    in_items = false;
                    boundaries.push(lines.line_start(span.start.line()));
                    let flow_end = at(&span);
                    for item in items.iter_mut() {
                        if item.end == 0 {
                            let next = boundaries
                                .iter()
                                .copied()
                                .find(|&b| b > item.start)
                                .unwrap_or(flow_end);
                            item.end = next.max(item.start);
                        }
                    }
                    out.items = Some(match bad_item {
                        Some(off) => Err(skipped + off),
                        None => Ok(std::mem::take(&mut items)),
                    });
                }
                if depth == 1 {
                    in_metadata = false;
                    top_children += 1;
                } else if depth == 2 && in_metadata {
                    meta_children += 1;
                }
            }
            Event::Scalar(value, ..) => {
                if depth == 1 && top_is_mapping {
                    if top_children % 2 == 0 {
                        top_key = Some(value.to_string());
                    } else {
                        match top_key.as_deref() {
                            Some("apiVersion") => out.api_version = Some(value.to_string()),
                            Some("kind") => out.kind = Some(value.to_string()),
                            _ => {}
                        }
                    }
                    top_children += 1;
                } else if depth == 2 && in_metadata {
                    if meta_children % 2 == 0 {
                        meta_key_is_name = value == "name";
                    } else if meta_key_is_name {
                        out.name = Some(value.to_string());
                    }
                    meta_children += 1;
                } else if depth == 2 && in_items {
                    boundaries.push(lines.line_start(span.start.line()));
                    item_index += 1;
                }
            }
            Event::Alias(_) => {
                if depth == 1 {
                    top_children += 1;
                } else if depth == 2 && in_metadata {
                    meta_children += 1;
                } else if depth == 2 && in_items {
                    boundaries.push(lines.line_start(span.start.line()));
                    item_index += 1;
                }
            }
            _ => {}
        }
    }
    if let Some(Ok(list)) = &mut out.items {
        for item in list {
            item.start += skipped;
            item.end += skipped;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_and_flow_items_are_located() {
        let text = "apiVersion: v1\nitems:\n- a: 1\n  b: [x, {y: 1}]\n# c\n- plain\n- {a: 3, b: 4}  # x\n  # z\n-   k: v\n    m: n\nkind: List\nmetadata: {name: all, x: [name]}\n";
        let o = outline(text).unwrap();
        assert_eq!(o.kind.as_deref(), Some("List"));
        assert_eq!(o.api_version.as_deref(), Some("v1"));
        assert_eq!(o.name.as_deref(), Some("all"));
        let items = o.items.unwrap().unwrap();
        let texts: Vec<(usize, &str, usize)> = items
            .iter()
            .map(|i| (i.index, &text[i.start..i.end], i.indent))
            .collect();
        assert_eq!(
            texts,
            [
                (0, "- a: 1\n  b: [x, {y: 1}]\n# c\n", 2),
                (2, "{a: 3, b: 4}", 0),
                (3, "-   k: v\n    m: n\n", 4)
            ]
        );
    }

    #[test]
    fn flow_items() {
        let text = "{\"kind\": \"List\", \"items\": [{\"a\": 1},\n  {\"b\": [2]}], \"apiVersion\": \"v1\"}";
        let o = outline(text).unwrap();
        let items = o.items.unwrap().unwrap();
        let texts: Vec<&str> = items.iter().map(|i| &text[i.start..i.end]).collect();
        assert_eq!(texts, ["{\"a\": 1}", "{\"b\": [2]}"]);
    }

    #[test]
    fn items_that_cannot_stand_alone_are_named() {
        let text = "items:\n-\n  a: 1\n";
        assert_eq!(outline(text).unwrap().items, Some(Err(9)));
    }

    #[test]
    fn errors_are_located() {
        let err = outline("a: [1,\nb: 2\n").unwrap_err();
        assert!(err.msg.starts_with("invalid YAML"), "{err:?}");
    }
}
