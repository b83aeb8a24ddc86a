"""The firmware's whole per-sample path inside the real MicroPython VM.

Read the emulated chips through the real drivers -> protection -> detector ->
estimator -> flash log -> TELEMETRY encode, via ``App.step()`` on a bench
board (``afbms.chips.benchboard``), all compiled by mpy-cross. Used by
``tests/vm/test_vm_sample_path.py`` (behaviour) and ``bench/bench_vm_sample.py``
(figures).
"""

from __future__ import annotations

from pathlib import Path

from afbms.mpvm import firmware_files, run_script

CHIPS = Path(__file__).with_name("chips")
CHIP_MODULES = ("__init__", "bus", "ina228", "nau7802", "ntc", "benchboard")

_PROGRAM = """
import gc
import os
import time

from bms.app import App
from bms.storage import OsFs
from chips.benchboard import BenchBoard

try:
    os.mkdir("/tmp/data")
except OSError:
    pass
board = BenchBoard(OsFs(), "/tmp/data")
board.port.keep_tx = False
board.set_cell(3800000, 1500, 5000000, 25000)
app = App(board.hardware)
sampler = app.sampler


def drive(i):
    # Readings change every step: noise-free inputs would look like a stuck sensor.
    board.set_cell(3800000 + (i % 17) * 211, 1500 + i % 5, 5000000 + (i % 3) * 1000,
                   25000 + (i % 7) * 10)
    board.advance(sampler.ms_until_due())


def heap_per_steps(n):
    # Only app.step() is counted: the emulators' setters allocate.
    heap = 0
    for i in range(n):
        drive(i)
        a = gc.mem_alloc()
        app.step()
        heap += gc.mem_alloc() - a
    return heap


def ms_for(n, with_step):
    # The VM's tick is coarse: time whole runs, then subtract the driving.
    t = time.ticks_ms()
    for i in range(n):
        drive(i)
        if with_step:
            app.step()
    return time.ticks_diff(time.ticks_ms(), t)


def reference(n):
    # A fixed integer loop: the yardstick the per-sample cost is expressed in.
    x = 1
    for i in range(n):
        x = (x * 1103 + i) & 0x3FFFFFFF
    return x


heap_per_steps(WARMUP)
gc.collect()
gc.disable()  # a collection inside a step would hide what the step allocated
log_before = app.log.info()[1]
allocated = heap_per_steps(STEPS)
records = app.log.info()[1] - log_before
gc.enable()
gc.collect()
step_us = (ms_for(STEPS, True) - ms_for(STEPS, False)) * 1000
gc.collect()
t0 = time.ticks_ms()
for _ in range(100):
    reference(REF_ITERATIONS)
ref_us = time.ticks_diff(time.ticks_ms(), t0) * 10  # µs per reference loop
print("SAMPLE_PATH", STEPS, allocated, records, step_us, REF_ITERATIONS, ref_us,
      app.protection.state, app.sample.errors)
"""


def sample_path_files() -> dict[str, bytes]:
    """Compiled firmware plus the chip emulators and bench board (as sources)."""
    files = firmware_files(compile=True)
    for name in CHIP_MODULES:
        files[f"/lib/chips/{name}.py"] = (CHIPS / f"{name}.py").read_bytes()
    return files


def sample_path_script(steps: int, warmup: int = 300, ref_iterations: int = 1000) -> str:
    header = f"STEPS = {steps}\nWARMUP = {warmup}\nREF_ITERATIONS = {ref_iterations}\n"
    return header + _PROGRAM


def run_sample_path(steps: int, warmup: int = 300, timeout: float = 300) -> dict[str, int]:
    """Run the probe; returns steps, heap bytes, log records, µs for the steps,
    reference iterations and µs, final protection state and sensor errors."""
    result = run_script(sample_path_script(steps, warmup), sample_path_files(), timeout=timeout)
    for line in result.stdout.decode().splitlines():
        if line.startswith("SAMPLE_PATH"):
            keys = ("steps", "heap_bytes", "log_records", "steps_us", "ref_iterations",
                    "ref_us", "state", "errors")  # fmt: skip
            return dict(zip(keys, (int(x) for x in line.split()[1:]), strict=True))
    raise RuntimeError("the sample-path probe printed no result")
