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
//! (~9 ns, overlapping the call's other work) and turns it into an upper
//! bound of the clock:
//!
//! ```text
//! bound(t) = anchor_ns + (t − anchor_tsc) × mult + EARLY_READ_NS
//! ```
//!
//! - The anchor is a vDSO read bracketed by two counter reads, `before`
//!   and `after` (the vDSO's own read waits for `before`; `after` waits
//!   for it): the clock at counter value `before` is below the reading + 1
//!   (`anchor_ns`).
//! - `mult` (nanoseconds per tick, 32.32 fixed point) is the upper end of
//!   the rate measured over the last span between two clock reads, from
//!   their brackets (a bound, not an estimate), times 13/8. The kernel
//!   keeps `CLOCK_MONOTONIC`'s rate against its clock source within
//!   [0.774, 1.226] of nominal however NTP drives it (`adjtimex`:
//!   `ADJ_TICK` ±10%, the PLL's phase correction up to 12.5% a second with
//!   time constant 0 and the 0.5 s offset limit, frequency and `adjtime`
//!   slew 0.05% each; chrony slews by up to 8.3%), so any rate measured at
//!   any time, times 1.584, bounds the rate now: no assumption on how fast
//!   or how recently the rate changed.
//! - `EARLY_READ_NS` covers the counter being read before the instructions
//!   that precede it complete (it is not ordered; a fence would cost what
//!   the vDSO costs).
//!
//! A bound is used only within `reach` ticks of its anchor, chosen so that
//! it is at most `SPREAD_NS` ahead of a clock running as slowly as the
//! kernel allows (5/8 of the low end: about 6 µs); beyond that, or where
//! the counter reads below the anchor, the ring reads the clock, which
//! makes a new anchor and measures the rate again over the span since the
//! last measurement, once that span is at least `MIN_SPAN_NS` long (so a
//! small skew between CPUs' counters moves it little) and its brackets pin
//! the rate within 1/64. Each reading also reads `CLOCK_BOOTTIME`: a
//! suspend (the counter may run on while the clock stands still) changes
//! `CLOCK_BOOTTIME − CLOCK_MONOTONIC`, and a span with one in it is no
//! measurement. A reading whose bracket is wider than `BRACKET_NS` (the
//! thread stopped between its reads) is no anchor, and no measurement
//! either once a rate is known. Each new anchor checks the old bound
//! against the clock; a bound found below it (only if the kernel's limits
//! or the counter failed) ends the counter's use in this ring, as does a
//! clock source other than the TSC, asked again at most once a second.

use crate::sys::{clock::now_ns, tsc};

/// Added to every bound: the counter may be read this much before the
/// instructions that precede it complete (the out-of-order window behind a
/// chain of cache misses; far less in practice).
const EARLY_READ_NS: u64 = 2_000;

/// The most a bound may exceed the clock by the rate's uncertainty and its
/// allowed change (`EARLY_READ_NS`, the bracket and the reading's 1 ns
/// come on top).
const SPREAD_NS: u64 = 6_000;

/// The widest bracket an anchor may have: the anchor's time is the clock
/// read, which may come this much after the counter read it starts from.
const BRACKET_NS: u64 = 256;

/// The most a start is late, in all.
const LATENESS_NS: u64 = EARLY_READ_NS + SPREAD_NS + BRACKET_NS + 1;

// evfd_ring(3) promises REL and SEQ starts at most 10 µs late from this.
const _: () = assert!(LATENESS_NS <= 10_000);

/// The fastest the clock can run against a rate measured at another time:
/// ×13/8 = 1.625 ≥ 1.226 / 0.774 (the module's text).
fn fastest(rate: u64) -> Option<u64> {
    rate.checked_add(rate >> 1)?.checked_add(rate >> 3)
}

/// The slowest: ×5/8 = 0.625 ≤ 0.774 / 1.226.
fn slowest(rate: u64) -> u64 {
    (rate >> 1).saturating_add(rate >> 3)
}

/// A span shorter than this is no measurement (10 µs: a 50 ns skew between
/// two CPUs' counters moves the rate by 0.5%).
const MIN_SPAN_NS: u64 = 10_000;

/// A span measures the rate once its brackets pin it within 1/64.
const TIGHT_SHIFT: u32 = 6;

/// A change of `CLOCK_BOOTTIME − CLOCK_MONOTONIC` larger than this between
/// two readings is a suspend (reading the two clocks one after the other
/// moves the difference by the time between the reads: nanoseconds, or
/// the length of a preemption, which is then taken for a suspend).
const SUSPEND_NS: u64 = 20_000;

/// The longest a bound is used after its anchor.
const MAX_REACH_NS: u64 = 1_000_000;

/// How often the clock source is asked again while the counter is used.
const CLOCKSOURCE_RECHECK_NS: u64 = 1_000_000_000;

/// Readings in a row too wide to anchor after which the ring stops using
/// the counter: where every clock read takes microseconds (valgrind, a
/// hypervisor that traps the counter), each would cost three reads for
/// nothing.
const WIDE_READINGS_LIMIT: u8 = 16;

/// Fractional bits of a rate (nanoseconds per tick).
const FRACTION_BITS: u32 = 32;

/// A clock read with the counter read before and after it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Reading {
    /// The counter before the clock's own read of it.
    before: u64,
    /// The counter after it.
    after: u64,
    /// `CLOCK_MONOTONIC`, nanoseconds (truncated: the clock was below
    /// `ns + 1`).
    ns: u64,
    /// `CLOCK_BOOTTIME` read after `after`, minus `ns`: grows by the time
    /// spent suspended.
    boot_offset: u64,
}

/// The ticks between a reading's two counter reads.
fn bracket(r: Reading) -> u64 {
    r.after.saturating_sub(r.before)
}

/// Nanoseconds per tick, 32.32 fixed point: the true rate was within.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Rate {
    low: u64,
    high: u64,
}

impl Rate {
    /// The rate between readings `a` and `b` (`b` later), from their
    /// brackets; `None` when they are too close to tell or the counter
    /// went backwards.
    fn between(a: Reading, b: Reading) -> Option<Rate> {
        let ns = b.ns.checked_sub(a.ns)?;
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

    /// The multiplier a bound uses (the fastest the clock can run) and how
    /// many ticks past its anchor it stays within `SPREAD_NS` of a clock
    /// running as slowly as it can; `None` if that is no tick at all.
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

    /// `ticks` in nanoseconds at the high end (saturating).
    fn ns_in(&self, ticks: u64) -> u64 {
        // Two 64-bit factors: the product fits 128 bits.
        let ns = u128::from(ticks).wrapping_mul(u128::from(self.high)) >> FRACTION_BITS;
        u64::try_from(ns).unwrap_or(u64::MAX)
    }
}

/// A ring's source of REL and SEQ start times (see the module's text).
#[derive(Debug)]
pub struct DeadlineClock {
    /// The counter at the anchor (`Reading::before`).
    anchor_tsc: u64,
    /// The clock at the anchor, rounded up (`Reading::ns + 1`).
    anchor_ns: u64,
    /// The rate's upper bound with the allowed change (32.32).
    mult: u64,
    /// Ticks past `anchor_tsc` the bound is used for; 0: not used.
    reach: u64,
    /// Where the span being measured starts.
    span_start: Option<Reading>,
    /// The rate over the last span measured.
    rate: Option<Rate>,
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
    /// thread may read it, and if so takes a first reading: at ring
    /// creation, so that the first REL call already ends a span.
    pub fn new() -> DeadlineClock {
        let usable = tsc::counter_enabled() && tsc::clocksource_is_tsc() == Some(true);
        let mut clock = DeadlineClock::with_counter(usable);
        if usable {
            // Twice: a process's first clock read may take a page fault
            // (the vDSO's data) and would make a wide start.
            let _ = DeadlineClock::read();
            if let Some(first) = DeadlineClock::read() {
                clock.span_start = Some(first);
                clock.clocksource_asked_ns = first.ns;
            }
        }
        clock
    }

    fn with_counter(usable: bool) -> DeadlineClock {
        DeadlineClock {
            anchor_tsc: 0,
            anchor_ns: 0,
            mult: 0,
            reach: 0,
            span_start: None,
            rate: None,
            off: !usable,
            wide_readings: 0,
            clocksource_asked_ns: 0,
        }
    }

    /// `CLOCK_MONOTONIC` now, or at most `LATENESS_NS` later.
    #[inline]
    pub fn monotonic(&mut self) -> u64 {
        if self.reach != 0 {
            if let Some(now) = tsc::read() {
                // Below the anchor (another CPU's counter behind) wraps to
                // far beyond `reach`.
                let ticks = now.wrapping_sub(self.anchor_tsc);
                if ticks <= self.reach {
                    // ticks × mult ≤ MAX_REACH_NS << 32 (`mult_and_reach`).
                    let elapsed = ticks.wrapping_mul(self.mult) >> FRACTION_BITS;
                    return self
                        .anchor_ns
                        .saturating_add(elapsed)
                        .saturating_add(EARLY_READ_NS);
                }
            }
        }
        self.read_clock()
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
        self.anchor(now);
        now.ns
    }

    /// The clocks, bracketed by the counter.
    fn read() -> Option<Reading> {
        // In this order: the vDSO orders its own counter read after
        // `before`; `after` waits for it.
        let before = tsc::read();
        let ns = now_ns(libc::CLOCK_MONOTONIC);
        let after = tsc::read_after_earlier();
        let boot = now_ns(libc::CLOCK_BOOTTIME);
        Some(Reading {
            before: before?,
            after: after?,
            ns,
            boot_offset: boot.saturating_sub(ns),
        })
    }

    fn switch_off(&mut self) {
        self.off = true;
        self.reach = 0;
    }

    /// Checks the old bound against `now`, measures the rate and anchors
    /// the bound at `now`.
    fn anchor(&mut self, now: Reading) {
        if self.reach != 0 && self.bound_below_clock(now) {
            self.switch_off();
            return;
        }
        if self.too_wide(now) {
            // Stopped between its reads: neither an anchor nor a
            // measurement.
            self.note_wide();
            return;
        }
        self.measure(now);
        if self.too_wide(now) {
            // Wide by the rate it just measured: the end of a measurement
            // (its bracket is part of it), not an anchor.
            self.note_wide();
            return;
        }
        self.wide_readings = 0;
        self.anchor_tsc = now.before;
        self.anchor_ns = now.ns.saturating_add(1);
        (self.mult, self.reach) = self.rate.and_then(|r| r.mult_and_reach()).unwrap_or((0, 0));
    }

    /// Whether `now`'s bracket is wider than `BRACKET_NS` at the rate
    /// known (if any).
    fn too_wide(&self, now: Reading) -> bool {
        self.rate
            .is_some_and(|r| r.ns_in(bracket(now)) > BRACKET_NS)
    }

    /// A reading too wide to anchor: see `WIDE_READINGS_LIMIT`.
    fn note_wide(&mut self) {
        self.reach = 0;
        self.wide_readings = self.wide_readings.saturating_add(1);
        if self.wide_readings >= WIDE_READINGS_LIMIT {
            self.switch_off();
        }
    }

    /// Whether the current bound (without `EARLY_READ_NS`) at `now.after`
    /// is below the clock read at or before it: the rate is not a bound.
    fn bound_below_clock(&self, now: Reading) -> bool {
        let Some(ticks) = now.after.checked_sub(self.anchor_tsc) else {
            return false;
        };
        // Two 64-bit factors: the product fits 128 bits.
        let elapsed = u128::from(ticks).wrapping_mul(u128::from(self.mult)) >> FRACTION_BITS;
        u128::from(self.anchor_ns).saturating_add(elapsed) < u128::from(now.ns)
    }

    /// Ends the span being measured at `now` if it is long enough, and
    /// takes its rate.
    fn measure(&mut self, now: Reading) {
        let Some(start) = self.span_start else {
            self.span_start = Some(now);
            return;
        };
        if now.boot_offset.abs_diff(start.boot_offset) > SUSPEND_NS {
            // Suspended in between: the counter and the clock parted.
            self.rate = None;
            self.span_start = Some(now);
            return;
        }
        let long_enough = now.ns.saturating_sub(start.ns) >= MIN_SPAN_NS;
        match Rate::between(start, now) {
            Some(rate) if long_enough && rate.is_tight() => {
                self.rate = Some(rate);
                self.span_start = Some(now);
            }
            // Not long enough yet: the span grows, from `now` if its
            // bracket is much the narrower (a first clock read that paid
            // the vDSO's page fault would take long to outweigh).
            Some(_) if bracket(start) > bracket(now).saturating_mul(2) => {
                self.span_start = Some(now);
            }
            Some(_) => {}
            None if now.after < start.before => {
                // The counter went backwards: measure afresh.
                self.rate = None;
                self.span_start = Some(now);
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

    /// A 2.5 GHz counter (0.4 ns per tick) and the clocks it drives: from
    /// each `(tick, ns_per_tick)` in `rates` on, the clock runs at that
    /// rate; in each `(tick, ticks)` of `suspends` it stands still while
    /// the counter runs, and `CLOCK_BOOTTIME` gains that time. A clock read
    /// takes 40 ticks and reads the counter in the middle.
    struct Model {
        rates: Vec<(u64, f64)>,
        suspends: Vec<(u64, u64)>,
    }

    const NS_PER_TICK: f64 = 0.4;

    impl Model {
        fn steady() -> Model {
            Model {
                rates: vec![(0, NS_PER_TICK)],
                suspends: vec![],
            }
        }

        fn rate_from(tick: u64, factor: f64) -> Model {
            Model {
                rates: vec![(0, NS_PER_TICK), (tick, NS_PER_TICK * factor)],
                suspends: vec![],
            }
        }

        fn suspended(at: u64, ticks: u64) -> Model {
            Model {
                rates: vec![(0, NS_PER_TICK)],
                suspends: vec![(at, ticks)],
            }
        }

        fn suspended_ticks(&self, tick: u64) -> u64 {
            self.suspends
                .iter()
                .map(|&(at, len)| tick.clamp(at, at + len) - at)
                .sum()
        }

        /// `CLOCK_MONOTONIC` at `tick`.
        fn truth(&self, tick: u64) -> f64 {
            let mut ns = 1e9;
            for (i, &(from, rate)) in self.rates.iter().enumerate() {
                let to = self.rates.get(i + 1).map_or(u64::MAX, |r| r.0);
                if tick <= from {
                    break;
                }
                let end = tick.min(to);
                let running =
                    (end - from) - (self.suspended_ticks(end) - self.suspended_ticks(from));
                ns += running as f64 * rate;
            }
            ns
        }

        fn reading(&self, tick: u64) -> Reading {
            Reading {
                before: tick,
                after: tick + 40,
                ns: self.truth(tick + 20) as u64,
                boot_offset: 5_000_000_000
                    + (self.suspended_ticks(tick + 40) as f64 * NS_PER_TICK) as u64,
            }
        }
    }

    /// The bound at `tick` without `EARLY_READ_NS` (the model's counter is
    /// never read early), if the clock uses it there.
    fn bound_at(c: &DeadlineClock, tick: u64) -> Option<u64> {
        let ticks = tick.wrapping_sub(c.anchor_tsc);
        (c.reach != 0 && ticks <= c.reach)
            .then(|| c.anchor_ns + ((ticks * c.mult) >> FRACTION_BITS))
    }

    /// Probes `c` at each of `ticks` as the ring would (a clock read
    /// wherever the bound is not used), checking every bound against the
    /// model: never below the clock, at most `LATENESS_NS` above it (with
    /// `EARLY_READ_NS`). Returns how many bounds were used.
    fn probe(c: &mut DeadlineClock, m: &Model, ticks: impl IntoIterator<Item = u64>) -> usize {
        let mut used = 0;
        for tick in ticks {
            match bound_at(c, tick) {
                Some(b) => {
                    used += 1;
                    let truth = m.truth(tick);
                    assert!(b as f64 >= truth, "early at {tick}: {b} < {truth}");
                    let late = (b + EARLY_READ_NS) as f64 - truth;
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

    /// A clock that has measured the steady rate and is anchored at tick
    /// 100,000.
    fn measured() -> DeadlineClock {
        let m = Model::steady();
        let mut c = DeadlineClock::with_counter(true);
        c.anchor(m.reading(0));
        c.anchor(m.reading(100_000));
        assert!(c.reach > 0);
        c
    }

    #[test]
    fn the_rate_is_bracketed() {
        let m = Model::steady();
        let r = Rate::between(m.reading(0), m.reading(1_000_000)).unwrap();
        let truth = (NS_PER_TICK * 4294967296.0) as u64;
        assert!(r.low <= truth && truth <= r.high, "{r:?} {truth}");
        // 40-tick brackets over a million ticks: within 0.01%.
        assert!(r.high - r.low < truth / 10_000, "{r:?}");
        assert_eq!(Rate::between(m.reading(0), m.reading(30)), None);
        assert!(!Rate::between(m.reading(0), m.reading(1_000))
            .unwrap()
            .is_tight());
    }

    #[test]
    fn a_span_measures_once_it_is_long_enough() {
        let m = Model::steady();
        let mut c = DeadlineClock::with_counter(true);
        c.anchor(m.reading(0));
        c.anchor(m.reading(1_000));
        assert_eq!(c.reach, 0, "1,000 ticks do not pin the rate");
        assert_eq!(c.span_start, Some(m.reading(0)), "the span grows");
        c.anchor(m.reading(20_000));
        assert_eq!(c.reach, 0, "8 µs is too short a span");
        c.anchor(m.reading(30_000));
        assert!(c.reach > 0);
        assert_eq!(c.span_start, Some(m.reading(30_000)));
    }

    #[test]
    fn a_span_from_a_slow_first_reading_starts_again_from_a_fast_one() {
        let m = Model::steady();
        let mut c = DeadlineClock::with_counter(true);
        // The process's first clock read, 20 µs with its page fault.
        let first = Reading {
            after: 50_000,
            ns: m.truth(25_000) as u64,
            ..m.reading(0)
        };
        c.anchor(first);
        c.anchor(m.reading(60_000));
        assert_eq!(c.span_start, Some(m.reading(60_000)));
        c.anchor(m.reading(100_000));
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
        assert!(used > 300, "the bound was used {used} times");
        // About 6 µs (15,000 ticks) per anchor.
        let reach_ns = c.reach as f64 * NS_PER_TICK;
        assert!(
            (5_000.0..=MAX_REACH_NS as f64).contains(&reach_ns),
            "{reach_ns}"
        );
    }

    /// The kernel's limits on `CLOCK_MONOTONIC`'s rate against its clock
    /// source, as factors of nominal.
    const SLOWEST: f64 = 0.774;
    const FASTEST: f64 = 1.226;

    #[test]
    fn a_rate_jump_across_the_kernels_whole_range_keeps_bounds_above_the_clock() {
        // Measured at one extreme, then the other right after an anchor.
        for (from, to) in [
            (SLOWEST, FASTEST),
            (FASTEST, SLOWEST),
            (1.0, FASTEST),
            (1.0, SLOWEST),
        ] {
            let m = Model {
                rates: vec![(0, NS_PER_TICK * from), (100_041, NS_PER_TICK * to)],
                suspends: vec![],
            };
            let mut c = DeadlineClock::with_counter(true);
            c.anchor(m.reading(0));
            c.anchor(m.reading(100_000));
            assert!(c.reach > 0);
            let used = probe(&mut c, &m, every(100_000, 100, 20_000));
            assert!(
                !c.off && used > 15_000,
                "{from}→{to}: used {used}, off {}",
                c.off
            );
        }
    }

    #[test]
    fn a_rate_swing_hidden_by_a_long_idle_span_keeps_bounds_above_the_clock() {
        // 10 minutes idle at −10%, then +10% from 1 ms before the next
        // burst: the span's average is −10%, the clock now runs 22% faster.
        let minute = 60 * 2_500_000_000u64;
        let burst = 10 * minute;
        let m = Model {
            rates: vec![
                (0, NS_PER_TICK * 0.9),
                (burst - 2_500_000, NS_PER_TICK * 1.1),
            ],
            suspends: vec![],
        };
        let mut c = DeadlineClock::with_counter(true);
        c.anchor(m.reading(0));
        c.anchor(m.reading(100_000));
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
        let mut rates = vec![(0, NS_PER_TICK)];
        let mut tick = 0;
        for _ in 0..150 {
            tick += 1_000 + next() % 5_000_000;
            let factor = SLOWEST + (FASTEST - SLOWEST) * (next() % 1_000) as f64 / 999.0;
            rates.push((tick, NS_PER_TICK * factor));
        }
        let m = Model {
            rates,
            suspends: vec![],
        };
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
        let mut c = measured();
        let m = Model::rate_from(100_041, 1.8);
        let reach = c.reach;
        c.anchor(m.reading(100_000 + reach));
        assert!(c.off && c.reach == 0);
        let before = now_ns(libc::CLOCK_MONOTONIC);
        let mono = c.monotonic();
        assert!(before <= mono && mono <= now_ns(libc::CLOCK_MONOTONIC));
    }

    #[test]
    fn a_first_measurement_ending_in_a_slow_reading_anchors_nothing() {
        // Made a second ago; the first call is preempted for 10 µs inside
        // its bracket: the span measures the rate, but the reading is no
        // anchor (its time could be 10 µs after `before`).
        let m = Model::steady();
        let mut c = DeadlineClock::with_counter(true);
        c.anchor(m.reading(0));
        let call = 2_500_000_000;
        let r = Reading {
            after: call + 25_000,
            ns: m.truth(call + 25_000) as u64,
            ..m.reading(call)
        };
        c.anchor(r);
        assert!(c.rate.is_some());
        assert_eq!(c.reach, 0);
        let used = probe(&mut c, &m, every(call + 25_000, 100, 1_000));
        assert!(used > 800, "used {used}");
    }

    #[test]
    fn suspends_anywhere_never_make_a_bound_early() {
        let second = 2_500_000_000u64;
        // (readings before, idle ticks, suspended ticks): one reading then
        // a long idle and a suspend; two quick readings then the same; a
        // measured clock, then a short suspend right after an anchor.
        for (before, idle, suspended) in [
            (vec![0], 60 * second, 10 * second),
            (vec![0, 250], 60 * second, 10 * second),
            (vec![0, 250], second, second),
            (vec![0, 100_000], 1_000, 5 * second),
            (vec![0, 100_000], 1_000, 300_000),
        ] {
            let at = before.last().unwrap() + idle;
            let m = Model::suspended(at, suspended);
            let mut c = DeadlineClock::with_counter(true);
            for t in &before {
                c.anchor(m.reading(*t));
            }
            let resumed = at + suspended;
            // A burst of calls 40 ns apart, then some 10 µs apart.
            probe(&mut c, &m, every(resumed, 100, 20_000));
            let used = probe(&mut c, &m, every(resumed + 2_000_000, 5_000, 400));
            assert!(
                !c.off && used > 200,
                "{before:?} {idle} {suspended}: used {used}"
            );
        }
    }

    #[test]
    fn a_reading_stopped_between_its_counter_reads_is_neither_anchor_nor_measure() {
        // Stopped for 8 hours, once frozen for a suspend (the clock stood
        // still) and once preempted (it ran).
        let hours = 8 * 3600 * 2_500_000_000u64;
        for suspended in [true, false] {
            let mut c = measured();
            let stop = 200_001;
            let m = if suspended {
                Model::suspended(stop, hours)
            } else {
                Model::steady()
            };
            let mut r = m.reading(stop - 1);
            r.after = stop + hours + 40;
            r.ns = m.truth(stop + hours + 20) as u64;
            r.boot_offset = m.reading(stop + hours).boot_offset;
            let rate = c.rate;
            c.anchor(r);
            assert_eq!(c.reach, 0);
            assert_eq!(c.rate, rate, "no measurement from it");
            let used = probe(&mut c, &m, every(stop + hours + 100, 100, 20_000));
            assert!(!c.off && used > 15_000, "used {used}");
        }
    }

    #[test]
    fn readings_that_are_always_slow_end_the_counters_use() {
        let m = Model::steady();
        let mut c = measured();
        let slow = |tick: u64| Reading {
            after: tick + 5_000,
            ns: m.truth(tick + 2_500) as u64,
            ..m.reading(tick)
        };
        // Now and then one is fine.
        for i in 0..(3 * u64::from(WIDE_READINGS_LIMIT)) {
            let tick = 200_000 + i * 100_000;
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
        let mut c = measured();
        c.anchor(m.reading(200_000));
        // Reset (as some firmware does on resume): far below the anchor.
        c.anchor(m.reading(50));
        assert_eq!(c.rate, None);
        assert_eq!(c.reach, 0);
        assert_eq!(c.span_start, Some(m.reading(50)));
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
        // Where the kernel's clock is on the counter, the bound was used.
        let usable = tsc::counter_enabled() && tsc::clocksource_is_tsc() == Some(true);
        assert_eq!(used, usable);
        assert!(!c.off || !usable);
    }
}
