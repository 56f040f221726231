#!/bin/sh
# SPDX-License-Identifier: MIT OR Apache-2.0
# Prints the -D switches for the benchmarks (see bench/bench.h): which of
# the later evfd features this tree declares in include/evfd.h and, for the
# unprefixed `signalfd`, which the built library ($1) really exports.
# Used by `make bench` and by tests/bench_builds.rs, so both agree.
header=${EVFD_HEADER:-include/evfd.h}
lib=$1
defs=""
grep -q 'evfd_eventfs_signalfd' "$header" && defs="$defs -DEVFD_HAVE_EVENTFS"
grep -q 'evfd_ring_new' "$header" && grep -q 'evfd_ring_add_signal' "$header" \
    && grep -q 'evfd_ring_add_timer' "$header" && defs="$defs -DEVFD_HAVE_RING"
if [ -n "$lib" ] && nm -D --defined-only "$lib" 2>/dev/null \
    | awk '{print $3}' | grep -qx 'signalfd'; then
    defs="$defs -DEVFD_HAVE_UNPREFIXED"
fi
echo "$defs"
