"""The scenario runner itself: spec validation, the wiring of app and plant, fault
onsets, frames decoded from the app's port, ground truth beside them, the CLI."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from afbms.scenario import Runner, ScenarioError, from_dict, latency, run_scenario
from afbms.scenario.runner import preset_config
from bms import wire

BASE = {"name": "t", "preset": "tang_lu_na_ssze_hv", "seed": 3, "sample_period_ms": 1000}


def sc(**kw):
    d = dict(BASE)
    d.update(kw)
    return from_dict(d)


@pytest.mark.parametrize(
    "bad, why",
    [
        ({"preset": "nope"}, "unknown preset"),
        ({"colour": 1}, "unknown key"),
        ({"sample_period_ms": 5}, "sample_period_ms"),
        ({"config": {"NOT_A_KEY": 1}}, "unknown config key"),
        ({"faults": [{"kind": "soft_short"}]}, "at_s/at_h or at_cycle"),
        ({"expect": {"events": ["NOT_AN_EVENT"]}}, "unknown name"),
        ({"expect": {"latched": ["NOT_A_FAULT"]}}, "unknown name"),
        ({"sensors": {"errors": "bad"}}, "realistic"),
    ],
)
def test_bad_scenarios_are_refused_in_one_line(bad, why):
    d = dict(BASE, duration_h=1)
    d.update(bad)
    with pytest.raises(ScenarioError, match=why):
        from_dict(d)


def test_duration_or_cycles_is_required():
    with pytest.raises(ScenarioError, match="duration"):
        from_dict(dict(BASE))


def test_config_follows_the_preset():
    r = Runner(sc(duration_h=0.01))
    try:
        cfg = preset_config(r.plant, r.sc)
        assert cfg[wire.CFG_METAL] == wire.METAL_SODIUM
        assert cfg[wire.CFG_CAPACITY_UAH] == round(r.plant.params.inventory_uah)
        assert r.app.config.get(wire.CFG_METAL) == wire.METAL_SODIUM
        assert r.app.estimator.nm_per_mah_cm2 == 8800
        assert r.app.config.get(wire.CFG_SAMPLE_PERIOD_MS) == 1000
    finally:
        r.close()


def test_config_overrides_reach_the_firmware():
    r = Runner(sc(duration_h=0.01, config={"DROP_UV": 25000}))
    try:
        assert r.app.detector.drop_uv == 25000
    finally:
        r.close()


def test_a_cycle_is_estimated_against_truth():
    res = run_scenario(sc(protocol={"cycles": 2}, stop_after_cycles=1))
    assert res.fw_cycles == 1 and len(res.estimates) == 1
    e = res.estimates[0]
    assert e["cycle_count"] == 1 and e["truth_cycle"] == 1
    truth = e["truth_inventory_uah"] / e["truth_initial_uah"] * 100
    assert abs(e["inventory_ppm"] / 1e4 - truth) < 0.5
    # the formation override: UNDER_VOLTAGE at 0.1 V as assembled, cleared once charged
    kinds = [x["kind"] for x in res.events]
    assert "FAULT_SET" in kinds and "FAULTS_CLEARED" in kinds and res.formation_s > 0
    assert res.latched == 0
    assert res.speed > 1000  # simulated s per wall s


def test_fault_onset_after_a_cycler_step_and_clearing():
    res = run_scenario(sc(
        duration_h=3,
        protocol={"cycles": 2},
        faults=[{"kind": "voltage_offset", "magnitude": -3000.0, "at_cycle": 1,
                 "at_step": "charge", "after_s": 600, "clear_after_s": 300}],
    ))  # fmt: skip
    inj, clr = res.onsets
    assert inj["action"] == "inject" and clr["action"] == "clear"
    assert inj["t_s"] == pytest.approx(600, abs=2)
    assert clr["t_s"] == pytest.approx(900, abs=2)


def test_hard_short_latency_counts_from_the_first_sample_after_onset():
    res = run_scenario(sc(
        duration_h=2,
        protocol={"cycles": 1},
        faults=[{"kind": "hard_short", "magnitude": 0.5, "at_s": 1800.5}],
    ))  # fmt: skip
    lat = latency(res, "HARD_SHORT")
    assert lat is not None and lat["samples"] == 1
    assert res.latched & wire.FAULT_SHORT_HARD
    ev = res.first_event("HARD_SHORT")
    assert ev["severity"] == wire.SEV_CRITICAL and ev["truth_short"]


def test_cli_prints_a_summary_and_fails_on_a_failed_check(tmp_path):
    f = tmp_path / "s.toml"
    f.write_text(
        'name = "cli"\npreset = "tang_lu_na_ssze_hv"\nduration_h = 0.5\n'
        '[expect]\nevents = ["HARD_SHORT"]\n'
    )
    p = subprocess.run([sys.executable, "-m", "afbms.scenario", str(f)], capture_output=True,
                       text=True, timeout=120)  # fmt: skip
    assert p.returncode == 1, p.stderr
    assert "simulated s per wall s" in p.stdout and "[FAIL] event HARD_SHORT" in p.stdout
    p = subprocess.run([sys.executable, "-m", "afbms.scenario", "--json", str(f)],
                       capture_output=True, text=True, timeout=120)  # fmt: skip
    s = json.loads(p.stdout)
    assert s["name"] == "cli" and s["passed"] is False


def test_cli_reports_a_bad_file_in_one_line(tmp_path):
    f = tmp_path / "bad.toml"
    f.write_text('name = "x"\npreset = "nope"\nduration_h = 1\n')
    p = subprocess.run([sys.executable, "-m", "afbms.scenario", str(f)], capture_output=True,
                       text=True, timeout=60)  # fmt: skip
    assert p.returncode == 2
    assert p.stderr.startswith("error:") and len(p.stderr.strip().splitlines()) == 1
