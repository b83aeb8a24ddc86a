"""``machine`` for the CPython-mode virtual board: the VM's ``vm/machine.py`` API, calling
the plant through the board's :class:`~afbms.vboard.bridge.Bridge` directly.

Virtual time as in the VM: the board counts its own ticks, sleeps are free unless the
host paces time, and every plant access carries the ticks so the bridge advances the
plant lazily.
"""

from __future__ import annotations

import errno
import types
from typing import TYPE_CHECKING, Any

from afbms.vboard import bridge as br

if TYPE_CHECKING:
    from afbms.vboard.cpyboard import CPythonBoard, Sandbox

_MASK = (1 << 30) - 1
_HALF = 1 << 29
_SYNC_MS = 3_600_000
_PACED_STEP_MS = 50


def make_machine(board: CPythonBoard, sandbox: Sandbox) -> types.ModuleType:
    from afbms.vboard.cpyboard import HardReset, PowerCut, oserror

    m = sandbox.new_module("machine")
    bridge = board.bridge
    handle = bridge.handle
    st = types.SimpleNamespace(t=0, unsynced=0, wdt_ms=0, wdt_due=0)

    def call(op: int, a: int = 0, b: int = 0, c: int = 0, d: int = 0, payload: bytes = b"") -> Any:
        if board.dead:
            raise PowerCut
        return handle(op, a, b, c, d, st.t, payload)

    def sleep(ms: int) -> None:
        if ms <= 0:
            return
        if board.dead:
            raise PowerCut
        if bridge._speed is not None and ms > _PACED_STEP_MS:  # Ctrl-C gets a chance
            while ms > _PACED_STEP_MS:
                sleep(_PACED_STEP_MS)
                ms -= _PACED_STEP_MS
        st.t = (st.t + ms) & _MASK
        if st.wdt_ms and ((st.t - st.wdt_due) & _MASK) < _HALF:
            raise HardReset(br.WDT_RESET)
        if bridge._speed is not None:
            call(br.OP_SLEEP)
            st.unsynced = 0
            return
        st.unsynced += ms
        if st.unsynced >= _SYNC_MS:
            call(br.OP_SYNC)
            st.unsynced = 0

    def check(status: int) -> int:
        if status < 0:
            raise oserror(-status)
        return status

    class Pin:
        IN = 0
        OUT = 1
        OPEN_DRAIN = 2
        PULL_UP = 1
        PULL_DOWN = 2

        def __init__(self, id, mode=-1, pull=-1, *, value=None):
            self.id = id
            self._last = -1
            self.init(mode, pull, value=value)

        def init(self, mode=-1, pull=-1, *, value=None):
            if mode != -1:
                self.mode = mode
            if value is not None:
                self.value(value)

        def value(self, v=None):
            if v is None:
                return check(call(br.OP_PIN_READ, self.id)[0])
            v = 1 if v else 0
            if v != self._last:
                call(br.OP_PIN_WRITE, self.id, v)
                self._last = v
            return None

        __call__ = value

        def on(self):
            self.value(1)

        def off(self):
            self.value(0)

        high, low = on, off

        def toggle(self):
            self.value(1 - self.value())

    class I2C:
        def __init__(self, id=0, *, sda=None, scl=None, freq=400000, timeout=50000):
            self.id = id

        def readfrom_mem_into(self, addr, memaddr, buf, *, addrsize=8):
            status, data = call(br.OP_I2C_READ, addr, memaddr, len(buf))
            check(status)
            buf[: len(data)] = data

        def readfrom_mem(self, addr, memaddr, nbytes, *, addrsize=8):
            buf = bytearray(nbytes)
            self.readfrom_mem_into(addr, memaddr, buf)
            return bytes(buf)

        def writeto_mem(self, addr, memaddr, buf, *, addrsize=8):
            check(call(br.OP_I2C_WRITE, addr, memaddr, payload=bytes(buf))[0])

        def scan(self):
            status, data = call(br.OP_I2C_SCAN)
            check(status)
            return list(data)

    class ADC:
        def __init__(self, pin, *, atten=None):
            self._pin = pin.id if isinstance(pin, Pin) else pin

        def read_u16(self):
            return check(call(br.OP_ADC_READ, self._pin)[0])

    class WDT:
        def __init__(self, id=0, timeout=5000):
            st.wdt_ms = timeout
            self.feed()

        def feed(self):
            st.wdt_due = (st.t + st.wdt_ms) & _MASK

    def unique_id():
        status, data = call(br.OP_INFO)
        check(status)
        return bytes(data)

    def time_s():
        return check(call(br.OP_INFO)[0])

    def reset():
        raise HardReset(br.HARD_RESET)

    def soft_reset():
        raise SystemExit

    clock_class: list[Any] = []

    def SimClock():
        if not clock_class:
            Clock = sandbox._import("bms.clock", fromlist=("Clock",)).Clock

            class _SimClock(Clock):
                def __init__(self):
                    Clock.__init__(self, time_s())

                def ticks_ms(self):
                    return st.t

                @property
                def poll_slice_ms(self):
                    # as the VM's machine.SimClock: free virtual time needs no slicing
                    return 5 if bridge._speed is not None else 60_000

                def sleep_ms(self, ms):
                    # sleep() inlined for the common case: the firmware's loop sleeps
                    # 200 times per simulated second.
                    if ms <= 0:
                        return
                    st.t = t = (st.t + ms) & _MASK
                    if board.dead:
                        raise PowerCut
                    if st.wdt_ms or bridge._speed is not None:
                        st.t = (t - ms) & _MASK
                        sleep(ms)
                        return
                    st.unsynced += ms
                    if st.unsynced >= _SYNC_MS:
                        call(br.OP_SYNC)
                        st.unsynced = 0

            clock_class.append(_SimClock)
        return clock_class[0]()

    class SimControl:
        def control(self, action, arg0, arg1):
            return call(br.OP_SIM_CONTROL, 0, action, arg0, arg1)[0]

    m.Pin = Pin
    m.I2C = m.SoftI2C = I2C
    m.ADC = ADC
    m.WDT = WDT
    m.unique_id = unique_id
    m.reset = reset
    m.soft_reset = soft_reset
    m.reset_cause = lambda: board.reset_cause
    m.freq = lambda hz=None: 125_000_000
    m.idle = lambda: None
    m.disable_irq = lambda: 0
    m.enable_irq = lambda state=0: None
    m.lightsleep = sleep
    m.time_s = time_s
    m.SimClock = SimClock
    m.SimControl = SimControl
    m.PWRON_RESET = br.PWRON_RESET
    m.HARD_RESET = br.HARD_RESET
    m.WDT_RESET = br.WDT_RESET
    m.DEEPSLEEP_RESET = 4
    m.SOFT_RESET = 5
    m.EIO = errno.EIO
    return m
