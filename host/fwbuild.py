"""Compile firmware sources with the real mpy-cross.

``python -m afbms.fwbuild`` compiles every firmware file and prints
``compiled N files``, or one ``path:line: message`` per rejected file and exits 1
(used by ``make mpy`` and CI).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from afbms.paths import firmware_dir

# Files in the firmware folder that are host-side packaging, not firmware.
_NOT_FIRMWARE = {"__init__.py"}


class CompileError(Exception):
    """mpy-cross rejected a source file (syntax outside the MicroPython subset)."""

    def __init__(self, source: Path, line: int | None, message: str) -> None:
        where = f"{source}:{line}" if line is not None else str(source)
        super().__init__(f"{where}: {message}")
        self.source = source
        self.line = line
        self.message = message


def firmware_sources(root: Path | None = None) -> Iterator[Path]:
    """Every .py file that is deployed to a board, sorted, relative paths below ``root``."""
    root = root or firmware_dir()
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if "__pycache__" in rel.parts or (len(rel.parts) == 1 and rel.name in _NOT_FIRMWARE):
            continue
        yield rel


def compile_file(source: Path, *, arch: str | None = None, name: str | None = None) -> bytes:
    """Compile one file and return the .mpy bytes.

    ``name`` is the source name recorded in the .mpy (shown in tracebacks on the
    board). Raises CompileError with mpy-cross's message and line.
    """
    with tempfile.TemporaryDirectory(prefix="afbms-mpy-") as tmp:
        out = Path(tmp) / (source.stem + ".mpy")
        cmd = [sys.executable, "-m", "mpy_cross", "-o", str(out)]
        if arch:
            cmd.append(f"-march={arch}")
        if name:
            cmd += ["-s", name]
        cmd.append(str(source))
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        if proc.returncode != 0:
            text = (proc.stderr or proc.stdout).strip()
            lines = re.findall(r", line (\d+)", text)
            message = text.splitlines()[-1] if text else "mpy-cross failed"
            raise CompileError(source, int(lines[-1]) if lines else None, message)
        return out.read_bytes()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m afbms.fwbuild", description=__doc__)
    parser.add_argument("--root", type=Path, default=None, help="firmware tree (default: shipped)")
    parser.add_argument("--arch", default=None, help="mpy-cross -march (native/viper code only)")
    args = parser.parse_args(argv)
    root: Path = args.root or firmware_dir()
    compiled = 0
    failures = []
    for rel in firmware_sources(root):
        try:
            compile_file(root / rel, arch=args.arch, name=str(rel))
        except CompileError as exc:
            failures.append(f"{rel}:{exc.line or '?'}: {exc.message}")
        else:
            compiled += 1
    for line in failures:
        print(line, file=sys.stderr)
    print(f"compiled {compiled} files" + (f", {len(failures)} failed" if failures else ""))
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
