"""The stores compiled by mpy-cross, in the real MicroPython VM (in-memory file system).

append() allocates nothing on the heap while the batch has room; a full-batch
flush into the open segment allocates nothing either; a segment roll-over
allocates a path string and a file object (and list growth when pruning).
The config store round-trips through the VM's file system.
"""

from __future__ import annotations

import pytest

from afbms.mpvm import firmware_files, run_script

pytestmark = pytest.mark.vm

MODULES = [
    "bms/flashlog.py", "bms/wire.py", "bms/storage.py", "bms/config.py", "bms/protection.py",
    "bms/faults.py",
]  # fmt: skip
BATCH = 16
ROUNDS = 40

_SCRIPT = """
import gc, os
from bms import config, flashlog, storage, wire

B = %(batch)d
ROUNDS = %(rounds)d
try:
    os.mkdir("/tmp")
except OSError:
    pass
fs = storage.OsFs()
log = flashlog.FlashLog(fs, "/tmp/log", B, 64, 4)


def one(i, k):
    log.append(800000000 + i, k, wire.LOG_SAMPLE, 2, k, 0, 3900000 + k, -1570, 5000000, 25125, i)


for i in range(2 * B):  # warm up: first segment, first flushes
    one(i, i %% B)


def measure():
    # locals only: storing module globals could grow the globals dict mid-measurement
    appends = 0
    flush_total = 0
    flush_max = 0
    flush_zero = 0
    for i in range(ROUNDS):
        gc.collect()
        a = gc.mem_alloc()
        for k in range(B - 1):
            one(i, k)
        b = gc.mem_alloc()
        one(i, B - 1)  # fills the batch: flushes
        c = gc.mem_alloc()
        appends += b - a
        flush_total += c - b
        flush_max = max(flush_max, c - b)
        flush_zero += c == b
    return appends, flush_total, flush_max, flush_zero


appends, flush_total, flush_max, flush_zero = measure()
print("APPEND", ROUNDS * (B - 1), appends)
print("FLUSH", ROUNDS, flush_total, flush_max, flush_zero)
first, nxt, cap, unflushed = log.info()
print("INFO", first, nxt, cap, unflushed)
log.close()
log = flashlog.FlashLog(fs, "/tmp/log", B, 64, 4)
buf = bytearray(wire.LOG_PAGE_RECORDS * wire.LOG_RECORD_SIZE)
seq = 0
n_read = 0
last = 0
while True:
    f, n = log.read_into(seq, buf, wire.LOG_PAGE_RECORDS)
    if n == 0:
        break
    for r in range(n):
        assert wire.log_record_ok(buf, r * wire.LOG_RECORD_SIZE)
        s = wire.unpack_log_record(buf, r * wire.LOG_RECORD_SIZE)[0]
        assert s == f + r and s > last
        last = s
    n_read += n
    seq = f + n
print("READ", n_read, last, log.info()[1])

# a damaged record, read through a memoryview into a frame buffer (as the link does)
name = sorted(os.listdir("/tmp/log"))[0]
with open("/tmp/log/" + name, "rb") as f:
    raw = bytearray(f.read())
raw[2 * wire.LOG_RECORD_SIZE + 9] ^= 0x20
with open("/tmp/log/" + name, "wb") as f:
    f.write(raw)
frame = bytearray(12 + wire.LOG_PAGE_RECORDS * wire.LOG_RECORD_SIZE)
page = memoryview(frame)[12:]
log = flashlog.FlashLog(fs, "/tmp/log", B, 64, 4)
first = log.info()[0]
a = log.read_into(0, page, wire.LOG_PAGE_RECORDS)
b = log.read_into(first + 2, page, wire.LOG_PAGE_RECORDS)
ok = wire.log_record_ok(page, 0) and wire.unpack_log_record(page, 0)[0] == first + 3
for k in range(3):
    log.append(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)
c = log.read_into(log.info()[1] - 3, page, wire.LOG_PAGE_RECORDS)
print("DAMAGED", a[0] - first, a[1], b[0] - first, b[1], int(ok), c[1])
c = config.ConfigStore(fs, "/tmp/data")
st = c.set_many(((wire.CFG_METAL, wire.METAL_SODIUM), (wire.CFG_V_MIN_UV, 1800000),
                 (wire.CFG_V_MAX_UV, 3800000)))
bad = c.set(wire.CFG_T_MAX_MC, 95000)
c2 = config.ConfigStore(fs, "/tmp/data")
print("CONFIG", c.loaded_ok, st[0], bad, c2.loaded_ok, c2.metal, c2.v_max_uv, c2.v_max_release_uv)
"""


@pytest.fixture(scope="module")
def vm_out() -> dict[str, list[int]]:
    files = firmware_files(MODULES)
    result = run_script(_SCRIPT % {"batch": BATCH, "rounds": ROUNDS}, files, timeout=120)
    out = {}
    for line in result.stdout.decode().splitlines():
        head, *rest = line.split()
        out[head] = [int(x) if x.lstrip("-").isdigit() else x for x in rest]
    return out


def test_append_allocates_nothing(vm_out):
    appends, allocated = vm_out["APPEND"]
    assert appends == ROUNDS * (BATCH - 1)
    assert allocated == 0


def test_flush_allocates_little(vm_out):
    flushes, total, worst, zero = vm_out["FLUSH"]
    print(
        f"\nVM: {total / flushes:.1f} heap bytes per flush on average, {worst} at most; "
        f"{zero} of {flushes} flushes (no segment roll-over) allocated nothing"
    )
    assert flushes == ROUNDS
    assert worst < 1024
    # 64-record segments, 16-record batches: 3 of 4 flushes write into the open segment
    assert zero >= flushes // 2


def test_log_reads_back_in_the_vm(vm_out):
    first, nxt, cap, unflushed = vm_out["INFO"]
    assert (cap, unflushed) == (256, 0) and nxt == (ROUNDS + 2) * BATCH + 1
    n_read, last, nxt_after = vm_out["READ"]
    assert last == nxt - 1 and nxt_after > nxt
    assert n_read == nxt - first


def test_damaged_record_is_skipped_in_the_vm(vm_out):
    # page 1 stops before the bad record, page 2 starts after it, RAM records follow
    assert vm_out["DAMAGED"] == [0, 2, 3, 24, 1, 3]


def test_config_in_the_vm(vm_out):
    loaded, st, bad, loaded2, metal, vmax, release = vm_out["CONFIG"]
    assert loaded == "False" and st == 0 and bad == 3  # T_MAX above sodium's limit
    assert loaded2 == "True" and (metal, vmax, release) == (1, 3_800_000, 3_750_000)
