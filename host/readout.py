"""Log readout into the local store: resumable, deduplicated, transactional.

Each LOG_DATA page is committed in one transaction, so a cut (unplugged cable,
killed process, power cut on either side) loses nothing already committed;
the next readout resumes at ``Store.resume_point``. Records the device no
longer holds (its ring wrapped, or a power cut took the unflushed batch) are
recorded as known gaps, not asked for forever.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from afbms.device import Device
from afbms.protocol.fast import FastStats
from afbms.store import Store

ProgressFn = Callable[[int, int], None]


@dataclass
class ReadoutResult:
    device: str
    asked_from: int
    next_seq: int
    received: int
    new: int
    lost: int  # records the device no longer had
    bad_records: int  # failed their CRC on the wire (asked again next time)


def readout(
    device: Device, store: Store, progress: ProgressFn | None = None, retries: int = 2
) -> ReadoutResult:
    """Read every record the store does not have yet from ``device`` into ``store``.

    A page that starts past the seq expected leaves a hole: either the device no
    longer holds those records, or the page carrying them was lost on the way (a
    host that stops reading for a moment makes a USB CDC or UART link drop bytes).
    Holes are asked for again, up to ``retries`` times; only what the device skips
    on every request is recorded as lost, the rest is stored.
    """
    if device.info is None:
        device.hello()
    assert device.info is not None
    pages = _PageWriter(device, store, device.info["device_id"].hex(), device.info["board"])
    dev = pages.dev
    store.register_device(dev, pages.board)
    log = device.log_info()
    first, end = log["first_seq"], log["next_seq"]
    start = store.resume_point(dev)
    lost = 0
    if start < first:
        store.mark_lost(dev, start, first - 1, "overwritten by the device's log ring")
        lost += first - start
        start = first
    total = max(end - start, 0)

    def on_progress(done: int) -> None:
        if progress is not None:
            progress(min(done, total), total)

    holes = pages.read(start, total, on_progress) if total else []
    for _ in range(retries):
        if not holes:
            break
        holes = [hole for a, b in holes for hole in pages.read(a, b - a + 1)]
    for a, b in holes:  # skipped on every request: gone from the device
        store.mark_lost(dev, a, b, "not on the device")
        lost += b - a + 1
    if total:
        on_progress(total)
    return ReadoutResult(dev, start, end, pages.received, pages.new, lost,
                         pages.stats.bad_records)  # fmt: skip


class _PageWriter:
    """LOG_READ requests whose pages go into the store, one transaction each."""

    def __init__(self, device: Device, store: Store, dev: str, board: str) -> None:
        self.device, self.store, self.dev, self.board = device, store, dev, board
        self.stats = FastStats()
        self.received = 0  # records that came in
        self.new = 0  # of those, not in the store before

    def read(
        self, start: int, count: int, on_progress: Callable[[int], None] | None = None
    ) -> list[tuple[int, int]]:
        """``count`` records from ``start``; returns the holes (inclusive seq ranges)
        the pages skipped."""
        holes = []
        expected = start
        for page in self.device.read_log(start, count, stats=self.stats):
            if len(page):
                seq0 = int(page["seq"][0])
                if seq0 > expected:
                    holes.append((expected, min(seq0, start + count) - 1))
                expected = max(expected, int(page["seq"][-1]) + 1)
            self.new += self.store.add_page(self.dev, page, board=self.board)
            self.received += len(page)
            if on_progress is not None:
                on_progress(expected - start)
        return holes
