"""NTC driver against the divider emulator (afbms.chips.ntc) and the float formulas."""

import errno
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from afbms.chips.bus import ADC
from afbms.chips.ntc import NTCEmu, resistance_ohm
from drivers.ntc import NTC

SH = (1.009249522e-3, 2.378405444e-4, 2.019202697e-7)  # a 10 kΩ NTC, R in Ω, T in K
TEMPS_MC = [*range(-20_000, 80_001, 2_500), -19_999, 37_123, 79_999]


def make(r_fixed=10_000, to_ground=True, steinhart=None, adc_bits=16, **kw):
    emu = NTCEmu(r_fixed, to_ground, 10_000, 3950, steinhart, adc_bits)
    adc = ADC(emu)
    drv = NTC(adc, r_fixed, to_ground, r25_ohm=10_000, beta_k=3950, steinhart=steinhart, **kw)
    return adc, emu, drv


def beta_t_c(r, r25=10_000, beta=3950):
    return 1 / (1 / 298.15 + math.log(r / r25) / beta) - 273.15


def sh_t_c(r, a=SH[0], b=SH[1], c=SH[2]):
    ln_r = math.log(r)
    return 1 / (a + b * ln_r + c * ln_r**3) - 273.15


def test_emulator_inverts_the_formulas():
    for t in (-20.0, 0.0, 25.0, 61.3, 80.0):
        assert beta_t_c(resistance_ohm(t)) == pytest.approx(t, abs=1e-9)
        assert sh_t_c(resistance_ohm(t, steinhart=SH)) == pytest.approx(t, abs=1e-9)
    assert resistance_ohm(25.0) == pytest.approx(10_000)


@pytest.mark.parametrize("to_ground", [True, False])
@pytest.mark.parametrize("r_fixed", [10_000, 4_700])
def test_beta_within_0_1_c(to_ground, r_fixed):
    _, emu, drv = make(r_fixed, to_ground)
    for mc in TEMPS_MC:
        emu.set_temperature_mc(mc)
        assert abs(drv.temperature_mc() - mc) <= 100, mc


@pytest.mark.parametrize("to_ground", [True, False])
def test_steinhart_hart_within_0_1_c(to_ground):
    _, emu, drv = make(steinhart=SH, to_ground=to_ground)
    for mc in TEMPS_MC:
        emu.set_temperature_mc(mc)
        assert abs(drv.temperature_mc() - mc) <= 100, mc


def test_against_the_float_formula_code_by_code():
    """Every 97th code in range: the table interpolation against Beta on that code."""
    codes = []
    adc = type("FixedAdc", (), {"read_u16": lambda self: codes[-1]})()
    drv = NTC(adc, 10_000, True, r25_ohm=10_000, beta_k=3950)
    for code in range(600, 65_000, 97):
        x = code / 65535
        t = beta_t_c(10_000 * x / (1 - x))
        if -20 <= t <= 80:
            codes.append(code)
            assert abs(drv.temperature_mc() / 1000 - t) < 0.05, code


def test_twelve_bit_adc():
    _, emu, drv = make(adc_bits=12)
    for mc in range(0, 60_001, 5_000):
        emu.set_temperature_mc(mc)
        assert abs(drv.temperature_mc() - mc) <= 100, mc


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=-20_000, max_value=80_000))
def test_beta_round_trip(mc):
    _, emu, drv = _FIXED
    emu.set_temperature_mc(mc)
    assert abs(drv.temperature_mc() - mc) <= 100


_FIXED = make()


@pytest.mark.parametrize("to_ground", [True, False])
def test_open_and_short_raise(to_ground):
    _, emu, drv = make(to_ground=to_ground)
    emu.set_open()
    with pytest.raises(OSError):
        drv.temperature_mc()
    emu.set_short()
    with pytest.raises(OSError):
        drv.temperature_mc()
    emu.set_connected()
    assert abs(drv.temperature_mc() - 25_000) <= 100


@pytest.mark.parametrize("mc", [-70_000, 170_000])
def test_implausible_temperature_raises(mc):
    _, emu, drv = make()
    emu.set_temperature_mc(mc)
    with pytest.raises(OSError):
        drv.temperature_mc()


def test_narrower_plausible_range():
    _, emu, drv = make(t_min_mc=-10_000, t_max_mc=60_000)
    emu.set_temperature_mc(70_000)
    with pytest.raises(OSError):
        drv.temperature_mc()
    emu.set_temperature_mc(55_000)
    assert abs(drv.temperature_mc() - 55_000) <= 100


def test_adc_failure_propagates():
    adc, _, drv = make()
    adc.fail = True
    with pytest.raises(OSError) as info:
        drv.temperature_mc()
    assert info.value.args[0] == errno.EIO


def test_injected_faults():
    _, emu, drv = make()
    emu.set_temperature_mc(30_000)
    emu.fault(offset=2_000)
    assert abs(drv.temperature_mc() - 32_000) <= 100
    emu.fault(stuck=-5_000)
    emu.set_temperature_mc(60_000)
    assert abs(drv.temperature_mc() + 5_000) <= 100
    steps = iter([0, 500, -500])
    emu.fault(noise=lambda: next(steps))  # one value per conversion (per read)
    assert abs(drv.temperature_mc() - 60_500) <= 100
    assert abs(drv.temperature_mc() - 59_500) <= 100
    emu.clear_faults()
    assert abs(drv.temperature_mc() - 60_000) <= 100


def test_bad_models_are_refused():
    adc = ADC(NTCEmu(10_000))
    with pytest.raises(ValueError):
        NTC(adc, 0)
    with pytest.raises(ValueError):
        NTC(adc, 10_000, beta_k=0)
    with pytest.raises(ValueError):
        NTC(adc, 10_000, t_min_mc=200_000, t_max_mc=300_000)
