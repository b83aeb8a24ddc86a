"""Generate the firmware codec ``firmware/bms/wire.py`` from the declarations.

Usage::

    python -m afbms.protocol.codegen            # write firmware/bms/wire.py
    python -m afbms.protocol.codegen --check    # exit 1 if the file is stale
    python -m afbms.protocol.codegen --stdout   # print it

The output is MicroPython-only code: constants via ``const()``, one struct
format, size, ``pack_<msg>`` and ``unpack_<msg>`` per message, CRC-16 from a
table, COBS encode and in-place decode, and an Encoder/Decoder pair working
in buffers allocated once. The encode path (pack, CRC, COBS) allocates
nothing for small-int field values.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from enum import IntFlag
from pathlib import Path

from afbms.paths import firmware_dir
from afbms.protocol.crc import CRC16_INIT, crc16_table
from afbms.protocol.enums import CODEGEN_PREFIX, MsgType
from afbms.protocol.frame import CRC_SIZE, HEADER_SIZE, MAX_FRAME, MAX_PAYLOAD, MAX_WIRE
from afbms.protocol.layout import LOG_RECORD_LAYOUT, MESSAGE_LAYOUTS, Layout
from afbms.protocol.messages import CONFIG_KEY_ALL, LOG_PAGE_RECORDS
from afbms.protocol.schema import SCHEMA_HASH
from afbms.protocol.version import PROTOCOL_MAJOR, PROTOCOL_MINOR, PROTOCOL_VERSION

HEADER_FMT = "<BBHBH"
_SMALL_INT_MAX = (1 << 30) - 1  # larger constants are not small ints on MicroPython

_STATIC_CODE = '''
def crc16(buf, start, end, crc):
    """CRC-16/CCITT-FALSE of buf[start:end], continuing from crc (init 0xFFFF)."""
    t = _CRC_TABLE
    for i in range(start, end):
        crc = ((crc << 8) & 0xFFFF) ^ t[((crc >> 8) ^ buf[i]) & 0xFF]
    return crc


def cobs_encode(src, n, dst):
    """COBS-encode src[0:n] into dst; return the encoded length (no delimiter)."""
    code_at = 0
    code = 1
    o = 1
    for i in range(n):
        b = src[i]
        if b == 0:
            dst[code_at] = code
            code_at = o
            o += 1
            code = 1
        else:
            dst[o] = b
            o += 1
            code += 1
            if code == 0xFF and i + 1 < n:
                dst[code_at] = code
                code_at = o
                o += 1
                code = 1
    dst[code_at] = code
    return o


def cobs_decode(buf, n):
    """Decode buf[0:n] in place; return the decoded length, or -1 if malformed."""
    i = 0
    o = 0
    while i < n:
        code = buf[i]
        if code == 0:
            return -1
        i += 1
        end = i + code - 1
        if end > n:
            return -1
        while i < end:
            buf[o] = buf[i]
            o += 1
            i += 1
        if code != 0xFF and i < n:
            buf[o] = 0
            o += 1
    return o


class Encoder:
    """Builds frames in buffers allocated once.

    Pack a payload into ``raw`` at HEADER_SIZE with a pack_<msg> helper, then
    ``n = finish(msg_type, length, flags, seq)`` and send ``wire[0:n]``.
    """

    def __init__(self):
        self.raw = bytearray(MAX_FRAME)
        self.wire = bytearray(MAX_WIRE)
        self.seq = 0

    def finish(self, msg_type, length, flags, seq):
        """Header, CRC, COBS and delimiter; seq < 0 takes the next own sequence number."""
        if seq < 0:
            seq = self.seq
            self.seq = (seq + 1) & 0xFFFF
        raw = self.raw
        pack_into(HEADER_FMT, raw, 0, PROTOCOL_VERSION, msg_type, seq, flags, length)
        end = HEADER_SIZE + length
        crc = crc16(raw, 0, end, _CRC_INIT)
        raw[end] = crc & 0xFF
        raw[end + 1] = crc >> 8
        n = cobs_encode(raw, end + CRC_SIZE, self.wire)
        self.wire[n] = 0
        return n + 1


class Decoder:
    """Reassembles frames from a byte stream, resynchronising at every 0x00.

    ``feed(data, start, end)`` consumes bytes until a valid frame completes and
    returns the index after it (or ``end``). When ``ready`` is true the frame's
    header is in ``version``, ``msg_type``, ``seq``, ``flags``, ``length`` and
    its payload in ``buf[HEADER_SIZE:HEADER_SIZE + length]``. Corrupt frames
    are counted in ``rejected`` and never surface.
    """

    def __init__(self):
        self.buf = bytearray(MAX_WIRE)
        self.n = 0
        self.dropping = False
        self.ready = False
        self.version = 0
        self.msg_type = 0
        self.seq = 0
        self.flags = 0
        self.length = 0
        self.accepted = 0
        self.rejected = 0

    def feed(self, data, start, end):
        self.ready = False
        buf = self.buf
        size = len(buf)
        i = start
        while i < end:
            b = data[i]
            i += 1
            if b != 0:
                if self.n < size:
                    buf[self.n] = b
                    self.n += 1
                else:
                    self.dropping = True
                continue
            n = self.n
            self.n = 0
            if self.dropping:
                self.dropping = False
                self.rejected += 1
                continue
            if n == 0:
                continue
            if self._accept(cobs_decode(buf, n)):
                self.accepted += 1
                self.ready = True
                return i
            self.rejected += 1
        return i

    def _accept(self, m):
        if m < HEADER_SIZE + CRC_SIZE:
            return False
        buf = self.buf
        end = m - CRC_SIZE
        if crc16(buf, 0, end, _CRC_INIT) != buf[end] | (buf[end + 1] << 8):
            return False
        length = buf[5] | (buf[6] << 8)
        if length != end - HEADER_SIZE:
            return False
        self.version = buf[0]
        self.msg_type = buf[1]
        self.seq = buf[2] | (buf[3] << 8)
        self.flags = buf[4]
        self.length = length
        return True
'''


def _const(name: str, value: int, comment: str = "", *, hex_digits: int = 0) -> str:
    """``NAME = const(value)``; hex when hex_digits is set, plain when not a small int."""
    tail = f"  # {comment}" if comment else ""
    text = f"0x{value:0{hex_digits}X}" if hex_digits else str(value)
    if 0 <= value <= _SMALL_INT_MAX:
        return f"{name} = const({text}){tail}"
    return f"{name} = {text}{tail}"


_LINE = 100


def _call(head: str, args: list[str], tail: str = ")", indent: str = "") -> list[str]:
    """``head(args)tail`` on one line, or one argument per line when too long."""
    one = f"{indent}{head}({', '.join(args)}{tail}"
    if len(one) <= _LINE:
        return [one]
    return [f"{indent}{head}(", *[f"{indent}    {a}," for a in args], f"{indent}{tail}"]


def _doc(text: str, indent: str = "    ") -> list[str]:
    one = f'{indent}"""{text}"""'
    if len(one) <= _LINE:
        return [one]
    wrapped = textwrap.wrap(text, _LINE - len(indent) - 3)
    return [f'{indent}"""{wrapped[0]}', *[f"{indent}{w}" for w in wrapped[1:]], f'{indent}"""']


def _message_code(upper: str, lower: str, layout: Layout, doc: str) -> list[str]:
    names = list(layout.names)
    lines = [
        f'{upper}_FMT = "{layout.fmt}"',
        f"{upper}_SIZE = const({layout.size})",
        "",
        "",
        *_call(f"def pack_{lower}", ["buf", "off", *names], "):"),
        *_doc(f"{doc} Pack into buf at off; return the byte count."),
    ]
    if names:
        lines += _call("pack_into", [f"{upper}_FMT", "buf", "off", *names], indent="    ")
    lines += [f"    return {upper}_SIZE", "", ""]
    lines += [
        f"def unpack_{lower}(buf, off):",
        *_doc(f"Return ({', '.join(names)})."),
        f"    return unpack_from({upper}_FMT, buf, off)",
        "",
        "",
    ]
    return lines


def _record_code(layout: Layout) -> list[str]:
    body = [f for f in layout.fields if f.name != layout.checksum_field]
    body_fmt = "<" + "".join(f.fmt for f in body)
    names = [f.name for f in body]
    body_size = Layout("b", tuple(body)).size
    return [
        f'LOG_RECORD_FMT = "{body_fmt}"  # body; CRC-16 of the body follows',
        f"LOG_RECORD_BODY_SIZE = const({body_size})",
        f"LOG_RECORD_SIZE = const({layout.size})",
        "",
        "",
        *_call("def pack_log_record", ["buf", "off", *names], "):"),
        '    """One log record with its CRC at buf[off]; return LOG_RECORD_SIZE."""',
        *_call("pack_into", ["LOG_RECORD_FMT", "buf", "off", *names], indent="    "),
        "    end = off + LOG_RECORD_BODY_SIZE",
        "    crc = crc16(buf, off, end, _CRC_INIT)",
        "    buf[end] = crc & 0xFF",
        "    buf[end + 1] = crc >> 8",
        "    return LOG_RECORD_SIZE",
        "",
        "",
        "def log_record_ok(buf, off):",
        '    """True when the record at buf[off] has a matching CRC."""',
        "    end = off + LOG_RECORD_BODY_SIZE",
        "    return crc16(buf, off, end, _CRC_INIT) == buf[end] | (buf[end + 1] << 8)",
        "",
        "",
        "def unpack_log_record(buf, off):",
        *_doc(f"Return ({', '.join(names)})."),
        "    return unpack_from(LOG_RECORD_FMT, buf, off)",
        "",
        "",
    ]


def generate() -> str:
    """The complete text of firmware/bms/wire.py."""
    out = [
        "# GENERATED by afbms.protocol.codegen from protocol/: do not edit.",
        "# Regenerate with: python -m afbms.protocol.codegen",
        f'"""afbms wire codec, protocol {PROTOCOL_MAJOR}.{PROTOCOL_MINOR}, '
        f'schema 0x{SCHEMA_HASH:08X}."""',
        "",
        "from array import array",
        "from struct import pack_into, unpack_from",
        "",
        "try:",
        "    from micropython import const",
        "except ImportError:  # CPython, for host-side tests",
        "",
        "    def const(__x):",
        "        return __x",
        "",
        "",
        _const(
            "PROTOCOL_VERSION", PROTOCOL_VERSION, f"{PROTOCOL_MAJOR}.{PROTOCOL_MINOR}", hex_digits=2
        ),
        _const("SCHEMA_HASH", SCHEMA_HASH, "first 4 bytes of SHA-256 of the schema", hex_digits=8),
        _const("HEADER_SIZE", HEADER_SIZE, "version, type, seq, flags, length"),
        _const("CRC_SIZE", CRC_SIZE),
        _const("MAX_PAYLOAD", MAX_PAYLOAD),
        _const("MAX_FRAME", MAX_FRAME, "unframed bytes"),
        _const("MAX_WIRE", MAX_WIRE, "COBS bytes + delimiter"),
        _const("LOG_PAGE_RECORDS", LOG_PAGE_RECORDS),
        _const("CONFIG_KEY_ALL", CONFIG_KEY_ALL, hex_digits=4),
        f'HEADER_FMT = "{HEADER_FMT}"',
        # Private consts are inlined, not stored: define them before any use.
        _const("_CRC_INIT", CRC16_INIT, "CRC-16/CCITT-FALSE initial value", hex_digits=4),
        "",
    ]
    for enum_class, prefix in CODEGEN_PREFIX.items():
        out.append(f"# {enum_class.__name__}")
        digits = 2 if enum_class is MsgType else (8 if issubclass(enum_class, IntFlag) else 0)
        out += [_const(f"{prefix}_{m.name}", int(m.value), hex_digits=digits) for m in enum_class]
        out.append("")
    out.append("# Smallest payload of each message type (newer minor versions may send longer).")
    out.append("PAYLOAD_SIZE = {")
    out += [f"    MSG_{t.name}: {MESSAGE_LAYOUTS[t].size}," for t in sorted(MESSAGE_LAYOUTS)]
    out += ["}", "", ""]
    for msg_type in sorted(MESSAGE_LAYOUTS):
        layout = MESSAGE_LAYOUTS[msg_type]
        doc = f"{msg_type.name} payload."
        if layout.item is not None:
            doc = (
                f"{msg_type.name} header; {layout.count_field} records of "
                f"LOG_RECORD_SIZE follow it."
            )
        out += _message_code(msg_type.name, msg_type.name.lower(), layout, doc)
    out += _record_code(LOG_RECORD_LAYOUT)
    table = crc16_table()
    rows = [", ".join(f"0x{v:04X}" for v in table[i : i + 8]) for i in range(0, 256, 8)]
    out.append("# fmt: off")
    out.append('_CRC_TABLE = array("H", (')
    out += [f"    {row}," for row in rows]
    out.append("))")
    out.append("# fmt: on")
    out.append(_STATIC_CODE.rstrip("\n"))
    return "\n".join(out).rstrip("\n") + "\n"


def default_output() -> Path:
    return firmware_dir() / "bms" / "wire.py"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m afbms.protocol.codegen",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--output", type=Path, default=None, help="file to write")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="exit 1 if the file is stale")
    mode.add_argument("--stdout", action="store_true", help="print instead of writing")
    args = parser.parse_args(argv)
    text = generate()
    target = args.output or default_output()
    if args.stdout:
        sys.stdout.write(text)
        return 0
    if args.check:
        current = target.read_text(encoding="utf-8") if target.exists() else ""
        if current != text:
            print(f"{target.name} is stale: run python -m afbms.protocol.codegen", file=sys.stderr)
            return 1
        return 0
    target.write_text(text, encoding="utf-8")
    print(f"wrote {target} ({len(text.splitlines())} lines, schema 0x{SCHEMA_HASH:08X})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
