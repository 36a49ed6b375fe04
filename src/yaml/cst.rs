//! A concrete syntax tree with exact byte spans (tree-sitter-yaml), and the
//! few typed views of it the editor needs: mappings, sequences, scalars.
use std::borrow::Cow;

use tree_sitter::Parser;

pub use super::tree::{Node, Tree};
use super::tree::{field, kind};

pub use super::error::SyntaxError;

thread_local! {
    /// One parser per thread, reused: creating one per document is costly.
    static PARSER: std::cell::RefCell<Option<Parser>> = const { std::cell::RefCell::new(None) };
}

/// Parse one YAML text (one document, or a whole stream): with the span
/// scanner ([`super::scan`]) when it reads the text, else with tree-sitter.
/// Texts past tree-sitter's limits (see [`super::limits`]) are refused
/// before it sees them.
pub fn parse(text: &str) -> Result<Tree, SyntaxError> {
    if u32::try_from(text.len()).is_err() {
        return Err(SyntaxError {
            offset: 0,
            msg: "a YAML document over 4 GiB cannot be edited: split it into several documents (`---`)"
                .into(),
        });
    }
    // (the span scanner declines a text nested too deep; the depth check
    // then names where, before tree-sitter sees it)
    match super::scan::parse(text) {
        Some(tree) => Ok(tree),
        None => parse_tree_sitter(text),
    }
}

/// [`parse`] with tree-sitter alone (what the span scanner is checked against).
pub fn parse_tree_sitter(text: &str) -> Result<Tree, SyntaxError> {
    super::limits::check_depth(text)?;
    tree_sitter(text)
}

/// Parse with tree-sitter a text whose depth was checked.
fn tree_sitter(text: &str) -> Result<Tree, SyntaxError> {
    if !super::limits::fits_span_parser(text) {
        return Err(SyntaxError {
            offset: 0,
            msg: format!(
                "this text has {} lines; the YAML span parser handles at most {} in one piece: \
                 split it into several documents (`---`)",
                super::limits::line_count(text),
                super::limits::MAX_SPAN_LINES
            ),
        });
    }
    let tree = PARSER.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            let mut parser = Parser::new();
            parser
                .set_language(&tree_sitter_yaml::LANGUAGE.into())
                .map_err(|e| SyntaxError {
                    offset: 0,
                    msg: format!("YAML grammar unavailable: {e}"),
                })?;
            *slot = Some(parser);
        }
        let parser = slot.as_mut().expect("set above");
        parser.parse(text, None).ok_or_else(|| SyntaxError {
            offset: 0,
            msg: "YAML parser gave up".into(),
        })
    })?;
    let root = tree.root_node();
    if root.has_error() {
        return Err(first_error(root, text));
    }
    Ok(super::tree::from_tree_sitter(&tree, text))
}

fn first_error(root: tree_sitter::Node, text: &str) -> SyntaxError {
    let mut cursor = root.walk();
    let mut node = root;
    // Descend towards the first error or missing node in document order.
    'outer: loop {
        for child in node.children(&mut cursor) {
            if child.is_missing() {
                return SyntaxError {
                    offset: child.start_byte(),
                    msg: format!("invalid YAML: missing {}", child.kind()),
                };
            }
            if child.is_error() || child.has_error() {
                node = child;
                if child.is_error() && child.child_count() == 0 {
                    break 'outer;
                }
                continue 'outer;
            }
        }
        break;
    }
    let offset = node.start_byte();
    let near: String = text[offset..]
        .chars()
        .take_while(|c| *c != '\n' && *c != '\r')
        .take(30)
        .collect();
    let msg = if near.trim().is_empty() {
        "invalid YAML: unexpected structure here".to_string()
    } else if super::secret::declares_secret(text) {
        // no text of a Secret in a message (see `secret`)
        "invalid YAML: unexpected text here (not quoted: this is a Secret's document)".to_string()
    } else {
        format!("invalid YAML near {:?}", near.trim())
    };
    SyntaxError { offset, msg }
}

/// Node kind and field ids (see [`super::tree::kind`]), by name.
pub(crate) struct Ids {
    pub key: u8,
    pub value: u8,
    pub document: u16,
    pub block_node: u16,
    pub flow_node: u16,
    pub plain_scalar: u16,
    pub null_scalar: u16,
    pub single_quote_scalar: u16,
    pub double_quote_scalar: u16,
    pub block_scalar: u16,
    pub block_mapping: u16,
    pub flow_mapping: u16,
    pub block_mapping_pair: u16,
    pub flow_pair: u16,
    pub block_sequence: u16,
    pub flow_sequence: u16,
    pub block_sequence_item: u16,
    pub comment: u16,
    pub tag: u16,
    pub anchor: u16,
    pub yaml_directive: u16,
    pub tag_directive: u16,
    pub reserved_directive: u16,
}

static IDS: Ids = Ids {
    key: field::KEY,
    value: field::VALUE,
    document: kind::DOCUMENT,
    block_node: kind::BLOCK_NODE,
    flow_node: kind::FLOW_NODE,
    plain_scalar: kind::PLAIN_SCALAR,
    null_scalar: kind::NULL_SCALAR,
    single_quote_scalar: kind::SINGLE_QUOTE_SCALAR,
    double_quote_scalar: kind::DOUBLE_QUOTE_SCALAR,
    block_scalar: kind::BLOCK_SCALAR,
    block_mapping: kind::BLOCK_MAPPING,
    flow_mapping: kind::FLOW_MAPPING,
    block_mapping_pair: kind::BLOCK_MAPPING_PAIR,
    flow_pair: kind::FLOW_PAIR,
    block_sequence: kind::BLOCK_SEQUENCE,
    flow_sequence: kind::FLOW_SEQUENCE,
    block_sequence_item: kind::BLOCK_SEQUENCE_ITEM,
    comment: kind::COMMENT,
    tag: kind::TAG,
    anchor: kind::ANCHOR,
    yaml_directive: kind::YAML_DIRECTIVE,
    tag_directive: kind::TAG_DIRECTIVE,
    reserved_directive: kind::RESERVED_DIRECTIVE,
};

pub(crate) fn ids() -> &'static Ids {
    &IDS
}

/// The `key` of a `block_mapping_pair` / `flow_pair`.
pub fn pair_key(pair: Node) -> Option<Node> {
    pair.child_by_field_id(ids().key)
}

/// The `value` of a `block_mapping_pair` / `flow_pair`.
pub fn pair_value(pair: Node) -> Option<Node> {
    pair.child_by_field_id(ids().value)
}

fn is_pair(node: Node) -> bool {
    let (k, ids) = (node.kind_id(), ids());
    k == ids.block_mapping_pair || k == ids.flow_pair
}

/// Skip `block_node`/`flow_node` wrappers, tags and anchors: the node that
/// holds the content (mapping, sequence, scalar, alias). `None` for an empty node.
pub fn content(node: Node) -> Option<Node> {
    let ids = ids();
    let k = node.kind_id();
    if k == ids.block_node || k == ids.flow_node || k == ids.document {
        let mut cursor = node.walk();
        let inner = node
            .named_children(&mut cursor)
            .filter(|c| {
                let k = c.kind_id();
                !(k == ids.tag
                    || k == ids.anchor
                    || k == ids.comment
                    || k == ids.yaml_directive
                    || k == ids.tag_directive
                    || k == ids.reserved_directive)
            })
            .last();
        inner.and_then(content)
    } else if k == ids.plain_scalar {
        let mut cursor = node.walk();
        let scalar = node.named_children(&mut cursor).next();
        match scalar {
            Some(s) if s.kind_id() == ids.null_scalar => None,
            _ => Some(node),
        }
    } else {
        Some(node)
    }
}

/// The content node of the (only) document in a parsed chunk.
pub fn document_content(root: Node) -> Option<Node> {
    let mut cursor = root.walk();
    let doc = root
        .named_children(&mut cursor)
        .find(|c| c.kind_id() == ids().document)?;
    content(doc)
}

pub fn is_mapping(node: Node) -> bool {
    let (k, ids) = (node.kind_id(), ids());
    k == ids.block_mapping || k == ids.flow_mapping
}

pub fn is_sequence(node: Node) -> bool {
    let (k, ids) = (node.kind_id(), ids());
    k == ids.block_sequence || k == ids.flow_sequence
}

pub fn is_scalar(node: Node) -> bool {
    let (k, ids) = (node.kind_id(), ids());
    k == ids.plain_scalar
        || k == ids.single_quote_scalar
        || k == ids.double_quote_scalar
        || k == ids.block_scalar
}

/// One `key: value` entry of a mapping.
#[derive(Debug, Clone, Copy)]
pub struct Pair<'t> {
    /// The `block_mapping_pair` / `flow_pair` node.
    pub node: Node<'t>,
    pub key: Node<'t>,
    /// The value node as written (`None` for `key:` with nothing after it).
    pub value: Option<Node<'t>>,
}

/// The entries of a block or flow mapping, in order.
pub fn pairs<'t>(map: Node<'t>) -> Vec<Pair<'t>> {
    let mut cursor = map.walk();
    map.named_children(&mut cursor)
        .filter(|c| is_pair(*c))
        .filter_map(|p| {
            let key = pair_key(p)?;
            Some(Pair {
                node: p,
                key,
                value: pair_value(p),
            })
        })
        .collect()
}

/// The entry of `map` whose key decodes to `key`.
pub fn get<'t>(map: Node<'t>, src: &str, key: &str) -> Option<Pair<'t>> {
    let mut cursor = map.walk();
    for p in map.named_children(&mut cursor) {
        if !is_pair(p) {
            continue;
        }
        let Some(k) = pair_key(p) else {
            continue;
        };
        if key_is(k, src, key) {
            return Some(Pair {
                node: p,
                key: k,
                value: pair_value(p),
            });
        }
    }
    None
}

/// Compare a key with `key` without decoding it when it is written plainly.
fn key_is(k: Node, src: &str, key: &str) -> bool {
    let raw = &src[k.byte_range()];
    if !raw.starts_with(['\'', '"', '!', '&', '*', '{', '[']) && !raw.contains('\n') {
        // a plain one-line key means its text
        return raw.trim() == key;
    }
    // decode only when the raw text could still mean `key`
    (raw.len() > key.len() || raw.contains('\\')) && key_text(k, src).as_deref() == Some(key)
}

/// A key's text: borrowed when plain, decoded otherwise.
fn key_cow<'s>(k: Node, src: &'s str) -> Option<std::borrow::Cow<'s, str>> {
    let raw = &src[k.byte_range()];
    let plain = !raw.is_empty()
        && !raw.contains('\n')
        && raw
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-/".contains(c));
    if plain {
        Some(std::borrow::Cow::Borrowed(raw))
    } else {
        key_text(k, src).map(std::borrow::Cow::Owned)
    }
}

/// The content of the value of `key` in `map`.
pub fn get_value<'t>(map: Node<'t>, src: &str, key: &str) -> Option<Node<'t>> {
    get(map, src, key).and_then(|p| p.value).and_then(content)
}

/// The items of a block or flow sequence (content nodes; `None` for `-` alone).
pub fn items<'t>(seq: Node<'t>) -> Vec<Option<Node<'t>>> {
    let mut cursor = seq.walk();
    match seq.kind() {
        "block_sequence" => seq
            .named_children(&mut cursor)
            .filter(|c| c.kind_id() == ids().block_sequence_item)
            .map(|item| {
                let mut c2 = item.walk();
                let inner = item.named_children(&mut c2).find(|c| c.kind() != "comment");
                inner.and_then(content)
            })
            .collect(),
        "flow_sequence" => seq
            .named_children(&mut cursor)
            .filter(|c| matches!(c.kind(), "flow_node" | "flow_pair"))
            .map(content_or_pair)
            .collect(),
        _ => Vec::new(),
    }
}

fn content_or_pair(node: Node) -> Option<Node> {
    if node.kind() == "flow_pair" {
        Some(node)
    } else {
        content(node)
    }
}

/// The `block_sequence_item` nodes of a block sequence.
pub fn block_items(seq: Node) -> Vec<Node> {
    let mut cursor = seq.walk();
    seq.named_children(&mut cursor)
        .filter(|c| c.kind_id() == ids().block_sequence_item)
        .collect()
}

/// Decode a key node (a `flow_node` wrapping a scalar) to its string.
pub fn key_text(key: Node, src: &str) -> Option<String> {
    content(key).and_then(|k| scalar_text(k, src)).or_else(|| {
        // `null`/`~`/empty keys
        Some(String::new()).filter(|_| content(key).is_none())
    })
}

/// Decode a flow scalar (plain, single- or double-quoted) to its string.
/// Block scalars and collections give `None`.
pub fn scalar_text(node: Node, src: &str) -> Option<String> {
    scalar_str(node, src).map(Cow::into_owned)
}

/// [`scalar_text`], borrowed from `src` when a plain scalar on one line
/// means its own text (most do: no copy).
pub fn scalar_str<'s>(node: Node, src: &'s str) -> Option<Cow<'s, str>> {
    let raw = &src[node.byte_range()];
    if node.kind() == "plain_scalar" && !raw.contains('\n') {
        return Some(Cow::Borrowed(raw.trim()));
    }
    scalar_decoded(node, raw)
}

fn scalar_decoded(node: Node, raw: &str) -> Option<Cow<'static, str>> {
    let text = match node.kind() {
        "plain_scalar" => Some(fold_lines(raw.trim())),
        "single_quote_scalar" => {
            let inner = raw.strip_prefix('\'')?.strip_suffix('\'')?;
            Some(fold_lines(&inner.replace("''", "'")))
        }
        "double_quote_scalar" => {
            let inner = raw.strip_prefix('"')?.strip_suffix('"')?;
            Some(unescape_double(inner))
        }
        _ => None,
    };
    text.map(Cow::Owned)
}

/// The string a scalar means to kubectl: like [`scalar_text`], but a plain
/// scalar that kubectl (or another YAML 1.1/1.2 reader) reads as a bool,
/// null, number or timestamp is not a string (`None`), and block scalars
/// (`|`, `>`) are decoded.
pub fn string_value(node: Node, src: &str) -> Option<String> {
    match node.kind() {
        "plain_scalar" => {
            scalar_text(node, src).filter(|s| crate::yaml::scalar::is_plain_string(s))
        }
        "block_scalar" => block_scalar_text(node, src),
        _ => scalar_text(node, src),
    }
}

/// The content of a block scalar (`|`, `|-`, `>+`, ...), decoded by the
/// independent parser. An explicit indentation indicator (`|2`) counts
/// from the parent mapping's indentation, so it is decoded only as a
/// mapping value (`None` elsewhere, or for anything unexpected).
pub fn block_scalar_text(node: Node, src: &str) -> Option<String> {
    if node.kind() != "block_scalar" {
        return None;
    }
    let raw = &src[node.byte_range()];
    let header = raw.lines().next().unwrap_or("");
    let header = header.split(" #").next().unwrap_or(header);
    if header.chars().any(|c| c.is_ascii_digit()) {
        // `key: |2`: decoded as the value of a key at the same column
        let pair = node.parent()?.parent()?;
        if pair.kind() != "block_mapping_pair" {
            return None;
        }
        let col = column(pair.child_by_field_name("key")?);
        let doc = format!("{}k: {raw}", " ".repeat(col));
        return match crate::yaml::value::documents(&doc)
            .ok()?
            .into_iter()
            .next()?
        {
            serde_json::Value::Object(mut m) => match m.remove("k")? {
                serde_json::Value::String(s) => Some(s),
                _ => None,
            },
            _ => None,
        };
    }
    // The node starts at its indicator: as a document of its own, the
    // content keeps its indentation relative to the first content line.
    match crate::yaml::value::documents(raw)
        .ok()?
        .into_iter()
        .next()?
    {
        serde_json::Value::String(s) => Some(s),
        _ => None,
    }
}

/// Multi-line flow scalars fold line breaks into spaces (empty lines into `\n`).
fn fold_lines(s: &str) -> String {
    if !s.contains('\n') {
        return s.to_string();
    }
    let mut out = String::new();
    let mut pending_breaks = 0usize;
    for (i, line) in s.split('\n').enumerate() {
        let line = line.trim_matches([' ', '\t', '\r']);
        if i > 0 && line.is_empty() {
            pending_breaks += 1;
            continue;
        }
        if i > 0 {
            if pending_breaks > 0 {
                out.extend(std::iter::repeat_n('\n', pending_breaks));
            } else {
                out.push(' ');
            }
        }
        pending_breaks = 0;
        out.push_str(line);
    }
    out
}

fn unescape_double(s: &str) -> String {
    let folded = fold_lines(s);
    let mut out = String::with_capacity(folded.len());
    let mut chars = folded.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('0') => out.push('\0'),
            Some('"') => out.push('"'),
            Some('\\') => out.push('\\'),
            Some('/') => out.push('/'),
            Some(' ') => out.push(' '),
            Some('x') => push_hex(&mut out, &mut chars, 2),
            Some('u') => push_hex(&mut out, &mut chars, 4),
            Some('U') => push_hex(&mut out, &mut chars, 8),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

fn push_hex(out: &mut String, chars: &mut std::str::Chars, n: usize) {
    let hex: String = chars.by_ref().take(n).collect();
    if let Some(c) = u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
        out.push(c);
    }
}

/// 0-based byte column of a node (counting from its line start).
pub fn column(node: Node) -> usize {
    node.start_position().column
}

/// The root of the tree `node` is in.
pub fn root(node: Node) -> Node {
    let mut root = node;
    while let Some(parent) = root.parent() {
        root = parent;
    }
    root
}

/// The node an alias (`*name`) refers to: the content of the last anchor
/// `&name` before it.
pub fn anchored<'t>(alias: Node<'t>, src: &str) -> Option<Node<'t>> {
    let name = src[alias.byte_range()].strip_prefix('*')?;
    let mut found = None;
    walk(root(alias), |n| {
        if n.start_byte() >= alias.start_byte() {
            return Walk::Stop;
        }
        if n.kind() == "anchor" && src[n.byte_range()].strip_prefix('&') == Some(name) {
            found = n.parent().and_then(content);
        }
        Walk::Descend
    });
    found
}

/// What [`walk`] does after visiting a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Walk {
    /// Visit the node's children.
    Descend,
    /// Go on with the next sibling.
    Skip,
    /// End the walk.
    Stop,
}

/// Visit `node` and its named descendants in document order with one tree
/// cursor (the fastest way through a tree-sitter tree).
pub fn walk<'t>(node: Node<'t>, mut visit: impl FnMut(Node<'t>) -> Walk) {
    let mut cursor = node.walk();
    loop {
        let n = cursor.node();
        let next = if n.is_named() { visit(n) } else { Walk::Skip };
        if next == Walk::Stop {
            return;
        }
        if next == Walk::Descend && cursor.goto_first_child() {
            continue;
        }
        while !cursor.goto_next_sibling() {
            if !cursor.goto_parent() || cursor.node() == node {
                return;
            }
        }
    }
}

/// Every `comment` node under `node`, in document order.
pub fn comments<'t>(node: Node<'t>) -> Vec<Node<'t>> {
    let mut out = Vec::new();
    walk(node, |n| {
        if n.kind() == "comment" {
            out.push(n);
            Walk::Skip
        } else {
            Walk::Descend
        }
    });
    out
}

/// A key written twice in one mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Duplicate {
    pub key: String,
    /// Byte offsets of the second occurrence and of the first.
    pub offset: usize,
    pub first: usize,
}

/// Duplicate keys anywhere under `node`: returns the offset of the second
/// occurrence and a message naming the first one's line.
pub fn find_duplicate_key(node: Node, src: &str) -> Option<SyntaxError> {
    let dup = duplicate_key(node, src)?;
    let line = src[..dup.first.min(src.len())].matches('\n').count() + 1;
    Some(SyntaxError {
        offset: dup.offset,
        msg: format!(
            "duplicate key {:?} (first defined on line {line}): remove one of them",
            dup.key
        ),
    })
}

/// The first key written twice in one mapping anywhere under `node`.
pub fn duplicate_key(node: Node, src: &str) -> Option<Duplicate> {
    // One cursor walk (the fastest way through a tree-sitter tree), with a
    // stack of the keys seen in each open mapping.
    let mut cursor = node.walk();
    let mut open: Vec<(usize, Keys)> = Vec::new();
    let mut depth = 0usize;
    loop {
        let n = cursor.node();
        if is_mapping(n) {
            open.push((depth, Keys::default()));
        } else if is_pair(n) {
            if let (Some(k), Some((_, seen))) = (pair_key(n), open.last_mut()) {
                if let Some(key) = key_cow(k, src) {
                    if let Some(first) = seen.insert(key.clone(), k, src) {
                        return Some(Duplicate {
                            key: key.to_string(),
                            offset: k.start_byte(),
                            first: first.start_byte(),
                        });
                    }
                }
            }
        }
        if cursor.goto_first_child() {
            depth += 1;
            continue;
        }
        loop {
            if open.last().is_some_and(|(d, _)| *d == depth) {
                open.pop();
            }
            if cursor.goto_next_sibling() {
                break;
            }
            if !cursor.goto_parent() {
                return None;
            }
            depth -= 1;
        }
    }
}

/// The keys of one mapping: a short list searched in order, indexed by a
/// hash map once it grows (a mapping of 100,000 keys stays linear). The
/// index holds a hash of each key and its node's number, not the key's
/// text and node (a quarter of the memory of a huge mapping): a key whose
/// hash is there is compared with the text of that node's key.
#[derive(Default)]
struct Keys<'s, 't> {
    list: Vec<(std::borrow::Cow<'s, str>, Node<'t>)>,
    index: Option<(
        std::collections::hash_map::RandomState,
        std::collections::HashMap<u64, u32>,
    )>,
    /// Keys whose hash another key had (in practice never).
    collided: Vec<(std::borrow::Cow<'s, str>, Node<'t>)>,
}

impl<'s, 't> Keys<'s, 't> {
    /// Add a key (the text of the key node `node` of `src`); the node of its
    /// first occurrence when it was there already.
    fn insert(
        &mut self,
        key: std::borrow::Cow<'s, str>,
        node: Node<'t>,
        src: &'s str,
    ) -> Option<Node<'t>> {
        use std::hash::BuildHasher;
        if let Some((hasher, index)) = &mut self.index {
            return match index.entry(hasher.hash_one(&key)) {
                std::collections::hash_map::Entry::Vacant(e) => {
                    e.insert(node.number());
                    None
                }
                std::collections::hash_map::Entry::Occupied(e) => {
                    let first = node.numbered(*e.get())?;
                    if key_cow(first, src).is_some_and(|k| k == key) {
                        return Some(first);
                    }
                    if let Some((_, first)) = self.collided.iter().find(|(s, _)| *s == key) {
                        return Some(*first);
                    }
                    self.collided.push((key, node));
                    None
                }
            };
        }
        if let Some((_, first)) = self.list.iter().find(|(s, _)| *s == key) {
            return Some(*first);
        }
        self.list.push((key, node));
        if self.list.len() > 16 {
            let list = std::mem::take(&mut self.list);
            self.index = Some(Default::default());
            for (k, n) in list {
                self.insert(k, n, src);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn top(tree: &Tree) -> Node<'_> {
        let doc = tree.root_node().named_child(0).unwrap();
        content(doc).unwrap()
    }

    #[test]
    fn kind_ids_name_the_grammars_kinds() {
        // every kind tree-sitter-yaml gives these nodes keeps its name
        let src = "%YAML 1.2\n---\n# c\na: &x !t 'q'\nb: \"d\"\nc: [1, {e: ~}]\nf:\n- |\n  g\n";
        let tree = parse(src).unwrap();
        let mut named = std::collections::BTreeSet::new();
        walk(tree.root_node(), |n| {
            named.insert(n.kind());
            Walk::Descend
        });
        for kind in [
            "document",
            "block_node",
            "flow_node",
            "plain_scalar",
            "null_scalar",
            "single_quote_scalar",
            "double_quote_scalar",
            "block_scalar",
            "block_mapping",
            "flow_mapping",
            "block_mapping_pair",
            "flow_pair",
            "block_sequence",
            "flow_sequence",
            "block_sequence_item",
            "comment",
            "tag",
            "anchor",
            "yaml_directive",
        ] {
            assert!(named.contains(kind), "{kind} missing from {named:?}");
        }
        let lang: tree_sitter::Language = tree_sitter_yaml::LANGUAGE.into();
        for &(name, is_named) in crate::yaml::tree::KINDS {
            if name != "_" && name != "ERROR" {
                assert!(lang.id_for_node_kind(name, is_named) != 0, "{name}");
            }
        }
    }

    #[test]
    fn mappings_and_scalars_decode() {
        let src = "a: plain\nb: 'it''s'\nc: \"x\\ty\"\nd: [1, {e: f}]\ng:\n";
        let tree = parse(src).unwrap();
        let map = top(&tree);
        let keys: Vec<String> = pairs(map)
            .iter()
            .map(|p| key_text(p.key, src).unwrap())
            .collect();
        assert_eq!(keys, ["a", "b", "c", "d", "g"]);
        assert_eq!(
            scalar_text(get_value(map, src, "a").unwrap(), src).unwrap(),
            "plain"
        );
        assert_eq!(
            scalar_text(get_value(map, src, "b").unwrap(), src).unwrap(),
            "it's"
        );
        assert_eq!(
            scalar_text(get_value(map, src, "c").unwrap(), src).unwrap(),
            "x\ty"
        );
        assert_eq!(items(get_value(map, src, "d").unwrap()).len(), 2);
        assert!(get_value(map, src, "g").is_none());
    }

    #[test]
    fn walk_visits_named_nodes_in_order_and_stays_inside() {
        let src = "a: [x, y]\nb: z # c\n";
        let tree = parse(src).unwrap();
        let map = top(&tree);
        let first = pairs(map)[0].node;
        let mut seen = Vec::new();
        walk(first, |n| {
            if is_scalar(n) {
                seen.push(&src[n.byte_range()]);
            }
            Walk::Descend
        });
        assert_eq!(seen, ["a", "x", "y"]);
        let mut all = Vec::new();
        walk(tree.root_node(), |n| {
            if n.kind() == "comment" {
                all.push(&src[n.byte_range()]);
            }
            Walk::Descend
        });
        assert_eq!(all, ["# c"]);
    }

    #[test]
    fn duplicate_keys_are_found() {
        let src = "a: 1\nb:\n  x: 1\n  x: 2\n";
        let tree = parse(src).unwrap();
        let err = find_duplicate_key(tree.root_node(), src).unwrap();
        assert_eq!(err.offset, src.rfind("x:").unwrap());
        assert!(err.msg.contains("line 3"), "{}", err.msg);
    }

    #[test]
    fn duplicate_keys_are_found_in_big_mappings() {
        // past the short list (hashed keys), block and flow, a key written
        // two ways; and no false duplicate among many keys
        // 2,000 entries `kN: 1`, joined by `sep`
        let entries = |sep: &str| {
            (0..2000)
                .map(|i| format!("k{i}: 1"))
                .collect::<Vec<_>>()
                .join(sep)
        };
        for (text, dup) in [
            (format!("{}\n'k57': x\n", entries("\n")), Some("'k57'")),
            (
                format!("{{{}, \"k1999\": 2}}\n", entries(", ")),
                Some("\"k1999\""),
            ),
            (format!("{}\n", entries("\n")), None),
        ] {
            let tree = parse(&text).unwrap();
            let found = duplicate_key(tree.root_node(), &text);
            match dup {
                Some(second) => {
                    let d = found.expect("a duplicate");
                    assert_eq!(d.offset, text.rfind(second).unwrap());
                    let name = &second[1..second.len() - 1];
                    assert_eq!(d.first, text.find(&format!("{name}: 1")).unwrap());
                }
                None => assert!(found.is_none(), "{found:?}"),
            }
        }
    }

    #[test]
    fn syntax_errors_have_offsets() {
        let err = parse("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(err.offset <= 15, "{err:?}");
        assert!(parse("a:\n\t- b\n").is_err());
    }
}
