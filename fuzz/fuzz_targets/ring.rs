// SPDX-License-Identifier: MIT OR Apache-2.0
//! The event ring (DESIGN §4, man/man3/evfd_ring.3): decodes the bytes into
//! a sequence of ring operations on one ring, on the io_uring backend, the
//! epoll backend, or both in turn (the first byte chooses), and checks:
//!
//! - no crash, no ASan report;
//! - every call fails exactly when the model says a documented error
//!   applies, with an errno from that set, and leaves errno alone on success;
//! - every event is well-formed: kind 1..5 matching what its udata was
//!   registered as (or the documented kind-0 EOVERFLOW record), reserved
//!   bytes zero, error 0 (or EAGAIN for a futex armed on a changed word),
//!   a udata whose source is still registered (events of removed sources
//!   are discarded) or that was posted;
//! - every post arrives exactly once with its value (never lost, never
//!   coalesced, never duplicated), also after other sources were removed;
//! - timers (add_timer, rearm_timer) against a per-udata model: a disarmed
//!   timer never fires, rearm_timer is ENOENT exactly when no timer is
//!   registered under the udata, a delivered one-shot is gone;
//! - wait with a huge (or NULL) timeout returns at once when an event is
//!   pending; every argument, extremes included (INT64_MAX/INT64_MIN
//!   seconds, bad tv_nsec, UINT_MAX counts, INT_MIN/INT_MAX fds, signals,
//!   clocks and types, NULL pointers, foreign fds, udata 0/UINT64_MAX);
//! - after evfd_ring_free and closing the harness's descriptors, the
//!   process has exactly the descriptors, signal mask and dispositions it
//!   had before.
#![no_main]

use evfd::ffi::fdcalls::evfd_eventfd;
use evfd::ffi::ring::*;
use evfd_fuzz::{Bytes, ProcessState};
use libc::c_int;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Once;

const SENTINEL: c_int = 0x5eed;
const MAX_OPS: usize = 48;
const BUF: usize = 64;

fn errno() -> c_int {
    // SAFETY: the thread's errno location is always valid.
    unsafe { *libc::__errno_location() }
}

fn set_errno(v: c_int) {
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = v };
}

/// The signals this target blocks for its whole run and raises at itself:
/// harmless ones (SIGURG, SIGWINCH are ignored by default) and two realtime
/// ones; never SIGUSR1/2 or SIGALRM (libFuzzer's).
fn signals() -> [c_int; 4] {
    [
        libc::SIGURG,
        libc::SIGWINCH,
        libc::SIGRTMIN() + 4,
        libc::SIGRTMIN() + 5,
    ]
}

fn init_once() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        // SAFETY: plain signal-mask calls on a local set.
        unsafe {
            let mut set: libc::sigset_t = core::mem::zeroed();
            libc::sigemptyset(&mut set);
            for s in signals() {
                libc::sigaddset(&mut set, s);
            }
            assert_eq!(
                libc::pthread_sigmask(libc::SIG_BLOCK, &set, core::ptr::null_mut()),
                0
            );
        }
    });
}

/// Takes every pending harness signal so the next input starts clean.
fn drain_signals() {
    // SAFETY: sigtimedwait with a zero timeout on a local set of signals
    // that are blocked.
    unsafe {
        let mut set: libc::sigset_t = core::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in signals() {
            libc::sigaddset(&mut set, s);
        }
        let zero = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        let mut info: libc::siginfo_t = core::mem::zeroed();
        while libc::sigtimedwait(&set, &mut info, &zero) > 0 {}
    }
}

/// `EVFD_FUZZ_TRACE=1` prints every checked call (to replay a crash by
/// hand).
fn trace(name: &str, ret: c_int, err: c_int, errs: &[c_int]) {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    if *ON.get_or_init(|| std::env::var_os("EVFD_FUZZ_TRACE").is_some()) {
        eprintln!("{name} -> {ret} errno {err} (model: {errs:?})");
    }
}

/// Asserts a call's outcome: success iff `errs` is empty, else -1 and
/// exactly the first errno of `errs`, which the oracles list in the order
/// the calls check their arguments (the man page's order: the ring, then
/// the arguments left to right as documented; for timers type, clock,
/// NULL `when`, its range). Returns whether it succeeded.
fn check(name: &str, ret: c_int, err: c_int, errs: &[c_int]) -> bool {
    trace(name, ret, err, errs);
    if errs.is_empty() {
        assert!(ret >= 0, "{name}: expected success, got errno {err}");
        assert_eq!(err, SENTINEL, "{name}: success changed errno");
        true
    } else {
        assert_eq!(ret, -1, "{name}: expected one of {errs:?}, got {ret}");
        assert_eq!(
            err, errs[0],
            "{name}: errno {err}, expected the first of {errs:?}"
        );
        false
    }
}

/// Like [`check`] but some outcomes are allowed both ways (a one-shot
/// source may or may not have fired and gone).
fn check_maybe(name: &str, ret: c_int, err: c_int, errs: &[c_int]) -> bool {
    trace(name, ret, err, &[]);
    if ret >= 0 {
        assert_eq!(err, SENTINEL, "{name}: success changed errno");
        true
    } else {
        assert_eq!(ret, -1);
        assert!(errs.contains(&err), "{name}: errno {err} not in {errs:?}");
        false
    }
}

fn call(f: impl FnOnce() -> c_int) -> (c_int, c_int) {
    set_errno(SENTINEL);
    let r = f();
    (r, errno())
}

/// The descriptors an input may hand to evfd_ring_add_fd.
struct Fds {
    pipe: [c_int; 2],
    eventfd: c_int,
    evfd_eventfd: c_int,
    timerfd: c_int,
    signalfd: c_int,
    file: c_int,
    dir: c_int,
    /// Foreign kinds a ring may watch: an unconnected AF_UNIX datagram
    /// socket and an (empty) epoll instance.
    socket: c_int,
    epoll: c_int,
}

impl Fds {
    fn open() -> Fds {
        // SAFETY: plain descriptor-creating syscalls into locals.
        unsafe {
            let mut pipe = [0; 2];
            assert_eq!(libc::pipe2(pipe.as_mut_ptr(), libc::O_NONBLOCK), 0);
            let eventfd = libc::syscall(libc::SYS_eventfd2, 0, libc::EFD_NONBLOCK) as c_int;
            let evfd_eventfd = evfd_eventfd(0);
            let timerfd = libc::syscall(
                libc::SYS_timerfd_create,
                libc::CLOCK_MONOTONIC,
                libc::TFD_NONBLOCK,
            ) as c_int;
            let mut mask: u64 = 1 << (libc::SIGRTMIN() + 5 - 1);
            let signalfd = libc::syscall(
                libc::SYS_signalfd4,
                -1,
                &mut mask as *mut u64,
                8usize,
                libc::SFD_NONBLOCK,
            ) as c_int;
            let file = libc::memfd_create(c"evfd-ring-fuzz".as_ptr(), 0);
            let dir = libc::open(c"/".as_ptr(), libc::O_RDONLY | libc::O_DIRECTORY);
            let socket = libc::socket(libc::AF_UNIX, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
            let epoll = libc::epoll_create1(libc::EPOLL_CLOEXEC);
            let f = Fds {
                pipe,
                eventfd,
                evfd_eventfd,
                timerfd,
                signalfd,
                file,
                dir,
                socket,
                epoll,
            };
            for fd in f.all() {
                assert!(fd >= 0, "creating the harness descriptors");
            }
            f
        }
    }

    fn all(&self) -> [c_int; 10] {
        [
            self.pipe[0],
            self.pipe[1],
            self.eventfd,
            self.evfd_eventfd,
            self.timerfd,
            self.signalfd,
            self.file,
            self.dir,
            self.socket,
            self.epoll,
        ]
    }

    fn close(&self) {
        for fd in self.all() {
            // SAFETY: closing descriptors this harness opened.
            unsafe { libc::close(fd) };
        }
    }
}

/// What a udata was registered as (the kinds its events may have); timers
/// are counted apart, in [`Timers`].
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Src {
    Fd,
    /// A watched fd whose number the harness closed and reused for a new
    /// file without `remove`: its source is dropped with one FD event with
    /// `error = EBADF` (at the latest when the number is added again).
    StaleFd,
    SignalFd,
    Signal,
    Futex,
}

/// The timers registered under one udata, by state. A `SEQ` or disarmed
/// timer stays registered until removed; a one-shot (`REL`/`ABS`) timer is
/// gone once its event is delivered. The ring hands a due timer straight
/// to the caller's array (never holds it), so the model sees every timer
/// event; `oneshot` is an upper bound only because an event for a udata
/// that also has `SEQ` timers cannot be told apart.
#[derive(Clone, Copy, Default, Debug)]
struct Timers {
    seq: usize,
    disarmed: usize,
    oneshot: usize,
}

impl Timers {
    /// Certainly at least one timer registered.
    fn certain(&self) -> bool {
        self.seq + self.disarmed > 0
    }
    fn total(&self) -> usize {
        self.seq + self.disarmed + self.oneshot
    }
}

struct Model {
    /// udata → kinds of non-timer sources registered under it and not
    /// removed.
    live: BTreeMap<u64, BTreeSet<Src>>,
    /// udata → its timers.
    timers: BTreeMap<u64, Timers>,
    /// Descriptors watched (EEXIST on a second add).
    watched: BTreeMap<c_int, u64>,
    /// Posts not yet received: (udata, value).
    posts: BTreeSet<(u64, u64)>,
    next_value: u64,
    received_posts: u64,
    sent_posts: u64,
}

impl Model {
    /// Checks a remove's outcome (certain success while a source that
    /// never goes by itself is registered; ENOENT when nothing is; either
    /// when only one-shot sources may remain) and forgets the udata.
    fn check_remove(&mut self, name: &str, udata: u64, r: c_int, e: c_int) {
        let kinds = self.live.get(&udata).cloned().unwrap_or_default();
        let t = self.timers.get(&udata).copied().unwrap_or_default();
        let certain =
            t.certain() || kinds.iter().any(|s| !matches!(s, Src::Futex | Src::StaleFd));
        if certain {
            check(name, r, e, &[]);
        } else if kinds.is_empty() && t.total() == 0 {
            check(name, r, e, &[libc::ENOENT]);
        } else {
            check_maybe(name, r, e, &[libc::ENOENT]);
        }
        // Either way nothing is registered under udata any more.
        self.live.remove(&udata);
        self.timers.remove(&udata);
        self.watched.retain(|_, u| *u != udata);
    }

    fn check_events(&mut self, evs: &[evfd_event]) {
        for ev in evs {
            assert!(
                ev.reserved.iter().all(|&b| b == 0),
                "reserved bytes: {}",
                show(ev)
            );
            if ev.kind == 0 {
                assert_eq!(ev.error, libc::EOVERFLOW, "kind-0 event: {}", show(ev));
                continue;
            }
            if ev.kind == EVFD_KIND_USER {
                assert_eq!(ev.error, 0);
                assert!(
                    self.posts.remove(&(ev.udata, ev.value)),
                    "a USER event that was not posted or came twice: {}",
                    show(ev)
                );
                self.received_posts += 1;
                continue;
            }
            if ev.kind == EVFD_KIND_TIMER {
                // Only an armed timer fires: never a disarmed one (added
                // with a zero `when` or re-armed with one), never one of a
                // removed udata, never after its one shot was delivered.
                let t = self.timers.get_mut(&ev.udata).unwrap_or_else(|| {
                    panic!("a TIMER event for a udata with no timer: {}", show(ev))
                });
                assert!(
                    t.seq + t.oneshot > 0 && ev.error == 0 && ev.value >= 1,
                    "a TIMER event from no armed timer ({t:?}): {}",
                    show(ev)
                );
                if t.seq == 0 {
                    t.oneshot -= 1; // this one-shot timer is gone
                    if t.total() == 0 {
                        self.timers.remove(&ev.udata);
                    }
                }
                continue;
            }
            let kinds = self.live.get(&ev.udata).unwrap_or_else(|| {
                panic!("an event for a udata with no live source: {}", show(ev))
            });
            let ok = kinds.iter().any(|s| match s {
                Src::Fd => ev.kind == EVFD_KIND_FD && ev.error == 0,
                Src::StaleFd => {
                    ev.kind == EVFD_KIND_FD && (ev.error == 0 || ev.error == libc::EBADF)
                }
                Src::SignalFd => {
                    (ev.kind == EVFD_KIND_FD || ev.kind == EVFD_KIND_SIGNAL) && ev.error == 0
                }
                Src::Signal => ev.kind == EVFD_KIND_SIGNAL && ev.error == 0,
                Src::Futex => {
                    ev.kind == EVFD_KIND_FUTEX && (ev.error == 0 || ev.error == libc::EAGAIN)
                }
            });
            assert!(
                ok,
                "event does not match its sources {kinds:?}: {}",
                show(ev)
            );
            if ev.kind == EVFD_KIND_SIGNAL {
                assert!(
                    signals().contains(&(ev.signo as c_int)),
                    "a signal the harness never raised: {}",
                    show(ev)
                );
            }
            if ev.kind == EVFD_KIND_FD && ev.error == 0 {
                assert_ne!(ev.revents, 0, "an FD event with no revents: {}", show(ev));
            }
        }
    }
}

fn zero_event() -> evfd_event {
    // SAFETY: evfd_event is plain integers; all-zero is a valid value.
    unsafe { core::mem::zeroed() }
}

fn show(ev: &evfd_event) -> String {
    format!(
        "udata {} kind {} error {} value {} revents {:#x} signo {} code {} reserved {:?}",
        ev.udata, ev.kind, ev.error, ev.value, ev.revents, ev.signo, ev.code, ev.reserved
    )
}

/// udata: 0 and `UINT64_MAX` often, a few small values (so sources share
/// one), or arbitrary.
fn decode_udata(input: &mut Bytes) -> u64 {
    match input.u8() % 8 {
        0 => u64::MAX,
        1 => input.u64(),
        7 => 0,
        n => n as u64,
    }
}

/// Timer types: the three valid ones most often, then 3, -1, `INT_MIN`,
/// `INT_MAX` and arbitrary ints.
fn decode_timertype(input: &mut Bytes) -> c_int {
    match input.u8() % 10 {
        0 => 3,
        1 => input.u32() as c_int,
        2 => [c_int::MIN, c_int::MAX, -1][input.u8() as usize % 3],
        n => (n % 3) as c_int,
    }
}

fn decode_timespec(input: &mut Bytes) -> libc::timespec {
    const SECS: [i64; 8] = [0, 1, -1, i64::MAX, i64::MIN, 1 << 33, 9_223_372_036, 3600];
    const NSECS: [i64; 8] = [
        0,
        1,
        999_999_999,
        1_000_000_000,
        -1,
        i64::MAX,
        5_000_000,
        100_000,
    ];
    let (s, ns) = match input.u8() % 4 {
        0 => (0, 1_000_000 * (1 + input.u8() as i64 % 30)), // short real timers
        1 => (
            SECS[input.u8() as usize % 8],
            NSECS[input.u8() as usize % 8],
        ),
        _ => (input.u64() as i64, input.u64() as i64),
    };
    libc::timespec {
        tv_sec: s,
        tv_nsec: ns,
    }
}

fn valid_ts(t: &libc::timespec) -> bool {
    t.tv_sec >= 0 && (0..1_000_000_000).contains(&t.tv_nsec)
}

fn now(clock: c_int) -> libc::timespec {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: writes a local.
    unsafe { libc::clock_gettime(clock, &mut t) };
    t
}

fn run_one(data: &[u8], epoll: bool) {
    let backend = if epoll { c"epoll" } else { c"io_uring" };
    // SAFETY: the fuzzer is single-threaded while the target runs.
    unsafe { libc::setenv(c"EVFD_RING_BACKEND".as_ptr(), backend.as_ptr(), 1) };

    let before = ProcessState::capture();
    let mut input = Bytes::new(data);

    // evfd_ring_new with odd entries/flags; a refused one is followed by
    // a sensible one so the sequence runs.
    const ENTRIES: [u32; 8] = [0, 1, 2, 3, 7, 4096, 32769, u32::MAX];
    let entries = ENTRIES[input.u8() as usize % 8];
    let flags = match input.u8() % 8 {
        0 => input.u32(),
        1 => 1,
        2 => u32::MAX,
        _ => 0,
    };
    set_errno(SENTINEL);
    let mut ring = evfd_ring_new(entries, flags);
    let err = errno();
    if flags != 0 {
        assert!(ring.is_null(), "flags {flags} accepted");
        assert_eq!(err, libc::EINVAL);
    } else if ring.is_null() {
        assert!(
            [libc::ENOMEM, libc::EMFILE, libc::ENFILE].contains(&err),
            "evfd_ring_new({entries}, 0): errno {err}"
        );
    } else {
        assert_eq!(err, SENTINEL, "evfd_ring_new success changed errno");
    }
    if ring.is_null() {
        ring = evfd_ring_new(8, 0);
        assert!(!ring.is_null(), "evfd_ring_new(8, 0): errno {}", errno());
    }
    // SAFETY: `ring` is a live ring; the returned string is static.
    let name = unsafe { std::ffi::CStr::from_ptr(evfd_ring_backend(ring)) };
    assert_eq!(name, backend);
    // SAFETY: a live ring.
    let ring_fd = unsafe { evfd_ring_fd(ring) };
    assert!(ring_fd >= 0);

    let fds = Fds::open();
    // Futex words: stay mapped until the ring is freed (boxed, not moved).
    let words: Box<[u32; 4]> = Box::new([0; 4]);
    let words_ptr = words.as_ptr() as *mut u32;
    let mut m = Model {
        live: BTreeMap::new(),
        timers: BTreeMap::new(),
        watched: BTreeMap::new(),
        posts: BTreeSet::new(),
        next_value: 0,
        received_posts: 0,
        sent_posts: 0,
    };
    let mut out: Vec<evfd_event> = vec![zero_event(); BUF];
    let null_ring: *mut evfd_ring = core::ptr::null_mut();

    for _ in 0..MAX_OPS {
        if input.is_empty() {
            break;
        }
        match input.u8() % 17 {
            0 => {
                // add_fd on a descriptor of some kind: the harness's own
                // (pipe, eventfds, timerfd, signalfd, memfd, directory,
                // socket, epoll), a closed number, -1, the ring's own fd,
                // INT_MIN, INT_MAX.
                let pick = input.u8() % 15;
                let fd = match pick {
                    0..=9 => fds.all()[pick as usize],
                    10 => 900 + (input.u8() % 50) as c_int, // certainly closed
                    11 => -1,
                    12 => ring_fd,
                    13 => c_int::MIN,
                    _ => c_int::MAX,
                };
                let events = match input.u8() % 6 {
                    0 => 0,
                    1 => input.u32(),
                    2 => libc::POLLOUT as u32,
                    3 => (libc::POLLIN | libc::POLLOUT | libc::POLLRDHUP) as u32,
                    _ => libc::POLLIN as u32,
                };
                let udata = decode_udata(&mut input);
                let known = (libc::POLLIN
                    | libc::POLLPRI
                    | libc::POLLOUT
                    | libc::POLLRDNORM
                    | libc::POLLRDBAND
                    | libc::POLLWRNORM
                    | libc::POLLWRBAND
                    | libc::POLLRDHUP) as u32;
                // In the order evfd_ring_add_fd checks: fd open, events,
                // regular file or directory, the ring's own fd, watched.
                let mut errs = vec![];
                if !(0..=9).contains(&pick) && pick != 12 {
                    errs.push(libc::EBADF);
                }
                if events == 0 || events & !known != 0 {
                    errs.push(libc::EINVAL);
                }
                if pick == 6 || pick == 7 {
                    errs.push(libc::EPERM);
                }
                if pick == 12 {
                    errs.push(libc::EINVAL);
                }
                if m.watched.contains_key(&fd) {
                    errs.push(libc::EEXIST);
                }
                // SAFETY: a live ring.
                let (r, e) = call(|| unsafe { evfd_ring_add_fd(ring, fd, events, udata) });
                if check("evfd_ring_add_fd", r, e, &errs) {
                    m.watched.insert(fd, udata);
                    let s = if fd == fds.signalfd {
                        Src::SignalFd
                    } else {
                        Src::Fd
                    };
                    m.live.entry(udata).or_default().insert(s);
                }
            }
            1 => {
                let signo = match input.u8() % 8 {
                    0..=3 => signals()[input.u8() as usize % 4],
                    4 => [
                        0,
                        65,
                        -1,
                        libc::SIGKILL,
                        libc::SIGSTOP,
                        32,
                        33,
                        c_int::MIN,
                        c_int::MAX,
                        64,
                    ][input.u8() as usize % 10],
                    5 => input.u32() as c_int,
                    _ => 1 + (input.u8() % 64) as c_int,
                };
                let udata = decode_udata(&mut input);
                // 32 and 33 are glibc's (EINVAL, as for eventfs).
                let bad = !(1..=64).contains(&signo)
                    || signo == libc::SIGKILL
                    || signo == libc::SIGSTOP
                    || signo == 32
                    || signo == 33;
                let errs = if bad { vec![libc::EINVAL] } else { vec![] };
                // SAFETY: a live ring.
                let (r, e) = call(|| unsafe { evfd_ring_add_signal(ring, signo, udata) });
                if check("evfd_ring_add_signal", r, e, &errs) {
                    m.live.entry(udata).or_default().insert(Src::Signal);
                }
            }
            2 => {
                const CLOCKS: [c_int; 10] = [
                    libc::CLOCK_MONOTONIC,
                    libc::CLOCK_REALTIME,
                    libc::CLOCK_BOOTTIME,
                    libc::CLOCK_PROCESS_CPUTIME_ID,
                    libc::CLOCK_REALTIME_ALARM,
                    libc::CLOCK_MONOTONIC_RAW,
                    -1,
                    libc::CLOCK_MONOTONIC,
                    c_int::MIN,
                    c_int::MAX,
                ];
                let clock = CLOCKS[input.u8() as usize % CLOCKS.len()];
                let ttype = decode_timertype(&mut input);
                let null_when = input.u8() % 16 == 0;
                let mut when = decode_timespec(&mut input);
                if ttype == 1 && input.u8() % 2 == 0 && valid_ts(&when) && when.tv_sec < 1 << 40 {
                    // An absolute time near now (past or soon).
                    let n = now(clock);
                    when.tv_sec = when.tv_sec.saturating_add(n.tv_sec);
                }
                let udata = decode_udata(&mut input);
                // evfd_timerfd's checks in its order: timertype, clockid,
                // `when` NULL (EFAULT), `when`'s range. Any valid `when`,
                // however large (INT64_MAX seconds), is accepted; zero adds
                // the timer disarmed.
                let good_clock = [
                    libc::CLOCK_MONOTONIC,
                    libc::CLOCK_REALTIME,
                    libc::CLOCK_BOOTTIME,
                ]
                .contains(&clock);
                let mut errs = vec![];
                if !(0..=2).contains(&ttype) || !good_clock {
                    errs.push(libc::EINVAL);
                }
                if null_when {
                    errs.push(libc::EFAULT);
                } else if !valid_ts(&when) {
                    errs.push(libc::EINVAL);
                }
                let p: *const libc::timespec = if null_when { core::ptr::null() } else { &when };
                // SAFETY: a live ring; `p` is NULL or a local.
                let (r, e) = call(|| unsafe { evfd_ring_add_timer(ring, clock, ttype, p, udata) });
                // No descriptor per timer (one kernel timer per clock), and
                // the harness is far from the limit: EMFILE is not accepted.
                if check("evfd_ring_add_timer", r, e, &errs) {
                    let t = m.timers.entry(udata).or_default();
                    if when.tv_sec == 0 && when.tv_nsec == 0 {
                        t.disarmed += 1;
                    } else if ttype == 2 {
                        t.seq += 1;
                    } else {
                        t.oneshot += 1;
                    }
                }
            }
            3 => {
                let which = input.u8();
                let idx = (which % 4) as usize;
                // SAFETY: inside the boxed array (or deliberately NULL /
                // misaligned by one byte, which evfd must refuse unread).
                let addr: *const u32 = match which % 8 {
                    4 => core::ptr::null(),
                    5 => (unsafe { (words_ptr as *const u8).add(1) }) as *const u32,
                    _ => unsafe { words_ptr.add(idx) },
                };
                // SAFETY: a valid word of the box.
                let cur = unsafe { core::ptr::read_volatile(words_ptr.add(idx)) };
                let expected = if input.u8() % 2 == 0 {
                    cur
                } else {
                    cur.wrapping_add(1)
                };
                let udata = decode_udata(&mut input);
                let mut errs = vec![];
                if addr.is_null() {
                    errs.push(libc::EFAULT);
                } else if which % 8 == 5 {
                    errs.push(libc::EINVAL);
                }
                // Both backends wait (epoll: futex_waitv in the ring's
                // helper threads; this kernel has it), so no ENOSYS.
                // SAFETY: a live ring; the words outlive it.
                let (r, e) = call(|| unsafe { evfd_ring_add_futex(ring, addr, expected, udata) });
                if check("evfd_ring_add_futex", r, e, &errs) {
                    m.live.entry(udata).or_default().insert(Src::Futex);
                }
            }
            4 => {
                // Wake (and maybe change) a futex word.
                let idx = (input.u8() % 4) as usize;
                let change = input.u8() % 2 == 0;
                // SAFETY: a word of the box; FUTEX_WAKE_PRIVATE on it.
                unsafe {
                    let w = words_ptr.add(idx);
                    if change {
                        core::ptr::write_volatile(w, core::ptr::read_volatile(w).wrapping_add(1));
                    }
                    libc::syscall(
                        libc::SYS_futex,
                        w,
                        libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
                        i32::MAX,
                    );
                }
            }
            5 => {
                let udata = decode_udata(&mut input);
                // Fresh values, from 0 up or from UINT64_MAX down (all
                // distinct, so each post is matched exactly).
                let value = if input.u8() % 2 == 0 {
                    m.next_value
                } else {
                    u64::MAX - m.next_value
                };
                m.next_value += 1;
                // SAFETY: a live ring.
                let (r, e) = call(|| unsafe { evfd_ring_post(ring, udata, value) });
                check("evfd_ring_post", r, e, &[]);
                m.posts.insert((udata, value));
                m.sent_posts += 1;
            }
            6 => {
                let udata = decode_udata(&mut input);
                // SAFETY: a live ring.
                let (r, e) = call(|| unsafe { evfd_ring_remove(ring, udata) });
                m.check_remove("evfd_ring_remove", udata, r, e);
            }
            7 | 8 => {
                // peek, or wait with a zero, short, huge, NULL or bad
                // timeout. `max` INT_MAX itself is valid but would need an
                // array of 2^31 events, so only the refused ones above it.
                let max: u32 = match input.u8() % 8 {
                    0 => 0,
                    1 => u32::MAX,
                    2 => c_int::MAX as u32 + 1,
                    n => [1, 2, 3, 64, 17][n as usize % 5],
                };
                let null_out = input.u8() % 16 == 0;
                let is_wait = input.u8() % 2 == 0;
                let ts = |tv_sec: i64, tv_nsec: i64| libc::timespec { tv_sec, tv_nsec };
                let mut null_timeout = false;
                let mut timeout = match input.u8() % 14 {
                    0 => ts(-1, 0),
                    1 => ts(0, 1_000_000_000),
                    2 => ts(0, 1_000_000),
                    3 => ts(i64::MAX, 999_999_999),
                    4 => ts(i64::MAX, 0),
                    // Just past what a u64 of nanoseconds holds.
                    5 => ts(18_446_744_073, 709_551_615),
                    6 => ts(9_223_372_036, 854_775_807),
                    7 => ts(i64::MIN, 0),
                    8 => ts(0, -1),
                    9 => ts(0, i64::MAX),
                    10 => ts(1 << 33, 999_999_999),
                    11 => {
                        null_timeout = true;
                        ts(0, 0)
                    }
                    _ => ts(0, 0),
                };
                let mut errs = vec![];
                if max == 0 || max > c_int::MAX as u32 {
                    errs.push(libc::EINVAL);
                }
                if null_out {
                    errs.push(libc::EFAULT);
                }
                if is_wait && !null_timeout && !valid_ts(&timeout) {
                    errs.push(libc::EINVAL);
                }
                // A long (or endless) wait is only made when it must return
                // at once: refused, or a post of ours not yet received is
                // pending (any timeout, however large, is accepted and an
                // event pending is returned without waiting).
                let long = null_timeout || timeout.tv_sec > 0;
                let must_return = !errs.is_empty() || !m.posts.is_empty();
                if is_wait && long && !must_return {
                    null_timeout = false;
                    timeout = ts(0, 0);
                }
                let p = if null_out {
                    core::ptr::null_mut()
                } else {
                    out.as_mut_ptr()
                };
                let tp: *const libc::timespec = if null_timeout {
                    core::ptr::null()
                } else {
                    &timeout
                };
                let started = std::time::Instant::now();
                // SAFETY: a live ring; `out` holds BUF events and every
                // valid max is ≤ BUF; `tp` is NULL or a local.
                let (r, e) = call(|| unsafe {
                    if is_wait {
                        evfd_ring_wait(ring, p, max, tp)
                    } else {
                        evfd_ring_peek(ring, p, max)
                    }
                });
                if is_wait && r == -1 && e == libc::EINTR {
                    continue;
                }
                if is_wait && long {
                    assert!(
                        started.elapsed() < std::time::Duration::from_secs(5),
                        "wait({:?}, {}) with an event pending or bad arguments took {:?}",
                        (timeout.tv_sec, timeout.tv_nsec),
                        if null_timeout { "NULL" } else { "timeout" },
                        started.elapsed()
                    );
                }
                if check("evfd_ring_peek/wait", r, e, &errs) {
                    assert!(r as u32 <= max);
                    for ev in &out[..r as usize] {
                        trace(&format!("  event {}", show(ev)), 0, 0, &[]);
                    }
                    if is_wait && !m.posts.is_empty() {
                        assert!(r >= 1, "wait returned 0 with a post pending");
                    }
                    let n = r as usize;
                    let evs = out[..n].to_vec();
                    m.check_events(&evs);
                }
            }
            9 => {
                // Raise a harness signal (blocked) at this thread.
                let s = signals()[input.u8() as usize % 4];
                // SAFETY: tgkill to this thread with a blocked signal.
                unsafe {
                    libc::syscall(libc::SYS_tgkill, libc::getpid(), libc::gettid(), s);
                }
            }
            10 => {
                // Make a watched descriptor ready, or drain it.
                let one: u64 = 1 + (input.u8() as u64);
                // SAFETY: writes/reads on the harness's own descriptors.
                unsafe {
                    match input.u8() % 4 {
                        0 => {
                            libc::write(fds.pipe[1], b"xyz".as_ptr().cast(), 3);
                        }
                        1 => {
                            libc::write(fds.eventfd, (&one as *const u64).cast(), 8);
                        }
                        2 => {
                            libc::write(fds.evfd_eventfd, (&one as *const u64).cast(), 8);
                        }
                        _ => {
                            let mut b = [0u8; 64];
                            libc::read(fds.pipe[0], b.as_mut_ptr().cast(), 64);
                        }
                    }
                }
            }
            11 => {
                // Arm the kernel timerfd (short or disarm).
                let ms = input.u8() as i64 % 20;
                let spec = libc::itimerspec {
                    it_interval: libc::timespec {
                        tv_sec: 0,
                        tv_nsec: ms * 1_000_000,
                    },
                    it_value: libc::timespec {
                        tv_sec: 0,
                        tv_nsec: ms * 1_000_000,
                    },
                };
                // SAFETY: timerfd_settime on the harness's timerfd.
                unsafe {
                    libc::syscall(
                        libc::SYS_timerfd_settime,
                        fds.timerfd,
                        0,
                        &spec,
                        core::ptr::null_mut::<libc::itimerspec>(),
                    )
                };
            }
            12 => {
                // Every call with a NULL ring: EFAULT, nothing else touched.
                let t = libc::timespec {
                    tv_sec: 0,
                    tv_nsec: 0,
                };
                let w = 0u32;
                // SAFETY: NULL ring pointers are part of the contract
                // (EFAULT); `out`, `t` and `w` are locals.
                unsafe {
                    let huge = libc::timespec {
                        tv_sec: i64::MAX,
                        tv_nsec: 999_999_999,
                    };
                    let calls: [(&str, (c_int, c_int)); 13] = [
                        (
                            "add_fd",
                            call(|| evfd_ring_add_fd(null_ring, fds.pipe[0], 1, 1)),
                        ),
                        (
                            "add_signal",
                            call(|| evfd_ring_add_signal(null_ring, libc::SIGURG, 1)),
                        ),
                        (
                            "add_timer",
                            call(|| evfd_ring_add_timer(null_ring, 1, 0, &t, 1)),
                        ),
                        // The ring is checked first: EFAULT even with every
                        // other argument wrong or extreme.
                        (
                            "add_timer(extremes)",
                            call(|| {
                                evfd_ring_add_timer(
                                    null_ring,
                                    c_int::MIN,
                                    c_int::MAX,
                                    core::ptr::null(),
                                    u64::MAX,
                                )
                            }),
                        ),
                        (
                            "rearm_timer",
                            call(|| evfd_ring_rearm_timer(null_ring, u64::MAX, 2, &huge)),
                        ),
                        (
                            "rearm_timer(extremes)",
                            call(|| evfd_ring_rearm_timer(null_ring, 0, c_int::MIN, core::ptr::null())),
                        ),
                        (
                            "add_futex",
                            call(|| evfd_ring_add_futex(null_ring, &w, 0, 1)),
                        ),
                        ("post", call(|| evfd_ring_post(null_ring, 1, 1))),
                        ("remove", call(|| evfd_ring_remove(null_ring, 1))),
                        (
                            "peek",
                            call(|| evfd_ring_peek(null_ring, out.as_mut_ptr(), 1)),
                        ),
                        (
                            "wait",
                            call(|| evfd_ring_wait(null_ring, out.as_mut_ptr(), 1, &t)),
                        ),
                        ("fd", call(|| evfd_ring_fd(null_ring))),
                        ("free", {
                            set_errno(SENTINEL);
                            evfd_ring_free(null_ring);
                            (0, errno())
                        }),
                    ];
                    for (name, (r, e)) in calls {
                        if name == "free" {
                            assert_eq!(e, SENTINEL, "evfd_ring_free(NULL) changed errno");
                        } else {
                            check(name, r, e, &[libc::EFAULT]);
                        }
                    }
                    set_errno(SENTINEL);
                    assert!(evfd_ring_backend(null_ring).is_null());
                    assert_eq!(errno(), libc::EFAULT);
                }
            }
            13 => {
                // evfd_ring_fd is stable and open.
                // SAFETY: a live ring.
                let (r, e) = call(|| unsafe { evfd_ring_fd(ring) });
                check("evfd_ring_fd", r, e, &[]);
                assert_eq!(r, ring_fd);
            }
            14 => {
                // evfd_ring_rearm_timer: checks in the order timertype,
                // `when` NULL (EFAULT), `when`'s range, then ENOENT if no
                // timer is registered under udata (a delivered one-shot is
                // gone); re-arms every timer of udata; zero disarms.
                let udata = decode_udata(&mut input);
                let ttype = decode_timertype(&mut input);
                let null_when = input.u8() % 16 == 0;
                let mut when = decode_timespec(&mut input);
                if ttype == 1 && input.u8() % 2 == 0 && valid_ts(&when) && when.tv_sec < 1 << 40 {
                    // Near now on CLOCK_MONOTONIC: soon, or long past on
                    // the other clocks.
                    when.tv_sec = when.tv_sec.saturating_add(now(libc::CLOCK_MONOTONIC).tv_sec);
                }
                let mut errs = vec![];
                if !(0..=2).contains(&ttype) {
                    errs.push(libc::EINVAL);
                }
                if null_when {
                    errs.push(libc::EFAULT);
                } else if !valid_ts(&when) {
                    errs.push(libc::EINVAL);
                }
                let t = m.timers.get(&udata).copied().unwrap_or_default();
                let maybe = errs.is_empty() && !t.certain() && t.oneshot > 0;
                if errs.is_empty() && t.total() == 0 {
                    errs.push(libc::ENOENT);
                }
                let p: *const libc::timespec = if null_when { core::ptr::null() } else { &when };
                // SAFETY: a live ring; `p` is NULL or a local.
                let (r, e) = call(|| unsafe { evfd_ring_rearm_timer(ring, udata, ttype, p) });
                let ok = if maybe {
                    check_maybe("evfd_ring_rearm_timer", r, e, &[libc::ENOENT])
                } else {
                    check("evfd_ring_rearm_timer", r, e, &errs)
                };
                if ok {
                    // Every timer of udata now has the new type and `when`
                    // (the count is an upper bound if one-shots were gone).
                    let n = t.total();
                    let mut new = Timers::default();
                    if when.tv_sec == 0 && when.tv_nsec == 0 {
                        new.disarmed = n;
                    } else if ttype == 2 {
                        new.seq = n;
                    } else {
                        new.oneshot = n;
                    }
                    m.timers.insert(udata, new);
                } else if maybe {
                    // ENOENT: every one-shot timer of udata had fired.
                    m.timers.remove(&udata);
                }
            }
            16 => {
                // Close the socket or the epoll fd behind the ring's back
                // and reuse its number for a new file of the same kind
                // (dup2 of a fresh one onto it). If it was watched, that
                // source is dropped with one EBADF event (DESIGN §4: both
                // backends alike), and adding the number again succeeds.
                let is_socket = input.u8() % 2 == 0;
                let which = if is_socket { fds.socket } else { fds.epoll };
                // SAFETY: descriptors this harness owns; dup2 onto its own
                // number.
                unsafe {
                    let fresh = if is_socket {
                        libc::socket(libc::AF_UNIX, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0)
                    } else {
                        libc::epoll_create1(libc::EPOLL_CLOEXEC)
                    };
                    assert!(fresh >= 0);
                    assert_eq!(libc::dup2(fresh, which), which);
                    libc::close(fresh);
                }
                if let Some(u) = m.watched.remove(&which) {
                    // Another plain fd of the harness still watched under u?
                    let still_fd = m
                        .watched
                        .iter()
                        .any(|(fd, x)| *x == u && *fd != fds.signalfd);
                    let kinds = m.live.entry(u).or_default();
                    if !still_fd {
                        kinds.remove(&Src::Fd);
                    }
                    kinds.insert(Src::StaleFd);
                }
            }
            _ => {
                // The 2007 calls on the ring's own descriptor (an io_uring
                // or epoll fd: a foreign kind for them): EINVAL, with
                // extreme values too; the ring goes on working.
                let huge = libc::timespec {
                    tv_sec: i64::MAX,
                    tv_nsec: 999_999_999,
                };
                let mask = u64::MAX;
                // SAFETY: `huge` and `mask` are locals; 8 bytes readable.
                let (r, e) = call(|| unsafe {
                    evfd::ffi::fdcalls::evfd_timerfd(ring_fd, libc::CLOCK_MONOTONIC, 2, &huge)
                });
                check("evfd_timerfd(ring fd)", r, e, &[libc::EINVAL]);
                // SAFETY: as above.
                let (r, e) = call(|| unsafe {
                    evfd::ffi::fdcalls::evfd_signalfd(ring_fd, (&mask as *const u64).cast(), 8)
                });
                check("evfd_signalfd(ring fd)", r, e, &[libc::EINVAL]);
                // SAFETY: as above.
                let (r, e) = call(|| unsafe {
                    evfd::ffi::preload::timerfd(ring_fd, libc::CLOCK_REALTIME, 0, &huge)
                });
                check("timerfd(ring fd)", r, e, &[libc::EINVAL]);
                // SAFETY: a live ring.
                let (r, e) = call(|| unsafe { evfd_ring_fd(ring) });
                check("evfd_ring_fd", r, e, &[]);
                assert_eq!(r, ring_fd);
            }
        }
    }

    // Remove every source, then drain: every post must come back exactly
    // once and no event of a removed source may appear.
    let udatas: BTreeSet<u64> = m.live.keys().chain(m.timers.keys()).copied().collect();
    for u in udatas {
        // SAFETY: a live ring.
        let (r, e) = call(|| unsafe { evfd_ring_remove(ring, u) });
        m.check_remove("evfd_ring_remove (final)", u, r, e);
    }
    assert!(m.live.is_empty() && m.timers.is_empty());
    let mut rounds = 0;
    while !m.posts.is_empty() {
        let t = libc::timespec {
            tv_sec: 0,
            tv_nsec: 10_000_000,
        };
        // SAFETY: a live ring; `out` holds BUF events.
        let n = unsafe { evfd_ring_wait(ring, out.as_mut_ptr(), BUF as u32, &t) };
        if n < 0 {
            assert_eq!(errno(), libc::EINTR);
            continue;
        }
        let evs = out[..n as usize].to_vec();
        m.check_events(&evs);
        rounds += 1;
        assert!(
            rounds < 500,
            "posts lost: {} sent, {} received, missing {:?}",
            m.sent_posts,
            m.received_posts,
            m.posts
        );
    }
    // Nothing further: no duplicate post, no event from a removed source.
    // SAFETY: a live ring.
    let n = unsafe { evfd_ring_peek(ring, out.as_mut_ptr(), BUF as u32) };
    assert!(n >= 0);
    let evs = out[..n as usize].to_vec();
    m.check_events(&evs);
    assert_eq!(m.received_posts, m.sent_posts);

    // SAFETY: the ring is freed once; the words outlive it.
    unsafe { evfd_ring_free(ring) };
    drop(words);
    fds.close();
    drain_signals();
    ProcessState::capture().assert_same(&before);
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    init_once();
    if data.is_empty() {
        return;
    }
    match data[0] % 3 {
        0 => run_one(&data[1..], false),
        1 => run_one(&data[1..], true),
        _ => {
            run_one(&data[1..], false);
            run_one(&data[1..], true);
        }
    }
});
