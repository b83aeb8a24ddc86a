"""``python -m afbms.scenario <file.toml> ...`` (also ``afbms scenario``): run
scenarios, print a summary each.

Exit status 0 when every check of every scenario passed, 1 when one failed,
2 for a scenario that cannot be run (one line on stderr).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from afbms.scenario.runner import Result, latency, run_scenario
from afbms.scenario.spec import ScenarioError, load

_SIGNATURES = (
    "VOLTAGE_DROP", "VOLTAGE_NOISE", "CHARGE_OVERRUN", "CE_COLLAPSE", "SELF_DISCHARGE",
    "PRESSURE_ANOMALY", "SHORT_SUSPECTED", "SOFT_SHORT", "HARD_SHORT",
)  # fmt: skip


def summary(res: Result) -> dict:
    sc = res.scenario
    errs = res.inventory_errors_pct()
    last = res.estimates[-1] if res.estimates else None
    first = {}
    for k in _SIGNATURES:
        e = res.first_event(k)
        if e is not None:
            lat = latency(res, k)
            first[k] = {"t_s": e["t_s"], "value": e["value"], "latency": lat}
    return {
        "name": sc.name,
        "path": sc.path,
        "preset": sc.preset,
        "passed": res.passed,
        "samples": res.samples,
        "simulated_s": res.sim_s,
        "wall_s": round(res.wall_s, 3),
        "sim_s_per_wall_s": round(res.speed, 1),
        "cycles": res.fw_cycles,
        "faults_latched": res.latched,
        "onsets": res.onsets,
        "first_events": first,
        "inventory_error_pct_max": max(errs) if errs else None,
        "inventory_error_pct_last": errs[-1] if errs else None,
        "last_estimate": last,
        "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in res.checks],
    }


def print_summary(res: Result) -> None:
    s = summary(res)
    sc = res.scenario
    print(f"== {sc.name}  ({sc.preset}){'  ' + sc.path if sc.path else ''}")
    if sc.description:
        print(f"   {sc.description}")
    print(f"   {s['samples']} samples, {s['simulated_s'] / 3600:.1f} h simulated in "
          f"{s['wall_s']:.1f} s: {s['sim_s_per_wall_s']:.0f} simulated s per wall s")  # fmt: skip
    print(f"   cycles closed {s['cycles']}, faults latched 0x{s['faults_latched']:x}")
    for o in res.onsets:
        print(f"   {o['action']} {o['kind']} at {o['t_s']:.0f} s (sample {o['sample']})")
    for k, e in s["first_events"].items():
        lat = e["latency"]
        tail = ""
        if lat is not None:
            tail = f"  latency {lat['samples']:.0f} samples, {lat['cycles']:.3f} cycles"
        print(f"   first {k:<17} at {e['t_s']:.0f} s value {e['value']}{tail}")
    if s["inventory_error_pct_max"] is not None:
        print(f"   inventory error: max {s['inventory_error_pct_max']:.3f} %, "
              f"last {s['inventory_error_pct_last']:.3f} % of initial")  # fmt: skip
    last = s["last_estimate"]
    if last:
        print(f"   last ESTIMATE: cycle {last['cycle_count']}, "
              f"inventory {last['inventory_uah']} µAh ({last['inventory_ppm'] / 1e4:.2f} %; truth "
              f"{last['truth_inventory_uah'] / last['truth_initial_uah'] * 100:.2f} %), "
              f"CE {last['ce_last_ppm'] / 1e4:.3f} %, EOL in {last['cycles_to_eol']}"
              f" ± {last['eol_sigma']} cycles")  # fmt: skip
    for c in res.checks:
        print(f"   [{'ok' if c.ok else 'FAIL'}] {c.name}: {c.detail}")
    print(f"   {'PASSED' if res.passed else 'FAILED'}")


def run_files(files: list[Path], as_json: bool = False) -> int:
    """Run each scenario file in turn, printing its summary (one JSON line each with
    ``as_json``); 0 when every check passed, 1 when one failed. A file that cannot be
    run raises :class:`ScenarioError` (the summaries before it are printed)."""
    status = 0
    for f in files:
        res = run_scenario(load(f))
        if as_json:
            print(json.dumps(summary(res), default=str), flush=True)
        else:
            print_summary(res)
            sys.stdout.flush()
        if not res.passed:
            status = 1
    return status


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m afbms.scenario", description=__doc__)
    ap.add_argument("files", nargs="+", type=Path, help="scenario TOML files")
    ap.add_argument("--json", action="store_true", help="one JSON summary per line")
    args = ap.parse_args(argv)
    try:
        return run_files(args.files, args.json)
    except ScenarioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
