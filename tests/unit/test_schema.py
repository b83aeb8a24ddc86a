"""The schema hash: derived from the declarations, and refused when it differs."""

import pytest
from construct import Int8ul, Int32ul, Struct

from afbms.protocol import layout as layout_mod
from afbms.protocol import schema
from afbms.protocol.enums import MsgType
from afbms.protocol.version import PROTOCOL_VERSION


def test_hash_is_32_bit():
    assert 0 <= schema.SCHEMA_HASH < 2**32


def test_hash_is_stable_across_calls():
    assert schema.schema_hash() == schema.SCHEMA_HASH


def test_canonical_text_names_every_message():
    text = schema.canonical_schema()
    assert all(f"msg {t.name.lower()}:" in text for t in MsgType)


def test_changing_a_field_changes_the_hash(monkeypatch):
    changed = dict(layout_mod.MESSAGE_LAYOUTS)
    changed[MsgType.HELLO] = layout_mod.struct_layout(
        "hello", Struct("protocol_version" / Int8ul, "schema_hash" / Int32ul, "x" / Int8ul)
    )
    monkeypatch.setattr(schema, "MESSAGE_LAYOUTS", changed)
    assert schema.schema_hash() != schema.SCHEMA_HASH


def test_renaming_a_field_changes_the_hash(monkeypatch):
    changed = dict(layout_mod.MESSAGE_LAYOUTS)
    changed[MsgType.HELLO] = layout_mod.struct_layout(
        "hello", Struct("version" / Int8ul, "schema_hash" / Int32ul)
    )
    monkeypatch.setattr(schema, "MESSAGE_LAYOUTS", changed)
    assert schema.schema_hash() != schema.SCHEMA_HASH


def test_matching_peer_is_accepted():
    schema.check_peer(PROTOCOL_VERSION, schema.SCHEMA_HASH)


def test_newer_minor_with_same_schema_is_accepted():
    schema.check_peer(PROTOCOL_VERSION | 0x0F, schema.SCHEMA_HASH)


def test_other_schema_is_refused():
    with pytest.raises(schema.SchemaMismatch):
        schema.check_peer(PROTOCOL_VERSION, schema.SCHEMA_HASH ^ 1)


def test_other_major_is_refused():
    with pytest.raises(schema.VersionMismatch):
        schema.check_peer(PROTOCOL_VERSION + 0x10, schema.SCHEMA_HASH)
