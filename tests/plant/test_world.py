"""The Plant: chips fed by the cell, virtual time, enables, faults, ground truth."""

import errno

import pytest

from afbms.plant.cycler import CC, CCCV, Rest
from afbms.plant.world import (
    CHARGE_EN_PIN,
    DISCHARGE_EN_PIN,
    LOADCELL_ADDR,
    MONITOR_ADDR,
    NTC_ADC_PIN,
    Plant,
    PlantFault,
    SensorErrors,
)
from afbms.protocol.enums import SimAction

PELLET = "jeon_t2_mxene_mg_ncm811"  # 25 °C pellet cell, 0.264 mA: 10 h charges


def drivers(plant):
    from drivers.ina228 import INA228
    from drivers.nau7802 import NAU7802
    from drivers.ntc import NTC

    class Adc:
        def read_u16(self):
            return plant.adc_read_u16(NTC_ADC_PIN)

    ina = INA228(plant.bus, MONITOR_ADDR, 10000, 100000)
    nau = NAU7802(plant.bus, LOADCELL_ADDR, 859, 128, 320)
    ntc = NTC(Adc(), 10000, True, r25_ohm=10000, beta_k=3950)
    return ina, nau, ntc


def charging_plant(seconds=3600, **kw):
    kw.setdefault("sensor_errors", "none")
    p = Plant(PELLET, cycles=2, enables=(True, True), **kw)
    p.step(seconds * 1000)
    return p


def test_outputs_default_off_so_nothing_flows():
    p = Plant(PELLET, sensor_errors="none")
    p.step(60_000)
    t = p.truth()
    assert t["current_a"] == 0.0 and t["current_blocked"] and t["step"] == "charge"


def test_enables_through_pins_gate_the_cycler():
    p = Plant(PELLET, sensor_errors="none")
    p.pin_write(CHARGE_EN_PIN, 1)
    p.pin_write(DISCHARGE_EN_PIN, 1)
    p.step(10_000)
    assert p.truth()["current_a"] > 0
    p.pin_write(CHARGE_EN_PIN, 0)
    p.step(1000)
    assert p.truth()["current_a"] == 0.0
    assert p.pin_read(CHARGE_EN_PIN) == 0 and p.pin_read(DISCHARGE_EN_PIN) == 1


def test_virtual_time():
    p = Plant(PELLET)
    assert p.now_ms() == 0
    p.advance(1500)
    p.step(250)
    assert p.now_ms() == 1750
    assert p.truth()["time_s"] == pytest.approx(1.75)


def test_sensors_read_the_cell_through_the_real_drivers():
    p = charging_plant(sensor_errors="none")
    ina, nau, ntc = drivers(p)
    t = p.truth()
    assert ina.bus_voltage_uv() == pytest.approx(t["voltage_v"] * 1e6, abs=400)
    assert ina.current_ua() == pytest.approx(t["current_a"] * 1e6, abs=1)
    assert nau.pressure_pa(100_000) == pytest.approx(t["pressure_pa"], rel=2e-3)
    assert ntc.temperature_mc() == pytest.approx(t["temperature_c"] * 1000, abs=50)


def test_charge_accumulator_integrates_the_true_charge():
    p = Plant(PELLET, cycles=1, sensor_errors="none", enables=(True, True))
    ina, _, _ = drivers(p)
    ina.charge_delta_uams()
    q0 = p.cell.q_ext
    total = 0
    for _ in range(40):  # includes the end of a CC step mid-interval
        p.step(997)
        total += ina.charge_delta_uams()
    assert total / 3.6e6 == pytest.approx(p.cell.q_ext - q0, rel=2e-3)


def test_realistic_sensor_errors_are_seeded():
    a = charging_plant(600, sensor_errors="realistic", seed=7)
    b = charging_plant(600, sensor_errors="realistic", seed=7)
    c = charging_plant(600, sensor_errors="realistic", seed=8)

    def reads(p):
        ina, _, _ = drivers(p)
        out = []
        for _ in range(5):
            p.step(1000)
            out.append((ina.current_ua(), ina.bus_voltage_uv()))
        return out

    ra, rb, rc = reads(a), reads(b), reads(c)
    assert ra == rb and ra != rc
    errs = SensorErrors.realistic(7)
    assert abs(errs.current.gain_ppm) == 1000  # 0.1 %


def test_current_gain_and_offset_faults():
    p = charging_plant(sensor_errors="none")
    ina, _, _ = drivers(p)
    true_ua = p.truth()["current_a"] * 1e6
    p.inject("current_offset", 50.0)
    p.step(1000)
    assert ina.current_ua() == pytest.approx(true_ua + 50, abs=2)
    p.inject("current_gain", 10000.0)  # +1 %
    p.step(1000)
    assert ina.current_ua() == pytest.approx(true_ua * 1.01 + 50, abs=3)
    p.clear("current_offset")
    p.clear("current_gain")
    p.step(1000)
    assert ina.current_ua() == pytest.approx(true_ua, abs=1)


def test_stuck_noise_and_nack_faults():
    p = charging_plant(sensor_errors="none")
    ina, nau, _ = drivers(p)
    p.inject("voltage_stuck", 3_900_000)
    p.step(60_000)
    assert ina.bus_voltage_uv() == pytest.approx(3_900_000, abs=200)
    p.inject("pressure_noise", 50_000)
    vals = set()
    for _ in range(5):
        p.step(1000)
        vals.add(nau.pressure_pa(100_000))
    assert len(vals) > 1
    p.inject("monitor_nack")
    with pytest.raises(OSError) as e:
        ina.current_ua()
    assert e.value.args[0] == errno.EIO  # as MicroPython's rp2 port raises it
    assert MONITOR_ADDR not in p.i2c_scan()
    p.clear("monitor_nack")
    ina.current_ua()
    p.inject("adc_fail")
    with pytest.raises(OSError):
        p.adc_read_u16(NTC_ADC_PIN)
    p.clear_all()
    assert p.faults == {}


def test_sim_control_injects_and_clears():
    p = charging_plant(sensor_errors="none")
    assert p.sim_control(SimAction.INJECT_FAULT, PlantFault.HARD_SHORT, 500) == 0
    assert p.truth()["short_mode"] == "hard" and p.cell.short.r_ohm == pytest.approx(0.5)
    assert p.sim_control(SimAction.CLEAR_FAULT, PlantFault.HARD_SHORT) == 0
    assert p.truth()["short_mode"] == "none"
    assert p.sim_control(SimAction.INJECT_FAULT, 99, 0) == 2
    assert p.sim_control(SimAction.SET_TEMPERATURE, 45_000) == 0
    assert p.cell.t_amb == 45.0
    assert p.sim_control(SimAction.POWER_CUT, 10) == 3
    assert p.sim_control(200) == 1
    assert p.sim_control(SimAction.INJECT_FAULT, PlantFault.CONTACT_LOSS, 500_000) == 0
    assert p.cell.preload_scale == pytest.approx(0.5)


def test_soft_short_drops_20_to_80_mv_and_recovers():
    p = charging_plant(7200)
    r = p.soft_short_ohms_for_drop(0.04)
    p.inject("soft_short_intermittent", r, mean_interval_s=60.0, duration_s=2.0)
    drops = []
    prev = p.truth()
    for _ in range(1800):
        p.step(1000)
        t = p.truth()
        if t["short_active"] and not prev["short_active"]:
            v0 = prev["voltage_v"]
            drops.append([v0 - t["voltage_v"], None])
        elif prev["short_active"] and not t["short_active"] and drops:
            drops[-1][1] = v0 - t["voltage_v"]  # left after recovery
        prev = t
    assert len(drops) >= 5
    for drop, left in drops:
        assert 0.02 <= drop <= 0.08  # a 20-80 mV step within one sample
        if left is not None:
            assert left < 0.3 * drop  # fast recovery
    assert p.truth()["step"] == "charge"


def test_steady_soft_short_causes_charge_overrun():
    p = Plant(PELLET, protocol=[CC(0.264e-3, 4.25, max_s=20 * 3600)], sensor_errors="none",
              enables=(True, True))  # fmt: skip
    p.step(3 * 3600 * 1000)
    t = p.truth()
    leak = 1.2 * t["current_a"]
    p.inject("soft_short", t["voltage_v"] / leak)  # leaks more than the charge current
    p.step(17 * 3600 * 1000)
    rec = p.cycler.records[0]
    expected = p.params.inventory_uah
    assert rec.reason == "time"  # never reached the cutoff
    assert rec.charge_uah > 1.1 * expected  # charge overrun: more than the inventory went in
    assert p.truth()["voltage_v"] < 4.0


def test_soft_short_self_discharge_at_rest():
    p = Plant(PELLET, protocol=[CCCV(0.264e-3, 4.25, 1.3e-4), Rest(7200)],
              sensor_errors="none", enables=(True, True))  # fmt: skip
    while p.truth()["step"] != "rest":
        p.step(60_000)
    p.step(600_000)
    v0 = p.truth()["voltage_v"]
    p.step(600_000)
    v1 = p.truth()["voltage_v"]
    p.inject("soft_short", 5000.0)
    p.step(600_000)
    v2 = p.truth()["voltage_v"]
    assert abs(v1 - v0) < 0.002  # a healthy cell holds its voltage
    assert v1 - v2 > 0.01  # a shorted one sags at rest
    assert p.truth()["current_a"] == 0.0


def test_hard_short_collapses_the_voltage_in_one_sample():
    p = charging_plant(3600)
    v = p.truth()["voltage_v"]
    p.inject("hard_short", 0.5)
    p.step(1000)
    t = p.truth()
    assert v > 3.5 and t["voltage_v"] < 0.2
    assert t["cell_current_a"] < -0.05  # the cell discharges through the dendrite
    for _ in range(30):
        p.step(1000)
    assert p.truth()["temperature_c"] > t["temperature_c"]


def test_contact_loss_drops_pressure_and_raises_resistance():
    p = charging_plant(3600)
    t0 = p.truth()
    p.inject("contact_loss", 0.8)
    p.step(1000)
    t1 = p.truth()
    assert t1["pressure_pa"] < t0["pressure_pa"] - 1.4e6
    assert t1["r_ohm"] > 2 * t0["r_ohm"]
    assert t1["voltage_v"] > t0["voltage_v"]  # more polarisation while charging
    p.clear("contact_loss")
    p.step(1000)
    assert p.truth()["pressure_pa"] == pytest.approx(t0["pressure_pa"], rel=0.01)


def test_truth_record():
    p = charging_plant(600)
    t = p.truth()
    for key in ("inventory_uah", "sei_loss_uah", "dead_loss_uah", "plated_um", "dead_um",
                "ce_last", "ocv_v", "short_mode", "pressure_pa", "temperature_c", "cycle",
                "preset", "step", "time_ms"):  # fmt: skip
        assert key in t
    assert t["preset"] == PELLET


def test_sodium_plant_runs():
    p = Plant("tang_deysher_nacro2_borohydride_al", cycles=1, sensor_errors="none",
              enables=(True, True))  # fmt: skip
    p.dt_max_ms = 60_000
    while not p.truth()["protocol_done"]:
        p.step(3_600_000)
    t = p.truth()
    assert t["metal"] == "sodium" and t["cycle"] == 1
    assert 0.85 < t["q_discharge_last_uah"] / t["initial_inventory_uah"] < 0.95


@pytest.mark.slow
def test_preset_retention_through_the_plant_at_one_second_steps():
    from afbms.plant.presets import get

    pr = get("jeon_t2_mxene_mg_ncm811")
    p = Plant(pr, cycles=pr.cycles, sensor_errors="realistic", enables=(True, True),
              keep_records=False)  # fmt: skip
    while not p.truth()["protocol_done"]:
        p.step(600_000)
    assert p.truth()["retention"] == pytest.approx(pr.target_retention, abs=0.01)


def test_every_fault_injects_and_clears():
    from afbms.plant.world import FAULT_NAMES

    p = charging_plant(60)
    no_mag = ("ntc_open", "ntc_short", "monitor_nack", "loadcell_nack", "adc_fail")
    for f in FAULT_NAMES:
        p.inject(f, None if f in no_mag else 1.0)
        p.step(1000)
        assert f in p.truth()["faults"]
        p.clear(f)
    assert p.faults == {}
    with pytest.raises(ValueError, match="unknown fault"):
        p.inject("gremlins", 1.0)
    with pytest.raises(ValueError, match="unknown short parameter"):
        p.inject("soft_short", 1000.0, period=3)
