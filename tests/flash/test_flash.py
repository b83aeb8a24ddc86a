"""afbms flash against the virtual board running the real MicroPython VM: staged
upload into the inactive slot, on-device SHA-256 verification, atomic switch,
confirmation by HELLO, rollback of an image that never answers, and a board
that boots a complete image whatever instant a flash is cut."""

import random
import shutil
import threading
import time
from pathlib import Path

import pytest

from afbms.device import Device
from afbms.flash import LOADER, RawBoard, build_image, firmware_version, flash
from afbms.transport import SerialTransport
from afbms.vboard import VirtualBoard

pytestmark = pytest.mark.vm


def state(flash_dir: Path) -> list[str]:
    return (flash_dir / "fw" / "state").read_text().split()


def hello(port: str, timeout: float = 10.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        try:
            device = Device(SerialTransport(port), timeout=1.0)
            try:
                return device.hello()
            finally:
                device.close()
        except Exception:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.2)


@pytest.fixture
def board(tmp_path):
    with VirtualBoard(tmp_path / "flash", vm="micropython") as vb:
        yield vb


def test_first_flash_boots_and_confirms(board):
    report = flash(board.port, "sim", timeout=30)
    assert (report.slot, report.confirmed, report.loader_updated) == ("a", True, True)
    assert state(board.flash_dir) == ["a", "-", "0", "0"]
    info = hello(board.port)
    assert (info["fw_major"], info["fw_minor"], info["fw_patch"]) == firmware_version()


def test_same_firmware_again_writes_nothing_and_restarts_it(board):
    first = flash(board.port, "sim", timeout=30)
    again = flash(board.port, "sim", timeout=30)
    assert (again.up_to_date, again.slot, again.uploaded, again.bytes_sent) == (True, "a", [], 0)
    assert again.confirmed and again.unchanged == first.files
    assert state(board.flash_dir) == ["a", "-", "0", "0"]


def test_files_the_active_slot_holds_are_copied_on_the_board_not_sent(board):
    flash(board.port, "sim", timeout=30)
    (board.flash_dir / "fw" / "a" / "hw.mpy").write_bytes(b"M\x06stale")
    second = flash(board.port, "sim", timeout=30)
    image = build_image("sim")
    assert (second.slot, second.previous, second.up_to_date) == ("b", "a", False)
    assert second.bytes_sent == len(image["hw.mpy"]), "only the changed file crosses the link"
    for path, data in image.items():
        if path != LOADER:
            assert (board.flash_dir / "fw" / "b" / path).read_bytes() == data
    assert state(board.flash_dir) == ["b", "a", "0", "0"]
    third = flash(board.port, "sim", timeout=30)  # slot b is now this firmware: kept
    assert (third.slot, third.up_to_date, third.uploaded) == ("b", True, [])


def test_dry_run_changes_nothing(board):
    report = flash(board.port, "sim", dry_run=True, timeout=30)
    assert report.uploaded and not (board.flash_dir / "fw").exists()


def test_dry_run_and_verify_leave_the_firmware_running(board):
    flash(board.port, "sim", timeout=30)
    assert flash(board.port, "sim", dry_run=True, timeout=30).up_to_date
    hello(board.port, timeout=2)
    flash(board.port, "sim", verify_only=True, timeout=30)
    hello(board.port, timeout=2)


def test_verify_only_notices_a_changed_file(board):
    flash(board.port, "sim", timeout=30)
    assert flash(board.port, "sim", verify_only=True, timeout=30).files > 0
    (board.flash_dir / "fw" / "a" / "hw.mpy").write_bytes(b"M\x06tampered")
    with pytest.raises(Exception, match="differs"):
        flash(board.port, "sim", verify_only=True, timeout=30)


def test_image_that_never_answers_is_rolled_back_by_the_board(board):
    flash(board.port, "sim", timeout=30)
    # Stage a new image by hand and switch to it, but never say HELLO to it.
    from afbms.flash import stop_firmware

    stop_firmware(board.port, timeout=3.0)
    raw = RawBoard(board.port)
    try:
        raw.enter()
        image = build_image("sim")
        image.pop(LOADER)
        for path, data in image.items():
            raw.write(f"/fw/b/{path}", data)
        raw.switch("b", "a")
        raw.reset()
    finally:
        raw.close()
    deadline = time.monotonic() + 60
    while state(board.flash_dir)[0] != "a" and time.monotonic() < deadline:
        time.sleep(0.5)  # virtual time runs fast: the trial timeout passes in seconds
    assert state(board.flash_dir)[:3] == ["a", "b", "0"]
    hello(board.port, timeout=20)  # and the old image is back, answering


def cut_during_flash(board: VirtualBoard, delay_s: float) -> bool:
    """A full flash (every file over the link into an emptied inactive slot: the same
    firmware again would otherwise be a restart only) cut by a power cut. True when
    the cut landed while the flash was still running."""
    done = threading.Event()
    active = state(board.flash_dir)[0]
    shutil.rmtree(board.flash_dir / "fw" / ("b" if active == "a" else "a"), ignore_errors=True)

    def run():
        try:
            flash(board.port, "sim", timeout=5, full=True)
        except Exception:
            pass
        finally:
            done.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    time.sleep(delay_s)
    mid_flash = not done.is_set()
    board.power_cut()
    thread.join(timeout=60)
    assert not thread.is_alive(), "the interrupted flash did not give up"
    board.power_on()
    return mid_flash


def assert_boots_and_reflashes(board: VirtualBoard) -> None:
    hello(board.port, timeout=30)  # a complete image boots and answers
    report = flash(board.port, "sim", timeout=30)  # and a retry completes
    assert report.confirmed


@pytest.mark.parametrize(
    "delay_s",
    [0.3, pytest.param(0.1, marks=pytest.mark.slow), pytest.param(0.5, marks=pytest.mark.slow)],
)
def test_power_cut_during_flash_leaves_a_bootable_board(board, delay_s):
    flash(board.port, "sim", timeout=30)
    assert cut_during_flash(board, delay_s), "the flash had finished before the cut"
    assert_boots_and_reflashes(board)


@pytest.mark.slow
@pytest.mark.timeout(1800)  # 50 flashes cut at random instants, each followed by a reboot
def test_fifty_power_cuts_during_flash(board):
    flash(board.port, "sim", timeout=30)
    rng = random.Random(50)
    mid_flash = cuts = 0
    while mid_flash < 50 and cuts < 150:  # a full flash takes well under a second
        mid_flash += cut_during_flash(board, rng.uniform(0.02, 0.8))
        cuts += 1
        hello(board.port, timeout=30)
    assert mid_flash == 50
    assert flash(board.port, "sim", timeout=30).confirmed
