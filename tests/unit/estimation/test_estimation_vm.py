"""The estimator and the detector compiled by mpy-cross inside the real MicroPython VM:
nothing allocated per sample; only the few samples per cycle that set a marker or close
the cycle (exact big-int arithmetic, the end-of-life fit) may allocate."""

import pytest

from afbms.scenario.vmcost import run_cost

pytestmark = pytest.mark.vm


@pytest.fixture(scope="module")
def probe():
    return run_cost(steps=2400, warmup=1200)


def test_cycles_ran_through_every_path(probe):
    assert probe["cycles"] >= 2 and probe["anchors"] >= 3
    assert probe["mark_samples"] >= 3 * probe["cycles"]


def test_no_heap_allocation_per_sample(probe):
    assert probe["heap_bytes"] == 0
    assert probe["worst_sample_bytes"] == 0


def test_end_of_cycle_work_allocates_little(probe):
    assert probe["mark_heap_bytes"] <= 1024 * probe["cycles"]


def test_clean_cell_raises_no_short(probe):
    assert probe["latch"] == 0
