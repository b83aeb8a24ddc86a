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
    dev = device.info["device_id"].hex()
    board = device.info["board"]
    store.register_device(dev, board)
    log = device.log_info()
    first, end = log["first_seq"], log["next_seq"]
    start = store.resume_point(dev)
    lost = 0
    if start < first:
        store.mark_lost(dev, start, first - 1, "overwritten by the device's log ring")
        lost += first - start
        start = first
    total = max(end - start, 0)
    stats = FastStats()
    counts = [0, 0]  # received, new
    holes: list[tuple[int, int]] = []

    def on_progress(done: int) -> None:
        if progress is not None:
            progress(min(done, total), total)

    if total:
        holes = _read_range(device, store, dev, board, start, total, stats, counts, on_progress)
    for _ in range(retries):
        if not holes:
            break
        again: list[tuple[int, int]] = []
        for a, b in holes:
            again += _read_range(device, store, dev, board, a, b - a + 1, stats, counts, None)
        holes = again
    for a, b in holes:  # skipped on every request: gone from the device
        store.mark_lost(dev, a, b, "not on the device")
        lost += b - a + 1
    if total:
        on_progress(total)
    return ReadoutResult(dev, start, end, counts[0], counts[1], lost, stats.bad_records)


def _read_range(
    device: Device,
    store: Store,
    dev: str,
    board: str,
    start: int,
    count: int,
    stats: FastStats,
    counts: list[int],
    on_progress: Callable[[int], None] | None,
) -> list[tuple[int, int]]:
    """One LOG_READ of ``count`` records from ``start``, each page stored in its own
    transaction; returns the holes (inclusive seq ranges) the pages skipped."""
    holes = []
    expected = start
    for page in device.read_log(start, count, stats=stats):
        if len(page):
            seq0 = int(page["seq"][0])
            if seq0 > expected:
                holes.append((expected, min(seq0, start + count) - 1))
            expected = max(expected, int(page["seq"][-1]) + 1)
        counts[1] += store.add_page(dev, page, board=board)
        counts[0] += len(page)
        if on_progress is not None:
            on_progress(expected - start)
    return holes
