// SPDX-License-Identifier: MIT OR Apache-2.0
//! Real, unmodified Debian programs that use glibc's `signalfd`, `eventfd`
//! or `timerfd_*`, each run twice — on their own and with
//! `LD_PRELOAD=libevfd.so` — must print the same stdout and stderr and exit
//! the same way (DESIGN §3: preloading changes nothing a program can
//! observe). A third run with `LD_DEBUG=bindings` proves the preload took:
//! libevfd was loaded and, where the program calls `signalfd`, that call
//! was bound to libevfd's. A program that is not installed is skipped with
//! a message, not failed.
//!
//! One test here checks a documented risk instead of an equality: a shared
//! library's global variable named `timerfd` is taken over by libevfd's
//! function under `LD_PRELOAD` (README, Linking versus preloading).
//! Other projects' whole test suites run in `tests/preload_suites.rs`.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(120);

/// The program's path, or `None` after saying why the test is skipped.
fn program(name: &str) -> Option<PathBuf> {
    let candidates: Vec<PathBuf> = if name.starts_with('/') {
        vec![PathBuf::from(name)]
    } else {
        std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).map(|d| d.join(name)).collect())
            .unwrap_or_default()
    };
    let found = candidates.into_iter().find(|p| p.is_file());
    if found.is_none() {
        eprintln!("SKIP: {name} is not installed; this preload check did not run");
    }
    found
}

fn scratch(test: &str) -> PathBuf {
    let dir = support::target_dir().join("preload").join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[derive(Debug, PartialEq, Eq)]
struct Observed {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs `argv` with a clean preload environment, optionally preloading
/// libevfd, after `prepare` (e.g. to remove files a previous run made).
fn run(argv: &[&str], preload: bool, extra_env: &[(&str, String)]) -> Observed {
    let mut cmd = Command::new(argv[0]);
    cmd.args(&argv[1..])
        .env_remove("LD_PRELOAD")
        .env_remove("LD_DEBUG")
        .env_remove("LD_DEBUG_OUTPUT")
        .env("LC_ALL", "C");
    if preload {
        cmd.env("LD_PRELOAD", support::lib_path());
    }
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    let (code, stdout, stderr) = support::run_with_deadline(cmd, LIMIT);
    Observed {
        code,
        stdout,
        stderr,
    }
}

/// Runs `argv` without and with the preload and insists on identical
/// results; `reset` runs before each so both start from the same state.
fn same_with_and_without_preload(argv: &[&str], reset: &dyn Fn()) -> Observed {
    reset();
    let plain = run(argv, false, &[]);
    reset();
    let preloaded = run(argv, true, &[]);
    assert_eq!(
        plain,
        preloaded,
        "{argv:?} behaves differently under LD_PRELOAD={}",
        support::lib_path().display()
    );
    plain
}

/// Runs `argv` preloaded with `LD_DEBUG=bindings` and returns the dynamic
/// linker's log (every process and thread writes its own file).
fn bindings_log(argv: &[&str], dir: &Path, reset: &dyn Fn()) -> String {
    reset();
    let prefix = dir.join("ld-debug");
    run(
        argv,
        true,
        &[
            ("LD_DEBUG", "bindings".into()),
            ("LD_DEBUG_OUTPUT", prefix.display().to_string()),
        ],
    );
    bindings_log_in(dir)
}

/// True if the log shows `symbol` (referenced by the program or one of its
/// libraries) bound to an object whose path contains `object`.
fn bound_to(log: &str, symbol: &str, object: &str) -> bool {
    let quoted = format!("`{symbol}'");
    log.lines().any(|l| {
        l.contains(&quoted)
            && l.split(" to ")
                .nth(1)
                .is_some_and(|target| target.contains(object))
    })
}

fn evfd_was_loaded(log: &str) -> bool {
    log.contains(&support::lib_path().display().to_string())
}

#[test]
fn script_from_util_linux_uses_signalfd() {
    let Some(script) = program("script") else {
        return;
    };
    let script = script.to_str().unwrap();
    let dir = scratch("script");
    let probe = run(&[script, "-qec", "true", "/dev/null"], false, &[]);
    if probe.code != 0 {
        eprintln!(
            "SKIP: `script -qec true /dev/null` fails here without evfd ({probe:?}): no pty?"
        );
        return;
    }
    let none = &|| {};
    let quiet = same_with_and_without_preload(&[script, "-qec", "true", "/dev/null"], none);
    assert_eq!(quiet.code, 0);
    // Output through the pty, and the child's exit status passed on (-e).
    let talk = [
        script,
        "-qec",
        "echo to-stdout; echo to-stderr >&2; exit 3",
        "/dev/null",
    ];
    let talked = same_with_and_without_preload(&talk, none);
    assert_eq!(talked.code, 3);
    assert!(talked.stdout.contains("to-stdout"), "{talked:?}");

    let log = bindings_log(&[script, "-qec", "true", "/dev/null"], &dir, none);
    assert!(evfd_was_loaded(&log), "libevfd was not loaded:\n{log}");
    assert!(
        bound_to(&log, "signalfd", "libevfd"),
        "script's signalfd was not bound to libevfd"
    );
}

#[test]
fn qemu_img_threads_signalfd_and_eventfd() {
    let Some(qemu_img) = program("qemu-img") else {
        return;
    };
    let qemu_img = qemu_img.to_str().unwrap();
    let dir = scratch("qemu-img");
    let image = dir.join("disk.qcow2");
    let image_s = image.to_str().unwrap().to_owned();
    let reset = move || {
        let _ = std::fs::remove_file(&image);
    };
    let create = [qemu_img, "create", "-q", "-f", "qcow2", &image_s, "4M"];
    let made = same_with_and_without_preload(&create, &reset);
    assert_eq!(made.code, 0, "{made:?}");
    // info and check on a freshly made image, both ways.
    let recreate = || {
        reset();
        let _ = run(&create, false, &[]);
    };
    let info = [qemu_img, "info", "--output=json", &image_s];
    let shown = same_with_and_without_preload(&info, &recreate);
    assert_eq!(shown.code, 0, "{shown:?}");
    assert!(shown.stdout.contains("qcow2"), "{shown:?}");
    let check = [qemu_img, "check", &image_s];
    same_with_and_without_preload(&check, &recreate);

    let log = bindings_log(&create, &dir, &reset);
    assert!(evfd_was_loaded(&log), "libevfd was not loaded");
    assert!(
        bound_to(&log, "signalfd", "libevfd"),
        "qemu-img's signalfd was not bound to libevfd"
    );
    assert!(
        bound_to(&log, "eventfd", "libc.so"),
        "qemu-img's eventfd should be glibc's"
    );
}

/// python3's own `os.eventfd` family (a thin layer over glibc's `eventfd`,
/// `eventfd_read`, `eventfd_write`), from many threads at once, plus
/// glibc's `signalfd` and `timerfd_*` called by name through ctypes.
const PYTHON_EVENTFD: &str = r#"
import ctypes, errno, fcntl, os, signal, threading

libc = ctypes.CDLL(None, use_errno=True)
SFD_NONBLOCK, SFD_CLOEXEC = os.O_NONBLOCK, os.O_CLOEXEC

def flags(fd):
    return (fcntl.fcntl(fd, fcntl.F_GETFD), fcntl.fcntl(fd, fcntl.F_GETFL) & (os.O_NONBLOCK | 3))

def eventfds():
    out = []
    fd = os.eventfd(3, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
    out.append(("nonblock-cloexec", flags(fd), os.eventfd_read(fd)))
    try:
        os.eventfd_read(fd)
    except BlockingIOError as e:
        out.append(("empty", e.errno))
    os.eventfd_write(fd, 5)
    os.eventfd_write(fd, 6)
    out.append(("sum", os.eventfd_read(fd)))
    os.close(fd)
    fd = os.eventfd(2, os.EFD_SEMAPHORE)
    out.append(("semaphore", flags(fd), os.eventfd_read(fd), os.eventfd_read(fd)))
    os.close(fd)
    try:
        os.eventfd(0, 1 << 30)
    except OSError as e:
        out.append(("bad flags", e.errno))
    return out

class Sigset(ctypes.Structure):
    _fields_ = [("val", ctypes.c_ulong * 16)]

def signalfds():
    out = []
    mask = Sigset()
    mask.val[0] = 1 << (signal.SIGUSR1 - 1)
    for fl in (0, SFD_NONBLOCK, SFD_CLOEXEC, SFD_NONBLOCK | SFD_CLOEXEC, 1, 7):
        ctypes.set_errno(0)
        fd = libc.signalfd(-1, ctypes.byref(mask), fl)
        err = ctypes.get_errno()
        if fd >= 0:
            again = libc.signalfd(fd, ctypes.byref(mask), 0)
            out.append((fl, flags(fd), again == fd))
            os.close(fd)
        else:
            out.append((fl, fd, err))
    ctypes.set_errno(0)
    out.append(("NULL mask", libc.signalfd(-1, None, 0), ctypes.get_errno()))
    out.append(("bad fd", libc.signalfd(-7, ctypes.byref(mask), 0), ctypes.get_errno()))
    return out

def timerfds():
    tfd = libc.timerfd_create(1, os.O_CLOEXEC)  # CLOCK_MONOTONIC
    spec = (ctypes.c_long * 4)(0, 0, 0, 1000000)
    ok = libc.timerfd_settime(tfd, 0, spec, None)
    expirations = int.from_bytes(os.read(tfd, 8), "little")
    os.close(tfd)
    return [("timerfd", ok, expirations >= 1)]

results = {}
def worker(i):
    got = []
    for _ in range(50):
        got = eventfds() + signalfds() + timerfds()
    results[i] = got

signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
threads = [threading.Thread(target=worker, args=(i,)) for i in range(6)]
for t in threads: t.start()
for t in threads: t.join()
assert all(results[i] == results[0] for i in results), results
for line in results[0]:
    print(line)
"#;

#[test]
fn python3_os_eventfd_from_threads() {
    let Some(python) = program("python3") else {
        return;
    };
    let python = python.to_str().unwrap();
    let probe = run(
        &[python, "-c", "import os; os.eventfd; os.eventfd_read"],
        false,
        &[],
    );
    if probe.code != 0 {
        eprintln!("SKIP: this python3 has no os.eventfd (needs 3.10): {probe:?}");
        return;
    }
    let argv = [python, "-c", PYTHON_EVENTFD];
    let seen = same_with_and_without_preload(&argv, &|| {});
    assert_eq!(seen.code, 0, "{seen:?}");
    assert!(seen.stdout.contains("('sum', 11)"), "{}", seen.stdout);
    assert!(seen.stdout.contains("('bad flags', 22)"), "{}", seen.stdout);
    assert!(
        seen.stdout.contains("('NULL mask', -1, 14)"),
        "{}",
        seen.stdout
    );

    let dir = scratch("python3");
    let log = bindings_log(&argv, &dir, &|| {});
    assert!(evfd_was_loaded(&log), "libevfd was not loaded");
    // ctypes looks names up with dlsym, which LD_DEBUG=bindings logs too.
    assert!(
        bound_to(&log, "signalfd", "libevfd"),
        "python's signalfd was not libevfd's"
    );
    assert!(
        bound_to(&log, "eventfd", "libc.so"),
        "python's eventfd should be glibc's"
    );
}

/// Starts `systemd-socket-proxyd` the way systemd would (a listening socket
/// as fd 3, `LISTEN_FDS`/`LISTEN_PID`), makes one connection that cannot be
/// forwarded, and lets `--exit-idle-time` end it: sd-event arms that idle
/// timer with glibc's `timerfd_create`/`timerfd_settime`.
const PROXYD_LAUNCHER: &str = r#"
import os, socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.bind(("127.0.0.1", 0))
s.listen(1)
port = s.getsockname()[1]
if s.fileno() != 3:
    os.dup2(s.fileno(), 3)
os.set_inheritable(3, True)
if os.fork() == 0:
    c = socket.create_connection(("127.0.0.1", port))
    c.recv(1)
    os._exit(0)
os.environ["LISTEN_FDS"] = "1"
os.environ["LISTEN_PID"] = str(os.getpid())
os.execv(sys.argv[1], sys.argv[1:])
"#;

#[test]
fn systemd_socket_proxyd_idle_timer_uses_timerfd() {
    let Some(python) = program("python3") else {
        return;
    };
    let Some(proxyd) = program("/usr/lib/systemd/systemd-socket-proxyd") else {
        return;
    };
    let dir = scratch("socket-proxyd");
    let nowhere = dir.join("nobody-listens-here.sock");
    let argv = [
        python.to_str().unwrap(),
        "-c",
        PROXYD_LAUNCHER,
        proxyd.to_str().unwrap(),
        "--exit-idle-time=0.2s",
        nowhere.to_str().unwrap(),
    ];
    let seen = same_with_and_without_preload(&argv, &|| {});
    if seen.code != 0 {
        eprintln!("SKIP: systemd-socket-proxyd does not run here ({seen:?})");
        return;
    }
    let log = bindings_log(&argv, &dir, &|| {});
    assert!(evfd_was_loaded(&log), "libevfd was not loaded");
    assert!(
        bound_to(&log, "timerfd_create", "libc.so")
            || bound_to(&log, "timerfd_create", "libsystemd"),
        "systemd-socket-proxyd did not call timerfd_create through glibc"
    );
    assert!(!bound_to(&log, "timerfd_create", "libevfd"));
}

/// A shared library with a global variable named `timerfd`, and a program
/// that uses it through the library's functions only.
const TIMERFD_GLOBAL_LIB: &str = r#"
int timerfd = -1;
void timerfd_global_set(int value) { timerfd = value; }
int timerfd_global_get(void) { return timerfd; }
"#;
const TIMERFD_GLOBAL_PROGRAM: &str = r#"
#include <stdio.h>
void timerfd_global_set(int value);
int timerfd_global_get(void);
int main(void) {
    printf("before %d\n", timerfd_global_get());
    timerfd_global_set(42);
    printf("after %d\n", timerfd_global_get());
    return 0;
}
"#;
/// The same variable defined by the program itself.
const TIMERFD_GLOBAL_IN_PROGRAM: &str = r#"
#include <stdio.h>
int timerfd = -1;
int main(void) {
    printf("before %d\n", timerfd);
    timerfd = 42;
    printf("after %d\n", timerfd);
    return 0;
}
"#;

fn cc(args: &[&str]) {
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let out = Command::new(&cc).args(args).output().expect("run cc");
    assert!(
        out.status.success(),
        "cc {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The risk the README names (Linking versus preloading): under
/// `LD_PRELOAD`, libevfd's function `timerfd` comes first in the global
/// scope, so a *shared library's* data references to its own global named
/// `timerfd` bind to evfd's code, and the first write crashes the program.
/// The dynamic linker matches names only (a function satisfies a data
/// reference), and evfd keeps the symbol for linked 2007 programs. This
/// test keeps the README honest both ways: it fails if the crash goes away
/// (then the README must change) or if either documented way out stops
/// working: the same library linked with `-Wl,-Bsymbolic`, and the variable
/// defined in the program itself (the executable comes before preloads).
#[test]
fn a_shared_librarys_global_named_timerfd_is_taken_over() {
    let dir = scratch("timerfd-global");
    let d = |name: &str| dir.join(name).display().to_string();
    std::fs::write(dir.join("lib.c"), TIMERFD_GLOBAL_LIB).unwrap();
    std::fs::write(dir.join("main.c"), TIMERFD_GLOBAL_PROGRAM).unwrap();
    std::fs::write(dir.join("own.c"), TIMERFD_GLOBAL_IN_PROGRAM).unwrap();
    let plain_lib = dir.join("plain");
    let symbolic_lib = dir.join("symbolic");
    for (sub, extra) in [(&plain_lib, None), (&symbolic_lib, Some("-Wl,-Bsymbolic"))] {
        std::fs::create_dir_all(sub).unwrap();
        let so = sub.join("libtimerfdglobal.so").display().to_string();
        let mut args = vec!["-shared", "-fPIC", "-O1", "-o", &so];
        args.extend(extra);
        let src = d("lib.c");
        args.push(&src);
        cc(&args);
    }
    let program = d("main");
    let libdir = format!("-L{}", plain_lib.display());
    cc(&[&d("main.c"), "-o", &program, &libdir, "-ltimerfdglobal"]);
    let own = d("own");
    cc(&[&d("own.c"), "-o", &own]);

    let with_lib = |lib: &Path| [("LD_LIBRARY_PATH", lib.display().to_string())];
    let expected = "before -1\nafter 42\n";

    let plain = run(&[&program], false, &with_lib(&plain_lib));
    assert_eq!(
        (plain.code, plain.stdout.as_str()),
        (0, expected),
        "{plain:?}"
    );

    // No core file from the crash, wherever core_pattern would put it.
    let no_core = ["/bin/sh", "-c", "ulimit -c 0 && exec \"$0\"", &program];
    let taken = run(&no_core, true, &with_lib(&plain_lib));
    assert_eq!(
        taken.code,
        128 + libc::SIGSEGV,
        "the README says this crashes under LD_PRELOAD; it did not: {taken:?}"
    );
    let mut env = with_lib(&plain_lib).to_vec();
    env.push(("LD_DEBUG", "bindings".into()));
    env.push(("LD_DEBUG_OUTPUT", d("ld-debug")));
    run(&no_core, true, &env);
    let log = bindings_log_in(&dir);
    assert!(
        log.lines().any(|l| l.contains("libtimerfdglobal.so")
            && l.contains("`timerfd'")
            && l.split(" to ")
                .nth(1)
                .is_some_and(|t| t.contains("libevfd"))),
        "the library's timerfd should bind to libevfd's:\n{log}"
    );

    let symbolic = run(&[&program], true, &with_lib(&symbolic_lib));
    assert_eq!(
        (symbolic.code, symbolic.stdout.as_str()),
        (0, expected),
        "-Bsymbolic should keep the library's timerfd its own: {symbolic:?}"
    );
    let in_program = same_with_and_without_preload(&[&own], &|| {});
    assert_eq!((in_program.code, in_program.stdout.as_str()), (0, expected));
}

fn bindings_log_in(dir: &Path) -> String {
    let mut log = String::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("ld-debug.")
        {
            log.push_str(&std::fs::read_to_string(&path).unwrap_or_default());
        }
    }
    log
}
