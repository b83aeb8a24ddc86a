"""INA226 driver against the register-level emulator (afbms.chips.ina226)."""

import errno
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from afbms.chips import ina226 as chip
from afbms.chips.bus import I2CBus
from afbms.chips.ina226 import INA226Emu
from drivers.ina226 import CONFIG_DEFAULT, INA226

ADDR = 0x41
CONFIGS = [(10_000, 2_000_000), (2_000, 10_000_000), (4_700, 3_333_333), (100_000, 500_000)]


def make(shunt_uohm=10_000, max_ua=2_000_000):
    bus = I2CBus()
    emu = bus.attach(ADDR, INA226Emu(shunt_uohm))
    return bus, emu, INA226(bus, ADDR, shunt_uohm, max_ua)


def tolerance_ua(drv, shunt_uohm):
    """Half a shunt-voltage LSB (2.5 µV) in µA, plus one CURRENT LSB, plus 1 µA."""
    lsb = 0.00512 / (drv.cal * shunt_uohm * 1e-6) * 1e6
    return 2.5e6 / shunt_uohm / 2 + lsb + 1


def test_known_good_start_up():
    _, emu, drv = make()
    assert emu.register(chip.CALIBRATION) == drv.cal == 8388
    assert emu.register(chip.CONFIG) == CONFIG_DEFAULT


@pytest.mark.parametrize(("manufacturer", "die"), [(0x1234, 0x2260), (0x5449, 0x2270)])
def test_wrong_ids_raise(manufacturer, die):
    bus = I2CBus()
    bus.attach(ADDR, INA226Emu()).set_ids(manufacturer, die)
    with pytest.raises(OSError):
        INA226(bus, ADDR, 10_000, 2_000_000)


def test_absent_chip_raises_eio():
    with pytest.raises(OSError) as info:
        INA226(I2CBus(), ADDR, 10_000, 2_000_000)
    assert info.value.args[0] == errno.EIO


@pytest.mark.parametrize(("shunt", "max_ua"), CONFIGS)
def test_calibration_follows_the_datasheet(shunt, max_ua):
    _, emu, _ = make(shunt, max_ua)
    formula = 0.00512 / ((max_ua * 1e-6 / 2**15) * (shunt * 1e-6))
    assert emu.register(chip.CALIBRATION) == math.floor(formula + 1e-9)  # rounded down


def test_tiny_shunt_voltage_clamps_cal():
    _, emu, drv = make(1_000, 1_000_000)  # 1 mV full scale: CAL would be 167772
    assert emu.register(chip.CALIBRATION) == drv.cal == 0x7FFF


def test_shunt_voltage_beyond_full_scale_is_refused():
    with pytest.raises(ValueError):
        make(10_000, 9_000_000)  # 90 mV > 81.92 mV


@pytest.mark.parametrize(("shunt", "max_ua"), CONFIGS)
def test_current_across_range(shunt, max_ua):
    _, emu, drv = make(shunt, max_ua)
    tol = tolerance_ua(drv, shunt)
    for frac in (-1.0, -0.77, -0.5, -0.01, 0.0, 0.001, 0.25, 0.6789, 0.99, 1.0):
        ua = round(frac * max_ua)
        emu.set_current_ua(ua)
        assert abs(drv.current_ua() - ua) <= tol, (ua, drv.current_ua())


_FIXED = make(10_000, 2_000_000)


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=-2_000_000, max_value=2_000_000))
def test_current_round_trip_whole_signed_range(ua):
    _, emu, drv = _FIXED
    emu.set_current_ua(ua)
    assert abs(drv.current_ua() - ua) <= tolerance_ua(drv, 10_000)


@pytest.mark.parametrize("uv", [0, 1250, 3_700_000, 4_200_000, 36_000_000, 40_958_750])
def test_bus_voltage_within_half_lsb(uv):
    _, emu, drv = make()
    emu.set_bus_voltage_uv(uv)
    assert abs(drv.bus_voltage_uv() - uv) <= 625


def test_bus_nack_raises_from_every_method():
    bus, _, drv = make()
    bus.nack(ADDR)
    for method in (drv.bus_voltage_uv, drv.current_ua):
        with pytest.raises(OSError) as info:
            method()
        assert info.value.args[0] == errno.EIO


def test_injected_faults_show_in_readings():
    _, emu, drv = make()
    emu.set_current_ua(1_000_000)
    emu.fault("current", gain_ppm=5000)
    assert abs(drv.current_ua() - 1_005_000) <= 200
    emu.fault("current", stuck=0)
    assert abs(drv.current_ua()) <= 200
    emu.clear_faults()
    assert abs(drv.current_ua() - 1_000_000) <= 200
