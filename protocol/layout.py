"""Flat struct layouts derived from the construct declarations.

The code generator, the fast host codec and the schema hash all read the
declarations through this module, so none of them can drift from
:mod:`.messages`. Only the shapes the protocol uses are understood; anything
else raises ``TypeError`` at import time rather than producing a wrong codec.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from construct import (
    Array,
    Bytes,
    Checksum,
    Construct,
    Enum,
    FormatField,
    RawCopy,
    Rebuild,
    Renamed,
    Struct,
)

from afbms.protocol.enums import MsgType
from afbms.protocol.messages import LOG_PAGE_RECORDS, PAYLOADS, LogRecord

# construct uses the native-size-independent long codes; MicroPython's struct
# knows both, the generated code uses the int codes for clarity.
_FMT_ALIASES = {"L": "I", "l": "i"}


@dataclass(frozen=True)
class Field:
    name: str
    fmt: str  # one struct code, e.g. "I" or "16s"
    enum_class: type | None = None
    flag_class: type | None = None
    text: bool = False  # NUL-padded ASCII text (bytes on the device)

    @property
    def size(self) -> int:
        return struct.calcsize("<" + self.fmt)


@dataclass(frozen=True)
class Layout:
    """A fixed-size run of fields, optionally followed by a counted array of records."""

    name: str
    fields: tuple[Field, ...]
    array_field: str | None = None  # name of the array (e.g. "records")
    count_field: str | None = None  # field holding the array's length
    item: Layout | None = None  # layout of one array item
    max_items: int = 0
    checksum_field: str | None = None  # last field is a CRC over the others

    @property
    def fmt(self) -> str:
        return "<" + "".join(f.fmt for f in self.fields)

    @property
    def size(self) -> int:
        """Bytes of the fixed part."""
        return struct.calcsize(self.fmt)

    @property
    def max_size(self) -> int:
        extra = self.item.size * self.max_items if self.item else 0
        return self.size + extra

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)


def _unwrap(con: Construct) -> tuple[Construct, Construct]:
    """(tagged construct, innermost construct) through Rebuild wrappers."""
    inner = con
    while isinstance(inner, Rebuild):
        inner = inner.subcon
    return con, inner


def _field(name: str, con: Construct) -> Field:
    tagged, inner = _unwrap(con)
    if getattr(tagged, "fixed_bytes", None):
        return Field(name, f"{tagged.fixed_bytes}s", text=True)
    if isinstance(inner, Enum):
        base = inner.subcon
        return Field(name, _format_code(base), enum_class=getattr(inner, "enum_class", None))
    if isinstance(inner, FormatField):
        return Field(name, _format_code(inner), flag_class=getattr(inner, "flag_class", None))
    if isinstance(inner, Bytes) and isinstance(inner.length, int):
        return Field(name, f"{inner.length}s")
    raise TypeError(f"field {name!r}: unsupported construct {type(inner).__name__}")


def _format_code(con: Construct) -> str:
    if not isinstance(con, FormatField) or con.fmtstr[0] != "<":
        raise TypeError(f"expected a little-endian FormatField, got {con!r}")
    code = con.fmtstr[1:]
    return _FMT_ALIASES.get(code, code)


def _record_layout(name: str, con: Struct) -> Layout:
    """The RawCopy(body) + Checksum pattern: body fields then the CRC field."""
    subs = [s for s in con.subcons if isinstance(s, Renamed)]
    if (
        len(subs) == 2
        and isinstance(subs[0].subcon, RawCopy)
        and isinstance(subs[1].subcon, Checksum)
    ):
        body = struct_layout(name + "_body", subs[0].subcon.subcon)
        crc = Field(subs[1].name, _format_code(subs[1].subcon.checksumfield))
        return Layout(name, (*body.fields, crc), checksum_field=crc.name)
    return struct_layout(name, con)


def struct_layout(name: str, con: Struct) -> Layout:
    """Flatten one Struct into a Layout."""
    if not isinstance(con, Struct):
        raise TypeError(f"{name}: expected a Struct")
    fields: list[Field] = []
    array_field = count_field = None
    item = None
    for sub in con.subcons:
        if not isinstance(sub, Renamed):
            raise TypeError(f"{name}: unnamed subcon {sub!r}")
        if isinstance(sub.subcon, Array):
            if array_field is not None or sub is not con.subcons[-1]:
                raise TypeError(f"{name}: only one trailing array is supported")
            array_field = sub.name
            count_field = _count_name(sub.subcon.count)
            item = _record_layout(name + "_" + sub.name, sub.subcon.subcon)
            continue
        fields.append(_field(sub.name, sub.subcon))
    return Layout(
        name,
        tuple(fields),
        array_field=array_field,
        count_field=count_field,
        item=item,
        max_items=LOG_PAGE_RECORDS if item else 0,
    )


def _count_name(expr: object) -> str:
    # `this.count` renders as "this['count']"
    text = repr(expr)
    if text.startswith("this[") and text.endswith("]"):
        return text[5:-1].strip("'\"")
    raise TypeError(f"array count must be this.<field>, got {text}")


def message_name(msg_type: MsgType) -> str:
    return msg_type.name.lower()


MESSAGE_LAYOUTS: dict[MsgType, Layout] = {
    t: struct_layout(message_name(t), con) for t, con in PAYLOADS.items()
}
LOG_RECORD_LAYOUT: Layout = _record_layout("log_record", LogRecord)
