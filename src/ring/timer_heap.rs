// SPDX-License-Identifier: MIT OR Apache-2.0
//! One clock's timers: a 4-ary min-heap of (deadline, source slot)
//! entries. Each timer's position is kept where [`Positions`] says (the
//! ring keeps it in the timer's source slot), so a timer can be re-armed or
//! removed in place.
//!
//! Sifting down is bottom-up (see [`Heap::sift_down`]); the deadline sits
//! beside the slot so sifting touches only the heap.

use crate::errno::Errno;

/// A heap entry: 12 bytes (a thousand timers fill three pages of heap,
/// not four). Packed, so its fields are only ever copied, never borrowed.
#[derive(Clone, Copy)]
#[repr(C, packed(4))]
pub struct Entry {
    pub deadline: u64,
    /// The source slot in the low 31 bits (slots are below 2^31); bit 31:
    /// whether the timer repeats (then its period is looked up when it
    /// fires; a one-shot timer is popped without touching its source).
    tag: u32,
}

const _: () = assert!(core::mem::size_of::<Entry>() == 12);

const PERIODIC: u32 = 1 << 31;

impl Entry {
    pub fn new(deadline: u64, slot: u32, periodic: bool) -> Entry {
        Entry {
            deadline,
            tag: (slot & !PERIODIC) | if periodic { PERIODIC } else { 0 },
        }
    }

    pub fn slot(self) -> u32 {
        self.tag & !PERIODIC
    }

    pub fn periodic(self) -> bool {
        self.tag & PERIODIC != 0
    }
}

/// The position of a slot whose timer is in no heap.
pub const NOT_ARMED: u32 = u32::MAX;

/// Where each timer's heap position is kept, by source slot.
pub trait Positions {
    /// The heap position of `slot`'s timer (`NOT_ARMED`: none).
    fn position(&self, slot: u32) -> u32;
    fn set_position(&mut self, slot: u32, at: u32);
}

#[cfg(test)]
impl Positions for Vec<u32> {
    fn position(&self, slot: u32) -> u32 {
        self.get(slot as usize).copied().unwrap_or(NOT_ARMED)
    }
    fn set_position(&mut self, slot: u32, at: u32) {
        if let Some(p) = self.get_mut(slot as usize) {
            *p = at;
        }
    }
}

#[derive(Default)]
pub struct Heap {
    entries: Vec<Entry>,
    /// The latest deadline pushed, moved to or noted (`note_later`) since
    /// the heap was last empty (0 then): an upper bound of every entry's
    /// key, and of whatever later deadline the owner keeps for an entry and
    /// notes here.
    latest: u64,
}

/// The index of the earliest entry.
pub const ROOT: usize = 0;

/// Heap index arithmetic. An index is below the entry count, itself below
/// `isize::MAX / 12` (entries are 12 bytes) and below 2^32 (one entry per
/// slot, slots are `u32`), so `4 * at + 4` cannot wrap and an index fits a
/// `u32`: the plain (wrapping) operations are exact here, and cheaper than
/// saturating ones on every level of every sift.
fn first_child_of(at: usize) -> usize {
    at.wrapping_mul(4).wrapping_add(1)
}

/// The parent of `at`; only asked for `at` > 0 (the root has none).
fn parent_of(at: usize) -> usize {
    at.wrapping_sub(1) / 4
}

impl Heap {
    /// A heap with room for `n` entries reserved (address space only).
    pub fn with_capacity(n: usize) -> Heap {
        Heap {
            entries: Vec::with_capacity(n),
            latest: 0,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entry at `at`, if `at` holds one.
    pub fn get(&self, at: usize) -> Option<Entry> {
        self.entries.get(at).copied()
    }

    /// The earliest entry.
    pub fn first(&self) -> Option<Entry> {
        self.entries.first().copied()
    }

    /// No key, nor any deadline noted with `note_later`, is past this.
    pub fn latest(&self) -> u64 {
        self.latest
    }

    /// Counts `deadline` into `latest`: the owner keeps it for an entry
    /// (a deadline later than the entry's key).
    pub fn note_later(&mut self, deadline: u64) {
        self.latest = self.latest.max(deadline);
    }

    /// Stores `entry` at `at` and records its position.
    fn set(&mut self, pos: &mut impl Positions, at: usize, entry: Entry) {
        if let Some(e) = self.entries.get_mut(at) {
            *e = entry;
        }
        // Positions are below the entry count, itself below 2^32.
        pos.set_position(entry.slot(), at as u32);
    }

    pub fn set_periodic(&mut self, at: usize, periodic: bool) {
        if let Some(e) = self.entries.get_mut(at) {
            *e = Entry::new(e.deadline, e.slot(), periodic);
        }
    }

    /// Makes room for `n` more entries, so that as many `push`es cannot
    /// fail after it.
    pub fn reserve(&mut self, n: usize) -> Result<(), Errno> {
        self.entries.try_reserve(n).map_err(|_| Errno::ENOMEM)
    }

    #[inline]
    pub fn push(&mut self, pos: &mut impl Positions, entry: Entry) -> Result<(), Errno> {
        self.entries.try_reserve(1).map_err(|_| Errno::ENOMEM)?;
        let at = self.entries.len();
        self.note_later(entry.deadline);
        self.entries.push(entry);
        self.sift_up(pos, at, entry);
        Ok(())
    }

    /// Moves the entry at `at` to `deadline`.
    #[inline]
    pub fn update(&mut self, pos: &mut impl Positions, at: usize, deadline: u64) {
        let Some(old) = self.get(at) else {
            return;
        };
        let entry = Entry { deadline, ..old };
        if deadline < old.deadline {
            self.sift_up(pos, at, entry);
        } else {
            self.note_later(deadline);
            self.sift_down(pos, at, entry);
        }
    }

    pub fn remove(&mut self, pos: &mut impl Positions, at: usize) {
        let Some(gone) = self.get(at) else {
            return;
        };
        pos.set_position(gone.slot(), NOT_ARMED);
        let Some(last) = self.entries.pop() else {
            return;
        };
        if self.entries.is_empty() {
            self.latest = 0;
        }
        if at < self.entries.len() {
            if last.deadline < gone.deadline {
                self.sift_up(pos, at, last);
            } else {
                self.sift_down(pos, at, last);
            }
        }
    }

    /// Places `entry` at `at` or above it.
    fn sift_up(&mut self, pos: &mut impl Positions, at: usize, entry: Entry) {
        self.sift_up_to(pos, at, entry, ROOT);
    }

    /// Places `entry` at `at` or above it, but not above `top`.
    fn sift_up_to(&mut self, pos: &mut impl Positions, mut at: usize, entry: Entry, top: usize) {
        while at > top {
            let parent = parent_of(at);
            let Some(p) = self.entries.get(parent).copied() else {
                break;
            };
            if p.deadline <= entry.deadline {
                break;
            }
            self.set(pos, at, p);
            at = parent;
        }
        self.set(pos, at, entry);
    }

    /// Places `entry` at `at` or below it. Bottom-up (Floyd): the hole at
    /// `at` first moves down to a leaf, always to its smallest child, with
    /// no comparison against `entry`; `entry` then moves up from there.
    /// An entry that sifts down (a popped heap's last entry, a timer moved
    /// later) nearly always belongs near the leaves, so this saves one of
    /// the five comparisons per level and the branch that mispredicts.
    fn sift_down(&mut self, pos: &mut impl Positions, at: usize, entry: Entry) {
        if at >= self.entries.len() {
            return;
        }
        let mut hole = at;
        loop {
            let first = first_child_of(hole);
            let entries = self.entries.as_mut_slice();
            let child_at = if first.wrapping_add(4) <= entries.len() {
                // Every node but the last parent has all four children, in
                // one line: the smallest of four without a loop or a
                // bounds check.
                // SAFETY: `first + 3 < len`, so all four are elements.
                let [a, b, c, d] = unsafe {
                    [0, 1, 2, 3].map(|i| entries.get_unchecked(first.wrapping_add(i)).deadline)
                };
                let (i, x) = if b < a { (1, b) } else { (0, a) };
                let (j, y) = if d < c { (3, d) } else { (2, c) };
                first.wrapping_add(if y < x { j } else { i })
            } else {
                match entries.get(first..).and_then(smallest_of) {
                    Some((k, _)) => first.wrapping_add(k),
                    None => break,
                }
            };
            // SAFETY: `child_at` is below the length (four children:
            // `first + 3 < len`; fewer: `smallest_of` found it among
            // `entries[first..]`), and `hole` too: `at` was checked against
            // the length above and every later `hole` was a `child_at`.
            let child = unsafe { *entries.get_unchecked(child_at) };
            // SAFETY: as above.
            unsafe { *entries.get_unchecked_mut(hole) = child };
            // Positions are below the entry count, itself below 2^32.
            pos.set_position(child.slot(), hole as u32);
            hole = child_at;
        }
        // `hole` is a leaf; `entry` moves up from it, but not above `at`.
        self.sift_up_to(pos, hole, entry, at);
    }

    /// Checks the heap order and that `pos` knows every entry's place.
    #[cfg(test)]
    #[allow(clippy::indexing_slicing)] // a test's assertions
    pub fn check(&self, pos: &impl Positions) {
        for (at, e) in self.entries.iter().enumerate() {
            assert_eq!(pos.position(e.slot()) as usize, at);
            if at > ROOT {
                assert!(self.entries[parent_of(at)].deadline <= e.deadline);
            }
        }
    }
}

/// The earliest of `children` (fewer than four: the last parent's) and
/// its index among them, if any.
fn smallest_of(children: &[Entry]) -> Option<(usize, Entry)> {
    let mut best: Option<(usize, Entry)> = None;
    for (i, c) in children.iter().take(4).enumerate() {
        if best.map_or(true, |(_, b)| c.deadline < b.deadline) {
            best = Some((i, *c));
        }
    }
    best
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects
    )]
    use super::*;

    #[test]
    fn entries_keep_slot_and_period_apart() {
        let top = (1u32 << 31) - 1;
        for (slot, periodic) in [(0, false), (0, true), (top, false), (top, true)] {
            let e = Entry::new(u64::MAX - 1, slot, periodic);
            assert_eq!(
                (e.slot(), e.periodic(), { e.deadline }),
                (slot, periodic, u64::MAX - 1)
            );
        }
    }

    #[test]
    fn children_find_their_parent() {
        for at in 0..10_000 {
            let first = first_child_of(at);
            for c in first..first + 4 {
                assert_eq!(parent_of(c), at);
            }
        }
    }

    #[test]
    fn push_update_remove_keep_order() {
        let mut h = Heap::default();
        let mut pos = vec![NOT_ARMED; 3000];
        let mut x: u64 = 99;
        let mut next = || {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            x >> 33
        };
        for slot in 0..3000u32 {
            h.push(&mut pos, Entry::new(next() % 5000, slot, false))
                .unwrap();
        }
        h.check(&pos);
        // Earlier and later moves, including to the extremes.
        for slot in (0..3000u32).step_by(5) {
            let d = match slot % 3 {
                0 => 0,
                1 => u64::MAX,
                _ => next() % 5000,
            };
            let at = pos[slot as usize] as usize;
            h.update(&mut pos, at, d);
        }
        h.check(&pos);
        for slot in (0..3000u32).step_by(7) {
            let at = pos[slot as usize] as usize;
            h.remove(&mut pos, at);
            assert_eq!(pos[slot as usize], NOT_ARMED);
        }
        h.check(&pos);
        let mut last = 0;
        while let Some(top) = h.first() {
            assert!(top.deadline >= last);
            last = top.deadline;
            h.remove(&mut pos, ROOT);
            h.check(&pos);
        }
        assert!(h.is_empty());
    }
}
