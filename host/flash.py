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

import contextlib
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field

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
_CHUNK = 2048  # bytes per raw-REPL write: fewer round trips than mpremote's default 256

Progress = Callable[[str, int, int], None]  # (what, done, total)


class FlashError(Exception):
    """The flash did not complete (the board still boots its previous image)."""


class UnknownBoard(FlashError):
    """No board definition of that name (a user mistake: nothing was touched)."""


@dataclass
class FlashReport:
    slot: str = ""
    previous: str = ""
    files: int = 0
    uploaded: list[str] = field(default_factory=list)
    unchanged: int = 0
    removed: list[str] = field(default_factory=list)
    bytes_sent: int = 0
    loader_updated: bool = False
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
    for rel in fwbuild.firmware_sources(root):
        if rel.as_posix() == LOADER:
            image[LOADER] = (root / rel).read_bytes()
            continue
        name = rel.with_suffix(".mpy").as_posix()
        image[name] = fwbuild.compile_file(root / rel, name=rel.as_posix())
    image["board.mpy"] = fwbuild.compile_file(board_file, name="board.py")
    return image


def firmware_version() -> tuple[int, int, int]:
    return tuple(firmware_module("bms.app").FW_VERSION)  # type: ignore[return-value]


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def stop_firmware(port: str, timeout: float) -> bool:
    """Ask the running firmware to enter maintenance. False if nothing answered."""
    device = Device(SerialTransport(port), timeout=timeout)
    try:
        device.hello()
        device.command(Command.ENTER_MAINTENANCE)
        return True
    except DeviceError:
        return False
    finally:
        device.close()


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
        out = self.run(
            "try:\n with open('/fw/state') as f: print(f.read())\nexcept OSError: print('- -')\n"
        ).split()
        return (out[0], out[1]) if len(out) >= 2 else ("-", "-")

    def hashes(self, folder: str) -> dict[str, str]:
        """SHA-256 of every file below ``folder`` on the device, in one round trip."""
        code = f"""
import os, hashlib, binascii
def walk(d, rel):
    try:
        entries = list(os.ilistdir(d))
    except OSError:
        return
    for e in entries:
        p = d + '/' + e[0]
        r = rel + e[0]
        if e[1] & 0x4000:
            walk(p, r + '/')
        else:
            h = hashlib.sha256()
            with open(p, 'rb') as f:
                while True:
                    b = f.read(1024)
                    if not b:
                        break
                    h.update(b)
            print(r, binascii.hexlify(h.digest()).decode())
walk({folder!r}, '')
"""
        result = {}
        for line in self.run(code).splitlines():
            parts = line.split()
            if len(parts) == 2:
                result[parts[0]] = parts[1]
        return result

    def write(self, path: str, data: bytes, progress: Callable[[int], None] | None = None) -> None:
        folders = path.rsplit("/", 1)[0]
        self.run(
            f"import os\np=''\nfor s in {folders!r}.split('/')[1:]:\n p+='/'+s\n"
            f" try: os.mkdir(p)\n except OSError: pass\nf=open({path!r},'wb')\nw=f.write\n"
        )
        for i in range(0, len(data), _CHUNK):
            self.run(f"w({data[i : i + _CHUNK]!r})")
            if progress is not None:
                progress(min(i + _CHUNK, len(data)))
        self.run("f.close()")

    def remove(self, path: str) -> None:
        self.run(f"import os\nos.remove({path!r})")

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
    timeout: float = 20.0,
    progress: Progress | None = None,
) -> FlashReport:
    """Flash the packaged firmware for ``board`` onto the board on ``port``."""
    started = time.monotonic()
    report = FlashReport()
    image = build_image(board)
    loader = image.pop(LOADER)
    report.files = len(image)
    if not stop_firmware(port, timeout=3.0) and progress is not None:
        progress("firmware did not answer: interrupting it", 0, 0)
    raw = RawBoard(port)
    try:
        raw.enter()
        active, _ = raw.state()
        slot = "b" if active == "a" else "a"
        if verify_only:
            slot = active
        report.slot, report.previous = slot, active
        on_board = raw.hashes(f"{FW_DIR}/{slot}")
        todo = [p for p, data in sorted(image.items()) if on_board.get(p) != _sha(data)]
        stale = sorted(set(on_board) - set(image))
        report.unchanged = len(image) - len(todo)
        loader_on_board = raw.hashes("/").get(LOADER)
        report.loader_updated = loader_on_board != _sha(loader)
        if verify_only:
            report.uploaded, report.removed = todo, stale
            if todo or stale or report.loader_updated:
                raise FlashError(
                    f"slot {slot} differs from this firmware: {len(todo)} files changed, "
                    f"{len(stale)} extra, loader {'differs' if report.loader_updated else 'ok'}"
                )
            return report
        if dry_run:
            report.uploaded, report.removed = todo, stale
            return report
        total = sum(len(image[p]) for p in todo)
        for path in todo:
            base = report.bytes_sent
            step = None
            if progress is not None:

                def step(n: int, base: int = base) -> None:
                    progress("upload", base + n, total)

            raw.write(f"{FW_DIR}/{slot}/{path}", image[path], step)
            report.bytes_sent += len(image[path])
            report.uploaded.append(path)
        for path in stale:
            raw.remove(f"{FW_DIR}/{slot}/{path}")
            report.removed.append(path)
        check = raw.hashes(f"{FW_DIR}/{slot}")
        bad = [p for p, data in image.items() if check.get(p) != _sha(data)]
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
        raw.close()
    report.confirmed = _await_hello(port, timeout)
    report.seconds = time.monotonic() - started
    if not report.confirmed:
        raise FlashError(
            f"the new image did not answer within {timeout:g} s; the board will roll back to "
            f"slot {report.previous} by itself"
        )
    return report


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
