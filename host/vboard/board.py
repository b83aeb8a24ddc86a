"""The virtual board: a pseudo-terminal the host opens like /dev/ttyACM0, the board's
firmware behind it (the real MicroPython VM under node, or CPython threads), the plant
behind its pins.

    with VirtualBoard(flash_dir) as vb:
        serial.Serial(vb.port)          # or mpremote connect <vb.port>, afbms ...
        vb.plant.inject_overvoltage()   # hold vb.lock when touching the plant
        vb.power_cut(); vb.power_on()   # kill -9 at any instant; the flash keeps its bytes

The pty: created once per VirtualBoard and kept across power cycles (the same port path,
as a USB serial port whose board is re-plugged). Its slave is in raw mode and stays
open here, so clients closing it never hang up the master; the master is the board's
console (node's stdin and stdout, or the CPython board's).
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import json
import os
import signal
import subprocess
import tempfile
import termios
import threading
import time
import tty
from pathlib import Path
from typing import Any

from afbms import mpvm
from afbms.boards.sim import board as SIM
from afbms.vboard.bridge import Bridge
from afbms.vboard.plant import MinimalPlant

RUNNER = Path(__file__).with_name("runner.mjs")
VM_LIB = sorted(Path(__file__).with_name("vm").glob("*.py"))
_EPOCH_2000 = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)
_STOP_TIMEOUT_S = 5.0


class VirtualBoardError(Exception):
    """The virtual board could not start or stopped unexpectedly."""


def _now_s_since_2000() -> int:
    return int((datetime.datetime.now(datetime.UTC) - _EPOCH_2000).total_seconds())


class VirtualBoard:
    """A virtual board on a pseudo-terminal (see the module docstring).

    ``flash_dir``: the board's file system root (created if missing). ``vm``:
    "micropython" (the real VM, faithful) or "cpython" (the same firmware in this
    process, fast). ``speed``: simulated seconds per wall second, None = as fast as
    possible. ``baud``: limit the console's byte rate (8N1). ``plant``: the world behind
    the pins (default :class:`MinimalPlant`; :class:`afbms.plant.world.Plant` fits).
    ``epoch_s``: device time at plant time 0 (s since 2000-01-01; default now).
    """

    def __init__(
        self,
        flash_dir: str | os.PathLike[str],
        vm: str = "micropython",
        speed: float | None = None,
        baud: int | None = None,
        plant: Any = None,
        *,
        heap_size: int = 1024 * 1024,
        epoch_s: int | None = None,
        unique_id: bytes = b"\x5b\x0a\x4d\x00\x00\x00\x00\x01",
        log_path: str | os.PathLike[str] | None = None,
    ) -> None:
        if vm not in ("micropython", "cpython"):
            raise ValueError(f"vm must be 'micropython' or 'cpython', not {vm!r}")
        if baud is not None and baud <= 0:
            raise ValueError("baud must be positive")
        self.flash_dir = Path(flash_dir).resolve()
        self.vm = vm
        self.baud = baud
        self.heap_size = heap_size
        self.plant = plant if plant is not None else MinimalPlant()
        self.lock = threading.RLock()
        self.bridge = Bridge(
            self.plant,
            self.lock,
            speed=speed,
            epoch_s=_now_s_since_2000() if epoch_s is None else epoch_s,
            unique_id=unique_id,
            enables=(SIM.CHARGE_EN_PIN, SIM.DISCHARGE_EN_PIN, SIM.EN_ACTIVE_LEVEL),
            on_power_cut=self._sim_power_cut,
        )
        self.pids: list[int] = []  # every node process this board started
        self._master = -1
        self._slave = -1
        self._port = ""
        self._proc: subprocess.Popen[bytes] | None = None
        self._serve_thread: threading.Thread | None = None
        self._cpy: Any = None  # the CPython board, when vm == "cpython"
        self._power_lock = threading.RLock()
        self._closed = False
        self._own_log = log_path is None
        if log_path is None:  # created when the VM first starts, removed by close()
            log_path = Path(tempfile.gettempdir()) / f"afbms-vboard-{os.getpid()}-{id(self):x}.log"
        self.log_path = Path(log_path)

    # ------------------------------------------------------------ public API

    @property
    def port(self) -> str:
        """The pseudo-terminal to open (e.g. /dev/pts/7)."""
        if not self._port:
            raise VirtualBoardError("the virtual board is not started")
        return self._port

    @property
    def powered(self) -> bool:
        if self.vm == "cpython":
            return self._cpy is not None and self._cpy.alive()
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        """The node process of the running VM (None when off or in CPython mode)."""
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    @property
    def speed(self) -> float | None:
        return self.bridge.speed

    def set_speed(self, speed: float | None) -> None:
        """Simulated seconds per wall second (None: as fast as possible)."""
        self.bridge.set_speed(speed)

    def start(self, power: bool = True) -> VirtualBoard:
        """Create the port and power the board on (``power=False``: only the port, so a
        client can open it before the board prints anything; then :meth:`power_on`).

        As with a real board, output written while no client has the port open may be
        lost: clients such as pyserial flush what is pending when they open the port."""
        if self._closed:
            raise VirtualBoardError("this virtual board was closed")
        if self._master < 0:
            self.flash_dir.mkdir(parents=True, exist_ok=True)
            self._master, self._slave = os.openpty()
            tty.setraw(self._slave, termios.TCSANOW)
            os.set_blocking(self._master, False)
            fcntl.fcntl(self._master, fcntl.F_SETFD, fcntl.FD_CLOEXEC)
            fcntl.fcntl(self._slave, fcntl.F_SETFD, fcntl.FD_CLOEXEC)
            self._port = os.ttyname(self._slave)
        if power:
            self.power_on()
        return self

    def power_on(self) -> None:
        """Switch the board on (boot.py, then main.py). No-op when already on."""
        with self._power_lock:
            if self.powered:
                return
            self._drain_console()
            if self.vm == "cpython":
                from afbms.vboard.cpyboard import CPythonBoard

                self._cpy = CPythonBoard(self)
                self._cpy.start()
            else:
                self._start_node()

    def power_cut(self) -> None:
        """Switch the board off now: SIGKILL of the VM process (or the CPython board's
        threads stopped at their next step). The flash keeps what was written."""
        with self._power_lock:
            if self.vm == "cpython":
                if self._cpy is not None:
                    self._cpy.kill()
                    self._cpy = None
            else:
                self._kill_node()
            self.bridge.release_outputs()

    def hard_reset(self) -> None:
        """Power cycle: off, then on again."""
        with self._power_lock:
            self.power_cut()
            self.power_on()

    def close(self) -> None:
        """Switch off and release the port (bounded time; only our own processes)."""
        if self._closed:
            return
        self._closed = True
        self.power_cut()
        for fd in (self._master, self._slave):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._master = self._slave = -1
        if self._own_log:
            with contextlib.suppress(OSError):
                self.log_path.unlink()

    def log(self) -> str:
        """What the runner wrote to its log (diagnostics)."""
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def __enter__(self) -> VirtualBoard:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ the node process

    def _start_node(self) -> None:
        node = mpvm.node_executable()
        req_r, req_w = os.pipe()
        resp_r, resp_w = os.pipe()
        config = {
            "module": str(mpvm.micropython_module()),
            "heapsize": self.heap_size,
            "pystack": 2048,
            "flashDir": str(self.flash_dir),
            "lib": [str(p) for p in VM_LIB],
            "reqFd": req_w,
            "respFd": resp_r,
            "baud": self.baud or 0,
        }
        log = open(self.log_path, "ab")  # noqa: SIM115  (handed to the child, closed below)
        try:
            proc = subprocess.Popen(
                [node, str(RUNNER), json.dumps(config)],
                stdin=self._master,
                stdout=self._master,
                stderr=log,
                pass_fds=(req_w, resp_r),
                start_new_session=True,  # its own process group: signals reach only it
            )
        except BaseException:
            for fd in (req_r, req_w, resp_r, resp_w):
                os.close(fd)
            raise
        finally:
            log.close()
        os.close(req_w)
        os.close(resp_r)
        self.pids.append(proc.pid)
        self._proc = proc
        thread = threading.Thread(
            target=self._serve, args=(req_r, resp_w), name=f"vboard-bridge-{proc.pid}", daemon=True
        )
        self._serve_thread = thread
        thread.start()

    def _serve(self, req_r: int, resp_w: int) -> None:
        try:
            self.bridge.serve(req_r, resp_w)
        finally:
            os.close(req_r)
            os.close(resp_w)

    def _kill_node(self) -> None:
        proc = self._proc
        if proc is None:
            return
        self._proc = None
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):  # SIGKILL cannot be ignored
            proc.wait(timeout=_STOP_TIMEOUT_S)
        self.bridge.wake()
        thread = self._serve_thread
        self._serve_thread = None
        if thread is not None:
            thread.join(timeout=_STOP_TIMEOUT_S)

    def _drain_console(self) -> None:
        """Drop what the host sent while the board was off (nobody was listening)."""
        if self._master < 0:
            return
        with contextlib.suppress(OSError):
            while os.read(self._master, 4096):
                pass

    def _sim_power_cut(self, off_ms: int) -> None:
        """SIM_CONTROL POWER_CUT: off now; back on after ``off_ms`` wall ms (0: stays off)."""
        with self._power_lock:
            if self._closed:
                return
            self.power_cut()
        if off_ms > 0:
            time.sleep(off_ms / 1000.0)
            with self._power_lock:
                if not self._closed:
                    self.power_on()

    # ------------------------------------------------------------ for the CPython board

    @property
    def console_fd(self) -> int:
        return self._master


__all__ = ["VirtualBoard", "VirtualBoardError"]
