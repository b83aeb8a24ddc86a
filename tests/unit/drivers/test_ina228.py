"""INA228 driver against the register-level emulator (afbms.chips.ina228)."""

import errno
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from afbms.chips import ina228 as chip
from afbms.chips.bus import I2CBus
from afbms.chips.ina228 import INA228Emu
from drivers.ina228 import ADC_CONFIG_DEFAULT, INA228

ADDR = 0x40
# (shunt µΩ, max current µA): ADCRANGE=1 with an exact SHUNT_CAL, ADCRANGE=0, a
# non-integer SHUNT_CAL, a small lab current.
CONFIGS = [(10_000, 2_000_000), (15_000, 10_000_000), (4_700, 3_333_333), (100_000, 100_000)]


def make(shunt_uohm=10_000, max_ua=2_000_000, emu_shunt=None):
    bus = I2CBus()
    emu = bus.attach(ADDR, INA228Emu(emu_shunt or shunt_uohm))
    return bus, emu, INA228(bus, ADDR, shunt_uohm, max_ua)


def lsb_ua(drv, shunt_uohm):
    """The CURRENT_LSB the written SHUNT_CAL gives, from the datasheet formula (µA)."""
    scale = 13107.2e6 * (4 if drv.adcrange else 1)
    return drv.shunt_cal / (scale * shunt_uohm * 1e-6) * 1e6


# -- identity and configuration ---------------------------------------------
def test_known_good_start_up():
    bus, emu, drv = make()
    assert emu.register(chip.SHUNT_CAL) == drv.shunt_cal == 2000
    assert emu.register(chip.ADC_CONFIG) == ADC_CONFIG_DEFAULT
    assert emu.register(chip.CONFIG) & 0x10  # 20 mV at 2 A fits ADCRANGE=1
    assert bus.writes >= 4


@pytest.mark.parametrize(
    ("manufacturer", "device"), [(0x1234, 0x2281), (0x5449, 0x2271), (0x5449, 0x2260)]
)
def test_wrong_ids_raise(manufacturer, device):
    bus = I2CBus()
    bus.attach(ADDR, INA228Emu()).set_ids(manufacturer, device)
    with pytest.raises(OSError):
        INA228(bus, ADDR, 10_000, 2_000_000)


def test_any_die_revision_is_accepted():
    bus = I2CBus()
    bus.attach(ADDR, INA228Emu()).set_ids(0x5449, 0x2282)
    INA228(bus, ADDR, 10_000, 2_000_000)


def test_absent_or_nacking_chip_raises_eio():
    bus = I2CBus()
    with pytest.raises(OSError) as info:
        INA228(bus, ADDR, 10_000, 2_000_000)
    assert info.value.args[0] == errno.EIO
    bus.attach(ADDR, INA228Emu())
    bus.nack(ADDR)
    with pytest.raises(OSError):
        INA228(bus, ADDR, 10_000, 2_000_000)


@pytest.mark.parametrize(("shunt", "max_ua"), CONFIGS)
def test_shunt_cal_follows_the_datasheet(shunt, max_ua):
    _, emu, drv = make(shunt, max_ua)
    v_shunt = max_ua * 1e-6 * shunt * 1e-6
    adcrange = 1 if v_shunt <= 0.04096 else 0
    assert drv.adcrange == adcrange
    assert bool(emu.register(chip.CONFIG) & 0x10) == bool(adcrange)
    formula = 13107.2e6 * (max_ua * 1e-6 / 2**19) * (shunt * 1e-6) * (4 if adcrange else 1)
    cal = emu.register(chip.SHUNT_CAL)
    assert cal == math.ceil(formula - 1e-9)  # rounded up: max current stays in range
    assert 0 <= cal - formula < 1


def test_known_calibrations():
    assert make(10_000, 2_000_000)[2].shunt_cal == 2000  # ADCRANGE=1: ×4
    assert make(15_000, 10_000_000)[2].shunt_cal == 3750  # ADCRANGE=0
    assert make(4_700, 3_333_333)[2].shunt_cal == 1567  # 1566.67 rounded up


def test_shunt_voltage_beyond_full_scale_is_refused():
    with pytest.raises(ValueError):
        make(16_500, 10_000_000)  # 165 mV > 163.84 mV


# -- readings -----------------------------------------------------------------
@pytest.mark.parametrize(("shunt", "max_ua"), CONFIGS)
def test_current_within_one_lsb_across_range(shunt, max_ua):
    _, emu, drv = make(shunt, max_ua)
    lsb = lsb_ua(drv, shunt)
    for frac in (-1.0, -0.999, -0.5, -0.1234, -1e-3, 0.0, 1e-4, 0.01, 0.3333, 0.75, 0.999):
        ua = round(frac * max_ua)
        emu.set_current_ua(ua)
        assert abs(drv.current_ua() - ua) <= lsb + 1, (ua, drv.current_ua())


_FIXED = make(10_000, 2_000_000)  # shared by the hypothesis test (each example sets its input)


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=-2_000_000, max_value=1_999_990))
def test_current_round_trip_whole_signed_range(ua):
    _, emu, drv = _FIXED
    emu.set_current_ua(ua)
    assert abs(drv.current_ua() - ua) <= 2_000_000 / 2**19 + 1


def test_current_saturates_at_full_scale():
    _, emu, drv = make(10_000, 2_000_000)
    emu.set_current_ua(5_000_000)
    assert 1_999_990 <= drv.current_ua() <= 2_000_000
    emu.set_current_ua(-5_000_000)
    assert drv.current_ua() == -2_000_000


def test_shunt_tolerance_scales_the_reading():
    _, emu, drv = make(10_000, 2_000_000, emu_shunt=10_100)  # real shunt 1 % high
    emu.set_current_ua(1_000_000)
    assert abs(drv.current_ua() - 1_010_000) <= 5


@pytest.mark.parametrize("uv", [0, 195, 1_000_000, 3_700_000, 4_200_000, 48_000_000, 85_000_000])
def test_bus_voltage_within_half_lsb(uv):
    _, emu, drv = make()
    emu.set_bus_voltage_uv(uv)
    assert abs(drv.bus_voltage_uv() - uv) <= 195.3125 / 2 + 1


@pytest.mark.parametrize("mc", [-40_000, -7, 0, 7, 25_000, 85_123, 125_000])
def test_die_temperature_within_half_lsb(mc):
    _, emu, drv = make()
    emu.set_die_temperature_mc(mc)
    assert abs(drv.die_temperature_mc() - mc) <= 7.8125 / 2 + 1


# -- the 40-bit charge accumulator ---------------------------------------------
@pytest.mark.parametrize(
    "raw",
    [0, 1, -1, 2, -2, 0x7FFFFFFFFF, -(2**39), -(2**39) + 1, -123_456_789_012, 2**20, -(2**20)],
)
def test_charge_raw_sign_extends_at_bit_39(raw):
    _, emu, drv = make()
    emu.set_charge_raw(raw)
    assert drv.charge_raw() == raw


def _lsb_uams(drv):
    return drv._q_int + drv._q_frac / 2**18


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (-3, 5),  # across zero, upwards
        (4, -6),  # across zero, downwards
        (-1, 0),
        (0, -1),
        (2**39 - 10, -(2**39) + 10),  # 40-bit wrap, positive current: +20
        (-(2**39) + 5, 2**39 - 5),  # 40-bit wrap, negative current: -10
        (-123_456_789_012, -123_456_000_000),
        (2**20 - 1, 2**20 + 1),  # carry between the two 20-bit halves
        (2**20 + 1, 2**20 - 1),
    ],
)
def test_charge_delta_across_zero_and_wrap(before, after):
    _, emu, drv = make()
    emu.set_charge_raw(before)
    drv.charge_delta_uams()  # baseline
    emu.set_charge_raw(after)
    counts = (after - before + 2**39) % 2**40 - 2**39
    assert abs(drv.charge_delta_uams() - counts * _lsb_uams(drv)) <= 1


def test_charge_follows_current_and_time():
    _, emu, drv = make()
    emu.set_current_ua(1_000_000)
    emu.advance_ms(1000)
    assert drv.charge_delta_uams() == 1_000_000_000  # 1 A for 1 s, in µA·ms
    emu.set_current_ua(-250_000)
    emu.advance_ms(2000)
    assert drv.charge_delta_uams() == -500_000_000


@pytest.mark.parametrize(("shunt", "max_ua"), CONFIGS)
def test_no_charge_lost_over_many_small_deltas(shunt, max_ua):
    _, emu, drv = make(shunt, max_ua)
    emu.set_charge_raw(-(2**18))  # start below zero: the run crosses it
    drv.charge_delta_uams()
    start = emu.charge_raw()
    total = 0
    emu.set_current_ua(round(0.123457 * max_ua))
    for _ in range(3000):
        emu.advance_ms(7)
        total += drv.charge_delta_uams()
    counts = emu.charge_raw() - start
    assert start < 0 < emu.charge_raw()
    exact = counts * _lsb_uams(drv)  # what the counts are worth, nothing dropped
    assert exact - 1 < total <= exact
    physical = counts * lsb_ua(drv, shunt) * 1000
    assert abs(total - physical) <= lsb_ua(drv, shunt) * 1000  # within one LSB


def test_reset_charge_clears_the_accumulator():
    _, emu, drv = make()
    emu.set_current_ua(500_000)
    emu.advance_ms(100)
    assert emu.charge_raw() > 0 and emu.energy_raw() >= 0
    drv.reset_charge()
    assert emu.charge_raw() == 0 and emu.energy_raw() == 0
    assert emu.register(chip.CONFIG) & 0x4000 == 0  # RSTACC self-clears
    emu.advance_ms(10)
    # only what came after the reset: 0.5 A for 10 ms, less the part of a count pending
    assert 5_000_000 - _lsb_uams(drv) < drv.charge_delta_uams() <= 5_000_000


def test_charge_overflow_flag_and_wrap():
    _, emu, drv = make()
    emu.set_charge_raw(2**39 - 1)
    drv.charge_delta_uams()
    emu.set_current_ua(2_000_000)
    emu.advance_ms(1)
    assert emu.charge_raw() < 0
    assert emu.register(chip.DIAG_ALRT) & 0x0400  # CHARGEOF
    assert drv.charge_delta_uams() > 0


# -- faults ----------------------------------------------------------------------
def test_bus_nack_raises_from_every_method():
    bus, _, drv = make()
    bus.nack(ADDR)
    for method in (
        drv.bus_voltage_uv, drv.current_ua, drv.die_temperature_mc,
        drv.charge_delta_uams, drv.charge_raw, drv.reset_charge,
    ):  # fmt: skip
        with pytest.raises(OSError) as info:
            method()
        assert info.value.args[0] == errno.EIO
    bus.nack(ADDR, on=False)
    drv.current_ua()


def test_injected_faults_show_in_readings():
    _, emu, drv = make()
    emu.set_current_ua(1_000_000)
    emu.fault("current", offset=10_000)
    assert abs(drv.current_ua() - 1_010_000) <= 5
    emu.fault("current", gain_ppm=-2000)
    assert abs(drv.current_ua() - 998_000) <= 5
    emu.fault("current", stuck=123_456)
    emu.set_current_ua(-1_000_000)
    assert abs(drv.current_ua() - 123_456) <= 5
    emu.set_bus_voltage_uv(3_000_000)
    seq = iter(range(0, 100_000, 1000))  # deterministic noise: one value per conversion
    emu.fault("bus_voltage", noise=lambda: next(seq))  # converts with noise 0
    assert abs(drv.bus_voltage_uv() - 3_000_000) <= 100
    emu.advance_ms(1)  # the next conversion: noise 1000
    assert abs(drv.bus_voltage_uv() - 3_001_000) <= 100
    emu.advance_ms(1)
    assert abs(drv.bus_voltage_uv() - 3_002_000) <= 100
    emu.clear_faults()
    assert abs(drv.current_ua() + 1_000_000) <= 5
