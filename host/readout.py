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


def readout(device: Device, store: Store, progress: ProgressFn | None = None) -> ReadoutResult:
    """Read every record the store does not have yet from ``device`` into ``store``."""
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
    received = new = 0
    stats = FastStats()
    expected = start
    if total:
        for page in device.read_log(start, total, stats=stats):
            gap = None
            if len(page) and int(page["seq"][0]) > expected:
                gap = (expected, int(page["seq"][0]) - 1)
                lost += gap[1] - gap[0] + 1
            new += store.add_page(dev, page, lost=gap, lost_reason="not on the device",
                                  board=board)  # fmt: skip
            received += len(page)
            if len(page):
                expected = int(page["seq"][-1]) + 1
            if progress is not None:
                progress(min(received + lost, total), total)
    return ReadoutResult(dev, start, end, received, new, lost, stats.bad_records)
