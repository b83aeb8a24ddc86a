"""mpremote, the reference MicroPython tool, works on the virtual board unchanged."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.vm, pytest.mark.timeout(180)]

MPREMOTE = Path(sys.executable).with_name("mpremote")


def mpremote(port: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(MPREMOTE), "connect", port, *args], capture_output=True, text=True, timeout=60
    )


@pytest.fixture(params=["micropython", "cpython"])
def board(request, make_board, tmp_path):
    flash = tmp_path / "flash"
    flash.mkdir()
    (flash / "main.py").write_text("print('main ran')\n")
    return make_board(flash, vm=request.param)


def test_exec(board):
    r = mpremote(board.port, "exec", "print(1+1)")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "2"


def test_eval(board):
    r = mpremote(board.port, "eval", "6*7")
    assert (r.returncode, r.stdout.strip()) == (0, "42"), r.stderr


def test_fs_cp_ls_cat_roundtrip(board, tmp_path):
    src = tmp_path / "hello.txt"
    text = "hello virtual board\n" * 40 + "λ µ °\n"
    src.write_text(text)
    r = mpremote(board.port, "fs", "cp", str(src), ":hello.txt")
    assert r.returncode == 0, r.stderr
    assert (board.flash_dir / "hello.txt").read_text() == text

    r = mpremote(board.port, "fs", "ls")
    assert r.returncode == 0, r.stderr
    sizes = {line.split()[-1]: int(line.split()[0]) for line in r.stdout.splitlines()[1:]}
    assert sizes["hello.txt"] == len(text.encode())
    assert "main.py" in sizes

    r = mpremote(board.port, "fs", "cat", ":hello.txt")
    assert r.returncode == 0, r.stderr
    assert r.stdout == text

    back = tmp_path / "back.txt"
    r = mpremote(board.port, "fs", "cp", ":hello.txt", str(back))
    assert r.returncode == 0, r.stderr
    assert back.read_text() == text


def test_fs_mkdir_rm_and_missing_file(board):
    r = mpremote(board.port, "fs", "mkdir", ":sub")
    assert r.returncode == 0, r.stderr
    assert (board.flash_dir / "sub").is_dir()
    r = mpremote(board.port, "fs", "rmdir", ":sub")
    assert r.returncode == 0, r.stderr
    r = mpremote(board.port, "fs", "cat", ":nope.txt")
    assert r.returncode != 0
    assert "No such file" in r.stderr


def test_soft_reset(board):
    r = mpremote(board.port, "exec", "x = 5", "eval", "x")
    assert (r.returncode, r.stdout.strip()) == (0, "5"), r.stderr
    # soft-reset: fresh interpreter, main.py not run (it comes back in the raw REPL)
    r = mpremote(board.port, "soft-reset", "eval", "'x' in globals()")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "False"
    assert "main ran" not in r.stdout
