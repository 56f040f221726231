// SPDX-License-Identifier: MIT OR Apache-2.0
//! The time a REL or SEQ timer counts from: `CLOCK_MONOTONIC` at the call,
//! or a few microseconds later, never earlier.
//!
//! A REL deadline is the clock at the call plus `when` (timerfd's meaning:
//! never early, DESIGN §2.2), so every REL add or re-arm needs the time.
//! `clock_gettime` through the vDSO costs ~21 ns here, as much as the rest
//! of an add, and its fence waits for everything before it (a re-arm's
//! cache misses). Where the kernel's clock runs on the TSC
//! (`sys::tsc::clocksource_is_tsc`), the ring reads the counter alone
//! with RDTSCP (after everything the caller did first, and with the CPU
//! it ran on) and turns it into an upper bound of the clock:
//!
//! ```text
//! bound(t) = anchor_ns + (t − anchor_tsc) × mult   (on the anchor's CPU)
//! ```
//!
//! - The anchor is a vDSO read bracketed by two counter reads, `before`
//!   and `after`, on one CPU (the vDSO's own read waits for `before`;
//!   `after` waits for it): the clock at counter value `before` is below
//!   the reading + 1 (`anchor_ns`). A bound is used only on the anchor's
//!   CPU, and a span only measures between readings on one CPU, so no
//!   assumption on how closely different CPUs' counters agree.
//! - `mult` bounds how fast `CLOCK_MONOTONIC` can run per tick. The kernel
//!   converts ticks to `CLOCK_MONOTONIC_RAW` nanoseconds at a fixed rate
//!   `K` (the clock source's own), and to `CLOCK_MONOTONIC` nanoseconds at
//!   `K` times NTP's adjustment, which it keeps within [0.774, 1.226]
//!   whatever `adjtimex` is told (`ADJ_TICK` ±10%, the PLL's phase
//!   correction ≤ 0.5 s >> (2 + time constant ≥ 0) = 12.5% a second,
//!   frequency and `adjtime` slew 0.05% each; chrony slews by up to 8.3%).
//!   So `mult` = 5/4 × an upper bound of `K`, and a bound holds however
//!   the clock's rate changes.
//! - `K` is measured against `CLOCK_MONOTONIC_RAW` over a span between two
//!   readings (each also reads it inside the bracket), as a bound from the
//!   brackets, not an estimate. A pause of the clocks while the counter
//!   runs on (a suspend to idle, whose sleep time the kernel may not even
//!   record) can only make a span's measurement lower, never higher; so a
//!   rate is taken only when two consecutive spans agree, and then the
//!   higher of their upper ends. `K` is constant: measured once per
//!   process (at the first ring's creation, spinning ~10 µs) and shared.
//! - The read is ordered: an unordered RDTSC can run microseconds ahead of
//!   earlier loads that miss the cache, so a start could precede a clock
//!   value the caller had already seen through memory.
//!
//! A bound is used only within `reach` ticks of its anchor, chosen so that
//! it is at most `SPREAD_NS` ahead of a clock running as slowly as the
//! kernel allows (3/4 of `K`): about 12 µs; beyond that, or where the
//! counter reads below the anchor, the ring reads the clock, which makes a
//! new anchor. A reading whose bracket is wider than `BRACKET_NS` (the
//! thread stopped between its reads) is no anchor. Each new anchor checks
//! the old bound against the clock; a bound found below it (only if the
//! kernel's limits or the counter failed) ends the counter's use in this
//! ring, as does a clock source other than the TSC, asked again at most
//! once a second. Outside the kernel's limits, and so not covered: PPS
//! discipline (`STA_PPSTIME`, applying a whole offset in a second), the
//! `ntp_tick_adj=` boot parameter, a process entering another time
//! namespace, and two consecutive measurement spans paused alike.

use crate::sys::{clock::now_ns, tsc};
use core::sync::atomic::{AtomicU64, Ordering};

/// The most a bound may exceed the clock by the rate's uncertainty and the
/// clock's possible change (the bracket and the reading's 1 ns come on
/// top).
const SPREAD_NS: u64 = 6_000;

/// The widest bracket an anchor may have, in `CLOCK_MONOTONIC` time at
/// its fastest: the anchor's time is the clock read, which may come this
/// much after the counter read it starts from.
const BRACKET_NS: u64 = 256;

/// The most a start is late, in all.
const LATENESS_NS: u64 = SPREAD_NS + BRACKET_NS + 1;

// evfd_ring(3) promises REL and SEQ starts at most 10 µs late from this.
const _: () = assert!(LATENESS_NS <= 10_000);

/// The fastest `CLOCK_MONOTONIC` runs per tick, from `K`'s upper bound:
/// ×5/4 ≥ 1.226, with 2% to spare.
fn fastest(k: u64) -> Option<u64> {
    k.checked_add(k >> 2)
}

/// The slowest, from `K`'s lower bound: ×3/4 ≤ 0.774.
fn slowest(k: u64) -> u64 {
    k.saturating_sub(k >> 2)
}

/// A span shorter than this (`CLOCK_MONOTONIC_RAW`) is no measurement.
const MIN_SPAN_NS: u64 = 5_000;

/// A span measures `K` once its brackets pin it within 1/64.
const TIGHT_SHIFT: u32 = 6;

/// The longest a bound is used after its anchor.
const MAX_REACH_NS: u64 = 1_000_000;

/// How often the clock source is asked again while the counter is used.
const CLOCKSOURCE_RECHECK_NS: u64 = 1_000_000_000;

/// Readings in a row too wide to anchor after which the ring stops using
/// the counter: where every clock read takes microseconds (valgrind, a
/// hypervisor that traps the counter), each would cost three reads for
/// nothing.
const WIDE_READINGS_LIMIT: u8 = 16;

/// Spins at ring creation waiting for a span to be long enough, at most,
/// per span (each a `CLOCK_MONOTONIC_RAW` read: ~2 ms).
const CALIBRATION_SPIN_LIMIT: u32 = 100_000;

/// Fractional bits of a rate (nanoseconds per tick).
const FRACTION_BITS: u32 = 32;

/// `K` as measured by some ring of this process (0: not yet): any
/// ring's measurement bounds the same constant, so a lower bound from one
/// and an upper from another still bracket it.
static SHARED_K_LOW: AtomicU64 = AtomicU64::new(0);
static SHARED_K_HIGH: AtomicU64 = AtomicU64::new(0);

/// The clocks, with the counter read before and after them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Reading {
    /// The counter before the clocks' own reads of it.
    before: u64,
    /// The counter after them.
    after: u64,
    /// `CLOCK_MONOTONIC`, nanoseconds (truncated: the clock was below
    /// `ns + 1`).
    ns: u64,
    /// `CLOCK_MONOTONIC_RAW`, nanoseconds.
    raw: u64,
    /// The CPU both counter reads ran on.
    cpu: u32,
}

/// The ticks between a reading's two counter reads.
fn bracket(r: Reading) -> u64 {
    r.after.saturating_sub(r.before)
}

/// `CLOCK_MONOTONIC_RAW` nanoseconds per tick, 32.32 fixed point: `K` was
/// within (unless the clocks paused in the span: then above).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Rate {
    low: u64,
    high: u64,
}

impl Rate {
    /// The raw clock's rate between readings `a` and `b` (`b` later), from
    /// their brackets; `None` when they are too close to tell or the
    /// counter went backwards.
    fn between(a: Reading, b: Reading) -> Option<Rate> {
        let ns = b.raw.checked_sub(a.raw)?;
        // The clock's true span lies within ns ± 1; the counter's within
        // [b.before − a.after, b.after − a.before].
        let fewest_ticks = b.before.checked_sub(a.after).filter(|t| *t > 0)?;
        let most_ticks = b.after.checked_sub(a.before)?;
        let scale = |n: u64| u128::from(n) << FRACTION_BITS;
        let high = scale(ns.checked_add(1)?).div_ceil(u128::from(fewest_ticks));
        let low = scale(ns.saturating_sub(1)).checked_div(u128::from(most_ticks))?;
        Some(Rate {
            low: u64::try_from(low).ok()?,
            high: u64::try_from(high).ok()?,
        })
    }

    /// Whether the brackets pin the rate closely enough to use.
    fn is_tight(&self) -> bool {
        self.high.saturating_sub(self.low) <= self.high >> TIGHT_SHIFT
    }

    /// Whether two measurements can both be of `K`.
    fn agrees_with(&self, other: &Rate) -> bool {
        self.low <= other.high && other.low <= self.high
    }

    /// `K`'s bounds from two measurements that agree: a pause only lowers
    /// a measurement, so the higher of each end.
    fn combined(&self, other: &Rate) -> Rate {
        Rate {
            low: self.low.max(other.low),
            high: self.high.max(other.high),
        }
    }

    /// The multiplier a bound uses (the fastest `CLOCK_MONOTONIC` can run)
    /// and how many ticks past its anchor it stays within `SPREAD_NS` of a
    /// clock running as slowly as it can; `None` if that is no tick at all.
    fn mult_and_reach(&self) -> Option<(u64, u64)> {
        let mult = fastest(self.high)?;
        let spread = mult.checked_sub(slowest(self.low)).filter(|s| *s > 0)?;
        let within_spread =
            (u128::from(SPREAD_NS) << FRACTION_BITS).checked_div(u128::from(spread))?;
        // MAX_REACH_NS << 32 < 2^64: `ticks × mult` below it never wraps.
        let within_max =
            (u128::from(MAX_REACH_NS) << FRACTION_BITS).checked_div(u128::from(mult))?;
        let reach = u64::try_from(within_spread.min(within_max)).ok()?;
        (reach > 0).then_some((mult, reach))
    }

    /// What some ring of this process measured, if any.
    fn shared() -> Option<Rate> {
        let high = SHARED_K_HIGH.load(Ordering::Acquire);
        let low = SHARED_K_LOW.load(Ordering::Relaxed);
        (high != 0 && low != 0 && low <= high).then_some(Rate { low, high })
    }

    fn share(&self) {
        SHARED_K_LOW.store(self.low, Ordering::Relaxed);
        SHARED_K_HIGH.store(self.high, Ordering::Release);
    }
}

/// `ticks` in nanoseconds at `mult` (saturating).
fn ns_in(ticks: u64, mult: u64) -> u64 {
    // Two 64-bit factors: the product fits 128 bits.
    let ns = u128::from(ticks).wrapping_mul(u128::from(mult)) >> FRACTION_BITS;
    u64::try_from(ns).unwrap_or(u64::MAX)
}

/// A ring's source of REL and SEQ start times (see the module's text).
#[derive(Debug)]
pub struct DeadlineClock {
    /// The counter at the anchor (`Reading::before`) and its CPU.
    anchor_tsc: u64,
    anchor_cpu: u32,
    /// The clock at the anchor, rounded up (`Reading::ns + 1`).
    anchor_ns: u64,
    /// The fastest `CLOCK_MONOTONIC` runs per tick (32.32).
    mult: u64,
    /// Ticks past `anchor_tsc` the bound is used for; 0: not used.
    reach: u64,
    /// `K`, once two spans agreed.
    rate: Option<Rate>,
    /// The last span's measurement, waiting for the next to agree.
    candidate: Option<Rate>,
    /// Where the span being measured starts.
    span_start: Option<Reading>,
    /// The counter is not used: not the kernel's clock source, not
    /// readable, or a bound was found below the clock.
    off: bool,
    /// Readings in a row too wide to anchor (see `WIDE_READINGS_LIMIT`).
    wide_readings: u8,
    /// `CLOCK_MONOTONIC` when the clock source was last asked.
    clocksource_asked_ns: u64,
}

impl DeadlineClock {
    /// Asks whether the kernel's clock runs on the counter and the calling
    /// thread may read it; if so takes `K` from an earlier ring, or
    /// measures it (two spans of `MIN_SPAN_NS`, spinning) and shares it.
    pub fn new() -> DeadlineClock {
        let usable = tsc::counter_enabled() && tsc::clocksource_is_tsc() == Some(true);
        let mut clock = DeadlineClock::with_counter(usable);
        if usable {
            clock.clocksource_asked_ns = now_ns(libc::CLOCK_MONOTONIC);
            clock.rate = Rate::shared();
            if clock.rate.is_none() {
                clock.calibrate();
            }
        }
        clock
    }

    fn with_counter(usable: bool) -> DeadlineClock {
        DeadlineClock {
            anchor_tsc: 0,
            anchor_cpu: 0,
            anchor_ns: 0,
            mult: 0,
            reach: 0,
            rate: None,
            candidate: None,
            span_start: None,
            off: !usable,
            wide_readings: 0,
            clocksource_asked_ns: 0,
        }
    }

    /// Measures `K` over spans of `MIN_SPAN_NS` or more (about 10 µs each
    /// here, for the brackets to pin it), until two agree; shares it. Left
    /// unmeasured (a preemption, a pause, a move to another CPU), the
    /// ring's clock reads go on measuring.
    fn calibrate(&mut self) {
        // A process's first clock read may take a page fault (the vDSO's
        // data) and make a wide start: read once first.
        let _ = DeadlineClock::read();
        for _ in 0..6 {
            let Some(now) = DeadlineClock::read() else {
                return;
            };
            self.measure(now);
            if let Some(rate) = self.rate {
                rate.share();
                return;
            }
            let span = self.span_start.map_or(now.raw, |start| start.raw);
            let until = span.saturating_add(MIN_SPAN_NS.saturating_mul(2));
            for _ in 0..CALIBRATION_SPIN_LIMIT {
                if now_ns(libc::CLOCK_MONOTONIC_RAW) > until {
                    break;
                }
                core::hint::spin_loop();
            }
        }
    }

    /// `CLOCK_MONOTONIC` now, or at most `LATENESS_NS` later.
    #[inline]
    pub fn monotonic(&mut self) -> u64 {
        if self.reach != 0 {
            if let Some(bound) = tsc::read().and_then(|(now, cpu)| self.bound_at(now, cpu)) {
                return bound;
            }
        }
        self.read_clock()
    }

    /// The bound for counter value `now` read on `cpu`, if the current
    /// anchor covers it.
    #[inline]
    fn bound_at(&self, now: u64, cpu: u32) -> Option<u64> {
        // Below the anchor wraps to far beyond `reach`.
        let ticks = now.wrapping_sub(self.anchor_tsc);
        (self.reach != 0 && ticks <= self.reach && cpu == self.anchor_cpu).then(|| {
            // ticks × mult ≤ MAX_REACH_NS << 32 (`mult_and_reach`).
            let elapsed = ticks.wrapping_mul(self.mult) >> FRACTION_BITS;
            self.anchor_ns.saturating_add(elapsed)
        })
    }

    /// Reads the clock (a new anchor, where the counter is used).
    #[cold]
    #[inline(never)]
    fn read_clock(&mut self) -> u64 {
        if self.off {
            return now_ns(libc::CLOCK_MONOTONIC);
        }
        let Some(now) = DeadlineClock::read() else {
            return now_ns(libc::CLOCK_MONOTONIC);
        };
        if now.ns.saturating_sub(self.clocksource_asked_ns) >= CLOCKSOURCE_RECHECK_NS {
            self.clocksource_asked_ns = now.ns;
            if tsc::clocksource_is_tsc() == Some(false) {
                self.switch_off();
                return now.ns;
            }
        }
        let measured = self.rate.is_some();
        self.anchor(now);
        if let (false, Some(rate)) = (measured, self.rate) {
            rate.share();
        }
        now.ns
    }

    /// The clocks, bracketed by the counter; `None` if the thread moved to
    /// another CPU in between.
    fn read() -> Option<Reading> {
        // In this order: the vDSO orders its own counter reads after
        // `before`; `after` waits for them.
        let before = tsc::read();
        let ns = now_ns(libc::CLOCK_MONOTONIC);
        let raw = now_ns(libc::CLOCK_MONOTONIC_RAW);
        let after = tsc::read();
        match (before, after) {
            (Some((before, cpu)), Some((after, after_cpu))) if cpu == after_cpu => Some(Reading {
                before,
                after,
                ns,
                raw,
                cpu,
            }),
            _ => None,
        }
    }

    fn switch_off(&mut self) {
        self.off = true;
        self.reach = 0;
    }

    /// Checks the old bound against `now`, measures `K` if it is not known
    /// yet, and anchors the bound at `now`.
    fn anchor(&mut self, now: Reading) {
        if self.reach != 0 && self.bound_below_clock(now) {
            self.switch_off();
            return;
        }
        if self.rate.is_none() {
            self.measure(now);
        }
        let Some((mult, reach)) = self.rate.and_then(|r| r.mult_and_reach()) else {
            self.reach = 0;
            return;
        };
        if ns_in(bracket(now), mult) > BRACKET_NS {
            // Stopped between its reads: no anchor.
            self.reach = 0;
            self.wide_readings = self.wide_readings.saturating_add(1);
            if self.wide_readings >= WIDE_READINGS_LIMIT {
                self.switch_off();
            }
            return;
        }
        self.wide_readings = 0;
        self.anchor_tsc = now.before;
        self.anchor_cpu = now.cpu;
        self.anchor_ns = now.ns.saturating_add(1);
        (self.mult, self.reach) = (mult, reach);
    }

    /// Whether the current bound (without `EARLY_READ_NS`) at `now.after`
    /// is below the clock read at or before it: `mult` is not a bound.
    fn bound_below_clock(&self, now: Reading) -> bool {
        let Some(ticks) = now.after.checked_sub(self.anchor_tsc) else {
            return false;
        };
        if now.cpu != self.anchor_cpu {
            return false;
        }
        // Two 64-bit factors: the product fits 128 bits.
        let elapsed = u128::from(ticks).wrapping_mul(u128::from(self.mult)) >> FRACTION_BITS;
        u128::from(self.anchor_ns).saturating_add(elapsed) < u128::from(now.ns)
    }

    /// Ends the span being measured at `now` if it is long enough; takes
    /// `K` when two consecutive spans agree.
    fn measure(&mut self, now: Reading) {
        let Some(start) = self.span_start.filter(|s| s.cpu == now.cpu) else {
            // None yet, or on another CPU: start one here.
            self.span_start = Some(now);
            return;
        };
        let long_enough = now.raw.saturating_sub(start.raw) >= MIN_SPAN_NS;
        match Rate::between(start, now) {
            Some(m) if long_enough && m.is_tight() => {
                self.span_start = Some(now);
                match self.candidate {
                    Some(c) if c.agrees_with(&m) => {
                        self.rate = Some(c.combined(&m));
                        self.candidate = None;
                    }
                    _ => self.candidate = Some(m),
                }
            }
            // Not long enough yet: the span grows, from `now` if its
            // bracket is much the narrower (a start that paid a page fault
            // would take long to outweigh).
            Some(_) if bracket(start) > bracket(now).saturating_mul(2) => {
                self.span_start = Some(now);
            }
            Some(_) => {}
            None if now.after < start.before => {
                // The counter went backwards: measure afresh.
                self.span_start = Some(now);
                self.candidate = None;
            }
            None => {}
        }
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

    /// A 2.5 GHz counter (`K` = 0.4 raw ns per tick) and the clocks it
    /// drives: `CLOCK_MONOTONIC` runs at `K` times the factor of the last
    /// `(tick, factor)` in `factors`; in each `(tick, ticks)` of `pauses`
    /// both clocks stand still while the counter runs. A reading takes 40
    /// ticks: the monotonic clock reads the counter at +15, the raw one at
    /// +25.
    struct Model {
        factors: Vec<(u64, f64)>,
        pauses: Vec<(u64, u64)>,
    }

    const K: f64 = 0.4;

    /// The kernel's limits on `CLOCK_MONOTONIC`'s rate against `K`.
    const SLOWEST: f64 = 0.774;
    const FASTEST: f64 = 1.226;

    impl Model {
        fn steady() -> Model {
            Model::factors(vec![(0, 1.0)])
        }

        fn factors(factors: Vec<(u64, f64)>) -> Model {
            Model {
                factors,
                pauses: vec![],
            }
        }

        fn paused(pauses: Vec<(u64, u64)>) -> Model {
            Model {
                factors: vec![(0, 1.0)],
                pauses,
            }
        }

        /// Ticks before `tick` during which the clocks ran.
        fn running(&self, tick: u64) -> u64 {
            let paused: u64 = self
                .pauses
                .iter()
                .map(|&(at, len)| tick.clamp(at, at + len) - at)
                .sum();
            tick - paused
        }

        fn is_paused(&self, tick: u64) -> bool {
            self.pauses
                .iter()
                .any(|&(at, len)| (at..at + len).contains(&tick))
        }

        fn raw(&self, tick: u64) -> f64 {
            2e9 + self.running(tick) as f64 * K
        }

        /// `CLOCK_MONOTONIC` at `tick`.
        fn truth(&self, tick: u64) -> f64 {
            let mut ns = 1e9;
            for (i, &(from, factor)) in self.factors.iter().enumerate() {
                let to = self.factors.get(i + 1).map_or(u64::MAX, |f| f.0);
                if tick <= from {
                    break;
                }
                let ran = self.running(tick.min(to)) - self.running(from);
                ns += ran as f64 * K * factor;
            }
            ns
        }

        fn reading(&self, tick: u64) -> Reading {
            Reading {
                before: tick,
                after: tick + 40,
                ns: self.truth(tick + 15) as u64,
                raw: self.raw(tick + 25) as u64,
                cpu: 0,
            }
        }
    }

    /// The bound at `tick` on CPU 0, if the clock uses it there.
    fn bound_at(c: &DeadlineClock, tick: u64) -> Option<u64> {
        c.bound_at(tick, 0)
    }

    /// Probes `c` at each of `ticks` as the ring would (a clock read
    /// wherever the bound is not used), checking every bound against the
    /// model: never below the clock, at most `LATENESS_NS` above it.
    /// Returns how many bounds were used.
    fn probe(c: &mut DeadlineClock, m: &Model, ticks: impl IntoIterator<Item = u64>) -> usize {
        let mut used = 0;
        // Nothing runs while the clocks are paused (the system sleeps).
        for tick in ticks.into_iter().filter(|t| !m.is_paused(*t)) {
            match bound_at(c, tick) {
                Some(b) => {
                    used += 1;
                    let truth = m.truth(tick);
                    assert!(b as f64 >= truth, "early at {tick}: {b} < {truth}");
                    let late = b as f64 - truth;
                    assert!(late <= LATENESS_NS as f64, "late by {late} at {tick}");
                }
                None => c.anchor(m.reading(tick)),
            }
        }
        used
    }

    /// `n` ticks `step` apart from `from` (exclusive).
    fn every(from: u64, step: u64, n: u64) -> impl Iterator<Item = u64> {
        (1..=n).map(move |i| from + i * step)
    }

    /// A clock that has measured `K` on `m` (readings at 0, 20,000 and
    /// 40,000: two 8 µs spans) and is anchored at tick 40,000.
    fn measured(m: &Model) -> DeadlineClock {
        let mut c = DeadlineClock::with_counter(true);
        for tick in [0, 20_000, 40_000] {
            c.anchor(m.reading(tick));
        }
        assert!(c.reach > 0);
        c
    }

    #[test]
    fn the_rate_is_bracketed() {
        let m = Model::steady();
        let r = Rate::between(m.reading(0), m.reading(1_000_000)).unwrap();
        let truth = (K * 4294967296.0) as u64;
        assert!(r.low <= truth && truth <= r.high, "{r:?} {truth}");
        // 40-tick brackets over a million ticks: within 0.01%.
        assert!(r.high - r.low < truth / 10_000, "{r:?}");
        assert_eq!(Rate::between(m.reading(0), m.reading(30)), None);
        assert!(!Rate::between(m.reading(0), m.reading(1_000))
            .unwrap()
            .is_tight());
    }

    #[test]
    fn k_is_taken_when_two_long_enough_spans_agree() {
        let m = Model::steady();
        let mut c = DeadlineClock::with_counter(true);
        c.anchor(m.reading(0));
        c.anchor(m.reading(5_000));
        assert_eq!(c.candidate, None, "2 µs is too short a span");
        assert_eq!(c.span_start, Some(m.reading(0)), "the span grows");
        c.anchor(m.reading(15_000));
        assert!(c.candidate.is_some() && c.rate.is_none() && c.reach == 0);
        c.anchor(m.reading(30_000));
        assert!(c.rate.is_some() && c.reach > 0);
        // About 12 µs (30,000 ticks) per anchor.
        let reach_ns = c.reach as f64 * K;
        assert!((10_000.0..=14_000.0).contains(&reach_ns), "{reach_ns}");
    }

    #[test]
    fn a_span_from_a_slow_first_reading_starts_again_from_a_fast_one() {
        let m = Model::steady();
        let mut c = DeadlineClock::with_counter(true);
        // The process's first clock read, 20 µs with its page fault.
        let first = Reading {
            after: 50_000,
            ns: m.truth(25_000) as u64,
            raw: m.raw(25_000) as u64,
            ..m.reading(0)
        };
        c.anchor(first);
        c.anchor(m.reading(60_000));
        assert_eq!(c.span_start, Some(m.reading(60_000)));
        for tick in [80_000, 100_000] {
            c.anchor(m.reading(tick));
        }
        assert!(c.reach > 0);
    }

    #[test]
    fn bounds_are_never_below_the_clock_and_at_most_the_lateness_above() {
        let m = Model::steady();
        let mut c = DeadlineClock::with_counter(true);
        let mut used = 0;
        let mut tick = 0;
        for step in [100u64, 500, 2_000, 10_000, 50_000, 200_000] {
            used += probe(&mut c, &m, every(tick, step, 200));
            tick += 200 * step;
        }
        assert!(used > 400, "the bound was used {used} times");
    }

    #[test]
    fn a_rate_jump_across_the_kernels_whole_range_keeps_bounds_above_the_clock() {
        // Measured at one extreme, then the other right after an anchor.
        for (from, to) in [
            (SLOWEST, FASTEST),
            (FASTEST, SLOWEST),
            (1.0, FASTEST),
            (1.0, SLOWEST),
        ] {
            let m = Model::factors(vec![(0, from), (40_041, to)]);
            let mut c = measured(&m);
            let used = probe(&mut c, &m, every(40_000, 100, 20_000));
            assert!(
                !c.off && used > 15_000,
                "{from}→{to}: used {used}, off {}",
                c.off
            );
        }
    }

    #[test]
    fn a_rate_swing_after_a_long_idle_keeps_bounds_above_the_clock() {
        // 10 minutes idle at −10%, then +10% from 1 ms before the next
        // burst.
        let minute = 60 * 2_500_000_000u64;
        let burst = 10 * minute;
        let m = Model::factors(vec![(0, 0.9), (burst - 2_500_000, 1.1)]);
        let mut c = measured(&m);
        let used = probe(&mut c, &m, every(burst, 100, 20_000));
        assert!(!c.off && used > 15_000, "used {used}");
    }

    #[test]
    fn rates_wandering_anywhere_in_the_kernels_range_never_make_a_bound_early() {
        // Random rates within the kernel's limits, changing at random
        // times, probed in bursts of calls between idle stretches.
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut factors = vec![(0, 1.0)];
        let mut tick = 0;
        for _ in 0..150 {
            tick += 1_000 + next() % 5_000_000;
            let factor = SLOWEST + (FASTEST - SLOWEST) * (next() % 1_000) as f64 / 999.0;
            factors.push((tick, factor));
        }
        let m = Model::factors(factors);
        let mut c = DeadlineClock::with_counter(true);
        let mut at = 0;
        let mut used = 0;
        while at < tick {
            let gap = 20 + next() % 400;
            used += probe(&mut c, &m, every(at, gap, 100 + next() % 300));
            at += gap * 400 + next() % 3_000_000;
        }
        assert!(!c.off && used > 10_000, "used {used}, off {}", c.off);
    }

    #[test]
    fn a_rate_beyond_the_kernels_limits_ends_the_counters_use() {
        let m = Model::factors(vec![(0, 1.0), (40_041, 1.6)]);
        let mut c = measured(&m);
        let reach = c.reach;
        c.anchor(m.reading(40_000 + reach));
        assert!(c.off && c.reach == 0);
        let before = now_ns(libc::CLOCK_MONOTONIC);
        let mono = c.monotonic();
        assert!(before <= mono && mono <= now_ns(libc::CLOCK_MONOTONIC));
    }

    #[test]
    fn pauses_of_the_clocks_never_make_a_bound_early() {
        // The counter runs on while both clocks stand still (a suspend to
        // idle whose sleep time nothing records), in the first span, in
        // the second, in both at different fractions, and after `K` is
        // known; then bursts of calls.
        let ms = 2_500_000u64;
        for pauses in [
            vec![(5_000, ms)],
            vec![(5_000, 400 * ms)],
            vec![(1_000, 2_000)],
            vec![(20_000, ms)],
            vec![(5_000, ms), (ms + 30_000, 3 * ms)],
            // Both of the first two spans paused, unequally (the first
            // span ends 7,600 ticks after the first pause).
            vec![(5_000, ms), (ms + 15_600, 3 * ms)],
            vec![(100_000, 10 * ms)],
        ] {
            let m = Model::paused(pauses.clone());
            let mut c = DeadlineClock::with_counter(true);
            let used = probe(&mut c, &m, every(0, 100, 200_000))
                + probe(&mut c, &m, every(500 * ms, 100, 20_000));
            assert!(!c.off && used > 15_000, "{pauses:?}: used {used}");
        }
    }

    #[test]
    fn spans_measure_and_bounds_hold_on_one_cpu_only() {
        // CPU 1's counter reads 5 µs (12,500 ticks) behind CPU 0's.
        let m = Model::steady();
        let on_1 = |tick: u64| Reading {
            before: tick - 12_500,
            after: tick - 12_460,
            cpu: 1,
            ..m.reading(tick)
        };
        let mut c = DeadlineClock::with_counter(true);
        // Readings going back and forth measure nothing.
        for i in 0..10u64 {
            let tick = 20_000 + i * 20_000;
            c.anchor(if i % 2 == 0 {
                m.reading(tick)
            } else {
                on_1(tick)
            });
        }
        assert!(c.candidate.is_none() && c.rate.is_none());
        // Three on CPU 1 do, and anchor there.
        for tick in [300_000, 320_000, 340_000] {
            c.anchor(on_1(tick));
        }
        assert!(c.reach > 0 && c.anchor_cpu == 1);
        // On CPU 0, whose counter is ahead, the bound is not used: the
        // clock is read and anchors there.
        assert_eq!(bound_at(&c, 341_000), None);
        let used = probe(&mut c, &m, every(341_000, 100, 1_000));
        assert!(used > 900 && c.anchor_cpu == 0, "used {used}");
    }

    #[test]
    fn a_reading_stopped_between_its_counter_reads_is_no_anchor() {
        // Stopped for 8 hours, once with the clocks paused and once
        // preempted (they ran).
        let hours = 8 * 3600 * 2_500_000_000u64;
        for paused in [true, false] {
            let stop = 60_001;
            let m = if paused {
                Model::paused(vec![(stop, hours)])
            } else {
                Model::steady()
            };
            let mut c = measured(&m);
            let r = Reading {
                after: stop + hours + 40,
                ns: m.truth(stop + hours + 15) as u64,
                raw: m.raw(stop + hours + 25) as u64,
                ..m.reading(stop - 1)
            };
            c.anchor(r);
            assert_eq!(c.reach, 0);
            let used = probe(&mut c, &m, every(stop + hours + 100, 100, 20_000));
            assert!(!c.off && used > 15_000, "used {used}");
        }
    }

    #[test]
    fn a_measurement_ending_in_a_slow_reading_anchors_nothing() {
        // The reading that completes `K` was preempted for 10 µs inside
        // its bracket: `K` is taken, but the reading is no anchor (its
        // time could be 10 µs after `before`).
        let m = Model::steady();
        let mut c = DeadlineClock::with_counter(true);
        c.anchor(m.reading(0));
        c.anchor(m.reading(2_500_000_000));
        let call = 5_000_000_000;
        let r = Reading {
            after: call + 25_000,
            ns: m.truth(call + 25_000) as u64,
            raw: m.raw(call + 25_000) as u64,
            ..m.reading(call)
        };
        c.anchor(r);
        assert!(c.rate.is_some());
        assert_eq!(c.reach, 0);
        let used = probe(&mut c, &m, every(call + 25_000, 100, 1_000));
        assert!(used > 800, "used {used}");
    }

    #[test]
    fn readings_that_are_always_slow_end_the_counters_use() {
        let m = Model::steady();
        let mut c = measured(&m);
        let slow = |tick: u64| Reading {
            after: tick + 5_000,
            ..m.reading(tick)
        };
        // Now and then one is fine.
        for i in 0..(3 * u64::from(WIDE_READINGS_LIMIT)) {
            let tick = 100_000 + i * 100_000;
            c.anchor(if i % 8 == 7 {
                m.reading(tick)
            } else {
                slow(tick)
            });
        }
        assert!(!c.off);
        for i in 0..u64::from(WIDE_READINGS_LIMIT) {
            c.anchor(slow(10_000_000 + i * 100_000));
        }
        assert!(c.off && c.reach == 0);
    }

    #[test]
    fn a_counter_gone_backwards_measures_afresh() {
        let m = Model::steady();
        let mut c = DeadlineClock::with_counter(true);
        c.anchor(m.reading(100_000));
        c.anchor(m.reading(120_000));
        assert!(c.candidate.is_some());
        // Reset (as some firmware does on resume): far below the start.
        c.anchor(m.reading(50));
        assert_eq!(c.candidate, None);
        assert_eq!(c.span_start, Some(m.reading(50)));
        assert_eq!(c.reach, 0);
    }

    #[test]
    fn without_the_counter_the_clock_is_read() {
        let mut c = DeadlineClock::with_counter(false);
        for _ in 0..10 {
            let before = now_ns(libc::CLOCK_MONOTONIC);
            let got = c.monotonic();
            assert!(got >= before && got <= now_ns(libc::CLOCK_MONOTONIC));
        }
        assert_eq!(c.reach, 0);
    }

    #[test]
    fn on_this_machine_never_behind_the_clock() {
        let mut c = DeadlineClock::new();
        let mut used = false;
        for _ in 0..200_000 {
            let before = now_ns(libc::CLOCK_MONOTONIC);
            let got = c.monotonic();
            assert!(got >= before, "{got} < {before}");
            let after = now_ns(libc::CLOCK_MONOTONIC);
            assert!(
                got <= after + LATENESS_NS,
                "{got} > {after} + {LATENESS_NS}"
            );
            used |= c.reach != 0;
        }
        // Where the kernel's clock is on the counter, the bound was used,
        // with `K` shared for the next ring.
        let usable = tsc::counter_enabled() && tsc::clocksource_is_tsc() == Some(true);
        assert_eq!(used, usable);
        assert!(!c.off || !usable);
        if usable {
            let shared = Rate::shared().unwrap();
            let k = shared.low as f64 / 4294967296.0;
            assert!(k > 0.01 && k < 100.0, "{shared:?}");
            assert_eq!(DeadlineClock::new().rate, Some(shared));
        }
    }
}
