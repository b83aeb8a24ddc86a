"""Estimator on synthetic traces: known-good state, then one thing changed at a time."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bms import wire
from bms.estimator import Estimator
from bms.sample import Sample

from .synth import UAMS, SynthCell, Trace, config_get


def run(est: Estimator, gen) -> list[int]:
    """Feed a trace; return the cycle counts at which a cycle closed."""
    closed = []
    for s, state in gen:
        est.update(s, state)
        if est.cycle_done:
            closed.append(est.cycle_count)
    return closed


def make(cap=1000, **over) -> Estimator:
    return Estimator(cap, config_get(capacity_uah=cap, **over))


def cycles(tr: Trace, n: int, i_ua=1000, rest_s=600):
    if tr.t_ms == 0:
        yield from tr.rest(1)  # the estimator primes on its first sample (as the sampler)
    for _ in range(n):
        yield from tr.cycle(i_ua, rest_s)


# ---------------------------------------------------------------- the known-good state


def test_clean_cycles_track_the_inventory_exactly():
    cell = SynthCell()
    tr = Trace(cell)
    est = make()
    run(est, cycles(tr, 6))
    truth = cell.inventory  # at the knee, as the estimate
    run(est, tr.charge(1000, max_s=2))  # the next charge closes the 6th cycle
    assert est.cycle_count == 6
    assert abs(est.inventory_uah - truth) <= 1
    assert abs(est.inventory_ppm - truth / cell.cap_uah * 1e6) <= 100
    assert est.residue_uah == pytest.approx(cell.residue_uah, abs=1)
    assert est.anchors == 6
    # CE of a clean cycle: out / in = (1 - sei) / (1 + dead) to first order
    assert est.ce_last_ppm == pytest.approx(1e6 * (1 - 0.002) / (1 + 0.002), abs=200)
    assert est.loss_total_uah == est.capacity_uah - est.inventory_uah


def test_first_cycle_is_formation_and_stays_out_of_the_rolling_ce():
    tr = Trace(SynthCell(formation=0.10))
    est = make()
    run(est, cycles(tr, 3))
    run(est, tr.charge(1000, max_s=10))
    assert est.cycle_count == 3
    assert est.ce_rolling_ppm > 990_000  # cycle 1 (~90 %) is not in it


def test_slippage_top_to_top_is_zero_without_a_leak():
    tr = Trace(SynthCell())
    est = make()
    run(est, cycles(tr, 4))
    run(est, tr.charge(1000, max_s=10))
    assert abs(est.slippage_uah) <= 1


# ---------------------------------------------------------------- one thing changed


def test_current_offset_is_learned_at_rest_and_removed():
    cell = SynthCell()
    tr = Trace(cell, offset_ua=7)  # under the 20 µA rest threshold
    est = make()
    run(est, tr.rest(300))
    run(est, cycles(tr, 4))
    run(est, tr.charge(1000, max_s=10))
    assert est.offset_known
    assert est.offset_na == pytest.approx(7000, abs=50)
    assert abs(est.inventory_uah - cell.inventory) <= 2


def test_offset_learned_after_the_first_charge_corrects_it_retroactively():
    cell = SynthCell()
    tr = Trace(cell, offset_ua=-9)
    est = make()
    run(est, cycles(tr, 3))  # no rest before the first charge
    run(est, tr.charge(1000, max_s=10))
    assert abs(est.residue_uah - cell.residue_uah) <= 2
    assert abs(est.inventory_uah - cell.inventory) <= 2


def test_a_gain_error_cancels_to_gain_times_loss():
    cell = SynthCell()
    tr = Trace(cell)

    def gain(tr_, s):  # +1 % on the measured current and charge
        s.current_ua = round(s.current_ua * 1.01)

    est = make()
    # scale the accumulated charge: wrap the cell's charge passing
    move = cell.move
    cell.move = lambda i, dt: move(i, dt) * 1.01  # type: ignore[method-assign]
    tr.hooks.append(gain)
    run(est, cycles(tr, 4))
    run(est, tr.charge(1000, max_s=10))
    loss = cell.cap_uah - cell.inventory
    assert abs(est.inventory_uah - cell.inventory) <= 0.01 * loss + 2


def test_inventory_comes_from_the_measured_discharge_not_from_ce():
    # Metal that the discharge counts out but the cathode does not take back (stranded)
    # is invisible to CE; the next knee measures it.
    cell = SynthCell()
    tr = Trace(cell)
    est = make()
    run(est, cycles(tr, 2))
    cell.q_cat -= 30.0  # 30 µAh of the cathode's metal lost without any charge passing
    cell.residue_uah -= 0.0
    run(est, cycles(tr, 2))
    run(est, tr.charge(1000, max_s=10))
    assert abs(est.inventory_uah - cell.inventory) <= 2


def test_interrupted_discharge_is_no_knee_and_inventory_follows_ce():
    cell = SynthCell()
    tr = Trace(cell)
    est = make()
    run(est, cycles(tr, 3))
    anchors = est.anchors
    run(est, tr.charge(1000))
    run(est, tr.rest(600))
    run(est, tr.discharge(1000, max_s=1800))  # half way: no knee
    run(est, tr.rest(1200))
    assert est.anchors == anchors
    run(est, tr.charge(1000))  # back to the top (partial cycle)
    run(est, tr.rest(600))
    run(est, tr.discharge(1000))
    run(est, tr.rest(600))
    assert est.anchors == anchors + 1
    assert abs(est.inventory_uah - cell.inventory) <= 2


def test_dead_metal_from_the_pressure_residual_with_learned_stiffness():
    cell = SynthCell(sei=0.001, dead=0.004, formation=0.0)
    tr = Trace(cell)
    est = make()
    run(est, tr.rest(60))
    run(est, cycles(tr, 10))
    run(est, tr.charge(1000, max_s=10))
    assert est.stiffness_learned_pa_per_um == pytest.approx(cell.stiffness_pa_per_um, rel=0.05)
    loss = est.loss_total_uah
    assert loss == pytest.approx(cell.q_dead + cell.q_sei, abs=2)
    assert est.loss_dead_uah == pytest.approx(cell.q_dead, abs=0.15 * cell.q_dead + 1)
    assert est.loss_sei_uah + est.loss_dead_uah == loss
    # dense-equivalent dead layer: 4.85 µm per mAh/cm² on 1 cm²
    assert est.dead_nm == pytest.approx(est.loss_dead_uah * 4.85, abs=5)


def test_configured_stiffness_is_used_as_given():
    cell = SynthCell(sei=0.001, dead=0.004, formation=0.0)
    tr = Trace(cell)
    est = make(stiffness_pa_per_um=50_000)
    run(est, tr.rest(60))
    run(est, cycles(tr, 6))
    assert est.stiffness_learned_pa_per_um == 0
    assert est.loss_dead_uah == pytest.approx(cell.q_dead, abs=0.15 * cell.q_dead + 1)


@pytest.mark.parametrize("metal, nm", [(wire.METAL_LITHIUM, 4850), (wire.METAL_SODIUM, 8800)])
def test_plated_thickness_uses_the_configured_metal(metal, nm):
    cell = SynthCell()
    tr = Trace(cell)
    est = make(metal=metal, t_max_mc=80_000)
    run(est, tr.charge(1000, max_s=1800))  # 500 µAh in, no loss learned yet
    plated = est.plated_uah
    assert plated == pytest.approx(500, abs=2)
    # 1 cm²: nm = µAh / 1000 (mAh/cm²) x nm per mAh/cm²
    assert est.plated_nm == pytest.approx(plated * nm / 1000, rel=0.002)


def test_thickness_scales_with_area():
    est = make(active_area_um2k=400_000)  # 4 cm²
    s = Sample()
    est.update(s, wire.STATE_IDLE)
    s.add_charge_uams(1000 * UAMS)
    s.t_ms = 1000
    est.update(s, wire.STATE_CHARGE)
    assert est.plated_nm == pytest.approx(1000 / 4 * 4.85, rel=0.002)


def test_cycles_to_eol_from_a_steady_decline():
    cell = SynthCell(sei=0.005, dead=0.005, formation=0.0, residue_uah=10)
    tr = Trace(cell)
    est = make()
    run(est, cycles(tr, 12))
    run(est, tr.charge(1000, max_s=10))
    # loss ~1 % of the plated metal per cycle: from ~89 % to 80 % in ~11 more cycles
    predicted = est.cycle_count + est.cycles_to_eol
    assert 0 <= est.eol_sigma <= 2
    # the truth: cycle on until a knee finds the inventory at or below 80 %
    life = est.cycle_count
    while cell.inventory > 800:
        run(est, tr.cycle(1000, 600))
        life += 1
    # the loss shrinks with the inventory (a geometric decline): a straight line would
    # come out short by about a cycle
    assert predicted == life


def test_reset_forgets_everything():
    tr = Trace(SynthCell())
    est = make()
    run(est, cycles(tr, 2))
    est.reset()
    assert (est.cycle_count, est.inventory_uah, est.inventory_ppm) == (0, 1000, 1_000_000)
    assert est.cycles_to_eol == -1 and est.anchors == 0 and not est.top_seen


def test_sensor_error_sample_is_skipped_and_its_charge_arrives_later():
    tr = Trace(SynthCell())
    est = make()
    for n, (s, state) in enumerate(tr.charge(1000, max_s=600), 1):
        if n % 7 == 0:
            s.errors = wire.FAULT_SENSOR_CURRENT
        est.update(s, state)
        s.errors = 0
    assert est.q_uah == pytest.approx(600 * 1000 / 3600, abs=1)


# ---------------------------------------------------------------- split charge math


@settings(max_examples=60, deadline=None)
@given(
    steps=st.lists(
        st.tuples(st.integers(-60_000, 60_000), st.integers(1, 60_000)), min_size=1, max_size=60
    ),
    offset_na=st.integers(-16_000, 16_000),
)
def test_split_accounting_is_exact(steps, offset_na):
    """The corrected net charge is raw - offset x time, exactly (µA·ms), and the cycle's
    in/out split sums back to the net."""
    est = Estimator(1000)
    s = Sample()
    est.update(s, wire.STATE_IDLE)  # primes
    est.offset_na = offset_na
    t = 0
    raw = 0
    for i_ua, dt in steps:
        s.add_charge_uams(i_ua * dt)
        raw += i_ua * dt
        t += dt
        s.t_ms = t & 0x3FFFFFFF
        state = wire.STATE_CHARGE if i_ua > 0 else wire.STATE_DISCHARGE
        est.update(s, state)
    net = est.q_uah * UAMS + est._q_rem
    expect = raw - (offset_na * t) // 1000
    assert abs(net - expect) <= 1
    cyc = (est._cin_uah - est._cout_uah) * UAMS + est._cin_rem - est._cout_rem
    # everything since the last cycle close is in this cycle's split
    assert 0 <= est._q_rem < UAMS
    assert 0 <= est._cin_rem < UAMS and 0 <= est._cout_rem < UAMS
    if est.cycle_count == 0:
        assert abs(cyc - expect) <= 1


def test_a_long_life_thins_the_history_and_keeps_the_window_span():
    # ~0.1 % of the plated metal lost per cycle: 80 % after ~220 cycles; 60 s sampling
    cell = SynthCell(sei=0.0005, dead=0.0005, formation=0.0, residue_uah=10)
    tr = Trace(cell, period_ms=60_000)
    est = make()
    run(est, tr.rest(120))  # the estimator primes on its first sample
    run(est, cycles(tr, 150))
    run(est, tr.charge(1000, max_s=60))
    assert est.cycle_count == 150
    # half the life (75 cycles) outgrew the 64-point history: every 2nd knee since
    assert est._h_stride == 2 and 32 <= est._hn <= 64
    span = [est._hist[4 * k] for k in range(est._hn)]
    assert min(span) <= 150 - 75 + 2 and max(span) >= 149
    predicted = est.cycle_count + est.cycles_to_eol
    life = est.cycle_count
    while cell.inventory > 800:
        run(est, tr.cycle(1000, 600))
        life += 1
    assert abs(predicted - life) <= 2, (predicted, life)
