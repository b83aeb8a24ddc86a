"""Live view of a board's telemetry, estimates and events.

Reading frames never stops the board: the firmware answers the link between
samples and its protection keeps running. With a store, every frame is
recorded as it arrives.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from afbms.device import Device
from afbms.protocol.enums import MsgType
from afbms.store import Store

Sink = Callable[[str, dict[str, Any]], None]


def _fmt_telemetry(p: dict[str, Any]) -> str:
    return (f"{p['voltage_uv'] / 1e6:7.4f} V {p['current_ua'] / 1e3:+8.3f} mA "
            f"{p['pressure_pa'] / 1e6:6.2f} MPa {p['temperature_mc'] / 1e3:5.1f} °C "
            f"{p['charge_uah'] / 1e3:8.4f} mAh  {p['state'].name:<11} "
            f"faults=0x{int(p['faults']):x}")  # fmt: skip


def _fmt_estimate(p: dict[str, Any]) -> str:
    return (f"cycle {p['cycle_count']}: inventory {p['inventory_uah'] / 1e3:.4f} mAh "
            f"({p['inventory_ppm'] / 1e4:.2f} %), CE {p['ce_last_ppm'] / 1e4:.3f} %, "
            f"EOL in {p['cycles_to_eol']} cycles")  # fmt: skip


def _fmt_event(p: dict[str, Any]) -> str:
    kind = p["kind"].name if hasattr(p["kind"], "name") else p["kind"]
    sev = p["severity"].name if hasattr(p["severity"], "name") else p["severity"]
    return f"EVENT {kind} ({sev}) value={p['value']} at {p['voltage_uv'] / 1e6:.4f} V"


FORMATS = {
    MsgType.TELEMETRY: ("telemetry", _fmt_telemetry),
    MsgType.ESTIMATE: ("estimate", _fmt_estimate),
    MsgType.EVENT: ("event", _fmt_event),
}


def monitor(
    device: Device,
    duration: float | None,
    sink: Sink,
    store: Store | None = None,
    frames_max: int | None = None,
) -> dict[str, int]:
    """Hand each telemetry/estimate/event frame to ``sink(kind, payload)`` (and the store)
    until ``duration`` seconds pass or ``frames_max`` frames arrived. Returns counts."""
    assert device.info is not None
    dev = device.info["device_id"].hex()
    counts = {"telemetry": 0, "estimate": 0, "event": 0}
    deadline = None if duration is None else time.monotonic() + duration
    while True:
        left = 1.0 if deadline is None else deadline - time.monotonic()
        if left <= 0:
            return counts
        for frame in device.frames(min(left, 1.0)):
            if frame.msg_type not in FORMATS or not isinstance(frame.payload, dict):
                continue
            kind, _ = FORMATS[frame.msg_type]
            counts[kind] += 1
            if store is not None:
                add = {"telemetry": store.add_telemetry, "estimate": store.add_estimates,
                       "event": store.add_events}[kind]  # fmt: skip
                add(dev, [frame.payload])
            sink(kind, frame.payload)
            if frames_max is not None and sum(counts.values()) >= frames_max:
                return counts


def format_frame(kind: str, payload: dict[str, Any]) -> str:
    formatter = {name: fmt for name, fmt in FORMATS.values()}[kind]
    return formatter(payload)
