"""Garbage, truncation, bit flips and doubled delimiters: neither decoder raises,
both resynchronise at the next delimiter, and no damaged frame is accepted."""

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from afbms.protocol.enums import MsgType
from afbms.protocol.frame import FrameReader, encode_frame
from bms import wire
from tests.codec_util import feed_firmware

TEMPLATES = [
    (MsgType.ACK, {"acked_type": MsgType.COMMAND}),
    (MsgType.CONFIG_SET, {"key": 4, "value": 4_300_000}),
    (MsgType.COMMAND, {"command": 4, "arg": 848_000_000}),
    (MsgType.LOG_READ, {"start_seq": 1_000, "count": 500}),
    (
        MsgType.TELEMETRY,
        dict(
            t_s=847_000_000, t_ms=1, voltage_uv=3_900_000, current_ua=1_570,
            pressure_pa=5_000_000, temperature_mc=25_000, charge_uah=10, state=2, faults=0,
        ),
    ),
]  # fmt: skip

MUTATIONS = ["intact", "bitflip", "truncate", "garbage", "double_delimiter", "drop_delimiter"]


def build_stream(rng: random.Random, count: int) -> tuple[bytes, list[int], int]:
    """A stream of frames, some damaged. Returns (stream, seqs that must be
    received, number of damaged frames). Each frame carries a unique seq."""
    out = bytearray()
    expected: list[int] = []
    damaged = 0
    clean_start = True  # the receiver is synchronised where this frame begins
    for seq in range(count):
        msg_type, payload = TEMPLATES[seq % len(TEMPLATES)]
        frame = bytearray(encode_frame(msg_type, payload, seq=seq & 0xFFFF))
        mutation = rng.choice(MUTATIONS)
        if mutation == "bitflip":
            pos = rng.randrange(len(frame) - 1)
            frame[pos] ^= 1 << rng.randrange(8)
            if frame[pos] == 0:  # the flip made a delimiter: the tail is garbage
                frame[pos] = 0x5A
            damaged += 1
        elif mutation == "truncate":
            frame = frame[: rng.randrange(1, len(frame) - 1)] + b"\0"
            damaged += 1
        elif mutation == "garbage":  # noise before the frame, ended by a delimiter
            out += bytes(rng.randrange(1, 256) for _ in range(rng.randrange(1, 40))) + b"\0"
            clean_start = True
        elif mutation == "double_delimiter":
            frame += b"\0"
        elif mutation == "drop_delimiter":
            frame = frame[:-1]  # glued to the next frame: both are lost
            damaged += 1
        intact = mutation in ("intact", "garbage", "double_delimiter")
        if intact and clean_start:
            expected.append(seq & 0xFFFF)
        clean_start = mutation != "drop_delimiter"
        out += frame
    return bytes(out), expected, damaged


def reader_seqs(stream: bytes, chunk: int) -> list[int]:
    reader = FrameReader()
    got = []
    for i in range(0, len(stream), chunk):
        got += [f.seq for f in reader.feed(stream[i : i + chunk])]
    return got


def firmware_seqs(stream: bytes) -> list[int]:
    return [seq for _, seq, _, _ in feed_firmware(stream)]


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=3000))
def test_random_bytes_never_raise_or_decode(data):
    assert reader_seqs(data, 64) == []
    assert firmware_seqs(data) == []


@settings(max_examples=200, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), chunk=st.integers(1, 300))
def test_damaged_streams_resync_and_reject(seed, chunk):
    stream, expected, _ = build_stream(random.Random(seed), 40)
    assert reader_seqs(stream, chunk) == expected
    assert firmware_seqs(stream) == expected


def test_corrupted_frames_are_counted_and_never_accepted():
    rng = random.Random(20261122)
    stream, expected, damaged = build_stream(rng, 5_000)
    reader = FrameReader()
    got = [f.seq for f in reader.feed(stream)]
    dec = wire.Decoder()
    fw = [seq for _, seq, _, _ in feed_firmware(stream, dec)]
    assert (got, fw) == (expected, expected)
    assert damaged > 1_000
    assert reader.stats.accepted == dec.accepted == len(expected)
    assert reader.stats.rejected + reader.stats.overflows > 0 and dec.rejected > 0


@pytest.mark.slow
def test_corrupted_frames_at_scale():
    rng = random.Random(7)
    stream, expected, damaged = build_stream(rng, 200_000)
    got = [f.seq for f in FrameReader().feed(stream)]
    assert got == expected and damaged > 50_000
