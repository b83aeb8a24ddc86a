"""``afbms scenario`` as a subprocess: exit codes and output, over the library entry
of ``python -m afbms.scenario``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

PASSING = """\
name = "cli_hard_short"
description = "a hard short at rest, latched"
preset = "tang_lu_na_ssze_hv"
seed = 5
sample_period_ms = 1000
duration_h = 0.5

[[faults]]
kind = "hard_short"
magnitude = 0.5
at_s = 600

[expect]
events = ["HARD_SHORT"]
latched = ["SHORT_HARD"]
latency_samples = {HARD_SHORT = 1}
"""


def afbms(*args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    script = Path(sys.executable).with_name("afbms")
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "afbms"]
    return subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=timeout)


def test_a_passing_scenario_exits_0_with_its_summary(tmp_path):
    f = tmp_path / "pass.toml"
    f.write_text(PASSING)
    p = afbms("scenario", str(f))
    assert p.returncode == 0, p.stderr
    assert "== cli_hard_short  (tang_lu_na_ssze_hv)" in p.stdout
    assert "[ok] event HARD_SHORT" in p.stdout and "[ok] latched SHORT_HARD" in p.stdout
    assert "simulated s per wall s" in p.stdout
    assert p.stdout.rstrip().endswith("PASSED") and p.stderr == ""


def test_json_summary_one_line_per_file(tmp_path):
    f = tmp_path / "pass.toml"
    f.write_text(PASSING)
    p = afbms("scenario", "--json", str(f), str(f))
    assert p.returncode == 0, p.stderr
    lines = p.stdout.strip().splitlines()
    assert len(lines) == 2
    s = json.loads(lines[0])
    assert s["name"] == "cli_hard_short" and s["passed"] is True
    assert s["first_events"]["HARD_SHORT"]["latency"]["samples"] <= 1
    assert all(c["ok"] for c in s["checks"]) and s["checks"]


def test_a_failed_check_exits_1(tmp_path):
    f = tmp_path / "fail.toml"
    f.write_text(PASSING.replace('latched = ["SHORT_HARD"]', 'not_latched = ["SHORT_HARD"]'))
    p = afbms("scenario", str(f))
    assert p.returncode == 1, p.stderr
    assert "[FAIL] not latched SHORT_HARD" in p.stdout and "FAILED" in p.stdout


def test_a_malformed_file_is_one_line_and_exit_2(tmp_path):
    f = tmp_path / "bad.toml"
    f.write_text('name = "x"\npreset = "jeon_t2_mgf2c_ncm90"\nduration_h = [1\n')
    p = afbms("scenario", str(f))
    assert p.returncode == 2
    assert p.stdout == ""
    err = p.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("afbms scenario: ")
    assert "bad.toml: not valid TOML" in err[0]


def test_an_invalid_scenario_is_one_line_and_exit_2(tmp_path):
    f = tmp_path / "unknown.toml"
    f.write_text('name = "x"\npreset = "nope"\nduration_h = 1\n')
    p = afbms("scenario", str(f), str(tmp_path / "missing.toml"))
    assert p.returncode == 2
    err = p.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("afbms scenario: ") and "preset" in err[0]


def test_a_missing_file_is_one_line_and_exit_2(tmp_path):
    p = afbms("scenario", str(tmp_path / "missing.toml"))
    assert p.returncode == 2
    err = p.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].endswith("missing.toml: no such file")
