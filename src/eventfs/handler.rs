// SPDX-License-Identifier: MIT OR Apache-2.0
//! The signal-handler island of eventfs: the only code that runs inside a
//! signal handler, and the fixed tables it shares with normal context.
//!
//! May run inside a signal handler (and only these): [`on_signal`] and what
//! it calls here — `count_delivery`, `chain`, `default_action`, `reraise`,
//! `refers_to_same_file` — plus `crate::errno::{get, set}` and the
//! `crate::sys` calls marked async-signal-safe. Rules for all of them: no
//! allocation, no locks, no `std` formatting or panicking paths, fixed-size
//! tables, atomics only, raw system calls (no libc wrapper that is a
//! cancellation point), `errno` saved on entry and restored on exit.
//!
//! The rest of this file ([`Slot::publish`], [`Slot::retire`],
//! [`SignalState`] setters, [`reset_after_fork`]) runs in normal context with
//! the registry lock held; it is here because it is the other half of the
//! protocols the handler relies on:
//!
//! - **Slots.** The handler marks itself inside a slot (`busy += 1`) before
//!   it loads the slot's descriptor, and leaves after its write. Retiring a
//!   slot stores -1 first, then waits until `busy` is zero, and only then
//!   closes the descriptor. All four accesses are `SeqCst`, so either the
//!   handler sees -1 or the retirer sees it inside and waits: evfd never
//!   writes to a descriptor number after closing it.
//! - **Default actions.** Performing a previous `SIG_DFL` means setting
//!   `SIG_DFL` for a moment and re-raising. The handler announces that in
//!   `reraising` before it checks `installed`; uninstalling clears
//!   `installed` before it waits for `reraising` to drop to zero. So a
//!   handler never puts evfd's handler back after evfd restored the
//!   previous disposition.

use crate::errno::{self, Errno};
use crate::sys;
use core::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicU8, AtomicUsize, Ordering};
use libc::{c_int, c_void, siginfo_t};

/// Signals 1..=64: the kernel's `_NSIG - 1`, which is glibc's `SIGRTMAX`.
pub const MAX_SIGNAL: usize = 64;
/// Registrations one signal can have at once.
pub const SLOTS_PER_SIGNAL: usize = 32;

const SEQ: Ordering = Ordering::SeqCst;

/// One registration: the caller's descriptor number and evfd's own
/// duplicate of it (the same open file description).
pub struct Slot {
    /// evfd's descriptor, written to by the handler; -1 when free.
    internal: AtomicI32,
    /// The number returned to the caller; only compared, never written to.
    user: AtomicI32,
    exclusive: AtomicBool,
    /// Handlers currently between loading `internal` and their write.
    busy: AtomicU32,
}

impl Slot {
    // Only to initialise the static table, once per element.
    #[allow(clippy::declare_interior_mutable_const)]
    const FREE: Slot = Slot {
        internal: AtomicI32::new(-1),
        user: AtomicI32::new(-1),
        exclusive: AtomicBool::new(false),
        busy: AtomicU32::new(0),
    };

    /// Whether the slot holds a registration. Normal context, lock held.
    pub fn in_use(&self) -> bool {
        self.internal.load(SEQ) >= 0
    }

    /// `(user, internal, exclusive)` of a slot in use. Normal context.
    pub fn registration(&self) -> (c_int, c_int, bool) {
        (
            self.user.load(SEQ),
            self.internal.load(SEQ),
            self.exclusive.load(SEQ),
        )
    }

    /// Makes a registration visible to handlers: the descriptor is stored
    /// last, so a handler that sees it also sees `user` and `exclusive`.
    /// Normal context, lock held, slot free.
    pub fn publish(&self, user: c_int, internal: c_int, exclusive: bool) {
        self.user.store(user, SEQ);
        self.exclusive.store(exclusive, SEQ);
        self.internal.store(internal, SEQ);
    }

    /// Removes the registration and returns evfd's descriptor once no
    /// handler can still write to it; the caller closes it. Normal context,
    /// lock held.
    pub fn retire(&self) -> c_int {
        let internal = self.internal.swap(-1, SEQ);
        while self.busy.load(SEQ) != 0 {
            // A handler is inside this slot on another thread; it never
            // blocks there, so this is short.
            sys::signal_safe::yield_now();
        }
        self.user.store(-1, SEQ);
        self.exclusive.store(false, SEQ);
        internal
    }
}

/// Everything the handler knows about one signal.
pub struct SignalState {
    pub slots: [Slot; SLOTS_PER_SIGNAL],
    /// evfd's handler is (meant to be) the disposition.
    installed: AtomicBool,
    /// The disposition before evfd's, as the handler chains to it.
    prev_handler: AtomicUsize,
    prev_flags: AtomicI32,
    /// Handlers inside the `SIG_DFL`-and-re-raise window.
    reraising: AtomicU32,
}

impl SignalState {
    #[allow(clippy::declare_interior_mutable_const)]
    const EMPTY: SignalState = SignalState {
        slots: [Slot::FREE; SLOTS_PER_SIGNAL],
        installed: AtomicBool::new(false),
        prev_handler: AtomicUsize::new(libc::SIG_DFL),
        prev_flags: AtomicI32::new(0),
        reraising: AtomicU32::new(0),
    };

    pub fn is_installed(&self) -> bool {
        self.installed.load(SEQ)
    }

    /// Records the disposition to chain to; called before evfd's handler
    /// is installed. Normal context, lock held.
    pub fn set_previous(&self, handler: usize, flags: c_int) {
        self.prev_handler.store(handler, SEQ);
        self.prev_flags.store(flags, SEQ);
    }

    /// The previous handler as it is now (`SA_RESETHAND` may have reset it
    /// to `SIG_DFL` since). Normal context.
    pub fn previous_handler(&self) -> usize {
        self.prev_handler.load(SEQ)
    }

    /// Normal context, lock held, after evfd's handler was installed.
    pub fn mark_installed(&self) {
        self.installed.store(true, SEQ);
    }

    /// Stops handlers from re-installing evfd's handler after a default
    /// action, and waits for those already doing it. Normal context, lock
    /// held, the signal blocked in the calling thread.
    pub fn mark_uninstalling(&self) {
        self.installed.store(false, SEQ);
        self.wait_reraising();
    }

    /// Waits until no handler is inside the `SIG_DFL` window, so that the
    /// disposition read next is not that transient one. Normal context.
    pub fn wait_reraising(&self) {
        while self.reraising.load(SEQ) != 0 {
            sys::signal_safe::yield_now();
        }
    }
}

/// The table, indexed by signal number (entry 0 unused).
pub static SIGNALS: [SignalState; MAX_SIGNAL + 1] = [SignalState::EMPTY; MAX_SIGNAL + 1];

/// How this process tells whether two descriptors are the same open file
/// description, decided once at the first registration: unknown yet,
/// `fcntl(F_DUPFD_QUERY)` (Linux 6.10; one cheap call on the calling
/// thread's fd table), `kcmp(KCMP_FILE)` (older kernels; several times
/// dearer, and needs this thread's id first), or neither (seccomp).
pub static COMPARE: AtomicU8 = AtomicU8::new(0);
pub const COMPARE_UNKNOWN: u8 = 0;
pub const COMPARE_DUPFD_QUERY: u8 = 1;
pub const COMPARE_KCMP: u8 = 2;
pub const COMPARE_MISSING: u8 = 3;

/// The table entry for `sig`, if it is one evfd can register.
pub fn state(sig: c_int) -> Option<&'static SignalState> {
    // Entry 0 is no signal; the table ends at MAX_SIGNAL.
    if sig >= 1 {
        SIGNALS.get(sig as usize)
    } else {
        None
    }
}

/// In a child after `fork`: the threads that were inside a slot or a
/// default action do not exist here. Only the forking thread runs.
pub fn reset_after_fork() {
    for state in SIGNALS.iter() {
        state.reraising.store(0, SEQ);
        for slot in state.slots.iter() {
            slot.busy.store(0, SEQ);
        }
    }
}

/// The handler evfd installs (`SA_SIGINFO`). Async-signal-safe; runs on
/// whatever thread takes the signal, possibly nested in itself.
pub extern "C" fn on_signal(sig: c_int, info: *mut siginfo_t, context: *mut c_void) {
    let saved = errno::get();
    if let Some(state) = state(sig) {
        let exclusive = count_delivery(state);
        if !exclusive {
            chain(sig, state, info, context, saved);
        }
    }
    errno::set(saved);
}

/// Adds one to every live registration of the signal; returns whether one
/// of them is exclusive. Registrations whose caller's descriptor is closed
/// (or now names another file) are neither counted nor exclusive.
fn count_delivery(state: &SignalState) -> bool {
    let method = COMPARE.load(Ordering::Relaxed);
    // kcmp only: this thread's id, asked once per delivery and only when
    // a slot is in use (kcmp looks at a given task's fd table, and the
    // main thread may have exited already).
    let mut task = 0;
    let mut exclusive = false;
    for slot in state.slots.iter() {
        // Free slots are skipped without the busy protocol: seeing -1 here
        // is the same as having run just before the slot was published.
        if slot.internal.load(Ordering::Relaxed) < 0 {
            continue;
        }
        slot.busy.fetch_add(1, SEQ);
        let internal = slot.internal.load(SEQ);
        if internal >= 0 {
            let user = slot.user.load(SEQ);
            if method == COMPARE_KCMP && task == 0 {
                task = sys::signal_safe::gettid_raw();
            }
            if refers_to_same_file(method, task, user, internal) {
                sys::signal_safe::eventfd_add_one(internal);
                if slot.exclusive.load(SEQ) {
                    exclusive = true;
                }
            }
        }
        slot.busy.fetch_sub(1, SEQ);
    }
    exclusive
}

/// Whether the caller's number still names evfd's file. Without a way to
/// compare (none here, or a seccomp filter that refuses the call since the
/// probe), the handler cannot tell and keeps counting into its own
/// descriptor, which is harmless; normal context then decides from /proc
/// or keeps the registration.
fn refers_to_same_file(method: u8, task: libc::pid_t, user: c_int, internal: c_int) -> bool {
    let same = match method {
        COMPARE_DUPFD_QUERY => sys::signal_safe::same_file_as(user, internal),
        COMPARE_KCMP => sys::signal_safe::kcmp_same_file(task, user, internal),
        _ => return true,
    };
    !matches!(same, Ok(false) | Err(Errno::EBADF))
}

/// Passes a counted delivery on to the previous disposition.
fn chain(
    sig: c_int,
    state: &SignalState,
    info: *mut siginfo_t,
    context: *mut c_void,
    saved_errno: c_int,
) {
    let mut handler = state.prev_handler.load(SEQ);
    let flags = state.prev_flags.load(SEQ);
    if handler == libc::SIG_IGN {
        return;
    }
    if handler != libc::SIG_DFL && flags & libc::SA_RESETHAND != 0 {
        // A one-shot handler runs once; later deliveries get the default.
        handler = state.prev_handler.swap(libc::SIG_DFL, SEQ);
        if handler == libc::SIG_IGN {
            return;
        }
    }
    if handler == libc::SIG_DFL {
        default_action(sig, state);
        return;
    }
    // The previous handler sees the errno of the interrupted code.
    errno::set(saved_errno);
    if flags & libc::SA_SIGINFO != 0 {
        // SAFETY: the previous sigaction installed this address as an
        // SA_SIGINFO handler; we call it as the kernel would have.
        let f: extern "C" fn(c_int, *mut siginfo_t, *mut c_void) =
            unsafe { core::mem::transmute(handler) };
        f(sig, info, context);
    } else {
        // SAFETY: as above, for a one-argument handler.
        let f: extern "C" fn(c_int) = unsafe { core::mem::transmute(handler) };
        f(sig);
    }
}

/// What `SIG_DFL` would have done: nothing for the signals whose default is
/// to ignore (`SIGCONT` already continued the process when it was sent),
/// otherwise terminate, dump core or stop, by re-raising under `SIG_DFL`.
fn default_action(sig: c_int, state: &SignalState) {
    if matches!(
        sig,
        libc::SIGCHLD | libc::SIGCONT | libc::SIGURG | libc::SIGWINCH
    ) {
        return;
    }
    reraise(sig, state);
}

fn reraise(sig: c_int, state: &SignalState) {
    let pid = sys::signal_safe::getpid_raw();
    let tid = sys::signal_safe::gettid_raw();
    state.reraising.fetch_add(1, SEQ);
    if state.installed.load(SEQ) {
        // SAFETY: a zeroed sigaction is a valid SIG_DFL with an empty mask.
        let mut dfl: libc::sigaction = unsafe { core::mem::zeroed() };
        dfl.sa_sigaction = libc::SIG_DFL;
        // SAFETY: as above; filled in by the call.
        let mut ours: libc::sigaction = unsafe { core::mem::zeroed() };
        if sys::signal_safe::sigaction(sig, Some(&dfl), Some(&mut ours)).is_ok() {
            // Delivered as soon as tgkill returns: the process terminates,
            // or stops and later continues here.
            sys::signal_safe::unblock_signal(sig);
            sys::signal_safe::tgkill(pid, tid, sig);
            if state.installed.load(SEQ) {
                let _ = sys::signal_safe::sigaction(sig, Some(&ours), None);
            }
        }
    } else {
        // evfd is restoring the previous disposition right now. Blocked
        // until this handler returns (even under SA_NODEFER), the signal
        // stays pending and is delivered again under whatever disposition
        // is then in force.
        sys::signal_safe::block_signal(sig);
        sys::signal_safe::tgkill(pid, tid, sig);
    }
    state.reraising.fetch_sub(1, SEQ);
}
