#!/usr/bin/env python3
# SPDX-License-Identifier: MIT OR Apache-2.0
"""Runs the peer benchmarks of bench/peers/ and writes their records.

    python3 bench/peers/run.py <bin dir> <records file> [--quick] [--reps N]

<bin dir> holds the programs bench/peers/build.sh made (evfd, epoll,
libev, libevent, libuv, liburing) and its `missing` list. Every
measurement is a fresh process (peers.h says why). Each repetition runs
every cell (workload and size) once per implementation, the implementations
interleaved: their order is rotated from cell to cell and from repetition to
repetition, so drift on the shared machine spreads over all of them. evfd
runs twice per cell, with EVFD_RING_BACKEND=io_uring and =epoll.

The records file gets the lines the programs print (`peers k=v ...`) with
`rep=<r>` added, a `skip` line for a peer that was not built, a `fail` line
for a process that failed or timed out, and `#` comments saying how the run
was made. BENCH_QUICK=1 in the environment (or --quick) is the smoke run.
Standard library only.
"""

import os
import subprocess
import sys
import time

IMPLS = [  # (record name, program, environment, the cells it runs: None = all)
    ("evfd-io_uring", "evfd", {"EVFD_RING_BACKEND": "io_uring"}, None),
    ("evfd-epoll", "evfd", {"EVFD_RING_BACKEND": "epoll"}, None),
    # Timers with deadlines from one clock read (the peers' loop time):
    # records timer_create_loop and move_loop (see evfd.c).
    ("evfd-io_uring", "evfd", {"EVFD_RING_BACKEND": "io_uring", "EVFD_PEERS_TIMERS": "loop"},
     ("timers", "move")),
    ("evfd-epoll", "evfd", {"EVFD_RING_BACKEND": "epoll", "EVFD_PEERS_TIMERS": "loop"},
     ("timers", "move")),
    ("libev", "libev", {}, None),
    ("libevent", "libevent", {}, None),
    ("libuv", "libuv", {}, None),
    ("liburing", "liburing", {}, None),
    ("epoll", "epoll", {}, None),
]


def cells(quick):
    msgs = 200000 if quick else 1000000
    fd_events = 20000 if quick else 200000
    moves = 100 if quick else 1000
    signals = 500 if quick else 5000
    out = [["msgs", "split", str(msgs)], ["msgs", "same", str(msgs)]]
    for n in (64, 1024):
        out.append(["fds", str(n), str(max(1, fd_events // n))])
    for n in (1000, 10000, 100000):
        out.append(["timers", str(n)])
    for n in (1000, 100000):
        out.append(["move", str(n), str(moves)])
    out.append(["signal", "split", str(signals)])
    out.append(["signal", "same", str(signals)])
    return out


def describe_tree():
    """The commit, with '+dirty' if bench/peers or src differ from it."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, universal_newlines=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "bench/peers/*.c",
                                "bench/peers/*.h", "src", "Cargo.toml"], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, universal_newlines=True).stdout.strip()
        return (head or "unknown") + ("+dirty" if dirty else "")
    except OSError:
        return "unknown"


def versions():
    """The Debian versions of the peers' libraries, as name=version."""
    pkgs = ["libev4", "libevent-core-2.1-7", "libuv1", "liburing2"]
    try:
        out = subprocess.run(["dpkg-query", "-W", "-f", "${Package}=${Version} "] + pkgs,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                             universal_newlines=True).stdout
        return out.strip().replace(":amd64", "") or "unknown"
    except OSError:
        return "unknown"


def main():
    args = sys.argv[1:]
    quick = os.environ.get("BENCH_QUICK", "") not in ("", "0")
    reps = None
    pos = []
    i = 0
    while i < len(args):
        if args[i] == "--quick":
            quick = True
        elif args[i] == "--reps":
            i += 1
            reps = int(args[i])
        else:
            pos.append(args[i])
        i += 1
    if len(pos) != 2:
        sys.exit(__doc__)
    bindir, outpath = pos
    if reps is None:
        reps = int(os.environ.get("PEERS_REPS", "3" if quick else "7"))
    missing = {}
    try:
        with open(os.path.join(bindir, "missing")) as f:
            for line in f:
                parts = line.split()
                if parts:
                    missing[parts[0]] = parts[1] if len(parts) > 1 else "not_built"
    except OSError:
        pass
    impls = [x for x in IMPLS if x[1] not in missing and os.path.exists(os.path.join(bindir, x[1]))]
    todo = cells(quick)
    out = open(outpath, "w")

    def emit(line):
        out.write(line + "\n")
        out.flush()

    emit("# bench/peers/run.py %s: %d reps, %s" % (" ".join(sys.argv[1:]), reps,
                                                   "quick" if quick else "full"))
    emit("# date %s" % time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()))
    with open("/proc/loadavg") as f:
        emit("# loadavg.start %s" % f.read().strip())
    emit("# commit %s" % describe_tree())
    emit("# versions %s" % versions())
    for name, prog, _, _ in IMPLS:
        if prog in missing or not os.path.exists(os.path.join(bindir, prog)):
            emit("peers impl=%s status=skip reason=%s" % (name, missing.get(prog, "not_built")))
            print("bench-peers: SKIP %s (%s)" % (name, missing.get(prog, "not built")))
    started = time.time()
    for rep in range(reps):
        for ci, cell in enumerate(todo):
            here = [x for x in impls if x[3] is None or cell[0] in x[3]]
            k = (rep + ci) % len(here)
            for name, prog, env, _ in here[k:] + here[:k]:
                cmd = [os.path.join(bindir, prog)] + cell
                e = dict(os.environ)
                e.pop("EVFD_RING_BACKEND", None)
                e.update(env)
                try:
                    r = subprocess.run(cmd, env=e, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                       universal_newlines=True, timeout=120)
                    lines = [l for l in r.stdout.splitlines() if l.startswith("peers ")]
                    if r.returncode != 0 or not lines:
                        err = (r.stderr.strip().splitlines() or ["exit %d" % r.returncode])[-1]
                        emit("peers impl=%s cell=%s status=fail rep=%d reason=%s"
                             % (name, "_".join(cell), rep, err.replace(" ", "_")[:200]))
                        print("bench-peers: FAIL %s %s: %s" % (name, " ".join(cell), err))
                        continue
                except subprocess.TimeoutExpired:
                    emit("peers impl=%s cell=%s status=fail rep=%d reason=timeout"
                         % (name, "_".join(cell), rep))
                    print("bench-peers: TIMEOUT %s %s" % (name, " ".join(cell)))
                    continue
                for l in lines:
                    if "impl=" + name + " " not in l + " ":
                        # evfd names the backend it got; a different one
                        # than asked for is kept apart (the report drops it).
                        l = l.replace("impl=", "impl=%s got=" % name, 1)
                    emit(l + " rep=%d" % rep)
        print("bench-peers: rep %d/%d done (%.0f s)" % (rep + 1, reps, time.time() - started))
    with open("/proc/loadavg") as f:
        emit("# loadavg.end %s" % f.read().strip())
    emit("# seconds %.0f" % (time.time() - started))
    out.close()


if __name__ == "__main__":
    main()
