"""Heap bytes allocated per encode in the real MicroPython VM (firmware codec from .mpy).

gc.mem_alloc() before/after many TELEMETRY encodes and full LOG_DATA page
encodes (pack + CRC + COBS). Goal: 0 bytes per TELEMETRY encode.

    python bench/bench_vm_alloc.py [--quick]
"""

from __future__ import annotations

import argparse

from afbms.mpvm import firmware_files, run_script
from afbms.protocol.fwcheck import alloc_script, parse_alloc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer encodes (smoke test)")
    args = parser.parse_args(argv)
    count, pages = (100, 5) if args.quick else (10_000, 200)
    files = firmware_files(["bms/__init__.py", "bms/wire.py"], compile=True)
    result = run_script(alloc_script(count, pages), files, timeout=600)
    figures = parse_alloc(result.stdout.decode())
    print("heap allocated on the firmware encode path, MicroPython VM (wire.mpy)")
    print(f"{'what':<22} {'encodes':>8} {'bytes':>8} {'bytes/encode':>13}")
    for what, (n, allocated) in figures.items():
        print(f"{what:<22} {n:>8} {allocated:>8} {allocated / n:>13.3f}")
    per = figures["telemetry"][1] / figures["telemetry"][0]
    print(f"TELEMETRY encode: {per:g} heap bytes (goal 0): {'met' if per == 0 else 'MISSED'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
