"""The host side of the virtual board's ``machine`` bridge: requests from the VM, served
against the plant, and the board's virtual clock.

Wire format (little-endian), one request at a time, the VM blocked until the answer::

    request   op u8 | n u8 | a u16 | b i32 | c i32 | d i32 | t u32 | n payload bytes
    response  status i32 | flags u8 | n u8 | n payload bytes

``t`` is the VM's virtual tick count in ms (it wraps at 2**30 like ``ticks_ms``) and
``status`` is the result or a negated errno. ``flags`` bit 0 tells the VM that virtual
time is paced, so its sleeps must come here.

Virtual time: the VM counts its own ticks (its sleeps cost nothing when not paced) and
every request carries them; the plant is advanced lazily to the VM's time before it is
looked at. Each boot of the VM restarts its tick count at 0 against the plant's present
time, as a board's ``ticks_ms`` restarts while the world goes on. With a speed, a sleep
returns when the wall clock reaches ``anchor + virtual elapsed / speed``.
"""

from __future__ import annotations

import contextlib
import errno
import os
import struct
import threading
import time
from collections.abc import Callable
from typing import Any

from afbms.protocol.enums import ErrorCode, SimAction

REQUEST = struct.Struct("<BBHiiiI")
RESPONSE = struct.Struct("<iBB")

OP_I2C_READ = 1
OP_I2C_WRITE = 2
OP_I2C_SCAN = 3
OP_ADC_READ = 4
OP_PIN_WRITE = 5
OP_PIN_READ = 6
OP_SLEEP = 7
OP_SYNC = 8
OP_SIM_CONTROL = 9
OP_BOOT = 10
OP_INFO = 11

FLAG_PACED = 1
TICKS_MASK = (1 << 30) - 1
_TICKS_HALF = 1 << 29
_BEHIND_S = 0.05  # paced: further behind the wall clock than this re-anchors (no bursts)

# Reset causes, as machine.reset_cause() reports them.
PWRON_RESET = 1
HARD_RESET = 2
WDT_RESET = 3


def _read_exact(fd: int, n: int) -> bytes | None:
    data = b""
    while len(data) < n:
        try:
            chunk = os.read(fd, n - len(data))
        except OSError:
            return None
        if not chunk:
            return None
        data += chunk
    return data


class Bridge:
    """Serves ``machine`` requests of one virtual board against ``plant``.

    ``plant`` offers the board-facing interface of :mod:`afbms.vboard.plant`. Every
    plant access holds ``lock`` (the host's API takes it too). ``enables`` are the
    (charge, discharge) pin numbers and their active level: released (inactive) at a
    hard reset and at a power cut, as the board's pull-downs do. ``on_power_cut(off_ms)``
    switches the board off for SIM_CONTROL POWER_CUT (arg0: delay in virtual ms, arg1:
    ms before power returns, 0 = until the host powers it on): the board does that, not
    the plant.
    """

    def __init__(
        self,
        plant: Any,
        lock: threading.RLock,
        *,
        speed: float | None = None,
        epoch_s: int = 0,
        unique_id: bytes = b"\x00" * 8,
        enables: tuple[int, int, int] = (14, 15, 1),
        on_power_cut: Callable[[int], None] | None = None,
    ) -> None:
        self.plant = plant
        self.lock = lock
        self.epoch_s = epoch_s
        self.unique_id = (bytes(unique_id) + b"\x00" * 8)[:8]
        self.enables = enables
        self.on_power_cut = on_power_cut
        self.requests = 0
        self.boots: list[tuple[str, int]] = []  # (kind, reset cause) of every VM boot
        self.errors: list[str] = []
        self._speed: float | None = None
        self._anchor_wall = 0.0
        self._anchor_vt = 0
        self._base = 0  # plant time at the VM's last boot
        self._last_ticks = 0
        self._vm_ms = 0  # VM time since its last boot, unwrapped
        self._wake = threading.Event()
        self._cut: tuple[int, int] | None = None  # pending POWER_CUT: (vm time, off ms)
        self.set_speed(speed)

    # ------------------------------------------------------------ time

    @property
    def speed(self) -> float | None:
        return self._speed

    def set_speed(self, speed: float | None) -> None:
        """Simulated seconds per wall second; None or 0: as fast as possible."""
        if speed is not None and speed < 0:
            raise ValueError("speed must be positive (or None for as fast as possible)")
        self._speed = speed or None
        self._anchor_wall = time.monotonic()
        self._anchor_vt = self.vm_time_ms()

    def vm_time_ms(self) -> int:
        """The board's virtual time on the plant's time axis (ms)."""
        return self._base + self._vm_ms

    def _sync(self, ticks: int) -> int:
        delta = (ticks - self._last_ticks) & TICKS_MASK
        if delta < _TICKS_HALF:  # the VM clock never goes back; a jump back is ignored
            self._vm_ms += delta
            self._last_ticks = ticks
        target = self._base + self._vm_ms
        behind = target - self.plant.now_ms()
        if behind > 0:
            self.plant.advance(behind)
        return target

    def _pace(self, target: int) -> None:
        speed = self._speed
        if speed is None:
            return
        now = time.monotonic()
        due = self._anchor_wall + (target - self._anchor_vt) / 1000.0 / speed
        if due < now - _BEHIND_S:
            self._anchor_wall, self._anchor_vt = now, target
            return
        if due > now:
            self._wake.wait(due - now)

    def wake(self) -> None:
        """End a paced sleep now (the board is being switched off)."""
        self._wake.set()

    # ------------------------------------------------------------ serving

    def serve(self, req_fd: int, resp_fd: int) -> None:
        """Answer requests until the VM's end of the pipe closes (power cut or exit)."""
        self._wake.clear()
        while True:
            header = _read_exact(req_fd, REQUEST.size)
            if header is None:
                return
            op, n, a, b, c, d, t = REQUEST.unpack(header)
            payload = _read_exact(req_fd, n) if n else b""
            if payload is None:
                return
            status, out = self.handle(op, a, b, c, d, t, payload)
            flags = FLAG_PACED if self._speed is not None else 0
            try:
                os.write(resp_fd, RESPONSE.pack(status, flags, len(out)) + out)
            except OSError:
                return

    def handle(
        self, op: int, a: int, b: int, c: int, d: int, t: int, payload: bytes
    ) -> tuple[int, bytes]:
        self.requests += 1
        try:
            with self.lock:
                if op == OP_BOOT:
                    self._boot(soft=bool(b), cause=c)
                    return 0, b""
                target = self._sync(t)
                if self._cut is not None and target >= self._cut[0]:
                    self._fire_cut()
                plant = self.plant
                if op == OP_I2C_READ:
                    buf = bytearray(c)
                    plant.i2c_read(a, b, buf)
                    return 0, bytes(buf)
                if op == OP_I2C_WRITE:
                    plant.i2c_write(a, b, payload)
                    return 0, b""
                if op == OP_ADC_READ:
                    return plant.adc_read_u16(a), b""
                if op == OP_PIN_WRITE:
                    plant.pin_write(a, b)
                    return 0, b""
                if op == OP_PIN_READ:
                    return plant.pin_read(a), b""
                if op == OP_SYNC:
                    return 0, b""
                if op == OP_I2C_SCAN:
                    return 0, bytes(plant.i2c_scan())
                if op == OP_INFO:
                    return self.epoch_s + plant.now_ms() // 1000, self.unique_id
                if op == OP_SIM_CONTROL:
                    return self._sim_control(b, c, d), b""
            if op == OP_SLEEP:  # outside the lock: the host may use the plant meanwhile
                self._pace(target)
                return 0, b""
            return -errno.EINVAL, b""
        except OSError as exc:
            return -(exc.errno or errno.EIO), b""
        except ValueError:
            return -errno.ENODEV, b""  # nothing there (an ADC pin without a source...)
        except Exception as exc:  # a plant bug must not hang the board: EIO, and keep it
            self.errors.append(f"op {op}: {type(exc).__name__}: {exc}")
            return -errno.EIO, b""

    def _boot(self, soft: bool, cause: int) -> None:
        self.boots.append(("soft" if soft else "hard", cause))
        if not soft:
            self.release_outputs()
        self._base = max(self.plant.now_ms(), self.vm_time_ms())
        self._last_ticks = 0
        self._vm_ms = 0
        self._anchor_wall = time.monotonic()
        self._anchor_vt = self._base

    def release_outputs(self) -> None:
        """The enables go inactive (reset or power lost: the pins float, pull-downs win)."""
        charge, discharge, active = self.enables
        with self.lock:
            for pin in (charge, discharge):
                with contextlib.suppress(Exception):
                    self.plant.pin_write(pin, 1 - active)

    def _fire_cut(self) -> None:
        with self.lock:
            cut, self._cut = self._cut, None
        if cut is not None and self.on_power_cut is not None:
            # From another thread: switching the board off joins this bridge's thread.
            threading.Thread(target=self.on_power_cut, args=(cut[1],), daemon=True).start()

    def _sim_control(self, action: int, arg0: int, arg1: int) -> int:
        if action == SimAction.SET_SPEED:
            if arg0 < 0:
                return int(ErrorCode.BAD_VALUE)
            self.set_speed(arg0 / 1000.0 if arg0 else None)
            return 0
        if action == SimAction.POWER_CUT:
            if arg0 < 0 or arg1 < 0 or self.on_power_cut is None:
                return int(ErrorCode.BAD_VALUE)
            # Due at the board's virtual time + arg0 (checked at every request); a wall
            # timer makes sure it happens even if the board stops asking (and lets the
            # ACK of an immediate cut leave first).
            self._cut = (self.vm_time_ms() + arg0, arg1)
            timer = threading.Timer(max(0.05, arg0 / 1000.0), self._fire_cut)
            timer.daemon = True
            timer.start()
            return 0
        try:
            result = self.plant.sim_control(action, arg0, arg1)
        except (ValueError, KeyError):
            return int(ErrorCode.BAD_VALUE)
        return 0 if result == 0 else int(ErrorCode.BAD_VALUE)
