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
}

impl Direct {
    const BYTES: usize = (DIRECT_LIMIT as usize).saturating_mul(core::mem::size_of::<u32>());

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
        Ok(Direct { table: p.cast() })
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
}
