"""Human- and script-readable views of the protocol: the catalogue and decoded captures."""

from __future__ import annotations

from enum import Enum
from typing import Any

from afbms.protocol.crc import CRC16_CHECK
from afbms.protocol.enums import MsgType
from afbms.protocol.frame import HEADER_SIZE, MAX_PAYLOAD, MAX_WIRE, FrameReader
from afbms.protocol.layout import LOG_RECORD_LAYOUT, MESSAGE_LAYOUTS, Field, Layout
from afbms.protocol.schema import SCHEMA_HASH
from afbms.protocol.version import PROTOCOL_MAJOR, PROTOCOL_MINOR

# Field-name suffix -> unit. The declarations name every fixed-point field this way.
UNITS = {
    "_uv": "µV",
    "_ua": "µA",
    "_uah": "µAh",
    "_pa": "Pa",
    "_mc": "m°C",
    "_ppm": "ppm",
    "_nm": "nm",
    "_ms": "ms",
    "_s": "s",
}


def unit_of(name: str) -> str:
    for suffix, unit in sorted(UNITS.items(), key=lambda kv: -len(kv[0])):
        if name.endswith(suffix):
            return unit
    return ""


def _field_info(field: Field) -> dict[str, Any]:
    info: dict[str, Any] = {"name": field.name, "format": field.fmt, "bytes": field.size}
    if unit := unit_of(field.name):
        info["unit"] = unit
    if field.enum_class is not None:
        info["enum"] = field.enum_class.__name__
    if field.flag_class is not None:
        info["flags"] = field.flag_class.__name__
    if field.text:
        info["text"] = True
    return info


def _layout_info(layout: Layout) -> dict[str, Any]:
    info: dict[str, Any] = {
        "size": layout.size,
        "fields": [_field_info(f) for f in layout.fields],
    }
    if layout.item is not None:
        info["array"] = {
            "field": layout.array_field,
            "count_field": layout.count_field,
            "item": layout.item.name,
            "max_items": layout.max_items,
        }
    return info


def catalogue() -> dict[str, Any]:
    """Everything a peer needs to know about the wire, as plain data."""
    return {
        "protocol": f"{PROTOCOL_MAJOR}.{PROTOCOL_MINOR}",
        "schema_hash": f"0x{SCHEMA_HASH:08X}",
        "framing": {
            "encoding": "COBS, frames separated by 0x00",
            "header_bytes": HEADER_SIZE,
            "crc": "CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF), little-endian",
            "crc_check_123456789": f"0x{CRC16_CHECK:04X}",
            "max_payload": MAX_PAYLOAD,
            "max_wire_frame": MAX_WIRE,
        },
        "messages": {
            t.name: {"type": f"0x{int(t):02X}", **_layout_info(MESSAGE_LAYOUTS[t])}
            for t in sorted(MESSAGE_LAYOUTS)
        },
        "log_record": _layout_info(LOG_RECORD_LAYOUT),
    }


def render_catalogue(cat: dict[str, Any]) -> str:
    lines = [
        f"afbms protocol {cat['protocol']}, schema {cat['schema_hash']}",
        f"framing: {cat['framing']['encoding']}; {cat['framing']['crc']}, "
        f"check(123456789) = {cat['framing']['crc_check_123456789']}",
        "",
    ]
    for name, msg in cat["messages"].items():
        lines.append(f"{msg['type']} {name} ({msg['size']} B)")
        for f in msg["fields"]:
            extra = f.get("unit") or f.get("enum") or f.get("flags") or ""
            lines.append(f"      {f['name']:<18} {f['format']:<4} {extra}")
        if "array" in msg:
            arr = msg["array"]
            lines.append(f"      {arr['field']:<18} up to {arr['max_items']} x {arr['item']}")
    lines.append(f"log record ({cat['log_record']['size']} B)")
    for f in cat["log_record"]["fields"]:
        lines.append(f"      {f['name']:<18} {f['format']:<4} {f.get('unit', '')}")
    return "\n".join(lines)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.name if value.name else int(value.value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


def decode_stream(data: bytes) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Decode every frame in a captured byte stream (resynchronising on damage)."""
    reader = FrameReader()
    frames = []
    for frame in reader.feed(data + b"\0"):  # a capture may end without its delimiter
        name = frame.msg_type.name if isinstance(frame.msg_type, MsgType) else frame.msg_type
        payload = frame.payload if isinstance(frame.payload, dict) else {"raw": frame.payload}
        frames.append(
            {
                "msg_type": name,
                "seq": frame.seq,
                "flags": int(frame.flags),
                "payload": _jsonable(payload),
            }
        )
    stats = {
        "accepted": reader.stats.accepted,
        "rejected": reader.stats.rejected,
        "overflows": reader.stats.overflows,
        "errors": dict(reader.stats.errors),
    }
    return frames, stats
