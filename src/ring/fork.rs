// SPDX-License-Identifier: MIT OR Apache-2.0
//! Fork detection: a ring belongs to the process that made it. A
//! `pthread_atfork` child handler bumps a generation counter, so checking
//! costs one relaxed load per call, not a `getpid`.

use std::sync::atomic::{AtomicU64, Ordering};

static FORK_GENERATION: AtomicU64 = AtomicU64::new(0);

extern "C" fn after_fork_in_child() {
    FORK_GENERATION.fetch_add(1, Ordering::Relaxed);
    super::fd_identity::close_tables_in_child();
}

/// The current generation; registers the fork handler on first use.
pub fn generation() -> u64 {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: registers a handler that only touches an atomic; it never
        // fails except with ENOMEM, in which case fork detection is lost
        // (nothing else), so the result is ignored deliberately.
        unsafe { libc::pthread_atfork(None, None, Some(after_fork_in_child)) };
    });
    FORK_GENERATION.load(Ordering::Relaxed)
}

/// Whether a fork happened since `generation` was read (in this process,
/// we are then the child).
pub fn forked_since(generation: u64) -> bool {
    FORK_GENERATION.load(Ordering::Relaxed) != generation
}
