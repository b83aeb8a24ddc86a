"""Scenario files on the virtual board: the real firmware in the MicroPython VM, the
scenario played by the plant; the firmware's ESTIMATE/EVENT stream, read over the
protocol, is judged against the plant's truth with the scenario's own [expect]."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from afbms.device import Device
from afbms.protocol.enums import ConfigKey
from afbms.scenario.spec import load
from afbms.transport import SerialTransport
from afbms.vboard.scenario import EPOCH_S, ScenarioPlant, run_scenario_on_board
from tests.vboard.conftest import require_vm

pytestmark = [pytest.mark.vm, pytest.mark.timeout(420)]

LIBRARY = Path(__file__).resolve().parents[1] / "scenarios"
AFBMS = Path(sys.executable).with_name("afbms")


def _run(name: str, make_board, firmware_flash, stop_when_decided: bool = False):
    require_vm()
    plant = ScenarioPlant(load(LIBRARY / f"{name}.toml"))
    vb = make_board(firmware_flash, plant=plant, speed=1.0, epoch_s=EPOCH_S)
    device = Device(SerialTransport(vb.port), timeout=5.0)
    try:
        for _ in range(10):  # the firmware may still be booting
            try:
                device.hello()
                break
            except Exception:
                continue
        result = run_scenario_on_board(
            vb, device, wall_limit_s=300, stop_when_decided=stop_when_decided
        )
    finally:
        device.close()
    failed = [f"{c.name}: {c.detail}" for c in result.checks if not c.ok]
    assert not failed, failed
    return result


def test_hard_short_during_charge(make_board, firmware_flash):
    """Judged as soon as the verdict is final (the short is latched): half the 9 h."""
    result = _run("hard_short_charge", make_board, firmware_flash, stop_when_decided=True)
    assert any(c.name.startswith("latency HARD_SHORT") for c in result.checks)
    assert [o["kind"] for o in result.onsets] == ["hard_short"]


@pytest.mark.slow
def test_clean_cycling_inventory_within_tolerance(make_board, firmware_flash):
    result = _run("clean_ioncomplex_1s", make_board, firmware_flash)
    assert result.inventory_errors_pct()  # estimates were compared, not skipped
    assert result.formation_s > 0


@pytest.mark.slow
def test_steady_soft_short_confirmed(make_board, firmware_flash):
    result = _run("soft_short_steady", make_board, firmware_flash)
    kinds = [e["kind"] for e in result.events]
    assert kinds.index("SHORT_SUSPECTED") < kinds.index("SOFT_SHORT")


# ---------------------------------------------------------------- afbms sim --scenario


QUICK_SCENARIO = """
name = "cli_quick"
description = "A soft short two minutes in, cleared a minute later"
preset = "jeon_t1_agc_ioncomplex_ncm712"
seed = 5
duration_s = 900

[protocol]
cycles = 1

[[faults]]
kind = "soft_short"
magnitude = 2000.0
at_s = 120
clear_after_s = 60
"""


def test_cli_sim_scenario_configures_the_board(tmp_path):
    require_vm()
    path = tmp_path / "quick.toml"
    path.write_text(QUICK_SCENARIO)
    proc = subprocess.Popen(
        [str(AFBMS), "sim", "--flash", str(tmp_path / "flash"), "--scenario", str(path),
         "--speed", "60"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    said: list[str] = []

    def read_stderr() -> None:
        for line in proc.stderr:
            said.append(line)

    reader = threading.Thread(target=read_stderr, daemon=True)
    try:
        port = proc.stdout.readline().strip()
        assert port.startswith("/dev/"), proc.stderr.read() if proc.poll() is not None else port
        reader.start()
        device = Device(SerialTransport(port), timeout=5.0)
        try:
            device.hello()
            got = device.config_get()
        finally:
            device.close()
        want = ScenarioPlant(load(path)).config
        want[ConfigKey.TELEMETRY_PERIOD_MS] = 10 * want[ConfigKey.SAMPLE_PERIOD_MS]
        assert {k: got[k] for k in want} == want
        deadline = time.monotonic() + 60  # 3 min of virtual time at 60x: seconds
        while not any("soft_short cleared at" in line for line in said):
            assert time.monotonic() < deadline and proc.poll() is None, said
            time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        proc.wait(20)
        reader.join(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    err = "".join(said)
    assert proc.returncode == 0, err
    assert "scenario cli_quick" in err
    assert "soft_short injected at 0.03 h" in err  # 120 s


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--scenario", "no/such.toml"], "no such file"),
        (["--scenario", str(LIBRARY / "hard_short_charge.toml"), "--preset", "x"], "not both"),
    ],
)
def test_cli_sim_scenario_user_mistakes(tmp_path, extra, message):
    r = subprocess.run([str(AFBMS), "sim", "--flash", str(tmp_path / "f"), *extra],
                       capture_output=True, text=True, timeout=60)  # fmt: skip
    assert r.returncode == 2
    assert r.stderr.startswith("afbms sim:") and message in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
