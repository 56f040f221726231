// SPDX-License-Identifier: MIT OR Apache-2.0
//! The index from a caller's `udata` to the newest source registered with
//! it. C programs mostly use small integers (array indexes, ids) or
//! pointers as udatas. Small ones, below [`DIRECT_LIMIT`], go in a table
//! indexed by the udata itself, as libev indexes its fd table: one load or
//! store, no hashing, no probing, and a run of consecutive udatas touches
//! consecutive memory. The table is one anonymous mapping made with the
//! ring and reserved, not committed: only the pages holding udatas in use
//! take memory (4 KiB per 1,024 udatas). Every other udata goes in a hash
//! map.

use super::sources::IntMap;
use crate::errno::Errno;

/// Udatas below this are indexed directly (4 MiB of address space).
const DIRECT_LIMIT: u64 = 1 << 20;

/// `index + 1` per udata; 0 is "none", which is what a fresh page holds.
struct Direct {
    table: *mut u32,
    /// One bit per page of `table`: written to. A page's first access
    /// decides its first fault: a read maps the shared zero page and the
    /// write that follows faults again to replace it, so `reserve` writes
    /// an entry of a page it has not written yet before `get` reads it
    /// (one fault per page instead of two, ~1.2 µs saved per 1,024 new
    /// small udatas here).
    written: [u64; Direct::PAGES / 64],
}

impl Direct {
    const BYTES: usize = (DIRECT_LIMIT as usize).saturating_mul(core::mem::size_of::<u32>());
    /// Entries per 4 KiB page.
    const PER_PAGE_SHIFT: u32 = 10;
    const PAGES: usize = (DIRECT_LIMIT >> Direct::PER_PAGE_SHIFT) as usize;

    fn new() -> Result<Direct, Errno> {
        // SAFETY: a fresh private anonymous mapping; no existing memory is
        // touched. MAP_NORESERVE: pages are committed when first written.
        let p = unsafe {
            libc::mmap(
                core::ptr::null_mut(),
                Direct::BYTES,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(Errno::ENOMEM);
        }
        Ok(Direct {
            table: p.cast(),
            written: [0; Direct::PAGES / 64],
        })
    }

    /// The word of `written` and the bit for `udata`'s page.
    fn page_bit(udata: u64) -> (usize, u64) {
        let page = (udata >> Direct::PER_PAGE_SHIFT) as usize;
        (page / 64, 1u64 << (page % 64))
    }

    /// Writes `udata`'s entry first if its page was never written (see
    /// `written`); its value stays what it is (0 in such a page).
    fn touch_for_write(&mut self, udata: u64) {
        let (word, bit) = Direct::page_bit(udata);
        let Some(p) = self.slot(udata) else {
            return;
        };
        let Some(w) = self.written.get_mut(word) else {
            return;
        };
        if *w & bit == 0 {
            // SAFETY: a valid entry of our mapping, in a page never written
            // (`set` marks every page it writes): it holds 0 (a fresh page,
            // or the zero page after a read). Volatile, so that it is not
            // merged into the store `set` makes after `get` reads the entry.
            unsafe { p.write_volatile(0) };
            *w |= bit;
        }
    }

    /// Records that `udata`'s page holds a written entry.
    fn mark_written(&mut self, udata: u64) {
        let (word, bit) = Direct::page_bit(udata);
        if let Some(w) = self.written.get_mut(word) {
            *w |= bit;
        }
    }

    fn slot(&self, udata: u64) -> Option<*mut u32> {
        let i = usize::try_from(udata)
            .ok()
            .filter(|i| (*i as u64) < DIRECT_LIMIT)?;
        // SAFETY: `i` < DIRECT_LIMIT, so the entry lies inside the mapping.
        Some(unsafe { self.table.add(i) })
    }
}

impl Drop for Direct {
    fn drop(&mut self) {
        // SAFETY: our own mapping, with the size it was made with.
        unsafe { libc::munmap(self.table.cast(), Direct::BYTES) };
    }
}

pub struct UdataIndex {
    direct: Direct,
    map: IntMap<u64, u32>,
}

impl UdataIndex {
    pub fn new() -> Result<UdataIndex, Errno> {
        Ok(UdataIndex {
            direct: Direct::new()?,
            map: IntMap::default(),
        })
    }

    /// Makes room for one more entry, so `set` cannot fail after it.
    pub fn reserve(&mut self, udata: u64) -> Result<(), Errno> {
        if udata < DIRECT_LIMIT {
            self.direct.touch_for_write(udata);
            return Ok(());
        }
        self.map.try_reserve(1).map_err(|_| Errno::ENOMEM)
    }

    pub fn get(&self, udata: u64) -> Option<u32> {
        match self.direct.slot(udata) {
            // SAFETY: a valid entry of our mapping; only this (consumer)
            // thread touches the index.
            Some(p) => unsafe { *p }.checked_sub(1),
            None if udata < DIRECT_LIMIT => None,
            None => self.map.get(&udata).copied(),
        }
    }

    /// Points `udata` at `index`; returns what it pointed at before.
    /// `reserve` first.
    pub fn set(&mut self, udata: u64, index: u32) -> Option<u32> {
        match self.direct.slot(udata) {
            Some(p) => {
                // SAFETY: as in `get`.
                let old = unsafe { p.replace(index.saturating_add(1)) };
                self.direct.mark_written(udata);
                old.checked_sub(1)
            }
            None => self.map.insert(udata, index),
        }
    }

    pub fn remove(&mut self, udata: u64) {
        match self.direct.slot(udata) {
            // SAFETY: as in `get`.
            Some(p) => unsafe { p.write(0) },
            None => {
                self.map.remove(&udata);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn small_and_large_udatas() {
        let mut ix = UdataIndex::new().unwrap();
        for u in [0u64, 1, 5, DIRECT_LIMIT - 1, DIRECT_LIMIT, u64::MAX] {
            assert_eq!(ix.get(u), None);
            ix.reserve(u).unwrap();
            assert_eq!(ix.set(u, 7), None);
            assert_eq!(ix.get(u), Some(7));
            assert_eq!(ix.set(u, 9), Some(7));
            ix.remove(u);
            assert_eq!(ix.get(u), None);
        }
    }

    /// This thread's minor page faults so far.
    fn minor_faults() -> i64 {
        // SAFETY: getrusage fills the struct it is given.
        let mut ru: libc::rusage = unsafe { core::mem::zeroed() };
        // SAFETY: as above; RUSAGE_THREAD counts only the calling thread.
        assert_eq!(unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut ru) }, 0);
        ru.ru_minflt
    }

    /// What `Sources::insert` does with the index.
    fn insert(ix: &mut UdataIndex, udata: u64) {
        ix.reserve(udata).unwrap();
        assert_eq!(ix.get(udata), None);
        assert_eq!(ix.set(udata, 1), None);
    }

    #[test]
    fn a_new_page_of_udatas_faults_once() {
        let mut ix = UdataIndex::new().unwrap();
        insert(&mut ix, 1); // the code's and the stack's first touches
        let before = minor_faults();
        insert(&mut ix, 5 * 1024);
        // One write fault (none where a transparent huge page already
        // covers it); reading before writing made it two.
        let faults = minor_faults() - before;
        assert!(faults <= 1, "{faults} faults");
    }

    #[test]
    fn reserving_never_clears_an_entry() {
        let mut ix = UdataIndex::new().unwrap();
        // Read first (the zero page), then reserved and set: one write.
        assert_eq!(ix.get(3000), None);
        ix.reserve(3000).unwrap();
        assert_eq!(ix.set(3000, 7), None);
        // Set in a page no `reserve` has seen, then reserved: kept.
        assert_eq!(ix.set(9000, 4), None);
        ix.reserve(9000).unwrap();
        assert_eq!(ix.get(9000), Some(4));
        ix.reserve(3000).unwrap();
        assert_eq!(ix.get(3000), Some(7));
    }
}
