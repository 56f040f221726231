#!/usr/bin/env bash
# Runs every evfd fuzz target for FUZZ_SECONDS (default 60) each, with the
# corpus kept in fuzz/corpus/<target> and crashes in fuzz/artifacts/<target>.
# Stable Rust only here: RUSTC_BOOTSTRAP=1 lets cargo-fuzz use the nightly
# flags (-Zsanitizer=address, sancov) it needs. Installs cargo-fuzz once if
# missing (about 45 s on 2 cores). Exits non-zero on the first crash.
#
#   FUZZ_SECONDS=600 fuzz/run-short.sh            # longer run
#   FUZZ_TARGETS="sequence" fuzz/run-short.sh     # one target
set -euo pipefail
cd "$(dirname "$0")"
seconds=${FUZZ_SECONDS:-60}
targets=${FUZZ_TARGETS:-"signalfd timerfd eventfd sequence ring"}
export RUSTC_BOOTSTRAP=1
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked --version 0.13.2
cargo fuzz build
for target in $targets; do
    mkdir -p "corpus/$target" "artifacts/$target"
    # The seeds checked in under seeds/<target> (regression inputs) always
    # run first; the corpus grows in corpus/ (not committed).
    dirs=("corpus/$target")
    [ -d "seeds/$target" ] && dirs+=("seeds/$target")
    echo "=== fuzz $target for ${seconds}s"
    log=$(mktemp)
    status=0
    cargo fuzz run "$target" "${dirs[@]}" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 >"$log" 2>&1 || status=$?
    grep -E '^(Done|stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb))|INITED|DONE' "$log" || true
    if [ "$status" -ne 0 ]; then
        tail -n 80 "$log"
        echo "fuzz target $target failed (exit $status); the input is in fuzz/artifacts/$target"
        exit 1
    fi
    rm -f "$log"
done
