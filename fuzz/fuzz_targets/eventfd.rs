// SPDX-License-Identifier: MIT OR Apache-2.0
//! evfd_eventfd with decoded arguments against descriptors of every kind
//! (see fuzz/src/lib.rs for the checks).
#![no_main]
use evfd_fuzz::{run, Op};

libfuzzer_sys::fuzz_target!(|data: &[u8]| run(data, &[Op::Make, Op::Eventfd, Op::Close, Op::Read]));
