# evfd - build, install, demo, benchmarks. `cargo test` runs the tests.
#
#   make                 build libevfd.so / libevfd.a (release)
#   make demo            build and run examples/demo.c
#   make install         PREFIX=/usr/local DESTDIR= (staged installs)
#   make header          regenerate include/evfd.h with the pinned cbindgen
#   make bench           run the benchmarks, write bench/RESULTS.md

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

.PHONY: all lib demo install header bench clean

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

# The ring against epoll_wait + read (bench/ring_bench.c); needs a readable
# raw_syscalls:sys_enter tracepoint (root or perf_event_paranoid <= 1).
$(BUILD_DIR)/ring_bench: bench/ring_bench.c include/evfd.h lib
	$(CC) $(DEMO_FLAGS) -O2 bench/ring_bench.c -o $@ -L$(BUILD_DIR)/so \
		-Wl,-rpath,$(abspath $(BUILD_DIR)/so) -levfd -lpthread

bench: $(BUILD_DIR)/ring_bench
	@mkdir -p bench/out
	./$(BUILD_DIR)/ring_bench > bench/out/ring_bench.tsv
	python3 bench/ring_report.py bench/out/ring_bench.tsv bench/RESULTS.md \
		bench/ring_bench.svg "make bench"

clean:
	$(CARGO) clean
