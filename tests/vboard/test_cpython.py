"""CPython mode: the same console behaviour, the firmware isolated from this process."""

from __future__ import annotations

import sys
import time

import pytest

pytestmark = pytest.mark.timeout(120)

BANNER_END = b'Type "help()" for more information.\r\n>>> '
RAW_PROMPT = b"raw REPL; CTRL-B to exit\r\n>"


def test_repl_raw_repl_and_soft_reboot(open_board, tmp_path):
    flash = tmp_path / "flash"
    flash.mkdir()
    (flash / "boot.py").write_text("print('boot ran')\n")
    (flash / "main.py").write_text("print('main ran')\nx = 1\n")
    _, term = open_board(flash, vm="cpython")
    out = term.read_until(BANNER_END)
    assert out.index(b"boot ran") < out.index(b"main ran")
    term.write(b"x + 41\r")
    assert term.read_until(b">>> ") == b"x + 41\r\n42\n>>> "
    term.write(b"\x04")
    assert term.read_until(BANNER_END).startswith(b"\r\nMPY: soft reboot\r\nboot ran\nmain ran\n")
    term.write(b"\r\x01")
    term.read_until(RAW_PROMPT)
    term.write(b"\x05A\x01")
    assert term.read_until(b"R\x00") == b"R\x00"
    term.write(b"print(1/0)\x04")
    out = term.read_until(b"\x04>")
    assert out.startswith(b"OK\x04Traceback") and b"ZeroDivisionError" in out
    term.write(b"\x04")
    assert term.read_until(RAW_PROMPT) == b"OK\r\nMPY: soft reboot\r\nboot ran\n" + RAW_PROMPT


def test_ctrl_c_interrupts_a_loop(open_board):
    _, term = open_board(vm="cpython")
    term.read_until(BANNER_END)
    term.write(b"while True: pass\r\r")
    time.sleep(0.3)
    term.write(b"\x03")
    assert b"KeyboardInterrupt" in term.read_until(b">>> ")


def test_firmware_stays_out_of_this_process(make_board, firmware_flash):
    before = set(sys.modules)
    vb = make_board(firmware_flash, vm="cpython")
    deadline = time.monotonic() + 10
    while not vb.plant.charge_enabled and time.monotonic() < deadline:
        time.sleep(0.01)
    assert vb.plant.charge_enabled  # the firmware runs
    added = set(sys.modules) - before
    assert not {"machine", "micropython", "board", "hw", "main"} & added
    assert not any(m == "bms" or m.startswith(("bms.", "drivers")) for m in added)


def test_power_cut_stops_the_board_thread(make_board, firmware_flash):
    import threading

    vb = make_board(firmware_flash, vm="cpython")
    time.sleep(0.3)
    vb.power_cut()
    assert not vb.powered
    assert not [t for t in threading.enumerate() if t.name.startswith("vboard-cpy")]
    vb.power_on()
    assert vb.powered
