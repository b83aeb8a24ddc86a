"""The firmware's COBS agrees byte for byte with the host's COBS library."""

import pytest
from cobs import cobs

from bms import wire

EDGES = {
    "empty": b"",
    "one_zero": b"\x00",
    "two_zeros": b"\x00\x00",
    "zero_between": b"\x11\x00\x22",
    "trailing_zero": b"\x11\x22\x00",
    "run_253": bytes(range(1, 254)),
    "run_254": bytes(range(1, 255)),
    "run_255": bytes(range(1, 255)) + b"\x01",
    "run_254_then_zero": bytes(range(1, 255)) + b"\x00",
    "zero_then_run_254": b"\x00" + bytes(range(1, 255)),
    "run_508": bytes(range(1, 255)) * 2,
    "all_zeros_300": bytes(300),
}


def firmware_encode(data: bytes) -> bytes:
    out = bytearray(len(data) + len(data) // 254 + 2)
    n = wire.cobs_encode(data, len(data), out)
    return bytes(out[:n])


def firmware_decode(encoded: bytes) -> bytes | None:
    buf = bytearray(encoded)
    n = wire.cobs_decode(buf, len(buf))
    return None if n < 0 else bytes(buf[:n])


@pytest.mark.parametrize("name", EDGES)
def test_encode_matches_library(name):
    assert firmware_encode(EDGES[name]) == cobs.encode(EDGES[name])


@pytest.mark.parametrize("name", EDGES)
def test_decode_inverts_encode(name):
    assert firmware_decode(cobs.encode(EDGES[name])) == EDGES[name]


def test_decode_rejects_embedded_zero():
    assert firmware_decode(b"\x03\x11\x00\x22") is None


def test_decode_rejects_code_past_end():
    assert firmware_decode(b"\x05\x11\x22") is None


def test_encoded_output_has_no_zero():
    assert 0 not in firmware_encode(bytes(range(256)) * 3)
