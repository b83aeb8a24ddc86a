"""The generated firmware codec, compiled by mpy-cross, inside the real MicroPython VM:
golden vectors field by field, zero heap allocation on the encode path, and
resynchronisation after garbage."""

import random

import pytest

from afbms.mpvm import firmware_files, run_script
from afbms.protocol.enums import MsgType
from afbms.protocol.frame import encode_frame
from afbms.protocol.fwcheck import (
    alloc_script,
    check_script,
    decoded_fields,
    parse_alloc,
    parse_results,
)
from tests.codec_util import BY_NAME, VECTOR_FIELDS, VECTORS

pytestmark = pytest.mark.vm

NAMES = [v["name"] for v in VECTORS]
CODEC = ["bms/__init__.py", "bms/wire.py"]


@pytest.fixture(scope="module")
def codec_files():
    return firmware_files(CODEC, compile=True)


@pytest.fixture(scope="module")
def vm_results(codec_files):
    result = run_script(check_script(VECTORS), codec_files, timeout=120)
    return parse_results(result.stdout.decode())


def test_codec_runs_from_mpy(codec_files):
    assert set(codec_files) == {"/lib/bms/__init__.mpy", "/lib/bms/wire.mpy"}


@pytest.mark.parametrize("name", NAMES)
def test_vm_encodes_vector(vm_results, name):
    assert vm_results[name]["encoded"] == BY_NAME[name]["hex"]


@pytest.mark.parametrize("name,field", VECTOR_FIELDS)
def test_vm_decodes_field(vm_results, name, field):
    v = BY_NAME[name]
    assert decoded_fields(v, vm_results[name])[field] == v["fields"][field]


@pytest.mark.parametrize("name", NAMES)
def test_vm_decodes_header(vm_results, name):
    v = BY_NAME[name]
    r = vm_results[name]
    expected = (True, int(MsgType[v["msg_type"]]), v["seq"], v["flags"], r["total"])
    assert (r["ready"], r["msg_type"], r["seq"], r["flags"], r["consumed"]) == expected


def test_encode_path_allocates_nothing(codec_files):
    result = run_script(alloc_script(count=500, count_pages=10), codec_files)
    assert parse_alloc(result.stdout.decode()) == {"telemetry": (500, 0), "log_page": (10, 0)}


def test_decoder_survives_garbage_and_resyncs(codec_files):
    rng = random.Random(1)
    good = encode_frame(MsgType.ACK, {"acked_type": MsgType.COMMAND}, seq=7)
    stream = bytearray()
    for _ in range(50):
        stream += bytes(rng.randrange(256) for _ in range(rng.randrange(1, 400)))
        stream += b"\0" + good
    script = f"""
from bms import wire
data = bytes.fromhex({stream.hex()!r})
dec = wire.Decoder()
pos = 0
seqs = []
while pos < len(data):
    pos = dec.feed(data, pos, len(data))
    if dec.ready:
        seqs.append(dec.seq)
print(len(seqs), sum(1 for s in seqs if s != 7), dec.rejected > 0)
"""
    result = run_script(script, codec_files)
    assert result.stdout.decode().split() == ["50", "0", "True"]
