// SPDX-License-Identifier: MIT OR Apache-2.0
//! Evgeniy Polyakov's eventfs idea: one descriptor per signal, readable as
//! a count of deliveries.
//!
//! Each registration is a kernel eventfd (the caller's descriptor, with
//! `EFD_CLOEXEC`) plus evfd's own close-on-exec duplicate of it in a fixed
//! table ([`handler::SIGNALS`]). evfd's handler adds 1 through its own
//! duplicate only, so the kernel gives `read()`, `EAGAIN`, `poll()` and
//! the counter for free, and evfd never writes to the caller's number.
//!
//! A plain `close()` by the caller is noticed with `fcntl(F_DUPFD_QUERY)`
//! (Linux 6.10), or `kcmp(KCMP_FILE)` on older kernels: the registration
//! lives while the caller's number still names the same open file
//! description as evfd's duplicate. The handler checks that on every
//! delivery, so a closed registration stops counting (and stops being
//! exclusive) at once; normal context reclaims evfd's duplicate and puts
//! the previous disposition back on the next evfd call.
//!
//! Registration changes run in normal context under one lock; the handler
//! only reads the fixed table (see `handler.rs` for the protocols).

pub mod handler;

use crate::errno::Errno;
use crate::sys;
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicUsize, Ordering};
use handler::{
    SignalState, COMPARE, COMPARE_DUPFD_QUERY, COMPARE_KCMP, COMPARE_MISSING, COMPARE_UNKNOWN,
    MAX_SIGNAL, SIGNALS,
};
use libc::c_int;
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};

/// The signals whose exclusive registration is refused: they are raised
/// by the faulting instruction, which would fault again forever.
const FAULT_SIGNALS: [c_int; 5] = [
    libc::SIGSEGV,
    libc::SIGBUS,
    libc::SIGFPE,
    libc::SIGILL,
    libc::SIGTRAP,
];

/// The kernel's flag for a libc-supplied signal return trampoline
/// (asm-generic/signal-defs.h; the libc crate does not export it).
const SA_RESTORER: c_int = 0x0400_0000;

/// What only normal context touches, under `LOCK`.
struct Registry {
    /// The disposition before evfd's, exactly as `sigaction` reported it.
    previous: [libc::sigaction; MAX_SIGNAL + 1],
}

struct Locked {
    mutex: UnsafeCell<libc::pthread_mutex_t>,
    registry: UnsafeCell<Registry>,
}

// SAFETY: `registry` is only reached through a `Guard`, which holds `mutex`.
unsafe impl Sync for Locked {}

static LOCKED: Locked = Locked {
    mutex: UnsafeCell::new(libc::PTHREAD_MUTEX_INITIALIZER),
    // SAFETY: an all-zero sigaction is SIG_DFL with an empty mask.
    registry: UnsafeCell::new(Registry {
        previous: unsafe { core::mem::zeroed() },
    }),
};

/// Registrations in the table; lets evfd calls skip reclaiming entirely
/// (no lock, no system call) while there are none.
static LIVE: AtomicUsize = AtomicUsize::new(0);

static ATFORK: std::sync::Once = std::sync::Once::new();

struct Guard;

impl Guard {
    fn registry(&mut self) -> &mut Registry {
        // SAFETY: a Guard exists only while `mutex` is held, and `&mut self`
        // makes this the only reference.
        unsafe { &mut *LOCKED.registry.get() }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        // SAFETY: this Guard locked it.
        unsafe { libc::pthread_mutex_unlock(LOCKED.mutex.get()) };
    }
}

// A fork while another thread holds the lock would leave it locked forever
// in the child; taking it around fork keeps the table consistent too.
extern "C" fn before_fork() {
    // SAFETY: a valid, statically initialised mutex.
    unsafe { libc::pthread_mutex_lock(LOCKED.mutex.get()) };
}

extern "C" fn after_fork_in_parent() {
    // SAFETY: locked by `before_fork` in this thread.
    unsafe { libc::pthread_mutex_unlock(LOCKED.mutex.get()) };
}

extern "C" fn after_fork_in_child() {
    handler::reset_after_fork();
    // SAFETY: locked by `before_fork` in the thread that is now the child's
    // only thread.
    unsafe { libc::pthread_mutex_unlock(LOCKED.mutex.get()) };
}

fn lock() -> Guard {
    ATFORK.call_once(|| {
        // SAFETY: the three functions are valid for the life of the
        // process (glibc drops them if the library is unloaded).
        unsafe {
            libc::pthread_atfork(
                Some(before_fork),
                Some(after_fork_in_parent),
                Some(after_fork_in_child),
            )
        };
    });
    // SAFETY: a valid, statically initialised mutex; evfd never locks it
    // twice in one thread (no evfd call runs inside a handler).
    unsafe { libc::pthread_mutex_lock(LOCKED.mutex.get()) };
    Guard
}

/// Fails with `EINVAL` unless `signal` can be registered in this mode.
pub fn check_signal(signal: c_int, exclusive: bool) -> Result<(), Errno> {
    let in_range = signal >= 1 && signal <= libc::SIGRTMAX() && signal as usize <= MAX_SIGNAL;
    if !in_range || signal == libc::SIGKILL || signal == libc::SIGSTOP {
        return Err(Errno::EINVAL);
    }
    if exclusive && FAULT_SIGNALS.contains(&signal) {
        return Err(Errno::EINVAL);
    }
    Ok(())
}

/// A new descriptor counting deliveries of `signal`: a blocking,
/// close-on-exec eventfd. With `exclusive` the signal goes only to the
/// descriptor while it is open; otherwise it also goes on to the previous
/// disposition.
///
/// Errors: `EINVAL` for a signal outside 1..=`SIGRTMAX`, `SIGKILL`,
/// `SIGSTOP`, a signal glibc reserves, or a fault signal with `exclusive`;
/// `EMFILE` if the signal already has `SLOTS_PER_SIGNAL` registrations or
/// the process is out of descriptors; `ENFILE`, `ENODEV`, `ENOMEM` from
/// the kernel.
pub fn register(signal: c_int, exclusive: bool) -> Result<RawFd, Errno> {
    check_signal(signal, exclusive)?;
    let mut guard = lock();
    reclaim_locked(&mut guard);
    let state = handler::state(signal).ok_or(Errno::EINVAL)?;
    let slot = state
        .slots
        .iter()
        .find(|slot| !slot.in_use())
        .ok_or(Errno::EMFILE)?;
    let user = sys::kernel_objects::eventfd2(0, libc::EFD_CLOEXEC)?;
    let internal = sys::fd_info::dup_cloexec(user.as_raw_fd())?;
    probe_compare(user.as_raw_fd(), internal.as_raw_fd());
    slot.publish(user.as_raw_fd(), internal.as_raw_fd(), exclusive);
    if let Err(e) = ensure_installed(&mut guard, signal, state) {
        // No handler can be inside: none of evfd's was installed for it.
        slot.retire();
        return Err(e);
    }
    LIVE.fetch_add(1, Ordering::SeqCst);
    let _ = internal.into_raw_fd(); // now owned by the slot
    Ok(user.into_raw_fd())
}

/// Releases what belongs to registrations whose descriptor the caller has
/// closed, and restores the previous disposition of signals left with
/// none. Every evfd call runs this first; without registrations it costs
/// one atomic load.
pub fn reclaim_closed() {
    if LIVE.load(Ordering::SeqCst) == 0 {
        return;
    }
    let mut guard = lock();
    reclaim_locked(&mut guard);
}

fn reclaim_locked(guard: &mut Guard) {
    if LIVE.load(Ordering::SeqCst) == 0 {
        return;
    }
    // kcmp only: this thread's fd table (the main thread may be gone).
    let task = if COMPARE.load(Ordering::SeqCst) == COMPARE_KCMP {
        sys::signal_safe::gettid_raw()
    } else {
        0
    };
    for (signal, state) in SIGNALS.iter().enumerate().skip(1) {
        let mut any_live = false;
        for slot in state.slots.iter().filter(|slot| slot.in_use()) {
            let (user, internal, _) = slot.registration();
            if still_registered(task, user, internal) {
                any_live = true;
                continue;
            }
            let internal = slot.retire();
            // The caller may have closed evfd's duplicate too (closefrom):
            // then the number is not ours to close any more.
            if sys::fd_info::fd_flags(internal).is_ok() {
                // SAFETY: evfd's own duplicate, retired from the table, so
                // no handler can write to it; closed exactly once.
                drop(unsafe { OwnedFd::from_raw_fd(internal) });
            }
            LIVE.fetch_sub(1, Ordering::SeqCst);
        }
        if !any_live && state.is_installed() {
            uninstall(guard, signal as c_int, state);
        }
    }
}

/// Decides once per process how to tell descriptors apart here: the
/// cheapest method that recognises `user` and its duplicate `internal`.
fn probe_compare(user: RawFd, internal: RawFd) {
    if COMPARE.load(Ordering::SeqCst) != COMPARE_UNKNOWN {
        return;
    }
    let method = if matches!(sys::signal_safe::same_file_as(user, internal), Ok(true)) {
        COMPARE_DUPFD_QUERY
    } else if matches!(
        sys::signal_safe::kcmp_same_file(sys::signal_safe::gettid_raw(), user, internal),
        Ok(true)
    ) {
        COMPARE_KCMP
    } else {
        COMPARE_MISSING
    };
    COMPARE.store(method, Ordering::SeqCst);
}

/// Whether the caller's number `user` still names the open file
/// description of evfd's `internal`.
fn still_registered(task: libc::pid_t, user: RawFd, internal: RawFd) -> bool {
    let same = match COMPARE.load(Ordering::SeqCst) {
        COMPARE_DUPFD_QUERY => Some(sys::signal_safe::same_file_as(user, internal)),
        COMPARE_KCMP => Some(sys::signal_safe::kcmp_same_file(task, user, internal)),
        _ => None,
    };
    match same {
        Some(Ok(same)) => return same,
        Some(Err(Errno::EBADF)) => return false,
        // Refused since the probe (a seccomp filter installed later): ask
        // /proc instead, as if there had never been a way.
        Some(Err(_)) | None => {}
    }
    // Neither: each eventfd has a unique id in /proc/self/fdinfo.
    if sys::fd_info::fd_flags(user).is_err() {
        return false;
    }
    match (eventfd_id(user), eventfd_id(internal)) {
        (Some(a), Some(b)) => a == b,
        (None, Some(_)) => false, // the number now names something else
        _ => true,                // no way to tell: keep it
    }
}

/// The `eventfd-id:` of an eventfd, from /proc/self/fdinfo.
fn eventfd_id(fd: RawFd) -> Option<u64> {
    sys::fd_info::fdinfo_value(fd, b"eventfd-id:")
        .ok()
        .flatten()
}

/// The disposition evfd installs over `previous`. The mask is the previous
/// one, so a chained handler runs with the signals blocked it asked for;
/// over a handler, `SA_RESTART`, `SA_ONSTACK` and `SA_NODEFER` are kept as
/// they were, over `SIG_DFL`/`SIG_IGN` interrupted calls restart. For
/// `SIGCHLD` the child flags are kept, and `SIG_IGN`'s automatic reaping
/// becomes `SA_NOCLDWAIT`.
fn evfd_action(signal: c_int, previous: &libc::sigaction) -> libc::sigaction {
    // SAFETY: all-zero is a valid sigaction; every field used is set below.
    let mut ours: libc::sigaction = unsafe { core::mem::zeroed() };
    ours.sa_sigaction = handler::on_signal as *const () as usize;
    ours.sa_mask = previous.sa_mask;
    let prev_is_handler =
        previous.sa_sigaction != libc::SIG_DFL && previous.sa_sigaction != libc::SIG_IGN;
    let mut flags = libc::SA_SIGINFO;
    flags |= if prev_is_handler {
        previous.sa_flags & (libc::SA_RESTART | libc::SA_ONSTACK | libc::SA_NODEFER)
    } else {
        libc::SA_RESTART | libc::SA_ONSTACK
    };
    if signal == libc::SIGCHLD {
        flags |= previous.sa_flags & (libc::SA_NOCLDSTOP | libc::SA_NOCLDWAIT);
        if previous.sa_sigaction == libc::SIG_IGN {
            flags |= libc::SA_NOCLDWAIT;
        }
    }
    ours.sa_flags = flags;
    ours
}

fn is_evfd_handler(action: &libc::sigaction) -> bool {
    action.sa_sigaction == handler::on_signal as *const () as usize
}

/// Makes evfd's handler the disposition of `signal`, remembering what was
/// there. If someone replaced evfd's handler since, what is there now
/// becomes the disposition to chain to and to restore.
fn ensure_installed(guard: &mut Guard, signal: c_int, state: &SignalState) -> Result<(), Errno> {
    state.wait_reraising();
    // SAFETY: all-zero is a valid sigaction for the kernel to fill in.
    let mut current: libc::sigaction = unsafe { core::mem::zeroed() };
    sys::signal_safe::sigaction(signal, None, Some(&mut current))?;
    if is_evfd_handler(&current) {
        // Ours already (or put back by the program): keep the previous one
        // evfd recorded.
        state.mark_installed();
        return Ok(());
    }
    let ours = evfd_action(signal, &current);
    // `signal` passed check_signal: the entry exists.
    let recorded = guard
        .registry()
        .previous
        .get_mut(signal as usize)
        .ok_or(Errno::EINVAL)?;
    *recorded = current;
    state.set_previous(current.sa_sigaction, current.sa_flags);
    sys::signal_safe::sigaction(signal, Some(&ours), None)?;
    state.mark_installed();
    Ok(())
}

/// Puts the previous disposition back, unless the program has replaced
/// evfd's handler with its own meanwhile (then that stays).
fn uninstall(guard: &mut Guard, signal: c_int, state: &SignalState) {
    // Blocked here so that a handler re-raising on this thread waits for
    // the restored disposition instead of running again and again.
    // SAFETY: all-zero is an empty signal set.
    let mut only: libc::sigset_t = unsafe { core::mem::zeroed() };
    // SAFETY: `only` is a valid set and `signal` is in range.
    unsafe { libc::sigaddset(&mut only, signal) };
    let old_mask = sys::signals::thread_sigmask(libc::SIG_BLOCK, &only).ok();
    state.mark_uninstalling();
    // SAFETY: all-zero is a valid sigaction for the kernel to fill in.
    let mut current: libc::sigaction = unsafe { core::mem::zeroed() };
    // `signal` indexes SIGNALS, which is as long as `previous`.
    let recorded = guard.registry().previous.get(signal as usize).copied();
    if let Some(mut previous) = recorded {
        if sys::signal_safe::sigaction(signal, None, Some(&mut current)).is_ok()
            && is_evfd_handler(&current)
        {
            previous.sa_sigaction = state.previous_handler();
            if sys::signal_safe::sigaction(signal, Some(&previous), None).is_ok() {
                restore_without_restorer(signal, &previous);
            }
        }
    }
    if let Some(mask) = old_mask {
        let _ = sys::signals::thread_sigmask(libc::SIG_SETMASK, &mask);
    }
}

/// glibc's sigaction adds `SA_RESTORER` to every disposition it sets; a
/// `SIG_DFL`/`SIG_IGN` that did not have it gets it taken off again, so
/// that `sigaction` reads back exactly what it read before evfd. (Done
/// after glibc's call, so that sanitizers intercepting it saw the change.)
fn restore_without_restorer(signal: c_int, previous: &libc::sigaction) {
    let plain = previous.sa_sigaction == libc::SIG_DFL || previous.sa_sigaction == libc::SIG_IGN;
    if plain && previous.sa_flags & SA_RESTORER == 0 {
        let _ = sys::signals::set_default_or_ignore_exactly(
            signal,
            previous.sa_sigaction,
            previous.sa_flags,
            &previous.sa_mask,
        );
    }
}
