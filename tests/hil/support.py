"""Helpers of the HIL suite: bounded waits on the live stream, config snapshots.

Waits are given in the board's own seconds (sample periods) and converted to wall time
through the target: a real board runs at 1x, the virtual board faster.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any

from afbms.device import Device, Refused
from afbms.protocol.enums import Command, ConfigKey, ConfigStatus, MsgType

Payload = dict[str, Any]


def wall_s(target: Any, board_s: float, margin_s: float = 5.0) -> float:
    """Wall seconds for ``board_s`` seconds of the board's time, plus a margin."""
    vb = target.vboard
    speed = vb.speed if vb is not None else 1.0
    if speed is None:  # as fast as possible: the board's time is cheap
        return margin_s + board_s / 200.0
    return margin_s + board_s / speed


def stamp_ms(p: Payload) -> int:
    """Device time of a TELEMETRY/EVENT in ms (s since 2000 and the ms within it)."""
    return p["t_s"] * 1000 + p["t_ms"]


def next_frames(dev: Device, kind: MsgType, timeout: float, until: Callable[[Payload], bool]):
    """Payloads of ``kind`` until one satisfies ``until`` (returned last) or ``timeout``."""
    got: list[Payload] = []
    for frame in dev.frames(timeout):
        if frame.msg_type == kind:
            got.append(frame.payload)
            if until(frame.payload):
                return got
    raise AssertionError(
        f"no {kind.name} as expected within {timeout:.1f} s (last: {got[-1] if got else None})"
    )


def wait_telemetry(dev: Device, until: Callable[[Payload], bool], timeout: float) -> Payload:
    return next_frames(dev, MsgType.TELEMETRY, timeout, until)[-1]


def telemetry_for(dev: Device, count: int, timeout: float) -> list[Payload]:
    got: list[Payload] = []
    next_frames(dev, MsgType.TELEMETRY, timeout, lambda p: got.append(p) or len(got) >= count)
    return got


def sample_period_s(dev: Device) -> float:
    return dev.config_get(ConfigKey.SAMPLE_PERIOD_MS)[ConfigKey.SAMPLE_PERIOD_MS] / 1000.0


def set_config(dev: Device, changes: dict[ConfigKey, int]) -> None:
    """Apply ``changes`` key by key, in whatever order keeps the cross-key rules true
    (V_MIN below V_MAX and so on); fails if a value is refused for another reason."""
    pending = dict(changes)
    while pending:
        progress = False
        for key, value in list(pending.items()):
            status, _ = dev.config_set(key, value)
            if status == ConfigStatus.OK:
                del pending[key]
                progress = True
            elif status != ConfigStatus.INCONSISTENT:
                raise AssertionError(f"the board refused {key.name} = {value}: {status!r}")
        if not progress:
            raise AssertionError(f"no order of these settings is consistent: {pending}")


@contextmanager
def config_restored(dev: Device) -> Iterator[dict[ConfigKey, int]]:
    """The board's config before the block (yielded), put back afterwards: a bench board
    leaves the suite as it came (``dev`` may be reconnected in between)."""
    known = {int(k) for k in ConfigKey}
    before = {ConfigKey(k): v for k, v in dev.config_get().items() if int(k) in known}
    try:
        yield before
    finally:
        now = dev.config_get()
        set_config(dev, {k: v for k, v in before.items() if now.get(k) != v})


def clear_all_faults(dev: Device, timeout: float) -> int:
    """COMMAND CLEAR_FAULTS until the telemetry shows nothing latched (a condition may
    still be releasing). Returns the last latched mask seen (0 on success)."""
    deadline = time.monotonic() + timeout
    latched = -1
    while time.monotonic() < deadline:
        with suppress(Refused):  # NOT_ALLOWED while a condition is still active
            dev.command(Command.CLEAR_FAULTS, 0)
        for frame in dev.frames(0.3):
            if frame.msg_type == MsgType.TELEMETRY:
                latched = int(frame.payload["faults"])
                if not latched:
                    return 0
    return latched
