#!/usr/bin/env bash
# SPDX-License-Identifier: MIT OR Apache-2.0
# The ABI baseline: abi/libevfd.abi (abidw's description of the C interface,
# taken from the public headers) and abi/libevfd0.symbols (Debian's symbols
# file: every exported name with the version that added it).
#
#   abi/check.sh check  LIB VERSION   fail if the headers' ABI or LIB's exports
#                                     differ from the baseline (make abi-check)
#   abi/check.sh update LIB VERSION   accept the current ABI as the baseline
#                                     (make abi-update); new names get VERSION
#
# libabigail cannot read Rust's debug information (abidw on libevfd.so sees
# functions without parameters), so the description comes from a C stub
# library with the headers' own prototypes (abi/stub.py), built with -g.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=$1 lib=$2 version=$3
major=${version%%.*}
work=${ABI_WORK:-target/abi}
baseline=abi/libevfd.abi
symbols=abi/libevfd${major}.symbols

for tool in abidw abidiff python3 nm; do
    command -v "$tool" >/dev/null || { echo "abi: $tool is missing (Debian: apt-get install abigail-tools python3 binutils)" >&2; exit 2; }
done
[ -f "$lib" ] || { echo "abi: $lib is not built: run make first" >&2; exit 2; }

mkdir -p "$work"
python3 abi/stub.py include/evfd.h include/evfd/proposed.h > "$work/stub.c"
${CC:-cc} -std=c11 -g -O0 -fPIC -shared -Iinclude "$work/stub.c" \
    -Wl,-soname,"libevfd.so.$major" -o "$work/libevfd-stub.so"
# No locations and no paths: moving a prototype in the header or building
# in another directory is not an ABI change.
abidw --no-corpus-path --no-comp-dir-path --no-show-locs \
    --out-file "$work/libevfd.abi" "$work/libevfd-stub.so"
nm -D --defined-only "$lib" | awk '{print $3}' | sort > "$work/exports"

# The symbols file for VERSION: names kept with the version that added
# them, new names with VERSION, removed names dropped.
{
    echo "libevfd.so.$major libevfd$major #MINVER#"
    echo "* Build-Depends-Package: libevfd-dev"
    while read -r name; do
        old=$(sed -n "s/^ $name@Base \(.*\)/\1/p" "$symbols" 2>/dev/null || true)
        echo " $name@Base ${old:-$version}"
    done < "$work/exports"
} > "$work/symbols"

case $mode in
update)
    cp "$work/libevfd.abi" "$baseline"
    cp "$work/symbols" "$symbols"
    echo "abi: $baseline and $symbols now describe evfd $version; review and commit them"
    ;;
check)
    status=0
    if [ ! -f "$baseline" ] || [ ! -f "$symbols" ]; then
        echo "abi: no baseline in abi/: run make abi-update" >&2
        exit 1
    fi
    if ! abidiff --no-show-locs "$baseline" "$work/libevfd.abi" > "$work/abidiff.txt" 2>&1; then
        cat "$work/abidiff.txt"
        echo "abi: the ABI of <evfd.h> differs from $baseline (abidiff above)." >&2
        status=1
    fi
    if ! diff -u "$symbols" "$work/symbols" > "$work/symbols.diff"; then
        cat "$work/symbols.diff"
        echo "abi: the exports of $lib differ from $symbols (diff above)." >&2
        status=1
    fi
    if [ $status != 0 ]; then
        cat >&2 <<MSG
abi: if the change is intended, accept it with \`make abi-update\` and commit
abi/. Adding a function is compatible (a minor version); changing or removing
anything a compiled program uses is not: it needs a new major version (and
so a new soname), see the README's "Versions and the soname".
MSG
        exit 1
    fi
    echo "abi: $(grep -c '@Base' "$symbols") symbols, ABI unchanged since the baseline"
    ;;
*) echo "usage: $0 check|update LIB VERSION" >&2; exit 2 ;;
esac
