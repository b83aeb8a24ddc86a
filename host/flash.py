"""Flash firmware onto a board (real or virtual) through its raw REPL.

1. Build the image: every firmware file compiled by mpy-cross (``main.py``, the
   image loader, stays source), plus the board definition as ``board``.
2. Stop the firmware through the protocol (COMMAND ENTER_MAINTENANCE: outputs
   safe, REPL handed back); only if it does not answer, interrupt it.
3. Over mpremote's raw-REPL transport: hash what the INACTIVE slot already
   holds (SHA-256 on the device), upload only what differs, remove stale
   files, verify every file's hash on the device.
4. Switch atomically: ``/fw/state`` is rewritten (write + rename) to boot the
   new slot on trial; the previous slot is kept. Reset.
5. Wait for the new image to answer HELLO with the expected version; that
   confirms it. A trial image that never does is rolled back by the board.

A cut (link or power) at any point leaves a bootable board: the active slot
is never written, and the switch is one rename.
"""

from __future__ import annotations

import ast
import base64
import contextlib
import hashlib
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from mpremote.transport import TransportError as MpTransportError
from mpremote.transport import TransportExecError
from mpremote.transport_serial import SerialTransport as MpSerialTransport

from afbms import fwbuild
from afbms.cellconfig import firmware_module
from afbms.device import Device, DeviceError
from afbms.paths import boards_dir, firmware_dir
from afbms.protocol.enums import Command
from afbms.transport import SerialTransport, TransportError

FW_DIR = "/fw"
LOADER = "main.py"
# Upload stream: file bytes go base64-encoded (no Ctrl-C in the stream, so a receiver
# left waiting by a cut link can still be interrupted) in blocks of _BLOCK bytes; the
# board acknowledges each block, and at most _WINDOW blocks are in flight, so the
# board's input buffer never holds more than _WINDOW * (4/3) * _BLOCK bytes.
_BLOCK = 3 * 512
_WINDOW = 2
_ACK_TIMEOUT_S = 5.0
_STOP_TIMEOUT_S = 1.5  # a running firmware answers HELLO between two samples

Progress = Callable[[str, int, int], None]  # (what, done, total)


class FlashError(Exception):
    """The flash did not complete (the board still boots its previous image)."""


class UnknownBoard(FlashError):
    """No board definition of that name (a user mistake: nothing was touched)."""


class WrongBoard(FlashError):
    """The firmware on the port says it runs on another board (nothing was touched)."""


@dataclass
class FlashReport:
    slot: str = ""
    previous: str = ""
    files: int = 0
    uploaded: list[str] = field(default_factory=list)  # sent over the link
    copied: list[str] = field(default_factory=list)  # copied from the active slot on the board
    unchanged: int = 0
    removed: list[str] = field(default_factory=list)
    bytes_sent: int = 0
    loader_updated: bool = False
    up_to_date: bool = False  # the active slot held this firmware already: nothing written
    confirmed: bool = False
    seconds: float = 0.0


def build_image(board: str) -> dict[str, bytes]:
    """Image files by path inside a slot (plus ``main.py``, the loader, for the root)."""
    board_file = boards_dir() / board / "board.py"
    if not board_file.is_file():
        known = ", ".join(
            sorted(p.name for p in boards_dir().iterdir() if (p / "board.py").is_file())
        )
        raise UnknownBoard(f"unknown board {board!r} (boards: {known})")
    root = firmware_dir()
    image: dict[str, bytes] = {}
    jobs: dict[str, tuple[Path, str]] = {}
    for rel in fwbuild.firmware_sources(root):
        if rel.as_posix() == LOADER:
            image[LOADER] = (root / rel).read_bytes()
        else:
            jobs[rel.with_suffix(".mpy").as_posix()] = (root / rel, rel.as_posix())
    jobs["board.mpy"] = (board_file, "board.py")
    cache = compile_cache_dir()
    # mpy-cross runs as a subprocess: threads overlap the cache misses.
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        compiled = pool.map(lambda job: _compile_cached(*job, cache), jobs.values())
        image.update(zip(jobs, compiled, strict=True))
    return image


def compile_cache_dir() -> Path:
    """Where compiled modules are kept between runs (``$XDG_CACHE_HOME/afbms/mpy``)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "afbms" / "mpy"


def _compile_cached(source: Path, name: str, cache: Path) -> bytes:
    """mpy-cross output for ``source``, from the cache when the same source, name and
    mpy-cross version were compiled before. A cache that cannot be written is no error."""
    data = source.read_bytes()
    key = hashlib.sha256(f"{_mpy_cross_version()}\0{name}\0".encode() + data).hexdigest()
    cached = cache / f"{key}.mpy"
    with contextlib.suppress(OSError):
        return cached.read_bytes()
    compiled = fwbuild.compile_file(source, name=name)
    with contextlib.suppress(OSError):
        cache.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_name(f"{key}.{os.getpid()}.tmp")
        tmp.write_bytes(compiled)
        tmp.replace(cached)
    return compiled


def _mpy_cross_version() -> str:
    try:
        return metadata.version("mpy-cross")
    except metadata.PackageNotFoundError:
        return "unknown"


def firmware_version() -> tuple[int, int, int]:
    """FW_VERSION of the packaged firmware, read from its source (importing the whole
    app only for a constant costs a CLI run a tenth of a second)."""
    tree = ast.parse((firmware_dir() / "bms" / "app.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "FW_VERSION" for t in node.targets
        ):
            return tuple(ast.literal_eval(node.value))  # type: ignore[return-value]
    return tuple(firmware_module("bms.app").FW_VERSION)  # type: ignore[return-value]


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# What a MicroPython REPL (not the firmware) says when HELLO's bytes reach it: the
# frame's first byte is Ctrl-D (soft reboot), or it prompts.
_REPL_MARKERS = (b"soft reboot", b">>> ", b"raw REPL")


class _ReplSeen(Exception):
    pass


class _ReplWatch:
    """A transport that notices a bare REPL answering instead of the firmware, so
    looking for the firmware does not wait out the whole timeout on a blank board.
    A marker only counts when no answer follows it within a grace period: text left
    in the port by an earlier reboot must not hide a firmware that is running."""

    GRACE_S = 0.3

    def __init__(self, inner: SerialTransport) -> None:
        self.inner = inner
        self.watching = True
        self.seen = b""
        self.seen_at: float | None = None

    def write(self, data: bytes) -> None:
        self.inner.write(data)

    def read(self, timeout: float) -> bytes:
        data = self.inner.read(timeout)
        if not self.watching:
            return data
        self.seen = (self.seen + data)[-64:]
        if self.seen_at is None and any(m in self.seen for m in _REPL_MARKERS):
            self.seen_at = time.monotonic()
        if self.seen_at is not None and time.monotonic() - self.seen_at > self.GRACE_S:
            raise _ReplSeen
        return data

    def close(self) -> None:
        self.inner.close()


def stop_firmware(port: str, timeout: float, board: str | None = None) -> bool:
    """Ask the running firmware to enter maintenance. False if nothing answered (or a
    bare MicroPython REPL did).

    With ``board``: a firmware that says it runs on another board raises WrongBoard
    before anything is stopped.
    """
    watch = _ReplWatch(SerialTransport(port))
    device = Device(watch, timeout=timeout)
    try:
        info = device.hello()
        watch.watching = False  # the firmware answered; its REPL may follow maintenance
        if board is not None and info["board"] != board:
            raise WrongBoard(
                f"the board on {port} runs firmware for {info['board']!r}, not {board!r} "
                "(nothing changed; --force flashes anyway)"
            )
        device.command(Command.ENTER_MAINTENANCE)
        return True
    except DeviceError:
        return False
    except _ReplSeen:
        # HELLO's Ctrl-D soft-rebooted the bare board: let it settle before the raw REPL.
        deadline = time.monotonic() + 3.0
        while watch.inner.read(0.3) and time.monotonic() < deadline:
            pass
        return False
    finally:
        device.close()


# Board-side helper: make every folder above a path (os.makedirs is not in MicroPython).
_MKDIRS = """
import os
def _mk(p):
    q = ''
    for s in p.split('/')[1:-1]:
        q += '/' + s
        try:
            os.mkdir(q)
        except OSError:
            pass
"""

# Board-side receiver of the upload stream (see _BLOCK): files in order, each as
# base64 blocks, one '.' back per block written.
_RECEIVER = """
import sys, binascii
_r = sys.stdin.buffer
_m = memoryview(bytearray({encoded}))
for _p, _n in {files!r}:
    _mk(_p)
    with open(_p, 'wb') as _f:
        while _n:
            _k = {block} if _n > {block} else _n
            _e = (_k + 2) // 3 * 4
            _g = 0
            while _g < _e:
                _g += _r.readinto(_m[_g:_e])
            _f.write(binascii.a2b_base64(_m[:_e]))
            _n -= _k
            sys.stdout.write('.')
print('END')
"""

_SURVEY = """
import os, hashlib, binascii
def _h(p):
    h = hashlib.sha256()
    b = bytearray(1024)
    with open(p, 'rb') as f:
        while True:
            n = f.readinto(b)
            if not n:
                break
            h.update(b if n == len(b) else b[:n])
    return binascii.hexlify(h.digest()).decode()
def _walk(i, d, rel):
    try:
        entries = list(os.ilistdir(d))
    except OSError:
        return
    for e in entries:
        if e[1] & 0x4000:
            _walk(i, d + '/' + e[0], rel + e[0] + '/')
        else:
            print('T', i, rel + e[0], _h(d + '/' + e[0]))
try:
    with open('/fw/state') as f:
        print('S', f.read())
except OSError:
    print('S - -')
for i, d in enumerate({folders!r}):
    _walk(i, d, '')
for p in {files!r}:
    try:
        print('F', p, _h(p))
    except OSError:
        pass
"""

_COPIER = """
_b = bytearray(1024)
for _s, _d in {pairs!r}:
    _mk(_d)
    with open(_s, 'rb') as _a:
        with open(_d, 'wb') as _f:
            while True:
                _n = _a.readinto(_b)
                if not _n:
                    break
                _f.write(_b if _n == len(_b) else _b[:_n])
"""


class RawBoard:
    """The raw-REPL side of flashing, on mpremote's transport."""

    def __init__(self, port: str) -> None:
        try:
            # A read timeout: a board that loses power mid-command must not hang us.
            self.t = MpSerialTransport(port, baudrate=115200, timeout=5)
        except Exception as exc:  # mpremote raises its own TransportError or OSError
            raise TransportError(f"cannot open {port}: {exc}") from exc

    def enter(self, attempts: int = 3) -> None:
        """Raw REPL. Retried: a firmware leaving maintenance may still be on its way
        back to the REPL when the first Ctrl-A arrives (and swallows it)."""
        for attempt in range(attempts):
            try:
                self.t.enter_raw_repl(soft_reset=False, timeout_overall=5)
                return
            except MpTransportError as exc:
                if attempt == attempts - 1:
                    raise FlashError(f"no raw REPL on the board ({exc})") from exc
                time.sleep(0.5)

    def run(self, code: str) -> str:
        try:
            return self.t.exec(code).decode()
        except TransportExecError as exc:
            raise FlashError(f"board error: {exc.error_output.strip().splitlines()[-1]}") from exc

    def state(self) -> tuple[str, str]:
        return self.survey([])[0]

    def hashes(self, folder: str) -> dict[str, str]:
        """SHA-256 of every file below ``folder`` on the device, in one round trip."""
        return self.survey([folder])[1][0]

    def survey(
        self, folders: list[str], files: tuple[str, ...] = ()
    ) -> tuple[tuple[str, str], list[dict[str, str]], dict[str, str]]:
        """In one round trip: the slot state (active, previous), the SHA-256 of every file
        below each of ``folders`` (path relative to it), and of each of ``files``."""
        code = _SURVEY.format(folders=folders, files=list(files))
        state = ("-", "-")
        trees: list[dict[str, str]] = [{} for _ in folders]
        singles: dict[str, str] = {}
        for line in self.run(code).splitlines():
            parts = line.split()
            if parts[:1] == ["S"] and len(parts) >= 3:
                state = (parts[1], parts[2])
            elif parts[:1] == ["T"] and len(parts) == 4:
                trees[int(parts[1])][parts[2]] = parts[3]
            elif parts[:1] == ["F"] and len(parts) == 3:
                singles[parts[1]] = parts[2]
        return state, trees, singles

    def write(self, path: str, data: bytes, progress: Callable[[int], None] | None = None) -> None:
        self.upload([(path, data)], progress)

    def upload(
        self, files: list[tuple[str, bytes]], progress: Callable[[int], None] | None = None
    ) -> None:
        """Write ``files`` (board path, bytes) in one raw-REPL run: the board runs a small
        receiver and the bytes stream in acknowledged blocks (no per-chunk round trip, and
        no Python literals for the board to compile). ``progress(bytes written)``."""
        if not files:
            return
        blocks = [
            base64.b64encode(data[i : i + _BLOCK])
            for _, data in files
            for i in range(0, len(data), _BLOCK)
        ]
        sizes = [min(_BLOCK, len(data) - i) for _, data in files
                 for i in range(0, len(data), _BLOCK)]  # fmt: skip
        code = _MKDIRS + _RECEIVER.format(
            encoded=(_BLOCK + 2) // 3 * 4, files=[(p, len(d)) for p, d in files], block=_BLOCK
        )
        self.t.exec_raw_no_follow(code)
        serial = self.t.serial
        acked = written = 0
        for sent, block in enumerate(blocks):
            while sent - acked >= _WINDOW:
                self._await_ack()
                written += sizes[acked]
                acked += 1
                if progress is not None:
                    progress(written)
            serial.write(block)
        while acked < len(blocks):
            self._await_ack()
            written += sizes[acked]
            acked += 1
            if progress is not None:
                progress(written)
        out, err = self.t.follow(_ACK_TIMEOUT_S)
        if err or b"END" not in out:
            raise FlashError(f"board error: {_last_line(err or out)}")

    def _await_ack(self) -> None:
        got = self.t.serial.read(1)
        if got == b".":
            return
        if not got:
            raise MpTransportError("no acknowledgement from the board during upload")
        # Anything else: the receiver stopped (e.g. OSError: the flash is full).
        rest = self.t.read_until(1, b"\x04>", timeout=_ACK_TIMEOUT_S)
        raise FlashError(f"board error: {_last_line(got + rest)}")

    def copy(self, pairs: list[tuple[str, str]]) -> None:
        """Copy files on the board (source, destination): nothing crosses the link."""
        if pairs:
            self.run(_MKDIRS + _COPIER.format(pairs=pairs))

    def remove(self, *paths: str) -> None:
        if paths:
            self.run(f"import os\nfor p in {list(paths)!r}:\n os.remove(p)\n")

    def switch(self, slot: str, previous: str) -> None:
        """The one atomic step: the next boot runs ``slot`` on trial."""
        self.run(
            f"import os\nf=open('/fw/state.new','w')\nf.write('{slot} {previous} 1 0\\n')\n"
            "f.close()\nos.rename('/fw/state.new','/fw/state')\n"
        )

    def install_loader(self, data: bytes) -> None:
        self.write("/main.py.new", data)
        self.run("import os\nos.rename('/main.py.new','/main.py')")

    def reset(self) -> None:
        """Soft reset into the friendly REPL, so main.py runs."""
        with contextlib.suppress(Exception):  # the board may already be rebooting
            self.t.exit_raw_repl()
            self.t.serial.write(b"\x04")

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.t.close()


def flash(
    port: str,
    board: str,
    *,
    dry_run: bool = False,
    verify_only: bool = False,
    force: bool = False,
    full: bool = False,
    timeout: float = 20.0,
    progress: Progress | None = None,
) -> FlashReport:
    """Flash the packaged firmware for ``board`` onto the board on ``port``.

    ``force``: flash even when the running firmware says it is on another board.
    ``full``: send every file that differs in the slot written over the link (no copies
    from the active slot on the board, no shortcut when nothing changed).
    ``dry_run`` and ``verify_only`` change nothing and restart the firmware after.
    """
    started = time.monotonic()
    report = FlashReport()
    image = build_image(board)
    loader = image.pop(LOADER)
    report.files = len(image)
    was_running = stop_firmware(port, timeout=_STOP_TIMEOUT_S, board=None if force else board)
    if not was_running and progress is not None:
        progress("firmware did not answer: interrupting it", 0, 0)
    looking_only = dry_run or verify_only
    raw = RawBoard(port)
    try:
        raw.enter()
        (active, previous), (in_a, in_b), files = raw.survey(
            [f"{FW_DIR}/a", f"{FW_DIR}/b"], ("/" + LOADER,)
        )
        slots = {"a": in_a, "b": in_b}
        wanted = {p: _sha(data) for p, data in image.items()}
        report.loader_updated = files.get("/" + LOADER) != _sha(loader)
        # Nothing changed: the active image is this firmware already (verified just now).
        report.up_to_date = not full and slots.get(active) == wanted and not report.loader_updated
        slot = active if verify_only or report.up_to_date else ("b" if active == "a" else "a")
        report.slot, report.previous = slot, previous if slot == active else active
        if verify_only and active not in slots:
            raise FlashError("no firmware image on the board to verify (never flashed)")
        on_board = slots.get(slot, {})
        todo = [p for p in sorted(image) if on_board.get(p) != wanted[p]]
        stale = sorted(set(on_board) - set(image))
        report.unchanged = len(image) - len(todo)
        # Files the active slot holds with the right hash are copied on the board; only
        # the others cross the link.
        in_active = slots.get(active, {}) if slot != active and not full else {}
        report.copied = [p for p in todo if in_active.get(p) == wanted[p]]
        report.uploaded = [p for p in todo if p not in report.copied]
        report.removed = stale
        if verify_only:
            if todo or stale or report.loader_updated:
                raise FlashError(
                    f"slot {slot} differs from this firmware: {len(todo)} files changed, "
                    f"{len(stale)} extra, loader {'differs' if report.loader_updated else 'ok'}"
                )
            return report
        if dry_run:
            return report
        if not report.up_to_date:  # else only restart it: its HELLO confirms it below
            _write_slot(raw, slot, active, image, report, progress)
            raw.remove(*(f"{FW_DIR}/{slot}/{path}" for path in stale))
            check = raw.hashes(f"{FW_DIR}/{slot}")
            bad = [p for p in image if check.get(p) != wanted[p]]
            if bad:
                raise FlashError(f"verification failed for {len(bad)} files (e.g. {bad[0]})")
            if report.loader_updated:
                raw.install_loader(loader)
                report.bytes_sent += len(loader)
            raw.switch(slot, active if active in ("a", "b") else "-")
        raw.reset()
    except MpTransportError as exc:
        raise FlashError(
            f"link lost during flash ({exc}); the board keeps its previous image"
        ) from exc
    finally:
        if looking_only:
            raw.reset()  # the firmware runs again, as before we looked
        raw.close()
        if looking_only and was_running:
            _await_hello(port, timeout)
    return _confirm(port, report, timeout, started)


def _confirm(port: str, report: FlashReport, timeout: float, started: float) -> FlashReport:
    report.confirmed = _await_hello(port, timeout)
    report.seconds = time.monotonic() - started
    if not report.confirmed:
        raise FlashError(
            f"the new image did not answer within {timeout:g} s; the board will roll back to "
            f"slot {report.previous} by itself"
        )
    return report


def _write_slot(
    raw: RawBoard,
    slot: str,
    active: str,
    image: dict[str, bytes],
    report: FlashReport,
    progress: Progress | None,
) -> None:
    """Bring ``slot`` up to ``image``: ``report.copied`` from the active slot on the
    board, ``report.uploaded`` over the link."""
    raw.copy([(f"{FW_DIR}/{active}/{p}", f"{FW_DIR}/{slot}/{p}") for p in report.copied])
    total = sum(len(image[p]) for p in report.uploaded)

    def step(done: int) -> None:
        if progress is not None:
            progress("upload", done, total)

    raw.upload([(f"{FW_DIR}/{slot}/{p}", image[p]) for p in report.uploaded], step)
    report.bytes_sent += total


def _last_line(output: bytes) -> str:
    lines = output.replace(b"\x04", b"").decode(errors="replace").strip().splitlines()
    return lines[-1].strip() if lines else "no output"


def _await_hello(port: str, timeout: float) -> bool:
    """HELLO until the new image answers with the expected version (which confirms it)."""
    want = firmware_version()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            transport = SerialTransport(port)
        except TransportError:
            time.sleep(0.2)
            continue
        device = Device(transport, timeout=1.0)
        try:
            info = device.hello()
            if (info["fw_major"], info["fw_minor"], info["fw_patch"]) == want:
                return True
        except DeviceError:
            pass
        finally:
            device.close()
        time.sleep(0.2)
    return False


def image_size(board: str) -> tuple[int, int]:
    """(files, bytes) of the image for ``board``."""
    image = build_image(board)
    return len(image), sum(len(b) for b in image.values())
