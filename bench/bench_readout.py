"""Readout figure: a full flash log read from a virtual board (real MicroPython VM,
console limited to 115200 baud 8N1) by ``afbms readout`` vs ``mpremote fs cp`` of
the raw log segment files, side by side in one run; and the payload rate of the
readout (log record bytes per second) as a fraction of the link's byte rate
(115200 / 10 bytes/s).

The log is filled first by the same firmware in CPython mode at full speed (the
ring wraps: every segment full). The afbms board runs the firmware (protection
keeps running during the readout); the mpremote board holds the same files
without the firmware, so its REPL is free.

Goals: afbms >= 2x mpremote's speed, payload >= 0.9 of the link rate.

    python bench/bench_readout.py [--baud N]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from afbms.device import Device
from afbms.readout import readout
from afbms.store import Store
from afbms.transport import SerialTransport
from afbms.vboard import VirtualBoard, deploy_firmware

BIN = Path(sys.executable).parent
LOG = Path("data") / "log"
RECORD = 40  # bytes per log record (wire.LOG_RECORD_SIZE)


def fill_log(flash: Path, segments: int = 49, limit_s: float = 300) -> None:
    """Run the firmware (CPython mode, full speed) until the log ring has wrapped."""
    with VirtualBoard(flash, vm="cpython") as vb:
        drain = subprocess.Popen(["cat", vb.port], stdout=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + limit_s
            while len(list((flash / LOG).glob("*.seg"))) < segments:
                if time.monotonic() > deadline:
                    raise SystemExit("the log did not fill in time")
                time.sleep(0.5)
        finally:
            drain.kill()
            drain.wait(5)


def wait_hello(port: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        device = Device(SerialTransport(port), timeout=2.0)
        try:
            device.hello()
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
        finally:
            device.close()
        time.sleep(0.3)


def afbms_readout(port: str, store: Path) -> float:
    """Wall time of the CLI run."""
    t0 = time.monotonic()
    proc = subprocess.run([str(BIN / "afbms"), "readout", "--store", str(store), "--port", port,
                           "--json"], capture_output=True, text=True, timeout=900)  # fmt: skip
    wall = time.monotonic() - t0
    if proc.returncode != 0:
        raise SystemExit(f"afbms readout failed: {proc.stderr.strip()}")
    return wall


def library_readout(port: str, store_path: Path) -> tuple[int, float]:
    """(records, seconds from the first to the last page): the link's payload rate."""
    device = Device(SerialTransport(port), timeout=5.0)
    marks: list[float] = []
    try:
        device.hello()
        with Store.open(store_path) as store:
            result = readout(device, store, lambda done, total: marks.append(time.monotonic()))
    finally:
        device.close()
    return result.received, marks[-1] - marks[0] if len(marks) > 1 else float("nan")


def mpremote_cp(port: str, files: list[str], out: Path) -> float:
    out.mkdir()
    t0 = time.monotonic()
    proc = subprocess.run([str(BIN / "mpremote"), "connect", port, "fs", "cp", *files, str(out)],
                          capture_output=True, text=True, timeout=1800)  # fmt: skip
    seconds = time.monotonic() - t0
    if proc.returncode != 0:
        raise SystemExit(f"mpremote fs cp failed: {proc.stderr.strip()}")
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--baud", type=int, default=115200, help="emulated link rate")
    args = parser.parse_args(argv)
    link_bytes_s = args.baud / 10
    with tempfile.TemporaryDirectory(prefix="afbms-bench-readout-") as tmp:
        root = Path(tmp)
        full = root / "full"
        deploy_firmware(full, compiled=True)
        fill_log(full)
        segs = sorted((full / LOG).glob("*.seg"))
        log_bytes = sum(p.stat().st_size for p in segs)
        bare = root / "bare"  # the same log, no firmware: mpremote's REPL is free
        shutil.copytree(full, bare)
        (bare / "main.py").unlink()
        boards = [root / "cli", root / "lib"]
        for b in boards:
            shutil.copytree(full, b)
        with (
            VirtualBoard(boards[0], baud=args.baud, speed=1.0) as cli_board,
            VirtualBoard(boards[1], baud=args.baud, speed=1.0) as lib_board,
            VirtualBoard(bare, baud=args.baud) as mp_board,
        ):
            wait_hello(cli_board.port)
            wait_hello(lib_board.port)
            subprocess.run([str(BIN / "mpremote"), "connect", mp_board.port, "exec", "pass"],
                           capture_output=True, timeout=60, check=True)  # fmt: skip
            wall_afbms = afbms_readout(cli_board.port, root / "cli.sqlite")
            records, transfer_s = library_readout(lib_board.port, root / "lib.sqlite")
            remote = [f":/{LOG.as_posix()}/{p.name}" for p in segs]
            wall_mp = mpremote_cp(mp_board.port, remote, root / "mp-out")
        with Store.open(root / "cli.sqlite") as store:
            stored = store.record_count(store.resolve_device())
    payload = records * RECORD
    print(f"readout of a full log: {len(segs)} segment files, {log_bytes} bytes; "
          f"{records} records read ({payload} payload bytes); link {args.baud} baud 8N1 "
          f"= {link_bytes_s:.0f} bytes/s; virtual board in the MicroPython VM")  # fmt: skip
    print(f"the CLI's store holds {stored} records")
    print(f"afbms readout (CLI, whole run)       {wall_afbms:8.1f} s")
    print(f"mpremote fs cp (raw segment files)   {wall_mp:8.1f} s")
    speedup = wall_mp / wall_afbms
    print(f"afbms speed / mpremote speed         {speedup:8.2f}x   goal >= 2x   "
          f"{'met' if speedup >= 2 else 'MISSED'}")  # fmt: skip
    rate = payload / transfer_s
    whole = stored * RECORD / wall_afbms  # that run's own records
    fraction = rate / link_bytes_s
    print(f"payload rate, first to last page     {rate:8.0f} bytes/s = {fraction:.3f} of the "
          f"link   goal >= 0.9   {'met' if fraction >= 0.9 else 'MISSED'}")  # fmt: skip
    print(f"payload rate, whole CLI run          {whole:8.0f} bytes/s = "
          f"{whole / link_bytes_s:.3f} of the link")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
