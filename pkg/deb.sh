#!/usr/bin/env bash
# SPDX-License-Identifier: MIT OR Apache-2.0
# `make deb`: the libevfd0 and libevfd-dev binary packages, built with
# dpkg-deb from a staged `make install` (no debian/ source package: the
# tree is built by cargo, which a Debian source build would have to
# vendor; what is packaged here is exactly what `make install` installs).
#
#   pkg/deb.sh OUTDIR      (run by `make deb` after `make`)
#
# libevfd0:   the shared object and its soname link; DEBIAN/shlibs,
#             DEBIAN/symbols (abi/libevfdN.symbols, checked against the
#             exports by dpkg-gensymbols -c4), the ldconfig trigger.
# libevfd-dev: libevfd.so link, libevfd.a, headers, evfd.pc,
#             evfd-static.pc, man pages.
# Both: /usr/share/doc/<package>/copyright and changelog.gz (pkg/changelog,
# in Debian's format; the version must be Cargo.toml's, tests/version.rs
# checks it). lintian must report no error; the warnings it may still give
# are overridden in pkg/lintian/, each with the reason.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-target/deb}
MAKE=${MAKE:-make}

# Tools: install them when root (Debian), or name them.
need=()
for tool in dpkg-deb:dpkg dpkg-shlibdeps:dpkg-dev dpkg-gensymbols:dpkg-dev \
            dpkg-architecture:dpkg-dev lintian:lintian gzip:gzip; do
    command -v "${tool%%:*}" >/dev/null 2>&1 || need+=("${tool#*:}")
done
if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "make deb: installing ${need[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
    else
        echo "make deb: missing tools: install ${need[*]} (Debian: sudo apt-get install ${need[*]})" >&2
        exit 1
    fi
fi

version=$($MAKE -s --no-print-directory version)
major=${version%%.*}
arch=$(dpkg-architecture -qDEB_HOST_ARCH)
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
maintainer=$(sed -n 's/^ -- \(.*>\)  .*/\1/p' pkg/changelog | head -n 1)
homepage=$(sed -n 's/^homepage = "\(.*\)"/\1/p' Cargo.toml)
changelog_version=$(sed -n '1s/^evfd (\([^)]*\)).*/\1/p' pkg/changelog)
[ "$changelog_version" = "$version" ] || {
    echo "make deb: pkg/changelog is for $changelog_version, Cargo.toml says $version: add an entry" >&2
    exit 1
}
runtime=libevfd$major
dev=libevfd-dev

work=$out/work
rm -rf "$work"
mkdir -p "$work/stage" "$out"
$MAKE -s --no-print-directory install DESTDIR="$(pwd)/$work/stage" PREFIX=/usr \
    LIBDIR="/usr/lib/$multiarch" MANDIR=/usr/share/man >/dev/null
stage=$work/stage
lib=usr/lib/$multiarch

# Split the staged tree.
move() { # package path...
    local pkg=$1; shift
    for p in "$@"; do
        mkdir -p "$work/$pkg/$(dirname "$p")"
        mv "$stage/$p" "$work/$pkg/$p"
    done
}
move "$runtime" "$lib/libevfd.so.$version" "$lib/libevfd.so.$major"
move "$dev" "$lib/libevfd.so" "$lib/libevfd.a" "$lib/pkgconfig" usr/include usr/share/man

# Man pages: compressed, and the .so alias pages as links (Debian policy 12.1).
man3=$work/$dev/usr/share/man/man3
for page in "$man3"/*.3; do
    target=$(sed -n 's|^\.so man3/\(.*\)$|\1|p' "$page")
    if [ -n "$target" ]; then
        rm "$page"
        ln -s "$target.gz" "$page.gz"
    else
        gzip -9n "$page"
    fi
done

for pkg in "$runtime" "$dev"; do
    doc=$work/$pkg/usr/share/doc/$pkg
    mkdir -p "$doc"
    install -m 644 pkg/copyright "$doc/copyright"
    gzip -9nc pkg/changelog > "$doc/changelog.gz"
    if [ -f "pkg/lintian/$pkg" ]; then
        mkdir -p "$work/$pkg/usr/share/lintian/overrides"
        grep -v '^#' "pkg/lintian/$pkg" > "$work/$pkg/usr/share/lintian/overrides/$pkg"
    fi
done

# What libevfd0 needs from the system, the way Debian's helpers compute it.
mkdir -p "$work/shlibdeps/debian"
printf 'Source: evfd\n\nPackage: %s\nArchitecture: any\n' "$runtime" > "$work/shlibdeps/debian/control"
depends=$(cd "$work/shlibdeps" && dpkg-shlibdeps -O -e "../$runtime/$lib/libevfd.so.$version" 2>/dev/null \
          | sed -n 's/^shlibs:Depends=//p')
[ -n "$depends" ] || { echo "make deb: dpkg-shlibdeps found no dependencies" >&2; exit 1; }

# The symbols file must list exactly the exports (-c4: any difference fails).
mkdir -p "$work/$runtime/DEBIAN"
symbols=abi/libevfd$major.symbols
cp "$symbols" "$work/symbols.in"
(cd "$work/shlibdeps" && dpkg-gensymbols -p"$runtime" -v"$version" -P"../$runtime" \
    -I"../symbols.in" -O"../$runtime/DEBIAN/symbols" -c4 -q) || {
    echo "make deb: $symbols does not match the exports of libevfd.so.$version: run make abi-update" >&2
    exit 1
}
echo "libevfd $major $runtime (>= $version)" > "$work/$runtime/DEBIAN/shlibs"
echo "activate-noawait ldconfig" > "$work/$runtime/DEBIAN/triggers"

description_tail=" evfd gives C programs kernel events as file descriptors with the
 signalfd/timerfd/eventfd signatures proposed on LKML in 2007, one
 descriptor per signal (eventfs), and an event ring that waits for
 descriptors, signals, timers, futexes and user events in one place."
control() { # package section depends description
    local size
    size=$(du -k -s --exclude=DEBIAN "$work/$1" | cut -f1)
    cat > "$work/$1/DEBIAN/control" <<CONTROL
Package: $1
Source: evfd
Version: $version
Architecture: $arch
Multi-Arch: same
Maintainer: $maintainer
Installed-Size: $size
Depends: $3
Section: $2
Priority: optional
Homepage: $homepage
Description: $4
$description_tail
CONTROL
}
mkdir -p "$work/$dev/DEBIAN"
control "$runtime" libs "$depends" "kernel events as file descriptors - shared library"
control "$dev" libdevel "$runtime (= $version)" \
    "kernel events as file descriptors - development files"
printf '%s\n' " This package contains the header files, the static library, the" \
    " pkg-config files and the manual pages." >> "$work/$dev/DEBIAN/control"

for pkg in "$runtime" "$dev"; do
    (cd "$work/$pkg" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' \
        | sort -z | xargs -0 md5sum > DEBIAN/md5sums)
    find "$work/$pkg" -type d -exec chmod 755 {} +
    find "$work/$pkg" -type f -exec chmod 644 {} +
    dpkg-deb --root-owner-group -Zxz --build "$work/$pkg" "$out/${pkg}_${version}_${arch}.deb" >/dev/null
done
echo "make deb: $out/${runtime}_${version}_${arch}.deb $out/${dev}_${version}_${arch}.deb"

# lintian: no errors; warnings are overridden in pkg/lintian/ with reasons.
lintian --fail-on error,warning --info --display-level '>=pedantic' \
    "$out/${runtime}_${version}_${arch}.deb" "$out/${dev}_${version}_${arch}.deb"
echo "make deb: lintian clean"

# The packages work: unpacked into an empty root (dpkg -x, no chroot), a
# consumer builds from that root's evfd.pc and runs against its library.
root=$out/root
rm -rf "$root"
for deb in "$out/${runtime}_${version}_${arch}.deb" "$out/${dev}_${version}_${arch}.deb"; do
    dpkg -x "$deb" "$root"
done
export PKG_CONFIG_PATH="$root/$lib/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$root"
# shellcheck disable=SC2046 # pkg-config's flags are words
${CC:-cc} -std=c11 -Wall -Wextra -Werror -pedantic examples/demo.c -o "$out/consumer" \
    $(pkg-config --cflags --libs evfd)
# Outputs are captured before they are searched: under pipefail, grep -q
# leaving at its first match can end the writer with SIGPIPE, which fails
# the pipeline (this check failed once that way in CI).
deps=$(LD_LIBRARY_PATH="$root/$lib" ldd "$out/consumer")
grep -q "libevfd.so.$major => $root/$lib/libevfd.so.$major" <<<"$deps" || {
    echo "make deb: the consumer does not load the packaged libevfd.so.$major" >&2
    exit 1
}
LD_LIBRARY_PATH="$root/$lib" "$out/consumer"
# shellcheck disable=SC2046
${CC:-cc} -std=c11 -Wall -Wextra -Werror -pedantic examples/demo.c -o "$out/consumer-static" \
    $(pkg-config --static --cflags --libs evfd-static)
dynamic=$(readelf -d "$out/consumer-static")
if grep -q 'NEEDED.*libevfd' <<<"$dynamic"; then
    echo "make deb: the evfd-static consumer needs libevfd.so" >&2
    exit 1
fi
"$out/consumer-static" >/dev/null
unset PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR
echo "make deb: a consumer built and ran against the unpacked packages in $root"
