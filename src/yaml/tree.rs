//! The span tree the editor reads: every node of a YAML text with its kind,
//! exact byte range, position and (for pairs) which child is the key and
//! which the value. Nodes live in one flat vector (cheap to build, to walk
//! and to drop); [`Node`] is a copyable handle into it.
//!
//! The kinds, fields and ranges are those of the tree-sitter-yaml grammar,
//! so a tree can come from tree-sitter ([`from_tree_sitter`]) or from the
//! project's own span scanner (`super::scan`), which is checked against it.
use std::ops::Range;

/// Kind names, indexed by kind id. Named kinds first, then the anonymous
/// tokens the editor looks at. Any other kind reads as `"_"` / `"'_"`.
pub const KINDS: &[(&str, bool)] = &[
    ("_", true), // 0: a named kind the editor never asks for
    ("stream", true),
    ("document", true),
    ("block_node", true),
    ("flow_node", true),
    ("block_mapping", true),
    ("block_mapping_pair", true),
    ("block_sequence", true),
    ("block_sequence_item", true),
    ("flow_mapping", true),
    ("flow_pair", true),
    ("flow_sequence", true),
    ("plain_scalar", true),
    ("string_scalar", true),
    ("null_scalar", true),
    ("single_quote_scalar", true),
    ("double_quote_scalar", true),
    ("block_scalar", true),
    ("alias", true),
    ("anchor", true),
    ("tag", true),
    ("comment", true),
    ("yaml_directive", true),
    ("tag_directive", true),
    ("reserved_directive", true),
    ("ERROR", true),
    ("_", false), // 26: an anonymous token the editor never asks for
    (":", false),
    ("-", false),
    ("?", false),
    (",", false),
    ("[", false),
    ("]", false),
    ("{", false),
    ("}", false),
    ("---", false),
    ("...", false),
    ("|", false),
    (">", false),
];

/// Kind ids by name (the index of the name in [`KINDS`]).
pub mod kind {
    pub const OTHER: u16 = 0;
    pub const STREAM: u16 = 1;
    pub const DOCUMENT: u16 = 2;
    pub const BLOCK_NODE: u16 = 3;
    pub const FLOW_NODE: u16 = 4;
    pub const BLOCK_MAPPING: u16 = 5;
    pub const BLOCK_MAPPING_PAIR: u16 = 6;
    pub const BLOCK_SEQUENCE: u16 = 7;
    pub const BLOCK_SEQUENCE_ITEM: u16 = 8;
    pub const FLOW_MAPPING: u16 = 9;
    pub const FLOW_PAIR: u16 = 10;
    pub const FLOW_SEQUENCE: u16 = 11;
    pub const PLAIN_SCALAR: u16 = 12;
    pub const STRING_SCALAR: u16 = 13;
    pub const NULL_SCALAR: u16 = 14;
    pub const SINGLE_QUOTE_SCALAR: u16 = 15;
    pub const DOUBLE_QUOTE_SCALAR: u16 = 16;
    pub const BLOCK_SCALAR: u16 = 17;
    pub const ALIAS: u16 = 18;
    pub const ANCHOR: u16 = 19;
    pub const TAG: u16 = 20;
    pub const COMMENT: u16 = 21;
    pub const YAML_DIRECTIVE: u16 = 22;
    pub const TAG_DIRECTIVE: u16 = 23;
    pub const RESERVED_DIRECTIVE: u16 = 24;
    pub const ERROR: u16 = 25;
    pub const TOKEN: u16 = 26;
    pub const COLON: u16 = 27;
    pub const DASH: u16 = 28;
    pub const QUESTION: u16 = 29;
    pub const COMMA: u16 = 30;
    pub const OPEN_BRACKET: u16 = 31;
    pub const CLOSE_BRACKET: u16 = 32;
    pub const OPEN_BRACE: u16 = 33;
    pub const CLOSE_BRACE: u16 = 34;
    pub const DOC_START: u16 = 35;
    pub const DOC_END: u16 = 36;
    pub const LITERAL: u16 = 37;
    pub const FOLDED: u16 = 38;
}

/// Field ids: which child of a pair is its key and which its value.
pub mod field {
    pub const NONE: u8 = 0;
    pub const KEY: u8 = 1;
    pub const VALUE: u8 = 2;
}

/// The kind id of a kind name (named or not); `None` for an unknown name.
pub fn kind_id_for(name: &str, named: bool) -> Option<u16> {
    KINDS
        .iter()
        .position(|&(n, is_named)| n == name && is_named == named)
        .and_then(|i| u16::try_from(i).ok())
}

const NIL: u32 = u32::MAX;

// what the memory figures in BENCHMARKS.md rest on
const _: () = assert!(std::mem::size_of::<Data>() == 20);

/// One node: 20 bytes (a tree is several times the size of its text, so
/// every byte here counts). Byte offsets are 32-bit, as tree-sitter's are.
#[derive(Debug, Clone, Copy)]
struct Data {
    kind: u8,
    field: u8,
    start: u32,
    end: u32,
    parent: u32,
    /// (The first child, if any, is the next node: nodes are added in
    /// document order, a parent before its children.)
    next: u32,
}

/// A line (row) and byte column, both 0-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Point {
    pub row: usize,
    pub column: usize,
}

/// A parsed text: the nodes in document order (a parent before its
/// children), and where the text's lines start (for positions).
#[derive(Debug, Clone, Default)]
pub struct Tree {
    nodes: Vec<Data>,
    lines: Vec<usize>,
}

impl Tree {
    /// The first child of node `id`, or [`NIL`]: the node after it, when
    /// that node is its child.
    fn first_child(&self, id: u32) -> u32 {
        match self.nodes.get(id as usize + 1) {
            Some(next) if next.parent == id => id + 1,
            _ => NIL,
        }
    }

    /// The `stream` node (the first node added).
    pub fn root_node(&self) -> Node<'_> {
        Node { tree: self, id: 0 }
    }
}

/// Where each line of `text` starts.
fn line_starts(text: &[u8]) -> Vec<usize> {
    let mut starts = Vec::with_capacity(text.len() / 32 + 1);
    starts.push(0);
    starts.extend(
        text.iter()
            .enumerate()
            .filter(|&(_, &c)| c == b'\n')
            .map(|(i, _)| i + 1),
    );
    starts
}

/// Builds a [`Tree`] in document order: `open` a node, add its children,
/// `close` it with its end.
#[derive(Debug, Default)]
pub struct Builder {
    tree: Tree,
    /// The open nodes, innermost last, each with its last child so far
    /// (room for 32 levels: manifests rarely go deeper).
    open: Vec<(u32, u32)>,
}

fn offset(at: usize) -> u32 {
    u32::try_from(at).expect("texts under 4 GiB (the caller checks)")
}

impl Builder {
    /// A builder for the tree of a text of `len` bytes, with room for a
    /// node per 4 bytes (manifests take about one per 3; the vector grows
    /// past that).
    pub fn for_text(len: usize) -> Self {
        let nodes = Vec::with_capacity(len / 4);
        Builder {
            tree: Tree {
                nodes,
                lines: Vec::new(),
            },
            open: Vec::with_capacity(32),
        }
    }

    /// Start a node as the last child of the innermost open node.
    pub fn open(&mut self, kind: u16, field: u8, start: usize) -> u32 {
        let id = u32::try_from(self.tree.nodes.len()).expect("fewer than 2^32 nodes");
        let parent = match self.open.last_mut() {
            Some((parent, last)) => {
                if *last != NIL {
                    self.tree.nodes[*last as usize].next = id;
                }
                *last = id;
                *parent
            }
            None => NIL,
        };
        self.tree.nodes.push(Data {
            kind: u8::try_from(kind).unwrap_or(0),
            field,
            start: offset(start),
            end: offset(start),
            parent,
            next: NIL,
        });
        self.open.push((id, NIL));
        id
    }

    /// End the innermost open node at byte `end`.
    pub fn close(&mut self, end: usize) {
        if let Some((id, _)) = self.open.pop() {
            self.tree.nodes[id as usize].end = offset(end);
        }
    }

    /// End the innermost open node where its last child ends (where it
    /// starts when it has none).
    pub fn close_at_last_child(&mut self) {
        if let Some(&(id, last)) = self.open.last() {
            let end = if last == NIL {
                self.tree.nodes[id as usize].start
            } else {
                self.tree.nodes[last as usize].end
            };
            self.close(end as usize);
        }
    }

    /// A node without children.
    pub fn leaf(&mut self, kind: u16, field: u8, start: usize, end: usize) {
        self.open(kind, field, start);
        self.close(end);
    }

    /// The kind of the innermost open node.
    pub fn top_kind(&self) -> Option<u16> {
        self.open
            .last()
            .map(|&(id, _)| u16::from(self.tree.nodes[id as usize].kind))
    }

    /// The tree, with `lines` where the lines of its text start (0 first).
    pub fn finish(mut self, lines: Vec<usize>) -> Tree {
        while !self.open.is_empty() {
            self.close_at_last_child();
        }
        self.tree.lines = lines;
        self.tree
    }
}

/// One node of a [`Tree`].
#[derive(Clone, Copy)]
pub struct Node<'t> {
    tree: &'t Tree,
    id: u32,
}

impl PartialEq for Node<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id && std::ptr::eq(self.tree, other.tree)
    }
}

impl Eq for Node<'_> {}

impl std::fmt::Debug for Node<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} [{}..{}]",
            self.kind(),
            self.start_byte(),
            self.end_byte()
        )
    }
}

impl<'t> Node<'t> {
    fn data(&self) -> &'t Data {
        &self.tree.nodes[self.id as usize]
    }

    fn at(&self, id: u32) -> Option<Node<'t>> {
        (id != NIL).then_some(Node {
            tree: self.tree,
            id,
        })
    }

    /// The node's number in its tree (see [`Node::numbered`]): 4 bytes to
    /// keep instead of a node.
    pub fn number(&self) -> u32 {
        self.id
    }

    /// The node numbered `n` (by [`Node::number`]) in this node's tree.
    pub fn numbered(&self, n: u32) -> Option<Node<'t>> {
        ((n as usize) < self.tree.nodes.len()).then_some(Node {
            tree: self.tree,
            id: n,
        })
    }

    pub fn kind_id(&self) -> u16 {
        u16::from(self.data().kind)
    }

    pub fn kind(&self) -> &'static str {
        KINDS[usize::from(self.data().kind)].0
    }

    pub fn is_named(&self) -> bool {
        KINDS[usize::from(self.data().kind)].1
    }

    pub fn start_byte(&self) -> usize {
        self.data().start as usize
    }

    pub fn end_byte(&self) -> usize {
        self.data().end as usize
    }

    pub fn byte_range(&self) -> Range<usize> {
        self.start_byte()..self.end_byte()
    }

    pub fn start_position(&self) -> Point {
        let start = self.start_byte();
        let lines = &self.tree.lines;
        let row = lines.partition_point(|&s| s <= start).saturating_sub(1);
        Point {
            row,
            column: start - lines.get(row).copied().unwrap_or(0),
        }
    }

    /// Which field of its parent this node is (see [`field`]).
    pub fn field_id(&self) -> u8 {
        self.data().field
    }

    pub fn parent(&self) -> Option<Node<'t>> {
        self.at(self.data().parent)
    }

    pub fn next_sibling(&self) -> Option<Node<'t>> {
        self.at(self.data().next)
    }

    /// The children, named or not, in order.
    pub fn all_children(&self) -> Children<'t> {
        Children {
            tree: self.tree,
            next: self.tree.first_child(self.id),
        }
    }

    /// The named children in order.
    pub fn named(&self) -> impl Iterator<Item = Node<'t>> + use<'t> {
        self.all_children().filter(Node::is_named)
    }

    pub fn named_child(&self, i: usize) -> Option<Node<'t>> {
        self.named().nth(i)
    }

    /// The child in field `field` (see [`field`]).
    pub fn child_by_field_id(&self, field: u8) -> Option<Node<'t>> {
        self.all_children().find(|c| c.data().field == field)
    }

    pub fn child_by_field_name(&self, name: &str) -> Option<Node<'t>> {
        match name {
            "key" => self.child_by_field_id(field::KEY),
            "value" => self.child_by_field_id(field::VALUE),
            _ => None,
        }
    }

    /// A cursor for a depth-first walk of this node and its descendants.
    pub fn walk(&self) -> TreeCursor<'t> {
        TreeCursor {
            tree: self.tree,
            root: self.id,
            at: self.id,
        }
    }

    /// Tree-sitter's calling convention (the cursor is not needed here).
    pub fn children(&self, _cursor: &mut TreeCursor<'t>) -> Children<'t> {
        self.all_children()
    }

    /// Tree-sitter's calling convention (the cursor is not needed here).
    pub fn named_children(
        &self,
        _cursor: &mut TreeCursor<'t>,
    ) -> impl Iterator<Item = Node<'t>> + use<'t> {
        self.named()
    }
}

/// The children of a node, in order.
#[derive(Clone)]
pub struct Children<'t> {
    tree: &'t Tree,
    next: u32,
}

impl<'t> Iterator for Children<'t> {
    type Item = Node<'t>;

    fn next(&mut self) -> Option<Node<'t>> {
        if self.next == NIL {
            return None;
        }
        let node = Node {
            tree: self.tree,
            id: self.next,
        };
        self.next = node.data().next;
        Some(node)
    }
}

/// A depth-first cursor that never leaves the node it was made from.
pub struct TreeCursor<'t> {
    tree: &'t Tree,
    root: u32,
    at: u32,
}

impl<'t> TreeCursor<'t> {
    pub fn node(&self) -> Node<'t> {
        Node {
            tree: self.tree,
            id: self.at,
        }
    }

    /// Move to `to` (a link of the current node) unless it is absent.
    fn go(&mut self, to: u32) -> bool {
        if to == NIL {
            return false;
        }
        self.at = to;
        true
    }

    pub fn goto_first_child(&mut self) -> bool {
        self.go(self.tree.first_child(self.at))
    }

    pub fn goto_next_sibling(&mut self) -> bool {
        self.at != self.root && self.go(self.tree.nodes[self.at as usize].next)
    }

    pub fn goto_parent(&mut self) -> bool {
        self.at != self.root && self.go(self.tree.nodes[self.at as usize].parent)
    }
}

/// The grammar's kind ids mapped to ours, and its key and value field ids
/// (looked up once).
struct TreeSitterIds {
    map: Vec<u16>,
    key: Option<u16>,
    value: Option<u16>,
}

fn tree_sitter_ids() -> &'static TreeSitterIds {
    static IDS: std::sync::OnceLock<TreeSitterIds> = std::sync::OnceLock::new();
    IDS.get_or_init(|| {
        let lang: tree_sitter::Language = tree_sitter_yaml::LANGUAGE.into();
        let map = (0..lang.node_kind_count())
            .map(|id| {
                let Ok(id) = u16::try_from(id) else {
                    return kind::OTHER;
                };
                let named = lang.node_kind_is_named(id);
                let name = lang.node_kind_for_id(id).unwrap_or("_");
                kind_id_for(name, named).unwrap_or(if named { kind::OTHER } else { kind::TOKEN })
            })
            .collect();
        TreeSitterIds {
            map,
            key: lang.field_id_for_name("key").map(|f| f.get()),
            value: lang.field_id_for_name("value").map(|f| f.get()),
        }
    })
}

/// The same tree from a tree-sitter parse of `text`. Kinds the editor never
/// asks for become [`kind::OTHER`] / [`kind::TOKEN`]; left out, as the span
/// scanner leaves them out: flow punctuation (`[`, `]`, `{`, `}`, `,`), a
/// plain scalar's type (but null), what is inside quoted scalars, aliases,
/// anchors and tags.
pub fn from_tree_sitter(tree: &tree_sitter::Tree, text: &str) -> Tree {
    let TreeSitterIds { map, key, value } = tree_sitter_ids();
    let mut b = Builder::for_text(text.len());
    let mut cursor = tree.walk();
    loop {
        let n = cursor.node();
        let kind = if n.is_error() {
            kind::ERROR
        } else {
            map.get(usize::from(n.kind_id()))
                .copied()
                .unwrap_or(kind::OTHER)
        };
        let skip = match b.top_kind() {
            Some(kind::PLAIN_SCALAR) => kind != kind::NULL_SCALAR,
            Some(
                kind::SINGLE_QUOTE_SCALAR
                | kind::DOUBLE_QUOTE_SCALAR
                | kind::ALIAS
                | kind::ANCHOR
                | kind::TAG,
            ) => true,
            _ => matches!(
                kind,
                kind::OPEN_BRACKET
                    | kind::CLOSE_BRACKET
                    | kind::OPEN_BRACE
                    | kind::CLOSE_BRACE
                    | kind::COMMA
            ),
        };
        let mut descended = false;
        if !skip {
            let field = match cursor.field_id().map(|f| f.get()) {
                f if f.is_some() && f == *key => field::KEY,
                f if f.is_some() && f == *value => field::VALUE,
                _ => field::NONE,
            };
            b.open(kind, field, n.start_byte());
            if cursor.goto_first_child() {
                descended = true;
            } else {
                b.close(n.end_byte());
            }
        }
        if descended {
            continue;
        }
        loop {
            if cursor.goto_next_sibling() {
                break;
            }
            if !cursor.goto_parent() {
                return b.finish(line_starts(text.as_bytes()));
            }
            b.close(cursor.node().end_byte());
        }
    }
}
