"""Shared helpers for golden-vector tests (construct codec, firmware codec)."""

import contextlib
import io

from afbms.protocol.fwcheck import check_script, parse_results
from afbms.protocol.vectors import load_vectors

VECTORS = load_vectors()
VECTOR_FIELDS = [(v["name"], f) for v in VECTORS for f in v["fields"]]
BY_NAME = {v["name"]: v for v in VECTORS}


def run_firmware_check_in_cpython() -> dict:
    """Run the firmware vector check program in this interpreter (firmware/ on sys.path)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(check_script(VECTORS), "fwcheck", "exec"), {"__name__": "fwcheck"})
    return parse_results(out.getvalue())


def feed_firmware(data: bytes, decoder=None) -> list[tuple[int, int, int, bytes]]:
    """(msg_type, seq, flags, payload) of every frame the firmware decoder accepts."""
    from bms import wire

    dec = decoder or wire.Decoder()
    frames, pos = [], 0
    while pos < len(data):
        pos = dec.feed(data, pos, len(data))
        if dec.ready:
            payload = bytes(dec.buf[wire.HEADER_SIZE : wire.HEADER_SIZE + dec.length])
            frames.append((dec.msg_type, dec.seq, dec.flags, payload))
    return frames


def firmware_encode(msg_type, values, records=(), *, seq=0, flags=0) -> bytes:
    """Wire bytes built by the firmware codec from field values in wire order."""
    from bms import wire

    enc = wire.Encoder()
    n = getattr(wire, "pack_" + msg_type.name.lower())(enc.raw, wire.HEADER_SIZE, *values)
    for rec in records:
        n += wire.pack_log_record(enc.raw, wire.HEADER_SIZE + n, *rec)
    m = enc.finish(int(msg_type), n, flags, seq)
    return bytes(enc.wire[:m])
