"""Reliability figures on the virtual board running the real MicroPython VM:

* protocol fuzz into the running firmware: mutated frames of every message type
  (bit flips, truncation, wrong CRC or length, unknown types and versions, garbage,
  well-formed requests with bad arguments); crashes and unintended state changes;
* power cuts at random instants while the firmware logs, the log read out over the
  protocol after each power-on: corrupted records served;
* ``afbms flash`` cut at random instants: boards that no longer boot.

The procedures live in tests/vboard/reliability.py (the slow tests run them with small
counts and assert); this prints the figures at the counts given.

    python bench/bench_reliability.py [--frames 20000] [--cuts 100] [--flashes 50]
                                      [--only fuzz,cuts,flash]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo: tests.vboard

from tests.vboard.reliability import (
    fuzz_running_firmware,
    interrupted_flashes,
    power_cuts_while_logging,
)

PARTS = ("fuzz", "cuts", "flash")


def _progress(text: str) -> None:
    print(f"  .. {text}", file=sys.stderr, flush=True)


def _details(details: list[str]) -> None:
    for line in details[:10]:
        print(f"    {line}")
    if len(details) > 10:
        print(f"    ... and {len(details) - 10} more")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=20_000, help="mutated frames (fuzz)")
    parser.add_argument("--cuts", type=int, default=100, help="power cuts while logging")
    parser.add_argument("--flashes", type=int, default=50, help="interrupted flashes")
    parser.add_argument("--readout-speed", default="1", metavar="X|max",
                        help="virtual board speed while the log is read out (cuts)")  # fmt: skip
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--only", default=",".join(PARTS), help="parts: " + ", ".join(PARTS))
    args = parser.parse_args(argv)
    parts = [p.strip() for p in args.only.split(",") if p.strip()]
    if unknown := set(parts) - set(PARTS):
        parser.error(f"--only: unknown part(s) {', '.join(sorted(unknown))}")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="afbms-reliability-") as tmp:
        work = Path(tmp)
        if "fuzz" in parts:
            r = fuzz_running_firmware(work, frames=args.frames, seed=args.seed, progress=_progress)
            print("protocol fuzz into the running firmware (MicroPython VM, virtual board)")
            print(f"  mutated frames sent           {r.frames:>8}  ({r.bytes_sent} bytes)")
            print(f"  crashes                       {r.crashes:>8}  (HELLO checks: {r.checks})")
            print(f"  unintended state changes      {r.unintended_changes:>8}  "
                  f"(full state checks: {r.state_checks})")  # fmt: skip
            kinds = ", ".join(f"{k} {n}" for k, n in sorted(r.withheld_kinds.items()))
            print(f"  withheld: mutations that became valid state-changing requests "
                  f"{r.withheld} ({kinds})")  # fmt: skip
            print(f"  wall time                     {r.wall_s:>8.0f} s "
                  f"({r.frames / r.wall_s:.0f} frames/s)")  # fmt: skip
            _details(r.details)
        if "cuts" in parts:
            speed = None if args.readout_speed == "max" else float(args.readout_speed)
            r = power_cuts_while_logging(
                work, cuts=args.cuts, seed=args.seed, readout_speed=speed, progress=_progress
            )
            print(f"power cuts while logging, log read out after each power-on "
                  f"(readout at speed {args.readout_speed})")  # fmt: skip
            print(f"  power cuts                    {r.cuts:>8}  (readouts: {r.readouts})")
            print(f"  records served                {r.records_served:>8}")
            print(f"  corrupted records served      {r.corrupted:>8}  "
                  f"(CRC {r.corrupted_served}, order {r.out_of_order}, "
                  f"gap in a boot {r.gaps_within_a_boot}, gap at a boot {r.boundary_gap_too_big}, "
                  f"earlier boot lost/changed {r.durable_lost_or_changed}, "
                  f"beyond the unflushed batch {r.lost_beyond_unflushed})")  # fmt: skip
            print(f"  most records a cut took       {r.max_tail_lost:>8}  "
                  f"(batch: {r.batch_records} records)")  # fmt: skip
            print(f"  LOG_INFO stalls (asked again) {r.stalls:>8}")
            print(f"  wall time                     {r.wall_s:>8.0f} s")
            _details(r.details)
        if "flash" in parts:
            r = interrupted_flashes(work, count=args.flashes, seed=args.seed, progress=_progress)
            print("afbms flash cut at random instants (0.02..0.8 s in)")
            print(f"  interrupted flashes           {r.cut_mid_flash:>8}  "
                  f"(power cuts: {r.flashes_cut}; the rest after the flash)")  # fmt: skip
            print(f"  unbootable boards             {r.unbootable:>8}  "
                  f"(final flash confirmed: {r.final_flash_confirmed})")  # fmt: skip
            print(f"  wall time                     {r.wall_s:>8.0f} s")
            _details(r.details)
    print(f"total wall time {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
