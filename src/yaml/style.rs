//! The local layout of a document, so inserted lines look like their
//! neighbours: indentation step, sequence dash placement, quoting.
use crate::yaml::tree::Node;

use super::cst;

/// How a document lays out nested blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    /// Columns between a key and its nested mapping's keys.
    pub step: usize,
    /// Columns between a key and the `-` of its block sequence (0 = indentless).
    pub dash_offset: usize,
    /// Spaces after `-` (`-   name:` has 3).
    pub dash_spaces: usize,
}

/// What one document shows of its style (each part only if it has an example).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Observed {
    pub step: Option<usize>,
    pub seq: Option<(usize, usize)>,
}

impl Observed {
    /// Look at a document (or inner document) tree.
    pub fn of(root: Node, src: &str) -> Observed {
        let mut seen = Observed::default();
        cst::walk(root, |n| {
            if seen.step.is_some() && seen.seq.is_some() {
                return cst::Walk::Stop;
            }
            let ids = cst::ids();
            if n.kind_id() == ids.block_mapping_pair {
                if let (Some(key), Some(value)) = (cst::pair_key(n), cst::pair_value(n)) {
                    if let Some(v) = cst::content(value) {
                        let same_line = v.start_position().row == key.start_position().row;
                        if !same_line && v.kind_id() == ids.block_mapping && seen.step.is_none() {
                            let step = cst::column(v).saturating_sub(cst::column(key));
                            if step > 0 {
                                seen.step = Some(step);
                            }
                        }
                        if !same_line && v.kind_id() == ids.block_sequence && seen.seq.is_none() {
                            if let Some(item) = cst::block_items(v).first() {
                                seen.seq = Some((
                                    cst::column(*item).saturating_sub(cst::column(key)),
                                    dash_spaces(*item, src),
                                ));
                            }
                        }
                    }
                }
            }
            cst::Walk::Descend
        });
        seen
    }

    /// Fill what this document lacks from `fallback` (e.g. the whole file).
    pub fn or(self, fallback: Observed) -> Observed {
        Observed {
            step: self.step.or(fallback.step),
            seq: self.seq.or(fallback.seq),
        }
    }

    pub fn style(self) -> Style {
        let step = self.step.unwrap_or(2);
        let (dash_offset, dash_spaces) = self.seq.unwrap_or((step, 1));
        Style {
            step,
            dash_offset,
            dash_spaces,
        }
    }
}

/// A document's style, worked out only when an edit asks for it (most
/// edits replace a scalar and need none): what the first of `looks` shows,
/// completed from the next ones and then from `fallback`.
pub struct LazyStyle<'t> {
    looks: [Option<(Node<'t>, &'t str)>; 2],
    fallback: Observed,
    style: std::cell::OnceCell<Style>,
}

impl<'t> LazyStyle<'t> {
    /// The style of the tree `root` of `src`, completed from `fallback`.
    pub fn of(root: Node<'t>, src: &'t str, fallback: Observed) -> Self {
        LazyStyle {
            looks: [Some((root, src)), None],
            fallback,
            style: std::cell::OnceCell::new(),
        }
    }

    /// The style of `root` of `src`, then of `outer` of `outer_src`, then
    /// `fallback` (a document inside a block scalar).
    pub fn nested(
        (root, src): (Node<'t>, &'t str),
        (outer, outer_src): (Node<'t>, &'t str),
        fallback: Observed,
    ) -> Self {
        LazyStyle {
            looks: [Some((root, src)), Some((outer, outer_src))],
            fallback,
            style: std::cell::OnceCell::new(),
        }
    }

    /// A style known already.
    pub fn known(style: Observed) -> Self {
        LazyStyle {
            looks: [None, None],
            fallback: style,
            style: std::cell::OnceCell::new(),
        }
    }

    pub fn get(&self) -> Style {
        *self.style.get_or_init(|| {
            let mut seen = Observed::default();
            for (root, src) in self.looks.iter().flatten() {
                if seen.step.is_some() && seen.seq.is_some() {
                    break;
                }
                seen = seen.or(Observed::of(*root, src));
            }
            seen.or(self.fallback).style()
        })
    }
}

impl std::fmt::Debug for LazyStyle<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LazyStyle")
            .field("style", &self.style.get())
            .finish_non_exhaustive()
    }
}

/// Spaces between a block sequence item's `-` and its content on the same line.
pub fn dash_spaces(item: Node, src: &str) -> usize {
    let after = &src[item.start_byte() + 1..item.end_byte()];
    let spaces = after.len() - after.trim_start_matches(' ').len();
    if after[spaces..].starts_with(['\n', '\r']) || after.len() == spaces {
        1
    } else {
        spaces.max(1)
    }
}

pub use super::scalar::{double_quoted, is_plain_safe, plain_or_quoted, single_quoted};

#[cfg(test)]
mod tests {
    use super::*;

    fn observed(src: &str) -> Observed {
        let tree = cst::parse(src).unwrap();
        Observed::of(tree.root_node(), src)
    }

    #[test]
    fn infers_step_and_sequence_style() {
        let o = observed("a:\n    b: 1\nl:\n-   x: 1\n");
        assert_eq!(o.step, Some(4));
        assert_eq!(o.seq, Some((0, 3)));
        let o = observed("a:\n  b: 1\nl:\n  - x\n");
        assert_eq!(
            o.style(),
            Style {
                step: 2,
                dash_offset: 2,
                dash_spaces: 1
            }
        );
        assert_eq!(
            observed("a: 1\n").style(),
            Style {
                step: 2,
                dash_offset: 2,
                dash_spaces: 1
            }
        );
        assert_eq!(observed("a: 1\n").or(o).style(), o.style());
    }
}
