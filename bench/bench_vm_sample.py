"""Cost of the firmware's per-sample path in the real MicroPython VM.

App.step() on a bench board (real drivers on emulated chips, mpy-cross code):
sensors -> protection -> detector -> estimator -> flash log -> TELEMETRY.
Prints heap bytes per sample (goal 0) and the time per sample as a ratio to
a fixed 1000-iteration integer loop timed in the same VM.

    python bench/bench_vm_sample.py [--quick]
"""

from __future__ import annotations

import argparse

from afbms.vmbench import run_sample_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer samples (smoke test)")
    args = parser.parse_args(argv)
    steps = 300 if args.quick else 5000
    r = run_sample_path(steps=steps, warmup=300, timeout=600)
    per_sample_us = r["steps_us"] / r["steps"]
    print("firmware per-sample path in the MicroPython VM (App.step, .mpy)")
    print(f"samples measured        {r['steps']}")
    print(f"heap bytes, total       {r['heap_bytes']}  (flash-segment rollovers every 256 records)")
    print(f"heap bytes per sample   {r['heap_bytes'] / r['steps']:.3f}")
    print(f"time per sample         {per_sample_us:.0f} µs (wasm VM)")
    print(f"reference loop          {r['ref_us']} µs per {r['ref_iterations']} iterations")
    print(f"per-sample / reference  {per_sample_us / r['ref_us']:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
