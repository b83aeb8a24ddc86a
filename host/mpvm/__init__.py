"""Run MicroPython scripts inside the real MicroPython WebAssembly VM.

The VM is the npm package ``@micropython/micropython-webassembly-pyscript`` (pinned in
package.json, installed by ``npm ci``), driven by ``runner.mjs`` under node. Each call
starts a fresh VM in its own node process, writes the given files into the VM's
in-memory file system (``/lib`` is on its ``sys.path``) and runs the script.

    >>> files = firmware_files(["bms/wire.py"])
    >>> run_script("import bms.wire; print('ok')", files).stdout
    b'ok\\n'
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import signal
import subprocess
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from afbms import fwbuild, paths

__all__ = [
    "RUNNER",
    "VmError",
    "VmResult",
    "VmScriptError",
    "VmTimeout",
    "VmUnavailable",
    "firmware_files",
    "micropython_module",
    "node_executable",
    "run_script",
]

RUNNER = Path(__file__).with_name("runner.mjs")
_NPM_PACKAGE = "@micropython/micropython-webassembly-pyscript"
_INSTALL_HINT = "run `npm ci` in the checkout (or set AFBMS_NODE_MODULES)"


@dataclass(frozen=True)
class VmResult:
    """What one script run produced. ``returncode``: 0 finished, 1 raised, n for sys.exit(n),
    2 also when the runner itself failed (its stderr line then starts with ``mpvm runner:``)."""

    returncode: int
    stdout: bytes
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


class VmError(Exception):
    """Base of every error raised by this module."""


class VmUnavailable(VmError):
    """node or the MicroPython npm package is missing."""


class VmTimeout(VmError):
    """The script ran past its timeout; the node process was killed.

    ``stdout``/``stderr`` hold what had been flushed before the kill (possibly nothing).
    """

    def __init__(self, message: str, stdout: bytes = b"", stderr: str = "") -> None:
        super().__init__(message)
        self.stdout = stdout
        self.stderr = stderr


class VmScriptError(VmError):
    """The script exited with a non-zero status; ``result`` holds its output."""

    def __init__(self, result: VmResult) -> None:
        tail = "\n".join(result.stderr.rstrip().splitlines()[-20:])
        super().__init__(f"MicroPython script exited with status {result.returncode}:\n{tail}")
        self.result = result


def node_executable() -> str:
    """The ``node`` found on PATH."""
    node = shutil.which("node")
    if node is None:
        raise VmUnavailable(f"node is not on PATH: install Node.js >= 20, then {_INSTALL_HINT}")
    return node


def micropython_module() -> Path:
    """The VM's ``micropython.mjs`` inside :func:`afbms.paths.node_modules_dir`."""
    try:
        module = paths.node_modules_dir() / _NPM_PACKAGE / "micropython.mjs"
    except FileNotFoundError as exc:
        raise VmUnavailable(str(exc)) from exc
    if not module.is_file():
        raise VmUnavailable(f"MicroPython VM not installed ({module} is missing): {_INSTALL_HINT}")
    return module.resolve()


def run_script(
    script: str,
    files: Mapping[str, bytes] | None = None,
    *,
    timeout: float = 120.0,
    heap_size: int = 2 * 1024 * 1024,
    check: bool = True,
    on_start: Callable[[int], None] | None = None,
) -> VmResult:
    """Run ``script`` in a fresh VM after writing ``files`` (VM path -> bytes) into it.

    ``heap_size`` is the VM's initial GC heap; this port grows the heap on demand, so it
    is not a hard memory limit. ``on_start`` is called with the node process id.
    Raises VmTimeout after ``timeout`` seconds, VmScriptError for a non-zero status when
    ``check`` is true, VmUnavailable when node or the VM is missing.
    """
    encoded = {name: base64.b64encode(data).decode("ascii") for name, data in (files or {}).items()}
    request = {
        "module": str(micropython_module()),
        "heapsize": heap_size,
        "files": encoded,
        "script": script,
    }
    proc = subprocess.Popen(
        [node_executable(), str(RUNNER)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # own process group: a timeout kills all of it
    )
    try:
        if on_start is not None:
            on_start(proc.pid)
        try:
            stdout, stderr = proc.communicate(json.dumps(request).encode(), timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill(proc)
            out, err = proc.communicate()
            raise VmTimeout(
                f"MicroPython script still running after {timeout:g} s (killed)",
                out or b"",
                (err or b"").decode("utf-8", "replace"),
            ) from None
    finally:
        if proc.poll() is None:
            _kill(proc)
            proc.communicate()
    result = VmResult(proc.returncode, stdout, stderr.decode("utf-8", "replace"))
    if check and not result.ok:
        raise VmScriptError(result)
    return result


def _kill(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the process group that ``proc`` leads (it was started in its own session)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def firmware_files(
    modules: Iterable[str] | None = None,
    *,
    compile: bool = True,
    prefix: str = "/lib",
    root: Path | None = None,
) -> dict[str, bytes]:
    """The deployable firmware tree as VM files, e.g. ``{"/lib/bms/wire.mpy": b"M..."}``.

    ``modules`` picks files by path relative to the firmware folder (``"bms/wire.py"``);
    the ``__init__.py`` of each package above a picked file comes along. ``compile``
    turns each file into ``.mpy`` with the real mpy-cross, else the source is used.
    ``root`` replaces :func:`afbms.paths.firmware_dir` (for tests).
    """
    root = root or paths.firmware_dir()
    sources = {PurePosixPath(rel.as_posix()) for rel in fwbuild.firmware_sources(root)}
    if modules is None:
        chosen = sources
    else:
        chosen: set[PurePosixPath] = set()
        for name in modules:
            rel = PurePosixPath(name)
            if rel not in sources:
                raise FileNotFoundError(f"{name} is not a deployable file below {root}")
            chosen.add(rel)
            chosen.update(p / "__init__.py" for p in rel.parents if p / "__init__.py" in sources)
    prefix = prefix.rstrip("/")
    files: dict[str, bytes] = {}
    for rel in sorted(chosen):
        source = root / rel
        if compile:
            files[f"{prefix}/{rel.with_suffix('.mpy')}"] = _compiled(source, str(rel))
        else:
            files[f"{prefix}/{rel}"] = source.read_bytes()
    return files


_mpy_cache: dict[tuple[str, str, bytes], bytes] = {}


def _compiled(source: Path, name: str) -> bytes:
    """``fwbuild.compile_file`` memoised on path and content: mpy-cross is a subprocess.

    ``name`` (the path below the firmware folder) is what tracebacks will show.
    """
    key = (str(source), name, source.read_bytes())
    if key not in _mpy_cache:
        _mpy_cache[key] = fwbuild.compile_file(source, name=name)
    return _mpy_cache[key]
