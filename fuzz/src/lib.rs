// SPDX-License-Identifier: MIT OR Apache-2.0
//! The harness shared by every evfd fuzz target.
//!
//! A target hands its bytes to [`run`] with the operations it may use. The
//! bytes are decoded into a sequence of operations on a small table of
//! descriptors of every kind (closed numbers, foreign pipes/files/sockets,
//! descriptors made by evfd and by the kernel). Each evfd call goes through
//! the exported `extern "C"` functions exactly as C calls them, and is
//! checked against a model of the table:
//!
//! - the call succeeds exactly when the model says no documented error
//!   applies, and otherwise fails with one of the errnos that apply;
//! - on success `errno` is untouched, and the descriptor has the state the
//!   call promised (mask, clock, interval, count, no close-on-exec,
//!   blocking); on failure nothing observable changed;
//! - reads return what the model predicts (eventfd counts, signalfd records
//!   for exactly the signals that were pending);
//! - when the input is done and the table closed, the process has exactly the
//!   descriptors, signal mask, dispositions and pending signals it had
//!   before.
//!
//! Any violation panics, which aborts (panic = "abort"), which libFuzzer
//! reports as a crash with the input that caused it.
//!
//! Adding a target for a new call (eventfs, the unprefixed exports, the
//! ring) means: one [`Op`] variant with its decoder, one `op_*` function with
//! its oracle, and a three-line file in `fuzz_targets/` (see fuzz/README.md).

use evfd::ffi::eventfs::evfd_eventfs_signalfd;
use evfd::ffi::fdcalls::{evfd_eventfd, evfd_signalfd, evfd_timerfd};
use evfd::ffi::preload::{signalfd as unprefixed_signalfd, timerfd as unprefixed_timerfd};
use libc::c_int;
use std::collections::BTreeMap;
use std::sync::Once;

mod bytes;
mod model;
mod process;

pub use bytes::Bytes;
pub use model::{Kind, Table};
pub use process::ProcessState;

/// The errno value the harness plants before each call, to see that a
/// successful call leaves it alone.
const SENTINEL_ERRNO: c_int = 0x5eed;

/// The operations a target may decode; each target lists the ones it uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Put a fresh descriptor of a decoded kind in a slot.
    Make,
    /// `evfd_signalfd` with a decoded `ufd`, mask and `masksize`.
    Signalfd,
    /// `evfd_timerfd` with a decoded `ufd`, clock, type and `when`.
    Timerfd,
    /// `evfd_eventfd` with a decoded count.
    Eventfd,
    /// `close` a slot.
    Close,
    /// `dup2` one slot onto another.
    Dup2,
    /// Non-blocking (poll first) `read` of a slot, checked against the model.
    Read,
    /// `write` a count to an eventfd slot.
    Write,
    /// Send one of the harness's blocked signals to this thread.
    Raise,
    /// `evfd_eventfs_signalfd` with a decoded signal and flags.
    Eventfs,
    /// Send one of the eventfs signals (unblocked) to this thread.
    RaiseEventfs,
    /// The unprefixed `signalfd` with a decoded `third` (glibc flags, 2007
    /// masksize or neither).
    SignalfdUnprefixed,
    /// The unprefixed `timerfd` (same rules as `evfd_timerfd`).
    TimerfdUnprefixed,
}

/// Everything the `sequence` target may do.
pub const ALL_OPS: &[Op] = &[
    Op::Make,
    Op::Signalfd,
    Op::Timerfd,
    Op::Eventfd,
    Op::Close,
    Op::Dup2,
    Op::Read,
    Op::Write,
    Op::Raise,
    Op::Eventfs,
    Op::RaiseEventfs,
    Op::SignalfdUnprefixed,
    Op::TimerfdUnprefixed,
];

/// The `eventfs` target: registrations, reads, closes and dup2 of eventfs
/// descriptors among other kinds while their signals arrive, plus the
/// 2007 calls (whose fds evfd must tell apart from eventfs ones).
pub const EVENTFS_OPS: &[Op] = &[
    Op::Make,
    Op::Eventfs,
    Op::Eventfs,
    Op::RaiseEventfs,
    Op::RaiseEventfs,
    Op::Close,
    Op::Dup2,
    Op::Read,
    Op::Signalfd,
    Op::Eventfd,
];

/// The `unprefixed` target: the exported `signalfd` (both dispatch paths)
/// and `timerfd`.
pub const UNPREFIXED_OPS: &[Op] = &[
    Op::Make,
    Op::SignalfdUnprefixed,
    Op::SignalfdUnprefixed,
    Op::TimerfdUnprefixed,
    Op::Close,
    Op::Dup2,
    Op::Read,
    Op::Raise,
];

/// At most this many operations per input, so one input stays fast.
const MAX_OPS: usize = 64;

/// The signals the harness blocks once for the whole run and raises at
/// itself. Not SIGUSR1/SIGUSR2 (libFuzzer uses them), not SIGALRM (its
/// timeout), nothing a terminal sends (SIGWINCH): two realtime signals
/// (queued: exact counts) and two standard ones (coalesced), SIGURG (ignored
/// by default; only socket out-of-band data raises it) and SIGPIPE (fatal by
/// default; only a write to a pipe without readers raises it; the harness
/// does neither).
pub fn harness_signals() -> [c_int; 4] {
    [
        libc::SIGRTMIN() + 2,
        libc::SIGRTMIN() + 3,
        libc::SIGURG,
        libc::SIGPIPE,
    ]
}

fn init_once() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        // SAFETY: plain signal-mask calls on a local set.
        unsafe {
            let mut set: libc::sigset_t = core::mem::zeroed();
            libc::sigemptyset(&mut set);
            for sig in harness_signals() {
                libc::sigaddset(&mut set, sig);
            }
            assert_eq!(
                libc::pthread_sigmask(libc::SIG_BLOCK, &set, core::ptr::null_mut()),
                0
            );
            // The eventfs signals stay unblocked (eventfs counts in a
            // handler). One gets a harness handler, one is ignored, and
            // SIGCHLD keeps its harmless default: chained registrations
            // then pass deliveries on to all three kinds of disposition.
            let mut act: libc::sigaction = core::mem::zeroed();
            act.sa_sigaction = harness_handler as *const () as usize;
            act.sa_flags = libc::SA_RESTART;
            assert_eq!(
                libc::sigaction(eventfs_signals()[1], &act, core::ptr::null_mut()),
                0
            );
            act.sa_sigaction = libc::SIG_IGN;
            assert_eq!(
                libc::sigaction(eventfs_signals()[2], &act, core::ptr::null_mut()),
                0
            );
        }
    });
}

/// How often the harness's own handler (on `eventfs_signals()[1]`) ran.
static HANDLER_RUNS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

extern "C" fn harness_handler(_sig: c_int) {
    HANDLER_RUNS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
}

/// The signals `RaiseEventfs` sends, unblocked: SIGCHLD (default: ignore;
/// the harness never forks), a realtime signal with a harness handler and
/// one set to `SIG_IGN`. None of them is fatal, so a chained registration
/// cannot kill the fuzzer; nothing else sends them, so counts are exact.
pub fn eventfs_signals() -> [c_int; 3] {
    [libc::SIGCHLD, libc::SIGRTMIN() + 4, libc::SIGRTMIN() + 5]
}

/// Decodes `data` into operations among `ops` and runs them with every
/// check; panics on the first violation.
pub fn run(data: &[u8], ops: &[Op]) {
    init_once();
    let before = ProcessState::capture();
    let mut input = Bytes::new(data);
    let mut table = Table::new();
    let mut pending = Pending::default();
    // EVFD_FUZZ_TRACE=1 prints each operation (to replay a crash by hand).
    let trace = std::env::var_os("EVFD_FUZZ_TRACE").is_some();
    for _ in 0..MAX_OPS {
        if input.is_empty() {
            break;
        }
        let op = ops[input.u8() as usize % ops.len()];
        if trace {
            eprintln!("op {op:?}; table {:?}", table.objects());
        }
        match op {
            Op::Make => {
                let slot = table.slot(input.u8());
                let kind = model::decode_kind(&mut input);
                table.make(slot, kind);
            }
            Op::Signalfd => op_signalfd(&mut table, &mut input),
            Op::Timerfd => op_timerfd(&mut table, &mut input),
            Op::Eventfd => op_eventfd(&mut table, &mut input),
            Op::Close => {
                let slot = table.slot(input.u8());
                table.close(slot);
            }
            Op::Dup2 => {
                let from = table.slot(input.u8());
                let to = table.slot(input.u8());
                table.dup2(from, to);
            }
            Op::Read => op_read(&mut table, &mut pending, &mut input),
            Op::Write => op_write(&mut table, &mut input),
            Op::Raise => pending.raise(input.u8()),
            Op::Eventfs => op_eventfs(&mut table, &mut input),
            Op::RaiseEventfs => op_raise_eventfs(&mut table, &mut input),
            Op::SignalfdUnprefixed => op_signalfd_unprefixed(&mut table, &mut input),
            Op::TimerfdUnprefixed => op_timerfd_with(&mut table, &mut input, true),
        }
        // After every operation: one internal duplicate per live or
        // not-yet-reclaimed registration, and dispositions as they must be.
        check_eventfs_accounting(&table, &before);
        pending.restored(table.take_restored());
    }
    table.close_all();
    check_eventfs_accounting(&table, &before);
    // Closing ended every registration; the next evfd call (any, even a
    // refused one) reclaims evfd's duplicates and restores dispositions.
    table.evfd_called();
    let (ret, errno) = call_c(|| evfd_eventfs_signalfd(0, 0));
    assert_eq!((ret, errno), (-1, libc::EINVAL), "reclaiming call");
    pending.restored(table.take_restored());
    pending.drain_and_check();
    ProcessState::capture().assert_same(&before);
}

/// The descriptor argument a call gets: a new object (-1), a number below
/// -1, or whatever a slot holds.
#[derive(Clone, Copy, Debug)]
enum Ufd {
    Create(usize),
    Negative(c_int),
    Slot(usize),
}

fn decode_ufd(table: &Table, input: &mut Bytes) -> Ufd {
    let selector = input.u8();
    let slot = table.slot(input.u8());
    match selector % 8 {
        0 | 1 => Ufd::Create(slot),
        // Numbers that are never open: below -1, or INT_MAX (EBADF).
        2 => Ufd::Negative(match input.u8() % 4 {
            0 => -2,
            1 => c_int::MIN,
            2 => c_int::MAX,
            _ => -2 - (input.u32() % 0x7fff_fffe) as c_int,
        }),
        _ => Ufd::Slot(slot),
    }
}

impl Ufd {
    fn raw(self, table: &Table) -> c_int {
        match self {
            Ufd::Create(_) => -1,
            Ufd::Negative(n) => n,
            Ufd::Slot(s) => table.fd(s),
        }
    }
}

/// Calls `call` with errno planted; returns its result and errno after.
fn call_c(call: impl FnOnce() -> c_int) -> (c_int, c_int) {
    process::set_errno(SENTINEL_ERRNO);
    let ret = call();
    (ret, process::errno())
}

/// Checks a call's outcome against the errors the model says apply, listed
/// in the documented order of checks. Returns whether it succeeded.
fn check_outcome(name: &str, ret: c_int, errno: c_int, applicable: &[c_int]) -> bool {
    if applicable.is_empty() {
        assert!(
            ret >= 0,
            "{name}: expected success, got -1 errno {errno} ({})",
            process::strerror(errno)
        );
        assert_eq!(errno, SENTINEL_ERRNO, "{name}: success changed errno");
        true
    } else {
        assert_eq!(
            ret, -1,
            "{name}: expected one of errnos {applicable:?}, got success {ret}"
        );
        assert!(
            applicable.contains(&errno),
            "{name}: errno {errno} ({}) not in the documented set {applicable:?}",
            process::strerror(errno)
        );
        // The oracles list the errors in the order README.md ("Order of
        // argument checks") promises, so the first one is the answer.
        assert_eq!(
            errno,
            applicable[0],
            "{name}: errno {errno} ({}) is documented, but not first in the order {applicable:?}",
            process::strerror(errno)
        );
        false
    }
}

/// Adds the errors the descriptor argument itself calls for: `EBADF` for a
/// number below -1 or not open, `EINVAL` for an open fd of the wrong kind.
fn ufd_errors(table: &Table, ufd: Ufd, right_kind: impl Fn(&Kind) -> bool, errs: &mut Vec<c_int>) {
    match ufd {
        Ufd::Create(_) => {}
        Ufd::Negative(_) => errs.push(libc::EBADF),
        Ufd::Slot(s) => match table.kind(s) {
            None => errs.push(libc::EBADF),
            Some(k) if !right_kind(k) => errs.push(libc::EINVAL),
            Some(_) => {}
        },
    }
}

/// Masksizes worth trying more often than a uniform draw would.
fn decode_masksize(input: &mut Bytes) -> usize {
    const EDGES: [usize; 12] = [0, 1, 7, 8, 9, 16, 64, 127, 128, 129, 256, usize::MAX];
    match input.u8() % 4 {
        0 | 1 => EDGES[input.u8() as usize % EDGES.len()],
        2 => input.u8() as usize,
        _ => input.u64() as usize,
    }
}

fn op_signalfd(table: &mut Table, input: &mut Bytes) {
    let ufd = decode_ufd(table, input);
    let masksize = decode_masksize(input);
    let null_mask = input.u8().is_multiple_of(8);
    let mask_word = input.u64();
    // The caller's buffer is exactly `masksize` bytes long when that is
    // sensible, so ASan catches any read past what the caller declared;
    // beyond 256 bytes the call must refuse without reading, and a short
    // buffer stands in for the (contract-breaking) huge one.
    let len = masksize.clamp(1, 256);
    let mut buf = vec![0xa5u8; len];
    let n = len.min(8);
    buf[..n].copy_from_slice(&mask_word.to_ne_bytes()[..n]);
    let mask_ptr: *const libc::sigset_t = if null_mask {
        core::ptr::null()
    } else {
        buf.as_ptr().cast()
    };

    let mut errs = Vec::new();
    if !(8..=core::mem::size_of::<libc::sigset_t>()).contains(&masksize) {
        errs.push(libc::EINVAL);
    }
    if null_mask {
        errs.push(libc::EFAULT);
    }
    ufd_errors(
        table,
        ufd,
        |k| matches!(k, Kind::Signalfd { .. }),
        &mut errs,
    );

    let old = ufd_snapshot(table, ufd);
    let raw = ufd.raw(table);
    // SAFETY: `mask_ptr` is NULL or readable for min(masksize, 256) bytes;
    // for larger sizes evfd must fail before reading (checked below).
    table.evfd_called();
    let (ret, errno) = call_c(|| unsafe { evfd_signalfd(raw, mask_ptr, masksize) });
    if !check_outcome("evfd_signalfd", ret, errno, &errs) {
        assert_eq!(
            ufd_snapshot(table, ufd),
            old,
            "refused evfd_signalfd changed the fd"
        );
        return;
    }
    let expected = mask_word & !(bit(libc::SIGKILL) | bit(libc::SIGSTOP));
    let got = process::fdinfo_hex(ret, "sigmask:").expect("new fd is a signalfd");
    assert_eq!(got, expected, "evfd_signalfd: mask in the kernel");
    match ufd {
        Ufd::Create(slot) => {
            process::assert_2007_flags(ret);
            table.adopt(slot, ret, Kind::Signalfd { mask: expected });
        }
        Ufd::Slot(s) => {
            assert_eq!(ret, raw, "replace returns ufd");
            table.set_kind(s, Kind::Signalfd { mask: expected });
        }
        Ufd::Negative(_) => unreachable!(),
    }
}

fn bit(sig: c_int) -> u64 {
    1u64 << (sig - 1)
}

/// What a refused call must leave unchanged: the target's fdinfo (minus
/// the ever-changing position/ticks lines) and its timer interval.
fn ufd_snapshot(table: &Table, ufd: Ufd) -> Option<String> {
    match ufd {
        Ufd::Slot(s) if table.kind(s).is_some() => Some(process::stable_fdinfo(table.fd(s))),
        _ => None,
    }
}

const CLOCKS: [c_int; 8] = [
    libc::CLOCK_MONOTONIC,
    libc::CLOCK_REALTIME,
    libc::CLOCK_BOOTTIME,
    libc::CLOCK_PROCESS_CPUTIME_ID,
    libc::CLOCK_REALTIME_ALARM,
    libc::CLOCK_BOOTTIME_ALARM,
    libc::CLOCK_MONOTONIC_RAW,
    libc::CLOCK_TAI,
];

fn evfd_clock(clock: c_int) -> bool {
    [
        libc::CLOCK_MONOTONIC,
        libc::CLOCK_REALTIME,
        libc::CLOCK_BOOTTIME,
    ]
    .contains(&clock)
}

fn decode_timespec(input: &mut Bytes) -> libc::timespec {
    const SECS: [i64; 8] = [
        0,
        1,
        -1,
        i64::MAX,
        i64::MIN,
        1 << 33,
        86_400 * 365 * 1000,
        2,
    ];
    const NSECS: [i64; 8] = [0, 1, 999_999_999, 1_000_000_000, -1, i64::MAX, 500_000, 100];
    let sec = match input.u8() % 3 {
        0 => SECS[input.u8() as usize % 8],
        1 => input.u8() as i64 % 4,
        _ => input.u64() as i64,
    };
    let nsec = match input.u8() % 3 {
        0 => NSECS[input.u8() as usize % 8],
        // A short relative timer, so timers do expire during a run.
        1 => 1 + input.u32() as i64 % 2_000_000,
        _ => input.u64() as i64,
    };
    libc::timespec {
        tv_sec: sec as libc::time_t,
        tv_nsec: nsec as libc::c_long,
    }
}

fn op_timerfd(table: &mut Table, input: &mut Bytes) {
    op_timerfd_with(table, input, false)
}

/// `evfd_timerfd`, or with `unprefixed` the exported `timerfd`, which
/// DESIGN §3 makes exactly the same call.
fn op_timerfd_with(table: &mut Table, input: &mut Bytes, unprefixed: bool) {
    let name = if unprefixed {
        "timerfd"
    } else {
        "evfd_timerfd"
    };
    let ufd = decode_ufd(table, input);
    let clock = match input.u8() % 5 {
        0 => input.u32() as c_int,
        1 => [c_int::MIN, c_int::MAX, -1][input.u8() as usize % 3],
        _ => CLOCKS[input.u8() as usize % CLOCKS.len()],
    };
    let timertype = match input.u8() % 7 {
        0 => input.u32() as c_int,
        1 => [c_int::MIN, c_int::MAX, -1][input.u8() as usize % 3],
        t => (t as c_int - 2) % 4, // 0, 1, 2 and the invalid 3
    };
    let null_when = input.u8().is_multiple_of(10);
    let when = decode_timespec(input);

    let mut errs = Vec::new();
    if !(0..=2).contains(&timertype) || !evfd_clock(clock) {
        errs.push(libc::EINVAL);
    }
    if null_when {
        errs.push(libc::EFAULT);
    } else if when.tv_sec < 0 || !(0..1_000_000_000).contains(&when.tv_nsec) {
        errs.push(libc::EINVAL);
    }
    ufd_errors(table, ufd, |k| matches!(k, Kind::Timerfd { .. }), &mut errs);
    if let Ufd::Slot(s) = ufd {
        if let Some(Kind::Timerfd { clock: c }) = table.kind(s) {
            if *c != clock {
                errs.push(libc::EINVAL); // a timer never changes clock
            }
        }
    }

    let old = ufd_snapshot(table, ufd);
    let raw = ufd.raw(table);
    let when_ptr: *const libc::timespec = if null_when { core::ptr::null() } else { &when };
    // SAFETY: `when_ptr` is NULL or points to a live timespec.
    table.evfd_called();
    let (ret, errno) = call_c(|| unsafe {
        if unprefixed {
            unprefixed_timerfd(raw, clock, timertype, when_ptr)
        } else {
            evfd_timerfd(raw, clock, timertype, when_ptr)
        }
    });
    if !check_outcome(name, ret, errno, &errs) {
        assert_eq!(
            ufd_snapshot(table, ufd),
            old,
            "refused evfd_timerfd changed the fd"
        );
        return;
    }
    let kernel_clock = process::fdinfo_dec(ret, "clockid:").expect("new fd is a timerfd");
    assert_eq!(kernel_clock, clock as i64, "evfd_timerfd: clock");
    let cur = process::timerfd_gettime(ret).expect("timerfd_gettime");
    let zero = when.tv_sec == 0 && when.tv_nsec == 0;
    let interval = (cur.it_interval.tv_sec, cur.it_interval.tv_nsec);
    if timertype == 2 && !zero {
        assert_eq!(interval, kernel_clamped(&when), "SEQ interval");
    } else {
        assert_eq!(
            interval,
            (0, 0),
            "one-shot or disarmed timer has no interval"
        );
    }
    if zero {
        assert_eq!(
            (cur.it_value.tv_sec, cur.it_value.tv_nsec),
            (0, 0),
            "zero disarms"
        );
    }
    match ufd {
        Ufd::Create(slot) => {
            process::assert_2007_flags(ret);
            table.adopt(slot, ret, Kind::Timerfd { clock });
        }
        Ufd::Slot(_) => assert_eq!(ret, raw, "re-arm returns ufd"),
        Ufd::Negative(_) => unreachable!(),
    }
}

/// Signals worth trying for `evfd_eventfs_signalfd`, beyond the eventfs
/// signals and arbitrary numbers: the edges of the range and the refused ones.
const SIGNAL_EDGES: [c_int; 14] = [
    0,
    -1,
    libc::SIGKILL,
    libc::SIGSTOP,
    32,
    33,
    64,
    65,
    c_int::MIN,
    c_int::MAX,
    libc::SIGSEGV,
    libc::SIGTRAP,
    libc::SIGFPE,
    libc::SIGURG,
];

fn op_eventfs(table: &mut Table, input: &mut Bytes) {
    let slot = table.slot(input.u8());
    let signal = match input.u8() % 8 {
        0..=3 => eventfs_signals()[input.u8() as usize % 3],
        4 | 5 => SIGNAL_EDGES[input.u8() as usize % SIGNAL_EDGES.len()],
        6 => input.u8() as c_int % 70,
        _ => input.u32() as c_int,
    };
    let flags = match input.u8() % 4 {
        0 => 0,
        1 => 1,
        2 => [-1, c_int::MIN, c_int::MAX][input.u8() as usize % 3],
        _ => input.u32() as c_int,
    };
    let exclusive = flags != 0;
    let fault = [
        libc::SIGSEGV,
        libc::SIGBUS,
        libc::SIGFPE,
        libc::SIGILL,
        libc::SIGTRAP,
    ];
    let mut errs = Vec::new();
    if !(1..=libc::SIGRTMAX()).contains(&signal)
        || signal == libc::SIGKILL
        || signal == libc::SIGSTOP
        || (32..libc::SIGRTMIN()).contains(&signal)
        || (exclusive && fault.contains(&signal))
    {
        errs.push(libc::EINVAL);
    }
    // Six slots never reach 32 registrations of one signal, nor the fd
    // limit: EMFILE is not expected here (c-tests/eventfs_exhaustion.c).
    let before_action = (1..=64)
        .contains(&signal)
        .then(|| process::current_action(signal));
    table.evfd_called();
    let (ret, errno) = call_c(|| evfd_eventfs_signalfd(signal, flags));
    if !check_outcome("evfd_eventfs_signalfd", ret, errno, &errs) {
        if let Some(before) = before_action {
            // A refusal leaves the disposition as it was. (The call also
            // reclaims ended registrations first, which may restore this
            // signal's disposition if it has no live one left; the
            // accounting check after the call covers that case.)
            let live = live_registrations(table, signal);
            if live > 0 {
                assert_eq!(
                    process::current_action(signal),
                    before,
                    "refusal changed sigaction"
                );
            }
        }
        return;
    }
    // SAFETY: F_GETFD/F_GETFL take no pointer.
    let (fdflags, flflags) = unsafe {
        (
            libc::fcntl(ret, libc::F_GETFD),
            libc::fcntl(ret, libc::F_GETFL),
        )
    };
    assert_ne!(fdflags & libc::FD_CLOEXEC, 0, "eventfs fd is close-on-exec");
    assert_eq!(flflags & libc::O_NONBLOCK, 0, "eventfs fd is blocking");
    assert_eq!(
        process::fdinfo_hex(ret, "eventfd-count:"),
        Some(0),
        "eventfs fd is an eventfd at 0"
    );
    table.adopt(
        slot,
        ret,
        Kind::Eventfs {
            signal,
            exclusive,
            count: 0,
            registered: Some(ret),
        },
    );
}

fn live_registrations(table: &Table, signal: c_int) -> usize {
    table
        .objects()
        .iter()
        .filter(
            |k| matches!(k, Kind::Eventfs { signal: s, registered: Some(_), .. } if *s == signal),
        )
        .count()
}

/// evfd's handler, as `sigaction` reports it.
fn evfd_handler() -> usize {
    evfd::eventfs::handler::on_signal as *const () as usize
}

/// The exact descriptor and disposition accounting of eventfs's lazy
/// reclaim: open descriptors = those before the input + the table's + one
/// internal duplicate per registration that is live or ended since the
/// last evfd call; a signal with either has evfd's handler installed, and
/// every other signal has exactly its disposition from before the input.
fn check_eventfs_accounting(table: &Table, before: &ProcessState) {
    let live: usize = table
        .objects()
        .iter()
        .filter(|k| {
            matches!(
                k,
                Kind::Eventfs {
                    registered: Some(_),
                    ..
                }
            )
        })
        .count();
    assert_eq!(
        process::count_fds(),
        before.fd_count() + table.open_count() + live + table.unreclaimed().len(),
        "descriptors: baseline + table + one per live or unreclaimed eventfs registration"
    );
    for sig in 1..=64 {
        let now = process::current_action(sig);
        if live_registrations(table, sig) == 0 && !table.unreclaimed().contains(&sig) {
            assert_eq!(
                &now,
                before.action(sig),
                "signal {sig}: disposition not restored"
            );
        } else {
            assert_eq!(
                now.1,
                evfd_handler(),
                "signal {sig}: evfd's handler missing"
            );
        }
    }
}

/// Sends an eventfs signal (unblocked) to this thread: it is delivered
/// before `tgkill` returns, and every live registration counts it once; the
/// harness handler runs unless a live exclusive registration holds it.
fn op_raise_eventfs(table: &mut Table, input: &mut Bytes) {
    let sigs = eventfs_signals();
    let sig = sigs[input.u8() as usize % sigs.len()];
    let exclusive = table.objects().iter().any(|k| {
        matches!(k, Kind::Eventfs { signal, exclusive: true, registered: Some(_), .. } if *signal == sig)
    });
    let runs = HANDLER_RUNS.load(std::sync::atomic::Ordering::SeqCst);
    // SAFETY: thread-directed signal to ourselves; unblocked, harmless.
    let r = unsafe {
        libc::syscall(
            libc::SYS_tgkill,
            libc::getpid(),
            libc::syscall(libc::SYS_gettid),
            sig,
        )
    };
    assert_eq!(r, 0, "tgkill");
    let ran = HANDLER_RUNS.load(std::sync::atomic::Ordering::SeqCst) - runs;
    if sig == sigs[1] {
        assert_eq!(
            ran,
            u64::from(!exclusive),
            "harness handler runs iff no exclusive registration"
        );
    } else {
        assert_eq!(ran, 0, "harness handler ran for another signal");
    }
    for k in table.open_objects_mut() {
        if let Kind::Eventfs {
            signal,
            count,
            registered: Some(_),
            ..
        } = k
        {
            if *signal == sig {
                *count += 1;
            }
        }
    }
    // Objects no slot reaches any more are gone; their counts don't matter.
}

/// The `third` arguments worth trying for the unprefixed `signalfd`.
fn decode_third(input: &mut Bytes) -> usize {
    const NB: usize = libc::SFD_NONBLOCK as usize;
    const CE: usize = libc::SFD_CLOEXEC as usize;
    const EDGES: [usize; 16] = [
        0,
        NB,
        CE,
        NB | CE,
        1,
        7,
        8,
        128,
        129,
        0x7ff,
        1 << 32,
        (1 << 32) | 128,
        (1 << 32) | NB,
        NB | 1,
        usize::MAX,
        64,
    ];
    match input.u8() % 4 {
        0 | 1 => EDGES[input.u8() as usize % EDGES.len()],
        2 => input.u8() as usize,
        _ => input.u64() as usize,
    }
}

/// The unprefixed `signalfd`: `third` of 8..=128 is the 2007 masksize
/// (evfd_signalfd's rules); low 32 bits of 0/`SFD_NONBLOCK`/`SFD_CLOEXEC`
/// are glibc's flags (the kernel's signalfd4 rules: `EFAULT` for the mask,
/// then `EBADF`/`EINVAL` for `ufd`; new fd with exactly those flags); any
/// other `third` fails with `EFAULT` for a NULL mask, else `EINVAL`.
fn op_signalfd_unprefixed(table: &mut Table, input: &mut Bytes) {
    let ufd = decode_ufd(table, input);
    let third = decode_third(input);
    let null_mask = input.u8().is_multiple_of(8);
    let mask_word = input.u64();
    let max = core::mem::size_of::<libc::sigset_t>();
    let masksize = (8..=max).contains(&third);
    let low = third as u32 as c_int;
    let glibc = !masksize && low & !(libc::SFD_NONBLOCK | libc::SFD_CLOEXEC) == 0;
    // As long as the 2007 masksize says, at least the kernel's 8 bytes.
    let len = if masksize { third } else { 8 };
    let mut buf = vec![0xa5u8; len];
    buf[..8].copy_from_slice(&mask_word.to_ne_bytes());
    let mask_ptr: *const libc::sigset_t = if null_mask {
        core::ptr::null()
    } else {
        buf.as_ptr().cast()
    };
    let mut errs = Vec::new();
    if null_mask {
        errs.push(libc::EFAULT);
    }
    if masksize || glibc {
        ufd_errors(
            table,
            ufd,
            |k| matches!(k, Kind::Signalfd { .. }),
            &mut errs,
        );
    } else if !null_mask {
        errs.push(libc::EINVAL);
    }
    let old = ufd_snapshot(table, ufd);
    let raw = ufd.raw(table);
    // SAFETY: `mask_ptr` is NULL or readable for `len` bytes, which covers
    // what either path may read.
    table.evfd_called();
    let (ret, errno) = call_c(|| unsafe { unprefixed_signalfd(raw, mask_ptr, third) });
    if !check_outcome("signalfd", ret, errno, &errs) {
        assert_eq!(
            ufd_snapshot(table, ufd),
            old,
            "refused signalfd changed the fd"
        );
        return;
    }
    let expected = mask_word & !(bit(libc::SIGKILL) | bit(libc::SIGSTOP));
    let got = process::fdinfo_hex(ret, "sigmask:").expect("new fd is a signalfd");
    assert_eq!(got, expected, "signalfd: mask in the kernel");
    match ufd {
        Ufd::Create(slot) => {
            if masksize {
                process::assert_2007_flags(ret);
            } else {
                // SAFETY: F_GETFD/F_GETFL take no pointer.
                let (fdflags, flflags) = unsafe {
                    (
                        libc::fcntl(ret, libc::F_GETFD),
                        libc::fcntl(ret, libc::F_GETFL),
                    )
                };
                assert_eq!(
                    fdflags & libc::FD_CLOEXEC != 0,
                    low & libc::SFD_CLOEXEC != 0,
                    "glibc signalfd: close-on-exec as asked"
                );
                assert_eq!(
                    flflags & libc::O_NONBLOCK != 0,
                    low & libc::SFD_NONBLOCK != 0,
                    "glibc signalfd: non-blocking as asked"
                );
            }
            table.adopt(slot, ret, Kind::Signalfd { mask: expected });
        }
        Ufd::Slot(s) => {
            assert_eq!(ret, raw, "replace returns ufd");
            table.set_kind(s, Kind::Signalfd { mask: expected });
        }
        Ufd::Negative(_) => unreachable!(),
    }
}

/// The kernel keeps timer values as signed 64-bit nanoseconds and clamps
/// any with 9223372036 seconds or more to `KTIME_MAX` (about 292 years);
/// evfd passes `when` to the kernel as it is, so its intervals are clamped
/// the same way.
fn kernel_clamped(when: &libc::timespec) -> (i64, i64) {
    const KTIME_MAX: (i64, i64) = (i64::MAX / 1_000_000_000, i64::MAX % 1_000_000_000);
    let (sec, nsec) = (when.tv_sec, when.tv_nsec);
    if sec >= KTIME_MAX.0 {
        KTIME_MAX
    } else {
        (sec, nsec)
    }
}

fn op_eventfd(table: &mut Table, input: &mut Bytes) {
    let slot = table.slot(input.u8());
    let count = match input.u8() % 3 {
        0 => 0,
        1 => u32::MAX,
        _ => input.u32(),
    };
    table.evfd_called();
    let (ret, errno) = call_c(|| evfd_eventfd(count));
    check_outcome("evfd_eventfd", ret, errno, &[]);
    process::assert_2007_flags(ret);
    let got = process::fdinfo_hex(ret, "eventfd-count:").expect("new fd is an eventfd");
    assert_eq!(got, u64::from(count), "evfd_eventfd: initial count");
    table.adopt(
        slot,
        ret,
        Kind::Eventfd {
            count: u64::from(count),
            semaphore: false,
        },
    );
}

fn op_write(table: &mut Table, input: &mut Bytes) {
    let slot = table.slot(input.u8());
    let value = match input.u8() % 3 {
        0 => u64::MAX,
        1 => input.u8() as u64,
        _ => input.u64(),
    };
    let Some(Kind::Eventfd { count, semaphore }) = table.kind(slot).copied() else {
        return;
    };
    const MAX_COUNT: u64 = u64::MAX - 1;
    if value != u64::MAX && value > MAX_COUNT - count {
        return; // would block: the fds are blocking, as in 2007
    }
    let fd = table.fd(slot);
    // SAFETY: writing 8 bytes from a local.
    let n = unsafe { libc::write(fd, (&value as *const u64).cast(), 8) };
    if value == u64::MAX {
        assert_eq!(
            (n, process::errno()),
            (-1, libc::EINVAL),
            "eventfd write of ~0"
        );
        return;
    }
    assert_eq!(n, 8, "eventfd write");
    table.set_kind(
        slot,
        Kind::Eventfd {
            count: count + value,
            semaphore,
        },
    );
}

fn op_read(table: &mut Table, pending: &mut Pending, input: &mut Bytes) {
    let slot = table.slot(input.u8());
    let records = 1 + input.u8() as usize % 4;
    let short = input.u8().is_multiple_of(8);
    let Some(kind) = table.kind(slot).copied() else {
        return;
    };
    let fd = table.fd(slot);
    let readable = process::poll_readable(fd);
    match kind {
        Kind::Eventfd { count, semaphore } => {
            assert_eq!(
                readable,
                count > 0,
                "eventfd readiness vs model count {count}"
            );
            let mut v = 0u64;
            if short {
                // SAFETY: reading at most 4 bytes into an 8-byte local.
                let n = unsafe { libc::read(fd, (&mut v as *mut u64).cast(), 4) };
                assert_eq!(
                    (n, process::errno()),
                    (-1, libc::EINVAL),
                    "short eventfd read"
                );
                return;
            }
            if !readable {
                return;
            }
            // SAFETY: reading 8 bytes into a local.
            let n = unsafe { libc::read(fd, (&mut v as *mut u64).cast(), 8) };
            assert_eq!(n, 8);
            let (want, left) = if semaphore {
                (1, count - 1)
            } else {
                (count, 0)
            };
            assert_eq!(v, want, "eventfd read value");
            table.set_kind(
                slot,
                Kind::Eventfd {
                    count: left,
                    semaphore,
                },
            );
        }
        Kind::Signalfd { mask } => {
            assert_eq!(
                readable,
                pending.any_in(mask),
                "signalfd readiness vs pending"
            );
            const REC: usize = core::mem::size_of::<libc::signalfd_siginfo>();
            let mut buf = vec![0u8; REC * records];
            if short {
                // SAFETY: reading fewer bytes than the buffer holds.
                let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), REC - 1) };
                assert_eq!(
                    (n, process::errno()),
                    (-1, libc::EINVAL),
                    "short signalfd read"
                );
                return;
            }
            if !readable {
                return;
            }
            // SAFETY: reading into `buf`, which is that long.
            let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
            assert!(
                n > 0 && (n as usize).is_multiple_of(REC),
                "signalfd read returned {n}"
            );
            for rec in buf[..n as usize].chunks(REC) {
                let signo = u32::from_ne_bytes(rec[..4].try_into().unwrap()) as c_int;
                assert!(
                    mask & bit(signo) != 0,
                    "signalfd gave signal {signo} outside its mask"
                );
                pending.consume(signo);
            }
        }
        Kind::Timerfd { .. } => {
            if !readable {
                return;
            }
            let mut v = 0u64;
            // SAFETY: reading 8 bytes into a local.
            let n = unsafe { libc::read(fd, (&mut v as *mut u64).cast(), 8) };
            assert_eq!(n, 8);
            assert!(v >= 1, "timerfd read of 0 expirations");
        }
        Kind::Pipe | Kind::File => {
            let mut b = [0u8; 8];
            // SAFETY: reading into a local array.
            let n = unsafe { libc::read(fd, b.as_mut_ptr().cast(), b.len()) };
            assert_eq!(n, 0, "empty pipe with no writer / empty file reads EOF");
        }
        Kind::Socket => assert!(!readable, "idle socket polled readable"),
        Kind::Epoll => assert!(!readable, "empty epoll instance polled readable"),
        Kind::Eventfs {
            signal,
            exclusive,
            count,
            registered,
        } => {
            // Only the eventfs signals are sent by the harness alone; a
            // registration for another (SIGALRM, say) may count deliveries
            // from elsewhere, so its count is only read.
            let exact = eventfs_signals().contains(&signal);
            if exact {
                assert_eq!(
                    readable,
                    count > 0,
                    "eventfs readiness vs model count {count}"
                );
            }
            let mut v = 0u64;
            if short {
                // SAFETY: reading at most 4 bytes into an 8-byte local.
                let n = unsafe { libc::read(fd, (&mut v as *mut u64).cast(), 4) };
                assert_eq!(
                    (n, process::errno()),
                    (-1, libc::EINVAL),
                    "short eventfs read"
                );
                return;
            }
            if !readable {
                return;
            }
            // SAFETY: reading 8 bytes into a local.
            let n = unsafe { libc::read(fd, (&mut v as *mut u64).cast(), 8) };
            assert_eq!(n, 8);
            if exact {
                assert_eq!(v, count, "eventfs read: deliveries since the last read");
            }
            table.set_kind(
                slot,
                Kind::Eventfs {
                    signal,
                    exclusive,
                    count: 0,
                    registered,
                },
            );
        }
    }
}

/// The harness's own model of the signals it raised and not yet read.
#[derive(Default)]
struct Pending {
    /// signal -> number queued (standard signals: 0 or 1).
    queued: BTreeMap<c_int, u32>,
}

impl Pending {
    fn raise(&mut self, which: u8) {
        let sigs = harness_signals();
        let sig = sigs[which as usize % sigs.len()];
        let realtime = sig >= libc::SIGRTMIN();
        // SAFETY: thread-directed signal to ourselves; it is blocked.
        let r = unsafe {
            libc::syscall(
                libc::SYS_tgkill,
                libc::getpid(),
                libc::syscall(libc::SYS_gettid),
                sig,
            )
        };
        assert_eq!(r, 0, "tgkill");
        let n = self.queued.entry(sig).or_insert(0);
        if realtime || *n == 0 {
            *n += 1;
        }
    }

    /// evfd put back these signals' previous dispositions. Setting
    /// `SIG_DFL` for a signal whose default is to ignore it (or `SIG_IGN`)
    /// makes the kernel discard its pending instances (POSIX, sigaction(2)):
    /// of the harness's blocked signals that is SIGURG. So a SIGURG raised
    /// while blocked is gone once an eventfs registration for it has come
    /// and gone - as it would be after any program's
    /// `sigaction(SIGURG, SIG_DFL)`.
    fn restored(&mut self, signals: Vec<c_int>) {
        for sig in signals {
            if sig == libc::SIGURG {
                self.queued.remove(&sig);
            }
        }
    }

    fn any_in(&self, mask: u64) -> bool {
        self.queued
            .iter()
            .any(|(&s, &n)| n > 0 && mask & bit(s) != 0)
    }

    fn consume(&mut self, sig: c_int) {
        let n = self.queued.get_mut(&sig);
        match n {
            Some(n) if *n > 0 => *n -= 1,
            _ => panic!("signalfd returned signal {sig} that was not pending"),
        }
    }

    /// Takes every harness signal still pending with `sigtimedwait` and
    /// checks they are exactly the ones the model expects.
    fn drain_and_check(&mut self) {
        let mut drained: BTreeMap<c_int, u32> = BTreeMap::new();
        // SAFETY: local sigset and siginfo; zero timeout never blocks.
        unsafe {
            let mut set: libc::sigset_t = core::mem::zeroed();
            libc::sigemptyset(&mut set);
            for sig in harness_signals() {
                libc::sigaddset(&mut set, sig);
            }
            let zero = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            loop {
                let mut info: libc::siginfo_t = core::mem::zeroed();
                let sig = libc::sigtimedwait(&set, &mut info, &zero);
                if sig < 0 {
                    assert_eq!(process::errno(), libc::EAGAIN, "sigtimedwait");
                    break;
                }
                *drained.entry(sig).or_insert(0) += 1;
            }
        }
        self.queued.retain(|_, n| *n > 0);
        assert_eq!(drained, self.queued, "signals pending at the end vs model");
    }
}
