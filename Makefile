# SPDX-License-Identifier: MIT OR Apache-2.0
# evfd - build, install, package, demo, benchmarks. `cargo test` runs the tests.
#
#   make                 build libevfd.so / libevfd.a (release) and stage the
#                        stripped copies `make install` copies (target/release/dist)
#   make install         copy what `make` built: PREFIX=/usr/local LIBDIR=$(PREFIX)/lib
#                        DESTDIR= (staged installs); never runs cargo, so
#                        `make && sudo make install` works; runs ldconfig as root
#   make uninstall       remove exactly what `make install` put there (same variables)
#   make demo            build and run examples/demo.c
#   make header          regenerate include/evfd.h (cbindgen, a dev-dependency)
#   make version         print the version (Cargo.toml's: the only place it is written)
#   make set-version NEW_VERSION=x.y.z   Cargo.toml, lock, header, man footers
#   make deb             libevfd0 and libevfd-dev .deb packages in target/deb (pkg/deb.sh)
#   make abi-check       compare the ABI of include/evfd.h with abi/ (abidiff)
#   make abi-update      accept an intended ABI change: rewrite abi/ from the header
#   make bench           run the benchmarks, write bench/RESULTS.md and bench/plots/
#                        (BENCH_QUICK=1: a short smoke run, written to bench/out/quick/)
#   make fuzz            every fuzz target for FUZZ_SECONDS (60) each (fuzz/README.md)
#   make stress          1,000,000-signal storms into signalfd, eventfs and the ring,
#                        1,000,000 ring posts (bench/STRESS.md)

PREFIX     ?= /usr/local
DESTDIR    ?=
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
MANDIR     ?= $(PREFIX)/share/man
PROFILE    ?= release
CARGO      ?= cargo
CC         ?= cc
STRIP      ?= strip
OBJCOPY    ?= objcopy
LDCONFIG   ?= ldconfig
NM         ?= nm
TARGET_DIR ?= target

# Cargo.toml is the one source of the version; everything else derives it.
VERSION    := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
HOMEPAGE   := $(shell sed -n 's/^homepage = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
MAJOR      := $(firstword $(subst ., ,$(VERSION)))
BUILD_DIR  := $(TARGET_DIR)/$(if $(filter release,$(PROFILE)),release,debug)
CARGO_PROFILE := $(if $(filter release,$(PROFILE)),--release,)
SONAME     := libevfd.so.$(MAJOR)
REALNAME   := libevfd.so.$(VERSION)
DIST       := $(BUILD_DIR)/dist
CFLAGS     ?= -O2 -g
DEMO_FLAGS := -std=c11 -Wall -Wextra -Werror -pedantic -Iinclude
# What Rust's std needs from the system when libevfd.a is linked (rustc
# --print native-static-libs, without -lc and -lgcc_s: the compiler driver
# adds libc and the unwinder itself, libgcc_s for a dynamic link and
# libgcc_eh for -static, where there is no libgcc_s to find).
LIBS_PRIVATE := -lutil -lrt -lpthread -lm -ldl
MAN_PAGES  := $(notdir $(wildcard man/man3/*.3))

.PHONY: all lib demo install uninstall header version set-version deb abi-check abi-update \
	bench clean fuzz stress

all: lib

# Cargo decides what is out of date. Then the copies `make install` takes:
# - the shared object stripped (its debug info goes to $(DIST)/$(REALNAME).debug,
#   which is not installed; gdb finds it through the .gnu_debuglink if you copy
#   it next to the library or into /usr/lib/debug/);
# - libevfd.a as one relocatable object holding only what the exported
#   functions reach (ld -r --gc-sections from the export list of the .so),
#   with every other symbol made local: Rust's staticlib is all of std
#   (23.6 MB, 1.1 MB added to a one-call program), and its global std symbols
#   would clash with any other Rust static library in the same program.
lib:
	$(CARGO) build --lib $(CARGO_PROFILE) --target-dir $(TARGET_DIR)
	@mkdir -p $(BUILD_DIR)/so $(DIST)
	cp -f $(BUILD_DIR)/libevfd.so $(BUILD_DIR)/so/$(REALNAME)
	ln -sf $(REALNAME) $(BUILD_DIR)/so/$(SONAME)
	ln -sf $(SONAME) $(BUILD_DIR)/so/libevfd.so
	$(OBJCOPY) --only-keep-debug $(BUILD_DIR)/libevfd.so $(DIST)/$(REALNAME).debug
	$(STRIP) --strip-unneeded -R .comment -o $(DIST)/$(REALNAME).tmp $(BUILD_DIR)/libevfd.so
	cd $(DIST) && $(OBJCOPY) --add-gnu-debuglink=$(REALNAME).debug $(REALNAME).tmp $(REALNAME)
	rm -f $(DIST)/$(REALNAME).tmp
	$(NM) -D --defined-only $(BUILD_DIR)/libevfd.so | awk '{print $$3}' > $(DIST)/exports
	$(LD) -r --whole-archive $(BUILD_DIR)/libevfd.a --gc-sections \
		$$(sed 's/^/-u /' $(DIST)/exports) -o $(DIST)/evfd-all.o
	$(OBJCOPY) --strip-debug -R .llvmbc -R .llvmcmd -R .comment \
		--keep-global-symbols=$(DIST)/exports $(DIST)/evfd-all.o $(DIST)/evfd.o
	rm -f $(DIST)/libevfd.a $(DIST)/evfd-all.o
	$(AR) rcsD $(DIST)/libevfd.a $(DIST)/evfd.o
	rm -f $(DIST)/evfd.o

version:
	@echo $(VERSION)

# The mechanical part of a release: the version in Cargo.toml (and its
# lock entry), the header's macros and the man page footers. NEWS and
# pkg/changelog need words: tests/version.rs fails until they have them.
set-version:
	@case "$(NEW_VERSION)" in [0-9]*.[0-9]*.[0-9]*) ;; \
		*) echo "usage: make set-version NEW_VERSION=MAJOR.MINOR.PATCH" >&2; exit 1;; esac
	sed -i '0,/^version = ".*"/s//version = "$(NEW_VERSION)"/' Cargo.toml
	$(CARGO) update --offline -p evfd
	$(MAKE) --no-print-directory header
	sed -i 's/^\(\.TH .*\) "evfd [0-9.]*" "evfd Manual"$$/\1 "evfd $(NEW_VERSION)" "evfd Manual"/' man/man3/*.3
	@echo "set-version: now add $(NEW_VERSION) to NEWS and pkg/changelog, and run make abi-update"

# Binary packages from a staged install (pkg/deb.sh says what goes where).
deb: lib
	MAKE="$(MAKE)" pkg/deb.sh $(TARGET_DIR)/deb

# The ABI baseline (abi/check.sh says how it is taken). abi-update is the
# one command that accepts an intended change; commit abi/ afterwards.
abi-check: lib
	abi/check.sh check $(BUILD_DIR)/libevfd.so $(VERSION)

abi-update: lib
	abi/check.sh update $(BUILD_DIR)/libevfd.so $(VERSION)

$(BUILD_DIR)/demo: examples/demo.c include/evfd.h lib
	$(CC) $(DEMO_FLAGS) $(CFLAGS) examples/demo.c -o $@ -L$(BUILD_DIR)/so \
		-Wl,-rpath,$(abspath $(BUILD_DIR)/so) -levfd -lpthread

demo: $(BUILD_DIR)/demo
	./$(BUILD_DIR)/demo

# Benchmarks (bench/): never part of `cargo test`. bench/features.sh turns
# on the parts whose evfd features this tree has (eventfs, ring, unprefixed
# signalfd), so merged features are measured with no edits here.
BENCH_QUICK  ?=
BENCH_BIN    := $(BUILD_DIR)/bench
BENCH_IS_QUICK := $(filter-out 0,$(BENCH_QUICK))
BENCH_OUT    := bench/out/$(if $(BENCH_IS_QUICK),quick,full)
BENCH_PROGS  := overhead latency timers scale ring_bench ring_registration
BENCH_CFLAGS := -std=c11 -Wall -Wextra -pedantic -O2 -g -Iinclude
LATENCY_ARGS ?=
TIMERS_ARGS  ?=
BENCH_REPORT := $(if $(BENCH_IS_QUICK),$(BENCH_OUT),bench)

bench: lib
	@mkdir -p $(BENCH_BIN) $(BENCH_OUT)
	@defs="$$(sh bench/features.sh $(BUILD_DIR)/so/libevfd.so)"; \
	echo "$$defs" > $(BENCH_OUT)/features; \
	for p in $(BENCH_PROGS); do \
		echo "$(CC) $(BENCH_CFLAGS) $$defs bench/$$p.c -o $(BENCH_BIN)/$$p ... -levfd"; \
		$(CC) $(BENCH_CFLAGS) $$defs bench/$$p.c -o $(BENCH_BIN)/$$p -L$(BUILD_DIR)/so \
			-Wl,-rpath,$(abspath $(BUILD_DIR)/so) -levfd -lpthread -ldl || exit 1; \
	done
	@# ring_bench counts the consumer's system calls through the
	@# raw_syscalls:sys_enter tracepoint, which needs tracefs: mounted
	@# here when it is not and this is root (a fresh VM may boot without).
	@[ -e /sys/kernel/tracing/events ] || [ -e /sys/kernel/debug/tracing/events ] || \
		{ [ "$$(id -u)" = 0 ] && mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null; } || \
		echo "bench: tracefs is not mounted and cannot be; ring_bench will say so"
	@: > $(BENCH_OUT)/commands; cat /proc/loadavg > $(BENCH_OUT)/loadavg.start; \
	{ git rev-parse --short HEAD && git status --porcelain -- 'bench/*.c' 'bench/*.h' \
		src Cargo.toml Makefile; } > $(BENCH_OUT)/commit 2>/dev/null || :; \
	date -u '+%Y-%m-%d %H:%M:%S UTC' > $(BENCH_OUT)/date.start; \
	for p in $(BENCH_PROGS); do \
		case $$p in latency) args="$(LATENCY_ARGS)";; timers) args="$(TIMERS_ARGS)";; *) args="";; esac; \
		cmd="$(if $(BENCH_QUICK),BENCH_QUICK=$(BENCH_QUICK) )./$(BENCH_BIN)/$$p $$args"; \
		echo "$$cmd" | tee -a $(BENCH_OUT)/commands; \
		env BENCH_QUICK=$(BENCH_QUICK) ./$(BENCH_BIN)/$$p $$args > $(BENCH_OUT)/$$p.txt || exit 1; \
	done; cat /proc/loadavg > $(BENCH_OUT)/loadavg.end
	python3 bench/ring_report.py $(BENCH_OUT)/ring_bench.txt $(BENCH_OUT)/ring.md \
		$(BENCH_REPORT)/plots/ring_bench.svg "make bench$(if $(BENCH_IS_QUICK), BENCH_QUICK=$(BENCH_QUICK))"
	python3 bench/report.py $(BENCH_OUT) $(BENCH_REPORT)
	$(MAKE) bench-peers

# The ring against libev, libevent, libuv, liburing and raw epoll
# (bench/peers/): builds the peers (installing their Debian -dev packages
# when missing, or skipping them), runs them interleaved, and writes the
# Peers section of RESULTS.md and bench/plots/peers_*.svg.
.PHONY: bench-peers
PEERS_RECORDS := $(if $(BENCH_IS_QUICK),$(BENCH_OUT)/peers.txt,bench/peers/records.txt)
bench-peers: lib
	sh bench/peers/build.sh $(BUILD_DIR)/bench/peers $(abspath $(BUILD_DIR)/so)
	@mkdir -p $(BENCH_OUT)
	env BENCH_QUICK=$(BENCH_QUICK) python3 bench/peers/run.py $(BUILD_DIR)/bench/peers $(PEERS_RECORDS)
	python3 bench/peers/report.py $(PEERS_RECORDS) $(BENCH_REPORT) \
		"make bench-peers$(if $(BENCH_IS_QUICK), BENCH_QUICK=$(BENCH_QUICK))"

header:
	EVFD_WRITE_HEADER=1 $(CARGO) test --test header committed_header_is_fresh

# Installs what `make` built and nothing else: no cargo here, so root's PATH
# needs no Rust toolchain. The file list is fixed, so `make uninstall` with
# the same variables removes exactly it.
INSTALL_LIB := $(DESTDIR)$(LIBDIR)
INSTALL_INC := $(DESTDIR)$(INCLUDEDIR)
INSTALL_MAN := $(DESTDIR)$(MANDIR)/man3
PC_SUBST    := -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
	-e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' -e 's|@VERSION@|$(VERSION)|g' \
	-e 's|@HOMEPAGE@|$(HOMEPAGE)|g' -e 's|@LIBS_PRIVATE@|$(LIBS_PRIVATE)|g'

install:
	@for f in $(DIST)/$(REALNAME) $(DIST)/libevfd.a; do \
		[ -f "$$f" ] || { echo "make install: $$f is not built: run \`make\` first (as yourself: it needs cargo), then \`make install\`" >&2; exit 1; }; \
	done
	@newer=$$(find src Cargo.toml build.rs -newer $(DIST)/$(REALNAME) -print 2>/dev/null | head -n 1); \
	[ -z "$$newer" ] || echo "make install: warning: $$newer is newer than the build: run \`make\` first to install the current sources" >&2
	install -d $(INSTALL_LIB)/pkgconfig $(INSTALL_INC)/evfd $(INSTALL_MAN)
	install -m 644 $(DIST)/$(REALNAME) $(INSTALL_LIB)/$(REALNAME)
	ln -sfn $(REALNAME) $(INSTALL_LIB)/$(SONAME)
	ln -sfn $(SONAME) $(INSTALL_LIB)/libevfd.so
	install -m 644 $(DIST)/libevfd.a $(INSTALL_LIB)/libevfd.a
	install -m 644 include/evfd.h $(INSTALL_INC)/evfd.h
	install -m 644 include/evfd/proposed.h $(INSTALL_INC)/evfd/proposed.h
	sed $(PC_SUBST) pkgconfig/evfd.pc.in > $(INSTALL_LIB)/pkgconfig/evfd.pc
	sed $(PC_SUBST) pkgconfig/evfd-static.pc.in > $(INSTALL_LIB)/pkgconfig/evfd-static.pc
	chmod 644 $(INSTALL_LIB)/pkgconfig/evfd.pc $(INSTALL_LIB)/pkgconfig/evfd-static.pc
	install -m 644 $(addprefix man/man3/,$(MAN_PAGES)) $(INSTALL_MAN)/
	@$(MAKE) -s ldconfig-note

uninstall:
	rm -f $(INSTALL_LIB)/$(REALNAME) $(INSTALL_LIB)/libevfd.a \
		$(INSTALL_LIB)/pkgconfig/evfd.pc $(INSTALL_LIB)/pkgconfig/evfd-static.pc \
		$(INSTALL_INC)/evfd.h $(INSTALL_INC)/evfd/proposed.h \
		$(addprefix $(INSTALL_MAN)/,$(MAN_PAGES))
	@# The links only if they still name this version (another may own them now).
	@[ "$$(readlink $(INSTALL_LIB)/$(SONAME))" != "$(REALNAME)" ] || rm -f $(INSTALL_LIB)/$(SONAME)
	@[ "$$(readlink $(INSTALL_LIB)/libevfd.so)" != "$(SONAME)" ] || [ -e $(INSTALL_LIB)/$(SONAME) ] \
		|| rm -f $(INSTALL_LIB)/libevfd.so
	-@rmdir $(INSTALL_INC)/evfd 2>/dev/null || :
	@$(MAKE) -s ldconfig-note

# Root installing into the running system (no DESTDIR): refresh the dynamic
# linker's cache, or the new soname is not found until someone does.
# Otherwise say what to run.
.PHONY: ldconfig-note
ldconfig-note:
	@if [ -n "$(DESTDIR)" ]; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
		want=$$(readlink -f '$(LIBDIR)'); found=; \
		for d in $$($(LDCONFIG) -v -N -X 2>/dev/null | sed -n 's|^\(/[^:]*\):.*|\1|p'); do \
			[ "$$(readlink -f "$$d")" != "$$want" ] || found=1; \
		done; \
		if [ -n "$$found" ]; then \
			echo "$(LDCONFIG)"; $(LDCONFIG); \
		else \
			echo "note: $(LIBDIR) is not in the dynamic linker's search path: add it to /etc/ld.so.conf.d/ and run ldconfig, or set LD_LIBRARY_PATH"; \
		fi; \
	else \
		echo "note: run \`sudo $(LDCONFIG)\` if $(LIBDIR) is in the dynamic linker's search path (/etc/ld.so.conf), or set LD_LIBRARY_PATH=$(LIBDIR)"; \
	fi

fuzz:
	fuzz/run-short.sh

STRESS_SIGNALS ?= 1000000
$(BUILD_DIR)/stress/signal_storm: c-tests/signal_storm.c c-tests/check.h include/evfd.h lib
	@mkdir -p $(dir $@)
	$(CC) $(DEMO_FLAGS) -Ic-tests $(CFLAGS) $< -o $@ -L$(BUILD_DIR)/so \
		-Wl,-rpath,$(abspath $(BUILD_DIR)/so) -levfd -lpthread

$(BUILD_DIR)/stress/ring_storm: c-tests/ring_storm.c c-tests/ring_util.h c-tests/check.h include/evfd.h lib
	@mkdir -p $(dir $@)
	$(CC) $(DEMO_FLAGS) -Ic-tests $(CFLAGS) $< -o $@ -L$(BUILD_DIR)/so \
		-Wl,-rpath,$(abspath $(BUILD_DIR)/so) -levfd -lpthread

$(BUILD_DIR)/stress/eventfs_storm: c-tests/eventfs_storm.c c-tests/check.h include/evfd.h lib
	@mkdir -p $(dir $@)
	$(CC) $(DEMO_FLAGS) -Ic-tests $(CFLAGS) $< -o $@ -L$(BUILD_DIR)/so \
		-Wl,-rpath,$(abspath $(BUILD_DIR)/so) -levfd -lpthread

stress: $(BUILD_DIR)/stress/signal_storm $(BUILD_DIR)/stress/eventfs_storm $(BUILD_DIR)/stress/ring_storm
	EVFD_STORM_SIGNALS=$(STRESS_SIGNALS) time -p ./$(BUILD_DIR)/stress/signal_storm
	EVFD_STORM_SIGNALS=$(STRESS_SIGNALS) time -p ./$(BUILD_DIR)/stress/eventfs_storm
	for backend in io_uring epoll; do \
		EVFD_RING_BACKEND=$$backend EVFD_RING_STORM=$(STRESS_SIGNALS) \
			time -p ./$(BUILD_DIR)/stress/ring_storm || exit 1; \
	done

clean:
	$(CARGO) clean

# Other projects' test suites without and with LD_PRELOAD (tests/preload_suites.py;
# may apt-get install systemd-tests and libpython3.11-testsuite).
.PHONY: check-preload
check-preload:
	EVFD_PRELOAD_SUITES=1 $(CARGO) test --test preload_suites -- --nocapture
