"""Virtual boards for tests: started on demand, always closed, no process left behind."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import serial

from afbms import mpvm
from afbms.vboard import VirtualBoard, deploy_firmware


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is gone for our purposes (but Popen.wait reaps ours)
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


def require_vm() -> None:
    """Fail, never skip, when node or the VM is missing: `make test` installs both."""
    try:
        mpvm.node_executable()
        mpvm.micropython_module()
    except mpvm.VmUnavailable as exc:
        pytest.fail(str(exc))


@pytest.fixture
def make_board(tmp_path: Path) -> Iterator[Callable[..., VirtualBoard]]:
    """make_board(flash=None, **VirtualBoard kwargs) -> a started board. At the end every
    board is closed within bounded time and every node process it started is gone."""
    boards: list[VirtualBoard] = []

    def make(flash: Path | None = None, power: bool = True, **kw) -> VirtualBoard:
        if kw.get("vm", "micropython") == "micropython":
            require_vm()
        vb = VirtualBoard(flash if flash is not None else tmp_path / "flash", **kw)
        boards.append(vb)
        return vb.start(power=power)

    yield make
    pids = [pid for vb in boards for pid in vb.pids]
    t0 = time.monotonic()
    for vb in boards:
        vb.close()
    assert time.monotonic() - t0 < 15, "closing the boards took too long"
    left = [pid for pid in pids if pid_alive(pid)]
    assert not left, f"node processes left behind: {left}"


@pytest.fixture(scope="session")
def firmware_image_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The compiled firmware, deployed once; tests copy it (deploying is cached anyway)."""
    root = tmp_path_factory.mktemp("fw-image")
    deploy_firmware(root, compiled=True)
    return root


@pytest.fixture
def firmware_flash(tmp_path: Path, firmware_image_dir: Path) -> Path:
    """A fresh flash directory holding the deployed firmware."""
    import shutil

    flash = tmp_path / "flash"
    shutil.copytree(firmware_image_dir, flash)
    return flash


class Term:
    """A pyserial client of a board's console, with bounded waits."""

    def __init__(self, port: str) -> None:
        self.serial = serial.Serial(port, 115200, timeout=0.02)
        self.seen = b""

    def write(self, data: bytes) -> None:
        self.serial.write(data)
        self.serial.flush()

    def read_for(self, seconds: float) -> bytes:
        deadline = time.monotonic() + seconds
        out = b""
        while time.monotonic() < deadline:
            out += self.serial.read(4096)
        self.seen += out
        return out

    def read_until(self, marker: bytes, timeout: float = 10.0) -> bytes:
        deadline = time.monotonic() + timeout
        out = b""
        while marker not in out:
            if time.monotonic() > deadline:
                raise AssertionError(f"{marker!r} not seen within {timeout} s; got {out[-600:]!r}")
            out += self.serial.read(4096)
        self.seen += out
        return out

    def close(self) -> None:
        self.serial.close()


@pytest.fixture
def open_board(make_board, term_of) -> Callable[..., tuple[VirtualBoard, Term]]:
    """open_board(flash=None, **kw) -> (board, term): the client opens the port before the
    board is switched on, so it sees everything from the first byte (pyserial flushes
    pending input when it opens a port, as with a real board)."""

    def make(flash: Path | None = None, **kw) -> tuple[VirtualBoard, Term]:
        vb = make_board(flash, power=False, **kw)
        term = term_of(vb)
        vb.power_on()
        return vb, term

    return make


@pytest.fixture
def term_of() -> Iterator[Callable[[VirtualBoard], Term]]:
    terms: list[Term] = []

    def make(vb: VirtualBoard) -> Term:
        t = Term(vb.port)
        terms.append(t)
        return t

    yield make
    for t in terms:
        t.close()
