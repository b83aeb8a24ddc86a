"""Cost of the estimator and the detector per sample inside the real MicroPython VM.

The firmware's ``bms.estimator`` and ``bms.detector`` (compiled by mpy-cross)
are driven, as ``App.step()`` calls them, by a small integer-only anode-free
cell written in the MicroPython subset (charge to the top, rest, discharge to
the anode knee, rest; noisy readings), so every code path of a cycle runs:
segment transitions, the top-of-charge marker, the knee anchor, the cycle
close with the end-of-life fit. Heap is counted with ``gc.mem_alloc()`` around
the two ``update()`` calls (collector disabled), split into ordinary samples
and the few samples per cycle where a marker is set or a cycle closes.
Time: whole runs with and without the two calls, against the fixed integer
loop of :mod:`afbms.vmbench` (1000 iterations), timed in the same VM.
Used by ``tests/unit/estimation/test_estimation_vm.py`` and
``bench/bench_estimation.py``.
"""

from __future__ import annotations

from afbms.mpvm import firmware_files, run_script

MODULES = ["bms/estimator.py", "bms/detector.py", "bms/sample.py", "bms/config.py", "bms/wire.py",
           "bms/protection.py", "bms/faults.py", "bms/storage.py"]  # fmt: skip

_PROGRAM = """
import gc
import time

from bms import config, wire
from bms.detector import Detector
from bms.estimator import Estimator
from bms.sample import Sample

V = config.defaults()
V[wire.CFG_CAPACITY_UAH] = 100
V[wire.CFG_V_MIN_UV] = 2500000


def get(k):
    return V[k]


est = Estimator(100, get)
det = Detector(est, get)
s = Sample()


class Cell:
    # integer cell in nAh: 100 µAh, residue 4 µAh, 0.2 % SEI and dead metal
    def __init__(self):
        self.cap = 100000
        self.q_cat = 100000
        self.q_pl = 0
        self.phase = 0  # 0 charge, 1 rest, 2 discharge, 3 rest
        self.left = 0
        self.n = 0
        self.i = 0


c = Cell()
PERIOD = 1000
I_UA = 1000


def drive():
    # one sample period of the cell; sets the Sample (ints only, nothing allocated)
    n = c.n + 1
    c.n = n
    ph = c.phase
    i = 0
    if ph == 0:
        dq = I_UA * PERIOD // 3600  # nAh
        if c.q_cat - dq <= 4000:
            dq = c.q_cat - 4000
            c.phase = 1
            c.left = 120
        c.q_cat -= dq
        c.q_pl += dq - dq // 500
        i = dq * 3600 // PERIOD
    elif ph == 2:
        dq = I_UA * PERIOD // 3600
        if c.q_pl - dq - dq // 500 <= 0:
            dq = c.q_pl * 500 // 501
            c.phase = 3
            c.left = 120
            c.q_pl = 0
        else:
            c.q_pl -= dq + dq // 500
        c.q_cat += dq
        i = -(dq * 3600 // PERIOD)
    else:
        c.left -= 1
        if c.left <= 0:
            c.phase = 2 if ph == 1 else 0
    c.i = i
    s.add_charge_uams(i * PERIOD)
    s.t_ms = (s.t_ms + PERIOD) & 0x3FFFFFFF
    s.seq = n
    s.current_ua = i + n % 3 - 1
    v = 3500000 + (c.cap - c.q_cat) * 7
    if c.q_pl < 200:
        v -= (200 - c.q_pl) * 5000
    v += i * 40 // 1000
    if i < 0 and v < 2550000:
        v = 2550000
    s.voltage_uv = v + (n * 7919) % 301 - 150
    s.pressure_pa = 5000000 + c.q_pl // 20 + (n * 31) % 101
    s.temperature_mc = 25000 + n % 5
    s.errors = 0
    if i >= 20:
        return wire.STATE_CHARGE
    if i <= -20:
        return wire.STATE_DISCHARGE
    return wire.STATE_IDLE


def cycles(n_samples, measure):
    heap = 0
    marks = 0
    heap_marks = 0
    worst = 0
    for k in range(n_samples):
        st = drive()
        if measure:
            a = gc.mem_alloc()
            det.update(s, st)
            est.update(s, st)
            b = gc.mem_alloc() - a
            if est.cycle_done or est.knee_now or est.top_now or det.event_kind >= 0:
                marks += 1
                heap_marks += b
            else:
                heap += b
                if b > worst:
                    worst = b
        else:
            det.update(s, st)
            est.update(s, st)
    return heap, marks, heap_marks, worst


def timed(n, with_updates):
    t = time.ticks_ms()
    for k in range(n):
        st = drive()
        if with_updates:
            det.update(s, st)
            est.update(s, st)
    return time.ticks_diff(time.ticks_ms(), t)


def reference(n):
    x = 1
    for i in range(n):
        x = (x * 1103 + i) & 0x3FFFFFFF
    return x


cycles(WARMUP, False)
gc.collect()
gc.disable()
c0 = est.cycle_count
heap, marks, heap_marks, worst = cycles(STEPS, True)
done = est.cycle_count - c0
gc.enable()
gc.collect()
ms_with = timed(STEPS, True)
gc.collect()
ms_without = timed(STEPS, False)
gc.collect()
t0 = time.ticks_ms()
for _ in range(100):
    reference(REF_ITERATIONS)
ref_us = time.ticks_diff(time.ticks_ms(), t0) * 10
print("EST_COST", STEPS, heap, marks, heap_marks, worst, done, (ms_with - ms_without) * 1000,
      REF_ITERATIONS, ref_us, est.anchors, est.inventory_ppm, det.latch)
"""

KEYS = ("steps", "heap_bytes", "mark_samples", "mark_heap_bytes", "worst_sample_bytes",
        "cycles", "updates_us", "ref_iterations", "ref_us", "anchors", "inventory_ppm",
        "latch")  # fmt: skip


def run_cost(steps: int = 3000, warmup: int = 1200, timeout: float = 600) -> dict[str, int]:
    """Run the probe in the VM; returns the EST_COST fields as a dict (see KEYS)."""
    script = f"STEPS = {steps}\nWARMUP = {warmup}\nREF_ITERATIONS = 1000\n" + _PROGRAM
    result = run_script(script, firmware_files(MODULES, compile=True), timeout=timeout)
    for line in result.stdout.decode().splitlines():
        if line.startswith("EST_COST"):
            return dict(zip(KEYS, (int(x) for x in line.split()[1:]), strict=True))
    raise RuntimeError("the estimation cost probe printed no result:\n" + result.stderr[-2000:])
