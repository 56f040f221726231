#!/usr/bin/env python3
# SPDX-License-Identifier: MIT OR Apache-2.0
"""Turns the records of bench/peers/run.py into the peers section of
RESULTS.md and one SVG plot per workload.

    python3 bench/peers/report.py <records file> <report dir> "<command>"

The section ("## Peers: ...", up to the next "## " heading) replaces the one
in <report dir>/RESULTS.md, or goes before "## Before/after experiments"
(or at the end) if there is none; bench/report.py writes the rest of that
file, so `make bench` runs this after it. The plots go to
<report dir>/plots/peers_<workload>.svg. Standard library only: the SVG is
written by hand.

Ratio = best peer's cost ÷ evfd's cost (CPU ns or wall ns per event, or
latency), where the best peer is whichever of libev, libevent and libuv has
the lowest median: above 1 favours evfd (DESIGN §6 asks for >= 1
everywhere). The ratio is taken within each repetition (the two sides of one
repetition ran close together, interleaved); the table gives its median and
p25-p75 over the repetitions.
"""

import math
import os
import platform
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from cpu_model import cpu_model  # noqa: E402 (bench/cpu_model.py)

PEERS = ["libev", "libevent", "libuv"]
EVFDS = ["evfd-io_uring", "evfd-epoll"]
ORDER = EVFDS + PEERS + ["liburing", "epoll"]
COLORS = {"evfd-io_uring": "#d62728", "evfd-epoll": "#ff7f0e", "libev": "#1f77b4",
          "libevent": "#2ca02c", "libuv": "#9467bd", "liburing": "#8c564b", "epoll": "#7f7f7f"}
# evfd's workloads with deadlines from one clock read, and the workload
# whose peer records they are compared with.
LOOP_TIME_TWIN = {"timer_create": "timer_create_loop", "move": "move_loop"}
SECTION = "## Peers: the ring against libev, libevent, libuv, liburing and raw epoll"

WORKLOADS = [  # (record workload, title, size label, x label in plots)
    ("msgs_split", "cross-thread messages, producer and consumer on two CPUs", "messages"),
    ("msgs_same", "cross-thread messages, both on one CPU", "messages"),
    ("fds", "N ready eventfds per round (writes included)", "N"),
    ("timer_create", "create N one-shot timers (evfd: EVFD_TIMER_REL from the call's time)", "N"),
    ("timer_create_loop", "create N one-shot timers (evfd: EVFD_TIMER_ABS from one clock read, "
     "the peers' loop time)", "N"),
    ("timer_expire", "expire N one-shot timers (all due)", "N"),
    ("move", "move 1,000 of N pending timers to a later deadline (evfd: REL)", "N"),
    ("move_loop", "move 1,000 of N pending timers (evfd: ABS from one clock read, the peers' "
     "loop time)", "N"),
    ("signal_split", "signal from another thread on another CPU, one in flight (latency)",
     "signals"),
    ("signal_same", "signal from another thread on the same CPU, one in flight (latency)",
     "signals"),
]
SHORT = {"msgs_split": "messages, two CPUs,", "msgs_same": "messages, one CPU,",
         "fds": "ready eventfds N =", "timer_create": "create timers N =",
         "timer_create_loop": "create timers from loop time N =",
         "timer_expire": "expire timers N =", "move": "move 1,000 of N =",
         "move_loop": "move 1,000 from loop time of N =",
         "signal_split": "signal latency, two CPUs,",
         "signal_same": "signal latency, one CPU,"}
PLOTS = [  # (file, title, [(workload, group label)...] or None for by-size)
    ("msgs", "Cross-thread messages: CPU ns per message", [("msgs_split", "two CPUs"),
                                                          ("msgs_same", "one CPU")]),
    ("fds", "N ready eventfds: CPU ns per event", None),
    ("timer_create", "Create N one-shot timers (evfd: REL): CPU ns per timer", None),
    ("timer_create_loop", "Create N one-shot timers (evfd: ABS from loop time): CPU ns per timer",
     None),
    ("timer_expire", "Expire N one-shot timers: CPU ns per timer", None),
    ("move", "Move 1,000 of N pending timers (evfd: REL): CPU ns per move", None),
    ("move_loop", "Move 1,000 of N pending timers (evfd: ABS from loop time): CPU ns per move",
     None),
    ("signal_split", "Signal latency (ns), one in flight, sender on another CPU", None),
    ("signal_same", "Signal latency (ns), one in flight, sender on the same CPU", None),
]


def read(path):
    recs, notes = [], {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("# "):
                k, _, v = line[2:].partition(" ")
                notes[k] = v
                continue
            if not line.startswith("peers "):
                continue
            rec = dict(p.split("=", 1) for p in line.split()[1:] if "=" in p)
            recs.append(rec)
    return recs, notes


def quant(v, q):
    v = sorted(v)
    if not v:
        return float("nan")
    pos = q * (len(v) - 1)
    i = int(pos)
    if i + 1 >= len(v):
        return v[-1]
    return v[i] + (v[i + 1] - v[i]) * (pos - i)


def fmt(x):
    if x != x:
        return "-"
    if x >= 100000:
        return "{:,.0f}".format(x)
    if x >= 100:
        return "%.0f" % x
    if x >= 10:
        return "%.1f" % x
    return "%.2f" % x


def fmt_ratio(x):
    if x != x:
        return "-"
    if x >= 0.1:
        return "%.2f" % x
    digits = 1 - int(math.floor(math.log10(x))) if x > 0 else 2
    return "%.*f" % (digits, x)


class Cell:
    """All repetitions of one (workload, size, impl)."""

    def __init__(self):
        self.by_rep = {}  # rep -> {metric: value}
        self.skip = None
        self.fails = 0
        self.extra = {}

    def values(self, metric):
        return [v[metric] for v in self.by_rep.values() if metric in v]

    def med(self, metric):
        return quant(self.values(metric), 0.5)


def collect(recs):
    cells = {}  # (workload, n) -> impl -> Cell
    unbuilt = {}
    for r in recs:
        impl = r.get("impl")
        if r.get("status") == "skip" and "workload" not in r:
            unbuilt[impl] = r.get("reason", "")
            continue
        if r.get("status") == "fail":
            continue
        if "got" in r:  # evfd ran a backend other than the one asked for
            continue
        key = (r["workload"], int(r["n"]))
        c = cells.setdefault(key, {}).setdefault(impl, Cell())
        if r.get("status") == "skip":
            c.skip = (r.get("errno", "?"), r.get("reason", ""))
            continue
        ev = float(r["events"])
        m = {"cpu": float(r["cpu_ns"]) / ev, "wall": float(r["wall_ns"]) / ev}
        if "p50_ns" in r:
            m["p50"] = float(r["p50_ns"])
            m["p99"] = float(r["p99_ns"])
        c.by_rep[r.get("rep", "0")] = m
        for k in ("rearm",):
            if k in r:
                c.extra[k] = r[k]
    # The peers always measure deadlines from their loop time: their
    # records stand in the evfd-from-loop-time workloads too.
    for (wl, n), impls in list(cells.items()):
        loop = LOOP_TIME_TWIN.get(wl)
        if loop and (loop, n) in cells:
            for impl, c in impls.items():
                if impl not in EVFDS:
                    cells[(loop, n)].setdefault(impl, c)
    fails = {}
    for r in recs:
        if r.get("status") == "fail":
            fails.setdefault((r.get("impl"), r.get("cell")), []).append(r.get("reason", ""))
    return cells, unbuilt, fails


def metrics_of(workload):
    return ["p50", "p99"] if is_signal(workload) else ["cpu", "wall"]


def is_signal(workload):
    return workload.startswith("signal")


def best_peer(impls, metric):
    best = None
    for p in PEERS:
        c = impls.get(p)
        if c is None or not c.values(metric):
            continue
        if best is None or c.med(metric) < impls[best].med(metric):
            best = p
    return best


def ratio(impls, evfd, peer, metric):
    e, p = impls.get(evfd), impls.get(peer)
    if e is None or p is None or not e.values(metric) or not p.values(metric):
        return float("nan"), float("nan"), float("nan")
    paired = [p.by_rep[r][metric] / e.by_rep[r][metric] for r in e.by_rep
              if r in p.by_rep and metric in e.by_rep[r] and e.by_rep[r][metric] > 0]
    if not paired:
        return p.med(metric) / e.med(metric), float("nan"), float("nan")
    return quant(paired, 0.5), quant(paired, 0.25), quant(paired, 0.75)


def esc(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def bar_chart(path, title, ylabel, groups, impls, value, note=None):
    """groups: [(label, {impl: cell})]; value(cell) -> (med, p25, p75, marker or None).
    Grouped bars on a log axis with p25-p75 whiskers; marker = wall time."""
    W, H, L, R, T, B = 820, 420, 80, 150, 40, 70
    pts = []
    for _, cs in groups:
        for i in impls:
            if i in cs:
                v = value(cs[i])
                if v:
                    pts += [x for x in v if x is not None and x > 0]
    if not pts:
        return False
    y0 = 10 ** math.floor(math.log10(min(pts)))
    y1 = 10 ** math.ceil(math.log10(max(pts)))
    if y1 == y0:
        y1 = y0 * 10

    def fy(y):
        return H - B - (math.log10(y) - math.log10(y0)) / (math.log10(y1) - math.log10(y0)) * (H - T - B)

    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
           'font-family="sans-serif" font-size="12">' % (W, H),
           '<rect width="100%" height="100%" fill="white"/>',
           '<text x="%d" y="22" font-size="15" font-weight="bold">%s</text>' % (L, esc(title))]
    e = int(math.log10(y0))
    while 10 ** e <= y1 * 1.0001:
        for mlt in (1, 2, 5):
            v = mlt * 10 ** e
            if y0 <= v <= y1 * 1.0001:
                y = fy(v)
                out.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="%s"/>'
                           % (L, y, W - R, y, "#ccc" if mlt == 1 else "#eee"))
                if mlt == 1 or (math.log10(y1) - math.log10(y0)) <= 3:
                    lab = "%g" % v if v < 1e4 else ("%gk" % (v / 1e3) if v < 1e6 else "%gM" % (v / 1e6))
                    out.append('<text x="%d" y="%.1f" text-anchor="end">%s</text>' % (L - 6, y + 4, lab))
        e += 1
    gw = (W - L - R) / len(groups)
    present = [i for i in impls if any(i in cs and value(cs[i]) for _, cs in groups)]
    bw = gw * 0.8 / max(1, len(present))
    for g, (label, cs) in enumerate(groups):
        gx = L + g * gw + gw * 0.1
        out.append('<text x="%.1f" y="%d" text-anchor="middle">%s</text>' % (L + g * gw + gw / 2, H - B + 18, esc(label)))
        for j, i in enumerate(present):
            v = value(cs[i]) if i in cs else None
            x = gx + j * bw
            if not v:
                if i in cs and getattr(cs[i], "skip", None):
                    out.append('<text x="%.1f" y="%d" font-size="9" text-anchor="middle" fill="%s">skip</text>'
                               % (x + bw / 2, H - B - 4, COLORS[i]))
                continue
            med, lo, hi, mark = v
            y = fy(med)
            out.append('<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"/>'
                       % (x + 1, y, bw - 2, H - B - y, COLORS[i]))
            if lo and hi:
                out.append('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="black"/>'
                           % (x + bw / 2, fy(hi), x + bw / 2, fy(lo)))
            if mark:
                ym = fy(mark)
                out.append('<path d="M%.1f %.1f l4 4 l-4 4 l-4 -4 z" fill="white" stroke="black"/>'
                           % (x + bw / 2, ym - 4))
    out.append('<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#333"/>'
               % (L, T, W - L - R, H - T - B))
    out.append('<text x="18" y="%d" text-anchor="middle" transform="rotate(-90 18 %d)">%s</text>'
               % ((T + H - B) // 2, (T + H - B) // 2, esc(ylabel)))
    for j, i in enumerate(present):
        ly = T + 14 + 18 * j
        out.append('<rect x="%d" y="%d" width="14" height="10" fill="%s"/>' % (W - R + 10, ly - 9, COLORS[i]))
        out.append('<text x="%d" y="%d">%s</text>' % (W - R + 30, ly, esc(i)))
    if note:
        out.append('<text x="%d" y="%d" font-size="10" fill="#555">%s</text>' % (L, H - 8, esc(note)))
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")
    return True


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    path, outdir, command = sys.argv[1:]
    recs, notes = read(path)
    cells, unbuilt, fails = collect(recs)
    plotdir = os.path.join(outdir, "plots")
    os.makedirs(plotdir, exist_ok=True)
    md = [SECTION, ""]
    w = md.append
    cpu = cpu_model("?")
    w("Run: %s, %s; %s CPUs (`%s`), Linux %s; load average at start %s, at end %s; %s s."
      % (notes.get("date", "?"), notes.get("bench/peers/run.py", "").split(":")[-1].strip() or "?",
         os.cpu_count(), cpu, platform.release(), notes.get("loadavg.start", "?"),
         notes.get("loadavg.end", "?"), notes.get("seconds", "?")))
    w("")
    try:
        # At the start only: by the end the benchmark's own threads are in it.
        loads = [float(notes.get("loadavg.start", "0").split()[0])]
    except ValueError:
        loads = [0.0]
    if max(loads) > (os.cpu_count() or 1):
        w("**The machine was busy** (1-minute load %.1f on %d CPUs at the start, other work sharing it): "
          "wall times include waiting for a CPU, so they are inflated and noisier than CPU times; "
          "the CPU ratios are the more reliable reading of this run." % (max(loads), os.cpu_count()))
        w("")
    w("Tree: commit `%s`; peers (Debian packages): %s." % (
        notes.get("commit", "?"), ", ".join("`%s`" % v for v in notes.get("versions", "?").split())))
    w("")
    w("Command: `%s` (sources: `bench/peers/`; `peers.h` describes the workloads, and each "
      "peer's file says how that peer is used and why that is its documented way). "
      "Records: `%s`." % (command, path))
    w("")
    w("Every measurement is a fresh process; each repetition runs every implementation once "
      "per cell, in an order rotated from cell to cell and repetition to repetition. Costs "
      "are per event: **CPU** is the process's CPU time (all threads, user + system: "
      "`CLOCK_PROCESS_CPUTIME_ID`), **wall** is elapsed time, both over the measured part only. "
      "Values are medians over the repetitions with [p25–p75].")
    w("")
    if unbuilt:
        w("Not run: " + ", ".join("%s (%s)" % (k, v) for k, v in sorted(unbuilt.items())) + ".")
        w("")
    w("### Ratios: evfd ÷ best of libev, libevent, libuv (above 1 favours evfd)")
    w("")
    w("Ratio = the best peer's cost ÷ evfd's (equivalently evfd's throughput ÷ the best "
      "peer's), taken within each repetition: median [p25–p75] over the repetitions. The best "
      "peer is the one with the lowest median cost. Target (DESIGN §6): ≥ 1 "
      "everywhere, on both backends, in CPU and in wall time. Signal rows compare p50 and "
      "p99 latency instead.")
    w("")
    behind = []
    w("| workload | size | evfd io_uring: CPU | wall | evfd epoll: CPU | wall | best peer (CPU) | its CPU ns | best peer (wall) | its wall ns |")
    w("|---|---:|---:|---:|---:|---:|---|---:|---|---:|")
    for wl, title, _ in WORKLOADS:
        for (wk, n) in sorted(k for k in cells if k[0] == wl):
            impls = cells[(wk, n)]
            m0, m1 = metrics_of(wl)
            row = ["%s" % title, "{:,}".format(n)]
            for e in EVFDS:
                c = impls.get(e)
                if c is not None and c.skip and not c.by_rep:
                    row += ["skipped (errno %s)" % c.skip[0], ""]
                    continue
                for m in (m0, m1):
                    b = best_peer(impls, m)
                    r, lo, hi = ratio(impls, e, b, m) if b else (float("nan"),) * 3
                    cellv = "**%s** [%s–%s]" % (fmt_ratio(r), fmt_ratio(lo), fmt_ratio(hi))
                    row.append(cellv if r == r else "-")
            for m in (m0, m1):
                b = best_peer(impls, m)
                row += [b or "-", fmt(impls[b].med(m)) if b else "-"]
            if is_signal(wl):
                row[-4] += " (p50)"
                row[-2] += " (p99)"
            w("| " + " | ".join(row) + " |")
            for e in EVFDS:
                c = impls.get(e)
                label = "%s %s" % (SHORT[wl], "{:,}".format(n))
                if c is not None and c.skip and not c.by_rep:
                    behind.append((0.0, e, label, "skipped (errno %s)" % c.skip[0]))
                    continue
                parts, worst = [], None
                for m in (m0, m1):
                    b = best_peer(impls, m)
                    r = ratio(impls, e, b, m)[0] if b else float("nan")
                    if r == r:
                        parts.append("%s %s" % (m if is_signal(wl) else m.upper() if m == "cpu" else m,
                                                fmt_ratio(r)) + (" (%s× behind %s)" % (fmt(1 / r), b) if r < 1 else ""))
                        worst = r if worst is None else min(worst, r)
                if worst is not None and worst < 1:
                    behind.append((worst, e, label, ", ".join(parts)))
    w("")
    if behind:
        w("Below the target in this run (ratio < 1 in either metric), worst first:")
        w("")
        for e in EVFDS:
            mine = sorted((x for x in behind if x[1] == e), key=lambda x: x[0])
            if not mine:
                w("- **%s**: none." % e)
                continue
            w("- **%s**: %s." % (e, "; ".join("%s: %s" % (lab, txt) for _, _, lab, txt in mine)))
        w("")
    rearm = sorted({c.extra["rearm"] for k, impls in cells.items() for c in impls.values()
                    if "rearm" in c.extra})
    if rearm:
        w("evfd moved its pending timers by: %s (`evfd_ring_rearm_timer` is looked up with dlsym "
          "at run time; where the library lacks it, remove + add_timer is used)." % ", ".join(
              "`%s`" % x for x in rearm))
        w("")
    w("### Per implementation")
    w("")
    w("ns per event, median [p25–p75] over the repetitions (reps = how many ran). "
      "`skipped` gives the errno of the call that failed (24 = EMFILE: a descriptor per "
      "timer under RLIMIT_NOFILE).")
    for wl, title, sizelabel in WORKLOADS:
        keys = sorted(k for k in cells if k[0] == wl)
        if not keys:
            continue
        w("")
        w("**%s**" % title)
        w("")
        if is_signal(wl):
            w("| %s | impl | p50 ns | p99 ns | CPU ns per signal | reps |" % sizelabel)
            w("|---:|---|---:|---:|---:|---:|")
        else:
            w("| %s | impl | CPU ns | wall ns | reps | note |" % sizelabel)
            w("|---:|---|---:|---:|---:|---|")
        for key in keys:
            impls = cells[key]
            for i in ORDER:
                c = impls.get(i)
                if c is None:
                    continue
                if c.skip and not c.by_rep:
                    w("| {:,} | {} | skipped (errno {}: {}) | | | |".format(key[1], i, c.skip[0], c.skip[1]))
                    continue

                def s(m):
                    v = c.values(m)
                    return "%s [%s–%s]" % (fmt(quant(v, .5)), fmt(quant(v, .25)), fmt(quant(v, .75)))
                if is_signal(wl):
                    w("| {:,} | {} | {} | {} | {} | {} |".format(key[1], i, s("p50"), s("p99"), s("cpu"), len(c.by_rep)))
                else:
                    note = "re-arm by " + c.extra["rearm"] if "rearm" in c.extra else ""
                    w("| {:,} | {} | {} | {} | {} | {} |".format(key[1], i, s("cpu"), s("wall"), len(c.by_rep), note))
    if fails:
        w("")
        w("Failed runs (not in the tables): " + "; ".join(
            "%s %s ×%d (%s)" % (i, c, len(v), v[0]) for (i, c), v in sorted(fails.items())) + ".")

    # plots
    w("")
    impl_order = ORDER
    for fname, title, groups in PLOTS:
        if groups is None:
            wl = fname
            groups = [("{:,}".format(n), cells[(k, n)]) for (k, n) in sorted(cells) if k == wl]
        else:
            groups = [(label, cells[k]) for wl, label in groups for k in sorted(cells) if k[0] == wl]
        if not groups:
            continue
        if is_signal(fname):
            # per size, two groups: p50 and p99
            sgroups = []
            for label, cs in groups:
                for m in ("p50", "p99"):
                    sgroups.append((m, {i: (m, c) for i, c in cs.items()}))

            def value(pc):
                v = pc[1].values(pc[0])
                return (quant(v, .5), quant(v, .25), quant(v, .75), None) if v else None
            ok = bar_chart(os.path.join(plotdir, "peers_%s.svg" % fname), title, "latency ns (log)",
                           sgroups, impl_order, value,
                           note="median of the per-repetition percentile, with p25-p75")
        else:
            def value(c):
                v = c.values("cpu")
                if not v:
                    return None
                return (quant(v, .5), quant(v, .25), quant(v, .75), c.med("wall"))
            ok = bar_chart(os.path.join(plotdir, "peers_%s.svg" % fname), title, "ns per event (log)",
                           groups, impl_order, value,
                           note="bars: CPU ns per event, median with p25-p75; diamonds: wall ns per event")
        if ok:
            w("![%s](plots/peers_%s.svg)" % (title, fname))
            w("")

    w("Reading the numbers:")
    w("")
    w("- All peers pass distinct messages through the same mutex-protected queue (peers.h): "
      "their wake-ups (uv_async, ev_async, event_active, an eventfd, MSG_RING) coalesce or "
      "carry no payload. evfd needs no queue of the caller's: every `evfd_ring_post` is one event.")
    w("- Timer expiry starts when every timer is already due, so its wall time is processing. "
      "The kernel charges hrtimer interrupts that fire while a process sleeps to no process, so "
      "implementations with a kernel timer per timer (raw epoll: timerfds; liburing: io_uring "
      "timeouts) look cheaper in CPU than they are; compare their wall time too. evfd keeps "
      "its timers in user space on both backends.")
    w("- Timer deadlines: libev and libuv measure a relative timeout from the loop's cached "
      "time (`ev_now`, `uv_now`; the programs refresh it once before a batch), libevent from "
      "a clock read per `event_add` outside its loop. evfd's `EVFD_TIMER_REL` measures from "
      "the clock at each call, as a timerfd does (a vDSO read per timer); the `loop time` rows "
      "give evfd what the peers get: one clock read, then `EVFD_TIMER_ABS` deadlines.")
    w("- liburing and raw epoll are references, not part of the target: the ratio is against "
      "the best of libev, libevent and libuv.")
    w("")
    section = "\n".join(md).rstrip() + "\n"

    # splice into RESULTS.md
    res = os.path.join(outdir, "RESULTS.md")
    try:
        with open(res) as f:
            lines = f.read().split("\n")
    except OSError:
        lines = ["# evfd benchmark results", ""]
    start = next((i for i, l in enumerate(lines) if l.startswith("## Peers")), None)
    if start is not None:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
        lines[start:end] = section.split("\n")
    else:
        at = next((i for i, l in enumerate(lines) if l.startswith("## Before/after")), len(lines))
        lines[at:at] = section.split("\n")
    with open(res, "w") as f:
        f.write("\n".join(lines).rstrip() + "\n")
    print("wrote the peers section of %s and %s/peers_*.svg" % (res, plotdir))


if __name__ == "__main__":
    main()
