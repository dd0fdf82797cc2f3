# gofer.py: gdb commands for gofer's tasks, on a live process or a core file.
#
#   (gdb) source /usr/local/share/gofer/gdb/gofer.py
#   (gdb) info gofer-tasks        every task of every scheduler: state, wait, creation site
#   (gdb) gofer-bt 12             the backtrace of parked task 12, from its own stack
#
# What it reads. gofer::detail::registry_list (lib/task_registry.cpp) links every scheduler's
# TaskRegistry; each registry links the TaskControl records of its live tasks (head_, then
# live_next), has one record for its thread's own context (thread_record_) and points at its
# thread's thread-local this_thread_running (running_: the running task). A record parked in a gofer
# call points at its Waiter, whose WaitInfo says what it waits for. The types come from the
# debug information of lib/task_registry.cpp, which gofer compiles with -g in every build type,
# so a Release build works; a binary stripped of its debug information does not.
#
# Wait reasons. The in-process dump (gofer::dump_tasks) formats a wait by calling its
# WaitInfo::describe function. gdb cannot call into a core file, and calling into a live
# process would run code under a stopped scheduler, so this file never calls the inferior:
# it names the describe function from the pointer's symbol and formats the WaitInfo fields
# the same way (keep the two in step: lib/chan.cpp, lib/select.cpp, lib/fd_wait.cpp,
# lib/describe.cpp, lib/sync.cpp, lib/task.cpp).
#
# Backtraces. A task that is not running is suspended in Boost.Context's jump_fcontext (or
# ontop_fcontext), which left its callee-saved registers and return address on the task's
# stack; boost::fibers::context::c_.fctx_ points at them. A parked task's context is its
# Waiter's ctx (TaskControl keeps none), so gofer-bt unwinds parked tasks (woken ones too,
# until they run again), not runnable tasks that wait in a ready queue without a Waiter. It
# hands the saved registers to gdb through a frame unwinder that, for one backtrace, presents
# them as the caller of frame 0, then walks the frames above it. No register is written, so
# this works on a core file too.
#
# State. gdb stops the whole process (all-stop mode), so the lists do not change while it reads
# them; a thread stopped in the middle of linking a record may show a half-made entry.
#
# Limits: x86-64 SysV with Boost.Context's fcontext backend (Debian's Boost 1.81), libstdc++.
# Sanitizer builds use the ucontext backend, which gofer-bt does not read (and the tests do not
# run there).

import re
import time

import gdb
import gdb.unwinder

# The layout that jump_fcontext/ontop_fcontext (Boost.Context 1.81,
# libs/context/src/asm/{jump,ontop}_x86_64_sysv_elf_gas.S) leave at the saved fcontext_t:
# 0x00 mxcsr/x87 cw, 0x08 stack guard, 0x10 r12, 0x18 r13, 0x20 r14, 0x28 r15, 0x30 rbx,
# 0x38 rbp, 0x40 return address; the caller's stack pointer is fctx + 0x48.
_FCONTEXT_SLOTS = {"r12": 0x10, "r13": 0x18, "r14": 0x20, "r15": 0x28, "rbx": 0x30, "rbp": 0x38}
_FCONTEXT_RETURN = 0x40
_FCONTEXT_CALLER_SP = 0x48

# ChanState<T> (include/gofer/detail/chan_state.hpp) starts with: SpinLock lock; Ring<T> buf_
# (four words whatever T is); std::size_t cap_; std::uint64_t id_. A select arm
# (include/gofer/select.hpp) starts with its vtable pointer, then ChanState<T>* st_. These are
# templates of the user's code, which may have no debug information, hence the fixed offsets.
_ARM_STATE_OFFSET = 8
_RING_WORDS = 4

_UNBOUNDED = (1 << 64) - 1
_NO_DEADLINE = (1 << 63) - 1
_WAITER_PENDING = 0


class GoferError(gdb.GdbError):
    pass


def _type(name):
    try:
        return gdb.lookup_type(name)
    except gdb.error:
        raise GoferError(
            "gofer: no debug information for %s: is this a gofer program? (gofer's "
            "lib/task_registry.cpp is built with -g; a stripped binary has none)" % name
        )


def _u64(addr):
    return int(gdb.Value(addr).cast(_type("unsigned long").pointer()).dereference())


def _atomic(v):
    # std::atomic<T> holds a T at its own address (libstdc++); read it as a T.
    return v.address.cast(v.type.strip_typedefs().template_argument(0).pointer()).dereference()


def _string(v):
    # A libstdc++ std::string, read without pretty-printers.
    try:
        n = int(v["_M_string_length"])
        if n == 0:
            return ""
        return v["_M_dataplus"]["_M_p"].string(length=min(n, 4096))
    except gdb.error:
        return "<unreadable>"


def _cstr(p):
    if int(p) == 0:
        return None
    try:
        return p.string()
    except gdb.error:
        return "<unreadable>"


def _symbol(addr):
    # The symbol at addr, e.g. "gofer::detail::describe_chan(...)" or "vtable for X + 16";
    # minimal (ELF) symbols suffice, so user code needs no debug information.
    if addr == 0:
        return ""
    out = gdb.execute("info symbol 0x%x" % addr, to_string=True)
    return "" if out.startswith("No symbol") else out


class Now:
    """The inferior's clocks now, for a live process on this machine (a core has no "now").

    ns: steady_clock (CLOCK_MONOTONIC) in ns, the clock of sleep deadlines. ticks and
    ns_per_tick: the time-stamp counter that Waiter::since is stamped with (gofer::detail::
    ticks(), lib/sched_stats.hpp), read here with the same rdtsc instruction (the TSC is one
    clock for the whole machine) and its rate measured over 5 ms, as ns_per_tick() does
    in the program. ticks is None where rdtsc cannot be run from Python."""

    _rate = None

    def __init__(self):
        self.ns = time.monotonic_ns()
        self.ticks = None
        self.ns_per_tick = None
        rdtsc = _rdtsc()
        if rdtsc is None:
            return
        if Now._rate is None:
            t0, c0 = time.monotonic_ns(), rdtsc()
            time.sleep(0.005)
            t1, c1 = time.monotonic_ns(), rdtsc()
            Now._rate = (t1 - t0) / (c1 - c0) if c1 > c0 else None
        self.ticks = rdtsc()
        self.ns_per_tick = Now._rate


_rdtsc_fn = []


def _rdtsc():
    # A ctypes function over 10 bytes of x86-64 code: rdtsc; shl $32,%rdx; or %rdx,%rax; ret.
    if not _rdtsc_fn:
        try:
            import ctypes
            import mmap
            import platform

            if platform.machine() != "x86_64":
                raise OSError("not x86-64")
            page = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
            page.write(bytes([0x0F, 0x31, 0x48, 0xC1, 0xE2, 0x20, 0x48, 0x09, 0xD0, 0xC3]))
            address = ctypes.addressof(ctypes.c_char.from_buffer(page))
            _rdtsc_fn.append((ctypes.CFUNCTYPE(ctypes.c_uint64)(address), page))
        except (ImportError, OSError, ValueError, AttributeError):
            _rdtsc_fn.append((None, None))
    return _rdtsc_fn[0][0]


def _clock_now():
    # A Now for a live process on this machine; None for a core file or a remote target.
    try:
        connection = gdb.selected_inferior().connection
        if connection is not None and connection.type == "native":
            return Now()
    except AttributeError:
        pass
    return None


def _duration(ns):
    # As gofer::detail::append_duration (lib/describe.cpp).
    if ns < 1e6:
        return "%.0f us" % (ns / 1e3)
    if ns < 1e9:
        return "%.1f ms" % (ns / 1e6)
    if ns < 120e9:
        return "%.1f s" % (ns / 1e9)
    return "%.0f min" % (ns / 60e9)


def _chan_id(state_addr):
    spin = _type("gofer::detail::SpinLock").sizeof
    ring = (spin + 7) // 8 * 8
    return _u64(state_addr + ring + 8 * _RING_WORDS + 8)


def _describe_select(info, n):
    text = "select over %d %s" % (n, "case" if n == 1 else "cases")
    arms = int(info["subject"])
    if arms == 0 or n > 64:
        return text
    parts = []
    for i in range(n):
        arm = _u64(arms + 8 * i)
        vtable = _symbol(_u64(arm))
        if "SendArm" in vtable:
            direction = "send"
        elif "RecvArm" in vtable:
            direction = "receive"
        else:
            return text  # an arm gofer.py does not know: say no more than it can
        parts.append("chan %d %s" % (_chan_id(_u64(arm + _ARM_STATE_OFFSET)), direction))
    return text + ": " + ", ".join(parts)


def describe_wait(info, now):
    """The text gofer::dump_tasks shows for a WaitInfo (a gdb.Value)."""
    what = _cstr(info["what"])
    fn = _symbol(int(info["describe"]))
    m = re.search(r"\b(describe_\w+)\(", fn)
    kind = m.group(1) if m else None
    ident, a, b = int(info["id"]), int(info["a"]), int(info["b"])
    if kind == "describe_chan":
        cap = "unbounded" if a == _UNBOUNDED else "capacity %d" % a
        return "chan %d %s (%s, %d buffered)" % (ident, what, cap, b)
    if kind == "describe_select":
        return _describe_select(info, a)
    if kind == "describe_fd":
        if what is None:
            return "fd %d %s" % (ident, "writable" if a != 0 else "readable")
        subject = int(info["subject"])
        text = what
        if subject != 0:
            peer = _string(gdb.Value(subject).cast(_type("std::string").pointer()).dereference())
            if peer:
                text += " " + peer
        return text + " (fd %d)" % ident
    if kind == "describe_object":
        subject = int(info["subject"])
        return "%s %s" % (what, "0x%x" % subject if subject else "(nil)")
    if kind == "describe_sleep":
        if b >= _NO_DEADLINE:
            return "sleep (forever)"
        if now is None:
            return "sleep (until %.3f s on the monotonic clock)" % (b / 1e9)
        return "sleep (%s left)" % _duration(max(0, b - now.ns))
    if kind == "describe_task_wait":
        return "%s %d" % (what, ident)
    if kind == "describe_wait_any":
        return "wait_any over %d tasks" % a
    return what or "a gofer call"


class Task:
    """One record read from the inferior: a task, or a thread's own context (pseudo)."""

    def __init__(self, registry, tc, pseudo, now):
        self.registry = registry
        self.tc = tc
        self.pseudo = pseudo
        self.id = int(tc["id"])
        self.name = _string(tc["name"])
        self.scheduler = int(registry["index_"])
        self.tid = int(registry["tid_"])
        self.wait = ""
        self.parked_for = None
        self.waiter = None
        if pseudo:
            self.created_at = "thread %d" % self.tid
        else:
            f = _cstr(tc["created_file"])
            self.created_at = "%s:%d" % (f, int(tc["created_line"])) if f else ""
        if not pseudo and bool(_atomic(tc["finished"])):
            self.state = "finished"
            return
        parked = tc["parked"]
        if int(parked) == 0:
            running = int(_atomic(registry["running_"].dereference()))
            self.state = "running" if running == int(tc.address) else "runnable"
            return
        w = parked.dereference()
        self.waiter = w
        pending = int(_atomic(w["state"])) == _WAITER_PENDING
        self.state = "parked" if pending else "runnable"
        self.wait = describe_wait(w["info"], now)
        if now is not None and now.ticks is not None and now.ns_per_tick:
            since = int(w["since"])
            self.parked_for = (now.ticks - since) * now.ns_per_tick if now.ticks > since else 0

    def context(self):
        """The task's boost::fibers::context (a gdb.Value pointer), or None."""
        if self.waiter is not None and int(self.waiter["ctx"]) != 0:
            return self.waiter["ctx"]
        return None


def registries():
    sym = gdb.lookup_global_symbol("gofer::detail::registry_list") or gdb.lookup_static_symbol(
        "gofer::detail::registry_list"
    )
    if sym is None:
        raise GoferError(
            "gofer: no symbol gofer::detail::registry_list (not a gofer program, or gofer "
            "without its debug information)"
        )
    r = sym.value()["head"]
    seen = 0
    while int(r) != 0 and seen < 4096:
        yield r.dereference()
        r = r["next_registry"]
        seen += 1


class Unreadable:
    """A record that could not be read (a core file cut short, a list being relinked)."""

    def __init__(self, address, error):
        self.address = address
        self.error = error
        self.pseudo = False
        self.id = None


def tasks_of(registry, now):
    out = []
    tc = _atomic(registry["head_"])
    seen = 0
    while int(tc) != 0 and seen < 1_000_000:
        try:
            out.append(Task(registry, tc.dereference(), False, now))
            tc = _atomic(tc["live_next"])
        except gdb.error as e:
            out.append(Unreadable(int(tc), e))
            break  # its link is no better than the rest of it
        seen += 1
    record = registry["thread_record_"]
    try:
        if int(record["parked"]) != 0:
            out.append(Task(registry, record, True, now))
    except gdb.error as e:
        out.append(Unreadable(int(record.address), e))
    return out


def all_tasks():
    now = _clock_now()
    return [(r, tasks_of(r, now)) for r in registries()]


class InfoGoferTasks(gdb.Command):
    """List gofer's tasks: info gofer-tasks

Every live task of every scheduler with its id, name, state (parked, runnable, running,
finished), what it waits for and where go() was called, grouped by scheduler; plus a
"thread" entry for each thread whose own context is parked in a gofer call. Works on a live
process and on a core file (it calls no function of the program). Use gofer-bt ID for a
task's backtrace."""

    def __init__(self):
        super().__init__("info gofer-tasks", gdb.COMMAND_STATUS)

    def invoke(self, arg, from_tty):
        groups = all_tasks()
        total = sum(sum(1 for t in ts if not t.pseudo) for _, ts in groups)  # as dump_tasks
        lines = ["gofer: %d task(s) on %d scheduler(s)" % (total, len(groups))]
        for r, ts in groups:
            lines.append("")
            lines.append(
                'scheduler %d (thread "%s", tid %d):'
                % (int(r["index_"]), _string(r["thread_name_"]), int(r["tid_"]))
            )
            for t in ts:
                if isinstance(t, Unreadable):
                    lines.append("  record 0x%x: unreadable (%s)" % (t.address, t.error))
                    continue
                head = "thread %d" % t.id if t.pseudo else "task %d" % t.id
                state = t.state
                if t.state == "parked" and t.parked_for is not None:
                    state += " " + _duration(t.parked_for)
                line = '  %s "%s" [%s]' % (head, t.name, state)
                if t.wait:
                    line += ": " + t.wait
                lines.append(line)
                if t.created_at and not t.pseudo:
                    lines.append("      created at " + t.created_at)
        gdb.write("\n".join(lines) + "\n")


class _FrameId:
    def __init__(self, sp, pc):
        self.sp = sp
        self.pc = pc


class FiberUnwinder(gdb.unwinder.Unwinder):
    """Presents a suspended fiber's saved registers as the caller of frame 0, while armed."""

    def __init__(self):
        super().__init__("gofer-fiber")
        self.regs = None
        self.frame_sp = None

    def __call__(self, pending_frame):
        if self.regs is None or pending_frame.level() != 0:
            return None
        # gdb stops a backtrace at a frame whose stack address is below (inner to) that of the
        # frame before it, and a task's stack may well lie below its thread's. So frame 0
        # takes the address of the saved registers, just below the fiber's first frame.
        pc = pending_frame.read_register("rip")
        info = pending_frame.create_unwind_info(_FrameId(self.frame_sp, pc))
        for name, value in self.regs.items():
            info.add_saved_register(name, value)
        return info


_unwinder = FiberUnwinder()
gdb.unwinder.register_unwinder(None, _unwinder, replace=True)


def _saved_registers(fctx):
    u64 = _type("unsigned long")
    regs = {name: gdb.Value(_u64(fctx + off)).cast(u64) for name, off in _FCONTEXT_SLOTS.items()}
    regs["rip"] = gdb.Value(_u64(fctx + _FCONTEXT_RETURN)).cast(_type("void").pointer())
    regs["rsp"] = gdb.Value(fctx + _FCONTEXT_CALLER_SP).cast(_type("void").pointer())
    return regs


def _frame_line(n, frame):
    pc = frame.pc()
    name = frame.name() or "??"
    line = "#%-3d 0x%016x in %s" % (n, pc, name)
    sal = frame.find_sal()
    if sal.symtab is not None and sal.line:
        line += " at %s:%d" % (sal.symtab.filename, sal.line)
    else:
        lib = gdb.solib_name(pc)
        if lib:
            line += " from " + lib
    return line


def fiber_backtrace(fctx, limit):
    """The frames of a fiber suspended at fctx, innermost first, as text lines."""
    lines = []
    try:
        selected = gdb.selected_frame().level()
    except gdb.error:
        selected = None
    _unwinder.regs = _saved_registers(fctx)
    _unwinder.frame_sp = gdb.Value(fctx).cast(_type("void").pointer())
    gdb.invalidate_cached_frames()
    try:
        frame = gdb.newest_frame().older()
        n = 0
        while frame is not None and frame.pc() != 0 and n < limit:
            lines.append(_frame_line(n, frame))
            n += 1
            try:
                older = frame.older()
            except gdb.error as e:
                lines.append("(unwinding stopped: %s)" % e)
                break
            if older is None and frame.unwind_stop_reason() > gdb.FRAME_UNWIND_OUTERMOST:
                reason = gdb.frame_stop_reason_string(frame.unwind_stop_reason())
                lines.append("(unwinding stopped: %s)" % reason)
            frame = older
        if frame is not None and frame.pc() != 0 and n >= limit:
            lines.append("(more frames follow: gofer-bt ID N shows N frames)")
    finally:
        _unwinder.regs = None
        gdb.invalidate_cached_frames()
        _select_frame(selected)
    return lines


def _select_frame(level):
    # Gives the user back the frame they had selected (dropping gdb's frame cache resets it).
    if not level:
        return
    try:
        frame = gdb.newest_frame()
        for _ in range(level):
            frame = frame.older()
        frame.select()
    except (gdb.error, AttributeError):
        pass


def _field_offset(type_name, *path):
    t = _type(type_name)
    off = 0
    for name in path:
        fields = {f.name: f for f in t.strip_typedefs().fields()}
        if name not in fields:
            raise GoferError("gofer: %s has no member %s (another Boost version?)" % (t, name))
        off += fields[name].bitpos // 8
        t = fields[name].type
    return off


def _fctx_offset():
    # Where boost::fibers::context keeps its saved fcontext_t. Read by offset rather than by
    # dereferencing: the context is polymorphic, and gdb would look for its dynamic type.
    return _field_offset("boost::fibers::context", "c_", "fctx_")


def _gdb_thread(tid):
    for t in gdb.selected_inferior().threads():
        if t.ptid[1] == tid:
            return t.num
    return None


class GoferBt(gdb.Command):
    """Backtrace of a gofer task: gofer-bt ID [LIMIT]

ID is a task id (or a thread entry's id) from info gofer-tasks. Shows the frames of the
task's stack where it is parked (or woken and not yet resumed), innermost
first, up to LIMIT frames (default 64). A running task is on its thread's own stack: use
gdb's thread and bt commands. Works on a live process and on a core file."""

    def __init__(self):
        super().__init__("gofer-bt", gdb.COMMAND_STACK)

    def invoke(self, arg, from_tty):
        argv = gdb.string_to_argv(arg)
        if not argv or len(argv) > 2:
            raise GoferError("usage: gofer-bt ID [LIMIT]")
        try:
            want = int(argv[0], 0)
            limit = int(argv[1], 0) if len(argv) > 1 else 64
        except ValueError:
            raise GoferError("usage: gofer-bt ID [LIMIT] (numbers)")
        task = None
        for _, ts in all_tasks():
            for t in ts:
                if t.id == want:
                    task = t
        if task is None:
            raise GoferError("gofer: no task %d (see info gofer-tasks)" % want)
        label = "thread %d" % task.id if task.pseudo else "task %d" % task.id
        if task.state == "running":
            num = _gdb_thread(task.tid)
            raise GoferError(
                "gofer: %s is running on tid %d: use `thread %s` and `bt`"
                % (label, task.tid, num if num is not None else "N")
            )
        if task.state == "finished":
            raise GoferError("gofer: %s has finished" % label)
        ctx = task.context()
        if ctx is None:
            raise GoferError(
                "gofer: %s is not parked: gofer-bt finds a task's saved context through its "
                "wait (Waiter::ctx), and a runnable task waiting for its turn has none" % label
            )
        fctx = _u64(int(ctx) + _fctx_offset())
        if fctx == 0:
            raise GoferError(
                "gofer: %s has no saved context (it is being switched to or from)" % label
            )
        head = '%s "%s" [%s]' % (label, task.name, task.state)
        if task.wait:
            head += ": " + task.wait
        gdb.write(head + "\n" + "\n".join(fiber_backtrace(fctx, limit)) + "\n")


InfoGoferTasks()
GoferBt()
