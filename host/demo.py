"""The end-to-end demo: firmware codec in the real MicroPython VM, host on the other side.

What it does today (the virtual board, plant and firmware application grow it):

1. checks that the firmware codec is the one generated from protocol/,
2. compiles the firmware with mpy-cross,
3. runs a MicroPython program in the VM that streams INFO, TELEMETRY, EVENT,
   ESTIMATE and LOG_DATA frames of one synthetic charge/discharge cycle, built
   by the compiled firmware codec, and measures its heap use per encode,
4. decodes the stream on the host (construct codec and the fast path), checks
   the device's protocol version and schema hash, and writes the results.
"""

from __future__ import annotations

import csv
import json
import sys
import time
from pathlib import Path

from afbms import fwbuild
from afbms.mpvm import firmware_files, run_script
from afbms.protocol import codegen
from afbms.protocol.enums import MsgType
from afbms.protocol.fast import FastStats, decode_log_pages
from afbms.protocol.frame import FrameReader
from afbms.protocol.schema import SCHEMA_HASH, check_peer

# Runs inside the VM. A synthetic anode-free cell cycle, in integers only:
# CC charge with a nucleation dip at the first plating, rising stack pressure
# from plated lithium (4.85 µm per mAh/cm² when dense), then CC discharge ending
# in the sharp knee when the plated lithium runs out.
_VM_PROGRAM = """
import gc
import sys
from bms import wire

SAMPLES = {samples}
out = sys.stdout.buffer
enc = wire.Encoder()
raw = enc.raw
HS = wire.HEADER_SIZE
log = bytearray(wire.LOG_PAGE_RECORDS * wire.LOG_RECORD_SIZE)
view = memoryview(enc.wire)


def send(n):
    out.write(view[0:n])


n = wire.pack_info(raw, HS, b"vm-demo0", 0, 1, 0, b"vm", wire.PROTOCOL_VERSION,
                   wire.SCHEMA_HASH, wire.CAP_SIMULATED | wire.CAP_FLASH_LOG,
                   wire.LOG_RECORD_SIZE, wire.MAX_PAYLOAD, 0)
send(enc.finish(wire.MSG_INFO, n, wire.FLAG_RESPONSE, 0))

def cycle():
    # One cycle; returns (encodes, heap bytes those encodes allocated).
    t = 0
    T0 = 848000000
    AREA_MM2 = 100                   # 1 cm2 electrode
    CAP_UAH = 1000                   # 1 mAh
    I_UA = 2000                      # 2 mA (C/2)
    LOSS_PPM = 2000                  # 0.2 % of the plated lithium is lost this cycle
    half = SAMPLES // 2
    dt_s = 3600 * CAP_UAH // I_UA // half   # seconds per sample so a half-cycle ~ full capacity
    charge_uah = 0
    q_in = 0
    q_out = 0
    seq = 0
    page_fill = 0
    page_start = 0
    alloc = 0
    encodes = 0
    state = wire.STATE_CHARGE
    for i in range(SAMPLES):
        t = T0 + i * dt_s
        charging = i < half
        if charging:
            current = I_UA
            soc = charge_uah * 1000 // CAP_UAH          # per mille plated
            volts = 3400000 + 700 * soc + (soc * soc) // 5
            if i < 3:
                volts -= 30000 - 10000 * i               # nucleation overpotential dip
            q_in += I_UA * dt_s // 3600
            charge_uah += I_UA * dt_s // 3600
        else:
            step = I_UA * dt_s // 3600
            delivered = step if charge_uah >= step else charge_uah
            charge_uah -= delivered
            q_out += delivered
            current = -I_UA if delivered else 0      # empty: the cycler's cutoff stops it
            soc = charge_uah * 1000 // CAP_UAH
            volts = 3300000 + 800 * soc
            if soc < 40:
                volts -= (40 - soc) * 30000              # depletion knee: no lithium left
        plated_nm = charge_uah * 48500 // AREA_MM2   # 4.85 um per mAh/cm2 = 48.5 nm per uAh/mm2
        pressure = 5000000 + plated_nm * 3               # fixture stiffness: 3 Pa per nm
        temp = 25000 + (current // 100 if current > 0 else -current // 100)
        gc.collect()
        before = gc.mem_alloc()
        n = wire.pack_telemetry(raw, HS, t, 0, volts, current, pressure, temp, charge_uah, state, 0)
        m = enc.finish(wire.MSG_TELEMETRY, n, 0, -1)
        alloc += gc.mem_alloc() - before
        encodes += 1
        send(m)
        wire.pack_log_record(log, page_fill * wire.LOG_RECORD_SIZE, seq, t, 0, wire.LOG_SAMPLE,
                             state, 0, 0, volts, current, pressure, temp, charge_uah)
        seq += 1
        page_fill += 1
        if page_fill == wire.LOG_PAGE_RECORDS or i == SAMPLES - 1:
            n = wire.pack_log_data(raw, HS, page_start, page_fill)
            size = page_fill * wire.LOG_RECORD_SIZE
            raw[HS + n:HS + n + size] = log[0:size]
            send(enc.finish(wire.MSG_LOG_DATA, n + size, wire.FLAG_RESPONSE, -1))
            page_start = seq
            page_fill = 0
        if i == half - 1:
            charge_uah -= q_in * LOSS_PPM // 1000000    # lithium lost to SEI and dead Li
            state = wire.STATE_DISCHARGE
            n = wire.pack_event(raw, HS, t, 0, wire.EVT_STATE_CHANGE, wire.SEV_INFO,
                                wire.STATE_CHARGE, volts, current, pressure, temp, state, 0)
            send(enc.finish(wire.MSG_EVENT, n, 0, -1))

    ce_ppm = q_out * 1000000 // q_in
    n = wire.pack_estimate(raw, HS, t, 1, q_out, q_out * 1000000 // CAP_UAH, ce_ppm, ce_ppm,
                           q_in - q_out, 0, 0, 0, 0, 0, -1, -1)
    send(enc.finish(wire.MSG_ESTIMATE, n, 0, -1))
    return encodes, alloc


encodes, alloc = cycle()
sys.stderr.write("ALLOC %d %d\\n" % (encodes, alloc))
"""


def _say(step: str) -> None:
    print(f"afbms demo: {step}", flush=True)


def run_demo(out_dir: Path, samples: int = 120) -> int:
    start = time.monotonic()
    out_dir.mkdir(parents=True, exist_ok=True)

    _say("1/4 checking the firmware codec against protocol/")
    if codegen.default_output().read_text(encoding="utf-8") != codegen.generate():
        print("firmware/bms/wire.py is stale: run `afbms codegen`", file=sys.stderr)
        return 1

    _say("2/4 compiling the firmware with mpy-cross")
    sources = list(fwbuild.firmware_sources())
    files = firmware_files(compile=True)
    mpy_bytes = sum(len(b) for b in files.values())
    print(f"      {len(sources)} files -> {mpy_bytes} bytes of .mpy")

    _say(f"3/4 running {samples} samples of a synthetic cycle in the MicroPython VM")
    result = run_script(_VM_PROGRAM.format(samples=samples), files, timeout=300)
    stream = result.stdout
    (out_dir / "stream.bin").write_bytes(stream)
    encodes, alloc = (int(x) for x in result.stderr.split("ALLOC", 1)[1].split()[:2])

    _say("4/4 decoding the stream on the host")
    reader = FrameReader()
    frames = list(reader.feed(stream))
    info = next(f.payload for f in frames if f.msg_type == MsgType.INFO)
    assert isinstance(info, dict)
    check_peer(info["protocol_version"], info["schema_hash"])
    telemetry = [f.payload for f in frames if f.msg_type == MsgType.TELEMETRY]
    events = [f.payload for f in frames if f.msg_type == MsgType.EVENT]
    estimate = next(f.payload for f in frames if f.msg_type == MsgType.ESTIMATE)
    fast_stats = FastStats()
    records = decode_log_pages(stream, fast_stats)

    with (out_dir / "telemetry.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["Test Time / s", "Voltage / V", "Current / A", "Applied Pressure / Pa",
                         "Temperature / degC", "Charge / Ah", "State"])  # fmt: skip
        t0 = telemetry[0]["t_s"]
        for row in telemetry:
            writer.writerow([row["t_s"] - t0, row["voltage_uv"] / 1e6, row["current_ua"] / 1e6,
                             row["pressure_pa"], row["temperature_mc"] / 1e3,
                             row["charge_uah"] / 1e6, row["state"].name])  # fmt: skip

    summary = {
        "device": {"board": info["board"], "schema_hash": f"0x{info['schema_hash']:08X}",
                   "schema_matches": info["schema_hash"] == SCHEMA_HASH},
        "frames": {"accepted": reader.stats.accepted, "rejected": reader.stats.rejected,
                   "telemetry": len(telemetry), "events": len(events), "wire_bytes": len(stream)},
        "log": {"records": len(records), "bad_records": fast_stats.bad_records},
        "estimate": {"ce_ppm": estimate["ce_last_ppm"], "inventory_uah": estimate["inventory_uah"],
                     "loss_uah": estimate["loss_total_uah"]},
        "vm_heap_bytes_per_telemetry_encode": alloc / encodes,
        "seconds": round(time.monotonic() - start, 2),
    }  # fmt: skip
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")

    first, peak = telemetry[0], max(telemetry, key=lambda r: r["voltage_uv"])
    last = telemetry[-1]
    print(
        f"      device '{info['board']}' protocol {info['protocol_version'] >> 4}."
        f"{info['protocol_version'] & 15}, schema 0x{info['schema_hash']:08X} (matches)"
    )
    print(
        f"      {reader.stats.accepted} frames ({len(stream)} bytes), "
        f"{reader.stats.rejected} rejected; {len(records)} log records, "
        f"{fast_stats.bad_records} bad"
    )
    for label, row in (("start", first), ("top of charge", peak), ("end", last)):
        volts, milliamps = row["voltage_uv"] / 1e6, row["current_ua"] / 1e3
        print(
            f"      {label:<14} {volts:6.3f} V {milliamps:+6.2f} mA "
            f"{row['pressure_pa'] / 1e6:6.3f} MPa {row['temperature_mc'] / 1e3:5.1f} °C "
            f"{row['state'].name}"
        )
    print(f"      event: {events[0]['kind'].name} -> {events[0]['state'].name}" if events else "")
    print(
        f"      cycle CE {estimate['ce_last_ppm'] / 1e4:.2f} %, "
        f"heap bytes per TELEMETRY encode in the VM: {alloc / encodes:g}"
    )
    print(f"afbms demo: done in {summary['seconds']} s; wrote {out_dir}/stream.bin, "
          f"telemetry.csv, summary.json")  # fmt: skip
    return 0
