// SPDX-License-Identifier: MIT OR Apache-2.0
//! The event ring's C API (DESIGN §4): `evfd_ring_*`.

use super::boundary::{c_call, Reclaim};
use super::{hot_int_result, int_result, post_int_result, timer_args, when_arg};
use crate::errno::Errno;
use crate::ring::{self, Consumer, Event, Ring};
use crate::timer_spec::TimerType;
use libc::{c_char, c_int, c_uint};

/// An event from a file descriptor (`evfd_ring_add_fd`).
pub const EVFD_KIND_FD: u32 = 1;
/// A signal (`evfd_ring_add_signal`, or a signalfd added with `evfd_ring_add_fd`).
pub const EVFD_KIND_SIGNAL: u32 = 2;
/// A timer expiration (`evfd_ring_add_timer`).
pub const EVFD_KIND_TIMER: u32 = 3;
/// A futex wake-up (`evfd_ring_add_futex`).
pub const EVFD_KIND_FUTEX: u32 = 4;
/// A user event (`evfd_ring_post`).
pub const EVFD_KIND_USER: u32 = 5;

/// An event ring: one queue for fd readiness, signals, timers, futex
/// wake-ups and user events. Opaque; made by `evfd_ring_new`, freed by
/// `evfd_ring_free`.
#[allow(non_camel_case_types)] // the C name
pub struct evfd_ring {
    ring: Ring,
}

/// One event, exactly 64 bytes, 8-byte aligned.
///
/// `udata` is the value the source was registered with (or posted with).
/// `kind` is an `EVFD_KIND_*` constant, or 0 for the ring's own report that
/// the kernel dropped completions (`error == EOVERFLOW`, `value` = how
/// many). `error` is 0, or a positive errno meaning the source failed and
/// is gone (a futex whose word did not hold the expected value reports
/// `EAGAIN`). `value` is, for `EVFD_KIND_FD`, the count read from an eventfd
/// or timerfd (0 for other fds); for `EVFD_KIND_SIGNAL`, the `sigqueue`
/// value (`ssi_ptr`); for `EVFD_KIND_TIMER`, expirations; for
/// `EVFD_KIND_USER`, the posted value; 0 for `EVFD_KIND_FUTEX`. `revents`
/// is the poll mask of an fd event. `signo`, `code`, `pid`, `uid` and
/// `status` are the signal's `si_signo`, `si_code`, `si_pid`, `si_uid` and
/// `si_status`. `reserved` is zero.
#[allow(non_camel_case_types)] // the C name
#[repr(C)]
#[derive(Clone, Copy)]
pub struct evfd_event {
    pub udata: u64,
    pub kind: u32,
    pub error: i32,
    pub value: u64,
    pub revents: u32,
    pub signo: u32,
    pub code: i32,
    pub pid: u32,
    pub uid: u32,
    pub status: i32,
    pub reserved: [u8; 16],
}

// The C struct and the ring's Event are the same bytes.
const _: () = assert!(core::mem::size_of::<evfd_event>() == 64);
const _: () = assert!(core::mem::align_of::<evfd_event>() == 8);
const _: () = assert!(core::mem::size_of::<Event>() == core::mem::size_of::<evfd_event>());
const _: () =
    assert!(core::mem::offset_of!(evfd_event, value) == core::mem::offset_of!(Event, value));
const _: () =
    assert!(core::mem::offset_of!(evfd_event, revents) == core::mem::offset_of!(Event, revents));
const _: () =
    assert!(core::mem::offset_of!(evfd_event, status) == core::mem::offset_of!(Event, status));
const _: () =
    assert!(core::mem::offset_of!(evfd_event, reserved) == core::mem::offset_of!(Event, reserved));
const _: () = assert!(ring::KIND_FD == EVFD_KIND_FD && ring::KIND_USER == EVFD_KIND_USER);

/// The ring behind `ring`, or `EFAULT` for NULL.
///
/// # Safety
/// A non-NULL `ring` came from `evfd_ring_new` and is not freed.
unsafe fn ring_ref<'a>(ring: *const evfd_ring) -> Result<&'a Ring, Errno> {
    // SAFETY: by the caller's contract.
    unsafe { ring.as_ref() }
        .map(|r| &r.ring)
        .ok_or(Errno::EFAULT)
}

/// The consumer side of `ring` (EFAULT for NULL, EINVAL after fork).
///
/// # Safety
/// As `ring_ref`, and only the ring's one consumer thread calls this.
unsafe fn consumer<'a>(ring: *mut evfd_ring) -> Result<Consumer<'a>, Errno> {
    // SAFETY: by the caller's contract.
    unsafe { ring_ref(ring)?.consumer() }
}

/// Creates an event ring.
///
/// `entries` is a capacity hint for the kernel queues (0 chooses a
/// default); `flags` must be 0. The backend is io_uring where
/// `io_uring_setup` works and epoll otherwise; the environment variable
/// `EVFD_RING_BACKEND` set to `io_uring` or `epoll` forces one.
///
/// Returns the ring, or NULL with `errno` set: `EINVAL` if `flags` is not 0
/// or `EVFD_RING_BACKEND` has another value; `EPERM` or `ENOSYS` if
/// io_uring was forced and is unavailable; `EMFILE`, `ENFILE` or `ENOMEM` if
/// the kernel objects cannot be made.
#[no_mangle]
pub extern "C" fn evfd_ring_new(entries: c_uint, flags: c_uint) -> *mut evfd_ring {
    c_call(Reclaim::Yes, || {
        let ring = Ring::new(entries, flags)?;
        Ok(Box::into_raw(Box::new(evfd_ring { ring })))
    })
}

/// Frees a ring: cancels every source, ends the ring's helper threads and
/// closes every descriptor the ring holds. NULL is a no-op. In a child
/// process after `fork()`, this is the only ring call allowed: it releases
/// the child's copies without touching the parent's ring. `errno` is left
/// as it was.
///
/// # Safety
/// A non-NULL `ring` came from `evfd_ring_new`, is not freed, and no other
/// thread uses it.
#[no_mangle]
pub unsafe extern "C" fn evfd_ring_free(ring: *mut evfd_ring) {
    c_call(Reclaim::Yes, || {
        if !ring.is_null() {
            // SAFETY: by the caller's contract the pointer came from
            // Box::into_raw in evfd_ring_new and is released once.
            drop(unsafe { Box::from_raw(ring) });
        }
        Ok(())
    })
}

/// Watches `fd` for `events` (`POLLIN`, `POLLOUT`, ...), level-triggered,
/// until removed. For an eventfd or timerfd the ring reads the count for
/// you (`value`); for a signalfd it reads each signal into one
/// `EVFD_KIND_SIGNAL` event. The ring must then be the only reader of that
/// descriptor. Remove a source before closing its descriptor.
///
/// Returns 0, or -1 with `errno` set: `EFAULT` if `ring` is NULL; `EBADF` if
/// `fd` is not open; `EINVAL` if `events` is 0 or has bits other than
/// `POLLIN`, `POLLPRI`, `POLLOUT`, `POLLRDNORM`, `POLLRDBAND`,
/// `POLLWRNORM`, `POLLWRBAND`, `POLLRDHUP`, if `fd` is the ring's own
/// descriptor, or in a child after `fork()`; `EPERM` if `fd` is a regular
/// file or directory; `EEXIST` if `fd` is already watched by this ring;
/// `ENOMEM`.
///
/// # Safety
/// A non-NULL `ring` is a live ring used by this thread only.
#[no_mangle]
pub unsafe extern "C" fn evfd_ring_add_fd(
    ring: *mut evfd_ring,
    fd: c_int,
    events: u32,
    udata: u64,
) -> c_int {
    // SAFETY: by the caller's contract.
    int_result(|| {
        unsafe { consumer(ring) }?
            .add_fd(fd, events, udata)
            .map(|_| 0)
    })
}

/// Delivers each signal `signo` as one `EVFD_KIND_SIGNAL` event with its
/// siginfo. As with signalfd, block the signal in every thread first.
/// Several registrations of one signal each get every delivery.
///
/// Returns 0, or -1 with `errno` set: `EFAULT` if `ring` is NULL; `EINVAL`
/// if `signo` is not 1 to 64, is `SIGKILL`, `SIGSTOP`, 32 or 33 (reserved by
/// glibc, refused as by `evfd_eventfs_signalfd`), or in a child after
/// `fork()`; `EMFILE`, `ENFILE`, `ENOMEM`.
///
/// # Safety
/// A non-NULL `ring` is a live ring used by this thread only.
#[no_mangle]
pub unsafe extern "C" fn evfd_ring_add_signal(
    ring: *mut evfd_ring,
    signo: c_int,
    udata: u64,
) -> c_int {
    // SAFETY: by the caller's contract.
    int_result(|| {
        unsafe { consumer(ring) }?
            .add_signal(signo, udata)
            .map(|_| 0)
    })
}

/// Adds a timer on `clockid` (`CLOCK_MONOTONIC`, `CLOCK_REALTIME`,
/// `CLOCK_BOOTTIME`), with no descriptor of its own: `EVFD_TIMER_REL` fires
/// once `when` from now, `EVFD_TIMER_ABS` once at `when`, both then
/// removed; `EVFD_TIMER_SEQ` fires every `when` until removed. A zero
/// `when` adds the timer disarmed (`evfd_ring_rearm_timer` arms it). Each
/// expiration is an `EVFD_KIND_TIMER` event whose `value` counts the
/// expirations since the timer's last event (periods missed included).
/// The arguments are checked as `evfd_timerfd` checks them, in the same
/// order.
///
/// Returns 0, or -1 with `errno` set: `EFAULT` if `ring` is NULL; `EINVAL`
/// if `timertype` is not one of those, then if `clockid` is not; `EFAULT`
/// if `when` is NULL; `EINVAL` if `when` has a negative `tv_sec` or a
/// `tv_nsec` outside 0 to 999999999, or in a child after `fork()`;
/// `EMFILE`, `ENFILE` if the clock's one kernel timer cannot be made (only
/// for the first `EVFD_TIMER_ABS` timer on `CLOCK_REALTIME` or the first
/// on `CLOCK_BOOTTIME`: the monotonic clock's comes with the ring);
/// `ENOMEM`.
///
/// `EVFD_TIMER_REL` measures from the clock at the call (one vDSO clock
/// read); to arm many timers from one instant, read `CLOCK_MONOTONIC` once
/// and pass `EVFD_TIMER_ABS` deadlines from it.
///
/// # Safety
/// A non-NULL `ring` is a live ring used by this thread only; a non-NULL
/// `when` points to a readable `struct timespec`.
#[no_mangle]
pub unsafe extern "C" fn evfd_ring_add_timer(
    ring: *mut evfd_ring,
    clockid: c_int,
    timertype: c_int,
    when: *const libc::timespec,
    udata: u64,
) -> c_int {
    int_result(|| {
        // SAFETY: by the caller's contract.
        let mut c = unsafe { consumer(ring) }?;
        // SAFETY: the caller promises a non-NULL `when` is readable.
        let (kind, clock, when) = unsafe { timer_args(timertype, clockid, when) }?;
        c.add_timer(clock, kind, when, udata).map(|_| 0)
    })
}

/// Re-arms, in place, every timer registered under `udata`, as
/// `timertype` and `when` on the clock it was added with (as
/// `evfd_timerfd(ufd, ...)` re-arms a timerfd); a zero `when` disarms it:
/// it stays registered and fires no more until re-armed. Expirations not
/// yet delivered are discarded. Moving a timer later (the idle-timeout
/// idiom) by up to about 78 hours costs O(1): the ring moves it in its
/// heap only when its old deadline comes, once however often it was pushed
/// back. Unless a timer of its clock was armed more than about 78 hours
/// past that clock's earliest deadline since the clock last had no timer
/// armed, such a move does not even read the timer's heap entry. Moving
/// it earlier, or later by more, costs about as much as adding a timer.
///
/// Returns 0, or -1 with `errno` set: `EFAULT` if `ring` is NULL; `EINVAL`
/// if `timertype` is not `EVFD_TIMER_REL`, `EVFD_TIMER_ABS` or
/// `EVFD_TIMER_SEQ`; `EFAULT` if `when` is NULL; `EINVAL` if `when` has a
/// negative `tv_sec` or a `tv_nsec` outside 0 to 999999999, or in a child
/// after `fork()`; `ENOENT` if `udata` names no timer (a one-shot timer
/// whose event was delivered is gone); `EMFILE`, `ENFILE`, `ENOMEM`.
///
/// # Safety
/// A non-NULL `ring` is a live ring used by this thread only; a non-NULL
/// `when` points to a readable `struct timespec`.
#[no_mangle]
pub unsafe extern "C" fn evfd_ring_rearm_timer(
    ring: *mut evfd_ring,
    udata: u64,
    timertype: c_int,
    when: *const libc::timespec,
) -> c_int {
    int_result(|| {
        // SAFETY: by the caller's contract.
        let mut c = unsafe { consumer(ring) }?;
        let kind = TimerType::from_raw(timertype)?;
        // SAFETY: the caller promises a non-NULL `when` is readable.
        let when = unsafe { when_arg(when) }?;
        c.rearm_timer(udata, kind, when).map(|_| 0)
    })
}

/// Waits once for a private `FUTEX_WAKE` on `uaddr`: one `EVFD_KIND_FUTEX`
/// event when woken, or one with `error = EAGAIN` if `*uaddr != expected`
/// when the wait is armed. One-shot: add again to wait again. The word must
/// stay mapped until the event arrives or the source is removed.
///
/// Returns 0, or -1 with `errno` set: `EFAULT` if `ring` or `uaddr` is
/// NULL; `EINVAL` if `uaddr` is not 4-byte aligned, or in a child after
/// `fork()`; `ENOSYS` if the kernel has neither `IORING_OP_FUTEX_WAIT` (on
/// io_uring) nor `futex_waitv` (on epoll, where helper threads of the ring
/// wait); `EAGAIN` if such a thread cannot be made; `ENOMEM`.
///
/// # Safety
/// A non-NULL `ring` is a live ring used by this thread only; `uaddr` stays
/// valid as described.
#[no_mangle]
pub unsafe extern "C" fn evfd_ring_add_futex(
    ring: *mut evfd_ring,
    uaddr: *const u32,
    expected: u32,
    udata: u64,
) -> c_int {
    // SAFETY: by the caller's contract.
    int_result(|| unsafe { consumer(ring)?.add_futex(uaddr, expected, udata) }.map(|_| 0))
}

/// Queues one `EVFD_KIND_USER` event carrying `udata` and `value`. Any
/// thread may call it, concurrently with the consumer; every call is one
/// event (never coalesced), in order per producer, and the consumer is
/// woken only when it has found nothing to do since its last wake-up. Not
/// async-signal-safe (it may take a lock to link a new block of its queue):
/// from a signal handler, write an eventfd the ring watches instead.
///
/// Returns 0, or -1 with `errno` set: `EFAULT` if `ring` is NULL; `EINVAL`
/// in a child after `fork()`; `ENOMEM` if the queue cannot grow (nothing is
/// queued).
///
/// # Safety
/// A non-NULL `ring` is a live ring.
#[no_mangle]
pub unsafe extern "C" fn evfd_ring_post(ring: *mut evfd_ring, udata: u64, value: u64) -> c_int {
    // SAFETY: by the caller's contract.
    post_int_result(|| unsafe { ring_ref(ring) }?.post(udata, value).map(|_| 0))
}

/// Removes every source registered with `udata`; their events not yet
/// delivered are discarded (posted events stay).
///
/// Returns 0, or -1 with `errno` set: `EFAULT` if `ring` is NULL; `ENOENT`
/// if no source has that `udata`; `EINVAL` in a child after `fork()`.
///
/// # Safety
/// A non-NULL `ring` is a live ring used by this thread only.
#[no_mangle]
pub unsafe extern "C" fn evfd_ring_remove(ring: *mut evfd_ring, udata: u64) -> c_int {
    // SAFETY: by the caller's contract.
    int_result(|| unsafe { consumer(ring) }?.remove(udata).map(|_| 0))
}

/// The `out` array as events, checked.
///
/// # Safety
/// A non-NULL `out` is writable for `max` events.
unsafe fn out_slice<'a>(out: *mut evfd_event, max: c_uint) -> Result<&'a mut [Event], Errno> {
    if max == 0 || max > c_int::MAX as c_uint {
        return Err(Errno::EINVAL);
    }
    if out.is_null() {
        return Err(Errno::EFAULT);
    }
    // SAFETY: writable for `max` events by the caller's contract; Event has
    // evfd_event's layout (asserted above).
    Ok(unsafe { core::slice::from_raw_parts_mut(out.cast::<Event>(), max as usize) })
}

/// Copies up to `max` pending events into `out` and returns how many (0 if
/// none). Never blocks. On the io_uring backend it makes no system call
/// when events are pending (reading signalfd records aside: eventfd and
/// timerfd counts are read by the kernel).
///
/// Returns the count, or -1 with `errno` set: `EFAULT` if `ring` or `out` is
/// NULL; `EINVAL` if `max` is 0 or above `INT_MAX`, or in a child after
/// `fork()`.
///
/// # Safety
/// A non-NULL `ring` is a live ring used by this thread only; a non-NULL
/// `out` is writable for `max` events.
#[no_mangle]
pub unsafe extern "C" fn evfd_ring_peek(
    ring: *mut evfd_ring,
    out: *mut evfd_event,
    max: c_uint,
) -> c_int {
    hot_int_result(|| {
        // SAFETY: by the caller's contract.
        let mut c = unsafe { consumer(ring) }?;
        // SAFETY: by the caller's contract.
        let out = unsafe { out_slice(out, max) }?;
        c.peek(out).map(|n| n as c_int)
    })
}

/// Like `evfd_ring_peek`, but waits until at least one event is pending or
/// `timeout` (relative; NULL waits forever) has passed. Any valid
/// `timeout` is accepted, however large: beyond what the clock can
/// represent it waits forever.
///
/// Returns the count (0 on timeout), or -1 with `errno` set: `EINTR` if a
/// signal handler ran; `EFAULT` if `ring` or `out` is NULL; `EINVAL` if
/// `max` is 0 or above `INT_MAX`, if `timeout` has a negative `tv_sec` or a
/// `tv_nsec` outside 0 to 999999999, or in a child after `fork()`.
///
/// # Safety
/// As `evfd_ring_peek`; a non-NULL `timeout` points to a readable `struct
/// timespec`.
#[no_mangle]
pub unsafe extern "C" fn evfd_ring_wait(
    ring: *mut evfd_ring,
    out: *mut evfd_event,
    max: c_uint,
    timeout: *const libc::timespec,
) -> c_int {
    hot_int_result(|| {
        // SAFETY: by the caller's contract.
        let mut c = unsafe { consumer(ring) }?;
        // SAFETY: by the caller's contract.
        let out = unsafe { out_slice(out, max) }?;
        let timeout = if timeout.is_null() {
            None
        } else {
            // SAFETY: non-NULL and readable by the caller's contract.
            Some(unsafe { when_arg(timeout) }?)
        };
        c.wait(out, timeout).map(|n| n as c_int)
    })
}

/// A descriptor that polls readable while events are pending, so the ring
/// nests in any poll/epoll loop. Owned by the ring: do not close it, read
/// it or write it. After it polls readable, call `evfd_ring_peek` until it
/// returns 0 before polling again (queued re-arms are handed to the kernel
/// then). It may poll readable with nothing to deliver (the kernel timer
/// is left at the old deadline of a timer removed or moved later); that
/// `evfd_ring_peek` returns 0.
///
/// Returns the descriptor, or -1 with `errno` set: `EFAULT` if `ring` is
/// NULL; `EINVAL` in a child after `fork()`.
///
/// # Safety
/// A non-NULL `ring` is a live ring used by this thread only.
#[no_mangle]
pub unsafe extern "C" fn evfd_ring_fd(ring: *mut evfd_ring) -> c_int {
    // SAFETY: by the caller's contract.
    int_result(|| Ok(unsafe { consumer(ring) }?.fd()))
}

/// The name of the ring's backend: `"io_uring"` or `"epoll"` (a static
/// string). NULL with `errno = EFAULT` if `ring` is NULL.
///
/// # Safety
/// A non-NULL `ring` is a live ring.
#[no_mangle]
pub unsafe extern "C" fn evfd_ring_backend(ring: *const evfd_ring) -> *const c_char {
    c_call(Reclaim::Yes, || {
        // SAFETY: by the caller's contract.
        let name = match unsafe { ring_ref(ring) }?.backend() {
            ring::BackendKind::IoUring => c"io_uring",
            ring::BackendKind::Epoll => c"epoll",
        };
        Ok(name.as_ptr())
    })
}
