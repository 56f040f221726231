#!/usr/bin/env python3
# SPDX-License-Identifier: MIT OR Apache-2.0
"""Turns ring_bench's tab-separated output into bench/RESULTS.md (the ring
section) and bench/ring_bench.svg (events/s against registered sources).

Usage: ring_report.py results.tsv out.md out.svg "command that was run"
"""
import datetime
import math
import platform
import subprocess
import sys

tsv, out_md, out_svg, command = sys.argv[1:5]
rows = []
with open(tsv) as f:
    header = f.readline().rstrip("\n").split("\t")
    for line in f:
        cells = line.rstrip("\n").split("\t")
        if len(cells) == len(header):
            rows.append(dict(zip(header, cells)))


def machine():
    model = ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cpus = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    return f"{model}, {cpus} CPUs, Linux {platform.release()}"


def value(workload, sources, method, key):
    for r in rows:
        if r["workload"] == workload and r["sources"] == str(sources) and r["method"] == method:
            return float(r[key])
    return None


sizes = sorted({int(r["sources"]) for r in rows})
lines = []
lines.append("# Benchmarks\n")
lines.append("## The event ring against epoll_wait + read\n")
lines.append(f"Machine: {machine()}. Run: {datetime.datetime.utcnow():%Y-%m-%d %H:%M} UTC.\n")
lines.append(f"Command: `{command}` (source: `bench/ring_bench.c`, which explains both workloads).\n")
lines.append("Consumer-side system calls are counted by a perf counter on the "
             "`raw_syscalls:sys_enter` tracepoint opened for the consumer thread only; "
             "events/s is wall-clock time of the consumer loop. Counting and timing are "
             "separate passes (an enabled tracepoint slows every system call, which would "
             "charge the side that makes them): stream runs once counted and once timed, "
             "burst alternates counted and timed rounds; \"events\" is the timed pass. "
             "Both methods run in the same process, one after the other, for each size.\n")
lines.append("| workload | sources | method | events | consumer syscalls | syscalls/event | events/s | ring ÷ epoll |")
lines.append("|---|---:|---|---:|---:|---:|---:|---:|")
for r in rows:
    ratio = ""
    if r["method"] in ("ring", "ring-futex-sources"):
        base = value(r["workload"], r["sources"], "epoll+read", "events_per_s")
        if base:
            ratio = f"{float(r['events_per_s']) / base:.2f}×"
    lines.append(f"| {r['workload']} | {r['sources']} | {r['method']} | {r['events']} | {r['syscalls']} | "
                 f"{float(r['syscalls_per_event']):.4f} | {float(r['events_per_s']):,.0f} | {ratio} |")
lines.append("")
lines.append("![events per second against registered sources](ring_bench.svg)\n")
lines.append("Reading the numbers:\n")
# The target (at most 0.01 consumer system calls per event) is judged on the
# stream rows of this run, never asserted: the ring's series only, since
# epoll+read is the baseline the target is set against, not held to it.
TARGET = 0.01
ring_stream = [r for r in rows
               if r["workload"] == "stream" and r["method"] in ("ring", "ring-futex-sources")]


def spe_where(r):
    return f"{float(r['syscalls_per_event']):.4f} for {r['method']} with {int(r['sources']):,} sources"


over = [r for r in ring_stream if float(r["syscalls_per_event"]) > TARGET]
if over:
    verdict = ("but its system calls per event were **ABOVE the 0.01 target**: "
               + ", ".join(spe_where(r) for r in over))
elif ring_stream:
    top = max(ring_stream, key=lambda r: float(r["syscalls_per_event"]))
    verdict = (f"{'under' if float(top['syscalls_per_event']) < TARGET else 'at'} the 0.01 "
               f"syscalls/event target (largest measured: {spe_where(top)})")
else:
    verdict = "with the 0.01 syscalls/event target not judged (this run has no ring stream row)"
lines.append("- **stream** (a producer thread, one message at a time): the ring's consumer "
             "takes posts from user memory and enters the kernel only to sleep when the "
             f"queue is empty, {verdict}; epoll+read pays an "
             "`epoll_wait` plus a `read` per wake-up. The streams are the same messages but "
             "not the same mechanism: posts need no fd, the baseline writes eventfds "
             "(the natural epoll way to pass a message between threads).")
lines.append("- **burst** (N eventfds ready at once): on the io_uring backend the kernel reads "
             "each eventfd for the ring (`IORING_OP_READ_MULTISHOT` into provided buffers), so "
             "the consumer enters the kernel only to wait; epoll+read pays a `read` per event "
             "plus an `epoll_wait` per batch. The eventfds are written by the consumer thread itself "
             "before each round: events/s is timed from the first write (the io_uring "
             "backend's in-kernel reads happen as task work during those writes), system "
             "calls are counted from after the writes. The consumer makes (almost) no "
             "system calls, but the work moved into the kernel (a multishot read per event, "
             "run as task work) is not cheaper than epoll's `read`: compare the ratio "
             "column before claiming the 2x target for this workload; on the run above it "
             "is not met.")
lines.append("- **ring-futex-sources** is the ring's stream with its N idle registered sources "
             "made of futex waits instead of eventfds: they take no descriptor, so this series "
             "runs at every size. Its ratio column is against epoll+read with N eventfds where "
             "that ran; epoll cannot wait on a futex, so there is no like-for-like baseline.")
flat = [(s, value("stream", s, "ring-futex-sources", "events_per_s")) for s in sizes]
flat = [(s, v) for s, v in flat if v]
if len(flat) >= 2:
    lo, hi = flat[0], flat[-1]
    lines.append(f"- **Flatness:** the ring's stream with {hi[0]:,} registered sources ran at "
                 f"{hi[1] / lo[1]:.2f}× the events/s it had with {lo[0]:,} "
                 f"({', '.join(f'{s:,}: {v:,.0f}' for s, v in flat)} events/s).")
eventfd_sizes = [s for s in sizes if value("stream", s, "epoll+read", "events_per_s")]
if 65536 not in eventfd_sizes:
    lines.append("- **65,536 eventfd sources** were not run: the container's hard `RLIMIT_NOFILE` is "
                 "below the 65,536 eventfds the baseline needs (the bench raises the soft "
                 "limit as far as the hard one allows and says which sizes it skipped), so "
                 "ring vs epoll+read stops at the largest size that fits; only the fd-less "
                 "series reaches 65,536.")
lines.append("")
open(out_md, "w").write("\n".join(lines) + "\n")

# The plot: log2 sources on x, events/s (log10) on y, one line per series.
W, H, L, R, T, B = 700, 400, 80, 230, 30, 50
series = [(w, m) for w in ("stream", "burst") for m in ("ring", "epoll+read")]
series.insert(2, ("stream", "ring-futex-sources"))
colors = {("stream", "ring"): "#1f77b4", ("stream", "epoll+read"): "#aec7e8",
          ("stream", "ring-futex-sources"): "#2ca02c",
          ("burst", "ring"): "#d62728", ("burst", "epoll+read"): "#ff9896"}
pts = [float(r["events_per_s"]) for r in rows]
ymin = 10 ** math.floor(math.log10(min(pts)))
ymax = 10 ** math.ceil(math.log10(max(pts)))
xs = [math.log2(s) for s in sizes]
xmin, xmax = min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1


def px(s):
    return L + (math.log2(s) - xmin) / (xmax - xmin) * (W - L - R)


def py(v):
    return T + (1 - (math.log10(v) - math.log10(ymin)) / (math.log10(ymax) - math.log10(ymin))) * (H - T - B)


svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
       f'<rect width="{W}" height="{H}" fill="white"/>',
       f'<line x1="{L}" y1="{H-B}" x2="{W-R}" y2="{H-B}" stroke="black"/>',
       f'<line x1="{L}" y1="{T}" x2="{L}" y2="{H-B}" stroke="black"/>',
       f'<text x="{(L+W-R)/2}" y="{H-10}" text-anchor="middle">registered sources</text>',
       f'<text x="15" y="{(T+H-B)/2}" transform="rotate(-90 15 {(T+H-B)/2})" text-anchor="middle">events/s</text>']
for s in sizes:
    svg.append(f'<text x="{px(s):.1f}" y="{H-B+16}" text-anchor="middle">{s}</text>')
e = int(math.log10(ymin))
while 10 ** e <= ymax:
    y = py(10 ** e)
    svg.append(f'<line x1="{L-4}" y1="{y:.1f}" x2="{W-R}" y2="{y:.1f}" stroke="#ddd"/>')
    svg.append(f'<text x="{L-8}" y="{y+4:.1f}" text-anchor="end">1e{e}</text>')
    e += 1
for i, (w, m) in enumerate(series):
    p = [(px(s), py(value(w, s, m, "events_per_s"))) for s in sizes if value(w, s, m, "events_per_s")]
    c = colors[(w, m)]
    svg.append('<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>'
               % (c, " ".join(f"{x:.1f},{y:.1f}" for x, y in p)))
    for x, y in p:
        svg.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{c}"/>')
    svg.append(f'<rect x="{W-R+10}" y="{T+i*20}" width="12" height="12" fill="{c}"/>')
    svg.append(f'<text x="{W-R+28}" y="{T+i*20+10}">{w} {m}</text>')
svg.append("</svg>")
open(out_svg, "w").write("\n".join(svg) + "\n")
