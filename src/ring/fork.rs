// SPDX-License-Identifier: MIT OR Apache-2.0
//! Fork detection: a ring belongs to the process that made it. A
//! `pthread_atfork` child handler bumps a generation counter, so checking
//! costs one relaxed load per call, not a `getpid`; it also closes the
//! child's copies of the io_uring backend's file tables
//! (`fd_identity::close_tables_in_child`). The prepare and parent handlers
//! keep a fork from overlapping a [`Window`], the moment such a table is
//! made and recorded.

use std::sync::atomic::{AtomicU64, Ordering};

static FORK_GENERATION: AtomicU64 = AtomicU64::new(0);

/// Forks under way in this process (prepare handler to parent handler),
/// and [`Window`]s open: a fork waits for open windows before it copies
/// anything, and a window opens only while no fork is under way.
static FORKS_IN_PROGRESS: AtomicU64 = AtomicU64::new(0);
static WINDOWS_OPEN: AtomicU64 = AtomicU64::new(0);

/// How long a fork waits for open windows, in `sched_yield`s: a window is
/// a few system calls long, so this is only reached when the forking
/// thread itself holds one (a fork from a signal handler that interrupted
/// it), where waiting would never end.
const FORK_PATIENCE: u32 = 1_000_000;

extern "C" fn before_fork() {
    FORKS_IN_PROGRESS.fetch_add(1, Ordering::SeqCst);
    let mut waited = 0u32;
    while WINDOWS_OPEN.load(Ordering::SeqCst) != 0 && waited < FORK_PATIENCE {
        // SAFETY: no arguments; async-signal-safe.
        unsafe { libc::sched_yield() };
        waited = waited.saturating_add(1);
    }
}

extern "C" fn after_fork_in_parent() {
    FORKS_IN_PROGRESS.fetch_sub(1, Ordering::SeqCst);
}

extern "C" fn after_fork_in_child() {
    FORK_GENERATION.fetch_add(1, Ordering::Relaxed);
    FORKS_IN_PROGRESS.store(0, Ordering::SeqCst);
    super::fd_identity::close_tables_in_child();
}

/// The current generation; registers the fork handlers on first use.
pub fn generation() -> u64 {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: registers handlers that only touch atomics (and close
        // descriptors in the child); it never fails except with ENOMEM, in
        // which case fork detection is lost (nothing else), so the result
        // is ignored deliberately.
        unsafe {
            libc::pthread_atfork(
                Some(before_fork),
                Some(after_fork_in_parent),
                Some(after_fork_in_child),
            )
        };
    });
    FORK_GENERATION.load(Ordering::Relaxed)
}

/// Whether a fork happened since `generation` was read (in this process,
/// we are then the child).
pub fn forked_since(generation: u64) -> bool {
    FORK_GENERATION.load(Ordering::Relaxed) != generation
}

/// A stretch of code that no `fork` of another thread may overlap: while
/// one is open, a fork waits in its prepare handler (and a window waits for
/// a fork under way to return before it opens). For a descriptor that must
/// be recorded for the child handler before any child can copy it.
pub struct Window(());

impl Window {
    pub fn open() -> Window {
        generation(); // the handlers are registered
        loop {
            while FORKS_IN_PROGRESS.load(Ordering::SeqCst) != 0 {
                std::thread::yield_now();
            }
            // Announce, then look again: a fork that began meanwhile either
            // sees this window and waits, or is seen here and waited for.
            WINDOWS_OPEN.fetch_add(1, Ordering::SeqCst);
            if FORKS_IN_PROGRESS.load(Ordering::SeqCst) == 0 {
                return Window(());
            }
            WINDOWS_OPEN.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

impl Drop for Window {
    fn drop(&mut self) {
        WINDOWS_OPEN.fetch_sub(1, Ordering::SeqCst);
    }
}
