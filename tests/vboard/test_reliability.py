"""Reliability on the virtual board running the real MicroPython VM, at small counts
(bench/bench_reliability.py prints the figures at the issue's: 20,000 frames, 100
cuts, 50 flashes). The procedures are in tests/vboard/reliability.py."""

from __future__ import annotations

import pytest

from tests.vboard.conftest import require_vm
from tests.vboard.reliability import (
    fuzz_running_firmware,
    interrupted_flashes,
    power_cuts_while_logging,
)

pytestmark = [pytest.mark.vm, pytest.mark.slow]


@pytest.mark.timeout(600)
def test_fuzzed_frames_neither_crash_nor_change_the_running_firmware(tmp_path):
    require_vm()
    r = fuzz_running_firmware(tmp_path, frames=3_000, seed=3, check_every=1_000)
    assert r.frames == 3_000
    assert r.crashes == 0, r.details
    assert r.unintended_changes == 0, r.details
    assert r.checks >= 3_000 // 40 and r.state_checks >= 3
    assert r.withheld > 0  # the mutations do reach well-formed state-changing requests


@pytest.mark.timeout(600)
def test_power_cuts_while_logging_never_serve_a_corrupted_record(tmp_path):
    require_vm()
    r = power_cuts_while_logging(tmp_path, cuts=12, seed=4)
    assert (r.cuts, r.readouts) == (12, 13)
    assert r.records_served > 12 * r.batch_records
    assert r.corrupted == 0, r.details
    assert r.bad_frames == 0
    assert r.max_tail_lost <= r.batch_records


@pytest.mark.timeout(900)
def test_interrupted_flashes_leave_bootable_boards(tmp_path):
    require_vm()
    r = interrupted_flashes(tmp_path, count=4, seed=5)
    assert r.cut_mid_flash == 4 and r.flashes_cut >= 4
    assert r.unbootable == 0, r.details
    assert r.final_flash_confirmed
