//! Gives the allocator's free pages back to the system while a dashboard
//! runs.
//!
//! glibc's malloc keeps a heap per thread that allocates (an arena) and
//! returns freed memory to the system only from the top of each heap. The
//! dashboard's threads — file readers, the AWS clients' runtime, the demo's
//! simulator — parse pages and files into buffers that are freed a moment
//! later, between allocations that live on: the pages in between stay
//! resident. `kmstop demo` held 48 MB of live heap at a resident size of
//! ~100 MB; `malloc_trim(0)` walks every arena and gives the free pages
//! back (`madvise`), and brought that process to 74 MB. Other allocators
//! were tried instead (mimalloc, jemalloc: BENCHMARKS.md) and held more.
//!
//! The only `unsafe` in kmstop is here: two calls into the C library with
//! no pointers and no preconditions.

use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread;
use std::time::Duration;

/// Asks the allocator to give free pages back to the system; true when it
/// gave some. Does nothing but on glibc, whose allocators return memory
/// themselves or have no such call.
#[must_use]
pub fn give_back_free_pages() -> bool {
    give_back()
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn give_back() -> bool {
    // SAFETY: `malloc_trim` takes no pointers and has no preconditions;
    // glibc takes each arena's lock while it walks it.
    unsafe { libc::malloc_trim(0) == 1 }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn give_back() -> bool {
    false
}

/// How many arenas a dashboard's threads share. Each glibc arena keeps
/// the freed pages between its live blocks; `kmstop demo` held 67 MB with
/// an arena per allocating thread (fourteen threads) and 55 MB with two,
/// and loading 300 k events from files took no longer (BENCHMARKS.md).
pub const DASHBOARD_ARENAS: i32 = 2;

/// Caps the allocator's arenas at `arenas`; true when it took. Call it
/// before any other thread starts: arenas already made stay. Does nothing
/// but on glibc.
#[must_use]
pub fn share_arenas(arenas: i32) -> bool {
    limit_arenas(arenas)
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn limit_arenas(arenas: i32) -> bool {
    // SAFETY: `mallopt` takes no pointers and has no preconditions; it
    // only sets a limit glibc reads when a thread first allocates.
    unsafe { libc::mallopt(libc::M_ARENA_MAX, arenas) == 1 }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn limit_arenas(_arenas: i32) -> bool {
    false
}

/// Gives free pages back every `every` on a thread of its own (a walk of
/// every arena takes a few milliseconds: not on the thread that draws),
/// until dropped.
pub struct Trimmer {
    stop: Option<Sender<()>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Trimmer {
    #[must_use]
    pub fn start(every: Duration) -> Self {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = thread::Builder::new()
            .name("kmstop-trim".into())
            .spawn(move || {
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(every) {
                    let _ = give_back_free_pages();
                }
            })
            .ok();
        Self {
            stop: Some(stop),
            thread,
        }
    }
}

impl Drop for Trimmer {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn freed_pages_between_live_blocks_go_back() {
        if !cfg!(all(target_os = "linux", target_env = "gnu")) {
            return;
        }
        // Blocks big enough to be pages, freed between small ones that
        // stay: only a trim can give those pages back.
        let mut kept = Vec::new();
        let mut freed = Vec::new();
        for _ in 0..2_000 {
            freed.push(vec![1u8; 64 << 10]);
            kept.push(vec![2u8; 64]);
        }
        drop(freed);
        assert!(give_back_free_pages(), "the freed 128 MB were given back");
        assert_eq!(kept.len(), 2_000);
    }

    #[test]
    fn glibc_takes_the_arena_cap() {
        let glibc = cfg!(all(target_os = "linux", target_env = "gnu"));
        assert_eq!(share_arenas(DASHBOARD_ARENAS), glibc);
    }

    #[test]
    fn a_trimmer_stops_when_dropped() {
        let t = Trimmer::start(Duration::from_millis(1));
        thread::sleep(Duration::from_millis(20));
        drop(t);
    }
}
