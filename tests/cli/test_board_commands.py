"""Every board command of ``afbms`` as a subprocess against a virtual board (the
firmware in CPython mode: the protocol is the same, and fast), and each of its
errors: exit code, and one line on stderr, never a traceback."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
import serial

from tests.cli.conftest import REPO, assert_fails, run_afbms

pytestmark = pytest.mark.timeout(180)

BOARD_COMMANDS = [
    ["info"],
    ["config", "get"],
    ["config", "set", "v_max=4.2V"],
    ["config", "export", "OUT.toml"],
    ["readout", "--store", "STORE.sqlite"],
    ["monitor", "--count", "1"],
    ["flash", "--board", "sim", "--dry-run"],
]


def command_args(argv: list[str], tmp_path: Path) -> list[str]:
    return [a.replace("OUT.toml", str(tmp_path / "out.toml"))
             .replace("STORE.sqlite", str(tmp_path / "store.sqlite")) for a in argv]  # fmt: skip


# ------------------------------------------------------------------ commands


def test_info_text_and_json(cpy_board):
    text = run_afbms("info", "--port", cpy_board.port)
    assert text.code == 0 and text.err == "", text.err
    assert "board         sim" in text.out and "protocol      1.0" in text.out
    as_json = run_afbms("info", "--port", cpy_board.port, "--json")
    info = json.loads(as_json.out)
    assert (info["board"], info["firmware"]) == ("sim", "0.1.0")
    assert "flash_log" in info["capabilities"]


def test_config_get_all_one_and_json(cpy_board):
    every = run_afbms("config", "get", "--port", cpy_board.port)
    assert every.code == 0 and "v_max_uv" in every.out and "sample_period_ms" in every.out
    one = run_afbms("config", "get", "v_max", "--port", cpy_board.port, "--json")
    [row] = json.loads(one.out)
    assert (row["key"], row["unit"], row["shown"]) == ("v_max_uv", "µV", "4.25 V")


def test_config_set_with_units_and_read_back(cpy_board):
    done = run_afbms("config", "set", "v_max=4.2V", "v_min=3000mV", "--port", cpy_board.port)
    assert done.code == 0, done.err
    assert "v_max_uv = 4.2 V" in done.out and "v_min_uv = 3 V" in done.out
    back = json.loads(run_afbms("config", "get", "v_max", "--port", cpy_board.port,
                                "--json").out)  # fmt: skip
    assert back[0]["value"] == 4_200_000


@pytest.mark.parametrize(
    ("assignment", "fragments"),
    [
        ("v_max=9V", ("v_max_uv = 9 V is out of range", "1.5 V .. 5 V")),
        ("no_such_key=1", ("unknown config key 'no_such_key'",)),
        ("v_max=4.2furlong", ("unit 'furlong' does not fit", "expected V")),
        ("v_max", ("expected key=value",)),
        ("v_max=four", ("v_max",)),
    ],
)
def test_config_set_invalid_value_is_refused_and_changes_nothing(cpy_board, assignment,
                                                                 fragments):  # fmt: skip
    before = run_afbms("config", "get", "--port", cpy_board.port, "--json").out
    run = run_afbms("config", "set", assignment, "--port", cpy_board.port)
    assert_fails(run, 2, "config", *fragments)
    after = run_afbms("config", "get", "--port", cpy_board.port, "--json").out
    assert json.loads(after) == json.loads(before)


def test_config_export_import_round_trip(cpy_board, tmp_path):
    saved = tmp_path / "cell.toml"
    exported = run_afbms("config", "export", str(saved), "--port", cpy_board.port)
    assert exported.code == 0 and saved.is_file(), exported.err
    assert run_afbms("config", "set", "v_max=4.1V", "--port", cpy_board.port).code == 0
    imported = run_afbms("config", "import", str(saved), "--port", cpy_board.port)
    assert imported.code == 0, imported.err
    assert "v_max_uv = 4.25 V" in imported.out and "1 changed" in imported.out


def test_config_import_errors(cpy_board, tmp_path):
    missing = run_afbms("config", "import", str(tmp_path / "nope.toml"), "--port", cpy_board.port)
    assert_fails(missing, 2, "config", "cannot read")
    bad = tmp_path / "bad.toml"
    bad.write_text("[config]\nv_max_uv = 99000000\n")
    out_of_range = run_afbms("config", "import", str(bad), "--port", cpy_board.port)
    assert_fails(out_of_range, 2, "config", "out of range")


def test_config_export_to_an_unwritable_path(cpy_board, tmp_path):
    run = run_afbms("config", "export", str(tmp_path / "no" / "such" / "dir.toml"),
                    "--port", cpy_board.port)  # fmt: skip
    assert_fails(run, 2, "config", "cannot write")


def test_config_presets_need_no_board():
    run = run_afbms("config", "presets")
    assert run.code == 0 and len(run.out.splitlines()) >= 3


def test_monitor_is_bounded_by_count_and_speaks_json(cpy_board):
    run = run_afbms("monitor", "--count", "3", "--json", "--port", cpy_board.port)
    assert run.code == 0, run.err
    lines = [json.loads(line) for line in run.out.splitlines()]
    assert len(lines) == 3 and all(line["frame"] == "telemetry" for line in lines)
    assert all(isinstance(line["voltage_uv"], int) for line in lines)


def test_monitor_by_duration_records_into_the_store(cpy_board, tmp_path):
    store = tmp_path / "live.sqlite"
    run = run_afbms("monitor", "--duration", "1.5", "--store", str(store), "--port",
                    cpy_board.port)  # fmt: skip
    assert run.code == 0, run.err
    assert run.out.splitlines()[-1].endswith("events") and store.stat().st_size > 0


def test_readout_resumes_then_export_and_plot(cpy_board, tmp_path):
    store = tmp_path / "log.sqlite"
    first = run_afbms("readout", "--store", str(store), "--port", cpy_board.port, "--json")
    assert first.code == 0 and first.err == "", first.err
    summary = json.loads(first.out)
    assert summary["new"] > 0 and summary["bad_records"] == 0
    second = json.loads(run_afbms("readout", "--store", str(store), "--port", cpy_board.port,
                                  "--json").out)  # fmt: skip
    assert second["asked_from"] >= summary["next_seq"], "resumed where the first stopped"
    text = run_afbms("readout", "--store", str(store), "--port", cpy_board.port)
    assert text.code == 0 and "new records" in text.out
    for fmt, name in (("csv", "x.csv"), ("bdf", "x.bdf.csv"), ("parquet", "x.parquet")):
        exported = run_afbms("export", "--store", str(store), "--format", fmt, "--out",
                             str(tmp_path / name))  # fmt: skip
        assert exported.code == 0 and (tmp_path / name).stat().st_size > 0, exported.err
    plotted = run_afbms("plot", "--store", str(store), "--out", str(tmp_path / "png"),
                        "--kind", "timeseries")  # fmt: skip
    assert plotted.code == 0 and list((tmp_path / "png").glob("*.png")), plotted.err
    unwritable = run_afbms("export", "--store", str(store), "--out",
                           str(tmp_path / "no" / "such" / "x.csv"))  # fmt: skip
    assert_fails(unwritable, 2, "export", "cannot write")


@pytest.mark.parametrize("command", ["readout", "monitor", "export", "plot"])
def test_corrupt_store_file(cpy_board, tmp_path, command):
    store = tmp_path / "broken.sqlite"
    store.write_bytes(b"this is not a database\n" * 50)
    args = {
        "readout": ["readout", "--store", str(store), "--port", cpy_board.port],
        "monitor": ["monitor", "--count", "1", "--store", str(store), "--port", cpy_board.port],
        "export": ["export", "--store", str(store), "--out", str(tmp_path / "x.csv")],
        "plot": ["plot", "--store", str(store), "--out", str(tmp_path / "png")],
    }[command]
    assert_fails(run_afbms(*args), 2, command, "not an afbms store")


# ------------------------------------------------------------------ port errors


@pytest.mark.parametrize("argv", BOARD_COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_no_such_port(argv, tmp_path):
    run = run_afbms(*command_args(argv, tmp_path), "--port", str(tmp_path / "ttyNONE"))
    assert_fails(run, 3, argv[0], "no such port")


@pytest.mark.parametrize("argv", BOARD_COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_busy_port(cpy_board, argv, tmp_path):
    holder = serial.Serial(cpy_board.port, exclusive=True)  # another program has it
    try:
        run = run_afbms(*command_args(argv, tmp_path), "--port", cpy_board.port)
    finally:
        holder.close()
    assert_fails(run, 3, argv[0], "is busy")
    assert run_afbms("info", "--port", cpy_board.port).code == 0, "usable once released"


@pytest.mark.parametrize("argv", [a for a in BOARD_COMMANDS if a[0] != "flash"],
                         ids=lambda a: " ".join(a[:2]))  # fmt: skip
def test_timeout_on_a_port_that_never_answers(silent_port, argv, tmp_path):
    t0 = time.monotonic()
    run = run_afbms(*command_args(argv, tmp_path), "--port", silent_port, "--timeout", "0.5")
    assert_fails(run, 4, argv[0], "no answer to HELLO within 0.5 s")
    assert time.monotonic() - t0 < 20


@pytest.mark.parametrize("argv", [a for a in BOARD_COMMANDS if a[0] != "flash"],
                         ids=lambda a: " ".join(a[:2]))  # fmt: skip
def test_other_protocol_declarations_are_refused(other_schema_peer, argv, tmp_path):
    run = run_afbms(*command_args(argv, tmp_path), "--port", other_schema_peer.port)
    assert_fails(run, 4, argv[0], "differs from this build's", "re-flash the firmware")


def test_no_board_found_without_port():
    run = run_afbms("info")  # no USB board with a MicroPython VID on a test machine
    assert_fails(run, 3, "info", "no board found")


# ------------------------------------------------------------------ flash (argument side)


def test_flash_onto_another_board_is_refused_and_leaves_it_running(cpy_board):
    run = run_afbms("flash", "--board", "esp32s3", "--port", cpy_board.port)
    assert_fails(run, 2, "flash", "runs firmware for 'sim', not 'esp32s3'", "--force")
    assert run_afbms("info", "--port", cpy_board.port).code == 0, "the firmware still runs"


def test_flash_unknown_board_name(cpy_board):
    run = run_afbms("flash", "--board", "nope", "--port", cpy_board.port)
    assert_fails(run, 2, "flash", "unknown board 'nope'", "sim")


# ------------------------------------------------------------------ progress bars


def run_on_terminal(*args: str, timeout: float = 60) -> tuple[int, bytes]:
    """Run afbms with stderr on a pty (a terminal): what a user sees on stderr."""
    master, slave = pty.openpty()
    env = {**os.environ, "TERM": "xterm", "COLUMNS": "100"}
    env.pop("NO_COLOR", None)
    proc = subprocess.Popen([sys.executable, "-m", "afbms", *args], stdout=subprocess.DEVNULL,
                            stderr=slave, cwd=REPO, env=env)  # fmt: skip
    os.close(slave)
    seen = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    seen += os.read(master, 65536)
                except OSError:
                    break
            elif proc.poll() is not None:
                break
        return proc.wait(timeout=10), seen
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        os.close(master)


def test_readout_shows_a_progress_bar_on_a_terminal_only(cpy_board, tmp_path):
    code, seen = run_on_terminal("readout", "--store", str(tmp_path / "s.sqlite"), "--port",
                                 cpy_board.port)  # fmt: skip
    assert code == 0 and b"readout" in seen and "━".encode() in seen
    piped = run_afbms("readout", "--store", str(tmp_path / "s.sqlite"), "--port", cpy_board.port)
    assert piped.err == ""  # no bar (and no stray blank line) when stderr is no terminal
