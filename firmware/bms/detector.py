"""Dendrite-short detector.

PLACEHOLDER until the estimation issue lands: only the hard-short signature
(an abrupt voltage collapse between two samples) is checked. The slot (the
``update``/``reset`` interface and the event attributes) is final: the app
sends ``event_kind`` with ``event_value`` as an EVENT and latches ``latch``
into protection.
"""

from bms import wire

try:
    from micropython import const
except ImportError:  # CPython

    def const(__x):
        return __x


_HARD_SHORT_DROP_UV = const(500000)  # 0.5 V lost within one sample period
_HARD_SHORT_FLOOR_UV = const(1000000)  # ... to below 1 V


class Detector:
    def __init__(self):
        self.reset()

    def reset(self):
        self.event_kind = -1  # wire.EVT_* raised by the last update, or -1
        self.event_severity = 0
        self.event_value = 0
        self.latch = 0  # wire.FAULT_* bits to latch into protection
        self._last_uv = -1

    def update(self, sample, state):
        self.event_kind = -1
        self.latch = 0
        v = sample.voltage_uv
        last = self._last_uv
        self._last_uv = v
        if sample.errors or last < 0:
            return
        drop = last - v
        if drop >= _HARD_SHORT_DROP_UV and v < _HARD_SHORT_FLOOR_UV:
            self.event_kind = wire.EVT_HARD_SHORT
            self.event_severity = wire.SEV_CRITICAL
            self.event_value = -drop
            self.latch = wire.FAULT_SHORT_HARD
