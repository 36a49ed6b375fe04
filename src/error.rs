//! Errors that point at a place in an input file: `FILE:LINE:COL: message`.
use std::fmt;

/// An error located in an input file. Lines and columns are 1-based; the
/// column counts characters, as editors do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    pub path: String,
    pub line: usize,
    pub col: usize,
    pub msg: String,
}

impl Located {
    pub fn new(path: impl Into<String>, line: usize, col: usize, msg: impl Into<String>) -> Self {
        Located {
            path: path.into(),
            line,
            col,
            msg: msg.into(),
        }
    }
}

impl fmt::Display for Located {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: {}", self.path, self.line, self.col, self.msg)
    }
}

impl std::error::Error for Located {}

/// Render any error the way the command line prints it: located errors as
/// `FILE:LINE:COL: message`, everything else as `error: message: cause`.
pub fn render(err: &anyhow::Error) -> String {
    if let Some(loc) = err.downcast_ref::<Located>() {
        return loc.to_string();
    }
    format!("error: {err:#}")
}
