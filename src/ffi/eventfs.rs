// SPDX-License-Identifier: MIT OR Apache-2.0
//! `evfd_eventfs_signalfd`: one descriptor per signal (Evgeniy Polyakov's
//! eventfs idea), counting deliveries.

use super::int_result;
use crate::eventfs;
use libc::c_int;

/// Creates a descriptor that counts deliveries of `signal` (Evgeniy
/// Polyakov's eventfs idea: one descriptor per signal).
///
/// `read()` of 8 bytes returns a `uint64_t`, the number of deliveries since
/// the last read, and resets it; with nothing pending it blocks, or fails
/// with `EAGAIN` if `O_NONBLOCK` is set. `poll()` reports `POLLIN` while
/// the count is not zero. The descriptor is close-on-exec. With `flags` 0
/// the signal also goes on to its previous disposition: a previous handler
/// is called with the same arguments, a default action still happens, an
/// ignored signal stays ignored. With any other `flags` the signal is
/// exclusive: while an exclusive descriptor for it is open, no handler
/// runs and no default action happens. Several descriptors for one signal
/// each count every delivery. Closing the descriptor ends the
/// registration; once none is left for a signal, its previous disposition
/// is in force again (and `sigaction` shows it after the next evfd call).
/// A signal blocked in every thread stays pending and is not counted.
///
/// Returns the descriptor, or -1 with `errno` set: `EINVAL` if `signal` is
/// not in 1 to `SIGRTMAX`, is `SIGKILL` or `SIGSTOP` or a signal the C
/// library reserves, or if `flags` is not 0 and `signal` is `SIGSEGV`,
/// `SIGBUS`, `SIGFPE`, `SIGILL` or `SIGTRAP`; `EMFILE` if the signal already
/// has 32 descriptors or the process has no descriptor left; `ENFILE`,
/// `ENODEV` or `ENOMEM` if the kernel cannot make an eventfd.
#[no_mangle]
pub extern "C" fn evfd_eventfs_signalfd(signal: c_int, flags: c_int) -> c_int {
    int_result(|| eventfs::register(signal, flags != 0))
}
