//! Documents are planned and checked independently of each other: split
//! them into contiguous ranges of about equal size and run one range per
//! core, results in document order.
use std::ops::Range;

use crate::yaml::stream::Chunk;

/// Below this many bytes a text is handled on the calling thread (starting
/// threads costs more than it saves).
const PARALLEL_MIN_BYTES: usize = 48 * 1024;
/// The smallest share of a text worth its own thread.
const MIN_PART_BYTES: usize = 24 * 1024;

/// How many threads to use for a text of `bytes` bytes.
fn parts_for(bytes: usize) -> usize {
    if bytes < PARALLEL_MIN_BYTES {
        return 1;
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    cores.min(8).min(bytes / MIN_PART_BYTES).max(1)
}

/// Contiguous ranges of `chunks`, at most `parts` of them, of about equal
/// byte size, covering every chunk in order.
fn ranges(chunks: &[Chunk], parts: usize) -> Vec<Range<usize>> {
    let total: usize = chunks.iter().map(|c| c.end - c.start).sum();
    let mut out = Vec::with_capacity(parts);
    let mut start = 0;
    let mut acc = 0;
    for (i, c) in chunks.iter().enumerate() {
        acc += c.end - c.start;
        let filled = out.len() + 1;
        if filled < parts && acc * parts >= total * filled {
            out.push(start..i + 1);
            start = i + 1;
        }
    }
    if start < chunks.len() || out.is_empty() {
        out.push(start..chunks.len());
    }
    out
}

/// `f` over ranges of `chunks`, in parallel when the text is big enough;
/// the results in document order.
pub(crate) fn map_ranges<T: Send>(
    chunks: &[Chunk],
    f: impl Fn(Range<usize>) -> T + Sync,
) -> Vec<T> {
    let bytes = chunks.last().map_or(0, |c| c.end) - chunks.first().map_or(0, |c| c.start);
    let ranges = ranges(chunks, parts_for(bytes));
    if ranges.len() == 1 {
        return ranges.into_iter().map(f).collect();
    }
    let f = &f;
    std::thread::scope(|scope| {
        let mut ranges = ranges.into_iter();
        let first = ranges.next().expect("at least one range");
        let handles: Vec<_> = ranges.map(|r| scope.spawn(move || f(r))).collect();
        let mut out = vec![f(first)];
        for h in handles {
            match h.join() {
                Ok(v) => out.push(v),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(sizes: &[usize]) -> Vec<Chunk> {
        let mut pos = 0;
        sizes
            .iter()
            .map(|&n| {
                let c = Chunk {
                    start: pos,
                    end: pos + n,
                };
                pos += n;
                c
            })
            .collect()
    }

    #[test]
    fn ranges_cover_everything_in_order() {
        for parts in 1..5 {
            for sizes in [
                vec![10; 7],
                vec![1, 100, 1, 1],
                vec![5],
                vec![],
                vec![0, 0, 3],
            ] {
                let cs = chunks(&sizes);
                let rs = ranges(&cs, parts);
                assert!(rs.len() <= parts.max(1), "{parts} {sizes:?} {rs:?}");
                let mut next = 0;
                for r in &rs {
                    assert_eq!(r.start, next, "{parts} {sizes:?} {rs:?}");
                    next = r.end;
                }
                assert_eq!(next, cs.len(), "{parts} {sizes:?} {rs:?}");
            }
        }
        let rs = ranges(&chunks(&[10; 8]), 2);
        assert_eq!(rs, vec![0..4, 4..8]);
    }

    #[test]
    fn results_come_back_in_order() {
        let cs = chunks(&[4096; 64]);
        let out = map_ranges(&cs, |r| r);
        let flat: Vec<usize> = out.into_iter().flatten().collect();
        assert_eq!(flat, (0..64).collect::<Vec<_>>());
    }
}
