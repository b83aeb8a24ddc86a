"""Power cuts at random instants of a long logging session.

The session: several boots, each opening the log, appending records (batches
auto-flush, some explicit flushes), rolling segments over and pruning the
ring, then closing. A cut at tick t (any byte of any write, any open, rename
or remove) stops it; the log is reopened and read back by LOG_READ pages.

Checked after each cut: no record is served that was not appended with
exactly that content (CRC and seq checks), sequence numbers strictly
increase, nothing is missing in the middle, the records lost at the tail are
at most one batch (the unflushed batch, including the torn write), and after
the reboot new records are numbered above every number handed out before.
"""

from __future__ import annotations

import contextlib
import random
import shutil
import sys
from pathlib import Path

import pytest

from bms import flashlog, storage
from tests.unit.storage.powercut import PowerCut, PowerCutFs, fields, read_all

BATCH = 8
SEG = 32
SEGS = 4  # capacity 128 records: the session prunes the ring many times
BOOTS = ((150, 37), (90, 0), (7, 0), (160, 50))  # (records, explicit flush every n)


class Session:
    """Runs the session on an fs; remembers what it appended."""

    def __init__(self, folder: str) -> None:
        self.folder = folder
        self.attempted: dict[int, tuple[int, ...]] = {}  # seq -> fields, packed
        self.acked: set[int] = set()  # append() returned
        self.flushed_upto = 0  # every acked seq <= this was flushed

    def run(self, fs) -> None:
        i = 0
        for records, every in BOOTS:
            log = flashlog.FlashLog(fs, self.folder, BATCH, SEG, SEGS)
            for _ in range(records):
                f = fields(i)
                self.attempted[log.next_seq] = f
                seq = log.append(*f)
                self.acked.add(seq)
                i += 1
                if every and i % every == 0:
                    assert log.flush()
            assert log.close()


def _total_ticks(folder: str) -> tuple[int, Session]:
    shutil.rmtree(folder, ignore_errors=True)
    fs = PowerCutFs(None)
    s = Session(folder)
    s.run(fs)
    return fs.ticks, s


def _check_after_cut(folder: str, s: Session, t: int) -> dict[str, int]:
    log = flashlog.FlashLog(storage.OsFs(), folder, BATCH, SEG, SEGS)
    got = read_all(log)
    seqs = [r[0] for r in got]
    assert seqs == sorted(set(seqs)), t  # strictly increasing
    for r in got:
        assert s.attempted.get(r[0]) == tuple(r[1:]), (t, r[0])  # never a corrupted record
    handed_out = max(s.attempted, default=0)
    first, nxt, _cap, unflushed = log.info()
    assert nxt > handed_out and unflushed == 0, t  # never reused
    lost_tail = 0
    if seqs:
        lo, hi = seqs[0], seqs[-1]
        assert first <= lo
        served = set(seqs)
        holes = [q for q in s.acked if lo <= q <= hi and q not in served]
        assert not holes, (t, holes[:5])
        lost_tail = sum(1 for q in s.acked if q > hi)
        # pruning drops whole old segments, never the newest ones
        assert len(seqs) >= min(len(s.acked) - lost_tail, SEG), t
    else:
        lost_tail = len(s.acked)
    assert lost_tail <= BATCH, (t, lost_tail)
    # life goes on: new records after the reboot
    more = [log.append(*fields(10_000 + k)) for k in range(BATCH + 3)]
    assert min(more) > handed_out
    log.close()
    again = read_all(flashlog.FlashLog(storage.OsFs(), folder, BATCH, SEG, SEGS))
    assert [r[0] for r in again][-len(more) :] == more
    assert [r[0] for r in again] == sorted({r[0] for r in again})
    return {"lost": lost_tail, "served": len(seqs)}


def _cut_at(folder: str, t: int) -> dict[str, int]:
    shutil.rmtree(folder, ignore_errors=True)
    s = Session(folder)
    with contextlib.suppress(PowerCut):
        s.run(PowerCutFs(t))
    return _check_after_cut(folder, s, t)


def _sweep(folder: str, cuts: list[int]) -> dict[str, int]:
    worst = 0
    lost_total = 0
    for t in cuts:
        r = _cut_at(folder, t)
        worst = max(worst, r["lost"])
        lost_total += r["lost"]
    return {"cuts": len(cuts), "max_lost": worst, "lost_total": lost_total}


def test_session_ticks(tmp_path: Path):
    total, s = _total_ticks(str(tmp_path / "log"))
    n = sum(r for r, _ in BOOTS)
    assert len(s.acked) == n
    assert total > n * 40  # bytes plus opens and removes


def test_random_cuts_fast(tmp_path: Path):
    folder = str(tmp_path / "log")
    total, _ = _total_ticks(folder)
    rng = random.Random(1234)
    cuts = [rng.randrange(total + 1) for _ in range(300)]
    result = _sweep(folder, cuts)
    assert result["max_lost"] <= BATCH
    assert result["lost_total"] > 0  # the cuts did hit unflushed batches


def test_cuts_around_every_metadata_operation(tmp_path: Path):
    """Cut just before and after each open/remove (segment roll-over, pruning, boot)."""
    folder = str(tmp_path / "log")
    shutil.rmtree(folder, ignore_errors=True)
    ticks_at = []

    class Marking(PowerCutFs):
        def _op(self, name: str, path: str) -> None:
            super()._op(name, path)
            ticks_at.append(self.ticks)

    Session(folder).run(Marking(None))
    assert len(ticks_at) > 20  # boots, roll-overs, prunes
    cuts = sorted({t + d for t in ticks_at for d in (-1, 0)})
    result = _sweep(folder, cuts)
    assert result["max_lost"] <= BATCH


@pytest.mark.slow
def test_random_cuts_thousands(tmp_path: Path):
    folder = str(tmp_path / "log")
    total, _ = _total_ticks(folder)
    rng = random.Random(20240917)
    cuts = [rng.randrange(total + 1) for _ in range(3000)]
    result = _sweep(folder, cuts)
    print(f"\nflash log: {result['cuts']} cuts over {total} ticks, max lost {result['max_lost']}")
    assert result["max_lost"] <= BATCH


@pytest.mark.slow
def test_every_tick_of_a_short_session(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "BOOTS", ((20, 6), (13, 0), (40, 0)))
    folder = str(tmp_path / "log")
    total, _ = _total_ticks(folder)
    result = _sweep(folder, list(range(total + 1)))
    print(f"\nflash log: every one of {total + 1} cut points, max lost {result['max_lost']}")
    assert result["max_lost"] <= BATCH
