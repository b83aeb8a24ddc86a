"""Longer runs: the full cell model behind the board, many power cuts, the CLI."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from afbms.device import Device
from afbms.protocol.enums import ConfigKey, Fault, MsgType, State
from afbms.transport import SerialTransport
from tests.vboard.conftest import pid_alive
from tests.vboard.test_firmware import telemetry, wait_for, wait_running

pytestmark = [pytest.mark.vm, pytest.mark.timeout(300)]

AFBMS = Path(sys.executable).with_name("afbms")


@pytest.mark.parametrize("vm", ["micropython", "cpython"])
def test_full_cell_model_plugs_in(make_board, firmware_flash, vm):
    from afbms.plant.world import Plant

    plant = Plant("jeon_t2_w_mg_ncm811", sensor_errors="realistic", seed=3)
    vb = make_board(firmware_flash, vm=vm, plant=plant)
    dev = Device(SerialTransport(vb.port), timeout=5.0)
    try:
        wait_running(vb)
        dev.hello()
        frames = telemetry(dev, 10.0, until=lambda p: p["state"] == State.CHARGE)
        last = frames[-1]
        assert last["state"] == State.CHARGE  # the cycler charges once the board lets it
        assert last["current_ua"] > 0
        assert not last["faults"] & (Fault.OVER_VOLTAGE | Fault.SENSOR_STUCK)
        truth = plant.truth()
        assert truth["charge_enabled"] and truth["current_a"] > 0
        # constant current: what the board measured is what the cycler drives
        assert last["current_ua"] / 1e6 == pytest.approx(truth["current_a"], rel=0.05, abs=20e-6)
        assert 0 < last["voltage_uv"] < 5_000_000
    finally:
        dev.close()


@pytest.mark.slow
def test_many_power_cuts(make_board, firmware_flash):
    """Twenty cuts at random instants, some right after a config change: the firmware
    always comes back, its config is one that was set, its log stays readable."""
    rng = random.Random(11)
    vb = make_board(firmware_flash)
    dev = Device(SerialTransport(vb.port), timeout=5.0)
    try:
        wait_running(vb)
        dev.hello()
        allowed = {1000}
        for i in range(20):
            if i % 2:
                value = 1000 + 10 * i
                allowed.add(value)
                key = int(ConfigKey.TELEMETRY_PERIOD_MS)
                dev.send(MsgType.CONFIG_SET, {"key": key, "value": value})
                time.sleep(rng.uniform(0.0, 0.03))
            else:
                time.sleep(rng.uniform(0.02, 0.8))
            vb.power_cut()
            vb.power_on()
            wait_running(vb)
            dev.hello()
            got = dev.config_get(ConfigKey.TELEMETRY_PERIOD_MS)[ConfigKey.TELEMETRY_PERIOD_MS]
            assert got in allowed
            info = dev.log_info()
            start = max(info["first_seq"], info["next_seq"] - 64)
            records = sum(len(page) for page in dev.read_log(start, 64))
            assert records > 0
    finally:
        dev.close()


def _run_cli_sim(tmp_path: Path, vm: str) -> None:
    flash = tmp_path / "flash"
    proc = subprocess.Popen(
        [str(AFBMS), "sim", "--flash", str(flash), "--vm", vm, "--speed", "max"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        port = proc.stdout.readline().strip()
        assert port.startswith("/dev/"), proc.stderr.read() if proc.poll() is not None else port
        dev = Device(SerialTransport(port), timeout=5.0)
        try:
            deadline = time.monotonic() + 20
            while True:  # the firmware may still be starting: retry HELLO
                try:
                    assert dev.hello()["board"] == "sim"
                    break
                except Exception:
                    if time.monotonic() > deadline:
                        raise
        finally:
            dev.close()
        children = _children(proc.pid)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
        assert proc.returncode == 0, err
        assert "firmware deployed" in err and "stopped" in err
        wait_for(lambda: not any(pid_alive(p) for p in children), 10.0, "children gone")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert (flash / "main.py").is_file()


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(x) for x in text.split()]


def test_cli_sim_cpython(tmp_path):
    _run_cli_sim(tmp_path, "cpython")


@pytest.mark.slow
def test_cli_sim_micropython(tmp_path):
    _run_cli_sim(tmp_path, "micropython")


def test_cli_sim_rejects_a_bad_speed():
    r = subprocess.run([str(AFBMS), "sim", "--speed", "-2"], capture_output=True, text=True)
    assert r.returncode == 2
    assert "speed" in r.stderr


def test_no_runner_left_behind(request):
    """Every test above closed its boards: no runner.mjs process of ours remains (the
    HIL plugin's session board, if one runs, ends with the session)."""
    from afbms.pytest_plugin import SESSION_VBOARD

    session_board = request.config.stash.get(SESSION_VBOARD, None)
    allowed = set(session_board.pids) if session_board is not None else set()
    mine = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes()
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if b"vboard/runner.mjs" in cmd and ppid == os.getpid() and int(entry.name) not in allowed:
            mine.append(int(entry.name))
    assert not mine
