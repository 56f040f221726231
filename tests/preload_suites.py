#!/usr/bin/env python3
# SPDX-License-Identifier: MIT OR Apache-2.0
"""Other projects' own test suites, run without and with LD_PRELOAD=libevfd.so.

DESIGN §3: preloading libevfd.so changes nothing a program can observe. The
strongest evidence is the test suites of the projects that use signalfd,
eventfd and timerfd_* most, run twice with the same outcome per test:

- systemd 252's unit tests, Debian's `systemd-tests` package: every
  /usr/lib/systemd/tests/test-* binary, as systemd's own run-unit-tests.py
  picks them. Outcome of one binary: its exit status (0 pass, 77 skip,
  anything else fail; a signal or the deadline counts as its own outcome)
  and the names of the sub-tests it announced (`/* test_name */` lines).
- CPython 3.11's test_signal, test_os, test_selectors, test_threadsignals,
  test_asyncio.test_unix_events and test_subprocess (Debian's
  `libpython3.11-testsuite`), through its own runner (`python3.11 -m test`)
  with a JUnit report. Outcome of one case: passed, skipped, failure or
  error; a case that runs in one mode only is a difference too.

Excluded, as systemd's runner excludes them by default:
- /usr/lib/systemd/tests/manual/*: need a person, hardware or a booted
  systemd (e.g. test-udev, test-btrfs, test-qcow2).
- /usr/lib/systemd/tests/unsafe/*: change the machine (test-ipcrm deletes a
  user's System V IPC objects, test-watchdog arms the hardware watchdog), so
  they are not run on a shared machine.
No other test is excluded.

The compared runs differ only by LD_PRELOAD (LD_DEBUG would not do there:
the dynamic linker's log file stays open as fd 3 in every process, which
test_subprocess sees). So that a run which silently did not preload cannot
pass, the preloaded environment is proven separately and the run fails
otherwise: test-event, whose sd-event signal sources are signalfds, runs in
it with LD_DEBUG=bindings (libevfd must be loaded, libsystemd's `signalfd`
bound to libevfd, eventfd and timerfd_* to glibc); python3.11 runs in it
with LD_DEBUG=files (libevfd loaded); and no compared run may print the
dynamic linker's "cannot be preloaded".

Flakes: a test whose outcome differs is run again, twice per mode. It fails
the run only if no outcome seen in one mode was ever seen in the other;
otherwise it flakes in both modes and is listed as such.

Missing packages are installed with apt-get (root only).

Usage: preload_suites.py --lib /path/to/libevfd.so --work DIR [--jobs N]
Exit status 0 when nothing differs, 1 when something does, 2 when the run
could not be done (packages missing, preload not in effect).
"""

import argparse
import concurrent.futures
import glob
import os
import re
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

SYSTEMD_TESTS = "/usr/lib/systemd/tests"
PYTHON = "/usr/bin/python3.11"
PYTHON_TESTS = "/usr/lib/python3.11/test"
PYTHON_MODULES = [
    "test_signal",
    "test_os",
    "test_selectors",
    "test_threadsignals",
    "test_asyncio.test_unix_events",
    "test_subprocess",
]
SYSTEMD_DEADLINE = 300
PYTHON_DEADLINE = 900
RETRIES = 2
# A systemd sub-test announces itself with exactly this line (TEST() macro).
SUBTEST = re.compile(r"^/\* (test_\w+) \*/$", re.M)
MODES = ("plain", "preload")


def say(*args):
    print("preload-suites:", *args, flush=True)


class Abort(Exception):
    """The run could not be done: exit status 2."""


def install_missing():
    wanted = []
    if not os.path.exists(os.path.join(SYSTEMD_TESTS, "test-event")):
        wanted.append("systemd-tests")
    if not (os.path.exists(PYTHON) and os.path.exists(os.path.join(PYTHON_TESTS, "test_signal.py"))):
        wanted.append("libpython3.11-testsuite")
    if not wanted:
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise Abort(f"missing {' '.join(wanted)} and cannot apt-get install (not root on Debian)")
    say("installing", *wanted)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], env=env, check=True)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *wanted],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )


def environment(mode, lib, debug=None, ld_dir=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("LD_")}
    env["LC_ALL"] = "C.UTF-8"
    if mode == "preload":
        env["LD_PRELOAD"] = lib
    if debug:
        env["LD_DEBUG"] = debug
        env["LD_DEBUG_OUTPUT"] = os.path.join(ld_dir, "ld")
    return env


def not_preloaded(output_path, what):
    """The dynamic linker says so on stderr when it cannot preload."""
    with open(output_path, errors="replace") as f:
        text = f.read()
    if "cannot be preloaded" in text:
        return f"{what}: the dynamic linker could not preload libevfd"
    return None


def ld_debug_logs(ld_dir):
    log = ""
    for path in glob.glob(os.path.join(ld_dir, "ld.*")):
        with open(path, errors="replace") as f:
            log += f.read()
    return log


def start(argv, cwd, mode, lib):
    """Starts `argv` in a fresh directory `cwd`, its output in cwd/output,
    in a session of its own (so a deadline can end all its processes)."""
    shutil.rmtree(cwd, ignore_errors=True)
    os.makedirs(cwd)
    with open(os.path.join(cwd, "output"), "wb") as out:
        return subprocess.Popen(
            argv,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=environment(mode, lib),
            start_new_session=True,
        )


def wait_or_kill(proc, deadline):
    """`proc`'s exit status, or None once `deadline` seconds have passed
    (its whole session is then killed)."""
    try:
        return proc.wait(deadline)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        proc.wait()
        return None


def run_systemd_test(path, mode, lib, work, attempt):
    name = os.path.basename(path)
    cwd = os.path.join(work, "systemd", f"{name}.{mode}.{attempt}")
    proc = start([path], cwd, mode, lib)
    rc = wait_or_kill(proc, SYSTEMD_DEADLINE)
    if rc is None:
        rc = "deadline"
    out_path = os.path.join(cwd, "output")
    with open(out_path, errors="replace") as f:
        subtests = tuple(SUBTEST.findall(f.read()))
    return (rc, subtests), not_preloaded(out_path, f"{name} [{mode}]")


def systemd_pair(path, lib, work, attempt):
    """One test in both modes, one after the other: the two runs of one
    binary must not share its fixed paths or names at the same time."""
    results = {}
    problems = []
    for mode in MODES:
        outcome, problem = run_systemd_test(path, mode, lib, work, attempt)
        results[mode] = outcome
        if problem:
            problems.append(problem)
    return results, problems


def describe(outcome):
    rc, subtests = outcome
    return f"exit {rc}, {len(subtests)} sub-tests"


def run_python(mode, lib, work, tag, modules, matches=()):
    """Starts CPython's runner over `modules`; returns (process, report path, ld dir)."""
    cwd = os.path.join(work, "python", f"{tag}.{mode}")
    report = os.path.join(cwd, "junit.xml")
    argv = [
        PYTHON,
        "-m",
        "test",
        f"-j{len(modules)}",
        "--timeout",
        str(PYTHON_DEADLINE // 2),
        "--junit-xml",
        report,
        *modules,
    ]
    for m in matches:
        argv += ["-m", m]
    return start(argv, cwd, mode, lib), report, cwd


def python_outcomes(proc, report, mode, lib, cwd):
    wait_or_kill(proc, PYTHON_DEADLINE)
    outcomes = {}
    try:
        root = ET.parse(report).getroot()
    except (OSError, ET.ParseError):
        root = None
    if root is not None:
        for case in root.iter("testcase"):
            kinds = [child.tag for child in case if child.tag in ("skipped", "failure", "error")]
            # The runner also writes an empty <testcase/> per module.
            if case.get("name"):
                outcomes[case.get("name")] = kinds[0] if kinds else "passed"
    return outcomes, not_preloaded(os.path.join(cwd, "output"), f"python3.11 -m test [{mode}]")


def module_of(case):
    """The runner's name for the module a case id belongs to."""
    for module in sorted(PYTHON_MODULES, key=len, reverse=True):
        if case.startswith(f"test.{module}."):
            return module
    return None


def bindings_check(lib, work):
    """test-event under LD_DEBUG=bindings: libsystemd's signalfd is libevfd's."""
    cwd = os.path.join(work, "bindings")
    shutil.rmtree(cwd, ignore_errors=True)
    os.makedirs(cwd)
    subprocess.run(
        [os.path.join(SYSTEMD_TESTS, "test-event")],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=environment("preload", lib, "bindings", cwd),
        timeout=SYSTEMD_DEADLINE,
    )
    log = ld_debug_logs(cwd)

    def bound(symbol, obj):
        return [
            line
            for line in log.splitlines()
            if f"`{symbol}'" in line and obj in line.split(" to ", 1)[-1].split(":")[0]
        ]

    problems = []
    if "libevfd" not in log:
        problems.append("test-event: LD_DEBUG=bindings shows no libevfd at all")
    to_evfd = bound("signalfd", "libevfd")
    if not any("libsystemd-shared" in line.split(" to ", 1)[0] for line in to_evfd):
        problems.append("test-event: libsystemd-shared's signalfd was not bound to libevfd")
    for symbol in ("eventfd", "timerfd_create", "timerfd_settime"):
        if bound(symbol, "libevfd") or not bound(symbol, "libc.so"):
            problems.append(f"test-event: {symbol} should be bound to glibc")
    say(f"bindings: {len(to_evfd)} reference(s) to signalfd bound to libevfd in test-event")

    cwd = os.path.join(work, "python-files")
    os.makedirs(cwd)
    subprocess.run(
        [PYTHON, "-c", "import signal, os"],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        env=environment("preload", lib, "files", cwd),
        timeout=60,
    )
    if lib not in ld_debug_logs(cwd):
        problems.append(f"{PYTHON}: LD_DEBUG=files shows {lib} was not loaded")
    return problems


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--lib", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--jobs", type=int, default=3)
    args = parser.parse_args()
    lib = os.path.abspath(args.lib)
    work = os.path.abspath(args.work)
    start = time.monotonic()
    try:
        if not os.path.exists(lib):
            raise Abort(f"{lib} does not exist")
        install_missing()
        shutil.rmtree(work, ignore_errors=True)
        os.makedirs(work)
        problems = bindings_check(lib, work)
        if problems:
            raise Abort("; ".join(problems))
        return compare(lib, work, args.jobs, start)
    except Abort as e:
        say("cannot run:", e)
        return 2


def compare(lib, work, jobs, start):
    differences = []
    flaky = []
    problems = []

    # CPython first, in the background: test_signal alone sleeps for most of
    # a minute, while the systemd binaries keep the CPUs busy.
    py_runs = {mode: run_python(mode, lib, work, "all", PYTHON_MODULES) for mode in MODES}

    tests = sorted(p for p in glob.glob(os.path.join(SYSTEMD_TESTS, "test-*")) if os.access(p, os.X_OK))
    if len(tests) < 200:
        raise Abort(f"only {len(tests)} systemd tests in {SYSTEMD_TESTS}")
    seen = {}
    with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
        futures = {pool.submit(systemd_pair, t, lib, work, 0): t for t in tests}
        for future in concurrent.futures.as_completed(futures):
            results, found = future.result()
            problems += found
            seen[futures[future]] = {mode: {results[mode]} for mode in MODES}
        changed = [t for t in tests if seen[t]["plain"] != seen[t]["preload"]]
        for attempt in range(1, RETRIES + 1):
            for t, (results, found) in zip(
                changed, pool.map(lambda t: systemd_pair(t, lib, work, attempt), changed)
            ):
                problems += found
                for mode in MODES:
                    seen[t][mode].add(results[mode])
    for t in changed:
        name = os.path.basename(t)
        plain, preload = seen[t]["plain"], seen[t]["preload"]
        text = f"{name}: plain {sorted(map(describe, plain))}, preload {sorted(map(describe, preload))}"
        (flaky if plain & preload else differences).append("systemd " + text)
    sd_counts = {}
    for t in tests:
        rc = next(iter(seen[t]["plain"]))[0]
        kind = "pass" if rc == 0 else "skip" if rc == 77 else "fail"
        sd_counts[kind] = sd_counts.get(kind, 0) + 1
    subtests = sum(len(next(iter(seen[t]["plain"]))[1]) for t in tests)
    say(
        f"systemd: {len(tests)} binaries, {subtests} sub-tests "
        f"({', '.join(f'{v} {k}' for k, v in sorted(sd_counts.items()))} without preload) "
        f"at {time.monotonic() - start:.0f}s"
    )

    py = {}
    for mode in MODES:
        outcomes, problem = python_outcomes(*py_runs[mode][:2], mode, lib, py_runs[mode][2])
        py[mode] = outcomes
        if problem:
            problems.append(problem)
    if not py["plain"] or not py["preload"]:
        raise Abort("CPython's runner wrote no JUnit report (see " + os.path.join(work, "python") + ")")
    cases = sorted(set(py["plain"]) | set(py["preload"]))
    py_seen = {c: {mode: {py[mode].get(c, "absent")} for mode in MODES} for c in cases}
    changed = [c for c in cases if py_seen[c]["plain"] != py_seen[c]["preload"]]
    for attempt in range(1, RETRIES + 1):
        if not changed:
            break
        modules = sorted({module_of(c) for c in changed if module_of(c)})
        # A case absent from a report (its module crashed) is retried with
        # its whole module; the others by their full id.
        matches = () if any("absent" in py_seen[c]["plain"] | py_seen[c]["preload"] for c in changed) else changed
        runs = {mode: run_python(mode, lib, work, f"retry{attempt}", modules, matches) for mode in MODES}
        for mode in MODES:
            outcomes, problem = python_outcomes(*runs[mode][:2], mode, lib, runs[mode][2])
            if problem:
                problems.append(problem)
            for c in changed:
                py_seen[c][mode].add(outcomes.get(c, "absent"))
    for c in changed:
        plain, preload = py_seen[c]["plain"], py_seen[c]["preload"]
        text = f"{c}: plain {sorted(plain)}, preload {sorted(preload)}"
        (flaky if plain & preload else differences).append("CPython " + text)
    py_counts = {}
    for outcome in py["plain"].values():
        py_counts[outcome] = py_counts.get(outcome, 0) + 1
    say(
        f"CPython: {len(cases)} cases in {len(PYTHON_MODULES)} modules "
        f"({', '.join(f'{v} {k}' for k, v in sorted(py_counts.items()))} without preload) "
        f"at {time.monotonic() - start:.0f}s"
    )

    for line in flaky:
        say("flaky in both modes (not a difference):", line)
    for line in problems:
        say("PRELOAD NOT PROVEN:", line)
    for line in differences:
        say("DIFFERS:", line)
    say(f"work directory: {work}")
    if problems:
        return 2
    if differences:
        say(f"{len(differences)} test(s) behave differently under LD_PRELOAD={lib}")
        return 1
    say(f"no test behaves differently under LD_PRELOAD ({time.monotonic() - start:.0f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
