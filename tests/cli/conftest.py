"""The ``afbms`` command run as a subprocess against virtual boards and test doubles.

Every run is bounded in time; every board, pty and thread is closed at the end.
"""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import threading
import tty
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from afbms.protocol.enums import FrameFlag, MsgType
from afbms.protocol.frame import FrameReader, encode_frame
from afbms.protocol.schema import SCHEMA_HASH
from afbms.protocol.version import PROTOCOL_VERSION
from afbms.vboard import VirtualBoard
from tests.vboard.conftest import firmware_flash, firmware_image_dir, make_board  # noqa: F401

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Run:
    code: int
    out: str
    err: str

    @property
    def err_lines(self) -> list[str]:
        return self.err.splitlines()


def run_afbms(*args: str, timeout: float = 60, env: dict[str, str] | None = None) -> Run:
    """``python -m afbms ARGS`` in the repository, output captured."""
    proc = subprocess.run(
        [sys.executable, "-m", "afbms", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        env=env,
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    return Run(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture
def afbms() -> Callable[..., Run]:
    return run_afbms


def assert_fails(run: Run, code: int, command: str, *fragments: str) -> None:
    """Exit ``code`` and exactly one line on stderr, ``afbms <command>: ...``."""
    assert run.code == code, (run.code, run.err)
    assert len(run.err_lines) == 1, run.err
    line = run.err_lines[0]
    assert line.startswith(f"afbms {command}: "), line
    for fragment in fragments:
        assert fragment in line, line


@pytest.fixture
def cpy_board(make_board, firmware_flash) -> VirtualBoard:  # noqa: F811
    """The firmware in CPython mode (fast), at real speed so its log grows slowly."""
    return make_board(firmware_flash, vm="cpython", speed=50.0)


@pytest.fixture
def silent_port() -> Iterator[str]:
    """A pty nobody answers on (a port with no firmware behind it)."""
    master, slave = pty.openpty()
    tty.setraw(slave)
    try:
        yield os.ttyname(slave)
    finally:
        os.close(slave)
        os.close(master)


class FakePeer:
    """Answers HELLO on a pty with an INFO of other protocol declarations."""

    def __init__(self, schema_hash: int) -> None:
        self.schema_hash = schema_hash
        self.master, self.slave = pty.openpty()
        tty.setraw(self.slave)
        self.port = os.ttyname(self.slave)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        import select

        reader = FrameReader()
        while not self._stop.is_set():
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if not ready:
                continue
            try:
                data = os.read(self.master, 4096)
            except OSError:
                return
            for frame in reader.feed(data):
                if frame.msg_type != MsgType.HELLO:
                    continue
                info = {
                    "device_id": bytes(8), "fw_major": 0, "fw_minor": 1, "fw_patch": 0,
                    "board": "sim", "protocol_version": PROTOCOL_VERSION,
                    "schema_hash": self.schema_hash, "capabilities": 0, "log_record_size": 40,
                    "max_payload": 965, "uptime_s": 1,
                }  # fmt: skip
                os.write(self.master, encode_frame(MsgType.INFO, info, seq=frame.seq,
                                                   flags=FrameFlag.RESPONSE))  # fmt: skip

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        os.close(self.slave)
        os.close(self.master)


@pytest.fixture
def other_schema_peer() -> Iterator[FakePeer]:
    peer = FakePeer(SCHEMA_HASH ^ 0x5A5A5A5A)
    try:
        yield peer
    finally:
        peer.close()
