"""``afbms flash`` as a subprocess onto a virtual board running the real MicroPython
VM (flashing is where the VM's raw REPL and file system matter)."""

from __future__ import annotations

import json

import pytest

from tests.cli.conftest import assert_fails, run_afbms

pytestmark = [pytest.mark.vm, pytest.mark.timeout(300)]


@pytest.fixture
def vm_board(make_board, tmp_path):
    flash = tmp_path / "blank"
    flash.mkdir()
    return make_board(flash, vm="micropython")


def test_flash_dry_run_verify_and_again(vm_board):
    port = vm_board.port
    dry = run_afbms("flash", "--board", "sim", "--dry-run", "--port", port)
    assert dry.code == 0 and "would upload 23 of 23 files to slot a" in dry.out, dry.err
    assert not (vm_board.flash_dir / "fw").exists()

    not_yet = run_afbms("flash", "--board", "sim", "--verify-only", "--port", port)
    assert_fails(not_yet, 4, "flash", "no firmware image on the board to verify")

    full = run_afbms("flash", "--board", "sim", "--port", port, "--json", timeout=120)
    assert full.code == 0 and full.err == "", full.err
    report = json.loads(full.out)
    assert (report["slot"], report["confirmed"], len(report["uploaded"])) == ("a", True, 23)

    verified = run_afbms("flash", "--board", "sim", "--verify-only", "--port", port)
    assert verified.code == 0 and "slot a: all 23 files match" in verified.out, verified.err
    assert run_afbms("info", "--port", port).code == 0, "verify restarted the firmware"

    again = run_afbms("flash", "--board", "sim", "--port", port, timeout=120)
    assert again.code == 0 and "slot a already holds this firmware" in again.out, again.err

    (vm_board.flash_dir / "fw" / "a" / "hw.mpy").write_bytes(b"M\x06tampered")
    tampered = run_afbms("flash", "--board", "sim", "--verify-only", "--port", port)
    assert_fails(tampered, 4, "flash", "slot a differs from this firmware: 1 files changed")
    repaired = run_afbms("flash", "--board", "sim", "--port", port, timeout=120)
    assert repaired.code == 0 and "flashed slot b (1 files uploaded" in repaired.out, repaired.err


def test_flash_force_onto_another_board_definition(vm_board):
    port = vm_board.port
    assert run_afbms("flash", "--board", "sim", "--port", port, timeout=120).code == 0
    refused = run_afbms("flash", "--board", "pico", "--port", port)
    assert_fails(refused, 2, "flash", "runs firmware for 'sim', not 'pico'")
    assert run_afbms("info", "--port", port).code == 0
