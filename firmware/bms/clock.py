"""Clocks: the only source of time for the application.

``Clock`` keeps device time (s since 2000-01-01 UTC, MicroPython's embedded
epoch) as an anchor plus elapsed ticks, re-anchored every hour so tick
differences stay far inside their wrap-around range. Subclasses supply the
tick functions: ``hw.BoardClock`` uses MicroPython's ``time``; ``VirtualClock``
is driven by whoever owns virtual time (tests, the virtual board's plant).
"""

try:
    from micropython import const
except ImportError:  # CPython

    def const(__x):
        return __x


TICKS_PERIOD = 1 << 30  # MicroPython's ticks_ms() wraps at 2**30 (not itself a small int)
_TICKS_MAX = const(0x3FFFFFFF)  # TICKS_PERIOD - 1
_TICKS_HALF = const(0x20000000)
_REANCHOR_MS = const(3600000)


class Clock:
    """Device-time bookkeeping over a wrapping millisecond tick counter."""

    # Longest sleep between link polls while waiting for a sample: short on a real
    # board (the host gets answers quickly); a virtual clock that does not pace
    # itself may answer with a long one, since its sleeps cost nothing.
    poll_slice_ms = 5

    def __init__(self, time_s=0):
        self._anchor_s = time_s
        self._anchor_ticks = self.ticks_ms()

    # Subclasses: ticks_ms(), sleep_ms(ms). The arithmetic is MicroPython's.
    def ticks_ms(self):
        raise NotImplementedError

    def sleep_ms(self, ms):
        raise NotImplementedError

    # Written so that no intermediate leaves MicroPython's small-int range
    # (|x| < 2**30): a big int would be a heap allocation on every sample.

    def ticks_add(self, ticks, delta):
        """ticks + delta on the wrapping counter (|delta| < 2**29)."""
        t = ticks - _TICKS_MAX + delta  # ticks + delta - PERIOD + 1
        if t > 0:  # wrapped past the top
            return t - 1
        t += _TICKS_MAX  # ticks + delta
        if t < 0:  # wrapped below zero
            return t + _TICKS_MAX + 1
        return t

    def ticks_diff(self, a, b):
        """a - b in ms, correct across one wrap of the counter."""
        d = a - b
        if d >= _TICKS_HALF:
            return d - _TICKS_MAX - 1
        if d < -_TICKS_HALF:
            return d + _TICKS_MAX + 1
        return d

    def set_time_s(self, time_s):
        """Set device time (s since 2000-01-01 UTC), e.g. from COMMAND SET_TIME."""
        self._anchor_s = time_s
        self._anchor_ticks = self.ticks_ms()

    def _elapsed_ms(self):
        elapsed = self.ticks_diff(self.ticks_ms(), self._anchor_ticks)
        if elapsed >= _REANCHOR_MS:
            whole_s = elapsed // 1000
            self._anchor_s += whole_s
            self._anchor_ticks = self.ticks_add(self._anchor_ticks, whole_s * 1000)
            elapsed -= whole_s * 1000
        return elapsed

    def time_s(self):
        """Device time in whole seconds since 2000-01-01 UTC."""
        return self._anchor_s + self._elapsed_ms() // 1000

    def device_time_into(self, sample):
        """Set sample.t_s and sample.t_sub_ms without allocating."""
        elapsed = self._elapsed_ms()
        sample.t_s = self._anchor_s + elapsed // 1000
        sample.t_sub_ms = elapsed % 1000


class VirtualClock(Clock):
    """Time that moves only when told to: ``advance(ms)`` or ``sleep_ms(ms)``."""

    def __init__(self, time_s=0, start_ticks=0):
        self._ticks = start_ticks & _TICKS_MAX
        Clock.__init__(self, time_s)

    def ticks_ms(self):
        return self._ticks

    def advance(self, ms):
        self._ticks = self.ticks_add(self._ticks, ms)

    def sleep_ms(self, ms):
        if ms > 0:
            self.advance(ms)
