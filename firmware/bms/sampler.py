"""Sampling of every sensor into one Sample, on an absolute schedule.

The schedule advances by exactly one period from the previous deadline, not
from when the work finished, so sampling does not drift. If the loop falls
more than one period behind (a long flash write, say), whole periods are
skipped and counted in ``overruns`` instead of bursting to catch up.
"""

from bms import wire

try:
    from micropython import const
except ImportError:  # CPython

    def const(__x):
        return __x


_UAMS_PER_CHUNK_MS = const(1000)  # integrate long gaps in 1 s pieces: µA x ms stays small


class Sampler:
    """Reads the current/voltage monitor, the load cell and the thermistor.

    ``monitor`` is an INA228 (hardware charge accumulator) or INA226 driver;
    ``loadcell`` a NAU7802 driver (or None); ``thermistor`` an NTC driver (or
    None). A failed read keeps the previous value and sets the sensor's fault
    bit in ``sample.errors`` for this period; protection decides what it means.
    """

    def __init__(self, clock, sample, monitor, loadcell, thermistor, period_ms, area_um2k):
        self.clock = clock
        self.sample = sample
        self.monitor = monitor
        self.loadcell = loadcell
        self.thermistor = thermistor
        self.has_accumulator = hasattr(monitor, "charge_delta_uams")
        self.period_ms = period_ms
        self.area_um2k = area_um2k
        self.overruns = 0
        self.next_ms = clock.ticks_ms()
        self._last_ms = self.next_ms
        self._primed = False

    def set_period(self, period_ms):
        self.period_ms = period_ms

    def set_area(self, area_um2k):
        self.area_um2k = area_um2k

    def ms_until_due(self):
        """Milliseconds until the next sample is due (<= 0: due now)."""
        return self.clock.ticks_diff(self.next_ms, self.clock.ticks_ms())

    def _advance_schedule(self, now):
        clock = self.clock
        self.next_ms = clock.ticks_add(self.next_ms, self.period_ms)
        late = clock.ticks_diff(now, self.next_ms)
        if late >= 0:  # the next deadline has already passed: skip to the first one ahead
            skipped = late // self.period_ms + 1
            self.overruns += skipped
            self.next_ms = clock.ticks_add(self.next_ms, skipped * self.period_ms)

    def read(self):
        """Take one sample now and schedule the next one. Returns the Sample."""
        clock = self.clock
        s = self.sample
        now = clock.ticks_ms()
        self._advance_schedule(now)
        s.t_ms = now
        clock.device_time_into(s)
        s.seq += 1
        errors = 0
        monitor = self.monitor
        try:
            s.voltage_uv = monitor.bus_voltage_uv()
            s.current_ua = monitor.current_ua()
            if self.has_accumulator:
                delta = monitor.charge_delta_uams()
                if self._primed:
                    s.add_charge_uams(delta)
            elif self._primed:
                self._integrate(clock.ticks_diff(now, self._last_ms))
        except OSError:
            errors |= wire.FAULT_SENSOR_CURRENT
        if self.loadcell is not None:
            try:
                s.pressure_pa = self.loadcell.pressure_pa(self.area_um2k)
            except OSError:
                errors |= wire.FAULT_SENSOR_PRESSURE
        if self.thermistor is not None:
            try:
                s.temperature_mc = self.thermistor.temperature_mc()
            except OSError:
                errors |= wire.FAULT_SENSOR_TEMPERATURE
        s.errors = errors
        self._last_ms = now
        self._primed = True
        return s

    def _integrate(self, dt_ms):
        """Firmware coulomb counting for monitors without an accumulator."""
        current = self.sample.current_ua
        while dt_ms > 0:
            step = dt_ms if dt_ms < _UAMS_PER_CHUNK_MS else _UAMS_PER_CHUNK_MS
            self.sample.add_charge_uams(current * step)
            dt_ms -= step
