# evfd - build, install, demo, benchmarks. `cargo test` runs the tests.
#
#   make                 build libevfd.so / libevfd.a (release)
#   make demo            build and run examples/demo.c
#   make install         PREFIX=/usr/local DESTDIR= (staged installs)
#   make header          regenerate include/evfd.h with the pinned cbindgen
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
TARGET_DIR ?= target

VERSION    := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
MAJOR      := $(firstword $(subst ., ,$(VERSION)))
BUILD_DIR  := $(TARGET_DIR)/$(if $(filter release,$(PROFILE)),release,debug)
CARGO_PROFILE := $(if $(filter release,$(PROFILE)),--release,)
SONAME     := libevfd.so.$(MAJOR)
REALNAME   := libevfd.so.$(VERSION)
CFLAGS     ?= -O2 -g
DEMO_FLAGS := -std=c11 -Wall -Wextra -Werror -pedantic -Iinclude

.PHONY: all lib demo install header bench clean fuzz stress

all: lib

lib:
	$(CARGO) build --lib $(CARGO_PROFILE) --target-dir $(TARGET_DIR)
	@mkdir -p $(BUILD_DIR)/so
	cp -f $(BUILD_DIR)/libevfd.so $(BUILD_DIR)/so/$(REALNAME)
	ln -sf $(REALNAME) $(BUILD_DIR)/so/$(SONAME)
	ln -sf $(SONAME) $(BUILD_DIR)/so/libevfd.so

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
BENCH_PROGS  := overhead latency timers scale ring_bench
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

header:
	EVFD_WRITE_HEADER=1 $(CARGO) build --lib --target-dir $(TARGET_DIR)

install: lib
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(LIBDIR)/pkgconfig \
		$(DESTDIR)$(INCLUDEDIR)/evfd $(DESTDIR)$(MANDIR)/man3
	install -m 755 $(BUILD_DIR)/so/$(REALNAME) $(DESTDIR)$(LIBDIR)/$(REALNAME)
	ln -sf $(REALNAME) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libevfd.so
	install -m 644 $(BUILD_DIR)/libevfd.a $(DESTDIR)$(LIBDIR)/libevfd.a
	install -m 644 include/evfd.h $(DESTDIR)$(INCLUDEDIR)/evfd.h
	install -m 644 include/evfd/proposed.h $(DESTDIR)$(INCLUDEDIR)/evfd/proposed.h
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
		-e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' -e 's|@VERSION@|$(VERSION)|g' \
		pkgconfig/evfd.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/evfd.pc
	install -m 644 man/man3/*.3 $(DESTDIR)$(MANDIR)/man3/

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
