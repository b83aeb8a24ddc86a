"""Framing on both sides: unknown types, newer minors, damaged frames."""

import pytest
from cobs import cobs

from afbms.protocol.crc import crc16
from afbms.protocol.enums import FrameFlag, MsgType
from afbms.protocol.frame import (
    CobsError,
    CrcError,
    FrameReader,
    LengthError,
    VersionError,
    build_frame,
    decode_frame,
    encode_frame,
    parse_frame,
)
from afbms.protocol.version import PROTOCOL_MAJOR
from bms import wire
from tests import codec_util

ACK = {"acked_type": MsgType.COMMAND}


def feed_firmware(data: bytes) -> list[tuple[int, int, bytes]]:
    return [(t, seq, payload) for t, seq, _, payload in codec_util.feed_firmware(data)]


def test_known_frame_decodes():
    frame = decode_frame(encode_frame(MsgType.ACK, ACK, seq=9, flags=FrameFlag.RESPONSE))
    assert (frame.msg_type, frame.seq, frame.flags, frame.payload) == (
        MsgType.ACK,
        9,
        FrameFlag.RESPONSE,
        {"acked_type": MsgType.COMMAND},
    )


def test_unknown_type_is_kept_as_bytes_on_host():
    frame = decode_frame(encode_frame(0x5A, b"\x01\x02", seq=3))
    assert (frame.known, frame.msg_type, frame.payload) == (False, 0x5A, b"\x01\x02")


def test_unknown_type_reaches_firmware_dispatch():
    # The decoder accepts it; the dispatcher answers NACK UNKNOWN_TYPE.
    assert feed_firmware(encode_frame(0x5A, b"\x01\x02", seq=3)) == [(0x5A, 3, b"\x01\x02")]


def test_newer_minor_with_longer_payload_parses_known_prefix():
    newer = (PROTOCOL_MAJOR << 4) | 0x0F
    wire_bytes = encode_frame(MsgType.ACK, bytes([MsgType.COMMAND]) + b"future", version=newer)
    assert decode_frame(wire_bytes).payload == {"acked_type": MsgType.COMMAND}


def test_other_major_is_refused():
    with pytest.raises(VersionError):
        decode_frame(encode_frame(MsgType.ACK, ACK, version=(PROTOCOL_MAJOR + 1) << 4))


def test_short_payload_is_a_length_error():
    with pytest.raises(LengthError):
        decode_frame(encode_frame(MsgType.TELEMETRY, b"\x01\x02\x03"))


def test_short_payload_is_visible_to_firmware_dispatch():
    [(msg_type, _, payload)] = feed_firmware(encode_frame(MsgType.TELEMETRY, b"\x01\x02\x03"))
    assert len(payload) < wire.PAYLOAD_SIZE[msg_type]


def test_flipped_bit_is_a_crc_error():
    raw = bytearray(build_frame(MsgType.ACK, ACK))
    raw[2] ^= 0x04
    with pytest.raises(CrcError):
        parse_frame(bytes(raw))


def test_length_field_disagreeing_with_frame_is_rejected():
    raw = bytearray(build_frame(MsgType.ACK, ACK))
    raw[5] = 2  # claims two payload bytes, has one; fix the CRC so only length is wrong
    raw[-2:] = crc16(bytes(raw[:-2])).to_bytes(2, "little")
    with pytest.raises(LengthError):
        parse_frame(bytes(raw))


def test_firmware_rejects_length_field_disagreeing_with_frame():
    raw = bytearray(build_frame(MsgType.ACK, ACK))
    raw[5] = 2
    raw[-2:] = crc16(bytes(raw[:-2])).to_bytes(2, "little")
    assert feed_firmware(cobs.encode(bytes(raw)) + b"\0") == []


def test_embedded_zero_is_a_cobs_error():
    with pytest.raises(CobsError):
        decode_frame(b"\x03\x11\x00\x22\x00")


def test_corrupt_record_in_log_page_is_a_crc_error():
    record = dict(
        seq=1, t_s=2, t_ms=3, kind=1, code=0, aux=0, faults=0, v0=1, v1=2, v2=3, v3=4, v4=5
    )
    raw = bytearray(build_frame(MsgType.LOG_DATA, {"start_seq": 1, "records": [record]}))
    raw[7 + 5 + 20] ^= 0x01  # inside the record body
    raw[-2:] = crc16(bytes(raw[:-2])).to_bytes(2, "little")  # frame CRC fine, record CRC not
    with pytest.raises(CrcError):
        parse_frame(bytes(raw))


def test_reader_resyncs_after_garbage():
    good = encode_frame(MsgType.ACK, ACK, seq=1)
    reader = FrameReader()
    frames = list(reader.feed(b"\x13\x37garbage\x00" + good + good[:5] + b"\x00" + good))
    assert [f.seq for f in frames] == [1, 1]
    assert reader.stats.rejected == 2


def test_reader_drops_overlong_runs_and_recovers():
    good = encode_frame(MsgType.ACK, ACK, seq=2)
    reader = FrameReader(max_wire=64)
    frames = list(reader.feed(b"\x55" * 500 + b"\x00" + good))
    assert ([f.seq for f in frames], reader.stats.overflows) == ([2], 1)


def test_firmware_decoder_drops_overlong_runs_and_recovers():
    good = encode_frame(MsgType.ACK, ACK, seq=4)
    assert feed_firmware(b"\x55" * (wire.MAX_WIRE + 10) + b"\x00" + good) == [
        (MsgType.ACK, 4, bytes([MsgType.COMMAND]))
    ]


def test_firmware_decoder_ignores_doubled_delimiters():
    good = encode_frame(MsgType.ACK, ACK, seq=5)
    assert len(feed_firmware(b"\x00\x00" + good + b"\x00\x00" + good)) == 2


def test_firmware_decoder_handles_byte_by_byte_arrival():
    good = encode_frame(MsgType.ACK, ACK, seq=6)
    dec = wire.Decoder()
    ready = []
    for b in good:
        dec.feed(bytes([b]), 0, 1)
        ready.append(dec.ready)
    assert ready == [False] * (len(good) - 1) + [True]


def test_firmware_encoder_sequence_advances_and_wraps():
    enc = wire.Encoder()
    enc.seq = 0xFFFF
    seqs = []
    for _ in range(2):
        n = wire.pack_ack(enc.raw, wire.HEADER_SIZE, MsgType.COMMAND)
        m = enc.finish(wire.MSG_ACK, n, 0, -1)
        seqs.append(decode_frame(bytes(enc.wire[:m])).seq)
    assert seqs == [0xFFFF, 0]
