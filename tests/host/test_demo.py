"""``afbms demo`` (README command 1): the end-to-end run on a virtual board, and the
latency arithmetic it prints."""

from __future__ import annotations

import pytest

from afbms.demo import SAMPLE_PERIOD_MS, demo, short_events
from afbms.protocol.enums import EventKind, Fault, Severity

EPOCH_S = 800_000_000


def test_short_latency_counts_sample_periods_from_the_onset():
    onset_ms = 3_600_000 + 4_000  # between two samples
    events = [
        {"kind": EventKind.VOLTAGE_DROP, "severity": Severity.WARNING, "t_s": EPOCH_S + 3_600},
        {"kind": EventKind.VOLTAGE_DROP, "severity": Severity.WARNING, "t_s": EPOCH_S + 3_610},
        {"kind": EventKind.CONFIG_CHANGED, "severity": Severity.INFO, "t_s": EPOCH_S + 3_620},
        {"kind": EventKind.SOFT_SHORT, "severity": Severity.ALARM, "t_s": EPOCH_S + 3_900,
         "t_sub_ms": 0},
    ]  # fmt: skip
    got = short_events(events, EPOCH_S, onset_ms)
    assert [e.kind for e in got] == [EventKind.VOLTAGE_DROP, EventKind.SOFT_SHORT]
    period_s = SAMPLE_PERIOD_MS / 1000
    assert got[0].after_onset_s == pytest.approx(6.0)
    assert got[0].samples == 1  # the first sample after the onset
    assert got[1].after_onset_s == pytest.approx(296.0)
    assert got[1].samples == -(-296 // period_s)


@pytest.mark.vm
@pytest.mark.slow
@pytest.mark.timeout(600)
def test_demo_detects_the_soft_short_and_stops_charging(tmp_path, capsys):
    rep = demo(tmp_path / "demo", cycles=3, short_cycle=2)
    out = capsys.readouterr().out

    # the soft short developed in the plant and the firmware saw it
    assert rep.onset_s is not None
    suspected = rep.first(EventKind.SHORT_SUSPECTED)
    confirmed = rep.first(EventKind.SOFT_SHORT)
    assert suspected is not None and confirmed is not None
    assert suspected.after_onset_s <= confirmed.after_onset_s
    assert not any(e.kind == EventKind.HARD_SHORT for e in rep.shorts)
    assert confirmed.samples >= 1 and confirmed.after_onset_s >= 0
    # charging stopped: the short is latched, the board's charge path is off
    assert rep.charge_stopped
    assert rep.latched & Fault.SHORT_SOFT
    # the estimate is printed beside the truth, and close to it
    assert rep.estimate_uah is not None
    assert abs(rep.estimate_uah - rep.truth_uah) / rep.initial_uah < 0.02
    # the log reached the store intact, the files were written
    assert rep.records > 100 and rep.bad_records == 0
    assert [p.suffix for p in rep.files].count(".png") >= 2
    assert all(p.is_file() and p.stat().st_size > 0 for p in rep.files)
    # what a user reads
    assert "firmware estimate" in out and "simulated truth" in out
    assert "SOFT_SHORT        at" in out and f"latency {confirmed.samples:>4} samples" in out
    assert "charging stopped" in out
    assert f"wrote to {tmp_path / 'demo'}" in out
