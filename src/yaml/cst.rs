//! A concrete syntax tree with exact byte spans (tree-sitter-yaml), and the
//! few typed views of it the editor needs: mappings, sequences, scalars.
use tree_sitter::{Node, Parser, Tree};

/// A syntax problem at a byte offset of the parsed text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub offset: usize,
    pub msg: String,
}

/// Parse one YAML text (one document, or a whole stream).
pub fn parse(text: &str) -> Result<Tree, SyntaxError> {
    let mut parser = Parser::new();
    parser
        .set_language(&tree_sitter_yaml::LANGUAGE.into())
        .map_err(|e| SyntaxError {
            offset: 0,
            msg: format!("YAML grammar unavailable: {e}"),
        })?;
    let tree = parser.parse(text, None).ok_or_else(|| SyntaxError {
        offset: 0,
        msg: "YAML parser gave up".into(),
    })?;
    let root = tree.root_node();
    if root.has_error() {
        return Err(first_error(root, text));
    }
    Ok(tree)
}

fn first_error(root: Node, text: &str) -> SyntaxError {
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
    } else {
        format!("invalid YAML near {:?}", near.trim())
    };
    SyntaxError { offset, msg }
}

/// Skip `block_node`/`flow_node` wrappers, tags and anchors: the node that
/// holds the content (mapping, sequence, scalar, alias). `None` for an empty node.
pub fn content(node: Node) -> Option<Node> {
    match node.kind() {
        "block_node" | "flow_node" | "document" => {
            let mut cursor = node.walk();
            let inner = node
                .named_children(&mut cursor)
                .filter(|c| {
                    !matches!(
                        c.kind(),
                        "tag"
                            | "anchor"
                            | "comment"
                            | "yaml_directive"
                            | "tag_directive"
                            | "reserved_directive"
                    )
                })
                .last();
            inner.and_then(content)
        }
        "plain_scalar" => {
            let mut cursor = node.walk();
            let scalar = node.named_children(&mut cursor).next();
            match scalar {
                Some(s) if s.kind() == "null_scalar" => None,
                _ => Some(node),
            }
        }
        _ => Some(node),
    }
}

pub fn is_mapping(node: Node) -> bool {
    matches!(node.kind(), "block_mapping" | "flow_mapping")
}

pub fn is_sequence(node: Node) -> bool {
    matches!(node.kind(), "block_sequence" | "flow_sequence")
}

pub fn is_scalar(node: Node) -> bool {
    matches!(
        node.kind(),
        "plain_scalar" | "single_quote_scalar" | "double_quote_scalar" | "block_scalar"
    )
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
        .filter(|c| matches!(c.kind(), "block_mapping_pair" | "flow_pair"))
        .filter_map(|p| {
            let key = p.child_by_field_name("key")?;
            Some(Pair {
                node: p,
                key,
                value: p.child_by_field_name("value"),
            })
        })
        .collect()
}

/// The entry of `map` whose key decodes to `key`.
pub fn get<'t>(map: Node<'t>, src: &str, key: &str) -> Option<Pair<'t>> {
    pairs(map)
        .into_iter()
        .find(|p| key_text(p.key, src).as_deref() == Some(key))
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
            .filter(|c| c.kind() == "block_sequence_item")
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
        .filter(|c| c.kind() == "block_sequence_item")
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
    let raw = &src[node.byte_range()];
    match node.kind() {
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

/// Every `comment` node under `node`, in document order.
pub fn comments<'t>(node: Node<'t>) -> Vec<Node<'t>> {
    let mut out = Vec::new();
    let mut cursor = node.walk();
    let mut stack = vec![node];
    while let Some(n) = stack.pop() {
        if n.kind() == "comment" {
            out.push(n);
            continue;
        }
        let children: Vec<Node> = n.named_children(&mut cursor).collect();
        stack.extend(children.into_iter().rev());
    }
    out
}

/// Duplicate keys anywhere under `node`: returns the offset of the second
/// occurrence and a message naming the first one's line.
pub fn find_duplicate_key(node: Node, src: &str) -> Option<SyntaxError> {
    let mut cursor = node.walk();
    let mut stack = vec![node];
    while let Some(n) = stack.pop() {
        if is_mapping(n) {
            let mut seen: std::collections::HashMap<String, Node> =
                std::collections::HashMap::new();
            for pair in pairs(n) {
                let Some(key) = key_text(pair.key, src) else {
                    continue;
                };
                if let Some(first) = seen.get(&key) {
                    return Some(SyntaxError {
                        offset: pair.key.start_byte(),
                        msg: format!(
                            "duplicate key {key:?} (first defined on line {}): remove one of them",
                            first.start_position().row + 1
                        ),
                    });
                }
                seen.insert(key, pair.key);
            }
        }
        let children: Vec<Node> = n.named_children(&mut cursor).collect();
        stack.extend(children.into_iter().rev());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn top(tree: &Tree) -> Node<'_> {
        let doc = tree.root_node().named_child(0).unwrap();
        content(doc).unwrap()
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
    fn duplicate_keys_are_found() {
        let src = "a: 1\nb:\n  x: 1\n  x: 2\n";
        let tree = parse(src).unwrap();
        let err = find_duplicate_key(tree.root_node(), src).unwrap();
        assert_eq!(err.offset, src.rfind("x:").unwrap());
        assert!(err.msg.contains("line 3"), "{}", err.msg);
    }

    #[test]
    fn syntax_errors_have_offsets() {
        let err = parse("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(err.offset <= 15, "{err:?}");
        assert!(parse("a:\n\t- b\n").is_err());
    }
}
