//! The syntax error every YAML reader here reports: a message at a byte
//! offset of the text, turned into `FILE:LINE:COL` by the caller.

/// A syntax problem at a byte offset of the parsed text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub offset: usize,
    pub msg: String,
}
