//! Apply planned splices to a text.
use super::plan::Change;

/// Apply `changes` (sorted here by position, insertions at one spot kept in
/// plan order). Returns the new text and, per change in the new order, the
/// offset where its text starts in the output. Overlapping changes are a
/// planning bug and are refused.
pub fn apply(text: &str, changes: &mut [Change]) -> Result<(String, Vec<usize>), String> {
    changes.sort_by_key(|c| (c.splice.start, c.splice.end));
    let mut out = String::with_capacity(
        text.len() + changes.iter().map(|c| c.splice.text.len()).sum::<usize>(),
    );
    let mut offsets = Vec::with_capacity(changes.len());
    let mut pos = 0;
    for c in changes.iter() {
        let s = &c.splice;
        if s.start < pos || s.end < s.start || s.end > text.len() {
            return Err(format!(
                "overlapping edits at byte {} in {}",
                s.start, c.object
            ));
        }
        out.push_str(&text[pos..s.start]);
        offsets.push(out.len());
        out.push_str(&s.text);
        pos = s.end;
    }
    out.push_str(&text[pos..]);
    Ok((out, offsets))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::patch::plan::Splice;

    fn change(start: usize, end: usize, text: &str) -> Change {
        Change {
            splice: Splice {
                start,
                end,
                text: text.into(),
            },
            object: "X/y".into(),
            namespace: None,
            what: String::new(),
        }
    }

    #[test]
    fn splices_apply_in_order() {
        let mut cs = vec![change(4, 5, "Z"), change(0, 0, ">"), change(2, 2, "+")];
        let (out, offs) = apply("abcdef", &mut cs).unwrap();
        assert_eq!(out, ">ab+cdZf");
        assert_eq!(offs, vec![0, 3, 6]);
    }

    #[test]
    fn overlaps_are_refused() {
        let mut cs = vec![change(0, 3, "x"), change(2, 4, "y")];
        assert!(apply("abcdef", &mut cs).is_err());
    }
}
