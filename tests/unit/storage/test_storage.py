"""bms.storage: the CRC-checked container and the atomic write with .new recovery."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pytest

from bms import storage
from tests.unit.storage.powercut import PowerCut, PowerCutFs

OLD = b"old payload \x00\x01\x02"
NEW = b"the new payload, longer than the old one" * 3


def test_container_round_trip():
    buf = storage.pack(7, b"abc")
    assert bytes(buf[:4]) == storage.MAGIC
    assert len(buf) == 3 + storage.OVERHEAD
    assert storage.unpack(buf) == (7, b"abc")
    assert storage.unpack(storage.pack(0, b"")) == (0, b"")


def test_every_truncation_is_detected():
    buf = bytes(storage.pack(1, NEW))
    for n in range(len(buf)):
        assert storage.unpack(buf[:n]) is None, n


def test_padding_is_detected():
    buf = bytes(storage.pack(1, NEW))
    assert storage.unpack(buf + b"\x00") is None
    assert storage.unpack(buf + b"\xff" * 40) is None


def test_every_single_bit_flip_is_detected():
    buf = bytes(storage.pack(3, NEW))
    for i in range(len(buf)):
        for bit in range(8):
            bad = bytearray(buf)
            bad[i] ^= 1 << bit
            assert storage.unpack(bad) is None, (i, bit)


def test_write_then_read(tmp_path: Path):
    fs = storage.OsFs()
    path = str(tmp_path / "f.bin")
    assert storage.read_versioned(fs, path) is None
    storage.write_atomic(fs, path, OLD, 2)
    assert storage.read_versioned(fs, path) == (2, OLD)
    storage.write_atomic(fs, path, NEW, 3)
    assert storage.read_versioned(fs, path) == (3, NEW)
    assert storage.read_checked(fs, path) == NEW
    assert storage.read_checked(fs, path + "x") is None
    assert not os.path.exists(path + ".new")


def test_corrupt_file_raises(tmp_path: Path):
    fs = storage.OsFs()
    path = tmp_path / "f.bin"
    storage.write_atomic(fs, str(path), OLD, 1)
    raw = bytearray(path.read_bytes())
    raw[12] ^= 0x40
    path.write_bytes(raw)
    with pytest.raises(storage.CorruptFile):
        storage.read_versioned(fs, str(path))
    with pytest.raises(storage.CorruptFile):
        storage.read_checked(fs, str(path))


def test_valid_new_replaces_corrupt_file(tmp_path: Path):
    fs = storage.OsFs()
    path = tmp_path / "f.bin"
    path.write_bytes(b"garbage")
    Path(str(path) + ".new").write_bytes(storage.pack(4, NEW))
    assert storage.read_versioned(fs, str(path)) == (4, NEW)
    assert path.read_bytes() == storage.pack(4, NEW)  # committed
    assert not os.path.exists(str(path) + ".new")


def test_valid_new_without_file_is_committed(tmp_path: Path):
    fs = storage.OsFs()
    path = tmp_path / "f.bin"
    Path(str(path) + ".new").write_bytes(storage.pack(4, NEW))
    assert storage.read_versioned(fs, str(path)) == (4, NEW)
    assert path.exists()


def test_stale_new_next_to_valid_file_is_dropped(tmp_path: Path):
    fs = storage.OsFs()
    path = tmp_path / "f.bin"
    storage.write_atomic(fs, str(path), OLD, 1)
    Path(str(path) + ".new").write_bytes(storage.pack(1, NEW)[:-5])  # torn
    assert storage.read_versioned(fs, str(path)) == (1, OLD)
    assert not os.path.exists(str(path) + ".new")


def test_torn_first_write_is_no_file(tmp_path: Path):
    fs = storage.OsFs()
    path = tmp_path / "f.bin"
    Path(str(path) + ".new").write_bytes(storage.pack(1, NEW)[:9])
    assert storage.read_versioned(fs, str(path)) is None
    assert not os.path.exists(str(path) + ".new")


def test_makedirs_and_size(tmp_path: Path):
    fs = storage.OsFs()
    folder = str(tmp_path / "a" / "b" / "c")
    storage.makedirs(fs, folder)
    storage.makedirs(fs, folder)  # twice is fine
    assert storage.exists(fs, folder)
    assert storage.size(fs, folder + "/none") == -1
    storage.write_atomic(fs, folder + "/x", b"12345", 0)
    assert storage.size(fs, folder + "/x") == 5 + storage.OVERHEAD


@pytest.mark.parametrize("replaces", [True, False], ids=["rename-replaces", "remove-then-rename"])
def test_power_cut_at_every_tick_of_a_replace(tmp_path: Path, replaces: bool):
    path = str(tmp_path / "f.bin")

    def prepare() -> None:
        for p in (path, path + ".new"):
            if os.path.exists(p):
                os.remove(p)
        storage.write_atomic(storage.OsFs(), path, OLD, 1)

    def run(fs: PowerCutFs) -> None:
        storage.write_atomic(fs, path, NEW, 2)

    prepare()
    ticks = _ticks(run, replaces)
    assert ticks > len(NEW) + storage.OVERHEAD  # every byte and the metadata ops
    seen = set()
    for t in range(ticks + 1):
        prepare()
        fs = PowerCutFs(t, rename_replaces=replaces)
        with contextlib.suppress(PowerCut):
            run(fs)
        got = storage.read_versioned(PowerCutFs(None, rename_replaces=replaces), path)
        assert got in ((1, OLD), (2, NEW)), t
        seen.add(got)
        # and the recovered state reads the same again
        assert storage.read_versioned(storage.OsFs(), path) == got
    assert seen == {(1, OLD), (2, NEW)}


def _ticks(run, replaces: bool) -> int:
    fs = PowerCutFs(None, rename_replaces=replaces)
    run(fs)
    return fs.ticks
