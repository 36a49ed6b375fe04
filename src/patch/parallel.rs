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

/// Whether work over `bytes` bytes is big enough for a thread of its own.
pub(crate) fn worth_a_thread(bytes: usize) -> bool {
    threads_for(bytes) > 1
}

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
        let here = placement::current_cpu();
        let handles: Vec<_> = (1..threads)
            .map(|_| spawn_elsewhere(scope, here, work))
            .collect();
        let_workers_move(here);
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

/// `a` on a second thread while the calling thread runs `b`; both results.
pub(crate) fn join<A: Send, B>(a: impl FnOnce() -> A + Send, b: impl FnOnce() -> B) -> (A, B) {
    std::thread::scope(|scope| {
        let here = placement::current_cpu();
        let other = spawn_elsewhere(scope, here, a);
        let_workers_move(here);
        let b = b();
        let a = other
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (a, b)
    })
}

/// Spawn `f` on `scope` as a worker that first leaves core `here` (the
/// spawning thread's; see [`placement`]).
fn spawn_elsewhere<'scope, T: Send + 'scope>(
    scope: &'scope std::thread::Scope<'scope, '_>,
    here: Option<usize>,
    f: impl FnOnce() -> T + Send + 'scope,
) -> std::thread::ScopedJoinHandle<'scope, T> {
    scope.spawn(move || {
        if let Some(cpu) = here {
            placement::leave(cpu);
        }
        f()
    })
}

/// After spawning workers: give the core up once, so that a worker queued
/// behind the spawning thread runs now and moves itself away.
fn let_workers_move(here: Option<usize>) {
    if here.is_some() {
        std::thread::yield_now();
    }
}

/// Where worker threads run. Measured on this project's 2-vCPU KVM
/// machines: a new thread is queued on the core of the thread that spawned
/// it (likely because the guest sees the halted other vCPU as preempted, so
/// the scheduler does not wake it) and waits there until the spawner stops
/// or the next load-balancing tick, 0.3-4 ms later: the "parallel" plan ran
/// almost serially. A worker that restricts itself to the other cores as soon as it
/// first runs (the spawner yields once to let it) is moved there by the
/// kernel at once. The restriction is the worker's own and ends with it; it
/// is never applied where only one core is allowed.
#[cfg(target_os = "linux")]
mod placement {
    use std::mem::{size_of, zeroed};

    /// The core the calling thread runs on.
    pub(super) fn current_cpu() -> Option<usize> {
        // SAFETY: no arguments; returns a core number or -1.
        usize::try_from(unsafe { libc::sched_getcpu() }).ok()
    }

    /// Restrict the calling thread to the cores it may use other than
    /// `cpu`; nothing when no other core is allowed or a call fails (the
    /// thread then runs wherever the scheduler puts it, as before).
    pub(super) fn leave(cpu: usize) {
        // SAFETY: `cpu_set_t` is a plain bit set (all zeroes is empty);
        // the calls read or write only the set passed with its own size,
        // for the calling thread (pid 0).
        unsafe {
            let mut set: libc::cpu_set_t = zeroed();
            if libc::sched_getaffinity(0, size_of::<libc::cpu_set_t>(), &mut set) != 0
                || cpu >= libc::CPU_SETSIZE as usize
                || !libc::CPU_ISSET(cpu, &set)
            {
                return;
            }
            libc::CPU_CLR(cpu, &mut set);
            if libc::CPU_COUNT(&set) > 0 {
                libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &set);
            }
        }
    }

    /// The cores the calling thread may use (for tests).
    #[cfg(test)]
    pub(super) fn allowed() -> Vec<usize> {
        // SAFETY: as in `leave`.
        unsafe {
            let mut set: libc::cpu_set_t = zeroed();
            assert_eq!(
                libc::sched_getaffinity(0, size_of::<libc::cpu_set_t>(), &mut set),
                0
            );
            (0..libc::CPU_SETSIZE as usize)
                .filter(|&c| libc::CPU_ISSET(c, &set))
                .collect()
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod placement {
    pub(super) fn current_cpu() -> Option<usize> {
        None
    }
    pub(super) fn leave(_cpu: usize) {}
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

    /// A thread that leaves a core no longer may run there, and runs
    /// elsewhere; with one allowed core nothing changes.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_worker_leaves_the_spawning_core() {
        let (before, after, ran_on) = std::thread::spawn(|| {
            let before = placement::allowed();
            let cpu = placement::current_cpu().expect("sched_getcpu");
            placement::leave(cpu);
            let after = placement::allowed();
            (
                before,
                after,
                (cpu, placement::current_cpu().expect("sched_getcpu")),
            )
        })
        .join()
        .unwrap();
        let (cpu, now) = ran_on;
        if before.len() > 1 {
            let expected: Vec<usize> = before.iter().copied().filter(|&c| c != cpu).collect();
            assert_eq!(after, expected);
            assert_ne!(now, cpu, "still on the core it left");
        } else {
            assert_eq!(after, before);
        }
        // the restriction was that thread's own
        assert_eq!(placement::allowed(), before);
    }
}
