"""The fast host decode path, built from the same layouts as everything else.

construct is the reference codec and reads any frame; this module trades
generality for speed where volume is high: telemetry streams (precompiled
``struct.Struct`` per message) and bulk log readout (LOG_DATA pages straight
into a numpy structured array). Every frame CRC and every record CRC is still
checked; damaged frames and records are counted, never returned.
"""

from __future__ import annotations

import binascii
import struct
from dataclasses import dataclass

import numpy as np
from cobs import cobs

from afbms.protocol.crc import CRC16_INIT
from afbms.protocol.enums import MsgType
from afbms.protocol.frame import CRC_SIZE, HEADER_SIZE
from afbms.protocol.layout import LOG_RECORD_LAYOUT, MESSAGE_LAYOUTS, Layout
from afbms.protocol.version import PROTOCOL_MAJOR

_HEADER = struct.Struct("<BBHBH")
_NUMPY_CODES = {"B": "u1", "H": "<u2", "I": "<u4", "i": "<i4"}


def record_dtype(layout: Layout = LOG_RECORD_LAYOUT) -> np.dtype:
    """numpy structured dtype of one log record (CRC included), packed like the wire."""
    return np.dtype([(f.name, _NUMPY_CODES[f.fmt]) for f in layout.fields])


RECORD_DTYPE = record_dtype()
_RECORD_SIZE = RECORD_DTYPE.itemsize
_BODY_SIZE = _RECORD_SIZE - CRC_SIZE
_LOG_DATA = MESSAGE_LAYOUTS[MsgType.LOG_DATA]
_LOG_HEADER = struct.Struct(_LOG_DATA.fmt)
_RECORDS_AT = HEADER_SIZE + _LOG_DATA.size


@dataclass
class FastStats:
    frames: int = 0
    bad_frames: int = 0  # COBS, CRC, length, version or type
    records: int = 0
    bad_records: int = 0  # record CRC mismatch (torn by a power cut, say)


def unframe(chunk: bytes) -> bytes | None:
    """COBS-decode and check CRC and length; None if the frame is damaged."""
    try:
        raw = cobs.decode(chunk)
    except cobs.DecodeError:
        return None
    if len(raw) < HEADER_SIZE + CRC_SIZE:
        return None
    if binascii.crc_hqx(raw[:-CRC_SIZE], CRC16_INIT) != int.from_bytes(raw[-CRC_SIZE:], "little"):
        return None
    version, _, _, _, length = _HEADER.unpack_from(raw)
    if version >> 4 != PROTOCOL_MAJOR or length != len(raw) - HEADER_SIZE - CRC_SIZE:
        return None
    return raw


class FastDecoder:
    """struct-based decode of fixed-size messages into (msg_type, seq, values-tuple)."""

    def __init__(self) -> None:
        self._structs = {
            int(t): struct.Struct(layout.fmt)
            for t, layout in MESSAGE_LAYOUTS.items()
            if layout.item is None
        }
        self.names = {int(t): layout.names for t, layout in MESSAGE_LAYOUTS.items()}
        self.stats = FastStats()

    def decode_stream(self, data: bytes) -> list[tuple[int, int, tuple]]:
        """Every fixed-size message in ``data``; damaged or unknown frames are counted."""
        out = []
        for chunk in data.split(b"\0"):
            if not chunk:
                continue
            raw = unframe(chunk)
            msg_struct = self._structs.get(raw[1]) if raw is not None else None
            if raw is None or msg_struct is None or raw[5] | raw[6] << 8 < msg_struct.size:
                self.stats.bad_frames += 1
                continue
            self.stats.frames += 1
            out.append((raw[1], raw[2] | raw[3] << 8, msg_struct.unpack_from(raw, HEADER_SIZE)))
        return out


def decode_log_pages(data: bytes, stats: FastStats | None = None) -> np.ndarray:
    """All intact log records in a stream of LOG_DATA frames, as a structured array."""
    stats = stats if stats is not None else FastStats()
    pages = []
    for chunk in data.split(b"\0"):
        if not chunk:
            continue
        raw = unframe(chunk)
        if raw is None or raw[1] != MsgType.LOG_DATA:
            stats.bad_frames += 1
            continue
        _, count = _LOG_HEADER.unpack_from(raw, HEADER_SIZE)
        if _RECORDS_AT + count * _RECORD_SIZE + CRC_SIZE > len(raw):
            stats.bad_frames += 1
            continue
        stats.frames += 1
        block = raw[_RECORDS_AT : _RECORDS_AT + count * _RECORD_SIZE]
        records = np.frombuffer(block, dtype=RECORD_DTYPE, count=count)
        good = np.fromiter(
            (
                binascii.crc_hqx(block[i : i + _BODY_SIZE], CRC16_INIT) == crc
                for i, crc in zip(
                    range(0, len(block), _RECORD_SIZE), records["crc"].tolist(), strict=True
                )
            ),
            dtype=bool,
            count=count,
        )
        stats.records += int(good.sum())
        stats.bad_records += count - int(good.sum())
        pages.append(records if good.all() else records[good])
    if not pages:
        return np.empty(0, dtype=RECORD_DTYPE)
    return np.concatenate(pages)
