"""Virtual-board figures: how fast the simulated world runs, and what the machine
bridge costs.

* Speed: simulated seconds per wall second with the deployed firmware sampling at
  1 Hz (its default), as fast as possible, a host draining the port. Goals: >= 300x
  in the MicroPython VM, >= 10,000x in CPython mode.
* Latency: one I2C register read (INA228 VBUS, 3 bytes) from the VM's Python through
  the bridge to the plant and back (median over batches), as a ratio to the same read
  as a plain in-process call of the emulator: in CPython on the host (the plant's own
  call), and inside the VM (the emulator running in MicroPython).

    python bench/bench_vboard.py [--quick]
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import os
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import afbms.chips
from afbms.vboard import MinimalPlant, VirtualBoard, deploy_firmware

MONITOR, VBUS = 0x40, 0x05


class Drain:
    """A host reading (and dropping) everything the board sends, as a monitor would."""

    def __init__(self, port: str) -> None:
        self.fd = os.open(port, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        self.bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import select

        while not self._stop.is_set():
            r, _, _ = select.select([self.fd], [], [], 0.05)
            if r:
                with contextlib.suppress(OSError):
                    self.bytes += len(os.read(self.fd, 65536))

    def write(self, data: bytes) -> None:
        os.write(self.fd, data)

    def stop_draining(self) -> None:
        self._stop.set()
        self._thread.join()

    def read_until(self, marker: bytes, timeout: float = 20.0) -> bytes:
        """Read until ``marker`` (call stop_draining first)."""
        deadline = time.monotonic() + timeout
        out = b""
        while marker not in out and time.monotonic() < deadline:
            try:
                out += os.read(self.fd, 65536)
            except BlockingIOError:
                time.sleep(0.005)
        if marker not in out:
            raise RuntimeError(f"no {marker!r} from the board: {out[-300:]!r}")
        return out

    def close(self) -> None:
        self.stop_draining()
        os.close(self.fd)


def speed(flash: Path, vm: str, seconds: float) -> float:
    """Simulated seconds per wall second of the firmware's loop."""
    with VirtualBoard(flash, vm=vm) as vb:
        # Another process drains the port: no competition for this process's GIL.
        drain = subprocess.Popen(["cat", vb.port], stdout=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 20
            while vb.plant.now_ms() < 5_000:  # booted, sampling
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the firmware did not start:\n{vb.log()[-2000:]}")
                time.sleep(0.01)
            t0, v0 = time.monotonic(), vb.plant.now_ms()
            time.sleep(seconds)
            t1, v1 = time.monotonic(), vb.plant.now_ms()
        finally:
            drain.kill()
            drain.wait(5)
    return (v1 - v0) / 1000.0 / (t1 - t0)


LATENCY_SCRIPT = """
import time, machine
i2c = machine.I2C(0)
buf = bytearray(3)
res = []
for b in range({batches}):
    t = time.ticks_us()
    for i in range({n}):
        i2c.readfrom_mem_into(0x40, 0x05, buf)
    res.append(time.ticks_diff(time.ticks_us(), t))
print('BRIDGE', res)
try:
    from chips.bus import I2CBus
    from chips.ina228 import INA228Emu
    bus = I2CBus()
    bus.attach(0x40, INA228Emu())
    res = []
    for b in range({batches}):
        t = time.ticks_us()
        for i in range({n_local}):
            bus.readfrom_mem_into(0x40, 0x05, buf)
        res.append(time.ticks_diff(time.ticks_us(), t))
    print('LOCAL', res)
except ImportError as e:
    print('LOCAL none', e)
"""


def vm_latency(flash: Path, vm: str, batches: int, n: int) -> tuple[float, float | None]:
    """(bridge µs, in-VM emulator µs) per read, medians over batches."""
    n_local = n * 10
    script = LATENCY_SCRIPT.format(batches=batches, n=n, n_local=n_local).strip().encode()
    with VirtualBoard(flash, vm=vm) as vb:
        drain = Drain(vb.port)
        try:
            time.sleep(0.3)
            drain.stop_draining()
            drain.write(b"\r\x03\r\x01")
            out = drain.read_until(b"raw REPL; CTRL-B to exit\r\n>")
            drain.write(script + b"\x04")
            out = drain.read_until(b"\x04>", timeout=120)
        finally:
            drain.close()
    text = out.decode(errors="replace")
    bridge = ast.literal_eval(text.split("BRIDGE ", 1)[1].splitlines()[0])  # ms per batch
    per_bridge = statistics.median(us / n for us in bridge)
    per_local = None
    if "LOCAL [" in text:
        local = ast.literal_eval(text.split("LOCAL ", 1)[1].splitlines()[0])
        per_local = statistics.median(us / n_local for us in local)
    return per_bridge, per_local


def host_call_us(rounds: int = 20, n: int = 20_000) -> float:
    """The plant's own call in CPython: the emulator's register read."""
    plant = MinimalPlant()
    buf = bytearray(3)
    read = plant.i2c_read
    res = []
    for _ in range(rounds):
        t = time.perf_counter()
        for _ in range(n):
            read(MONITOR, VBUS, buf)
        res.append((time.perf_counter() - t) / n * 1e6)
    return statistics.median(res)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="shorter runs (smoke test)")
    args = parser.parse_args(argv)
    seconds = 1.5 if args.quick else 5.0
    batches, n = (5, 200) if args.quick else (21, 500)
    with tempfile.TemporaryDirectory(prefix="afbms-bench-vboard-") as tmp:
        image = Path(tmp) / "image"
        deploy_firmware(image, compiled=True)
        figures = {}
        for vm in ("micropython", "cpython"):
            flash = Path(tmp) / f"flash-{vm}"
            shutil.copytree(image, flash)
            figures[vm] = speed(flash, vm, seconds)
        bare = Path(tmp) / "bare"  # no firmware: the REPL is free for the latency script
        bare.mkdir()
        shutil.copytree(Path(afbms.chips.__file__).parent, bare / "chips",
                        ignore=shutil.ignore_patterns("__pycache__", "benchboard.py"))  # fmt: skip
        vm_bridge, vm_local = vm_latency(bare, "micropython", batches, n)
        cpy_bridge, _ = vm_latency(bare, "cpython", batches, n)
    host_us = host_call_us(rounds=5 if args.quick else 20)

    print("virtual board: speed at 1 Hz sampling (firmware loop, as fast as possible)")
    print(f"MicroPython VM mode     {figures['micropython']:,.0f}x real time  (goal >= 300x)")
    print(f"CPython mode            {figures['cpython']:,.0f}x real time  (goal >= 10,000x)")
    print("virtual board: one I2C register read (INA228 VBUS, 3 bytes), median per read")
    print(f"VM -> bridge -> plant   {vm_bridge:.1f} µs")
    if vm_local is not None:
        print(f"VM, emulator in the VM  {vm_local:.2f} µs  (bridge / in-VM call = "
              f"{vm_bridge / vm_local:.0f}x)")  # fmt: skip
    print(f"host, emulator call     {host_us:.2f} µs  (bridge / host call = "
          f"{vm_bridge / host_us:.0f}x)")  # fmt: skip
    print(
        f"CPython mode, bridge    {cpy_bridge:.1f} µs  (/ host call = {cpy_bridge / host_us:.1f}x)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
