// SPDX-License-Identifier: MIT OR Apache-2.0
//! The exported `signalfd` (glibc flags, 2007 masksize, neither) and
//! `timerfd` against descriptors of every kind (see fuzz/src/lib.rs).
#![no_main]
use evfd_fuzz::{run, UNPREFIXED_OPS};

libfuzzer_sys::fuzz_target!(|data: &[u8]| run(data, UNPREFIXED_OPS));
