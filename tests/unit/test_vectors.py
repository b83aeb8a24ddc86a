"""Golden vectors: the construct codec and the firmware codec (under CPython)
produce and parse every vector identically, one assertion per field."""

import pytest

from afbms.protocol.enums import MsgType
from afbms.protocol.frame import decode_frame, encode_frame
from afbms.protocol.fwcheck import decoded_fields
from afbms.protocol.vectors import build_vectors, render_vectors, vectors_path
from tests.codec_util import BY_NAME, VECTOR_FIELDS, VECTORS, run_firmware_check_in_cpython

NAMES = [v["name"] for v in VECTORS]


@pytest.fixture(scope="module")
def firmware_results():
    return run_firmware_check_in_cpython()


def test_committed_vectors_match_declarations():
    assert vectors_path().read_text(encoding="utf-8") == render_vectors(build_vectors())


def test_every_message_type_has_a_vector():
    assert {v["msg_type"] for v in VECTORS} == {t.name for t in MsgType}


# --- construct codec -------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_construct_encodes_vector(name):
    v = BY_NAME[name]
    wire = encode_frame(MsgType[v["msg_type"]], v["fields"], seq=v["seq"], flags=v["flags"])
    assert wire.hex() == v["hex"]


@pytest.mark.parametrize("name,field", VECTOR_FIELDS)
def test_construct_decodes_field(name, field):
    v = BY_NAME[name]
    decoded = decode_frame(bytes.fromhex(v["hex"])).payload
    assert decoded[field] == v["fields"][field]


@pytest.mark.parametrize("name", NAMES)
def test_construct_decodes_header(name):
    v = BY_NAME[name]
    frame = decode_frame(bytes.fromhex(v["hex"]))
    assert (frame.msg_type, frame.seq, frame.flags) == (
        MsgType[v["msg_type"]],
        v["seq"],
        v["flags"],
    )


# --- firmware codec under CPython --------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_firmware_encodes_vector(firmware_results, name):
    assert firmware_results[name]["encoded"] == BY_NAME[name]["hex"]


@pytest.mark.parametrize("name,field", VECTOR_FIELDS)
def test_firmware_decodes_field(firmware_results, name, field):
    v = BY_NAME[name]
    assert decoded_fields(v, firmware_results[name])[field] == v["fields"][field]


@pytest.mark.parametrize("name", NAMES)
def test_firmware_decodes_header(firmware_results, name):
    v = BY_NAME[name]
    r = firmware_results[name]
    assert (r["ready"], r["msg_type"], r["seq"], r["flags"], r["consumed"]) == (
        True,
        int(MsgType[v["msg_type"]]),
        v["seq"],
        v["flags"],
        r["total"],
    )


@pytest.mark.parametrize("name", [n for n in NAMES if BY_NAME[n]["fields"].get("records")])
def test_firmware_accepts_record_crcs(firmware_results, name):
    assert all(rec["ok"] for rec in firmware_results[name]["records"])
