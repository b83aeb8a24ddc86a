"""The afbms command as a subprocess: exit codes and output."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from afbms.protocol.schema import SCHEMA_HASH
from tests.codec_util import BY_NAME


def afbms(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    script = Path(sys.executable).with_name("afbms")
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "afbms"]
    return subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=timeout)


def assert_one_line_error(proc: subprocess.CompletedProcess, code: int) -> None:
    assert proc.returncode == code
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_version():
    proc = afbms("--version")
    assert (proc.returncode, proc.stdout.split()[0]) == (0, "afbms")


def test_no_command_prints_help_and_fails():
    proc = afbms()
    assert (proc.returncode, "usage" in proc.stdout) == (2, True)


def test_describe_json_carries_schema_hash():
    proc = afbms("describe", "--json")
    assert proc.returncode == 0
    assert json.loads(proc.stdout)["schema_hash"] == f"0x{SCHEMA_HASH:08X}"


def test_describe_lists_units():
    proc = afbms("describe")
    assert proc.returncode == 0 and "voltage_uv" in proc.stdout and "µV" in proc.stdout


def test_decode_golden_frame():
    proc = afbms("decode", BY_NAME["telemetry_charging"]["hex"])
    assert proc.returncode == 0
    assert proc.stdout.startswith("TELEMETRY seq=1000") and "state=CHARGE" in proc.stdout


def test_decode_json():
    proc = afbms("decode", "--json", BY_NAME["event_soft_short"]["hex"])
    frames = json.loads(proc.stdout)["frames"]
    assert frames[0]["payload"]["kind"] == "SOFT_SHORT"


def test_decode_not_hex_is_a_one_line_error():
    assert_one_line_error(afbms("decode", "zz"), 2)


def test_decode_missing_file_is_a_one_line_error(tmp_path):
    assert_one_line_error(afbms("decode", "--file", str(tmp_path / "nope.bin")), 2)


def test_decode_garbage_finds_no_frame():
    proc = afbms("decode", "0102030405")
    assert proc.returncode == 1 and "0 frames, 1 rejected" in proc.stderr


def test_decode_capture_file(tmp_path):
    capture = tmp_path / "capture.bin"
    # A capture that starts mid-frame: the receiver resyncs at the first delimiter.
    capture.write_bytes(b"\x17\x17\x00" + bytes.fromhex(BY_NAME["ack_command"]["hex"]))
    proc = afbms("decode", "--file", str(capture))
    assert (proc.returncode, proc.stdout.split()[0]) == (0, "ACK")


def test_codegen_check_passes_on_fresh_tree():
    assert afbms("codegen", "--check").returncode == 0


def test_demo_rejects_zero_cycles():
    proc = afbms("demo", "--cycles", "0")
    assert proc.returncode == 2 and "at least 1" in proc.stderr


@pytest.mark.vm
@pytest.mark.slow
def test_demo_runs_end_to_end(tmp_path):
    proc = afbms("demo", "--out", str(tmp_path), timeout=900)  # two cycles: one full estimate
    assert proc.returncode == 0, proc.stderr
    assert "firmware estimate" in proc.stdout
    assert (tmp_path / "demo.sqlite").is_file()
    assert len(list(tmp_path.glob("*.png"))) >= 2
    assert list(tmp_path.glob("*.bdf.csv"))
