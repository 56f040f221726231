#!/usr/bin/env python3
# SPDX-License-Identifier: MIT OR Apache-2.0
"""Turns the records of the evfd benchmarks into RESULTS.md and SVG plots.

    python3 bench/report.py <records dir> <report dir>

<records dir> holds <program>.txt (one record per line: `<table> k=v ...`)
plus `commands`, `features`, `loadavg.start`, `loadavg.end`, `date.start`
as `make bench` writes them. The report goes to <report dir>/RESULTS.md and
the plots to <report dir>/plots/*.svg. Standard library only: the SVG is
written by hand.
"""

import math
import os
import platform
import sys

from cpu_model import cpu_model

PROGRAMS = ["overhead", "latency", "timers", "scale", "ring_registration"]
FEATURE_OF = {
    "eventfs": "`evfd_eventfs_signalfd` (eventfs branch)",
    "ring": "the event ring `evfd_ring_*` (ring branch)",
    "unprefixed-signalfd": "the unprefixed `signalfd` export (preload branch)",
    "unprefixed-signalfd-not-found": "the unprefixed `signalfd` export (declared but not found by dlsym)",
}


def read_records(indir):
    recs = []
    for prog in PROGRAMS:
        path = os.path.join(indir, prog + ".txt")
        if not os.path.exists(path):
            continue
        with open(path) as f:
            for line in f:
                line = line.strip()
                if not line or line.startswith("#"):
                    continue
                parts = line.split()
                rec = {"_table": parts[0], "_prog": prog}
                for p in parts[1:]:
                    if "=" in p:
                        k, v = p.split("=", 1)
                        rec[k] = v
                recs.append(rec)
    return recs


def rows(recs, tname, **match):
    return [r for r in recs if r["_table"] == tname and all(r.get(k) == v for k, v in match.items())]


def num(x):
    return float(x)


def slurp(indir, name, default=""):
    try:
        with open(os.path.join(indir, name)) as f:
            return f.read().strip()
    except OSError:
        return default


def machine(indir):
    cpu = cpu_model()
    # `make bench` notes the commit (and uncommitted source changes) when
    # the run starts, so regenerating the report later keeps the run's own.
    lines = slurp(indir, "commit").splitlines()
    commit = lines[0] if lines else "unknown"
    if len(lines) > 1:
        commit += " plus uncommitted changes to " + ", ".join(
            sorted(set(line[3:] for line in lines[1:])))
    return {"nproc": str(os.cpu_count()), "cpu": cpu, "kernel": platform.release(),
            "commit": commit}


def us(ns):
    return "%.1f" % (num(ns) / 1000.0)


# ---------------------------------------------------------------- SVG

COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
          "#17becf"]


def esc(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def nice_log_ticks(lo, hi):
    ticks = []
    e = math.floor(math.log10(lo))
    while 10 ** e <= hi * 1.0001:
        for m in (1, 2, 5):
            v = m * 10 ** e
            if lo * 0.9999 <= v <= hi * 1.0001:
                ticks.append(v)
        e += 1
    return ticks


def nice_step(raw):
    """The smallest 1, 2 or 5 times a power of ten that is at least raw."""
    e = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        if m * e >= raw:
            return m * e
    return 10 * e


def fmt_tick(v):
    if v >= 1e6:
        return "%gM" % (v / 1e6)
    if v >= 1e3:
        return "%gk" % (v / 1e3)
    return "%g" % v


def line_chart(path, title, xlabel, ylabel, series, xlog=False, ylog=True, xticks=None,
               note=None):
    """series: list of (name, [(x, y)], dashed). Writes an SVG to path."""
    W, H, L, R, T, B = 760, 440, 80, 190, 40, 60
    pts = [(x, y) for _, s, _ in series for x, y in s if (not ylog or y > 0) and (not xlog or x > 0)]
    if not pts:
        return False
    xs = [p[0] for p in pts]
    ys = [p[1] for p in pts]
    x0, x1 = min(xs), max(xs)
    y0, y1 = min(ys), max(ys)
    if ylog:
        y0 = 10 ** math.floor(math.log10(y0))
        y1 = 10 ** math.ceil(math.log10(y1))
    else:
        y0 = 0.0
        y1 = y1 * 1.05 if y1 > 0 else 1.0
    if xlog:
        x0 = 10 ** math.floor(math.log10(x0))
        x1 = 10 ** math.ceil(math.log10(x1))
    if x1 == x0:
        x1 = x0 + 1

    def fx(x):
        if xlog:
            return L + (math.log10(x) - math.log10(x0)) / (math.log10(x1) - math.log10(x0)) * (W - L - R)
        return L + (x - x0) / (x1 - x0) * (W - L - R)

    def fy(y):
        if ylog:
            return H - B - (math.log10(y) - math.log10(y0)) / (math.log10(y1) - math.log10(y0)) * (H - T - B)
        return H - B - (y - y0) / (y1 - y0) * (H - T - B)

    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
           'font-family="sans-serif" font-size="12">' % (W, H),
           '<rect width="100%" height="100%" fill="white"/>',
           '<text x="%d" y="22" font-size="15" font-weight="bold">%s</text>' % (L, esc(title))]
    # grid and ticks
    if not ylog:
        step = nice_step((y1 - y0) / 5)
        y1 = math.ceil(y1 / step) * step
    yt = nice_log_ticks(y0, y1) if ylog else [y0 + step * i for i in range(int(round((y1 - y0) / step)) + 1)]
    for v in yt:
        y = fy(v)
        out.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>' % (L, y, W - R, y))
        out.append('<text x="%d" y="%.1f" text-anchor="end">%s</text>' % (L - 6, y + 4, fmt_tick(v)))
    if xticks is None:
        xticks = [(v, fmt_tick(v)) for v in (nice_log_ticks(x0, x1) if xlog else
                                              [x0 + (x1 - x0) * i / 5 for i in range(6)])]
        if xlog:
            xticks = [(v, l) for v, l in xticks if math.log10(v) == int(math.log10(v))]
    for v, label in xticks:
        x = fx(v)
        out.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/>' % (x, T, x, H - B))
        out.append('<text x="%.1f" y="%d" text-anchor="middle">%s</text>' % (x, H - B + 16, esc(label)))
    out.append('<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#333"/>'
               % (L, T, W - L - R, H - T - B))
    out.append('<text x="%d" y="%d" text-anchor="middle">%s</text>' % ((L + W - R) // 2, H - 18, esc(xlabel)))
    out.append('<text x="18" y="%d" text-anchor="middle" transform="rotate(-90 18 %d)">%s</text>'
               % ((T + H - B) // 2, (T + H - B) // 2, esc(ylabel)))
    for i, (name, s, dashed) in enumerate(series):
        color = COLORS[i % len(COLORS)]
        p = [(fx(x), fy(y)) for x, y in s if (not ylog or y > 0) and (not xlog or x > 0)]
        if not p:
            continue
        dash = ' stroke-dasharray="6,4"' if dashed else ""
        out.append('<polyline fill="none" stroke="%s" stroke-width="2"%s points="%s"/>'
                   % (color, dash, " ".join("%.1f,%.1f" % q for q in p)))
        if len(p) <= 12:
            for q in p:
                out.append('<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>' % (q[0], q[1], color))
        ly = T + 14 + 18 * i
        out.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2"%s/>'
                   % (W - R + 10, ly - 4, W - R + 34, ly - 4, color, dash))
        out.append('<text x="%d" y="%d">%s</text>' % (W - R + 40, ly, esc(name)))
    if note:
        out.append('<text x="%d" y="%d" font-size="10" fill="#555">%s</text>' % (L, H - 4, esc(note)))
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")
    return True


def nines(q):
    """Percentile axis that spreads the tail: 0.9 -> 1, 0.99 -> 2, 0.999 -> 3."""
    return -math.log10(1.0 - q) if q < 1 else None


NINES_TICKS = [(0.0, "p0"), (math.log10(2), "p50"), (1.0, "p90"), (2.0, "p99"),
               (3.0, "p99.9"), (4.0, "p99.99")]


# ---------------------------------------------------------------- report

def main():
    indir, outdir = sys.argv[1], sys.argv[2]
    plotdir = os.path.join(outdir, "plots")
    os.makedirs(plotdir, exist_ok=True)
    recs = read_records(indir)
    m = machine(indir)
    quick = slurp(indir, "commands").find("BENCH_QUICK=1") >= 0
    md = []
    w = md.append
    w("# evfd benchmark results\n")
    if quick:
        w("**Quick smoke run (BENCH_QUICK=1): small sample sizes, not for quoting.**\n")
    w("Written by `bench/report.py` from the records of `make bench%s`; do not edit by hand.\n"
      % (" BENCH_QUICK=1" if quick else ""))
    w("## Run\n")
    w("- Date: %s" % slurp(indir, "date.start", "unknown"))
    w("- Machine: %s CPUs (`nproc`), `%s` (/proc/cpuinfo), Linux %s" % (m["nproc"], m["cpu"], m["kernel"]))
    w("- Load average (1/5/15 min) at start: %s; at end: %s"
      % (" ".join(slurp(indir, "loadavg.start").split()[:3]),
         " ".join(slurp(indir, "loadavg.end").split()[:3])))
    w("- The machine is a shared VM (2 vCPUs, several other agents building and testing at the "
      "same time), so absolute times are noisy; every comparison below is between the two "
      "sides measured **in the same run, interleaved**, and should be read as a ratio.")
    w("- Source: commit `%s`; feature switches: `%s`" % (m["commit"], slurp(indir, "features") or "(none)"))
    nofile = rows(recs, "nofile")
    if nofile:
        n = nofile[0]
        w("- RLIMIT_NOFILE: hard limit %s; raised soft limit to %s%s" % (
            n["hard_before"], n["soft"],
            "" if n["raised_hard"] == "1" else
            " (raising the hard limit is not permitted here: no CAP_SYS_RESOURCE), so the "
            "descriptor-based series stop just under it instead of at 100,000"))
    w("\nCommands (from the repository root):\n")
    w("```sh")
    w("make bench%s" % (" BENCH_QUICK=1" if quick else ""))
    w("# which ran:")
    for c in slurp(indir, "commands").splitlines():
        w(c)
    w("```\n")

    missing = rows(recs, "missing")
    if missing:
        w("### Not measured in this run\n")
        w("These rows need features that had **not landed on this branch at the time of the "
          "run**; the code that measures them is in place behind the switches of "
          "`bench/features.sh` and runs as soon as they are merged:\n")
        for r in missing:
            w("- %s / `%s`: needs %s" % (r["table"], r["what"], FEATURE_OF.get(r["feature"], r["feature"])))
        w("")
    failed = rows(recs, "failed")
    for r in failed:
        w("- **FAILED**: %s `%s` (%s) exited with status %s; no numbers for it.\n"
          % (r["table"], r.get("variant", "?"), r.get("mode", ""), r.get("status", "?")))

    # 1. overhead
    w("## 1. Call overhead: evfd vs the raw system call\n")
    w("ns per operation of the measuring thread's **CPU time** (so time the shared machine "
      "spent on other tenants does not count); each side's median with [p25–p75] over the "
      "repetitions. The ratio is the median of the per-repetition ratios evfd/raw (paired: each "
      "repetition runs both sides back to back, order alternating), with [p25–p75] and "
      "(min–max). The wall-time ratio (median [p25–p75]) is given too; for the operations that "
      "wait for a timer interrupt it is the meaningful one. Target: ratio ≤ 1.05.\n")
    w("| operation | evfd side | raw side | evfd CPU ns | raw CPU ns | ratio evfd/raw (CPU) | wall ratio | reps × iters | ≤ 1.05? |")
    w("|---|---|---|---|---|---|---|---|---|")
    for r in rows(recs, "overhead"):
        ok = num(r["ratio_med"]) <= 1.05
        w("| %s | `%s` | `%s` | %s [%s–%s] | %s [%s–%s] | **%.3f** [%s–%s] (%s–%s) | %s [%s–%s] | %s × %s | %s |" % (
            r["op"], r["evfd"], r["raw"], "%.0f" % num(r["evfd_med"]), "%.0f" % num(r["evfd_p25"]),
            "%.0f" % num(r["evfd_p75"]), "%.0f" % num(r["raw_med"]), "%.0f" % num(r["raw_p25"]),
            "%.0f" % num(r["raw_p75"]), num(r["ratio_med"]), r["ratio_p25"], r["ratio_p75"],
            r["ratio_min"], r["ratio_max"], r["wall_ratio_med"], r["wall_ratio_p25"],
            r["wall_ratio_p75"], r["reps"], r["iters"], "yes" if ok else "**no**"))
    for r in missing:
        if r["table"] == "overhead":
            w("| %s | — | — | not measured | not measured | — | — | — | feature not landed |" % r["what"])
    w("")
    w("Notes: `timerfd_rearm` and `timerfd_arm_expire_read` re-arm an *existing* timer through "
      "`evfd_timerfd(fd, ...)`, which must check the timer's clock: Linux reveals that only in "
      "`/proc/self/fdinfo/<fd>`, so evfd opens and reads that file on every re-arm (see the "
      "README's decisions). Creating a timer does not pay this. `timerfd_read` arms both fds "
      "the same raw way and shows the descriptor itself is an ordinary kernel timerfd. Its "
      "large absolute time is the kernel's: an already-expired absolute timer still waits "
      "for the timer interrupt before `read` returns.\n")

    # 2. latency
    w("## 2. Signal-to-wakeup latency\n")
    w("From the sender's `kill()` to the receiving loop having consumed the event (poll + "
      "read, or `evfd_ring_wait`), one signal in flight at a time; µs. Percentiles over all "
      "signals of all rounds; \"round p50\" is the range of the per-round medians (receivers "
      "rotate between rounds, each round in a fresh process). Ratios are of p50s.\n")
    for mode in ("thread", "process"):
        lat = rows(recs, "latency", mode=mode)
        if not lat and not missing:
            continue
        base = {r["variant"]: num(r["p50_ns"]) for r in lat}
        w("### Sender: another %s\n" % mode)
        w("| receiver | signals | p50 | p90 | p99 | p99.9 | max | round p50 (min–max) | p50 / signalfd | p50 / self-pipe |")
        w("|---|---|---|---|---|---|---|---|---|---|")
        for r in lat:
            p50 = num(r["p50_ns"])
            w("| %s | %s | **%s** | %s | %s | %s | %s | %s–%s | %s | %s |" % (
                r["variant"], r["n"], us(r["p50_ns"]), us(r["p90_ns"]), us(r["p99_ns"]), us(r["p999_ns"]),
                us(r["max_ns"]), us(r["round_p50_min"]), us(r["round_p50_max"]),
                "%.2f" % (p50 / base["signalfd"]) if "signalfd" in base else "—",
                "%.2f" % (p50 / base["selfpipe"]) if "selfpipe" in base else "—"))
        for r in missing:
            if r["table"] == "latency":
                w("| %s | — | not measured: feature not landed | | | | | | | |" % r["what"])
        w("")
        series = []
        for r in lat:
            pts = [(nines(num(c["q"])), num(c["ns"]) / 1000.0)
                   for c in rows(recs, "latcdf", variant=r["variant"], mode=mode) if num(c["q"]) < 1]
            series.append((r["variant"], pts, r["variant"] == "selfpipe"))
        if line_chart(os.path.join(plotdir, "latency_%s.svg" % mode),
                      "Signal-to-wakeup latency, sender = another %s" % mode,
                      "percentile", "latency (µs, log)", series, xticks=NINES_TICKS,
                      note="%s, %s CPUs, Linux %s" % (m["cpu"], m["nproc"], m["kernel"])):
            w("![latency percentiles, %s sender](plots/latency_%s.svg)\n" % (mode, mode))
    eventfs_measured = any(r["variant"].startswith("eventfs") for r in rows(recs, "latency"))
    w("Targets: eventfs p50 within 1.2× of signalfd and no worse than the self-pipe "
      "(see the ratio columns%s).\n"
      % ("; the self-pipe row shows what any handler-based receiver starts from"
         if eventfs_measured else "; not measurable until eventfs lands"))

    # 3. timers
    w("## 3. Timer precision and many timers\n")
    tp = rows(recs, "timer_precision")
    if tp:
        w("SEQ timers, evfd (`evfd_timerfd`) and raw (`timerfd_create`+`timerfd_settime`), "
          "%s s per side in %s segments per side that alternate evfd, raw, raw, evfd, ... (the "
          "three periods of one side run together, each timer read by its own blocking thread; "
          "the two sides never run at the same time, so neither is systematically woken second). "
          "Lateness of the newest expiration at each wakeup, µs. \"expirations / due\" compares the kernel's "
          "count with the number of periods elapsed by the last read (equal = none lost). "
          "Overruns: reads that returned more than one expiration.\n" % (tp[0]["seconds"], tp[0]["segments"]))
        w("| period | side | reads | expirations / due | overruns | late p50 | p90 | p99 | p99.9 | max | p50 evfd/raw |")
        w("|---|---|---|---|---|---|---|---|---|---|---|")
        for r in tp:
            other = [o for o in tp if o["period_ms"] == r["period_ms"] and o["side"] == "raw"]
            ratio = "%.2f" % (num(r["late_p50_ns"]) / num(other[0]["late_p50_ns"])) \
                if r["side"] == "evfd" and other else ""
            w("| %s ms | %s | %s | %s / %s | %s | %s | %s | %s | %s | %s | %s |" % (
                r["period_ms"], r["side"], r["reads"], r["expirations"], r["due"], r["overruns"],
                us(r["late_p50_ns"]), us(r["late_p90_ns"]), us(r["late_p99_ns"]), us(r["late_p999_ns"]),
                us(r["late_max_ns"]), ratio))
        w("")
        series = []
        for r in tp:
            pts = [(num(c["q"]) * 100, max(num(c["ns"]), 1.0) / 1000.0)
                   for c in rows(recs, "timercdf", side=r["side"], period_ms=r["period_ms"])]
            series.append(("%s %s ms" % (r["side"], r["period_ms"]), pts, r["side"] == "raw"))
        if line_chart(os.path.join(plotdir, "timer_lateness.svg"), "SEQ timer lateness per wakeup",
                      "percentile of wakeups", "lateness (µs, log)", series,
                      xticks=[(v, "p%d" % v) for v in (0, 25, 50, 75, 90, 100)]):
            w("![timer lateness percentiles](plots/timer_lateness.svg)\n")
    tm = rows(recs, "timer_many")
    w("### Many concurrent timers\n")
    w("N one-shot timers due at the same absolute time, consumed by one thread (epoll_wait + "
      "read for descriptors; `evfd_ring_wait` for the ring). Create = create and arm, per "
      "timer. CPU = the consumer thread's CPU time per expiration (median of the repetitions, "
      "with the range). RSS/slab: growth while creating, per timer (slab is machine-wide and "
      "noisy; small N rounds to zero).\n")
    w("| kind | N | reps | create ns/timer | fds/timer | RSS B/timer | slab B/timer | consumer CPU ns/expiration (min–max) | drain ms after due |")
    w("|---|---|---|---|---|---|---|---|---|")
    for r in tm:
        n = num(r["n"])
        w("| %s | %s | %s | %.0f | %s | %.0f | %.0f | %s (%s–%s) | %s |" % (
            r["kind"], r["n"], r["reps"], num(r["create_ns"]), r["fds_per_timer"],
            num(r["rss_kb"]) * 1024 / n, num(r["slab_kb"]) * 1024 / n, r["cpu_per_exp_ns"],
            r["cpu_per_exp_min"], r["cpu_per_exp_max"], r["drain_ms"]))
    for r in missing:
        if r["table"] == "timer_many":
            w("| %s | — | — | not measured: feature not landed | | | | | |" % r["what"])
    w("")
    kinds = []
    for r in tm:
        if r["kind"] not in kinds:
            kinds.append(r["kind"])
    series = [(k, [(num(r["n"]), num(r["cpu_per_exp_ns"])) for r in tm if r["kind"] == k], False)
              for k in kinds]
    if line_chart(os.path.join(plotdir, "timers_many.svg"), "Consumer CPU per timer expiration",
                  "concurrent timers N", "ns per expiration (log)", series, xlog=True):
        w("![timer cost against N](plots/timers_many.svg)\n")

    # 4. scale
    sc = rows(recs, "scale")
    w("## 4. Scale: sources from 1 to 100,000\n")
    w("N sources of one kind (one active, N-1 idle: signalfds/eventfs fds for SIGUSR2 and "
      "SIGRTMIN..SIGRTMAX in turn while SIGUSR1 is sent; eventfds written round robin), all "
      "in one epoll set. Per event: "
      "trigger, epoll_wait, read; wall and CPU time, median of repeated blocks with the range. "
      "Memory per source from VmRSS and machine-wide Slab growth while creating them (slab is "
      "noisy: other processes allocate too). fds/source counts /proc/self/fd before and after "
      "creating; eventfs reclaims the internal descriptors of closed fds lazily (DESIGN §2.4: "
      "at the latest on the next evfd call), so its figure at small N can be off, even "
      "negative.\n")
    for r in rows(recs, "limit", table="scale"):
        if r.get("kind") == "all":
            w("The descriptor limit (%s) stopped the series below the wanted %s sources.\n"
              % (r["nofile"], r["wanted"]))
        else:
            w("- `%s`: only %s of %s sources could be made (%s).\n"
              % (r["kind"], r["made"], r["wanted"], r["errno"]))
    w("| kind | N | fds/source | RSS B/source | slab B/source | create ns | event CPU ns (min–max) | event wall ns (min–max) | CPU vs N=1 |")
    w("|---|---|---|---|---|---|---|---|---|")
    first = {}
    for r in sc:
        first.setdefault(r["kind"], num(r["event_cpu_med"]))
        w("| %s | %s | %s | %s | %s | %s | %s (%s–%s) | %s (%s–%s) | %.1f× |" % (
            r["kind"], r["n"], r["fds_per_source"], r["rss_b_per_source"], r["slab_b_per_source"],
            r["create_ns"], r["event_cpu_med"], r["event_cpu_min"], r["event_cpu_max"],
            r["event_wall_med"], r["event_wall_min"], r["event_wall_max"],
            num(r["event_cpu_med"]) / first[r["kind"]]))
    for r in missing:
        if r["table"] == "scale":
            w("| %s | — | not measured: feature not landed | | | | | | |" % r["what"])
    w("")
    kinds = []
    for r in sc:
        if r["kind"] not in kinds:
            kinds.append(r["kind"])
    series = [(k, [(num(r["n"]), num(r["event_cpu_med"])) for r in sc if r["kind"] == k], False)
              for k in kinds]
    if line_chart(os.path.join(plotdir, "scale_event_cost.svg"), "CPU per event with N sources registered",
                  "sources N (one active)", "ns per event (log)", series, xlog=True):
        w("![per-event cost against N](plots/scale_event_cost.svg)\n")
    series = [(k, [(num(r["n"]), num(r["slab_b_per_source"]) + num(r["rss_b_per_source"]))
                   for r in sc if r["kind"] == k and num(r["n"]) >= 1000], False) for k in kinds]
    if line_chart(os.path.join(plotdir, "scale_memory.svg"), "Memory per source (RSS + kernel slab growth)",
                  "sources N", "bytes per source", series, xlog=True, ylog=False,
                  note="N >= 1000 only: smaller N is below the resolution of the kB counters"):
        w("![memory per source against N](plots/scale_memory.svg)\n")

    # Ring v2 item 7: registration cost against registered sources.
    reg = rows(recs, "registration")
    if reg:
        w("## Ring registration cost against registered sources\n")
        w("`bench/ring_registration.c`: thread CPU per operation (median [p25-p75] of "
          "alternating repetitions) with 64 and with 65,536 sources already registered "
          "(one-shot timers an hour away). A ratio near 1 shows that nothing scans the "
          "sources; timers are a 4-ary heap, so re-arming may grow with log n and with "
          "cache misses. The fd path's cost is the ring finding out what the fd is "
          "(`/proc/self/fd` and, for an eventfd, its fdinfo), the same at any size.\n")
        w("| backend | operation | 64 sources (ns) | 65,536 sources (ns) | ratio |")
        w("|---|---|---|---|---|")
        for r in reg:
            if r["sources"] != "64":
                continue
            big = [x for x in reg if x["backend"] == r["backend"] and x["op"] == r["op"]
                   and x["sources"] == "65536"]
            if not big:
                continue
            b = big[0]
            w("| %s | `%s` | %.0f [%.0f-%.0f] | %.0f [%.0f-%.0f] | %.2f |" % (
                r["backend"], r["op"], num(r["ns_med"]), num(r["ns_p25"]), num(r["ns_p75"]),
                num(b["ns_med"]), num(b["ns_p25"]), num(b["ns_p75"]),
                num(b["ns_med"]) / num(r["ns_med"])))
        w("")

    # The ring against epoll_wait + read: its own report (bench/ring_report.py)
    # is written first into the records and becomes a section here.
    ring = slurp(indir, "ring.md", "")
    if ring:
        body = [l for l in ring.splitlines() if not l.startswith("# ")]
        md.append("\n".join(body).replace("](ring_bench.svg)", "](plots/ring_bench.svg)").strip() + "\n")

    md.append("## Before/after experiments\n")
    md.append("Measurements of single changes (the eventfs handler's descriptor check, the "
              "ring's burst path), with their commands, are kept in "
              "[EXPERIMENTS.md](EXPERIMENTS.md): this file is regenerated whole by `make bench`.\n")

    with open(os.path.join(outdir, "RESULTS.md"), "w") as f:
        f.write("\n".join(md) + "\n")
    print("wrote %s and %s/*.svg" % (os.path.join(outdir, "RESULTS.md"), plotdir))


if __name__ == "__main__":
    main()
