#!/bin/sh
# SPDX-License-Identifier: MIT OR Apache-2.0
# Builds the peer benchmarks (bench/peers/*.c) into $1 (a directory), against
# libevfd in $2 (the directory with libevfd.so). Installs the Debian -dev
# package a peer needs when it is missing and this is root (apt-get update
# first); a peer whose package cannot be had, or whose compile or link fails,
# is skipped with a message, and its name is written to $1/missing
# ("<impl> <reason>" per line). evfd and epoll need no outside library, so a
# failure to build either of them fails the script.
#
# Flags: -std=c11 -Wall -Wextra -pedantic, as the other benchmarks. The
# programs define _GNU_SOURCE themselves (CPU affinity, signalfd, eventfd);
# every peer's header compiles cleanly under -std=c11 -pedantic too.
set -u
out=$1
libdir=$2
CC=${CC:-cc}
CFLAGS="-std=c11 -Wall -Wextra -pedantic -O2 -g -Iinclude"
mkdir -p "$out"
: > "$out/missing"

# impl | Debian package | header | link flags
peers='libev|libev-dev|ev.h|-lev
libevent|libevent-dev|event2/event.h|-levent_core -levent_pthreads
libuv|libuv1-dev|uv.h|-luv
liburing|liburing-dev|liburing.h|-luring'

have_header() {
    printf '#include <%s>\nint main(void) { return 0; }\n' "$1" \
        | $CC -x c -std=gnu11 -fsyntax-only - 2>/dev/null
}

need=""
while IFS='|' read -r impl pkg header libs; do
    have_header "$header" || need="$need $pkg"
done <<EOF
$peers
EOF
if [ -n "$need" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "bench-peers: installing$need"
        { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need; } \
            >"$out/apt.log" 2>&1 || echo "bench-peers: apt-get failed (see $out/apt.log)"
    else
        echo "bench-peers: missing$need and not root: those peers are skipped"
    fi
fi

build() { # name, source, extra flags...
    name=$1 src=$2
    shift 2
    echo "$CC $CFLAGS $src -o $out/$name ... $*"
    $CC $CFLAGS "$src" -o "$out/$name" -L"$libdir" -Wl,-rpath,"$libdir" "$@" -lpthread
}

build evfd bench/peers/evfd.c -levfd -ldl || exit 1
build epoll bench/peers/epoll.c || exit 1
while IFS='|' read -r impl pkg header libs; do
    if ! have_header "$header"; then
        echo "bench-peers: SKIP $impl: <$header> not found (Debian package $pkg)"
        echo "$impl no_${pkg}" >> "$out/missing"
        rm -f "$out/$impl"
        continue
    fi
    # A header that is there does not make the peer build (a -dev package
    # without its library, a version whose API differs): skip that one peer
    # as when the header is missing, so the others are still compared; an
    # earlier build's program is removed so no stale binary is measured.
    # shellcheck disable=SC2086
    if ! build "$impl" "bench/peers/$impl.c" $libs; then
        echo "bench-peers: SKIP $impl: build failed (compiler output above)" >&2
        echo "$impl build_failed" >> "$out/missing"
        rm -f "$out/$impl"
    fi
done <<EOF
$peers
EOF
