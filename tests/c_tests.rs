// SPDX-License-Identifier: MIT OR Apache-2.0
//! Every C program in `c-tests/` compiled against the freshly built
//! `libevfd.so` and run; one `#[test]` each (listed by build.rs).

mod support;
use support::run_c_test;

include!(concat!(env!("OUT_DIR"), "/c_tests.rs"));
