"""Schema hash: a fingerprint of every declaration that shapes the wire.

Like MAVLink's per-message CRC seed, but over the whole catalogue: the
canonical text below lists the framing, each message's fields and struct
codes, the log record and every enum member. Any change to any of them
changes the hash, and HELLO/INFO carry it so a host and a firmware built
from different declarations refuse each other instead of misreading bytes.
"""

from __future__ import annotations

import hashlib

from afbms.protocol.enums import CODEGEN_PREFIX
from afbms.protocol.layout import LOG_RECORD_LAYOUT, MESSAGE_LAYOUTS, Layout
from afbms.protocol.version import PROTOCOL_MAJOR

FRAME_CANONICAL = (
    "frame version:B msg_type:B seq:H flags:B length:H payload crc:H=crc16-ccitt-false"
)


def _layout_line(kind: str, layout: Layout) -> str:
    fields = " ".join(f"{f.name}:{f.fmt}" for f in layout.fields)
    line = f"{kind} {layout.name}: {fields}"
    if layout.item is not None:
        item = f"{layout.item.name} x{layout.max_items} by {layout.count_field}"
        line += f" {layout.array_field}:[{item}]"
    return line


def canonical_schema() -> str:
    """The text the hash is taken over (stable order, one declaration per line)."""
    lines = [f"afbms protocol major={PROTOCOL_MAJOR}", FRAME_CANONICAL]
    for msg_type in sorted(MESSAGE_LAYOUTS):
        lines.append(f"0x{msg_type:02x} " + _layout_line("msg", MESSAGE_LAYOUTS[msg_type]))
    lines.append(_layout_line("record", LOG_RECORD_LAYOUT))
    for enum_class in CODEGEN_PREFIX:
        members = ",".join(f"{m.name}={int(m.value)}" for m in enum_class)
        lines.append(f"enum {enum_class.__name__}: {members}")
    return "\n".join(lines) + "\n"


def schema_hash() -> int:
    """32-bit schema hash: the first four bytes of SHA-256 of the canonical text, little-endian."""
    digest = hashlib.sha256(canonical_schema().encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "little")


SCHEMA_HASH = schema_hash()


class PeerMismatch(Exception):
    """The peer was built from other protocol declarations; talking to it is refused."""


class VersionMismatch(PeerMismatch):
    pass


class SchemaMismatch(PeerMismatch):
    pass


def check_peer(protocol_version: int, peer_schema_hash: int) -> None:
    """Refuse a peer (from its HELLO or INFO) whose major version or schema differs."""
    major, minor = protocol_version >> 4, protocol_version & 0x0F
    if major != PROTOCOL_MAJOR:
        raise VersionMismatch(
            f"peer speaks protocol {major}.{minor}, this build speaks {PROTOCOL_MAJOR}.x"
        )
    if peer_schema_hash != SCHEMA_HASH:
        raise SchemaMismatch(
            f"peer schema 0x{peer_schema_hash:08X} differs from this build's 0x{SCHEMA_HASH:08X}:"
            " host and firmware come from different protocol declarations (re-flash the firmware"
            " or update afbms)"
        )
