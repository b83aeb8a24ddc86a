"""Calibrate the presets: solve each one's ``k_loss`` so the simulated retention after
the reported cycle count equals the target.

    python -m afbms.plant.calibrate            # solve and print the table
    python -m afbms.plant.calibrate --write    # ... and rewrite CALIBRATED in presets.py
    python -m afbms.plant.calibrate --check    # re-simulate the stored values

Retention falls monotonically with ``k_loss``, so bisection on log k finds it.
"""

from __future__ import annotations

import argparse
import re
import sys
from math import log10
from pathlib import Path

from afbms.plant import presets as presets_mod
from afbms.plant.fastmodel import retention_after
from afbms.plant.presets import PRESETS, Preset


def solve_k(preset: Preset, tol: float = 2e-6) -> float:
    """The k_loss giving the target retention at preset.cycles (per-cycle model)."""
    p0 = preset.params
    target = preset.target_retention
    n = preset.cycles

    def ret(k: float) -> float:
        return retention_after(p0.with_(k_loss=k), n)

    lo, hi = -10.0, -0.3  # log10 k
    if ret(10**lo) < target:
        return 10**lo
    if ret(10**hi) > target:
        return 10**hi
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        r = ret(10**mid)
        if abs(r - target) < tol:
            return 10**mid
        if r > target:
            lo = mid
        else:
            hi = mid
    return 10 ** (0.5 * (lo + hi))


def simulated_retention(preset: Preset) -> float:
    return retention_after(preset.params, preset.cycles)


def _write(values: dict[str, float]) -> None:
    path = Path(presets_mod.__file__)
    text = path.read_text()
    body = "".join(f'    "{k}": {v:.6g},\n' for k, v in values.items())
    block = "# BEGIN CALIBRATED\nCALIBRATED: dict[str, float] = {\n" + body + "}\n# END CALIBRATED"
    new, n = re.subn(r"# BEGIN CALIBRATED.*?# END CALIBRATED", block, text, flags=re.S)
    if n != 1:
        raise SystemExit("presets.py: CALIBRATED markers not found")
    path.write_text(new)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true", help="rewrite CALIBRATED in presets.py")
    ap.add_argument("--check", action="store_true", help="only re-simulate the stored values")
    args = ap.parse_args(argv)
    values = {}
    print(f"{'preset':40s} {'cycles':>6s} {'target':>7s} {'k_loss':>10s} {'sim':>7s}")
    for key, pr in PRESETS.items():
        k = pr.params.k_loss if args.check else float(f"{solve_k(pr):.6g}")
        values[key] = k
        sim = retention_after(pr.params.with_(k_loss=k), pr.cycles)
        print(
            f"{key:40s} {pr.cycles:6d} {pr.target_retention * 100:6.2f}% {k:10.4g} "
            f"{sim * 100:6.2f}%  (log10 k {log10(k):.2f})"
        )
    if args.write:
        _write(values)
        print("wrote CALIBRATED to", presets_mod.__file__)
    return 0


if __name__ == "__main__":
    sys.exit(main())
