// SPDX-License-Identifier: MIT OR Apache-2.0
//! The ring's sources and their indexes: a slab of sources addressed by
//! tokens (the value the kernel carries back in each completion), an index
//! by `udata` (several sources may share one: see `siblings`) and an index
//! by fd. Adding, finding and removing are O(1); nothing scans the sources.
//!
//! A token is the slot's index in the low 32 bits and the slot's
//! generation in the high 32 bits, so a completion that arrives for a
//! source already removed (its slot freed, perhaps reused) names a token
//! that no longer matches and is ignored. Generations start at 1: tokens
//! below 2^32 are the ring's own internal sources (see `engine`).

use super::fd_reads::Reader;
use super::siblings::{Siblings, NONE};
use super::timer_heap::{Positions, NOT_ARMED};
use super::timers::{TimerSlots, TimerSpec};
use super::udata_index::UdataIndex;
use crate::errno::Errno;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::os::fd::RawFd;

pub type Token = u64;

/// What a source watches. Eight bytes (the poll mask fits in 16 bits, a
/// signal number in 8, a timer's period lives in `Timers`), so a slot is
/// 24 bytes: a thousand timers touch six pages of slab.
pub enum SourceKind {
    Fd {
        fd: RawFd,
        /// The poll events watched (`POLL_BITS`, all below 2^16).
        events: u16,
        reader: Reader,
    },
    Signal {
        signo: u8,
    },
    Timer(TimerSpec),
    Futex,
}

const _: () = assert!(core::mem::size_of::<Slot>() == 24);

pub struct Source {
    pub udata: u64,
    pub kind: SourceKind,
}

/// In a udata index entry: the udata has several sources, listed in
/// `siblings` from the slot the entry names. Slots are below this.
const SHARED: u32 = 1 << 31;

/// Sources the slab has room for from the start: 1.5 MiB of address
/// space, which malloc maps on its own (above its mmap threshold), so
/// pages are only committed as slots are used and growing past it moves
/// the mapping (mremap) instead of copying. With 4,096 slots of 24 bytes
/// the slab sat below the threshold, on the brk heap, and growing past it
/// copied it (10,000 timers: more faults than with 32-byte slots).
const RESERVED_SOURCES: usize = 1 << 16;

struct Slot {
    generation: u32,
    /// A free slot: the next free slot (`NONE`: the last). A timer's: its
    /// position in its clock's heap (`NOT_ARMED`: none), kept here rather
    /// than in an array beside the slab so that a timer costs no more
    /// memory than its slot, heap entry and udata index entry.
    link: u32,
    source: Option<Source>,
}

/// A hash for the integer keys of the ring's private tables (udatas, fds,
/// tokens), shaped for the way hashbrown uses a hash: the low bits pick the
/// bucket, the top 7 bits are the tag it compares first. The low bits are
/// the key folded onto itself, so keys that are consecutive or evenly
/// spaced (indexes, fds, pointers to an array of structs) land in
/// neighbouring buckets and a run of inserts or lookups stays in cache; the
/// tag comes from a multiplication, so it still tells keys apart. The
/// tables are private to one ring and every key is the caller's own, so
/// flooding resistance (SipHash's point) buys nothing here.
#[derive(Default)]
pub struct IntHasher(u64);

const TAG_BITS: u64 = 0xfe00_0000_0000_0000;

impl Hasher for IntHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(self.0.rotate_left(8) ^ u64::from(*b));
        }
    }
    fn write_u64(&mut self, n: u64) {
        let low = n ^ (n >> 7) ^ (n >> 23);
        let tag = n.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        self.0 = (low & !TAG_BITS) | (tag & TAG_BITS);
    }
    fn write_i32(&mut self, n: i32) {
        self.write_u64(u64::from(n.unsigned_abs()) ^ u64::from(n < 0) << 40);
    }
}

pub type IntMap<K, V> = HashMap<K, V, BuildHasherDefault<IntHasher>>;

pub struct Sources {
    slots: Vec<Slot>,
    free: u32,
    /// Per udata: the slot of its source, or `SHARED` | the first slot of
    /// its list in `siblings`.
    by_udata: UdataIndex,
    siblings: Siblings,
    by_fd: IntMap<RawFd, Token>,
    count: usize,
}

fn index_of(token: Token) -> usize {
    (token & 0xffff_ffff) as usize
}

fn generation_of(token: Token) -> u32 {
    (token >> 32) as u32
}

impl Sources {
    pub fn new() -> Result<Sources, Errno> {
        Ok(Sources {
            free: NONE,
            // Address space for the first sources, so that growing to a
            // few thousand neither copies the slab nor faults it in twice
            // (see `Timers::new`).
            slots: Vec::with_capacity(RESERVED_SOURCES),
            by_udata: UdataIndex::new()?,
            siblings: Siblings::default(),
            by_fd: IntMap::default(),
            count: 0,
        })
    }

    /// How many sources are registered.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.count
    }

    /// Registers a source; returns its token. `ENOMEM` past 2^31 - 2
    /// sources. Always inlined: in a timer's add its call and the spills
    /// around it were ~25 of ~290 instructions.
    #[inline(always)]
    pub fn insert(&mut self, udata: u64, kind: SourceKind) -> Result<Token, Errno> {
        let fd = match kind {
            SourceKind::Fd { fd, .. } => Some(fd),
            _ => None,
        };
        self.by_udata.reserve(udata)?;
        if fd.is_some() {
            self.by_fd.try_reserve(1).map_err(|_| Errno::ENOMEM)?;
        }
        let index = match self.free {
            NONE => self.new_free_slot()?,
            free => free,
        };
        let before = self.by_udata.get(udata);
        if let Some(entry) = before {
            self.siblings.reserve(index.max(entry & !SHARED))?;
        }
        // Nothing fails from here on.
        let slot = self.slots.get_mut(index as usize).ok_or(Errno::ENOMEM)?;
        self.free = slot.link;
        slot.link = NOT_ARMED;
        slot.source = Some(Source { udata, kind });
        let token = u64::from(slot.generation) << 32 | u64::from(index);
        match before {
            None => {
                self.by_udata.set(udata, index);
            }
            Some(entry) => {
                // The new source becomes the first of its udata's list.
                let head = entry & !SHARED;
                if entry & SHARED == 0 {
                    self.siblings.start(head);
                }
                self.siblings.push_front(index, head);
                self.by_udata.set(udata, index | SHARED);
            }
        }
        if let Some(fd) = fd {
            self.by_fd.insert(fd, token);
        }
        self.count = self.count.saturating_add(1);
        Ok(token)
    }

    fn source_at(&self, index: u32) -> Option<&Source> {
        self.slots.get(index as usize)?.source.as_ref()
    }

    fn source_at_mut(&mut self, index: u32) -> Option<&mut Source> {
        self.slots.get_mut(index as usize)?.source.as_mut()
    }

    /// Appends a slot to the slab and to the free list; returns its index.
    #[cold]
    fn new_free_slot(&mut self) -> Result<u32, Errno> {
        let index = u32::try_from(self.slots.len())
            .ok()
            // Below SHARED - 1: a shared entry (SHARED | slot) must stay
            // below u32::MAX, which the udata index cannot store.
            .filter(|i| *i < SHARED - 1)
            .ok_or(Errno::ENOMEM)?;
        self.slots.try_reserve(1).map_err(|_| Errno::ENOMEM)?;
        self.slots.push(Slot {
            generation: 1,
            link: NONE,
            source: None,
        });
        self.free = index;
        Ok(index)
    }

    #[inline]
    fn token_at(&self, index: u32) -> Option<Token> {
        let slot = self.slots.get(index as usize)?;
        slot.source
            .as_ref()
            .map(|_| u64::from(slot.generation) << 32 | u64::from(index))
    }

    /// The source `token` names, if it is still registered.
    pub fn get(&self, token: Token) -> Option<&Source> {
        let slot = self.slots.get(index_of(token))?;
        if slot.generation != generation_of(token) {
            return None;
        }
        slot.source.as_ref()
    }

    pub fn get_mut(&mut self, token: Token) -> Option<&mut Source> {
        let slot = self.slots.get_mut(index_of(token))?;
        if slot.generation != generation_of(token) {
            return None;
        }
        slot.source.as_mut()
    }

    /// The slot index of a live token (timers keep per-slot state).
    pub fn slot_of(token: Token) -> u32 {
        (token & 0xffff_ffff) as u32
    }

    /// The live token of slot `index`.
    pub fn token_of_slot(&self, index: u32) -> Option<Token> {
        self.token_at(index)
    }

    /// Unregisters the source `token` names; returns it.
    pub fn remove(&mut self, token: Token) -> Option<Source> {
        let index = Sources::slot_of(token);
        let slot = self.slots.get_mut(index_of(token))?;
        if slot.generation != generation_of(token) {
            return None;
        }
        let source = slot.source.take()?;
        slot.generation = match slot.generation.wrapping_add(1) {
            0 => 1,
            g => g,
        };
        slot.link = self.free;
        self.free = index;
        self.count = self.count.saturating_sub(1);
        match self.by_udata.get(source.udata) {
            Some(entry) if entry & SHARED != 0 => {
                let head = self.siblings.unlink(index, entry & !SHARED);
                if self.siblings.alone(head) {
                    self.by_udata.set(source.udata, head);
                } else {
                    self.by_udata.set(source.udata, head | SHARED);
                }
            }
            _ => self.by_udata.remove(source.udata),
        }
        if let SourceKind::Fd { fd, .. } = source.kind {
            if self.by_fd.get(&fd) == Some(&token) {
                self.by_fd.remove(&fd);
            }
        }
        Some(source)
    }

    /// Every token registered with `udata`, newest first, into `out`.
    pub fn tokens_of(&self, udata: u64, out: &mut Vec<Token>) {
        out.clear();
        let Some(entry) = self.by_udata.get(udata) else {
            return;
        };
        if entry & SHARED == 0 {
            out.extend(self.token_at(entry));
            return;
        }
        let mut index = entry & !SHARED;
        // A list holds at most every source once.
        for _ in 0..self.count {
            let Some(token) = self.token_at(index) else {
                break;
            };
            out.push(token);
            index = self.siblings.next(index);
        }
    }

    /// The token of the one source registered with `udata`, if exactly
    /// one is.
    #[inline]
    pub fn sole_token_of(&self, udata: u64) -> Option<Token> {
        let entry = self.by_udata.get(udata)?;
        if entry & SHARED != 0 {
            return None;
        }
        self.token_at(entry)
    }

    /// Whether any source has `udata`.
    #[cfg(test)]
    pub fn has_udata(&self, udata: u64) -> bool {
        self.by_udata.get(udata).is_some()
    }

    /// The source watching `fd`, if any.
    pub fn by_fd(&self, fd: RawFd) -> Option<Token> {
        self.by_fd.get(&fd).copied()
    }

    /// Makes `fd` name `token`'s source again (after a newer source on the
    /// same number was taken back). The entry was just removed, so the
    /// index has room.
    pub fn point_fd(&mut self, fd: RawFd, token: Token) {
        self.by_fd.insert(fd, token);
    }
}

/// A timer's heap position lives in its slot (see `Slot::link`). Only an
/// occupied slot has one: the engine takes a timer out of its heap before
/// its slot is freed (a one-shot timer leaves the heap when it fires), so
/// the heaps never name a free slot. `set_position` relies on that instead
/// of checking it on every level of every sift (were it broken, a free
/// slot's link would be overwritten: wrong, but every access stays
/// checked).
impl Positions for Sources {
    #[inline]
    fn position(&self, slot: u32) -> u32 {
        match self.slots.get(slot as usize) {
            Some(s) if s.source.is_some() => s.link,
            _ => NOT_ARMED,
        }
    }

    #[inline]
    fn set_position(&mut self, slot: u32, at: u32) {
        if let Some(s) = self.slots.get_mut(slot as usize) {
            s.link = at;
        }
    }
}

impl TimerSlots for Sources {
    fn real_deadline(&self, slot: u32, key: u64) -> u64 {
        match self.source_at(slot).map(|s| &s.kind) {
            Some(SourceKind::Timer(spec)) => spec.deadline_from(key),
            _ => key,
        }
    }

    fn set_real_deadline(&mut self, slot: u32, at: u64) {
        if let Some(SourceKind::Timer(spec)) = self.source_at_mut(slot).map(|s| &mut s.kind) {
            spec.set_deadline(at);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn udata_lists_and_stale_tokens() {
        let mut s = Sources::new().unwrap();
        let a = s.insert(7, SourceKind::Futex).unwrap();
        let b = s.insert(7, SourceKind::Futex).unwrap();
        let c = s.insert(8, SourceKind::Futex).unwrap();
        let mut out = Vec::new();
        s.tokens_of(7, &mut out);
        assert_eq!(out, vec![b, a]);
        assert!(s.remove(b).is_some());
        assert!(s.get(b).is_none(), "a removed token is stale");
        s.tokens_of(7, &mut out);
        assert_eq!(out, vec![a]);
        let d = s.insert(9, SourceKind::Futex).unwrap();
        assert_ne!(d, b, "a reused slot gets a new generation");
        assert!(s.get(b).is_none());
        assert!(s.remove(a).is_some());
        assert!(!s.has_udata(7));
        assert_eq!(s.len(), 2);
        assert!(s.get(c).is_some());
    }

    #[test]
    fn shared_udata_back_to_one_and_shared_again() {
        let mut s = Sources::new().unwrap();
        let a = s.insert(7, SourceKind::Futex).unwrap();
        assert_eq!(s.sole_token_of(7), Some(a));
        let b = s.insert(7, SourceKind::Futex).unwrap();
        let c = s.insert(7, SourceKind::Futex).unwrap();
        assert_eq!(s.sole_token_of(7), None, "three share 7");
        let mut out = Vec::new();
        s.tokens_of(7, &mut out);
        assert_eq!(out, vec![c, b, a]);
        // The middle one, then the first: the last is alone again.
        s.remove(b).unwrap();
        s.tokens_of(7, &mut out);
        assert_eq!(out, vec![c, a]);
        s.remove(c).unwrap();
        assert_eq!(s.sole_token_of(7), Some(a));
        s.tokens_of(7, &mut out);
        assert_eq!(out, vec![a]);
        // Shared again, through a reused slot; removing the last-added
        // leaves the first alone.
        let d = s.insert(7, SourceKind::Futex).unwrap();
        s.tokens_of(7, &mut out);
        assert_eq!(out, vec![d, a]);
        s.remove(a).unwrap();
        assert_eq!(s.sole_token_of(7), Some(d));
        s.remove(d).unwrap();
        assert!(!s.has_udata(7));
        assert_eq!(s.len(), 0);
    }

    #[test]
    fn fd_index() {
        let mut s = Sources::new().unwrap();
        let reader = Reader::None;
        let t = s
            .insert(
                1,
                SourceKind::Fd {
                    fd: 5,
                    events: 1,
                    reader,
                },
            )
            .unwrap();
        assert_eq!(s.by_fd(5), Some(t));
        s.remove(t);
        assert_eq!(s.by_fd(5), None);
    }
}
