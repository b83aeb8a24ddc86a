"""Programs that check the generated firmware codec: golden vectors and heap use.

:func:`check_script` writes a program that imports ``bms.wire`` and, for every
vector, decodes the hex frame with ``wire.Decoder`` and re-encodes the fields
with ``wire.pack_<msg>`` + ``wire.Encoder``, printing one JSON line per vector.
The same program runs under CPython (firmware/ on sys.path) and inside the
real MicroPython VM, so both are held to the same vectors.
"""

from __future__ import annotations

import json
from typing import Any

from afbms.protocol.enums import MsgType
from afbms.protocol.layout import LOG_RECORD_LAYOUT, MESSAGE_LAYOUTS

_PROGRAM = """
import json
from binascii import hexlify, unhexlify

from bms import wire


def _plain(v):
    if isinstance(v, (bytes, bytearray)):
        return hexlify(v).decode()
    return v


def check(name, mtype, seq, flags, values, records, wire_hex):
    lower = TYPE_NAMES[mtype].lower()
    data = unhexlify(wire_hex)
    dec = wire.Decoder()
    pos = dec.feed(data, 0, len(data))
    out = {"name": name, "ready": dec.ready, "consumed": pos, "total": len(data),
           "version": dec.version, "msg_type": dec.msg_type, "seq": dec.seq,
           "flags": dec.flags, "length": dec.length}
    if dec.ready:
        fields = getattr(wire, "unpack_" + lower)(dec.buf, wire.HEADER_SIZE)
        out["fields"] = [_plain(v) for v in fields]
        recs = []
        base = wire.HEADER_SIZE + getattr(wire, TYPE_NAMES[mtype] + "_SIZE")
        for i in range(len(records)):
            off = base + i * wire.LOG_RECORD_SIZE
            end = off + wire.LOG_RECORD_BODY_SIZE
            body = [_plain(v) for v in wire.unpack_log_record(dec.buf, off)]
            body.append(dec.buf[end] | (dec.buf[end + 1] << 8))
            recs.append({"values": body, "ok": wire.log_record_ok(dec.buf, off)})
        out["records"] = recs
    enc = wire.Encoder()
    n = getattr(wire, "pack_" + lower)(enc.raw, wire.HEADER_SIZE, *values)
    for rec in records:
        n += wire.pack_log_record(enc.raw, wire.HEADER_SIZE + n, *rec)
    m = enc.finish(mtype, n, flags, seq)
    out["encoded"] = hexlify(enc.wire[0:m]).decode()
    print(json.dumps(out))


for vector in VECTORS:
    check(*vector)
print("DONE", len(VECTORS))
"""


def _wire_value(value: Any) -> Any:
    if isinstance(value, str):
        return value.encode("ascii")
    return int(value) if isinstance(value, int) else value


def vector_tuple(vector: dict[str, Any]) -> tuple:
    """(name, type code, seq, flags, field values in wire order, record tuples, hex)."""
    msg_type = MsgType[vector["msg_type"]]
    layout = MESSAGE_LAYOUTS[msg_type]
    fields = vector["fields"]
    values = tuple(_wire_value(fields[name]) for name in layout.names)
    body_names = [f.name for f in LOG_RECORD_LAYOUT.fields if f.name != "crc"]
    records = tuple(
        tuple(int(rec[name]) for name in body_names) for rec in fields.get("records", [])
    )
    return (
        vector["name"],
        int(msg_type),
        vector["seq"],
        vector["flags"],
        values,
        records,
        vector["hex"],
    )


def check_script(vectors: list[dict[str, Any]]) -> str:
    """The check program, with the vectors embedded as Python literals."""
    names = {int(t): t.name for t in MsgType}
    header = "TYPE_NAMES = " + repr(names) + "\nVECTORS = [\n"
    body = "".join("    " + repr(vector_tuple(v)) + ",\n" for v in vectors)
    return header + body + "]\n" + _PROGRAM


def parse_results(stdout: str) -> dict[str, dict[str, Any]]:
    """Results by vector name; raises ValueError if the program did not finish."""
    results = {}
    done = False
    for line in stdout.splitlines():
        if line.startswith("DONE"):
            done = True
        elif line.startswith("{"):
            result = json.loads(line)
            results[result["name"]] = result
    if not done:
        raise ValueError("firmware vector check did not run to the end")
    return results


def decoded_fields(vector: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
    """The firmware's decoded payload as a host-style dict (names, str, bytes)."""
    layout = MESSAGE_LAYOUTS[MsgType[vector["msg_type"]]]
    out: dict[str, Any] = {}
    for field, value in zip(layout.fields, result["fields"], strict=True):
        if field.text:
            value = bytes.fromhex(value).rstrip(b"\0").decode("ascii")
        elif field.fmt.endswith("s"):
            value = bytes.fromhex(value)
        out[field.name] = value
    if layout.array_field:
        names = [f.name for f in LOG_RECORD_LAYOUT.fields]
        out[layout.array_field] = [
            dict(zip(names, r["values"], strict=True)) for r in result["records"]
        ]
    return out


_ALLOC_PROGRAM = """
import gc
from bms import wire

enc = wire.Encoder()
raw = enc.raw
HS = wire.HEADER_SIZE


def encode_telemetry(i):
    n = wire.pack_telemetry(raw, HS, 847000000 + i, i % 1000, 3900000 + i, 1570, 5000000,
                            25125, i, wire.STATE_CHARGE, 0)
    return enc.finish(wire.MSG_TELEMETRY, n, 0, -1)


def encode_log_page(i):
    n = wire.pack_log_data(raw, HS, i, wire.LOG_PAGE_RECORDS)
    for r in range(wire.LOG_PAGE_RECORDS):
        n += wire.pack_log_record(raw, HS + n, i + r, 847000000, 0, wire.LOG_SAMPLE,
                                  wire.STATE_CHARGE, 0, 0, 3900000, 1570, 5000000, 25125, r)
    return enc.finish(wire.MSG_LOG_DATA, n, 0, -1)


def measure(fn, count):
    for i in range(10):  # warm up: first calls may intern or grow internal state
        fn(i)
    gc.collect()
    before = gc.mem_alloc()
    for i in range(count):
        fn(i)
    after = gc.mem_alloc()
    return after - before


print("ALLOC telemetry", COUNT, measure(encode_telemetry, COUNT))
print("ALLOC log_page", COUNT_PAGES, measure(encode_log_page, COUNT_PAGES))
"""


def alloc_script(count: int = 1000, count_pages: int = 20) -> str:
    """A program printing heap bytes allocated by ``count`` TELEMETRY encodes and
    ``count_pages`` full LOG_DATA page encodes: lines ``ALLOC <what> <n> <bytes>``."""
    return f"COUNT = {count}\nCOUNT_PAGES = {count_pages}\n" + _ALLOC_PROGRAM


def parse_alloc(stdout: str) -> dict[str, tuple[int, int]]:
    """{what: (iterations, bytes allocated)} from an alloc_script run."""
    out = {}
    for line in stdout.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[0] == "ALLOC":
            out[parts[1]] = (int(parts[2]), int(parts[3]))
    return out
