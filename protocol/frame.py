"""Framing: COBS-encoded frames separated by 0x00, each with a header and a CRC.

Unframed layout (little-endian)::

    version  u8   major << 4 | minor
    msg_type u8   MsgType
    seq      u16  sender's counter; a response echoes its request's seq
    flags    u8   FrameFlag bits
    length   u16  payload bytes
    payload  ...  the message (see messages.py)
    crc      u16  CRC-16/CCITT-FALSE over everything above

On the wire: ``COBS(unframed) + b"\\x00"``. A receiver that joins mid-stream or
sees garbage drops bytes up to the next 0x00 and resynchronises there.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from cobs import cobs
from construct import (
    Checksum,
    ChecksumError,
    ConstructError,
    EnumIntegerString,
    GreedyBytes,
    Int8ul,
    Int16ul,
    Prefixed,
    RawCopy,
    Struct,
    Switch,
    this,
)

from afbms.protocol.crc import crc16
from afbms.protocol.enums import FrameFlag, MsgType
from afbms.protocol.layout import LOG_RECORD_LAYOUT, MESSAGE_LAYOUTS, Field
from afbms.protocol.messages import PAYLOADS, enum8
from afbms.protocol.version import PROTOCOL_MAJOR, PROTOCOL_VERSION, split_version

FrameBody = Struct(
    "version" / Int8ul,  # major << 4 | minor
    "msg_type" / enum8(MsgType),  # MsgType; unknown types parse as int
    "seq" / Int16ul,  # sender's counter, echoed by responses
    "flags" / Int8ul,  # FrameFlag bits
    "payload"
    / Prefixed(
        Int16ul,  # payload length in bytes
        Switch(this.msg_type, {t.name: con for t, con in PAYLOADS.items()}, default=GreedyBytes),
    ),
)

Frame = Struct(
    "body" / RawCopy(FrameBody),
    "crc" / Checksum(Int16ul, crc16, this.body.data),  # CRC-16/CCITT-FALSE of body
)

HEADER_SIZE = 7  # version, msg_type, seq, flags, length
CRC_SIZE = 2
MAX_PAYLOAD = max(layout.max_size for layout in MESSAGE_LAYOUTS.values())
MAX_FRAME = HEADER_SIZE + MAX_PAYLOAD + CRC_SIZE  # unframed bytes
MAX_WIRE = MAX_FRAME + MAX_FRAME // 254 + 2  # COBS overhead + delimiter


class FrameError(ValueError):
    """A received frame was rejected."""


class CobsError(FrameError):
    """The bytes between two delimiters are not valid COBS."""


class CrcError(FrameError):
    """The CRC does not match: the frame was corrupted."""


class LengthError(FrameError):
    """The frame is shorter than its header, length field or message declares."""


class VersionError(FrameError):
    """The frame was built for another major protocol version."""

    def __init__(self, version: int) -> None:
        major, minor = split_version(version)
        super().__init__(
            f"protocol version {major}.{minor} is not supported (this is {PROTOCOL_MAJOR}.x)"
        )
        self.version = version


@dataclass(frozen=True)
class DecodedFrame:
    version: int
    msg_type: MsgType | int  # int when the type is unknown to this build
    seq: int
    flags: FrameFlag
    payload: dict[str, Any] | bytes  # bytes when the type is unknown

    @property
    def known(self) -> bool:
        return isinstance(self.msg_type, MsgType)


def _to_wire_payload(msg_type: MsgType, payload: Mapping[str, Any]) -> dict[str, Any]:
    """Host dicts -> construct build input (records wrap into RawCopy's shape)."""
    out = dict(payload)
    if msg_type == MsgType.LOG_DATA:
        out["records"] = [
            {"body": {"value": {k: v for k, v in rec.items() if k != "crc"}}}
            for rec in payload["records"]
        ]
    return out


def _plain(value: Any, f: Field) -> Any:
    """A parsed construct value as the host presents it: IntEnum, IntFlag, int, str, bytes."""
    if isinstance(value, EnumIntegerString):
        value = value.intvalue
    if f.enum_class is not None:
        try:
            return f.enum_class(value)
        except ValueError:
            return int(value)  # unknown member from a newer peer: keep the number
    if f.flag_class is not None:
        return f.flag_class(value)
    if isinstance(value, int):
        return int(value)
    return value


def _from_container(msg_type: MsgType, container: Mapping[str, Any]) -> dict[str, Any]:
    layout = MESSAGE_LAYOUTS[msg_type]
    out = {f.name: _plain(container[f.name], f) for f in layout.fields}
    if layout.array_field:
        out[layout.array_field] = [_record_from_container(r) for r in container[layout.array_field]]
    return out


def _record_from_container(rec: Mapping[str, Any]) -> dict[str, Any]:
    body = rec["body"]["value"]
    out = {}
    for f in LOG_RECORD_LAYOUT.fields:
        raw = rec[f.name] if f.name == LOG_RECORD_LAYOUT.checksum_field else body[f.name]
        out[f.name] = _plain(raw, f)
    return out


def build_frame(
    msg_type: MsgType | int,
    payload: Mapping[str, Any] | bytes = b"",
    *,
    seq: int = 0,
    flags: int = 0,
    version: int = PROTOCOL_VERSION,
) -> bytes:
    """Unframed bytes (header + payload + CRC) of one message.

    ``payload`` is a mapping of field values for a known type, or raw bytes
    (for unknown types, or to send a deliberately malformed payload).
    """
    if isinstance(payload, bytes | bytearray):
        if isinstance(msg_type, MsgType):
            # Raw bytes for a known type: bypass its Struct.
            body = Struct(*FrameBody.subcons[:4], "payload" / Prefixed(Int16ul, GreedyBytes))
            raw = body.build(
                {
                    "version": version,
                    "msg_type": int(msg_type),
                    "seq": seq,
                    "flags": flags,
                    "payload": bytes(payload),
                }
            )
            return raw + crc16(raw).to_bytes(2, "little")
        key: Any = int(msg_type)
        wire_payload: Any = bytes(payload)
    else:
        msg_type = MsgType(msg_type)
        key = msg_type.name
        wire_payload = _to_wire_payload(msg_type, payload)
    return Frame.build(
        {
            "body": {
                "value": {
                    "version": version,
                    "msg_type": key,
                    "seq": seq,
                    "flags": flags,
                    "payload": wire_payload,
                }
            }
        }
    )


def encode_frame(
    msg_type: MsgType | int,
    payload: Mapping[str, Any] | bytes = b"",
    *,
    seq: int = 0,
    flags: int = 0,
    version: int = PROTOCOL_VERSION,
) -> bytes:
    """Wire bytes of one message: COBS-encoded frame plus the 0x00 delimiter."""
    raw = build_frame(msg_type, payload, seq=seq, flags=flags, version=version)
    return cobs.encode(raw) + b"\0"


def parse_frame(raw: bytes) -> DecodedFrame:
    """Decode unframed bytes (after COBS). Raises a FrameError subclass on any defect."""
    if len(raw) < HEADER_SIZE + CRC_SIZE:
        raise LengthError(f"frame of {len(raw)} bytes is shorter than header and CRC")
    if crc16(raw[:-CRC_SIZE]) != int.from_bytes(raw[-CRC_SIZE:], "little"):
        raise CrcError("CRC mismatch")
    declared = int.from_bytes(raw[5:7], "little")
    if declared != len(raw) - HEADER_SIZE - CRC_SIZE:
        raise LengthError(
            f"length field says {declared} payload bytes, frame has "
            f"{len(raw) - HEADER_SIZE - CRC_SIZE}"
        )
    version = raw[0]
    if version >> 4 != PROTOCOL_MAJOR:
        raise VersionError(version)
    try:
        msg_type: MsgType | int = MsgType(raw[1])
    except ValueError:
        msg_type = raw[1]
    try:
        parsed = Frame.parse(raw)
    except ChecksumError as exc:  # a record inside the payload is corrupt
        raise CrcError(f"{MsgType(raw[1]).name}: record CRC mismatch") from exc
    except ConstructError as exc:
        name = msg_type.name if isinstance(msg_type, MsgType) else f"type 0x{msg_type:02x}"
        raise LengthError(f"{name}: payload too short ({declared} bytes)") from exc
    body = parsed.body.value
    payload: dict[str, Any] | bytes
    if isinstance(msg_type, MsgType):
        payload = _from_container(msg_type, body.payload)
    else:
        payload = bytes(body.payload)
    return DecodedFrame(version, msg_type, body.seq, FrameFlag(body.flags), payload)


def decode_frame(wire: bytes) -> DecodedFrame:
    """Decode one COBS-encoded frame (with or without its trailing 0x00)."""
    data = wire[:-1] if wire.endswith(b"\0") else wire
    if not data or b"\0" in data:
        raise CobsError("expected exactly one COBS frame")
    try:
        raw = cobs.decode(data)
    except cobs.DecodeError as exc:
        raise CobsError(str(exc)) from exc
    return parse_frame(raw)


@dataclass
class ReaderStats:
    accepted: int = 0
    rejected: int = 0  # bad COBS, CRC, length or version
    overflows: int = 0  # runs of bytes longer than any frame, dropped
    errors: dict[str, int] = field(default_factory=dict)  # rejections by exception class


class FrameReader:
    """Splits a byte stream into frames, resynchronising at every 0x00."""

    def __init__(self, max_wire: int = MAX_WIRE) -> None:
        self._pending = bytearray()
        self._dropping = False
        self._max = max_wire
        self.stats = ReaderStats()

    def feed(self, data: bytes) -> Iterator[DecodedFrame]:
        """Consume ``data``; yield every valid frame it completes."""
        self._pending += data
        while True:
            end = self._pending.find(0)
            if end < 0:
                if len(self._pending) > self._max:
                    self._pending.clear()
                    if not self._dropping:
                        self.stats.overflows += 1
                    self._dropping = True
                return
            chunk = bytes(self._pending[:end])
            del self._pending[: end + 1]
            if self._dropping:
                self._dropping = False
                continue
            if not chunk:
                continue  # idle delimiter
            if len(chunk) > self._max:
                self.stats.overflows += 1
                continue
            try:
                frame = decode_frame(chunk)
            except FrameError as exc:
                self.stats.rejected += 1
                name = type(exc).__name__
                self.stats.errors[name] = self.stats.errors.get(name, 0) + 1
                continue
            self.stats.accepted += 1
            yield frame
