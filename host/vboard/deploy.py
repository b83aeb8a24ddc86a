"""Put the firmware into a virtual board's flash directory (until ``afbms flash`` exists).

The flash gets the board's layout: ``main.py`` (always source: the board runs it by
name), ``hw``, ``bms/``, ``drivers/`` compiled with the real mpy-cross (or as sources),
and ``boards/sim/board.py`` as ``board``. A stale twin (``x.py`` next to a new
``x.mpy`` or the reverse) is removed: the VM would import the ``.py`` first.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from afbms import fwbuild, paths

_cache: dict[tuple[str, str], bytes] = {}


def _compile(source: Path, name: str) -> bytes:
    key = (name, hashlib.sha256(source.read_bytes()).hexdigest())
    if key not in _cache:
        _cache[key] = fwbuild.compile_file(source, name=name)
    return _cache[key]


def firmware_image(compiled: bool = True, board: str = "sim") -> dict[str, bytes]:
    """The flash files: path relative to the flash root -> bytes."""
    root = paths.firmware_dir()
    files: dict[str, bytes] = {}
    sources = [(root / rel, rel.as_posix()) for rel in fwbuild.firmware_sources(root)]
    sources.append((paths.boards_dir() / board / "board.py", "board.py"))
    for source, rel in sources:
        if rel == "main.py" or not compiled:
            files[rel] = source.read_bytes()
        else:
            files[rel[: -len(".py")] + ".mpy"] = _compile(source, rel)
    return files


def deploy_firmware(flash_dir: str | Path, compiled: bool = True, board: str = "sim") -> list[str]:
    """Write the firmware into ``flash_dir`` (created if missing); returns the paths
    written. Data the firmware keeps (``/data``) is left alone."""
    flash = Path(flash_dir)
    flash.mkdir(parents=True, exist_ok=True)
    written = []
    for rel, data in sorted(firmware_image(compiled, board).items()):
        target = flash / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        twin = target.with_suffix(".py" if target.suffix == ".mpy" else ".mpy")
        if twin.exists() and rel != "main.py":
            twin.unlink()
        if not target.exists() or target.read_bytes() != data:
            tmp = target.with_name(target.name + ".tmp")
            tmp.write_bytes(data)
            tmp.replace(target)
        written.append(rel)
    return written
