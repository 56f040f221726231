// SPDX-License-Identifier: MIT OR Apache-2.0
//! The library's own version at run time (the header's `EVFD_VERSION_*`
//! macros give the version a program was compiled against).

use super::boundary::{c_call, Reclaim};
use libc::c_char;

/// Cargo.toml's version, NUL-terminated: the one source of every version.
const VERSION: &[u8] = concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes();

/// Returns the version of the evfd library the program runs with, as
/// "MAJOR.MINOR.PATCH"; compare it with `EVFD_VERSION_STRING`, the version
/// of the header the program was compiled with. The string is static: never
/// free or modify it. Never fails, sets no errno; safe from any thread and
/// from a signal handler.
#[no_mangle]
pub extern "C" fn evfd_version() -> *const c_char {
    c_call(Reclaim::Yes, || Ok(VERSION.as_ptr().cast()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
    #[test]
    fn version_is_nul_terminated_and_cargo_s() {
        let v = super::VERSION;
        assert_eq!(v.last(), Some(&0));
        assert_eq!(&v[..v.len() - 1], env!("CARGO_PKG_VERSION").as_bytes());
    }
}
