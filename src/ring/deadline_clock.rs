// SPDX-License-Identifier: MIT OR Apache-2.0
//! The time a REL or SEQ timer counts from: `CLOCK_MONOTONIC` at the call,
//! or a few microseconds later, never earlier.
//!
//! A REL deadline is the clock at the call plus `when` (timerfd's meaning:
//! never early, DESIGN §2.2), so every REL add or re-arm needs the time.
//! `clock_gettime` through the vDSO costs ~21 ns here, as much as the rest
//! of an add, and its fence waits for everything before it. Where the
//! kernel's clock runs on the TSC (`sys::tsc::drives_monotonic`), the ring
//! reads the counter alone (~9 ns, overlapping the add's other work) and
//! turns it into an upper bound of the clock:
//!
//! ```text
//! bound(t) = anchor_ns + (t − anchor_tsc) × mult + EARLY_READ_NS
//! ```
//!
//! - The anchor is a vDSO read bracketed by two counter reads, `before`
//!   and `after`: the clock at counter value `before` is below the
//!   reading + 1 (`anchor_ns`).
//! - `mult` is an upper bound of nanoseconds per tick, in 32.32 fixed
//!   point, measured between the first anchor of a calibration and the
//!   latest from their brackets (so a bound, not an estimate), plus 2^-8:
//!   NTP changing the clock's rate since (at most 500 ppm of frequency and
//!   500 ppm of slew each way).
//! - `EARLY_READ_NS` covers the counter being read a little before the
//!   instructions that precede it complete.
//!
//! A bound is used only within `reach` ticks of its anchor, chosen so that
//! it is at most `LATENESS_NS` late; beyond that, or where the counter
//! reads below the anchor, the ring reads the clock, which makes a new
//! anchor and refines the rate. Each new anchor checks the old bound
//! against the clock; a bound found below the clock (the rate changed by
//! more than allowed: a new clock source, `adjtimex(ADJ_TICK)`) ends the
//! counter's use in this ring. A rate that disagrees with the one before
//! (a suspend between two anchors stops the clock, not the counter) starts
//! the calibration again; the bound is used only once two measurements
//! agree.

use crate::sys::{clock::now_ns, tsc};

/// Added to every bound: the counter may be read this much before the
/// call's earlier instructions complete (far more than a CPU's
/// out-of-order window).
const EARLY_READ_NS: u64 = 1_000;

/// The most a bound may exceed the clock by the rate's uncertainty alone
/// (`EARLY_READ_NS` and the reading's 1 ns come on top).
const SPREAD_NS: u64 = 3_000;

/// The widest bracket an anchor may have: the anchor's time is the clock
/// read, which may come this much after the counter read it starts from
/// (a thread preempted in between makes a reading no anchor).
const BRACKET_NS: u64 = 256;

/// Readings in a row too wide to anchor after which the ring stops using
/// the counter: where every clock read takes microseconds (valgrind, a
/// hypervisor that traps the counter), each would cost three reads and a
/// calibration for nothing.
const WIDE_READINGS_LIMIT: u8 = 16;

/// The most a deadline is late, in all.
const LATENESS_NS: u64 = EARLY_READ_NS + SPREAD_NS + BRACKET_NS + 1;

// evfd_ring(3) promises REL and SEQ timers at most 5 µs late from this.
const _: () = assert!(LATENESS_NS <= 5_000);

/// The longest a bound is used after its anchor.
const MAX_REACH_NS: u64 = 2_000_000;

/// The rate allowance for NTP: the measured upper bound times 1 + 2^-8.
const NTP_ALLOWANCE_SHIFT: u32 = 8;

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
}

/// Nanoseconds per tick, 32.32 fixed point: the true rate was within.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Rate {
    low: u64,
    high: u64,
}

impl Rate {
    /// The rate between readings `a` and `b` (`b` later), from their
    /// brackets; `None` when they are too close to tell.
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

    /// Whether two measurements can both be right.
    fn agrees_with(&self, other: &Rate) -> bool {
        self.low <= other.high && other.low <= self.high
    }

    /// The multiplier a bound uses (the high end plus the NTP allowance)
    /// and how many ticks past its anchor it stays within `SPREAD_NS`;
    /// `None` if the rate is too uncertain to use.
    fn mult_and_reach(&self) -> Option<(u64, u64)> {
        let mult = self.high.checked_add(self.high >> NTP_ALLOWANCE_SHIFT)?;
        let spread = mult.checked_sub(self.low).filter(|s| *s > 0)?;
        let within_spread =
            (u128::from(SPREAD_NS) << FRACTION_BITS).checked_div(u128::from(spread))?;
        // MAX_REACH_NS << 32 < 2^64: `ticks × mult` below it never wraps.
        let within_max =
            (u128::from(MAX_REACH_NS) << FRACTION_BITS).checked_div(u128::from(mult))?;
        let reach = u64::try_from(within_spread.min(within_max)).ok()?;
        (reach > 0).then_some((mult, reach))
    }
}

/// A ring's source of REL and SEQ start times (see the module's text).
#[derive(Debug)]
pub struct DeadlineClock {
    /// The counter at the anchor (`Reading::before`).
    anchor_tsc: u64,
    /// The clock at the anchor, rounded up (`Reading::ns + 1`).
    anchor_ns: u64,
    /// An upper bound of nanoseconds per tick (32.32) with the NTP
    /// allowance.
    mult: u64,
    /// Ticks past `anchor_tsc` the bound is used for; 0: not used.
    reach: u64,
    /// The calibration: its first reading, the rate measured from it, and
    /// whether a second measurement agreed.
    first: Option<Reading>,
    rate: Option<Rate>,
    confirmed: bool,
    /// The counter is not used: the kernel's clock is not on it, or a bound
    /// was found below the clock.
    off: bool,
    /// Readings in a row too wide to anchor (see `WIDE_READINGS_LIMIT`).
    wide_readings: u8,
}

impl DeadlineClock {
    /// Asks whether the kernel's clock runs on the counter and the calling
    /// thread may read it (`sys::tsc::drives_monotonic`): at ring creation,
    /// not in the first add.
    pub fn new() -> DeadlineClock {
        DeadlineClock::with_counter(tsc::drives_monotonic())
    }

    fn with_counter(usable: bool) -> DeadlineClock {
        DeadlineClock {
            anchor_tsc: 0,
            anchor_ns: 0,
            mult: 0,
            reach: 0,
            first: None,
            rate: None,
            confirmed: false,
            off: !usable,
            wide_readings: 0,
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
        // In this order: the vDSO orders its own counter read after
        // `before`; `after` waits for it.
        let before = tsc::read();
        let ns = now_ns(libc::CLOCK_MONOTONIC);
        let after = tsc::read_after_earlier();
        if let (Some(before), Some(after)) = (before, after) {
            self.anchor(Reading { before, after, ns });
        }
        ns
    }

    /// Checks the old bound against `now`, refines the rate and anchors
    /// the bound at `now`.
    fn anchor(&mut self, now: Reading) {
        if self.reach != 0 && self.bound_below_clock(now) {
            self.off = true;
            self.reach = 0;
            return;
        }
        self.calibrate(now);
        self.anchor_tsc = now.before;
        self.anchor_ns = now.ns.saturating_add(1);
        (self.mult, self.reach) = match self.rate {
            Some(rate) if self.confirmed => rate.mult_and_reach().unwrap_or((0, 0)),
            _ => (0, 0),
        };
        if self.ns_in(now.after.saturating_sub(now.before)) > BRACKET_NS {
            self.reach = 0;
            self.wide_readings = self.wide_readings.saturating_add(1);
            self.off = self.wide_readings >= WIDE_READINGS_LIMIT;
        } else {
            self.wide_readings = 0;
        }
    }

    /// `ticks` in nanoseconds at the current multiplier (saturating).
    fn ns_in(&self, ticks: u64) -> u64 {
        let ns = u128::from(ticks).wrapping_mul(u128::from(self.mult)) >> FRACTION_BITS;
        u64::try_from(ns).unwrap_or(u64::MAX)
    }

    /// Whether the current bound (without `EARLY_READ_NS`) at `now.after`
    /// is below the clock read at or before it: the rate is not a bound.
    fn bound_below_clock(&self, now: Reading) -> bool {
        let Some(ticks) = now.after.checked_sub(self.anchor_tsc) else {
            return false;
        };
        self.anchor_ns.saturating_add(self.ns_in(ticks)) < now.ns
    }

    fn calibrate(&mut self, now: Reading) {
        let Some(first) = self.first else {
            self.first = Some(now);
            return;
        };
        let Some(measured) = Rate::between(first, now) else {
            return;
        };
        match self.rate {
            Some(rate) if !rate.agrees_with(&measured) => {
                // A jump between the readings: start again from this one.
                self.first = Some(now);
                self.rate = None;
                self.confirmed = false;
            }
            Some(_) => {
                // The longer span measures more closely.
                self.rate = Some(measured);
                self.confirmed = true;
            }
            None => self.rate = Some(measured),
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

    /// A 2.5 GHz counter (0.4 ns per tick) until tick `change`, then
    /// `later` ns per tick; a clock read takes 40 ticks and reads the
    /// counter in the middle.
    struct Model {
        change: u64,
        later: f64,
    }

    const NS_PER_TICK: f64 = 0.4;

    impl Model {
        fn steady() -> Model {
            Model {
                change: u64::MAX,
                later: NS_PER_TICK,
            }
        }

        fn truth(&self, tick: u64) -> f64 {
            let early = tick.min(self.change);
            1e9 + early as f64 * NS_PER_TICK + (tick - early) as f64 * self.later
        }

        fn reading(&self, tick: u64) -> Reading {
            Reading {
                before: tick,
                after: tick + 40,
                ns: self.truth(tick + 20) as u64,
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

    /// Drives `c` over `m` as the ring would (a clock read wherever the
    /// bound is not used), checking every bound; returns how many were
    /// used.
    fn drive(c: &mut DeadlineClock, m: &Model, tick: &mut u64, steps: &[u64]) -> usize {
        let mut used = 0;
        for step in steps {
            for _ in 0..50 {
                *tick += step;
                match bound_at(c, *tick) {
                    Some(b) => {
                        used += 1;
                        let truth = m.truth(*tick);
                        assert!(b as f64 >= truth, "early at {tick}: {b} < {truth}");
                        let late = b as f64 - truth;
                        assert!(
                            late <= (LATENESS_NS - EARLY_READ_NS) as f64,
                            "late by {late}"
                        );
                    }
                    None => c.anchor(m.reading(*tick)),
                }
            }
        }
        used
    }

    /// A clock anchored at each of `ticks` in turn.
    fn anchored_at(m: &Model, ticks: &[u64]) -> DeadlineClock {
        let mut c = DeadlineClock::with_counter(true);
        for tick in ticks {
            c.anchor(m.reading(*tick));
        }
        c
    }

    const STEPS: [u64; 7] = [100, 500, 2_000, 10_000, 50_000, 200_000, 1_000_000];

    #[test]
    fn the_rate_is_bracketed() {
        let m = Model::steady();
        let r = Rate::between(m.reading(0), m.reading(1_000_000)).unwrap();
        let truth = (NS_PER_TICK * 4294967296.0) as u64;
        assert!(r.low <= truth && truth <= r.high, "{r:?} {truth}");
        // 40-tick brackets over a million ticks: within 0.01%.
        assert!(r.high - r.low < truth / 10_000, "{r:?}");
        assert_eq!(Rate::between(m.reading(0), m.reading(30)), None);
    }

    #[test]
    fn the_bound_waits_for_two_measurements_that_agree() {
        let m = Model::steady();
        let mut c = DeadlineClock::with_counter(true);
        c.anchor(m.reading(0));
        assert_eq!(c.reach, 0, "one reading measures nothing");
        c.anchor(m.reading(10_000));
        assert_eq!(c.reach, 0, "one measurement is not confirmed");
        c.anchor(m.reading(20_000));
        assert!(c.reach > 0);
    }

    #[test]
    fn bounds_are_never_below_the_clock_and_at_most_the_lateness_above() {
        let mut c = DeadlineClock::with_counter(true);
        let used = drive(&mut c, &Model::steady(), &mut 0, &STEPS);
        assert!(used > 200, "the bound was used {used} times");
        assert!(c.reach as f64 * NS_PER_TICK <= MAX_REACH_NS as f64);
    }

    #[test]
    fn ntp_speeding_the_clock_up_keeps_bounds_above_it() {
        // Calibrated for 10 ms, then the clock runs 0.2% faster (NTP's
        // frequency and slew limits together, from one extreme to the
        // other): still never early, and the counter stays in use.
        let m = Model {
            change: 25_000_000,
            later: NS_PER_TICK * 1.002,
        };
        let mut c = DeadlineClock::with_counter(true);
        let mut tick = 0;
        drive(&mut c, &m, &mut tick, &STEPS);
        assert!(tick > m.change);
        let used = drive(&mut c, &m, &mut tick, &[100_000; 20]);
        assert!(!c.off && used > 900, "used {used}");
    }

    #[test]
    fn a_reading_interrupted_between_its_counter_reads_is_no_anchor() {
        let m = Model::steady();
        let mut c = anchored_at(&m, &[0, 100_000, 200_000]);
        assert!(c.reach > 0);
        // Preempted for 1 µs (2,500 ticks) between `before` and the clock.
        let mut r = m.reading(300_000);
        r.after += 2_500;
        r.ns = m.truth(302_500) as u64;
        c.anchor(r);
        assert_eq!(c.reach, 0);
        c.anchor(m.reading(400_000));
        assert!(c.reach > 0);
    }

    #[test]
    fn readings_that_are_always_slow_end_the_counters_use() {
        let m = Model::steady();
        let mut c = anchored_at(&m, &[0, 100_000, 200_000]);
        let slow = |tick: u64| Reading {
            before: tick,
            after: tick + 5_000,
            ns: m.truth(tick + 2_500) as u64,
        };
        // Now and then one is fine.
        for i in 0..(3 * u64::from(WIDE_READINGS_LIMIT)) {
            let tick = 300_000 + i * 100_000;
            if i % 8 == 7 {
                c.anchor(m.reading(tick));
            } else {
                c.anchor(slow(tick));
            }
        }
        assert!(!c.off);
        for i in 0..u64::from(WIDE_READINGS_LIMIT) {
            c.anchor(slow(10_000_000 + i * 100_000));
        }
        assert!(c.off && c.reach == 0);
    }

    #[test]
    fn a_suspend_between_readings_starts_the_calibration_again() {
        let m = Model::steady();
        let mut c = anchored_at(&m, &[0, 100_000, 200_000, 300_000]);
        assert!(c.confirmed && c.reach > 0);
        // The counter ran 10 s on while the clock stood still.
        let mut r = m.reading(400_000 + 25_000_000_000);
        r.ns = m.reading(400_000).ns;
        let first = c.first.unwrap();
        c.anchor(r);
        assert!(!c.off);
        assert!(!c.confirmed && c.reach == 0);
        assert_ne!(c.first, Some(first));
    }

    #[test]
    fn a_bound_found_below_the_clock_ends_the_counters_use() {
        let m = Model::steady();
        let mut c = anchored_at(&m, &[0, 100_000, 200_000, 300_000]);
        assert!(c.reach > 0);
        // The clock ran 1% faster than the counter says since the anchor.
        let mut r = m.reading(300_000 + c.reach);
        r.ns += (c.reach as f64 * NS_PER_TICK / 100.0) as u64;
        c.anchor(r);
        assert!(c.off && c.reach == 0);
        let before = now_ns(libc::CLOCK_MONOTONIC);
        let mono = c.monotonic();
        assert!(before <= mono && mono <= now_ns(libc::CLOCK_MONOTONIC));
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
        assert_eq!(used, tsc::drives_monotonic());
        assert!(!c.off);
    }
}
