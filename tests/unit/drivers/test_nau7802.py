"""NAU7802 driver against the register-level emulator (afbms.chips.nau7802)."""

import errno

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from afbms.chips import nau7802 as chip
from afbms.chips.bus import I2CBus
from afbms.chips.nau7802 import NAU7802Emu
from drivers.nau7802 import NAU7802

ADDR = 0x2A
NV_PER_N = 1320  # 2 mV/V load cell, 5 kN, at 3.3 V excitation


def cpn(gain=128, vref_mv=3300, nv_per_n=NV_PER_N):
    """Counts per newton the emulated cell gives (the fixture calibration)."""
    return nv_per_n * gain * 2**24 / (vref_mv * 1e6)


def make(emu=None, **kw):
    bus = I2CBus()
    emu = bus.attach(ADDR, emu or NAU7802Emu(NV_PER_N))
    gain = kw.get("gain", 128)
    ldo = kw.get("ldo_mv", 3300)
    kw.setdefault("sleep_ms", lambda ms: None)
    return bus, emu, NAU7802(bus, ADDR, cpn(gain, ldo or emu.avdd_mv), **kw)


def count_mn(gain=128, vref_mv=3300):
    return 1000 / cpn(gain, vref_mv)


# -- start-up -------------------------------------------------------------------
def test_known_good_start_up():
    _, emu, _ = make()
    assert emu.gain() == 128 and emu.vref_mv() == 3300 and emu.sps() == 10
    on = chip.PUD | chip.PUA | chip.PUR | chip.CS | chip.AVDDS
    assert emu.register(chip.PU_CTRL) & on == on
    assert emu.register(chip.CTRL2) & (chip.CALS | chip.CAL_ERR) == 0
    assert emu.ocal() == emu.chip_offset_counts  # internal offset calibrated out
    assert emu.conversions >= 1


@pytest.mark.parametrize(
    ("gain", "sps", "ldo", "ctrl1", "crs"),
    [(1, 10, 4500, 0x00, 0), (64, 80, 3000, 0x2E, 3), (128, 320, 2400, 0x3F, 7)],
)
def test_gain_rate_and_ldo_registers(gain, sps, ldo, ctrl1, crs):
    _, emu, _ = make(gain=gain, sps=sps, ldo_mv=ldo)
    assert emu.register(chip.CTRL1) == ctrl1
    assert emu.register(chip.CTRL2) >> 4 == crs
    assert emu.sps() == sps and emu.gain() == gain and emu.vref_mv() == ldo


def test_external_avdd():
    _, emu, _ = make(ldo_mv=None)
    assert not emu.register(chip.PU_CTRL) & chip.AVDDS


@pytest.mark.parametrize("kw", [{"gain": 3}, {"sps": 50}, {"sps": 0}, {"ldo_mv": 3400}])
def test_bad_settings_are_refused(kw):
    with pytest.raises(ValueError):
        make(**kw)


def test_wrong_revision_raises():
    emu = NAU7802Emu(NV_PER_N)
    emu.revision = 0x0E
    with pytest.raises(OSError):
        make(emu)


def test_power_up_timeout_is_bounded():
    emu = NAU7802Emu(NV_PER_N)
    emu.never_power_up = True
    sleeps = []
    bus = I2CBus()
    bus.attach(ADDR, emu)
    with pytest.raises(OSError) as info:
        NAU7802(bus, ADDR, cpn(), sleep_ms=sleeps.append, max_polls=50)
    assert "power-up" in str(info.value)
    assert len(sleeps) == 50 and set(sleeps) == {1}
    assert bus.reads == 50


def test_calibration_error_raises():
    emu = NAU7802Emu(NV_PER_N)
    emu.cal_error = True
    with pytest.raises(OSError) as info:
        make(emu)
    assert "calibration error" in str(info.value)


def test_calibration_timeout_is_bounded():
    emu = NAU7802Emu(NV_PER_N)
    emu.cal_polls = 10_000
    with pytest.raises(OSError) as info:
        make(emu, max_polls=100)
    assert "calibration timeout" in str(info.value)


def test_absent_chip_raises_eio():
    with pytest.raises(OSError) as info:
        NAU7802(I2CBus(), ADDR, cpn())
    assert info.value.args[0] == errno.EIO


# -- readings -------------------------------------------------------------------
def test_read_raw_sign_extends():
    _, emu, drv = make()
    emu.set_force_mn(-1_000_000)
    emu.advance_ms(100)
    assert drv.read_raw() == emu.ideal_counts() < 0
    assert emu.ideal_counts() == round(-1000 * cpn())


def test_returns_previous_value_when_no_new_conversion():
    _, emu, drv = make()
    emu.polls_per_conversion = 0  # conversions only as virtual time passes
    emu.set_force_mn(100_000)
    before = drv.read_raw()
    assert not drv.data_ready()
    assert drv.read_raw() == before  # nothing new: the previous value, no waiting
    emu.advance_ms(100)  # 10 SPS: one conversion
    assert drv.data_ready()
    assert drv.read_raw() == emu.ideal_counts()
    assert not drv.data_ready()  # reading ADCO_B0 cleared CR


def test_tare_zeroes_the_cell_offset():
    _, emu, drv = make()
    emu.set_zero_nv(250_000)  # the cell's output at zero force
    offset = drv.tare(4)
    assert offset == emu.ideal_counts()
    emu.set_force_mn(1_000_000)
    drv.read_raw()
    drv.read_raw()
    assert abs(drv.force_mn() - 1_000_000) <= 2 * count_mn() + 10


def test_tare_wait_is_bounded():
    _, emu, drv = make(max_polls=20)
    emu.polls_per_conversion = 0
    with pytest.raises(OSError):
        drv.tare(2)


def test_gain_scales_the_counts():
    _, emu, drv = make(gain=64)
    emu.set_force_mn(2_000_000)
    for _ in range(3):
        drv.read_raw()
    counts64 = drv.read_raw()
    assert abs(counts64 - 2_000 * cpn(64)) <= 1
    assert abs(drv.force_mn() - 2_000_000) <= count_mn(64) + 10


@pytest.mark.parametrize("area_um2k", [100_000, 78_500])  # 1 cm², 0.785 cm² (10 mm dia.)
@pytest.mark.parametrize("mpa", [2, 10, 30])
def test_pressure(mpa, area_um2k):
    _, emu, drv = make()
    drv.tare()
    pa = mpa * 1_000_000
    emu.set_force_mn(pa * area_um2k // 1_000_000)  # N = Pa × m²; mN = Pa × area / 1e6
    drv.read_raw()
    drv.read_raw()
    count_pa = count_mn() * 1e6 / area_um2k
    assert abs(drv.pressure_pa(area_um2k) - pa) <= 5e-6 * pa + count_pa + 2


def test_pressure_on_a_large_area():
    _, emu, drv = make(gain=16)
    drv.tare()
    emu.set_force_mn(20_000_000)  # 20 kN on 10 cm² = 20 MPa
    drv.read_raw()
    drv.read_raw()
    assert abs(drv.pressure_pa(1_000_000) - 20_000_000) <= 300


_FIXED = make()


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=-6_000_000, max_value=6_000_000))
def test_force_round_trip(mn):
    _, emu, drv = _FIXED
    emu.set_force_mn(mn)
    emu.advance_ms(100)
    assert abs(drv.force_mn() - mn) <= 4e-6 * abs(mn) + count_mn() + 1


def test_bus_nack_raises_from_every_method():
    bus, _, drv = make()
    bus.nack(ADDR)
    for method in (drv.data_ready, drv.read_raw, drv.force_mn, drv.tare):
        with pytest.raises(OSError) as info:
            method()
        assert info.value.args[0] == errno.EIO
    with pytest.raises(OSError):
        drv.pressure_pa(100_000)


def test_stuck_force_fault():
    _, emu, drv = make()
    emu.fault(stuck=1_500_000)
    emu.set_force_mn(10)
    emu.advance_ms(100)
    assert abs(drv.force_mn() - 1_500_000) <= 10
