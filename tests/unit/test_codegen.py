"""The committed firmware codec is exactly what the generator makes from protocol/."""

import pytest

from afbms.protocol import codegen
from afbms.protocol.enums import CODEGEN_PREFIX, MsgType
from afbms.protocol.frame import CRC_SIZE, HEADER_SIZE, MAX_FRAME, MAX_PAYLOAD, MAX_WIRE
from afbms.protocol.layout import LOG_RECORD_LAYOUT, MESSAGE_LAYOUTS
from afbms.protocol.messages import PAYLOADS
from afbms.protocol.schema import SCHEMA_HASH
from afbms.protocol.version import PROTOCOL_VERSION
from bms import wire


def test_committed_wire_py_is_fresh():
    committed = codegen.default_output().read_text(encoding="utf-8")
    assert committed == codegen.generate(), "run: python -m afbms.protocol.codegen"


def test_check_mode_reports_stale_file(tmp_path, capsys):
    stale = tmp_path / "wire.py"
    stale.write_text("# old\n", encoding="utf-8")
    assert codegen.main(["--check", "--output", str(stale)]) == 1
    assert "stale" in capsys.readouterr().err


def test_check_mode_accepts_fresh_file(tmp_path):
    fresh = tmp_path / "wire.py"
    assert codegen.main(["--output", str(fresh)]) == 0
    assert codegen.main(["--check", "--output", str(fresh)]) == 0


def test_generated_file_says_it_is_generated():
    assert codegen.generate().startswith("# GENERATED")


def test_version_and_schema_constants():
    assert (wire.PROTOCOL_VERSION, wire.SCHEMA_HASH) == (PROTOCOL_VERSION, SCHEMA_HASH)


def test_frame_size_constants():
    sizes = (wire.HEADER_SIZE, wire.CRC_SIZE, wire.MAX_PAYLOAD, wire.MAX_FRAME, wire.MAX_WIRE)
    assert sizes == (HEADER_SIZE, CRC_SIZE, MAX_PAYLOAD, MAX_FRAME, MAX_WIRE)


@pytest.mark.parametrize(
    "enum_class,member",
    [(cls, m) for cls in CODEGEN_PREFIX for m in cls],
    ids=lambda x: getattr(x, "name", getattr(x, "__name__", str(x))),
)
def test_enum_constant(enum_class, member):
    assert getattr(wire, f"{CODEGEN_PREFIX[enum_class]}_{member.name}") == int(member)


@pytest.mark.parametrize("msg_type", list(MsgType), ids=lambda t: t.name)
def test_payload_size_matches_construct(msg_type):
    layout = MESSAGE_LAYOUTS[msg_type]
    if layout.item is None:
        assert getattr(wire, f"{msg_type.name}_SIZE") == PAYLOADS[msg_type].sizeof()
    assert wire.PAYLOAD_SIZE[int(msg_type)] == layout.size


def test_log_record_size():
    assert wire.LOG_RECORD_SIZE == LOG_RECORD_LAYOUT.size == 40
