"""A file-system test double that cuts the power at a chosen instant.

``PowerCutFs`` offers the firmware's ``fs`` interface (MicroPython ``os`` subset
plus ``open``) over a real folder. Every operation that changes the disk costs
ticks: one per byte written, one per open-for-write (which creates or
truncates), rename, remove and mkdir. With a ``budget`` of N ticks, the
operation that would spend tick N+1 is cut: a write puts only the bytes that
fit on disk (the file is truncated at that byte, as a torn flash write), any
other operation does not happen; then ``PowerCut`` is raised and every later
call raises it too (the board is off). Cutting at budget t for every t from 0
to the total ticks of a run therefore tries every byte of every write and
every instant between a write and a rename or remove.

``PowerCut`` derives from BaseException so the firmware's ``except OSError``
(or any ``except Exception``) cannot swallow it.

Also the flash-log helpers the tests share: ``fields(i)`` (deterministic
record contents) and ``read_all(log)`` (read a whole log back by LOG_READ pages).
"""

from __future__ import annotations

import errno
import os
from typing import Any

from bms import flashlog, wire


class PowerCut(BaseException):
    """The power went off."""


class _CutFile:
    def __init__(self, fs: PowerCutFs, raw: Any, writable: bool) -> None:
        self._fs = fs
        self._raw = raw
        self._writable = writable

    def write(self, data: Any) -> int:
        fs = self._fs
        fs._alive()
        data = bytes(data)
        allowed = fs._spend(len(data))
        self._raw.write(data[:allowed])
        self._raw.flush()
        if allowed < len(data):
            fs._die()
        return len(data)

    def flush(self) -> None:
        self._fs._alive()
        self._raw.flush()

    def read(self, n: int = -1) -> bytes:
        self._fs._alive()
        return self._raw.read(n)

    def readinto(self, buf: Any) -> int:
        self._fs._alive()
        return self._raw.readinto(buf)

    def seek(self, off: int, whence: int = 0) -> int:
        self._fs._alive()
        return self._raw.seek(off, whence)

    def close(self) -> None:
        # Closing writes nothing more: everything was written through.
        self._raw.close()

    def __enter__(self) -> _CutFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class PowerCutFs:
    """The firmware ``fs`` over real paths, cut after ``budget`` ticks (None: never).

    ``ticks`` counts what was spent; ``ops`` logs the operations (for messages).
    ``rename_replaces=False`` behaves like a file system whose rename refuses an
    existing target (EEXIST), to exercise the remove-then-rename fallback.
    """

    def __init__(self, budget: int | None = None, *, rename_replaces: bool = True) -> None:
        self.budget = budget
        self.ticks = 0
        self.dead = False
        self.rename_replaces = rename_replaces
        self.ops: list[tuple[str, str]] = []

    # -- budget -------------------------------------------------------------

    def _alive(self) -> None:
        if self.dead:
            raise PowerCut("the board is off")

    def _die(self) -> None:
        self.dead = True
        raise PowerCut(f"power cut at tick {self.ticks}")

    def _spend(self, n: int) -> int:
        """Spend up to n ticks; return how many fit in the budget."""
        if self.budget is None:
            self.ticks += n
            return n
        allowed = max(0, min(n, self.budget - self.ticks))
        self.ticks += allowed
        return allowed

    def _op(self, name: str, path: str) -> None:
        self._alive()
        if self._spend(1) < 1:
            self._die()
        self.ops.append((name, path))

    # -- the fs interface -----------------------------------------------------

    def open(self, path: str, mode: str) -> _CutFile:
        self._alive()
        writable = any(c in mode for c in "wax+")
        if writable:
            self._op("open:" + mode, path)
            raw = open(path, mode if "b" in mode else mode + "b", buffering=0)  # noqa: SIM115
        else:
            raw = open(path, mode if "b" in mode else mode + "b")  # noqa: SIM115
        return _CutFile(self, raw, writable)

    def rename(self, a: str, b: str) -> None:
        self._alive()
        if not self.rename_replaces and os.path.exists(b):
            raise OSError(errno.EEXIST, "rename onto an existing file", b)
        self._op("rename", a)
        os.replace(a, b)

    def remove(self, path: str) -> None:
        self._alive()
        if not os.path.exists(path):
            raise OSError(errno.ENOENT, "no such file", path)
        self._op("remove", path)
        os.remove(path)

    def mkdir(self, path: str) -> None:
        self._alive()
        if os.path.exists(path):
            raise OSError(errno.EEXIST, "exists", path)
        self._op("mkdir", path)
        os.mkdir(path)

    def stat(self, path: str) -> os.stat_result:
        self._alive()
        return os.stat(path)

    def listdir(self, path: str) -> list[str]:
        self._alive()
        return os.listdir(path)

    def sync(self) -> None:
        self._alive()


def total_ticks(run: Any) -> int:
    """Ticks a complete ``run(fs)`` spends with no cut."""
    fs = PowerCutFs(None)
    run(fs)
    return fs.ticks


# -- flash-log helpers ----------------------------------------------------------

REC = wire.LOG_RECORD_SIZE


def fields(i: int) -> tuple[int, ...]:
    """Deterministic append() arguments for the i-th record of a session."""
    return (
        800_000_000 + i,  # t_s
        (i * 37) % 1000,  # t_ms
        wire.LOG_SAMPLE if i % 5 else wire.LOG_EVENT,  # kind
        i % 7,  # code
        i % 65_536,  # aux
        (i * 13) % 2**17,  # faults
        3_900_000 + i,  # v0 µV
        -1_570 * (i % 9),  # v1 µA
        5_000_000 - i,  # v2 Pa
        25_000 + i % 100,  # v3 m°C
        -i,  # v4
    )


def read_all(log: flashlog.FlashLog, page: int = wire.LOG_PAGE_RECORDS):
    """Every record served by read_into, paging like LOG_READ: [(seq, fields...)]."""
    buf = bytearray(page * REC)
    out = []
    seq = 0
    while True:
        first, n = log.read_into(seq, buf, page)
        if n == 0:
            assert first == log.info()[1]
            return out
        assert first >= seq
        for i in range(n):
            assert wire.log_record_ok(buf, i * REC)
            rec = wire.unpack_log_record(buf, i * REC)
            assert rec[0] == first + i
            out.append(rec)
        seq = first + n
