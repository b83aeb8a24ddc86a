"""The virtual board's console behaves like a MicroPython board's USB serial port."""

from __future__ import annotations

import os
import time

import pytest

pytestmark = [pytest.mark.vm, pytest.mark.timeout(120)]

BANNER_END = b'Type "help()" for more information.\r\n>>> '
RAW_PROMPT = b"raw REPL; CTRL-B to exit\r\n>"


def test_pyserial_sees_boot_then_banner(open_board, tmp_path):
    flash = tmp_path / "flash"
    flash.mkdir()
    (flash / "boot.py").write_text("print('boot ran')\n")
    (flash / "main.py").write_text("print('main ran')\n")
    vb, term = open_board(flash)
    out = term.read_until(BANNER_END)
    assert out.index(b"boot ran") < out.index(b"main ran") < out.index(b"MicroPython v1.27.0")
    assert vb.port.startswith("/dev/")


def test_friendly_repl_evaluates(open_board):
    _, term = open_board()
    term.read_until(BANNER_END)
    term.write(b"6*7\r")
    assert term.read_until(b">>> ") == b"6*7\r\n42\n>>> "


def test_raw_repl_and_raw_paste_refused(open_board):
    _, term = open_board()
    term.read_until(BANNER_END)
    term.write(b"\r\x01")
    term.read_until(RAW_PROMPT)
    term.write(b"\x05A\x01")  # raw-paste request: "not supported", still in raw REPL
    assert term.read_until(b"R\x00") == b"R\x00"
    term.write(b"print('raw', 2+3)\x04")
    assert term.read_until(b"\x04>") == b"OKraw 5\n\x04\x04>"
    term.write(b"\x02")  # back to the friendly REPL
    term.read_until(BANNER_END)


def test_ctrl_c_interrupts_a_running_loop(open_board):
    _, term = open_board()
    term.read_until(BANNER_END)
    term.write(b"import time\rwhile True: time.sleep_ms(10)\r\r")
    time.sleep(0.5)
    term.write(b"\x03")
    out = term.read_until(b">>> ", timeout=10)
    assert b"KeyboardInterrupt" in out


def test_ctrl_c_ignored_when_disabled(open_board):
    # As on a board, the REPL re-enables Ctrl-C for each execution: disable it inside.
    _, term = open_board()
    term.read_until(BANNER_END)
    term.write(b"\r\x01")
    term.read_until(RAW_PROMPT)
    term.write(
        b"import micropython, time\nmicropython.kbd_intr(-1)\n"
        b"for i in range(60): time.sleep_ms(10)\nprint('done', i)\x04"
    )
    time.sleep(0.15)
    term.write(b"\x03")
    out = term.read_until(b"\x04>", timeout=10)
    assert out == b"OKdone 59\n\x04\x04>"


def test_soft_reboot_runs_main_again(open_board, tmp_path):
    flash = tmp_path / "flash"
    flash.mkdir()
    (flash / "main.py").write_text("print('main ran')\n")
    _, term = open_board(flash)
    term.read_until(BANNER_END)
    term.write(b"x = 1\r")
    term.read_until(b">>> ")
    term.write(b"\x04")
    out = term.read_until(BANNER_END)
    assert out.startswith(b"\r\nMPY: soft reboot\r\nmain ran\n")
    term.write(b"'x' in globals()\r")
    assert b"False" in term.read_until(b">>> ")  # a fresh interpreter


def test_soft_reboot_from_raw_repl_stays_raw_and_skips_main(open_board, tmp_path):
    flash = tmp_path / "flash"
    flash.mkdir()
    (flash / "boot.py").write_text("print('boot ran')\n")
    (flash / "main.py").write_text("print('main ran')\n")
    _, term = open_board(flash)
    term.read_until(BANNER_END)
    term.write(b"\r\x01")
    term.read_until(RAW_PROMPT)
    term.write(b"\x04")
    out = term.read_until(RAW_PROMPT)
    assert out == b"OK\r\nMPY: soft reboot\r\nboot ran\n" + RAW_PROMPT


def test_stdin_reaches_a_running_program(open_board):
    _, term = open_board()
    term.read_until(BANNER_END)
    term.write(b"import sys; data = sys.stdin.buffer.read(5); print('got', data)\r")
    time.sleep(0.3)
    term.write(b"hello")
    assert b"got b'hello'" in term.read_until(b">>> ")


def test_files_persist_across_a_power_cycle(open_board, tmp_path):
    vb, term = open_board()
    term.read_until(BANNER_END)
    term.write(b"f = open('keep.txt', 'w'); f.write('kept'); f.close()\r")
    term.read_until(b">>> ")
    term.write(b"import os; os.mkdir('d'); os.rename('keep.txt', 'd/k.txt'); os.listdir('d')\r")
    assert b"['k.txt']" in term.read_until(b">>> ")
    assert (tmp_path / "flash" / "d" / "k.txt").read_text() == "kept"
    vb.hard_reset()
    term.read_until(BANNER_END)
    term.write(b"import os; open('d/k.txt').read(), os.stat('d/k.txt')[6]\r")
    assert b"('kept', 4)" in term.read_until(b">>> ")
    term.write(b"import os; os.remove('d/k.txt'); os.rmdir('d'); os.listdir()\r")
    assert b"[]" in term.read_until(b">>> ")


def test_rename_with_absolute_paths_and_another_cwd(open_board, tmp_path):
    _, term = open_board()
    term.read_until(BANNER_END)
    term.write(b"import os; os.mkdir('/a'); open('/a/x.new', 'w').close(); os.chdir('/a')\r")
    term.read_until(b">>> ")
    term.write(b"os.rename('/a/x.new', '/a/x'); os.rename('x', '../y')\r")
    term.read_until(b">>> ")
    term.write(b"os.getcwd(), os.listdir('/')\r")
    assert b"('/a', ['a', 'y'])" in term.read_until(b">>> ")
    assert (tmp_path / "flash" / "y").is_file()


def test_missing_file_raises_enoent(open_board):
    _, term = open_board()
    term.read_until(BANNER_END)
    term.write(b"import errno\r")
    term.read_until(b">>> ")
    term.write(b"try:\r open('nope')\rexcept OSError as e:\r print(e.errno == errno.ENOENT)\r\r")
    assert b"True" in term.read_until(b">>> ")


def test_machine_reset_restarts_with_hard_reset_cause(open_board):
    vb, term = open_board()
    term.read_until(BANNER_END)
    term.write(b"import machine; machine.reset_cause() == machine.PWRON_RESET\r")
    assert b"True" in term.read_until(b">>> ")
    term.write(b"machine.reset()\r")
    term.read_until(BANNER_END)
    term.write(b"import machine; machine.reset_cause() == machine.HARD_RESET\r")
    assert b"True" in term.read_until(b">>> ")
    assert len(vb.pids) == 1  # the same node process: the board restarted inside it


def test_power_cut_kills_only_our_process_and_power_on_boots_again(open_board):
    vb, term = open_board()
    term.read_until(BANNER_END)
    pid = vb.pid
    vb.power_cut()
    assert not vb.powered and vb.pid is None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    vb.power_on()
    term.read_until(BANNER_END)
    assert vb.pid != pid and len(vb.pids) == 2


def test_baud_limits_the_byte_rate(open_board):
    _, term = open_board(baud=9600)
    term.read_until(BANNER_END)
    term.write(b"print('x' * 1999)\r")
    t0 = time.monotonic()
    term.read_until(b"x" * 1999 + b"\n>>> ")
    elapsed = time.monotonic() - t0
    assert elapsed > 1.5  # 2000+ bytes at 960 bytes/s
