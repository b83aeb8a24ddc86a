"""Random valid messages round-trip host -> firmware and firmware -> host, and
both encoders produce the same bytes."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from afbms.protocol.enums import MsgType
from afbms.protocol.frame import decode_frame, encode_frame
from afbms.protocol.layout import LOG_RECORD_LAYOUT, MESSAGE_LAYOUTS
from tests.codec_util import feed_firmware, firmware_encode
from tests.property.strategies import flag_bytes, payloads, seqs

BODY_NAMES = [f.name for f in LOG_RECORD_LAYOUT.fields if f.name != "crc"]


def wire_values(msg_type: MsgType, payload: dict) -> tuple[list, list]:
    layout = MESSAGE_LAYOUTS[msg_type]
    records = payload.get(layout.array_field, []) if layout.array_field else []
    values = []
    for f in layout.fields:
        if f.name == layout.count_field:
            values.append(len(records))
        elif f.text:
            values.append(payload[f.name].encode("ascii"))
        else:
            values.append(payload[f.name])
    return values, [[rec[n] for n in BODY_NAMES] for rec in records]


def firmware_unpack(msg_type: MsgType, payload_bytes: bytes) -> dict:
    from bms import wire

    layout = MESSAGE_LAYOUTS[msg_type]
    raw = getattr(wire, "unpack_" + msg_type.name.lower())(payload_bytes, 0)
    out = {}
    for f, v in zip(layout.fields, raw, strict=True):
        out[f.name] = v.rstrip(b"\0").decode("ascii") if f.text else v
    if layout.array_field:
        out[layout.array_field] = [
            dict(zip(BODY_NAMES, wire.unpack_log_record(payload_bytes, offset), strict=True))
            for offset in range(layout.size, len(payload_bytes), wire.LOG_RECORD_SIZE)
        ]
    return out


def without_derived(msg_type: MsgType, decoded: dict) -> dict:
    """Drop what the codec computes (count, record CRCs) before comparing."""
    layout = MESSAGE_LAYOUTS[msg_type]
    out = {k: v for k, v in decoded.items() if k != layout.count_field}
    if layout.array_field:
        out[layout.array_field] = [
            {k: v for k, v in rec.items() if k != "crc"} for rec in decoded[layout.array_field]
        ]
    return out


@pytest.mark.parametrize("msg_type", list(MsgType), ids=lambda t: t.name)
@settings(max_examples=60, deadline=None)
@given(data=st.data(), seq=seqs, flags=flag_bytes)
def test_host_to_firmware(msg_type, data, seq, flags):
    payload = data.draw(payloads(msg_type))
    [(got_type, got_seq, got_flags, body)] = feed_firmware(
        encode_frame(msg_type, payload, seq=seq, flags=flags)
    )
    assert (got_type, got_seq, got_flags) == (msg_type, seq, flags)
    assert without_derived(msg_type, firmware_unpack(msg_type, body)) == payload


@pytest.mark.parametrize("msg_type", list(MsgType), ids=lambda t: t.name)
@settings(max_examples=60, deadline=None)
@given(data=st.data(), seq=seqs, flags=flag_bytes)
def test_firmware_to_host(msg_type, data, seq, flags):
    payload = data.draw(payloads(msg_type))
    values, records = wire_values(msg_type, payload)
    frame = decode_frame(firmware_encode(msg_type, values, records, seq=seq, flags=flags))
    assert (frame.msg_type, frame.seq, int(frame.flags)) == (msg_type, seq, flags)
    assert without_derived(msg_type, frame.payload) == payload


@pytest.mark.parametrize("msg_type", list(MsgType), ids=lambda t: t.name)
@settings(max_examples=60, deadline=None)
@given(data=st.data(), seq=seqs, flags=flag_bytes)
def test_both_encoders_agree(msg_type, data, seq, flags):
    payload = data.draw(payloads(msg_type))
    values, records = wire_values(msg_type, payload)
    host = encode_frame(msg_type, payload, seq=seq, flags=flags)
    assert firmware_encode(msg_type, values, records, seq=seq, flags=flags) == host
