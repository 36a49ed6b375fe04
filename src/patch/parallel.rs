//! Documents are planned and checked independently of each other: split
//! them into contiguous ranges of about equal size, let one thread per core
//! take the next range until none is left, and return the results in
//! document order.
use std::ops::Range;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::yaml::stream::Chunk;

/// Below this many bytes a text is handled on the calling thread (starting
/// threads costs more than it saves).
const PARALLEL_MIN_BYTES: usize = 48 * 1024;
/// The smallest share of a text worth its own thread.
const MIN_PART_BYTES: usize = 24 * 1024;
/// Ranges per thread: documents differ in cost (one that no edit targets
/// is only checked), so equal byte shares do not take equal time; smaller
/// ranges taken in turn let the threads finish together.
const RANGES_PER_THREAD: usize = 8;
/// The smallest range worth handing out on its own.
const MIN_RANGE_BYTES: usize = 8 * 1024;

/// How many threads to use for a text of `bytes` bytes.
fn threads_for(bytes: usize) -> usize {
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

/// `f` over ranges of `chunks`, on several threads when the text is big
/// enough; the results in document order.
pub(crate) fn map_ranges<T: Send>(
    chunks: &[Chunk],
    f: impl Fn(Range<usize>) -> T + Sync,
) -> Vec<T> {
    let bytes = chunks.last().map_or(0, |c| c.end) - chunks.first().map_or(0, |c| c.start);
    let threads = threads_for(bytes);
    if threads == 1 {
        return vec![f(0..chunks.len())];
    }
    let parts = (threads * RANGES_PER_THREAD)
        .min(bytes / MIN_RANGE_BYTES)
        .max(threads);
    let ranges = ranges(chunks, parts);
    let next = AtomicUsize::new(0);
    let results: Vec<Mutex<Option<T>>> = ranges.iter().map(|_| Mutex::new(None)).collect();
    let work = || {
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(range) = ranges.get(i) else { break };
            let value = f(range.clone());
            *results[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(value);
        }
    };
    std::thread::scope(|scope| {
        let handles: Vec<_> = (1..threads).map(|_| scope.spawn(work)).collect();
        work();
        for h in handles {
            if let Err(panic) = h.join() {
                std::panic::resume_unwind(panic);
            }
        }
    });
    results
        .into_iter()
        .map(|slot| {
            slot.into_inner()
                .unwrap_or_else(|e| e.into_inner())
                .expect("every range was handled")
        })
        .collect()
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
