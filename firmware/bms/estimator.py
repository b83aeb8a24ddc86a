"""Lithium-inventory estimator.

PLACEHOLDER until the estimation issue lands: it counts charge in and out per
cycle, reports the Coulombic efficiency and takes the inventory as the last
measured discharge capacity. SEI/dead-lithium split, thickness, slippage and
end-of-life prediction are reported as 0 / -1 (unknown). The slot (the
``update``/``reset`` interface and the ESTIMATE attributes) is final.
"""

from bms import wire

try:
    from micropython import const
except ImportError:  # CPython

    def const(__x):
        return __x


_PPM = const(1000000)


class Estimator:
    """Attributes mirror the ESTIMATE message fields (see protocol/messages.py)."""

    def __init__(self, capacity_uah):
        self.capacity_uah = capacity_uah
        self.reset()

    def reset(self):
        self.cycle_count = 0
        self.inventory_uah = self.capacity_uah
        self.inventory_ppm = _PPM
        self.ce_last_ppm = 0
        self.ce_rolling_ppm = 0
        self.loss_total_uah = 0
        self.loss_sei_uah = 0
        self.loss_dead_uah = 0
        self.plated_nm = 0
        self.dead_nm = 0
        self.slippage_uah = 0
        self.cycles_to_eol = -1
        self.eol_sigma = -1
        self.cycle_charge_uah = 0  # net charge of the current cycle (TELEMETRY.charge_uah)
        self.cycle_done = False  # set by update() when a cycle completed this sample
        self._in_uah = 0
        self._out_uah = 0
        self._last_total = None
        self._phase = 0  # 0 nothing yet, 1 charging seen, 2 discharging after a charge

    def set_capacity(self, capacity_uah):
        self.capacity_uah = capacity_uah

    def update(self, sample, state):
        """Account one sample. A cycle ends when charging starts after a discharge."""
        self.cycle_done = False
        total = sample.charge_uah
        if self._last_total is None:
            self._last_total = total
            return
        delta = total - self._last_total
        self._last_total = total
        if state == wire.STATE_CHARGE:
            if self._phase == 2:
                self._close_cycle()
            self._phase = 1
        elif state == wire.STATE_DISCHARGE and self._phase == 1:
            self._phase = 2
        if delta > 0:
            self._in_uah += delta
        else:
            self._out_uah -= delta
        self.cycle_charge_uah = self._in_uah - self._out_uah

    def _close_cycle(self):
        # Once per cycle, not per sample: exact (possibly big-int) arithmetic is fine here.
        if self._in_uah > 0:
            self.ce_last_ppm = self._out_uah * _PPM // self._in_uah
            if self.ce_last_ppm > _PPM:
                self.ce_last_ppm = _PPM
            n = self.cycle_count
            self.ce_rolling_ppm = (self.ce_rolling_ppm * n + self.ce_last_ppm) // (n + 1)
            self.inventory_uah = self._out_uah
            if self.capacity_uah > 0:
                self.inventory_ppm = self._out_uah * _PPM // self.capacity_uah
            self.loss_total_uah = self.capacity_uah - self._out_uah
        self.cycle_count += 1
        self.cycle_done = True
        self._in_uah = 0
        self._out_uah = 0
