//! YAML with exact byte spans (tree-sitter) and plain values (saphyr).
pub mod value;
