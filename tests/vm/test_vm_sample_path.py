"""The firmware's whole per-sample path runs in the real MicroPython VM, from .mpy,
and allocates nothing per sample between flash-segment rollovers."""

import pytest

from afbms.vmbench import run_sample_path
from bms import wire

pytestmark = pytest.mark.vm


@pytest.fixture(scope="module")
def probe():
    # 200 steps after a 40-step warm-up stay inside one 256-record log segment.
    return run_sample_path(steps=200, warmup=40)


def test_every_step_ran_and_logged(probe):
    assert (probe["steps"], probe["log_records"]) == (200, 200)


def test_cell_is_charging_without_faults(probe):
    assert (probe["state"], probe["errors"]) == (wire.STATE_CHARGE, 0)


def test_no_heap_allocation_per_sample(probe):
    assert probe["heap_bytes"] == 0
