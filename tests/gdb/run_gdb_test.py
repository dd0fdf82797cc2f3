#!/usr/bin/env python3
# run_gdb_test.py: tests the gdb extension (share/gofer/gdb/gofer.py) on parked_tasks.cpp.
#
#   run_gdb_test.py live PROGRAM GOFER_PY WORKDIR   gdb attaches to the running program
#   run_gdb_test.py core PROGRAM GOFER_PY WORKDIR   gdb's gcore dumps it, then gdb reads the core
#
# It starts PROGRAM, which parks one task in each kind of wait and writes its own view of them
# (gofer::tasks()) to a snapshot file, then runs `info gofer-tasks` and `gofer-bt` for every
# task in gdb, and checks that gdb shows every task with the same state and wait as the
# program itself (the sleep's time left aside), each wait in the form expected for its kind,
# and a backtrace through the task's own function.
#
# Exit status: 0 passed, 1 failed, 77 skipped (no gdb, a gdb without Python, or the system
# forbids ptrace: Yama's ptrace_scope 3, a container without CAP_SYS_PTRACE, ...).
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import time

SKIP = 77

# The function each task of parked_tasks.cpp runs, by task name, and the form of its wait.
# "{recv}"/"{send}"/"{waited}" stand for the channel and task ids the program reports.
EXPECTED = {
    "receiver": ("parked_in_recv", r"chan {recv} receive \(capacity 0, 0 buffered\)"),
    "waited": ("parked_in_recv", r"chan {recv} receive \(capacity 0, 0 buffered\)"),
    "sender": ("parked_in_send", r"chan {send} send \(capacity 1, 1 buffered\)"),
    "selector": ("parked_in_select", r"select over 2 cases: chan {recv} receive, chan {send} send"),
    "sleeper": ("parked_in_sleep", None),  # per mode, below
    "reader": ("parked_in_read", r"read test pipe \(fd \d+\)"),
    "locker": ("parked_in_lock", r"Mutex::lock 0x[0-9a-f]+"),
    "grouper": ("parked_in_wait_group", r"WaitGroup::wait 0x[0-9a-f]+"),
    "joiner": ("parked_in_task_wait", r"wait for task {waited}"),
}
SLEEP = {
    "live": r"sleep \((59|60) min left\)",
    "core": r"sleep \(until \d+\.\d+ s on the monotonic clock\)",
}

TASK_LINE = re.compile(r'^  (task|thread) (\d+) "([^"]*)" \[(\w+)[^\]]*\](?:: (.*))?$')


def skip(why):
    print("SKIP: " + why)
    sys.exit(SKIP)


def fail(why, *outputs):
    print("FAIL: " + why)
    for text in outputs:
        print("----\n" + text)
    sys.exit(1)


def check_ptrace_allowed():
    try:
        with open("/proc/sys/kernel/yama/ptrace_scope") as f:
            scope = int(f.read().strip())
    except (OSError, ValueError):
        return  # no Yama: ordinary same-user rules
    if scope >= 3:
        skip("ptrace is disabled (kernel.yama.ptrace_scope = 3)")
    if scope == 2 and os.geteuid() != 0:
        skip("ptrace needs CAP_SYS_PTRACE (kernel.yama.ptrace_scope = 2)")
    # scope 1: parked_tasks calls prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY).


def wait_ready(proc, seconds):
    deadline = time.monotonic() + seconds
    line = b""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.2)
        if ready:
            line += os.read(proc.stdout.fileno(), 256)
            if b"ready\n" in line:
                return
            if not line and proc.poll() is not None:
                break
        elif proc.poll() is not None:
            break
    fail("parked_tasks did not report ready (exit status %s)" % proc.poll())


def read_snapshot(path):
    tasks = {}
    with open(path) as f:
        for line in f:
            ident, name, state, created, wait = line.rstrip("\n").split("\t")
            tasks[int(ident)] = dict(name=name, state=state, created=created, wait=wait)
    return tasks


def run_gdb(gdb, args, commands):
    cmd = [gdb, "-nx", "-batch", "-iex", "set debuginfod enabled off"] + args
    for c in commands:
        cmd += ["-ex", c]
    env = dict(os.environ, DEBUGINFOD_URLS="")
    try:
        out = subprocess.run(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60, env=env
        )
    except subprocess.TimeoutExpired as e:
        fail("gdb timed out: %s" % " ".join(cmd), (e.stdout or b"").decode(errors="replace"))
    return out.stdout.decode(errors="replace")


def not_permitted(text):
    return "ptrace: Operation not permitted" in text or "Could not attach" in text


def split_backtraces(text):
    # gofer-bt prints a header line ('task 12 "name" [parked]: ...') then "#N ..." lines.
    bts = {}
    current = None
    for line in text.splitlines():
        m = re.match(r'^(task|thread) (\d+) "[^"]*" \[', line)
        if m:
            current = int(m.group(2))
            bts[current] = []
        elif current is not None and line.startswith("#"):
            bts[current].append(line)
    return bts


def main():
    if len(sys.argv) != 5 or sys.argv[1] not in ("live", "core"):
        print(__doc__ or "usage: run_gdb_test.py live|core PROGRAM GOFER_PY WORKDIR")
        return 2
    mode, program, script, workdir = sys.argv[1:]
    gdb = shutil.which("gdb")
    if gdb is None:
        skip("gdb is not installed (scripts/setup.sh installs it)")
    check_ptrace_allowed()

    os.makedirs(workdir, exist_ok=True)
    snapshot = os.path.join(workdir, "snapshot-%s.txt" % mode)
    core_base = os.path.join(workdir, "core-%s" % mode)
    proc = subprocess.Popen([program, snapshot, "60"], stdout=subprocess.PIPE)
    core = None
    try:
        wait_ready(proc, 15)
        # The main thread parks right after printing "ready"; give it a moment to get there.
        time.sleep(0.2)
        expected = read_snapshot(snapshot)
        target = ["-p", str(proc.pid)]
        if mode == "core":
            out = run_gdb(gdb, ["-p", str(proc.pid)], ["gcore " + core_base])
            core = core_base
            if not_permitted(out):
                skip("ptrace attach is not permitted here:\n" + out)
            if not os.path.exists(core):
                fail("gcore wrote no core file", out)
            proc.kill()
            proc.wait()
            target = [program, core]
        listing = run_gdb(gdb, target + ["-x", script], ["info gofer-tasks"])
        if not_permitted(listing):
            skip("ptrace attach is not permitted here:\n" + listing)
        if "Python scripting is not supported" in listing:
            skip("this gdb has no Python support")
        check(mode, program, script, gdb, target, expected, listing)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if core is not None and os.path.exists(core):
            os.unlink(core)
    print("PASS (%s)" % mode)
    return 0


def check(mode, program, script, gdb, target, expected, listing):
    seen = {}
    for line in listing.splitlines():
        m = TASK_LINE.match(line)
        if m:
            kind, ident, name, state, wait = m.groups()
            seen[int(ident)] = dict(pseudo=kind == "thread", name=name, state=state, wait=wait or "")
    if not seen:
        fail("info gofer-tasks listed nothing", listing)
    # Live, a parked entry says how long it has waited (from the TSC, as the program does): at
    # least the few ms between the program's snapshot and gdb's attach, less than the run.
    units = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "min": 60.0}
    for m in re.finditer(r"\[parked(?: ([\d.]+) (us|ms|s|min))?\]", listing):
        if mode == "live":
            if m.group(1) is None:
                fail("a parked entry has no duration on a live process", listing)
            if not 0.001 <= float(m.group(1)) * units[m.group(2)] <= 120:
                fail("implausible parked duration %s" % m.group(0), listing)
        elif m.group(1) is not None:
            fail("a core file has no now, yet a duration is shown: %s" % m.group(0), listing)

    by_name = {t["name"]: (i, t) for i, t in expected.items()}
    for name in EXPECTED:
        if name not in by_name:
            fail("the program's own snapshot has no task %r" % name, listing)
    recv = re.match(r"chan (\d+)", by_name["receiver"][1]["wait"]).group(1)
    send = re.match(r"chan (\d+)", by_name["sender"][1]["wait"]).group(1)
    ids = dict(recv=recv, send=send, waited=by_name["waited"][0])

    for ident, want in expected.items():
        got = seen.get(ident)
        if got is None:
            fail("gdb does not list task %d (%s)" % (ident, want["name"]), listing)
        if got["name"] != want["name"] or got["state"] != want["state"]:
            fail("task %d: gdb shows %r, the program %r" % (ident, got, want), listing)
        if got["pseudo"] != want["created"].startswith("thread "):
            fail("task %d: task/thread mix-up" % ident, listing)
        pattern = None
        if want["name"] in EXPECTED:
            pattern = EXPECTED[want["name"]][1] or SLEEP[mode]
            pattern = pattern.format(**ids)
            if not re.fullmatch(pattern, got["wait"]):
                fail("task %d (%s): wait %r does not match %r" % (ident, want["name"],
                     got["wait"], pattern), listing)
        if want["name"] != "sleeper" and got["wait"] != want["wait"]:
            fail("task %d: gdb says %r, the program %r" % (ident, got["wait"], want["wait"]),
                 listing)
        if want["created"] and not want["created"].startswith("thread "):
            if ("created at " + want["created"]) not in listing:
                fail("task %d: creation site %s not shown" % (ident, want["created"]), listing)

    # The main thread itself, parked in a channel receive after writing the snapshot.
    main_thread = [i for i, t in seen.items() if t["pseudo"] and t["name"] == "parked_tasks"]
    if len(main_thread) != 1:
        fail("the main thread is not listed as a parked pseudo-task", listing)
    if not re.fullmatch(r"chan \d+ receive \(capacity 0, 0 buffered\)",
                        seen[main_thread[0]]["wait"]):
        fail("the main thread's wait is wrong", listing)

    # Backtraces: each named task through its own function, the main thread through main.
    wanted = {i: EXPECTED[t["name"]][0] for i, t in expected.items() if t["name"] in EXPECTED}
    wanted[main_thread[0]] = "main"
    text = run_gdb(gdb, target + ["-x", script], ["gofer-bt %d" % i for i in sorted(wanted)])
    bts = split_backtraces(text)
    for ident, function in wanted.items():
        frames = bts.get(ident)
        if not frames:
            fail("gofer-bt %d printed no frames" % ident, text)
        if not any(re.search(r"\b%s\b" % function, f) for f in frames):
            fail("gofer-bt %d: no frame in %s" % (ident, function), text)

    # The running task: gofer-bt points at its thread, whose own backtrace shows the task.
    busy = by_name.get("busy")
    if busy is None or busy[1]["state"] != "running":
        fail("the program's snapshot has no running task \"busy\"", listing)
    refused = run_gdb(gdb, target + ["-x", script], ["gofer-bt %d" % busy[0]])
    m = re.search(r"task %d is running on tid \d+: use `thread (\d+)` and `bt`" % busy[0], refused)
    if m is None:
        fail("gofer-bt on the running task does not name its thread", refused)
    thread_bt = run_gdb(gdb, target, ["thread " + m.group(1), "bt"])
    if "running_in_thread_sleep" not in thread_bt:
        fail("the running task's thread is not in running_in_thread_sleep", refused, thread_bt)
    print(listing)
    print(text)
    print(refused)


if __name__ == "__main__":
    sys.exit(main())
