"""The cycler: CC, CV with taper cutoff, rests, loops, and the board's enables."""

import pytest

from afbms.plant.cell import Cell, CellParams
from afbms.plant.cycler import CC, CCCV, CV, Cycler, Loop, Rest, cycling_protocol

P = CellParams(areal_capacity_mah_cm2=1.0, j_ref_ma_cm2=1.0, k_loss=1e-3)


def test_cc_cv_rest_loop_sequence():
    cell = Cell(P)
    prog = [Loop([CCCV(1e-3, 4.25, 5e-5), Rest(60), CC(-1e-3, 2.5), Rest(60)], 2)]
    cyc = Cycler(cell, prog)
    while not cyc.done:
        cyc.advance(1.0)
    names = [(r.name, r.reason, r.cycle) for r in cyc.records]
    assert names == [
        ("charge", "cutoff", 1), ("rest", "time", 1), ("discharge", "limit", 1),
        ("rest", "time", 1), ("charge", "cutoff", 2), ("rest", "time", 2),
        ("discharge", "limit", 2), ("rest", "time", 2),
    ]  # fmt: skip
    assert cell.cycle == 2


def test_cc_stops_exactly_at_the_voltage_limit():
    cell = Cell(P)
    cyc = Cycler(cell, [CC(1e-3, 4.0)])
    while not cyc.done:
        cyc.advance(7.0)  # coarse steps: the limit is still exact
    assert cyc.records[0].v_end == pytest.approx(4.0, abs=1e-3)
    assert cyc.records[0].reason == "limit"


def test_cv_tapers_to_the_cutoff():
    cell = Cell(P)
    cyc = Cycler(cell, [CC(1e-3, 4.25), CV(4.25, 5e-5, 1e-3)])
    currents = []
    while not cyc.done:
        cyc.advance(1.0)
        if cyc.step_name() == "cv" or cyc.done:
            currents.append(cell.i_ext)
    assert abs(cell.v - 4.25) < 2e-3
    assert cell.i_ext < 5e-5
    assert currents[0] > currents[len(currents) // 2] > currents[-1]  # taper


def test_nested_loops_and_loop_cycle_numbering():
    cell = Cell(P)
    prog = [Rest(1), Loop([Loop([Rest(1)], 2), Rest(1)], 3)]
    cyc = Cycler(cell, prog)
    seen = []
    while not cyc.done:
        seen.append(cyc.loop_cycle)
        cyc.advance(1.0)
    assert seen == [0, 1, 1, 1, 2, 2, 2, 3, 3, 3]


@pytest.mark.parametrize("direction", ["charge", "discharge"])
def test_current_stops_within_one_step_when_an_enable_opens(direction):
    cell = Cell(P)
    cyc = Cycler(cell, cycling_protocol(P, 1))
    if direction == "discharge":
        while cyc.step_name() != "discharge":
            cyc.advance(1.0)
    for _ in range(30):
        cyc.advance(1.0)
    assert abs(cell.i_ext) > 0.9e-3
    if direction == "charge":
        cyc.set_enables(False, True)
    else:
        cyc.set_enables(True, False)
    cyc.advance(1.0)
    assert cell.i_ext == 0.0 and cyc.blocked
    q = cell.q_ext
    for _ in range(10):
        cyc.advance(1.0)
    assert cell.q_ext == q  # nothing flows while the path is open
    assert cyc.step_name() == direction  # the cycler's step goes on (its timer runs)
    cyc.set_enables(True, True)
    cyc.advance(1.0)
    assert abs(cell.i_ext) > 0.9e-3 and not cyc.blocked


def test_an_open_charge_path_does_not_block_discharge():
    cell = Cell(P)
    cyc = Cycler(cell, [CC(1e-3, 4.0), CC(-1e-3, 3.5)])
    cyc.set_enables(False, True)
    for _ in range(5):
        cyc.advance(1.0)
    assert cell.i_ext == 0.0
    cyc.set_enables(True, True)
    while not cyc.done:
        cyc.advance(1.0)
    assert cyc.records[1].v_end == pytest.approx(3.5, abs=1e-3)


def test_step_time_limit():
    cell = Cell(P)
    cyc = Cycler(cell, [CC(1e-3, 4.25, max_s=100)])
    for _ in range(150):
        cyc.advance(1.0)
    assert cyc.done and cyc.records[0].reason == "time"
    assert cell.time_s == pytest.approx(150.0)
