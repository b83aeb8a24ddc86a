"""The fast host path decodes exactly what the construct codec decodes."""

import numpy as np
from cobs import cobs

from afbms.protocol.crc import crc16
from afbms.protocol.enums import MsgType
from afbms.protocol.fast import FastDecoder, FastStats, decode_log_pages
from afbms.protocol.frame import decode_frame, encode_frame
from tests.codec_util import VECTORS

LOG_VECTORS = [v for v in VECTORS if v["msg_type"] == "LOG_DATA"]
FIXED_VECTORS = [v for v in VECTORS if v["msg_type"] != "LOG_DATA"]


def test_fixed_messages_match_construct():
    stream = b"".join(bytes.fromhex(v["hex"]) for v in FIXED_VECTORS)
    decoder = FastDecoder()
    fast = decoder.decode_stream(stream)
    reference = [decode_frame(bytes.fromhex(v["hex"])) for v in FIXED_VECTORS]
    assert [(t, seq) for t, seq, _ in fast] == [(int(f.msg_type), f.seq) for f in reference]
    for (msg_type, _, values), frame in zip(fast, reference, strict=True):
        expected = [frame.payload[name] for name in decoder.names[msg_type]]
        expected = [v.encode().ljust(16, b"\0") if isinstance(v, str) else v for v in expected]
        assert list(values) == expected


def test_log_pages_match_construct():
    stream = b"".join(bytes.fromhex(v["hex"]) for v in LOG_VECTORS)
    records = decode_log_pages(stream)
    expected = [rec for v in LOG_VECTORS for rec in v["fields"]["records"]]
    assert records.tolist() == [tuple(rec.values()) for rec in expected]


def test_torn_record_is_dropped_and_counted():
    page = next(v for v in LOG_VECTORS if v["name"] == "log_data_full_page")
    records = page["fields"]["records"]
    torn = [dict(r) for r in records]
    wire = bytearray(encode_frame(MsgType.LOG_DATA, {"start_seq": 0, "records": torn}))
    # Change one body byte of record 3 and fix the frame CRC: only the record CRC fails.
    raw = bytearray(cobs.decode(bytes(wire[:-1])))
    raw[7 + 5 + 3 * 40 + 10] ^= 0xFF
    raw[-2:] = crc16(bytes(raw[:-2])).to_bytes(2, "little")
    stats = FastStats()
    got = decode_log_pages(cobs.encode(bytes(raw)) + b"\0", stats)
    assert (len(got), stats.bad_records) == (len(records) - 1, 1)
    assert 3 + records[0]["seq"] not in set(got["seq"].tolist())


def test_damaged_frames_are_counted_not_returned():
    page = bytes.fromhex(LOG_VECTORS[-1]["hex"])
    damaged = bytearray(page)
    damaged[10] ^= 0x01
    stats = FastStats()
    got = decode_log_pages(bytes(damaged) + page, stats)
    assert (stats.bad_frames, stats.frames) == (1, 1)
    assert isinstance(got, np.ndarray)
