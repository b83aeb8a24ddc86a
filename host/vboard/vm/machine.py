# machine for the afbms virtual board (MicroPython; installed by the runner into the
# VM's memory at every boot, never flashed).
#
# Every hardware access is forwarded synchronously to the plant in the host process
# through the runner's JS module _vbridge (binary request over a pipe, see
# afbms/vboard/bridge.py). Data moves straight between the plant and the caller's buffer
# (its address from uctypes.addressof), so the hot paths allocate nothing.
#
# Time: the board's virtual clock is kept here (_t, ms, wraps at 2**30 like ticks_ms)
# and sent with every request; the host advances the plant to it lazily. When the host
# paces virtual time (speed x real time) it sets _flags[0] and every sleep goes to the
# host, which returns when the wall clock has caught up.

import _vbridge
import uctypes
from micropython import const

_addr = uctypes.addressof
_i2c_read = _vbridge.i2c_read
_i2c_write = _vbridge.i2c_write
_adc_read = _vbridge.adc_read
_pin_write = _vbridge.pin_write
_pin_read = _vbridge.pin_read
_bsleep = _vbridge.sleep
_bsync = _vbridge.sync

_MASK = const(0x3FFFFFFF)
_HALF = const(0x20000000)
_SYNC_MS = const(3600000)  # tell the host the time at least this often (unwrapping)
_POLL_SLICE_PACED_MS = const(5)
_PACED_STEP_MS = const(50)  # a paced sleep goes to the host in steps of this much
_POLL_SLICE_FREE_MS = const(60000)

PWRON_RESET = const(1)
HARD_RESET = const(2)
WDT_RESET = const(3)
DEEPSLEEP_RESET = const(4)
SOFT_RESET = const(5)

_flags = bytearray(4)  # written by the runner after every request: [0] = paced
_vbridge.shared(_addr(_flags))
_t = 0  # virtual ticks, ms
_unsynced = 0
_wdt_ms = 0
_wdt_due = 0


def _sleep(ms):
    global _t, _unsynced
    if ms <= 0:
        return
    if _flags[0] and ms > _PACED_STEP_MS:  # paced: the console stays alive meanwhile
        while ms > _PACED_STEP_MS:
            _sleep(_PACED_STEP_MS)
            ms -= _PACED_STEP_MS
    _t = (_t + ms) & _MASK
    if _wdt_ms and ((_t - _wdt_due) & _MASK) < _HALF:
        _vbridge.reset(WDT_RESET)  # the watchdog was not fed in time: never returns
    if _flags[0]:
        _bsleep(_t)
        _unsynced = 0
        return
    _unsynced += ms
    if _unsynced >= _SYNC_MS:
        _bsync(_t)
        _unsynced = 0


def _check(r):
    if r < 0:
        raise OSError(-r)
    return r


class Pin:
    IN = const(0)
    OUT = const(1)
    OPEN_DRAIN = const(2)
    PULL_UP = const(1)
    PULL_DOWN = const(2)

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
            return _pin_read(self.id, _t)
        v = 1 if v else 0
        if v != self._last:  # the plant already has it: skip the round trip
            _pin_write(self.id, v, _t)
            self._last = v
        return None

    def __call__(self, v=None):
        return self.value(v)

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)

    def high(self):
        self.value(1)

    def low(self):
        self.value(0)

    def toggle(self):
        self.value(1 - _pin_read(self.id, _t))


def _pin_id(p):
    return p.id if isinstance(p, Pin) else p


class I2C:
    def __init__(self, id=0, *, sda=None, scl=None, freq=400000, timeout=50000):
        self.id = id
        self.freq = freq

    def readfrom_mem_into(self, addr, memaddr, buf, *, addrsize=8):
        r = _i2c_read(addr, memaddr, _addr(buf), len(buf), _t)
        if r:
            raise OSError(-r)

    def readfrom_mem(self, addr, memaddr, nbytes, *, addrsize=8):
        buf = bytearray(nbytes)
        self.readfrom_mem_into(addr, memaddr, buf)
        return bytes(buf)

    def writeto_mem(self, addr, memaddr, buf, *, addrsize=8):
        r = _i2c_write(addr, memaddr, _addr(buf), len(buf), _t)
        if r:
            raise OSError(-r)

    def scan(self):
        buf = bytearray(128)
        n = _check(_vbridge.i2c_scan(_addr(buf), len(buf), _t))
        return [buf[i] for i in range(n)]


class SoftI2C(I2C):
    pass


class ADC:
    def __init__(self, pin, *, atten=None):
        self._pin = _pin_id(pin)

    def read_u16(self):
        r = _adc_read(self._pin, _t)
        if r < 0:
            raise OSError(-r)
        return r


class WDT:
    def __init__(self, id=0, timeout=5000):
        global _wdt_ms
        _wdt_ms = timeout
        self.feed()

    def feed(self):
        global _wdt_due
        _wdt_due = (_t + _wdt_ms) & _MASK


def unique_id():
    buf = bytearray(8)
    _check(_vbridge.info(_addr(buf), _t))
    return bytes(buf)


def reset():
    _vbridge.reset(HARD_RESET)


def soft_reset():
    raise SystemExit


def reset_cause():
    return _vbridge.reset_cause()


def freq(hz=None):
    return 125000000


def idle():
    pass


def disable_irq():
    return 0


def enable_irq(state=0):
    pass


def lightsleep(ms=0):
    _sleep(ms)


def time_s():
    """Device time of the plant (s since 2000-01-01), for the clock's anchor."""
    buf = bytearray(8)
    return _check(_vbridge.info(_addr(buf), _t))


_clock_class = None


def SimClock():
    """A bms.clock.Clock on the plant's virtual time: ticks_ms() is the board's virtual
    tick counter, sleep_ms(ms) lets the plant advance (paced by the host if asked)."""
    global _clock_class
    if _clock_class is None:
        from bms.clock import Clock

        class _SimClock(Clock):
            def __init__(self):
                Clock.__init__(self, time_s())

            def ticks_ms(self):
                return _t

            def sleep_ms(self, ms):
                _sleep(ms)

            @property
            def poll_slice_ms(self):
                # Longest sleep between console polls worth taking: virtual time that is
                # not paced costs nothing, so waiting in one sleep loses no wall time.
                return _POLL_SLICE_PACED_MS if _flags[0] else _POLL_SLICE_FREE_MS

        _clock_class = _SimClock
    return _clock_class()


class SimControl:
    """SIM_CONTROL handler: control(action, arg0, arg1) -> 0 or a wire.ERR_* code."""

    def control(self, action, arg0, arg1):
        return _vbridge.sim_control(action, arg0, arg1, _t)
