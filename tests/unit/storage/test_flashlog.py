"""bms.flashlog: batching, segments, the ring, numbering across boots, reading by seq."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bms import flashlog, storage, wire
from tests.unit.storage.powercut import REC, fields, read_all


@pytest.fixture
def folder(tmp_path: Path) -> str:
    return str(tmp_path / "log")


def make(folder: str, fs=None, batch: int = 4, seg: int = 8, segs: int = 4) -> flashlog.FlashLog:
    return flashlog.FlashLog(fs or storage.OsFs(), folder, batch, seg, segs)


def fill(log: flashlog.FlashLog, start: int, n: int) -> list[int]:
    return [log.append(*fields(i)) for i in range(start, start + n)]


def seg_files(folder: str) -> list[str]:
    return sorted(n for n in os.listdir(folder) if n.endswith(".seg"))


class CountingFs(storage.OsFs):
    """OsFs that counts writes and can make them fail."""

    def __init__(self) -> None:
        self.writes = 0
        self.fail = False

    def open(self, path, mode):
        f = super().open(path, mode)
        if "w" not in mode:
            return f
        outer = self

        class W:
            def write(self, data):
                if outer.fail:
                    raise OSError(5, "I/O error")
                outer.writes += 1
                return f.write(data)

            def flush(self):
                f.flush()

            def close(self):
                f.close()

        return W()


def test_fresh_log_is_empty(folder):
    log = make(folder)
    assert log.info() == (1, 1, 32, 0)
    assert log.read_into(0, bytearray(10 * REC), 10) == (1, 0)
    assert read_all(log) == []
    assert seg_files(folder) == ["00000001.seg"]  # this boot's segment, empty


def test_geometry_is_checked(folder):
    with pytest.raises(ValueError):
        make(folder, batch=0)
    with pytest.raises(ValueError):
        make(folder, batch=16, seg=8)
    with pytest.raises(ValueError):
        make(folder, segs=1)


def test_records_in_ram_are_readable(folder):
    log = make(folder)
    assert fill(log, 0, 3) == [1, 2, 3]
    assert log.info() == (1, 4, 32, 3)
    got = read_all(log)
    assert [r[1:] for r in got] == [fields(i) for i in range(3)]
    assert os.path.getsize(folder + "/00000001.seg") == 0


def test_full_batch_flushes_with_one_write(folder):
    fs = CountingFs()
    log = make(folder, fs=fs, batch=4)
    fill(log, 0, 4)
    assert fs.writes == 1 and log.info()[3] == 0
    assert os.path.getsize(folder + "/00000001.seg") == 4 * REC
    fill(log, 4, 2)
    assert log.flush() and fs.writes == 2
    assert log.flush() and fs.writes == 2  # nothing pending: no write
    assert [r[0] for r in read_all(log)] == list(range(1, 7))


def test_records_round_trip_through_flash(folder):
    log = make(folder, batch=4, seg=8, segs=8)
    fill(log, 0, 20)
    log.close()
    again = make(folder, batch=4, seg=8, segs=8)
    got = read_all(again)
    assert [r[0] for r in got] == list(range(1, 21))
    assert [r[1:] for r in got] == [fields(i) for i in range(20)]


def test_segments_roll_over_and_the_ring_drops_the_oldest(folder):
    log = make(folder, batch=4, seg=8, segs=4)
    fill(log, 0, 96)
    files = seg_files(folder)
    assert len(files) == 4
    assert files[0] == f"{65:08x}.seg"  # 96 records: the last 4 segments of 8 kept
    first, nxt, cap, unflushed = log.info()
    assert (first, nxt, cap, unflushed) == (65, 97, 32, 0)
    got = read_all(log)
    assert [r[0] for r in got] == list(range(65, 97))
    for name in files:
        assert os.path.getsize(os.path.join(folder, name)) == 8 * REC


def test_read_before_the_oldest_starts_at_the_oldest(folder):
    log = make(folder, batch=4, seg=8, segs=4)
    fill(log, 0, 50)
    buf = bytearray(5 * REC)
    first, n = log.read_into(3, buf, 5)
    assert (first, n) == (log.info()[0], 5)


def test_read_pages_span_segments_and_ram(folder):
    log = make(folder, batch=4, seg=8, segs=4)
    fill(log, 0, 30)  # 28 on flash, 2 in RAM
    buf = bytearray(24 * REC)
    assert log.read_into(5, buf, 24) == (5, 24)
    assert log.read_into(20, buf, 24) == (20, 11)
    assert wire.unpack_log_record(buf, 10 * REC)[0] == 30  # from RAM
    assert log.read_into(31, buf, 24) == (31, 0)
    assert log.read_into(10, bytearray(3 * REC), 24) == (10, 3)  # the buffer bounds it
    assert log.read_into(10, buf, 2) == (10, 2)


def test_numbering_continues_past_a_reboot_without_reuse(folder):
    log = make(folder, batch=4)
    seqs = fill(log, 0, 6)  # 4 flushed, 5 and 6 only in RAM (and maybe read by a host)
    del log  # power cut: the RAM batch is lost
    log = make(folder, batch=4)
    first, nxt, _, _ = log.info()
    assert first == 1 and nxt > max(seqs)
    assert nxt == 5 + 4  # highest slot on flash + 1, plus one batch
    assert [r[0] for r in read_all(log)] == [1, 2, 3, 4]
    more = fill(log, 6, 4)
    assert more == [9, 10, 11, 12]
    # a gap ends a page; the next read continues after it
    buf = bytearray(24 * REC)
    assert log.read_into(0, buf, 24) == (1, 4)
    assert log.read_into(5, buf, 24) == (9, 4)


def test_reboot_without_any_flush_still_never_reuses(folder):
    log = make(folder, batch=4)
    fill(log, 0, 3)  # nothing flushed
    del log
    log = make(folder, batch=4)
    assert log.info()[1] == 1 + 4  # the empty segment of the last boot kept the bound
    fill(log, 0, 2)
    del log
    log = make(folder, batch=4)
    assert log.info()[1] == 5 + 4
    assert len(seg_files(folder)) == 1  # empty segments of earlier boots are removed


def test_every_boot_starts_a_new_segment(folder):
    for boot in range(3):
        log = make(folder, batch=4, seg=8, segs=8)
        fill(log, 10 * boot, 5)
        log.close()
    assert len(seg_files(folder)) == 3
    log = make(folder, batch=4, seg=8, segs=8)
    assert len(read_all(log)) == 15


def test_the_ring_counts_segments_not_boots(folder):
    # an empty segment at start-up does not push out a segment with data
    log = make(folder, batch=4, seg=8, segs=3)
    fill(log, 0, 24)
    log.close()
    log = make(folder, batch=4, seg=8, segs=3)
    assert [r[0] for r in read_all(log)][:1] == [1]
    fill(log, 0, 1)
    log.flush()
    assert read_all(log)[0][0] == 9  # now the oldest went


def test_torn_tail_is_skipped_and_appends_stay_aligned(folder):
    log = make(folder, batch=4, seg=8, segs=8)
    fill(log, 0, 8)
    log.close()
    path = Path(folder) / "00000001.seg"
    raw = path.read_bytes()
    path.write_bytes(raw[: 6 * REC + 17])  # the last batch torn in its 3rd record
    log = make(folder, batch=4, seg=8, segs=8)
    assert [r[0] for r in read_all(log)] == [1, 2, 3, 4, 5, 6]
    new = fill(log, 8, 4)
    assert new[0] > 8
    assert [r[0] for r in read_all(log)] == [1, 2, 3, 4, 5, 6, *new]
    newest = seg_files(folder)[-1]
    assert os.path.getsize(os.path.join(folder, newest)) % REC == 0


def test_corrupt_record_is_never_served(folder):
    log = make(folder, batch=4, seg=16, segs=8)
    fill(log, 0, 12)
    log.close()
    path = Path(folder) / "00000001.seg"
    raw = bytearray(path.read_bytes())
    raw[5 * REC + 20] ^= 0x10  # record 6: bad CRC
    raw[8 * REC : 8 * REC + 4] = (77).to_bytes(4, "little")  # record 9: wrong seq
    raw[8 * REC + 38 : 8 * REC + 40] = wire.crc16(raw, 8 * REC, 8 * REC + 38, 0xFFFF).to_bytes(
        2, "little"
    )  # ... with a valid CRC
    path.write_bytes(raw)
    log = make(folder, batch=4, seg=16, segs=8)
    buf = bytearray(24 * REC)
    assert log.read_into(0, buf, 24) == (1, 5)
    assert log.read_into(6, buf, 24) == (7, 2)  # 6 skipped, page ends before 9
    assert log.read_into(9, buf, 24) == (10, 3)
    assert [r[0] for r in read_all(log)] == [1, 2, 3, 4, 5, 7, 8, 10, 11, 12]


def test_foreign_files_are_ignored(folder):
    log = make(folder)
    fill(log, 0, 4)
    log.close()
    for name in ("notes.txt", "zzzzzzzz.seg", "00000001.seg.bak", "1.seg"):
        Path(folder, name).write_bytes(b"x" * 40)
    log = make(folder)
    assert [r[0] for r in read_all(log)] == [1, 2, 3, 4]


def test_failed_flush_sets_the_error_and_moves_on(folder):
    fs = CountingFs()
    log = make(folder, fs=fs, batch=4, seg=8, segs=8)
    fill(log, 0, 4)
    fs.fail = True
    fill(log, 4, 4)  # the auto-flush fails: batch dropped
    assert log.error and log.errors == 1 and log.lost == 4
    assert log.info()[3] == 0
    fs.fail = False
    fill(log, 8, 4)
    assert log.errors == 1
    got = [r[0] for r in read_all(log)]
    assert got == [1, 2, 3, 4, 9, 10, 11, 12]  # 5..8 lost, never reused
    assert len(seg_files(folder)) == 2  # the numbering gap started a new segment


def test_flush_failure_at_boot_is_retried(folder):
    fs = CountingFs()
    real_open = fs.open
    calls = {"n": 0}

    def failing_open(path, mode):
        calls["n"] += 1
        if calls["n"] == 1 and "w" in mode:
            raise OSError(28, "no space")
        return real_open(path, mode)

    fs.open = failing_open  # type: ignore[method-assign]
    log = make(folder, fs=fs)
    assert log.error
    fill(log, 0, 4)
    assert [r[0] for r in read_all(log)] == [1, 2, 3, 4]


def test_long_run_small_ints(folder):
    # sequence numbers stay small ints on the board for decades at 1 record/s
    log = make(folder, batch=8, seg=64, segs=4)
    fill(log, 0, 1000)
    first, nxt, cap, _ = log.info()
    assert nxt == 1001 and cap == 256 and nxt < 2**30
    assert len(read_all(log)) == nxt - first


def test_read_into_a_memoryview_of_a_frame_buffer(folder):
    # the link hands a memoryview into its frame buffer: no copy later
    log = make(folder, batch=4, seg=8, segs=4)
    fill(log, 0, 10)  # 8 on flash, 2 in RAM
    frame = bytearray(7 + 24 * REC)
    page = memoryview(frame)[7:]
    assert log.read_into(3, page, 24) == (3, 8)
    assert wire.unpack_log_record(frame, 7)[0] == 3
    assert wire.unpack_log_record(frame, 7 + 7 * REC)[0] == 10
    assert all(wire.log_record_ok(frame, 7 + i * REC) for i in range(8))
