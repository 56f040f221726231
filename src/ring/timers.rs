// SPDX-License-Identifier: MIT OR Apache-2.0
//! The ring's timers, in user space (DESIGN §4): no descriptor per timer
//! on either backend. Each timer is an entry in a 4-ary min-heap of
//! deadlines, one heap per kernel clock; the ring arms at most one kernel
//! timer (a timerfd, `TFD_TIMER_ABSTIME`) per clock, for that clock's
//! earliest deadline. The monotonic clock's is kept only once the caller
//! has asked for `evfd_ring_fd` (`keep_monotonic_in_kernel`): until then
//! `evfd_ring_wait` ends its sleep at [`Timers::earliest`] itself, and
//! monotonic timers cost no system call. Due timers are found by reading
//! the clock through the vDSO, so `peek` delivers them without a system
//! call.
//!
//! Which clock a deadline lives on follows the kernel: a relative (`REL`,
//! `SEQ`) timer on `CLOCK_REALTIME` runs on `CLOCK_MONOTONIC` (clock changes
//! do not move it, as for a timerfd); an `ABS` timer on `CLOCK_REALTIME`
//! stays on `CLOCK_REALTIME`, so setting the clock past it fires it at once
//! (the kernel timer is an absolute `CLOCK_REALTIME` hrtimer);
//! `CLOCK_BOOTTIME` counts time suspended.
//!
//! Every operation is O(log n) in the number of armed timers: add, re-arm
//! (a key update in place; O(1) for a move later by at most ~78 hours,
//! which leaves the entry in place: see [`Timers::arm`]), remove, and pop.
//! The heap keeps the deadline
//! beside the slot number so sifting touches one array (as libev's 4-heap
//! does with its cached "at"); sifting down is bottom-up (see
//! `Heap::sift_down`).

use super::sources::IntMap;
use super::timer_heap::{Entry, Heap, Positions, NOT_ARMED, ROOT};
use crate::errno::Errno;
use crate::sys::clock::{now_ns, timespec_ns};
use crate::timer_spec::{Clock, TimerType, When};

/// The kernel clock a deadline is measured on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Base {
    Monotonic = 0,
    Realtime = 1,
    Boottime = 2,
}

pub const BASES: [Base; 3] = [Base::Monotonic, Base::Realtime, Base::Boottime];

impl Base {
    pub fn clockid(self) -> libc::c_int {
        match self {
            Base::Monotonic => libc::CLOCK_MONOTONIC,
            Base::Realtime => libc::CLOCK_REALTIME,
            Base::Boottime => libc::CLOCK_BOOTTIME,
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// A timer source's settings, kept in its `Source` (seven bytes, so the
/// source slot stays 24 bytes; a repeating timer's period is kept by
/// `Timers`).
/// Packed, so its fields are only ever copied, never borrowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C, packed)]
pub struct TimerSpec {
    /// The clock it was added with (bits 0-1), the clock its deadline
    /// lives on (bits 2-3), whether it repeats (bit 4).
    flags: u8,
    /// The low 48 bits of its real deadline (bits 0-31, then 32-47). Its
    /// heap entry may say earlier (a timer moved later keeps its entry:
    /// see [`Timers::arm`]); the real deadline is the first at or after
    /// the entry's with these low bits.
    deadline_low: u32,
    deadline_mid: u16,
}

/// The low bits of a deadline a timer keeps.
const LOW_BITS: u64 = (1 << 48) - 1;

/// The most a timer's real deadline may lie past its heap entry's
/// (2^48 - 1 ns, about 78 hours), so that its low 48 bits tell it apart:
/// a timer moved later by more is moved in the heap.
const MAX_POSTPONEMENT: u64 = LOW_BITS;

const CLOCK_BITS: u8 = 0b11;
const BASE_SHIFT: u8 = 2;
const PERIODIC: u8 = 1 << 4;

impl TimerSpec {
    /// The settings of a new timer on `clock` armed at `d` (`None`:
    /// added disarmed).
    pub fn new(clock: Clock, d: Option<&Deadline>) -> TimerSpec {
        let mut spec = TimerSpec {
            flags: clock as u8,
            deadline_low: 0,
            deadline_mid: 0,
        };
        if let Some(d) = d {
            spec.armed_at(d);
        }
        spec
    }

    /// The clock it was added with (re-arming keeps it).
    pub fn clock(&self) -> Clock {
        match self.flags & CLOCK_BITS {
            0 => Clock::Monotonic,
            1 => Clock::Realtime,
            _ => Clock::Boottime,
        }
    }

    /// Whether its current deadline is on `base`.
    pub fn on(&self, base: Base) -> bool {
        (self.flags >> BASE_SHIFT) & 0b11 == base as u8
    }

    fn periodic(&self) -> bool {
        self.flags & PERIODIC != 0
    }

    /// Records that it is armed at `d`.
    fn armed_at(&mut self, d: &Deadline) {
        let periodic = if d.period != 0 { PERIODIC } else { 0 };
        self.flags = (self.flags & CLOCK_BITS) | ((d.base as u8) << BASE_SHIFT) | periodic;
        self.set_deadline(d.at);
    }

    /// Its real deadline is now `at`.
    pub fn set_deadline(&mut self, at: u64) {
        // Truncations: the low 32 bits, then the next 16.
        self.deadline_low = at as u32;
        self.deadline_mid = (at >> 32) as u16;
    }

    /// Its real deadline, given one at or before it by at most
    /// `MAX_POSTPONEMENT` (its heap entry's, or an earlier entry's).
    pub fn deadline_from(&self, before: u64) -> u64 {
        let low = u64::from(self.deadline_low) | u64::from(self.deadline_mid) << 32;
        before.saturating_add(low.wrapping_sub(before) & LOW_BITS)
    }
}

/// Where the ring keeps each timer's per-slot state: its heap position and
/// its real deadline (both in its source slot).
pub trait TimerSlots: Positions {
    /// When `slot`'s timer is really due, given its heap entry's `key`.
    fn real_deadline(&self, slot: u32, key: u64) -> u64;
    /// `slot`'s timer is now due at `at`.
    fn set_real_deadline(&mut self, slot: u32, at: u64);
}

/// Where and when a timer is due: computed from the caller's arguments
/// before anything changes (a REL or SEQ timer reads its clock here).
pub struct Deadline {
    base: Base,
    /// Absolute, in nanoseconds of `base`.
    at: u64,
    /// 0: fires once.
    period: u64,
}

impl Deadline {
    /// The deadline `kind`/`when` asks for on `clock`; `None` for a zero
    /// `when` (disarmed).
    #[inline]
    pub fn of(clock: Clock, kind: TimerType, when: When) -> Option<Deadline> {
        if when.is_zero() {
            return None;
        }
        let span = timespec_ns(when.sec, when.nsec);
        let base = base_of(clock, kind);
        Some(match kind {
            TimerType::Absolute => Deadline {
                base,
                at: span,
                period: 0,
            },
            TimerType::Relative | TimerType::Sequential => Deadline {
                base,
                at: now_ns(base.clockid()).saturating_add(span),
                period: if kind == TimerType::Sequential {
                    span
                } else {
                    0
                },
            },
        })
    }

    /// The clock it is on.
    pub fn base(&self) -> Base {
        self.base
    }
}

/// Monotonic timers the heap has room for from the start (768 KiB of
/// address space, above malloc's mmap threshold, so committed only as used
/// and moved, not copied, when it grows past it; see `Sources::new`).
const RESERVED_TIMERS: usize = 1 << 16;

/// A due timer: its slot, the expirations it reports, and whether it
/// repeats (else it has left the heap: a one-shot timer is done).
pub struct Expired {
    pub slot: u32,
    pub expirations: u64,
    pub periodic: bool,
}

#[derive(Default)]
pub struct Timers {
    /// One per clock. Each heap's `latest` also bounds the real deadlines
    /// of its timers (a postponed timer's is noted there): while that is
    /// within `MAX_POSTPONEMENT` of the earliest key, every timer's real
    /// deadline follows from its low bits and that key, so a move later
    /// needs no look at the timer's own entry (see `move_later`).
    heaps: [Heap; 3],
    /// The period of each armed repeating timer, by source slot.
    periods: IntMap<u32, u64>,
    /// Per clock: the deadline the kernel timer is set to, if armed.
    kernel_armed: [Option<u64>; 3],
    /// Per clock: the kernel timer fired (it must be set again, which also
    /// clears its readiness).
    kernel_fired: [bool; 3],
    /// Some kernel timer may need setting (`kernel_changes` has work).
    kernel_dirty: bool,
    /// Whether the monotonic clock's kernel timer is kept at the earliest
    /// monotonic deadline. Only a caller polling `evfd_ring_fd` needs it;
    /// otherwise `evfd_ring_wait` bounds its sleep by that deadline
    /// instead, and arming, re-arming and removing monotonic timers (the
    /// common case) never costs a system call.
    monotonic_in_kernel: bool,
}

impl Timers {
    /// Reserves room for the first [`RESERVED_TIMERS`] monotonic timers:
    /// address space only (pages are touched as timers arrive), so the
    /// first thousands of adds never copy the heap nor fault its pages
    /// twice, which in a fresh process cost more than the adds themselves
    /// (bench/EXPERIMENTS.md).
    pub fn new() -> Timers {
        let mut t = Timers::default();
        if let Some(h) = t.heaps.get_mut(Base::Monotonic.index()) {
            *h = Heap::with_capacity(RESERVED_TIMERS);
        }
        t
    }

    /// Arms (or re-arms in place) the timer of source slot `slot`, whose
    /// settings are `spec`, at `deadline` (`Deadline::of` its clock);
    /// `None` disarms it. Returns its new settings.
    #[inline]
    pub fn arm(
        &mut self,
        pos: &mut impl TimerSlots,
        slot: u32,
        mut spec: TimerSpec,
        deadline: Option<Deadline>,
    ) -> Result<TimerSpec, Errno> {
        let Some(d) = deadline else {
            self.disarm(pos, slot);
            return Ok(spec);
        };
        if let Some(moved) = self.move_later(pos, slot, spec, &d) {
            return Ok(moved);
        }
        if d.period != 0 {
            self.periods.try_reserve(1).map_err(|_| Errno::ENOMEM)?;
        }
        let heap = self.heaps.get_mut(d.base.index()).ok_or(Errno::EINVAL)?;
        // Room for the push below first, so that a timer moved to another
        // clock is not left disarmed by a failed call.
        heap.reserve(1)?;
        if !spec.on(d.base) {
            self.disarm(pos, slot);
        }
        spec.armed_at(&d);
        let heap = self.heaps.get_mut(d.base.index()).ok_or(Errno::EINVAL)?;
        match pos.position(slot) {
            NOT_ARMED => heap.push(pos, Entry::new(d.at, slot, d.period != 0))?,
            p => {
                heap.set_periodic(p as usize, d.period != 0);
                let key = heap.get(p as usize).map_or(u64::MAX, |e| e.deadline);
                match d.at.checked_sub(key) {
                    // Later (the idle-timeout idiom): the entry stays where
                    // it is and the timer remembers its real deadline. When
                    // the entry comes due, `pop_due` moves it there: one
                    // move however often the timer was pushed back
                    // meanwhile, and none for a timer re-armed or removed
                    // before its old deadline.
                    Some(lag) if lag <= MAX_POSTPONEMENT => heap.note_later(d.at),
                    _ => heap.update(pos, p as usize, d.at),
                }
            }
        }
        self.keep_period(slot, d.period);
        self.note_deadline(d.base, d.at);
        Ok(spec)
    }

    /// A one-shot timer moved later in time, decided without reading its
    /// heap entry. Every real deadline on its clock lies between the
    /// heap's earliest key and `latest`; when those are at most
    /// `MAX_POSTPONEMENT` apart, the timer's low bits and the earliest key
    /// give its real deadline, and a new one at or after that (and within
    /// the same bound) is only recorded in the slot. For a timer among many
    /// that saves the cache miss on its entry, which is most of the cost of
    /// pushing back an idle timeout. `None`: any other case (or a clock
    /// whose `latest` is further out), for `arm`.
    #[inline]
    fn move_later(
        &mut self,
        pos: &impl Positions,
        slot: u32,
        mut spec: TimerSpec,
        d: &Deadline,
    ) -> Option<TimerSpec> {
        if d.period != 0 || spec.periodic() || !spec.on(d.base) {
            return None;
        }
        if pos.position(slot) == NOT_ARMED {
            return None;
        }
        let heap = self.heaps.get_mut(d.base.index())?;
        let earliest = heap.first()?.deadline;
        let within = |at: u64| {
            at.checked_sub(earliest)
                .is_some_and(|w| w <= MAX_POSTPONEMENT)
        };
        if !within(heap.latest()) || !within(d.at) || d.at < spec.deadline_from(earliest) {
            return None;
        }
        heap.note_later(d.at);
        spec.set_deadline(d.at);
        Some(spec)
    }

    /// Arms the timer of a new source (`slot` has none armed): `arm`
    /// without its checks for a timer already armed, which is what adding
    /// a timer costs.
    #[inline]
    pub fn arm_new(
        &mut self,
        pos: &mut impl Positions,
        slot: u32,
        d: Deadline,
    ) -> Result<(), Errno> {
        if d.period != 0 {
            self.periods.try_reserve(1).map_err(|_| Errno::ENOMEM)?;
        }
        let heap = self.heaps.get_mut(d.base.index()).ok_or(Errno::EINVAL)?;
        heap.push(pos, Entry::new(d.at, slot, d.period != 0))?;
        if d.period != 0 {
            self.periods.insert(slot, d.period);
        }
        self.note_deadline(d.base, d.at);
        Ok(())
    }

    /// Makes room for `n` more timers armed on `base` (with periods if
    /// `periodic`), so that arming as many cannot fail for want of memory.
    pub fn reserve(&mut self, base: Base, n: usize, periodic: bool) -> Result<(), Errno> {
        if periodic {
            self.periods.try_reserve(n).map_err(|_| Errno::ENOMEM)?;
        }
        self.heaps
            .get_mut(base.index())
            .ok_or(Errno::EINVAL)?
            .reserve(n)
    }

    /// Records `slot`'s period (0: it does not repeat). `periods` has room.
    fn keep_period(&mut self, slot: u32, period: u64) {
        if period != 0 {
            self.periods.insert(slot, period);
        } else if !self.periods.is_empty() {
            self.periods.remove(&slot);
        }
    }

    /// A deadline was armed on `base`: only one earlier than the kernel
    /// timer's moves that.
    #[inline]
    fn note_deadline(&mut self, base: Base, at: u64) {
        let armed = self.kernel_armed.get(base.index()).copied().flatten();
        if self.in_kernel(base) && armed.map_or(true, |a| at < a) {
            self.kernel_dirty = true;
        }
    }

    /// Takes the timer of `slot` out of its heap (it stays registered).
    pub fn disarm(&mut self, pos: &mut impl Positions, slot: u32) {
        if !self.periods.is_empty() {
            self.periods.remove(&slot);
        }
        let p = pos.position(slot);
        if p == NOT_ARMED {
            return;
        }
        for heap in &mut self.heaps {
            if heap.get(p as usize).is_some_and(|e| e.slot() == slot) {
                heap.remove(pos, p as usize);
                return;
            }
        }
    }

    /// Whether some kernel timer may need setting (else `kernel_changes`
    /// has nothing to say).
    #[inline]
    pub fn kernel_may_change(&self) -> bool {
        self.kernel_dirty
    }

    /// Whether `base`'s deadlines are kept in a kernel timer.
    pub fn in_kernel(&self, base: Base) -> bool {
        base != Base::Monotonic || self.monotonic_in_kernel
    }

    /// From now on, keep the monotonic clock's kernel timer at the earliest
    /// monotonic deadline too (`kernel_changes` then says where to set it).
    pub fn keep_monotonic_in_kernel(&mut self) {
        if !self.monotonic_in_kernel {
            self.monotonic_in_kernel = true;
            self.kernel_unknown(Base::Monotonic);
        }
    }

    /// The earliest deadline on `base`, if any timer is armed there. It may
    /// be earlier than any timer is really due: a timer moved later keeps
    /// its heap entry until that comes due (see `arm`). Waking up for it,
    /// the ring finds nothing to deliver and moves the entry on.
    pub fn earliest(&self, base: Base) -> Option<u64> {
        self.heaps
            .get(base.index())
            .and_then(|h| h.first())
            .map(|e| e.deadline)
    }

    /// Whether any timer is armed.
    pub fn any_armed(&self) -> bool {
        self.heaps.iter().any(|h| !h.is_empty())
    }

    /// Pops due timers into `out`, at most `max`; re-inserts periodic ones
    /// at their next deadline. Reads each clock that has armed timers once.
    pub fn pop_due(&mut self, pos: &mut impl TimerSlots, max: usize, out: &mut Vec<Expired>) {
        for base in BASES {
            let Some(heap) = self.heaps.get_mut(base.index()) else {
                continue;
            };
            if heap.is_empty() || out.len() >= max {
                continue;
            }
            let now = now_ns(base.clockid());
            while out.len() < max {
                let Some(top) = heap.first() else {
                    break;
                };
                if top.deadline > now {
                    break;
                }
                let real = pos.real_deadline(top.slot(), top.deadline);
                if real != top.deadline {
                    // Moved later while in the heap: due only then.
                    heap.update(pos, ROOT, real);
                    continue;
                }
                let period = if top.periodic() {
                    self.periods.get(&top.slot()).copied().unwrap_or(0)
                } else {
                    0
                };
                match now.saturating_sub(top.deadline).checked_div(period) {
                    None => {
                        // A one-shot timer (period 0).
                        heap.remove(pos, ROOT);
                        out.push(Expired {
                            slot: top.slot(),
                            expirations: 1,
                            periodic: false,
                        });
                    }
                    Some(missed) => {
                        // Periods missed count, as a timerfd counts them.
                        let expirations = missed.saturating_add(1);
                        let next = top
                            .deadline
                            .saturating_add(expirations.saturating_mul(period));
                        heap.update(pos, ROOT, next);
                        pos.set_real_deadline(top.slot(), next);
                        out.push(Expired {
                            slot: top.slot(),
                            expirations,
                            periodic: true,
                        });
                    }
                }
            }
        }
    }

    /// Whether some armed timer is due now (reads the clocks).
    pub fn any_due(&self) -> bool {
        BASES.iter().any(|base| {
            self.earliest(*base)
                .is_some_and(|d| d <= now_ns(base.clockid()))
        })
    }

    /// The kernel timer of `base` fired: it must be set again.
    pub fn kernel_timer_fired(&mut self, base: Base) {
        self.kernel_dirty = true;
        if let Some(fired) = self.kernel_fired.get_mut(base.index()) {
            *fired = true;
        }
        if let Some(armed) = self.kernel_armed.get_mut(base.index()) {
            *armed = None;
        }
    }

    /// For each clock whose kernel timer must change, the absolute deadline
    /// to set (`Some(0)`: disarm). Marks them as set: the caller sets them.
    /// A kernel timer due later than needed is moved earlier; one due
    /// earlier is left (it fires, and is then moved on): that saves a
    /// system call whenever the earliest timer is removed or re-armed later.
    pub fn kernel_changes(&mut self) -> [Option<u64>; 3] {
        let mut changes = [None; 3];
        if !std::mem::take(&mut self.kernel_dirty) {
            return changes;
        }
        for base in BASES {
            if !self.in_kernel(base) {
                continue;
            }
            let i = base.index();
            let earliest = self.earliest(base).map(|d| d.max(1));
            let armed = self.kernel_armed.get(i).copied().flatten();
            let fired = self.kernel_fired.get(i).copied().unwrap_or(false);
            let set = match (earliest, armed) {
                (Some(d), None) => Some(d),
                (Some(d), Some(a)) if d < a => Some(d),
                (None, None) if fired => Some(0),
                _ => None,
            };
            if let Some(d) = set {
                if let Some(c) = changes.get_mut(i) {
                    *c = Some(d);
                }
                if let Some(a) = self.kernel_armed.get_mut(i) {
                    *a = (d != 0).then_some(d);
                }
                if let Some(f) = self.kernel_fired.get_mut(i) {
                    *f = false;
                }
            }
        }
        changes
    }

    /// Forget what the kernel timers were set to (after a failed set).
    pub fn kernel_unknown(&mut self, base: Base) {
        self.kernel_dirty = true;
        if let Some(a) = self.kernel_armed.get_mut(base.index()) {
            *a = None;
        }
    }
}

/// The clock a `kind` timer added with `clock` runs on.
pub fn base_of(clock: Clock, kind: TimerType) -> Base {
    match kind {
        TimerType::Absolute => base_of_absolute(clock),
        TimerType::Relative | TimerType::Sequential => base_of_relative(clock),
    }
}

fn base_of_absolute(clock: Clock) -> Base {
    match clock {
        Clock::Monotonic => Base::Monotonic,
        Clock::Realtime => Base::Realtime,
        Clock::Boottime => Base::Boottime,
    }
}

fn base_of_relative(clock: Clock) -> Base {
    match clock {
        Clock::Boottime => Base::Boottime,
        Clock::Monotonic | Clock::Realtime => Base::Monotonic,
    }
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects
    )]
    use super::*;

    impl Timers {
        /// `arm` as the engine calls it: the deadline from `kind`/`when`.
        fn arm_as(
            &mut self,
            pos: &mut impl TimerSlots,
            slot: u32,
            spec: TimerSpec,
            kind: TimerType,
            when: When,
        ) -> Result<TimerSpec, Errno> {
            self.arm(pos, slot, spec, Deadline::of(spec.clock(), kind, when))
        }
    }

    fn check_heap(t: &Timers, slots: &Slots) {
        for h in &t.heaps {
            h.check(&slots.pos);
        }
    }

    /// Positions and timer settings per slot, as `Sources` keeps them.
    struct Slots {
        pos: Vec<u32>,
        specs: Vec<TimerSpec>,
    }

    /// Slots 0 to 999, none armed, all on `clock`.
    fn slots_on(clock: Clock) -> Slots {
        Slots {
            pos: vec![NOT_ARMED; 1000],
            specs: vec![TimerSpec::new(clock, None); 1000],
        }
    }

    impl Timers {
        /// Makes the monotonic heap entry of `slot` due at `at` as if its
        /// timer had been armed there (what time passing does, sooner).
        fn make_due(&mut self, slots: &mut Slots, slot: u32, at: u64) {
            let p = slots.pos[slot as usize] as usize;
            self.heaps[0].update(slots, p, at);
            slots.specs[slot as usize].set_deadline(at);
        }
    }

    impl Positions for Slots {
        fn position(&self, slot: u32) -> u32 {
            self.pos.position(slot)
        }
        fn set_position(&mut self, slot: u32, at: u32) {
            self.pos.set_position(slot, at);
        }
    }

    impl TimerSlots for Slots {
        fn real_deadline(&self, slot: u32, key: u64) -> u64 {
            self.specs[slot as usize].deadline_from(key)
        }
        fn set_real_deadline(&mut self, slot: u32, at: u64) {
            self.specs[slot as usize].set_deadline(at);
        }
    }

    fn abs(ns: u64) -> When {
        When::new((ns / 1_000_000_000) as i64, (ns % 1_000_000_000) as i64).unwrap()
    }

    /// Arms `slot` as `kind`/`when`, keeping its settings as the engine
    /// does.
    fn arm_kind(t: &mut Timers, slots: &mut Slots, slot: u32, kind: TimerType, when: When) {
        let spec = slots.specs[slot as usize];
        slots.specs[slot as usize] = t.arm_as(slots, slot, spec, kind, when).unwrap();
    }

    /// Arms `slot` at `ns` (ABS).
    fn arm_slot(t: &mut Timers, slots: &mut Slots, slot: u32, ns: u64) {
        arm_kind(t, slots, slot, TimerType::Absolute, abs(ns));
    }

    fn arm_at(t: &mut Timers, slots: &mut Slots, ns: u64) {
        arm_slot(t, slots, 0, ns);
    }

    /// When `slot`'s (monotonic) timer is really due.
    fn real(t: &Timers, slots: &Slots, slot: u32) -> u64 {
        let spec = slots.specs[slot as usize];
        let p = slots.pos[slot as usize] as usize;
        let key = t.heaps[0].get(p).unwrap().deadline;
        spec.deadline_from(key)
    }

    const S: u64 = 1_000_000_000;

    #[test]
    fn later_moves_wait_in_place() {
        let mut t = Timers::new();
        let mut slots = slots_on(Clock::Monotonic);
        let now = now_ns(libc::CLOCK_MONOTONIC);
        arm_at(&mut t, &mut slots, now + S);
        // Moved 10 s later: the entry stays, the timer remembers when it
        // is really due.
        arm_at(&mut t, &mut slots, now + 11 * S);
        assert_eq!(t.earliest(Base::Monotonic), Some(now + S));
        assert_eq!(real(&t, &slots, 0), now + 11 * S);
        // Its entry comes due (as if that second had passed): nothing
        // fires, the entry moves on to the real deadline.
        t.heaps[0].update(&mut slots, ROOT, now - 1);
        let mut out = Vec::new();
        t.pop_due(&mut slots, 8, &mut out);
        assert!(out.is_empty());
        assert_eq!(t.earliest(Base::Monotonic), Some(now + 11 * S));
        // Earlier than its entry: moved in the heap at once.
        arm_at(&mut t, &mut slots, now + 2 * S);
        assert_eq!(t.earliest(Base::Monotonic), Some(now + 2 * S));
        // Later by more than the low bits can tell: moved in the heap.
        let far = now + 2 * S + MAX_POSTPONEMENT + 1;
        arm_at(&mut t, &mut slots, far);
        assert_eq!(t.earliest(Base::Monotonic), Some(far));
        assert_eq!(real(&t, &slots, 0), far);
        // Postponed, then disarmed: gone from the heap.
        arm_at(&mut t, &mut slots, far + S);
        assert_eq!(real(&t, &slots, 0), far + S);
        arm_kind(
            &mut t,
            &mut slots,
            0,
            TimerType::Absolute,
            When::new(0, 0).unwrap(),
        );
        assert_eq!(t.earliest(Base::Monotonic), None);
    }

    #[test]
    fn later_moves_leave_the_entry_alone() {
        let mut t = Timers::new();
        let mut slots = slots_on(Clock::Monotonic);
        let now = now_ns(libc::CLOCK_MONOTONIC);
        arm_slot(&mut t, &mut slots, 0, now + S);
        arm_slot(&mut t, &mut slots, 1, now + 5 * S);
        // A probe: slot 1's entry is put past the move below behind the
        // timer's back (a state the ring never makes). Reading it would
        // move the entry back to the new deadline; the move later goes by
        // slot 1's low bits and the earliest entry, and leaves it.
        let p = slots.pos[1] as usize;
        t.heaps[0].update(&mut slots, p, now + 9 * S);
        arm_slot(&mut t, &mut slots, 1, now + 6 * S);
        let p = slots.pos[1] as usize;
        assert_eq!({ t.heaps[0].get(p).unwrap().deadline }, now + 9 * S);
        assert_eq!(slots.specs[1].deadline_from(now + S), now + 6 * S);
        // Earlier than its real deadline: the entry is read and moved.
        arm_slot(&mut t, &mut slots, 1, now + 3 * S);
        let p = slots.pos[1] as usize;
        assert_eq!({ t.heaps[0].get(p).unwrap().deadline }, now + 3 * S);
        assert_eq!(real(&t, &slots, 1), now + 3 * S);
    }

    #[test]
    fn a_far_timer_brought_near_is_moved() {
        let mut t = Timers::new();
        let mut slots = slots_on(Clock::Monotonic);
        let now = now_ns(libc::CLOCK_MONOTONIC);
        arm_slot(&mut t, &mut slots, 0, now + S);
        // 2^48 ns and 10 s away: its low bits read from the earliest entry
        // say "in 10 s", which is wrong, so the move below (to 20 s, later
        // than that) must not be taken for a move later.
        let far = now + S + (1 << 48) + 9 * S;
        arm_slot(&mut t, &mut slots, 1, far);
        arm_slot(&mut t, &mut slots, 1, now + 20 * S);
        assert_eq!(real(&t, &slots, 1), now + 20 * S);
        t.make_due(&mut slots, 0, now - 2);
        t.heaps[0].remove(&mut slots, ROOT);
        t.make_due(&mut slots, 1, now - 1);
        let mut out = Vec::new();
        t.pop_due(&mut slots, 8, &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].slot, 1);
        // Once that clock's heap has emptied, moves later skip the entry
        // again.
        arm_slot(&mut t, &mut slots, 2, now + S);
        arm_slot(&mut t, &mut slots, 3, now + 2 * S);
        let p = slots.pos[3] as usize;
        t.heaps[0].update(&mut slots, p, now + 9 * S);
        arm_slot(&mut t, &mut slots, 3, now + 3 * S);
        assert_eq!({ t.heaps[0].get(p).unwrap().deadline }, now + 9 * S);
    }

    #[test]
    fn real_deadlines_match_a_model() {
        // Random arms and disarms of 64 timers, in blocks that alternate
        // near deadlines (within minutes: moves later skip the entry) and
        // any (past 2^47 and 2^48 ns apart, earlier, on top of each
        // other). After each, every armed timer's real deadline read from
        // its slot and its entry is the one it was given, and the heap's
        // bound holds it.
        let mut t = Timers::new();
        let mut slots = slots_on(Clock::Monotonic);
        let mut model: Vec<Option<u64>> = vec![None; 64];
        let base = 1u64 << 56;
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        for step in 0..20_000 {
            let near = step / 2_000 % 2 == 0;
            if near && step % 2_000 == 0 {
                // Emptied: the bound starts again.
                for s in 0..64 {
                    t.disarm(&mut slots, s);
                    model[s as usize] = None;
                }
            }
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let slot = (x % 64) as u32;
            let r = x >> 8;
            let at = match ((x >> 6) % 8, near) {
                (0, _) => None,
                (1, false) => Some(base + (r % (1 << 50))),
                (2, false) => Some(base - (r % (1 << 49))),
                (3, false) => model[slot as usize].map(|m| m + (r % (1 << 48))),
                (1..=3, true) => model[slot as usize].map(|m| m + (r % (10 * S))),
                _ => Some(base + (r % (100 * S))),
            };
            match at {
                Some(at) => arm_slot(&mut t, &mut slots, slot, at),
                None => t.disarm(&mut slots, slot),
            }
            model[slot as usize] = at;
            let latest = t.heaps[0].latest();
            for (s, m) in model.iter().enumerate() {
                if let Some(m) = m {
                    assert_eq!(real(&t, &slots, s as u32), *m, "step {step} slot {s}");
                    assert!(*m <= latest, "step {step} slot {s}");
                }
            }
            check_heap(&t, &slots);
        }
    }

    #[test]
    fn heap_order_with_updates_and_removals() {
        let mut t = Timers::new();
        let mut slots = slots_on(Clock::Monotonic);
        let mut x: u64 = 12345;
        for slot in 0..500u32 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let when = When::new(1_000_000 + (x >> 40) as i64 % 1000, 0).unwrap();
            arm_kind(&mut t, &mut slots, slot, TimerType::Absolute, when);
        }
        check_heap(&t, &slots);
        for slot in (0..500).step_by(3) {
            let when = When::new(2_000_000 - slot as i64, 0).unwrap();
            arm_kind(&mut t, &mut slots, slot, TimerType::Absolute, when);
        }
        check_heap(&t, &slots);
        for slot in (1..500).step_by(7) {
            t.disarm(&mut slots, slot);
        }
        check_heap(&t, &slots);
        let mut last = 0;
        while let Some(top) = t.heaps[0].first() {
            assert!(top.deadline >= last);
            last = top.deadline;
            t.heaps[0].remove(&mut slots, ROOT);
            check_heap(&t, &slots);
        }
    }

    #[test]
    fn periodic_counts_missed_periods() {
        let mut t = Timers::new();
        let mut slots = slots_on(Clock::Monotonic);
        // 1 ms period, armed as if 5.5 periods ago.
        let ms = When::new(0, 1_000_000).unwrap();
        arm_kind(&mut t, &mut slots, 0, TimerType::Sequential, ms);
        let now = now_ns(libc::CLOCK_MONOTONIC);
        t.make_due(&mut slots, 0, now - 5_500_000);
        let mut out = Vec::new();
        t.pop_due(&mut slots, 8, &mut out);
        assert_eq!(out.len(), 1);
        assert!(out[0].expirations >= 6, "{}", out[0].expirations);
        let next = t.heaps[0].first().unwrap().deadline;
        assert!(next > now);
        // Due again at its next period, not later.
        assert_eq!(real(&t, &slots, 0), next);
    }

    #[test]
    fn only_one_shot_timers_on_their_clock_skip_the_entry() {
        let mut t = Timers::new();
        let mut slots = slots_on(Clock::Monotonic);
        let now = now_ns(libc::CLOCK_MONOTONIC);
        // A repeating timer re-armed later as a one-shot one: its entry
        // must stop repeating, so the move reads it.
        let second = When::new(1, 0).unwrap();
        arm_kind(&mut t, &mut slots, 0, TimerType::Sequential, second);
        arm_slot(&mut t, &mut slots, 0, now + 5 * S);
        t.make_due(&mut slots, 0, now - 1);
        let mut out = Vec::new();
        t.pop_due(&mut slots, 8, &mut out);
        assert_eq!(out.len(), 1);
        assert!(!out[0].periodic);
        assert_eq!(t.earliest(Base::Monotonic), None);
        // A REL timer on CLOCK_REALTIME (on the monotonic clock) re-armed
        // ABS to a later number: it moves to the realtime clock's heap,
        // though its low bits read against that heap's earliest deadline
        // (slot 2's, chosen so) say the number is later.
        let mut slots = slots_on(Clock::Realtime);
        let m = now_ns(libc::CLOCK_MONOTONIC);
        arm_slot(&mut t, &mut slots, 2, m - 4 * S);
        arm_kind(&mut t, &mut slots, 1, TimerType::Relative, abs(S));
        let at = m + 20 * S;
        arm_slot(&mut t, &mut slots, 1, at);
        assert_eq!(t.earliest(Base::Monotonic), None);
        let p = slots.pos[1] as usize;
        assert_eq!(
            { t.heaps[Base::Realtime.index()].get(p).unwrap().deadline },
            at
        );
    }

    #[test]
    fn realtime_relative_runs_on_monotonic() {
        let mut t = Timers::new();
        let mut slots = slots_on(Clock::Realtime);
        let five = When::new(5, 0).unwrap();
        let spec = slots.specs[0];
        let rel = t
            .arm_as(&mut slots, 0, spec, TimerType::Relative, five)
            .unwrap();
        assert!(rel.on(Base::Monotonic));
        assert_eq!(rel.clock(), Clock::Realtime);
        let abs = t
            .arm_as(&mut slots, 1, spec, TimerType::Absolute, five)
            .unwrap();
        assert!(abs.on(Base::Realtime));
        assert_eq!(abs.clock(), Clock::Realtime);
        let boot = TimerSpec::new(Clock::Boottime, None);
        let boot = t
            .arm_as(&mut slots, 2, boot, TimerType::Sequential, five)
            .unwrap();
        assert!(boot.on(Base::Boottime));
        assert_eq!(boot.clock(), Clock::Boottime);
    }

    #[test]
    fn extreme_when_saturates() {
        let mut t = Timers::new();
        let mut slots = slots_on(Clock::Monotonic);
        let spec = slots.specs[0];
        let when = When::new(i64::MAX, 999_999_999).unwrap();
        t.arm_as(&mut slots, 0, spec, TimerType::Sequential, when)
            .unwrap();
        assert_eq!(t.earliest(Base::Monotonic), Some(u64::MAX));
        let mut out = Vec::new();
        t.pop_due(&mut slots, 8, &mut out);
        assert!(out.is_empty());
    }
}
