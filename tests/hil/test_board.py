"""The board as a bench engineer checks it: flashing, the live stream, the flash log,
config across re-flashing, protection while a host tool is connected."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from afbms.flash import RawBoard, firmware_version, flash
from afbms.protocol.enums import ConfigKey, EventKind, Fault, MsgType, State
from afbms.protocol.fast import FastStats
from tests.hil.support import (
    clear_all_faults,
    config_restored,
    set_config,
    stamp_ms,
    telemetry_for,
    wait_telemetry,
    wall_s,
)

pytestmark = [pytest.mark.hil, pytest.mark.timeout(180)]

AFBMS = Path(sys.executable).with_name("afbms")


def _restart_firmware(target, device) -> None:
    """A verify-only flash leaves the board in the raw REPL (firmware stopped, outputs
    safe): leave it and soft-reset, so main.py runs again. Ctrl-B, Ctrl-D only: the raw
    REPL handshake never ends if the firmware is already running and streaming."""
    device.close()
    raw = RawBoard(target.port)
    try:
        raw.reset()
    finally:
        raw.close()
    target.reconnect(device)


def test_flash_and_verify(afbms_target, afbms_flash_report, flashed_board):
    report = afbms_flash_report
    assert report.confirmed and report.files > 0
    info = flashed_board.info
    assert (info["fw_major"], info["fw_minor"], info["fw_patch"]) == firmware_version()
    assert info["board"] == afbms_target.board
    flashed_board.close()  # flashing needs the port to itself
    verified = flash(afbms_target.port, afbms_target.board, verify_only=True, timeout=60.0)
    assert verified.slot == report.slot and verified.files == report.files
    _restart_firmware(afbms_target, flashed_board)
    running = wait_telemetry(flashed_board, lambda p: True, wall_s(afbms_target, 5))
    assert running["state"] != State.MAINTENANCE


def test_telemetry_rate_and_monotonic_timestamps(afbms_target, board):
    with config_restored(board) as cfg:
        period_ms = 2 * cfg[ConfigKey.SAMPLE_PERIOD_MS]
        set_config(board, {ConfigKey.TELEMETRY_PERIOD_MS: period_ms})
        wait = wall_s(afbms_target, 20 * period_ms / 1000)
        frames = telemetry_for(board, 16, wait)
        stamps = [stamp_ms(p) for p in frames]
        # the first frames may still follow the old period: judge the last 10 intervals
        steps = np.diff(stamps[-11:])
        assert (np.diff(stamps) > 0).all(), "timestamps went backwards or repeated"
        assert np.median(steps) == pytest.approx(period_ms, abs=5)
        assert steps.min() >= 0.9 * period_ms and steps.max() <= 1.1 * period_ms, steps
    before_ms = cfg[ConfigKey.TELEMETRY_PERIOD_MS]
    if before_ms:  # the bench's own period is back (0: it had telemetry off)
        restored = telemetry_for(board, 8, wall_s(afbms_target, 10 * before_ms / 1000))
        steps = np.diff([stamp_ms(p) for p in restored[-5:]])
        assert np.median(steps) == pytest.approx(before_ms, abs=5), "period not restored"


def _log(device, since: int) -> tuple[dict[int, np.void], FastStats]:
    """Every record from ``since`` (or the oldest kept) to the newest, by sequence number."""
    info = device.log_info()
    start = max(since, info["first_seq"])
    stats = FastStats()
    records: dict[int, np.void] = {}
    for page in device.read_log(start, info["next_seq"] - start, stats=stats):
        for rec in page:
            records[int(rec["seq"])] = rec
    return records, stats


def test_log_after_reboot_is_complete(afbms_target, board):
    """An orderly reset (COMMAND REBOOT) flushes first: nothing is lost."""
    wait_telemetry(board, lambda p: True, wall_s(afbms_target, 5))
    info = board.log_info()
    since = max(info["first_seq"], info["next_seq"] - 300)
    before, _ = _log(board, since)
    afbms_target.reboot(board)
    after, stats = _log(board, since)
    assert stats.bad_records == 0
    missing = sorted(set(before) - set(after))
    assert not missing, f"records lost over an orderly reset: {missing[:10]}"
    assert all(after[s].tobytes() == before[s].tobytes() for s in before)


@pytest.mark.sim_only
def test_log_after_power_cut_loses_at_most_the_unflushed_batch(afbms_target, board, live):
    # a few batches on flash first (right after a boot everything may still be in RAM)
    telemetry_for(board, 64, wall_s(afbms_target, 64 * live))
    info = board.log_info()
    since = max(info["first_seq"], info["next_seq"] - 300)
    before, _ = _log(board, since)
    unflushed = board.log_info()["unflushed"]
    afbms_target.power_cycle(board)
    after, stats = _log(board, since)
    assert stats.bad_records == 0, "a damaged record was served"
    assert all(after[s].tobytes() == before[s].tobytes() for s in set(before) & set(after))
    missing = sorted(set(before) - set(after))
    kept = sorted(set(before) & set(after))
    # Lost records are the newest ones only (the tail still in RAM), never a hole.
    assert not missing or not kept or missing[0] > kept[-1], f"a hole in the log: {missing[:10]}"
    batch = 16  # FlashLog's batch: more than one batch lost means a flush went missing
    assert len(missing) <= max(unflushed, 0) + batch, (len(missing), unflushed)
    assert kept, "nothing of the old boot is readable"
    new = [s for s in after if s > max(before)]
    assert new and min(new) > max(before), "the new boot reused sequence numbers"


def _make_active_slot_stale(target) -> None:
    """Virtual board: change a byte of the running image on its flash (as if it held
    another build), so the next flash really writes the other slot and switches to it
    (an identical image would be left as it is)."""
    flash_dir = target.vboard.flash_dir
    active = (flash_dir / "fw" / "state").read_text().split()[0]
    victim = flash_dir / "fw" / active / "board.mpy"  # never run again: the flash switches
    victim.write_bytes(victim.read_bytes() + b"\0")


def test_config_survives_a_reflash(afbms_target, flashed_board):
    board = flashed_board
    with config_restored(board):
        marks = {ConfigKey.EOL_RETENTION_PPM: 777_000, ConfigKey.DROP_CONFIRM_COUNT: 4}
        set_config(board, marks)
        board.close()
        if afbms_target.virtual:
            _make_active_slot_stale(afbms_target)
        report = flash(afbms_target.port, afbms_target.board, timeout=60.0)
        assert report.confirmed
        if afbms_target.virtual:
            assert report.slot != report.previous, "the flash did not switch slots"
        afbms_target.reconnect(board)
        now = board.config_get()
        assert {k: now[k] for k in marks} == marks
        assert board.log_info()["next_seq"] > 0


# ---------------------------------------------------------------- a host tool connected


def test_trip_during_a_log_readout(afbms_target, board, live):
    """A limit crossed while the log streams out (pages are served between samples):
    the protection trips during the readout, and the readout stays intact."""
    with config_restored(board) as cfg:
        assert clear_all_faults(board, wall_s(afbms_target, 20 * live)) == 0
        now = wait_telemetry(board, lambda p: True, wall_s(afbms_target, 5 * live))
        t_max = max(now["temperature_mc"] - 5_000, 0)
        set_config(board, {ConfigKey.T_MIN_MC: min(cfg[ConfigKey.T_MIN_MC], t_max - 10_000),
                           ConfigKey.T_MAX_MC: t_max})  # fmt: skip
        stats = FastStats()
        tripped = False
        seen: list[tuple[str, int]] = []
        deadline = time.monotonic() + wall_s(afbms_target, 30 * live)
        pages = 0
        while not tripped and time.monotonic() < deadline:  # one readout after another
            info = board.log_info()
            start = max(info["first_seq"], info["next_seq"] - 2000)
            for _ in board.read_log(start, info["next_seq"] - start, stats=stats):
                pages += 1
            # telemetry and events that came in between pages were queued, not lost
            for frame in board.frames(0.0):
                p = frame.payload
                if frame.msg_type == MsgType.EVENT:
                    seen.append((EventKind(p["kind"]).name, p["value"]))
                    if p["kind"] == EventKind.FAULT_SET:
                        tripped |= bool(p["value"] & Fault.OVER_TEMPERATURE)
                elif frame.msg_type == MsgType.TELEMETRY:
                    seen.append(("telemetry", p["temperature_mc"]))
        assert tripped, f"no OVER_TEMPERATURE trip during the readout (T_MAX {t_max}): {seen}"
        assert stats.bad_records == 0 and stats.bad_frames == 0
        assert pages > 0
        if afbms_target.virtual:
            assert not afbms_target.vboard.plant.truth()["charge_enabled"]
    assert clear_all_faults(board, wall_s(afbms_target, 20 * live)) == 0


@pytest.mark.sim_only
def test_trip_while_afbms_monitor_is_connected(afbms_target, plant):
    """`afbms monitor` holds the port; the chamber overheats: the board opens both paths
    and the monitor shows the fault."""
    device = afbms_target.connect()
    try:
        assert clear_all_faults(device, wall_s(afbms_target, 20)) == 0
    finally:
        device.close()
    proc = subprocess.Popen(
        [str(AFBMS), "monitor", "--port", afbms_target.port, "--json", "--duration", "20"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    lines: list[dict] = []

    def read_stdout() -> None:
        for line in proc.stdout:
            lines.append(json.loads(line))

    def trips() -> list[dict]:  # --json: "frame" says event, "kind" the event's own kind
        return [
            x for x in list(lines)
            if x["frame"] == "event" and x["kind"] == "FAULT_SET"
            and x["value"] & Fault.OVER_TEMPERATURE
        ]  # fmt: skip

    reader = threading.Thread(target=read_stdout, daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 15
        while not any(x["frame"] == "telemetry" for x in list(lines)):
            assert time.monotonic() < deadline, proc.stderr.read() if proc.poll() else "no output"
            time.sleep(0.05)
        with plant.fast():
            plant.set_ambient(100.0)
            deadline = time.monotonic() + 15
            while afbms_target.vboard.plant.truth()["charge_enabled"]:
                assert time.monotonic() < deadline, "the paths stayed closed"
                time.sleep(0.02)
            plant.set_ambient(25.0)
        deadline = time.monotonic() + 15  # the monitor may still be working through a backlog
        while not trips() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert proc.poll() is None, "the monitor stopped"
    finally:
        proc.terminate()
        proc.wait(10)
        reader.join(10)
    assert trips(), [x for x in lines if x["frame"] != "telemetry"]
    assert trips()[0]["severity"] == "CRITICAL"
    device = afbms_target.connect()
    try:
        clear_all_faults(device, wall_s(afbms_target, 60))
    finally:
        device.close()
