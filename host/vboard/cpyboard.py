"""CPython mode of the virtual board: the same firmware, run by this process.

A board thread plays the part of the VM: boot.py, main.py, then a friendly / raw REPL
(enough of MicroPython's for mpremote: raw REPL, raw-paste refused, soft reboot) on the
same pseudo-terminal. The firmware runs in a sandbox of its own: fresh module objects
per boot (the firmware tree, ``board``), and shims for what MicroPython provides
(``machine``, ``micropython``, ``sys``, ``os``, ``select``, ``time``, ``open``,
``print``): files are rooted in the flash directory, the console is the pty, ``machine``
calls the plant through the same :class:`~afbms.vboard.bridge.Bridge` the VM uses. Nothing
leaks into this process's ``sys.modules``.

Sources: a module found as ``.py`` in the flash is run from there; one deployed as
``.mpy`` (CPython cannot run it) is run from the firmware tree shipped with afbms
(``board.mpy``: ``boards/sim/board.py``).

Power cut: the board thread is stopped at its next bytecode (an asynchronous
exception); flash files are unbuffered and refuse writes once the power is gone, so the
flash holds exactly what was written before the cut, as with the VM.
"""

from __future__ import annotations

import ast
import builtins
import codeop
import contextlib
import ctypes
import errno
import io
import os
import platform
import select as _select
import sys as _sys
import threading
import time as _time
import traceback
import types
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING, Any

from afbms import paths
from afbms.vboard import bridge as br

if TYPE_CHECKING:
    from afbms.vboard.board import VirtualBoard

_TICKS_MASK = (1 << 30) - 1
_TICKS_HALF = 1 << 29
_SYNC_MS = 3_600_000
_STOP_TIMEOUT_S = 5.0
_FIRMWARE_PACKAGES = ("bms", "drivers")
_HOST_FILE = __file__


class PowerCut(BaseException):
    """Raised in the board thread when the power goes."""


class HardReset(BaseException):
    """machine.reset() / watchdog: the board restarts."""

    def __init__(self, cause: int) -> None:
        super().__init__(cause)
        self.cause = cause


class SoftReboot(BaseException):
    """Ctrl-D / SystemExit: soft reboot."""


def _async_raise(thread: threading.Thread, exc: type[BaseException]) -> None:
    if thread.ident is not None:
        ctypes.pythonapi.PyThreadState_SetAsyncExc(
            ctypes.c_ulong(thread.ident), ctypes.py_object(exc)
        )


# ---------------------------------------------------------------- the console


class Console:
    """The board's end of the pty master: an input queue filled by a reader thread, and
    output written by a writer thread in batches (one write per millisecond at most, so
    the board thread never waits for the pty) with the node runner's rules: link rate
    when set (then synchronous), drop when nobody reads."""

    def __init__(self, board: CPythonBoard, fd: int, baud: int | None) -> None:
        self.board = board
        self.fd = fd
        self.byte_s = 10.0 / baud if baud else 0.0
        self.cond = threading.Condition()
        self.queue: deque[int] = deque()
        self.times: deque[float] = deque()
        self._last_at = 0.0
        self._link_free = 0.0
        self._stalled_since = 0.0
        self._dropping = False
        self._out: deque[bytes] = deque()
        self._out_signal = threading.Event()
        self._signalled = False
        self._stop = threading.Event()
        self.reader = threading.Thread(
            target=self._read_loop, name="vboard-cpy-console", daemon=True
        )
        self.writer = threading.Thread(
            target=self._write_loop, name="vboard-cpy-console-out", daemon=True
        )

    def start(self) -> None:
        self.reader.start()
        self.writer.start()

    def stop(self) -> None:
        """Stop both threads; output the board wrote before is still sent."""
        self._stop.set()
        self._out_signal.set()
        with self.cond:
            self.cond.notify_all()
        for thread in (self.reader, self.writer):
            if thread.is_alive() and thread is not threading.current_thread():
                thread.join(_STOP_TIMEOUT_S)

    def _read_loop(self) -> None:
        while not self._stop.is_set():
            try:
                ready, _, _ = _select.select([self.fd], [], [], 0.05)
            except (OSError, ValueError):
                return
            if not ready:
                continue
            try:
                data = os.read(self.fd, 4096)
            except BlockingIOError:
                continue
            except OSError:
                _time.sleep(0.01)  # no client has the port open (EIO): wait for one
                continue
            if data:
                self.accept(data)

    def accept(self, data: bytes) -> None:
        board = self.board
        now = _time.monotonic()
        with self.cond:
            for b in data:
                if b == board.interrupt_char and board.running:
                    board.interrupt()
                    continue
                self.queue.append(b)
                if self.byte_s:
                    self._last_at = max(now, self._last_at) + self.byte_s
                    self.times.append(self._last_at)
            self.cond.notify_all()

    def available(self) -> int:
        if not self.byte_s:
            return len(self.queue)  # deque: safe to read without the lock
        now = _time.monotonic()
        n = 0
        for t in self.times:
            if t > now:
                break
            n += 1
        return n

    def take(self, n: int) -> bytes:
        """Up to n bytes that have arrived (no waiting)."""
        with self.cond:
            n = min(n, self.available())
            out = bytes(self.queue.popleft() for _ in range(n))
            for _ in range(n if self.byte_s else 0):
                self.times.popleft()
            return out

    def wait_byte(self) -> int:
        """The next byte; waits for it. Raises PowerCut when the power goes."""
        board = self.board
        with self.cond:
            while True:
                if board.dead:
                    raise PowerCut
                if self.available():
                    if self.byte_s:
                        self.times.popleft()
                    return self.queue.popleft()
                self.cond.wait(0.05 if not self.byte_s else 0.002)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        board = self.board
        if board.dead:
            raise PowerCut
        if board.muted:
            return
        data = bytes(data)
        if self.byte_s:
            now = _time.monotonic()
            self._link_free = max(now, self._link_free) + len(data) * self.byte_s
            if self._link_free > now:
                board.wait(self._link_free - now)
            self._send(data, board.wait)
            return
        self._out.append(data)
        if not self._signalled:
            self._signalled = True
            self._out_signal.set()

    def _write_loop(self) -> None:
        out = self._out
        while True:
            self._out_signal.wait()
            if not self._stop.is_set():
                _time.sleep(0.001)  # let a burst gather: one write instead of many
            self._out_signal.clear()
            self._signalled = False
            chunks = []
            while out:
                chunks.append(out.popleft())
            if chunks:
                self._send(b"".join(chunks), _time.sleep)
            if self._stop.is_set() and not out:
                return

    def _send(self, data: bytes, wait) -> None:
        off = 0
        while off < len(data):
            try:
                off += os.write(self.fd, data[off:])
                self._stalled_since = 0.0
                self._dropping = False
            except BlockingIOError:
                if self._dropping:
                    return
                now = _time.monotonic()
                if not self._stalled_since:
                    self._stalled_since = now
                elif now - self._stalled_since > 0.2:
                    self._dropping = True
                    return
                wait(0.001)
            except OSError:
                return

    def write_text(self, text: str) -> None:
        self.write(text.encode("utf-8", "replace"))


class _Stdin:
    """sys.stdin of the sandbox (also its .buffer): blocking reads from the console."""

    def __init__(self, console: Console) -> None:
        self._c = console
        self.buffer = self

    def fileno(self) -> int:
        return 0

    def read(self, n: int = -1) -> bytes:
        out = bytearray()
        while n < 0 or len(out) < n:
            out.append(self._c.wait_byte())
            if n < 0 and out[-1] in (4,):
                break
        return bytes(out)

    def readinto(self, buf: Any, n: int | None = None) -> int:
        n = len(buf) if n is None else min(n, len(buf))
        if n <= 0:
            return 0
        buf[0] = self._c.wait_byte()
        got = 1
        more = self._c.take(n - 1)
        buf[1 : 1 + len(more)] = more
        return got + len(more)

    def readline(self) -> str:
        out = bytearray()
        while True:
            b = self._c.wait_byte()
            if b in (10, 13):
                return out.decode("utf-8", "replace") + "\n"
            out.append(b)


class _Stdout:
    """sys.stdout / sys.stderr of the sandbox (and .buffer): writes to the console."""

    def __init__(self, console: Console) -> None:
        self._c = console
        self.buffer = self

    def write(self, data: Any, n: int | None = None) -> int:
        if isinstance(data, str):
            raw = data.encode("utf-8", "replace")
        else:
            raw = bytes(data if n is None else memoryview(data)[:n])
        self._c.write(raw)
        return len(raw) if not isinstance(data, str) else len(data)

    def flush(self) -> None:
        pass

    def fileno(self) -> int:
        return 1


# ---------------------------------------------------------------- the sandbox


class Sandbox:
    """One boot's worth of modules: the firmware, the shims, the REPL's globals."""

    def __init__(self, board: CPythonBoard) -> None:
        self.board = board
        self.flash = board.flash
        self.cwd = "/"
        self.modules: dict[str, types.ModuleType] = {}
        self.builtins = dict(builtins.__dict__)
        self.builtins.update(
            __import__=self._import, open=self.open, print=self.print, input=self.input,
            __vb_show__=self._show,
        )  # fmt: skip
        self.stdin = _Stdin(board.console)
        self.stdout = _Stdout(board.console)
        self.shims = {
            "sys": self._sys_module(),
            "os": self._os_module(),
            "select": self._select_module(),
            "time": self._time_module(),
            "micropython": self._micropython_module(),
            "gc": self._gc_module(),
        }
        self.shims["uos"] = self.shims["os"]
        self.shims["utime"] = self.shims["time"]
        self.shims["uselect"] = self.shims["select"]
        from afbms.vboard.cpymachine import make_machine

        self.shims["machine"] = make_machine(board, self)
        self.main = self.new_module("__main__")

    # -- modules

    def new_module(self, name: str, file: str | None = None) -> types.ModuleType:
        mod = types.ModuleType(name)
        mod.__dict__["__builtins__"] = self.builtins
        if file is not None:
            mod.__file__ = file
        return mod

    def _find(self, name: str) -> tuple[Path, bool] | None:
        """(source, is_package) of a firmware module, or None."""
        rel = Path(*name.split("."))
        # The board's sys.path (in the flash: "" and "/lib", or an image slot the loader
        # put first), then the shipped firmware tree for what was deployed as .mpy.
        roots = [self.host_path(p) for p in self.shims["sys"].path if p != ".frozen"]
        roots.append(paths.firmware_dir())
        for root in roots:
            candidates = (
                (root / rel / "__init__.py", True),
                (root / rel.with_suffix(".py"), False),
            )
            for cand, pkg in candidates:
                if cand.is_file() and not (root == roots[-1] and name == "main"):
                    return cand, pkg
        if name == "board":
            return paths.boards_dir() / "sim" / "board.py", False
        return None

    def _load(self, name: str) -> types.ModuleType | None:
        if name in self.modules:
            return self.modules[name]
        parent = None
        if "." in name:
            parent = self._load(name.rpartition(".")[0])
            if parent is None:
                return None
        found = self._find(name)
        if found is None:
            return None
        source, is_pkg = found
        mod = self.new_module(name, str(source))
        if is_pkg:
            mod.__path__ = [str(source.parent)]
            mod.__package__ = name
        else:
            mod.__package__ = name.rpartition(".")[0]
        self.modules[name] = mod
        try:
            code = compile(source.read_text(encoding="utf-8"), self._vm_path(source), "exec")
            exec(code, mod.__dict__)
        except BaseException:
            self.modules.pop(name, None)
            raise
        if parent is not None:
            setattr(parent, name.rpartition(".")[2], mod)
        return mod

    def _vm_path(self, source: Path) -> str:
        """The name tracebacks show: the path as the board sees it."""
        for root in (self.flash, paths.firmware_dir()):
            with contextlib.suppress(ValueError):
                return source.relative_to(root).as_posix()
        return source.name

    def _import(self, name, globals=None, locals=None, fromlist=(), level=0):
        if level:
            raise ImportError("relative imports are not supported on the board")
        top = name.partition(".")[0]
        if top in self.shims:
            return self.shims[top]
        if top in self.modules or self._find(top) is not None:
            mod = self._load(name)
            if mod is None:
                raise ImportError(f"no module named '{name}'")
            for attr in fromlist or ():
                if attr != "*" and not hasattr(mod, attr):
                    self._load(f"{name}.{attr}")
            return mod if fromlist else self.modules[top]
        return builtins.__import__(name, globals, locals, fromlist, level)

    # -- files

    def host_path(self, path: Any) -> Path:
        """The host file behind a board path (never outside the flash)."""
        if isinstance(path, bytes):
            path = path.decode()
        path = str(path)
        full = path if path.startswith("/") else self.cwd.rstrip("/") + "/" + path
        parts: list[str] = []
        for part in full.split("/"):
            if part in ("", "."):
                continue
            if part == "..":
                if parts:
                    parts.pop()
                continue
            parts.append(part)
        return self.flash.joinpath(*parts)

    def open(self, path, mode="r", buffering=-1, encoding=None, **kw):
        host = self.host_path(path)
        board = self.board
        if "b" in mode:
            return _FlashFile(board, host, mode.replace("t", ""))
        raw = _FlashFile(board, host, mode.replace("t", "") + "b")
        if "r" in mode and "+" not in mode:
            return io.TextIOWrapper(io.BufferedReader(raw), encoding=encoding or "utf-8")
        return io.TextIOWrapper(raw, encoding=encoding or "utf-8", write_through=True)  # type: ignore[arg-type]

    def print(self, *args, sep=" ", end="\n", file=None, flush=False):
        builtins.print(*args, sep=sep, end=end, file=file if file is not None else self.stdout)

    def _show(self, value: Any) -> None:
        if value is not None:
            self.print(repr(value))

    def input(self, prompt=""):
        self.stdout.write(str(prompt))
        return self.stdin.readline().rstrip("\n")

    # -- shims

    def _sys_module(self) -> types.ModuleType:
        m = self.new_module("sys")
        m.stdin = self.stdin
        m.stdout = self.stdout
        m.stderr = self.stdout
        m.modules = self.modules
        m.path = ["", ".frozen", "/lib"]
        m.argv = []
        m.platform = "afbms-sim"
        m.byteorder = "little"
        m.maxsize = (1 << 31) - 1
        m.version = _sys.version.split()[0]
        m.version_info = _sys.version_info
        m.implementation = types.SimpleNamespace(name="cpython", version=_sys.version_info[:3])

        def exit(code=None):
            raise SystemExit(code)

        def print_exception(exc, file=None):
            (file or self.stdout).write(format_exception(exc))

        m.exit = exit
        m.print_exception = print_exception
        return m

    def _os_module(self) -> types.ModuleType:
        m = self.new_module("os")
        hp = self.host_path
        sandbox = self

        def stat(path):
            try:
                st = os.stat(hp(path))
            except OSError as exc:
                raise oserror(exc.errno) from None
            mode = 0x4000 if os.path.isdir(hp(path)) else 0x8000
            times = (int(st.st_atime), int(st.st_mtime), int(st.st_ctime))
            return (mode, 0, 0, 0, 0, 0, st.st_size, *times)

        def listdir(path=""):
            return sorted(os.listdir(hp(path or ".")))

        def ilistdir(path=""):
            for name in listdir(path):
                full = hp(path or ".") / name
                if full.is_dir():
                    yield (name, 0x4000, 0, 0)
                else:
                    yield (name, 0x8000, 0, full.stat().st_size)

        def wrap(fn):
            def call(*args):
                try:
                    if sandbox.board.dead:
                        raise PowerCut
                    return fn(*(hp(a) if isinstance(a, str | bytes) else a for a in args))
                except OSError as exc:
                    raise oserror(exc.errno) from None

            return call

        def chdir(path):
            target = hp(path)
            if not target.is_dir():
                raise oserror(errno.ENOENT)
            sandbox.cwd = "/" + target.relative_to(sandbox.flash).as_posix().strip(".")

        m.stat = stat
        m.listdir = listdir
        m.ilistdir = ilistdir
        m.mkdir = wrap(os.mkdir)
        m.rmdir = wrap(os.rmdir)
        m.remove = wrap(os.remove)
        m.unlink = wrap(os.remove)
        m.rename = wrap(os.rename)
        m.chdir = chdir
        m.getcwd = lambda: sandbox.cwd
        m.statvfs = lambda path="/": (4096, 4096, 1_000_000, 500_000, 500_000, 0, 0, 0, 0, 255)
        m.sync = lambda: None
        m.urandom = os.urandom
        m.sep = "/"
        m.uname = lambda: ("sim", "sim", platform.python_version(), "afbms", "cpython")
        return m

    def _select_module(self) -> types.ModuleType:
        m = self.new_module("select")
        board = self.board
        console = board.console
        queue = None if console.byte_s else console.queue  # no link rate: all bytes are in
        m.POLLIN, m.POLLOUT, m.POLLERR, m.POLLHUP = 1, 4, 8, 16

        class Poll:
            def __init__(self):
                self._objs: list = []
                self._readers: list = []  # (obj, POLLIN): what ipoll hands out

            def register(self, obj, mask=5):
                self.unregister(obj)
                self._objs.append((obj, mask))
                self._update()

            def unregister(self, obj):
                self._objs = [(o, k) for o, k in self._objs if o is not obj]
                self._update()

            def modify(self, obj, mask):
                self.register(obj, mask)

            def _update(self):
                self._readers = [(o, 1) for o, k in self._objs if k & 1]
                self._writers = [(o, 4) for o, k in self._objs if k & 4]

            def ipoll(self, timeout=-1, flags=0):
                # The firmware's hot path: ipoll(0) on the console, once per loop turn.
                if timeout == 0 and not self._writers:
                    if queue is not None:
                        return self._readers if queue else ()
                    return self._readers if console.available() else ()
                return self.poll(timeout)

            def poll(self, timeout=-1):
                deadline = None if timeout < 0 else _time.monotonic() + timeout / 1000.0
                while True:
                    ready = (self._readers if console.available() else []) + self._writers
                    if ready or (deadline is not None and _time.monotonic() >= deadline):
                        return ready
                    board.wait(0.001)

        m.poll = Poll
        return m

    def _time_module(self) -> types.ModuleType:
        m = self.new_module("time")
        board = self.board

        def ticks_ms():
            return int(_time.monotonic() * 1000) & _TICKS_MASK

        def ticks_us():
            return int(_time.monotonic() * 1_000_000) & _TICKS_MASK

        def ticks_diff(a, b):
            return ((a - b + _TICKS_HALF) & _TICKS_MASK) - _TICKS_HALF

        m.ticks_ms = ticks_ms
        m.ticks_us = ticks_us
        m.ticks_cpu = ticks_us
        m.ticks_diff = ticks_diff
        m.ticks_add = lambda t, d: (t + d) & _TICKS_MASK
        m.sleep = lambda s: board.wait(s, interruptible=True)
        m.sleep_ms = lambda ms: board.wait(ms / 1000.0, interruptible=True)
        m.sleep_us = lambda us: board.wait(us / 1e6, interruptible=True)
        m.time = lambda: int(_time.time()) - 946684800
        m.time_ns = lambda: _time.time_ns() - 946684800 * 10**9
        m.gmtime = m.localtime = lambda s=None: _time.gmtime(
            (s if s is not None else m.time()) + 946684800
        )[:8]
        return m

    def _micropython_module(self) -> types.ModuleType:
        m = self.new_module("micropython")
        board = self.board

        def kbd_intr(c):
            board.interrupt_char = c

        m.const = lambda x: x
        m.kbd_intr = kbd_intr
        m.opt_level = lambda *a: 0
        m.mem_info = lambda *a: None
        m.heap_lock = m.heap_unlock = lambda: 0
        m.schedule = lambda f, arg: f(arg)
        m.native = m.viper = m.bytecode = lambda f: f
        return m

    def _gc_module(self) -> types.ModuleType:
        m = self.new_module("gc")
        m.collect = lambda: None
        m.mem_free = lambda: 1 << 20
        m.mem_alloc = lambda: 0
        m.enable = m.disable = lambda: None
        return m

    # -- running code

    def run_file(self, name: str) -> int:
        """pyexec_file: 0 done or missing, 1 an exception (printed); SoftReboot on exit."""
        host = self.host_path(name)
        if not host.is_file():
            return 0
        code = compile(host.read_text(encoding="utf-8"), name, "exec")
        return self.run(code)

    def run(self, code: Any, raw: bool = False) -> int:
        """Execute user code in the REPL's globals."""
        board = self.board
        board.interrupt_char = 3
        board.running = True
        try:
            exec(code, self.main.__dict__)
        except SystemExit:
            raise SoftReboot from None
        except (PowerCut, HardReset, SoftReboot):
            raise
        except BaseException as exc:
            board.running = False
            if raw:
                board.console.write(b"\x04")
            self.stdout.write(format_exception(exc))
            return 1
        finally:
            board.running = False
            board.interrupt_char = -1
        if raw:
            board.console.write(b"\x04")
        return 0


def oserror(code: int | None) -> OSError:
    """OSError as MicroPython raises it: errno set, no host path in the message."""
    code = code or errno.EIO
    return OSError(code, errno.errorcode.get(code, str(code)))


def format_exception(exc: BaseException) -> str:
    """A MicroPython-style traceback, without this module's own frames."""
    lines = ["Traceback (most recent call last):"]
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename != _HOST_FILE:
            lines.append(f'  File "{frame.filename}", line {frame.lineno}, in {frame.name}')
    text = str(exc)
    name = "OSError" if isinstance(exc, OSError) else type(exc).__name__  # no subclasses there
    lines.append(f"{name}: {text}" if text else name)
    return "\r\n".join(lines) + "\r\n"


class _FlashFile(io.FileIO):
    """A flash file: unbuffered (every write reaches the host file at once) and dead
    once the power is cut."""

    def __init__(self, board: CPythonBoard, path: Path, mode: str) -> None:
        if board.dead:
            raise PowerCut
        self._board = board
        try:
            super().__init__(path, mode.replace("b", ""))
        except OSError as exc:
            raise oserror(exc.errno) from None

    def write(self, data):  # type: ignore[override]
        if self._board.dead:
            raise PowerCut
        return super().write(data)


# ---------------------------------------------------------------- the board


BANNER = (
    f"CPython {platform.python_version()} (afbms virtual board); sim with CPython\r\n"
    'Type "help()" for more information.\r\n'
)


class CPythonBoard:
    """The CPython-mode board behind a :class:`VirtualBoard` (its ``vm == "cpython"``)."""

    def __init__(self, vb: VirtualBoard) -> None:
        self.vb = vb
        self.flash = vb.flash_dir
        self.bridge = vb.bridge
        self.console = Console(self, vb.console_fd, vb.baud)
        self.dead = False
        self.muted = False
        self.running = False  # user code is executing (Ctrl-C may interrupt it)
        self.interrupt_char = -1
        self.reset_cause = br.PWRON_RESET
        self.raw = False
        self.sandbox: Sandbox | None = None
        self._kill = threading.Event()
        self.thread = threading.Thread(target=self._main, name="vboard-cpy-board", daemon=True)

    # -- control (other threads)

    def start(self) -> None:
        self.console.start()
        self.thread.start()

    def alive(self) -> bool:
        return self.thread.is_alive() and not self.dead

    def kill(self) -> None:
        """Power cut: the board thread stops at its next step."""
        self.dead = True
        self._kill.set()
        self.bridge.wake()
        if self.thread.is_alive() and self.thread is not threading.current_thread():
            _async_raise(self.thread, PowerCut)
            with self.console.cond:
                self.console.cond.notify_all()
            self.thread.join(_STOP_TIMEOUT_S)
        self.console.stop()

    def interrupt(self) -> None:
        """Ctrl-C while user code runs: KeyboardInterrupt in the board thread."""
        _async_raise(self.thread, KeyboardInterrupt)

    def wait(self, seconds: float, interruptible: bool = False) -> None:
        if self._kill.wait(max(0.0, seconds)):
            raise PowerCut

    # -- the board thread

    def _main(self) -> None:
        kind = "power"
        boot = True
        with contextlib.suppress(PowerCut):
            while not self.dead:
                try:
                    if boot:
                        boot = False
                        self._boot(kind)
                    self._repl()
                except SoftReboot:
                    kind, boot = "soft", True
                except HardReset as exc:
                    kind, boot = "hard", True
                    self.reset_cause = exc.cause
                except KeyboardInterrupt:
                    # A Ctrl-C that landed just after user code ended: back to the prompt.
                    self.console.write_text(">" if self.raw else "\r\n>>> ")

    def _boot(self, kind: str) -> None:
        con = self.console
        if kind == "soft":
            con.write_text("MPY: soft reboot\r\n")
        else:
            self.raw = False
        self.interrupt_char = -1
        self.sandbox = sb = Sandbox(self)
        self.bridge.handle(br.OP_BOOT, 0, 1 if kind == "soft" else 0, self.reset_cause, 0, 0, b"")
        sb.run_file("boot.py")
        if not self.raw:
            sb.run_file("main.py")
        if self.raw:
            con.write_text("raw REPL; CTRL-B to exit\r\n>")
        else:
            con.write_text(BANNER + ">>> ")

    def _repl(self) -> None:
        line = bytearray()
        cont: list[str] = []
        paste: list[str] | None = None
        paste_state = 0
        con = self.console
        sb = self.sandbox
        assert sb is not None
        while True:
            b = con.wait_byte()
            if self.raw:
                if paste_state == 1:
                    paste_state = 2 if b == 0x41 else 0
                    if paste_state == 2:
                        continue
                    line.append(5)
                elif paste_state == 2:
                    paste_state = 0
                    if b == 1:
                        con.write(b"R\x00")
                        continue
                    line += b"\x05A"
                if b == 5 and not line:
                    paste_state = 1
                elif b == 1:
                    line.clear()
                    con.write_text("raw REPL; CTRL-B to exit\r\n>")
                elif b == 2:
                    self.raw = False
                    line.clear()
                    con.write_text("\r\n" + BANNER + ">>> ")
                elif b == 3:
                    line.clear()
                elif b == 4:
                    con.write(b"OK")
                    if not line:
                        con.write(b"\r\n")
                        raise SoftReboot
                    source = line.decode("utf-8", "replace")
                    line.clear()
                    try:
                        code = compile(source, "<stdin>", "exec")
                    except SyntaxError as exc:
                        con.write(b"\x04")
                        sb.stdout.write(format_exception(exc))
                    else:
                        sb.run(code, raw=True)
                    con.write(b"\x04>")
                else:
                    line.append(b)
                continue
            # friendly REPL
            if paste is not None:
                if b == 3:
                    paste = None
                    con.write_text("\r\n>>> ")
                elif b == 4:
                    con.write_text("\r\n")
                    self._exec_friendly("\n".join([*paste, line.decode()]), "exec")
                    paste = None
                    line.clear()
                    con.write_text(">>> ")
                elif b == 13:
                    paste.append(line.decode("utf-8", "replace"))
                    line.clear()
                    con.write_text("\r\n=== ")
                else:
                    line.append(b)
                    con.write(bytes([b]))
                continue
            if b == 1 and not line and not cont:
                self.raw = True
                con.write_text("\r\nraw REPL; CTRL-B to exit\r\n>")
            elif b == 2 and not line and not cont:
                con.write_text("\r\n" + BANNER + ">>> ")
            elif b == 3:
                line.clear()
                cont.clear()
                con.write_text("\r\n>>> ")
            elif b == 4 and not line:
                if cont:
                    con.write_text("\r\n")
                    self._exec_friendly("\n".join(cont), "exec")
                    cont.clear()
                    con.write_text(">>> ")
                else:
                    con.write_text("\r\n")
                    raise SoftReboot
            elif b == 5 and not line and not cont:
                paste = []
                con.write_text("\r\npaste mode; Ctrl-C to cancel, Ctrl-D to finish\r\n=== ")
            elif b in (8, 127):
                if line:
                    line.pop()
                    con.write(b"\x08 \x08")
            elif b == 13:
                con.write_text("\r\n")
                text = line.decode("utf-8", "replace")
                line.clear()
                source = "\n".join([*cont, text])
                if cont and not text:
                    complete = True
                else:
                    try:
                        complete = codeop.compile_command(source, "<stdin>", "exec") is not None
                    except (SyntaxError, ValueError, OverflowError):
                        complete = True
                if complete and not (cont and text):
                    cont.clear()
                    if source.strip():
                        self._exec_friendly(source, "single")
                    con.write_text(">>> ")
                else:
                    cont.append(text)
                    con.write_text("... ")
            elif b >= 32 or b == 9:
                line.append(b)
                con.write(bytes([b]))

    def _exec_friendly(self, source: str, mode: str) -> None:
        sb = self.sandbox
        assert sb is not None
        try:
            tree = ast.parse(source, "<stdin>", "exec")
        except SyntaxError as exc:
            sb.stdout.write(format_exception(exc))
            return
        if mode == "single":  # as MicroPython's REPL: every expression statement prints
            for i, node in enumerate(tree.body):
                if isinstance(node, ast.Expr):
                    show = ast.Name("__vb_show__", ast.Load())
                    tree.body[i] = ast.copy_location(
                        ast.Expr(ast.Call(show, [node.value], [])), node
                    )
            ast.fix_missing_locations(tree)
        sb.run(compile(tree, "<stdin>", "exec"))


__all__ = ["CPythonBoard", "PowerCut"]
