// SPDX-License-Identifier: MIT OR Apache-2.0
//! The lists of sources that share one udata ("siblings"). Most udatas
//! name one source: the udata index points at its slot and no list exists.
//! Only once a second source is added under a udata do that udata's
//! sources get links here, so a source slot carries no list fields: a
//! slot is 24 bytes instead of 32, which is a quarter fewer pages to fault
//! in per thousand timers (bench/EXPERIMENTS.md, "slots without lists").
//!
//! The links are an array indexed by slot, grown to cover the highest slot
//! that has ever been in a list; an entry means something only while its
//! slot is in a list (the udata index says which udatas have one).

use crate::errno::Errno;

/// No slot: the end of a list.
pub const NONE: u32 = u32::MAX;

#[derive(Clone, Copy)]
struct Link {
    next: u32,
    prev: u32,
}

const UNLINKED: Link = Link {
    next: NONE,
    prev: NONE,
};

#[derive(Default)]
pub struct Siblings {
    links: Vec<Link>,
}

impl Siblings {
    /// Makes room for links of every slot up to `slot`, so that `start`
    /// and `push_front` cannot fail after it.
    pub fn reserve(&mut self, slot: u32) -> Result<(), Errno> {
        let need = (slot as usize).saturating_add(1);
        if self.links.len() < need {
            let len = need.max(self.links.len().saturating_mul(2)).max(16);
            self.links
                .try_reserve(len.saturating_sub(self.links.len()))
                .map_err(|_| Errno::ENOMEM)?;
            self.links.resize(len, UNLINKED);
        }
        Ok(())
    }

    /// Makes `slot` a list of one (the first source of a udata that is
    /// about to get a second).
    pub fn start(&mut self, slot: u32) {
        if let Some(l) = self.links.get_mut(slot as usize) {
            *l = UNLINKED;
        }
    }

    /// Puts `slot` in front of the list whose first slot is `head`.
    pub fn push_front(&mut self, slot: u32, head: u32) {
        if let Some(l) = self.links.get_mut(slot as usize) {
            *l = Link {
                next: head,
                prev: NONE,
            };
        }
        if let Some(l) = self.links.get_mut(head as usize) {
            l.prev = slot;
        }
    }

    /// The slot after `slot` in its list (`NONE`: the last).
    pub fn next(&self, slot: u32) -> u32 {
        self.links.get(slot as usize).map_or(NONE, |l| l.next)
    }

    /// Takes `slot` out of the list whose first slot is `head`; returns
    /// the list's first slot after that (`NONE`: the list is empty).
    pub fn unlink(&mut self, slot: u32, head: u32) -> u32 {
        let Some(link) = self.links.get(slot as usize).copied() else {
            return if slot == head { NONE } else { head };
        };
        if let Some(p) = self.links.get_mut(link.prev as usize) {
            p.next = link.next;
        }
        if let Some(n) = self.links.get_mut(link.next as usize) {
            n.prev = link.prev;
        }
        if let Some(l) = self.links.get_mut(slot as usize) {
            *l = UNLINKED;
        }
        if slot == head {
            link.next
        } else {
            head
        }
    }

    /// Whether `slot` is alone in its list.
    pub fn alone(&self, slot: u32) -> bool {
        self.links
            .get(slot as usize)
            .map_or(true, |l| l.next == NONE && l.prev == NONE)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn walk(s: &Siblings, head: u32) -> Vec<u32> {
        let mut out = Vec::new();
        let mut at = head;
        while at != NONE {
            out.push(at);
            at = s.next(at);
        }
        out
    }

    #[test]
    fn push_walk_unlink() {
        let mut s = Siblings::default();
        s.reserve(40).unwrap();
        s.start(3);
        s.push_front(40, 3);
        s.push_front(7, 40);
        assert_eq!(walk(&s, 7), vec![7, 40, 3]);
        // The middle, then the head, then the last.
        assert_eq!(s.unlink(40, 7), 7);
        assert_eq!(walk(&s, 7), vec![7, 3]);
        assert!(!s.alone(7));
        assert_eq!(s.unlink(7, 7), 3);
        assert_eq!(walk(&s, 3), vec![3]);
        assert!(s.alone(3));
        assert_eq!(s.unlink(3, 3), NONE);
        // A slot reused in a new list starts clean.
        s.start(40);
        s.push_front(3, 40);
        assert_eq!(walk(&s, 3), vec![3, 40]);
        assert_eq!(s.unlink(40, 3), 3);
        assert!(s.alone(3));
    }
}
