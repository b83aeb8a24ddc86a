"""The sampler: absolute schedule, fixed-point readings, charge counting, sensor faults."""

import pytest

from bms import wire
from bms.clock import VirtualClock
from bms.sample import Sample
from bms.sampler import Sampler


class FakeMonitor:
    """INA226-like: voltage and current only."""

    def __init__(self):
        self.voltage = 3_900_000
        self.current = 1_000
        self.fail = False

    def bus_voltage_uv(self):
        if self.fail:
            raise OSError(5)
        return self.voltage

    def current_ua(self):
        return self.current


class FakeAccumulatingMonitor(FakeMonitor):
    """INA228-like: also a hardware charge accumulator."""

    def __init__(self):
        super().__init__()
        self.pending_uams = 0

    def charge_delta_uams(self):
        delta, self.pending_uams = self.pending_uams, 0
        return delta


class FakeLoadCell:
    def __init__(self):
        self.fail = False
        self.area = None

    def pressure_pa(self, area_um2k):
        if self.fail:
            raise OSError(5)
        self.area = area_um2k
        return 5_000_000


class FakeThermistor:
    def __init__(self):
        self.fail = False

    def temperature_mc(self):
        if self.fail:
            raise OSError(5)
        return 25_000


@pytest.fixture
def rig():
    clock = VirtualClock(time_s=848_000_000)
    monitor, cell, ntc = FakeMonitor(), FakeLoadCell(), FakeThermistor()
    sampler = Sampler(clock, Sample(), monitor, cell, ntc, period_ms=1000, area_um2k=100_000)
    return clock, sampler, monitor, cell, ntc


def test_reads_every_sensor(rig):
    _, sampler, _, cell, _ = rig
    s = sampler.read()
    assert (s.voltage_uv, s.current_ua, s.pressure_pa, s.temperature_mc, s.errors) == (
        3_900_000,
        1_000,
        5_000_000,
        25_000,
        0,
    )
    assert cell.area == 100_000


def test_device_time_is_stamped(rig):
    clock, sampler, *_ = rig
    clock.advance(1_250)
    s = sampler.read()
    assert (s.t_s, s.t_sub_ms) == (848_000_001, 250)


def test_schedule_does_not_drift_when_work_is_late(rig):
    clock, sampler, *_ = rig
    deadlines = []
    for _ in range(5):
        clock.sleep_ms(sampler.ms_until_due())
        clock.advance(37)  # work after the deadline must not shift the next one
        sampler.read()
        deadlines.append(sampler.next_ms)
    assert deadlines == [1000, 2000, 3000, 4000, 5000]


def test_long_stall_skips_periods_instead_of_bursting(rig):
    clock, sampler, *_ = rig
    sampler.read()
    clock.advance(5_500)
    sampler.read()
    assert (sampler.overruns, sampler.ms_until_due()) == (4, 500)


def test_firmware_integrates_current_without_accumulator(rig):
    clock, sampler, monitor, *_ = rig
    monitor.current = 3_600  # 3.6 mA for 1000 s = 1000 µAh
    sampler.read()
    for _ in range(1000):
        clock.advance(1000)
        sampler.read()
    assert (sampler.sample.charge_uah, sampler.sample.charge_rem_uams) == (1000, 0)


def test_long_gap_is_integrated_in_pieces(rig):
    clock, sampler, monitor, *_ = rig
    monitor.current = 100_000  # 100 mA over 60 s: 6e9 µA·ms would not be a small int
    sampler.read()
    clock.advance(60_000)
    sampler.read()
    assert sampler.sample.charge_uah == 1666  # 100 mA x 60 s = 1666.67 µAh


def test_hardware_accumulator_is_used_when_present():
    clock = VirtualClock()
    monitor = FakeAccumulatingMonitor()
    sampler = Sampler(clock, Sample(), monitor, None, None, period_ms=1000, area_um2k=1)
    sampler.read()
    monitor.pending_uams = 7_200_000
    clock.advance(1000)
    s = sampler.read()
    assert (s.charge_uah, s.pressure_pa, s.temperature_mc) == (2, 0, 0)


def test_first_accumulator_delta_is_discarded():
    # Whatever the chip accumulated before boot is not this session's charge.
    clock = VirtualClock()
    monitor = FakeAccumulatingMonitor()
    monitor.pending_uams = 10**9
    sampler = Sampler(clock, Sample(), monitor, None, None, period_ms=1000, area_um2k=1)
    assert sampler.read().charge_uah == 0


@pytest.mark.parametrize(
    "part,bit",
    [
        (2, wire.FAULT_SENSOR_CURRENT),
        (3, wire.FAULT_SENSOR_PRESSURE),
        (4, wire.FAULT_SENSOR_TEMPERATURE),
    ],
)
def test_failed_read_sets_its_fault_bit_and_keeps_last_value(rig, part, bit):
    sampler = rig[1]
    first = sampler.read()
    before = (first.voltage_uv, first.pressure_pa, first.temperature_mc)
    rig[part].fail = True
    s = sampler.read()
    assert s.errors == bit
    assert (s.voltage_uv, s.pressure_pa, s.temperature_mc) == before


def test_errors_clear_when_the_sensor_recovers(rig):
    _, sampler, monitor, *_ = rig
    monitor.fail = True
    sampler.read()
    monitor.fail = False
    assert sampler.read().errors == 0
