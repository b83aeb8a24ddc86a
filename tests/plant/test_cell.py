"""Physics sanity of the simulated anode-free cell: from a known-good state, change one thing."""

import math
from itertools import pairwise

import pytest

from afbms.plant.cell import (
    LITHIUM,
    SHORT_STEADY,
    SODIUM,
    Cell,
    CellParams,
    dense_thickness_um,
    loss_rates,
)
from afbms.plant.curves import CURVES, anode_potential
from afbms.plant.cycler import Cycler, cycling_protocol
from afbms.plant.fastmodel import CycleModel

BASE = CellParams(
    areal_capacity_mah_cm2=2.0, j_ref_ma_cm2=1.0, p_ref_mpa=5.0, preload_mpa=5.0,
    t_ref_c=25.0, ambient_c=25.0, k_loss=2e-3,
)  # fmt: skip


def run(params=BASE, cycles=1, dt=1.0, every=None, **kw):
    """Run the usual protocol; returns (cell, cycler, samples of truth at every step)."""
    cell = Cell(params)
    cyc = Cycler(cell, cycling_protocol(params, cycles, **kw))
    samples = []
    while not cyc.done:
        cyc.advance(dt)
        if every:
            t = cell.truth()
            t["step"] = cyc.step_name()
            samples.append(t)
    return cell, cyc, samples


def metal_total(t):
    return (
        t["cathode_uah"] + t["plated_uah"] + t["sei_loss_uah"] + t["dead_loss_uah"]
        + t["cathode_stranded_uah"]
    )  # fmt: skip


def test_curves_monotone_and_invertible():
    for c in CURVES.values():
        for y in (0.01, 0.2, 0.5, 0.8, 0.99):
            assert abs(c(y) - c.exact(y)) < 1e-4
            assert abs(c.inverse(c(y)) - y) < 1e-6
        assert c.v_min < c(0.3) < c.v_max


def test_as_assembled_cell_is_cathode_limited():
    cell = Cell(BASE)
    assert cell.inventory() == pytest.approx(2000.0)  # 2 mAh/cm² × 1 cm²
    assert cell.q_pl == 0 and cell.y() == 0.0


def test_metal_is_conserved_over_cycles():
    _, _, samples = run(cycles=2, every=True)
    for t in samples[:: max(1, len(samples) // 50)] + samples[-1:]:
        assert metal_total(t) == pytest.approx(2000.0, rel=1e-9)


def test_discharge_ends_at_the_depletion_knee_with_the_inventory_as_capacity():
    cell, _, samples = run(cycles=1, every=True)
    dis = [t for t in samples if t["step"] == "discharge"]
    top = dis[0]
    end = dis[-1]
    # What the cell delivers is the plated metal at the top of charge (less the dead
    # metal made while stripping): the anode runs out, not the cathode.
    delivered = cell.q_discharge_last
    assert delivered == pytest.approx(
        top["plated_uah"] - end["dead_loss_uah"] + top["dead_loss_uah"] - end["plated_uah"],
        rel=1e-3,
    )
    assert end["plated_uah"] < 0.003 * cell.i0
    assert end["cathode_soc"] > 0.05  # the cathode still has room: not cathode-limited
    assert end["anode_potential_v"] > 0.5  # the knee: the collector is bare
    # The knee is sharp: the last 0.5 % of the capacity costs far more voltage than
    # the 0.5 % before mid-discharge.
    q = [t["plated_uah"] for t in dis]
    v = [t["voltage_v"] for t in dis]
    i_end = next(i for i, x in enumerate(q) if x < 0.005 * cell.i0 + q[-1])
    i_mid = next(i for i, x in enumerate(q) if x < 0.5 * q[0])
    i_mid2 = next(i for i, x in enumerate(q) if x < 0.5 * q[0] - 0.005 * cell.i0)
    assert (v[i_end] - v[-1]) > 20 * (v[i_mid] - v[i_mid2])


def test_nucleation_dip_at_the_first_plating_of_each_cycle():
    cell, _, samples = run(cycles=3, every=True)
    charges, cur = [], []
    for t in samples:
        if t["step"] == "charge":
            cur.append(t)
        elif cur:
            charges.append(cur)
            cur = []
    assert len(charges) == 3
    for ch in charges:
        t0 = ch[0]["time_s"]
        q0 = ch[0]["plated_uah"]
        dip = min(t["anode_potential_v"] for t in ch[:200])
        assert -0.1 < dip < -0.01  # tens of mV below the metal's potential
        after = next(t for t in ch if t["plated_uah"] - q0 > 0.012 * cell.i0)
        assert after["eta_nucleation_v"] < 0.002  # relaxed within ~1 % of the charge
        assert after["time_s"] > t0


def test_no_nucleation_dip_when_plated_metal_is_left():
    cell = Cell(BASE)
    for _ in range(1200):  # 20 min of charge: 333 µAh plated
        cell.step(1.0, 1, 1e-3)
    for _ in range(300):  # partial discharge: plenty left
        cell.step(1.0, 1, -1e-3)
    cell.step(1.0, 1, 1e-3)
    assert cell.eta_n < 1e-4


@pytest.mark.parametrize("metal, um", [(LITHIUM, 4.85), (SODIUM, 8.8)])
def test_dense_thickness_per_mah_cm2(metal, um):
    assert dense_thickness_um(metal, 1.0) == pytest.approx(um)
    dense = BASE.with_(
        metal=metal,
        dense_frac_0=1.0,
        dense_frac_inf=1.0,
        k_loss=0.0,
        formation_loss=0.0,
        cathode="nacro2" if metal is SODIUM else "nmc",
    )
    cell = Cell(dense)
    while cell.q_pl < 1000.0:  # plate 1 mAh on 1 cm²
        cell.step(1.0, 1, 1e-3)
    t = cell.truth()
    assert t["plated_um"] / (t["plated_uah"] / 1000.0) == pytest.approx(um, rel=1e-6)
    assert t["plated_dense_um"] == pytest.approx(t["plated_um"])
    porous = Cell(BASE.with_(metal=metal))
    while porous.q_pl < 1000.0:
        porous.step(1.0, 1, 1e-3)
    assert porous.truth()["plated_um"] > 1.5 * t["plated_um"]  # real deposits are porous


def test_deposit_gets_porous_over_cycling():
    from afbms.plant.cell import LI_DENSE_MAH_CM3, deposit_dense_frac

    assert deposit_dense_frac(BASE, 0) * LI_DENSE_MAH_CM3 == pytest.approx(1033)
    assert 143 <= deposit_dense_frac(BASE, 100) * LI_DENSE_MAH_CM3 <= 343


def test_pressure_rises_while_charging_and_falls_while_discharging():
    _, _, samples = run(cycles=1, every=True)
    ch = [t["pressure_pa"] for t in samples if t["step"] == "charge"]
    dis = [t["pressure_pa"] for t in samples if t["step"] == "discharge"]
    assert ch[-1] > ch[0] + 0.3e6
    assert all(b >= a - 1e-3 for a, b in pairwise(ch))
    assert dis[-1] < dis[0] - 0.3e6
    # Dead metal and SEI stay: the discharged stack is thicker than as assembled.
    assert samples[-1]["pressure_pa"] > samples[0]["pressure_pa"]
    assert samples[-1]["dead_um"] > 0


def test_temperature_from_heat_balance():
    cell = Cell(BASE)
    for _ in range(600):
        cell.step(1.0, 1, 1e-3)
    assert 25.0 < cell.t_c < 25.1  # milliwatts in a lab cell: millikelvin
    hot = Cell(BASE.with_(asr_bulk=2000.0))
    for _ in range(3000):
        hot.step(1.0, 1, 3e-3)
    assert hot.t_c > cell.t_c + 0.1
    cell.t_amb = 60.0
    for _ in range(4000):
        cell.step(1.0)
    assert cell.t_c == pytest.approx(60.0, abs=0.05)


def retention(params, n=40, **kw):
    m = CycleModel(params, **kw)
    for _ in range(n):
        r = m.run_cycle()
    return r.retention, m


def test_higher_current_density_loses_more():
    r1, m1 = retention(BASE, j_ma_cm2=1.0)
    r2, m2 = retention(BASE, j_ma_cm2=3.0)
    assert r2 < r1 and m2.q_dead > m1.q_dead


def test_lower_pressure_loses_more():
    r_hi, m_hi = retention(BASE.with_(preload_mpa=20.0))
    r_lo, m_lo = retention(BASE.with_(preload_mpa=2.0))
    assert r_lo < r_hi and m_lo.q_dead > m_hi.q_dead


def test_higher_temperature_loses_more_sei_less_dead():
    r25, m25 = retention(BASE.with_(ambient_c=25.0))
    r60, m60 = retention(BASE.with_(ambient_c=60.0))
    assert r60 < r25
    assert m60.q_sei > m25.q_sei  # SEI grows faster (Arrhenius)
    assert m60.q_dead < m25.q_dead  # faster creep / diffusion: less dead metal
    s25, d25, _ = loss_rates(BASE, 1.0, 25.0, 5.0, 0.0)
    s60, d60, _ = loss_rates(BASE, 1.0, 60.0, 5.0, 0.0)
    assert s60 + d60 > s25 + d25


def test_sodium_is_less_pressure_sensitive():
    ratio = {}
    for metal in (LITHIUM, SODIUM):
        p = BASE.with_(metal=metal)
        ratio[metal.name] = (
            loss_rates(p, 1.0, 25.0, 1.0, 0.0)[1] / loss_rates(p, 1.0, 25.0, 5.0, 0.0)[1]
        )
    assert ratio["lithium"] > ratio["sodium"] > 1.0


def test_sudden_death_accelerates_loss_near_80_percent():
    model = CycleModel(BASE.with_(k_loss=3e-3))
    res = [model.run_cycle() for _ in range(200)]
    ce_early = res[5].ce
    i80 = next(i for i, r in enumerate(res) if r.retention < 0.8)
    late = res[min(i80 + 10, len(res) - 1)]
    assert (1 - late.ce) > 3 * (1 - ce_early)


def test_ce_product_over_predicts_retention():
    model = CycleModel(BASE.with_(k_loss=3e-3))
    res = [model.run_cycle() for _ in range(100)]
    prod = math.prod(r.ce for r in res[1:])
    assert prod > res[-1].retention + 0.02
    assert 0.99 < res[1].ce < 0.999  # per-cycle CE in the seeds' range
    assert res[0].ce == pytest.approx(1 - BASE.formation_loss, abs=0.01)


def test_inventory_tracks_losses_not_ce():
    cell, _, _ = run(cycles=3)
    t = cell.truth()
    lost = t["sei_loss_uah"] + t["dead_loss_uah"] + t["cathode_stranded_uah"]
    assert t["inventory_uah"] == pytest.approx(cell.i0 - lost, rel=1e-9)
    assert 0.99 < t["ce_last"] < 1.0


def test_resistance_falls_with_pressure_and_temperature():
    from afbms.plant.cell import resistances

    r_lo_p = sum(resistances(BASE, 25.0, 2.0, 0.0))
    r_hi_p = sum(resistances(BASE, 25.0, 20.0, 0.0))
    r_hot = sum(resistances(BASE, 60.0, 2.0, 0.0))
    assert r_hi_p < r_lo_p and r_hot < r_lo_p


def test_anode_potential_shape():
    assert anode_potential(0.0, 1.0, 3.0) == 3.0
    assert anode_potential(100.0, 1.0, 3.0) == 0.0
    assert anode_potential(1.0, 1.0, 3.0) == pytest.approx(3.0 / math.e)


def test_steady_short_self_discharges_at_rest():
    cell = Cell(BASE)
    for _ in range(3600):
        cell.step(1.0, 1, 1e-3)
    for _ in range(60):
        cell.step(1.0)
    ocv0, inv0 = cell.ocv(), cell.inventory()
    cell.set_short(SHORT_STEADY, 5000.0)
    for _ in range(1800):
        cell.step(1.0)
    assert cell.ocv() < ocv0 - 0.01
    assert cell.q_ext == pytest.approx(cell.q_ext)  # no terminal current at rest
    assert cell.i_ext == 0.0 and cell.i_short > 0.0
    # The metal went back into the cathode through the short: little is lost.
    assert cell.inventory() > inv0 - 0.01 * cell.i0
