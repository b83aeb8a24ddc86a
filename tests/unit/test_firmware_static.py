"""Every firmware file compiles with the real mpy-cross (the MicroPython subset)."""

from pathlib import Path

import pytest

from afbms.fwbuild import CompileError, compile_file, firmware_sources
from afbms.paths import firmware_dir

# .mpy header: b"M", then the bytecode format version. mpy-cross 1.29 (pinned in
# pyproject.toml) writes version 6, which is what the boards and the VM load.
MPY_MAGIC = b"M"
MPY_VERSION = 6

SOURCES = list(firmware_sources())


def test_firmware_tree_has_sources():
    # An empty list would make the parametrized test below vanish silently.
    assert SOURCES, f"no firmware sources found under {firmware_dir()}"
    assert all(not p.is_absolute() and p.suffix == ".py" for p in SOURCES)


@pytest.mark.parametrize("rel", SOURCES, ids=[p.as_posix() for p in SOURCES])
def test_firmware_file_compiles(rel: Path):
    mpy = compile_file(firmware_dir() / rel)
    assert mpy[:1] == MPY_MAGIC
    assert mpy[1] == MPY_VERSION


def test_match_statement_is_rejected(tmp_path: Path):
    source = tmp_path / "uses_match.py"
    source.write_text(
        "def kind(x):\n"
        "    match x:\n"
        "        case 0:\n"
        "            return 'zero'\n"
        "        case _:\n"
        "            return 'other'\n"
    )
    with pytest.raises(CompileError) as excinfo:
        compile_file(source)
    assert (excinfo.value.source, excinfo.value.line) == (source, 2)


def test_plain_micropython_source_compiles(tmp_path: Path):
    # The counterpart of the test above: the const() idiom the firmware uses.
    source = tmp_path / "plain.py"
    source.write_text(
        "try:\n"
        "    from micropython import const\n"
        "except ImportError:  # CPython\n"
        "    def const(__x): return __x\n"
        "\n"
        "LIMIT = const(4200)\n"
    )
    mpy = compile_file(source)
    assert mpy[:1] == MPY_MAGIC
    assert mpy[1] == MPY_VERSION
