"""Dendrite-short detector: recall and latency on faulty scenarios, false alarms on
clean cycling and under sensor faults, and the scenario runner's speed at 1 s.

Faulty cases (REAL firmware app against the stepwise plant, 1 s sampling,
realistic sensor errors), each on several presets (Li pouch NCM712, Li pouch
NCM90, Na NaCrO2) and seeds, onset in the second cycle:

* steady soft short: resistance for a 20, 50 or 80 mV drop at onset, mid-charge;
* intermittent soft short: 20, 50 or 80 mV contacts of ~3 s every ~2 min while plating;
* leak at rest: 2 % or 5 % of the capacity per hour, appearing in the rest after a
  charge (no visible drop);
* hard short (0.5 Ω): mid-charge, at rest, mid-discharge.

Recall: a soft short case counts when SOFT_SHORT is raised (and FAULT_SHORT_SOFT
latched), a hard one when HARD_SHORT is. Latency from onset: VOLTAGE_DROP in
samples from the first sample that shows the fault, SOFT_SHORT in cycle
durations, HARD_SHORT in samples. False alarms: SOFT/HARD_SHORT (and, separately,
any short signature) per 1000 clean cycles at 1 s sampling, plus the 60 s
cycles of ``bench_estimation.py`` when its JSON is given.

    python bench/bench_detection.py [--quick] [--jobs 2] [--estimation out/bench/estimation.json]
"""

from __future__ import annotations

import argparse
import json
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from afbms.plant.presets import PRESETS
from afbms.scenario import from_dict, latency, library_dir, load, run_scenario

PRESETS_DET = ("jeon_t1_agc_ioncomplex_ncm712", "jeon_t2_mgf2c_ncm90",
               "tang_deysher_nacro2_borohydride_al")  # fmt: skip
SIGS = ("VOLTAGE_DROP", "VOLTAGE_NOISE", "CHARGE_OVERRUN", "CE_COLLAPSE", "SELF_DISCHARGE",
        "PRESSURE_ANOMALY")  # fmt: skip
SHORT_KINDS = {*SIGS, "SHORT_SUSPECTED", "SOFT_SHORT", "HARD_SHORT"}


def cases(quick: bool) -> list[dict]:
    out = []
    presets = PRESETS_DET[:1] if quick else PRESETS_DET
    seeds = (1,) if quick else (1, 2)
    for key in presets:
        cap = PRESETS[key].params.inventory_uah
        v_nom = 3.8 if PRESETS[key].params.metal.name == "lithium" else 3.0
        for seed in seeds:
            for mv in (20, 50, 80):
                out.append({"label": f"steady {mv} mV", "preset": key, "seed": seed,
                            "fault": {"kind": "soft_short", "drop_mv": mv, "at_cycle": 2,
                                      "at_step": "charge", "after_s": 2400},
                            "expect": "SOFT_SHORT"})  # fmt: skip
                out.append({"label": f"intermittent {mv} mV", "preset": key, "seed": seed,
                            "fault": {"kind": "soft_short_intermittent", "drop_mv": mv,
                                      "at_cycle": 2, "at_step": "charge", "after_s": 2400,
                                      "params": {"mean_interval_s": 120.0, "duration_s": 3.0}},
                            "expect": "SOFT_SHORT"})  # fmt: skip
            for pct in (2, 5):
                ohm = v_nom / (cap * pct / 100.0 * 1e-6)
                out.append({"label": f"leak {pct} %/h at rest", "preset": key, "seed": seed,
                            "fault": {"kind": "soft_short", "magnitude": ohm, "at_cycle": 2,
                                      "at_step": "rest", "after_s": 5},
                            "expect": "SOFT_SHORT"})  # fmt: skip
            for step, after in (("charge", 2400), ("rest", 60), ("discharge", 2400)):
                out.append({"label": f"hard at {step}", "preset": key, "seed": seed,
                            "fault": {"kind": "hard_short", "magnitude": 0.5, "at_cycle": 2,
                                      "at_step": step, "after_s": after},
                            "expect": "HARD_SHORT"})  # fmt: skip
    if quick:
        out = [c for c in out if c["label"] in ("steady 50 mV", "intermittent 50 mV",
                                                "hard at charge")]  # fmt: skip
    return out


def run_case(case: dict) -> dict:
    sc = from_dict({
        "name": case["label"], "preset": case["preset"], "seed": case["seed"],
        "sample_period_ms": 1000, "duration_h": 30, "protocol": {"cycles": 4},
        "faults": [case["fault"]],
    })  # fmt: skip

    def stop(runner) -> bool:
        # a cycle and a half past the onset is enough (goal: within one cycle)
        inj = [o for o in runner.result.onsets if o["action"] == "inject"]
        return bool(inj) and runner.plant.cell.cycle >= inj[0]["cycle"] + 2

    res = run_scenario(sc, stop=stop)
    out = {"label": case["label"], "preset": case["preset"], "seed": case["seed"],
           "expect": case["expect"], "samples": res.samples, "sim_s": res.sim_s,
           "wall_s": res.wall_s, "latched": res.latched, "lat": {}}  # fmt: skip
    for k in (*SIGS, "SHORT_SUSPECTED", "SOFT_SHORT", "HARD_SHORT"):
        lat = latency(res, k)
        if lat is not None:
            out["lat"][k] = lat
    return out


def run_clean(args: tuple[str, int]) -> dict:
    key, cycles = args
    sc = from_dict({"name": f"clean {key}", "preset": key, "seed": 7, "sample_period_ms": 1000,
                    "protocol": {"cycles": cycles + 1}, "stop_after_cycles": cycles})  # fmt: skip
    res = run_scenario(sc)
    ev = [(e["kind"], e["t_s"], e["truth_cycle"]) for e in res.events if e["kind"] in SHORT_KINDS]
    return {"preset": key, "cycles": res.fw_cycles, "events": ev, "latched": res.latched,
            "samples": res.samples, "sim_s": res.sim_s, "wall_s": res.wall_s}  # fmt: skip


def run_library(path: str) -> dict:
    res = run_scenario(load(path))
    ev = [e["kind"] for e in res.events if e["kind"] in SHORT_KINDS]
    return {"name": res.scenario.name, "passed": res.passed, "events": ev,
            "latched": res.latched}  # fmt: skip


def report(faulty: list[dict], clean: list[dict], sensors: list[dict], est: list[dict]) -> None:
    print("recall and latency on faulty scenarios (1 s sampling, realistic sensor errors)")
    print(f"{'case':24s} {'n':>3s} {'recall':>7s}  {'drop lat (samples)':>18s}  "
          f"{'soft lat (cycles)':>17s}  {'hard lat':>8s}  signatures seen")  # fmt: skip
    labels = []
    for c in faulty:
        if c["label"] not in labels:
            labels.append(c["label"])
    total = hit = 0
    misses = []
    for lab in labels:
        cs = [c for c in faulty if c["label"] == lab]
        ok = [c for c in cs if c["expect"] in c["lat"]]
        total += len(cs)
        hit += len(ok)
        misses += [c for c in cs if c["expect"] not in c["lat"]]
        drops = [c["lat"]["VOLTAGE_DROP"]["samples"] for c in cs if "VOLTAGE_DROP" in c["lat"]]
        soft = [c["lat"]["SOFT_SHORT"]["cycles"] for c in cs if "SOFT_SHORT" in c["lat"]]
        hard = [c["lat"]["HARD_SHORT"]["samples"] for c in cs if "HARD_SHORT" in c["lat"]]
        seen = sorted({k for c in cs for k in c["lat"] if k in SIGS})
        d = f"{min(drops):.0f}..{max(drops):.0f}" if drops else "-"
        s = f"{min(soft):.3f}..{max(soft):.3f}" if soft else "-"
        h = f"{min(hard):.0f}..{max(hard):.0f}" if hard else "-"
        print(f"{lab:24s} {len(cs):3d} {len(ok) / len(cs) * 100:6.0f}%  {d:>18s}  {s:>17s}  "
              f"{h:>8s}  {', '.join(seen)}")  # fmt: skip
    print(f"overall recall: {hit}/{total} = {hit / total * 100:.1f} % (goal 100 %)")
    for c in misses:
        print(f"  MISSED: {c['label']} on {c['preset']} seed {c['seed']}: {sorted(c['lat'])}")
    drops = [c["lat"]["VOLTAGE_DROP"]["samples"] for c in faulty if "VOLTAGE_DROP" in c["lat"]
             and not c["label"].startswith(("leak", "hard"))]  # fmt: skip
    soft = [c["lat"]["SOFT_SHORT"]["cycles"] for c in faulty if "SOFT_SHORT" in c["lat"]]
    hard = [c["lat"]["HARD_SHORT"]["samples"] for c in faulty if "HARD_SHORT" in c["lat"]]
    if drops:
        print(f"voltage-drop latency: worst {max(drops):.0f} samples (goal <= 2)")
    if soft:
        print(f"soft-short latency: worst {max(soft):.3f} cycles (goal <= 1)")
    if hard:
        print(f"hard-short latency: worst {max(hard):.0f} samples (goal <= 1)")
    hard_in_soft = [c for c in faulty if c["expect"] == "SOFT_SHORT" and "HARD_SHORT" in c["lat"]]
    print(f"soft-short cases also flagged HARD_SHORT: {len(hard_in_soft)}")
    print()
    print("false alarms on clean cycling")
    n1 = sum(c["cycles"] for c in clean)
    fa1 = sum(1 for c in clean if c["latched"] & ((1 << 12) | (1 << 13)))
    sig1 = sum(len(c["events"]) for c in clean)
    print(f"  1 s sampling: {n1} clean cycles on {len(clean)} presets: short latches {fa1}, "
          f"signature/suspicion events {sig1}")  # fmt: skip
    n60 = sum(r["cycles"] for r in est)
    fa60 = sum(1 for r in est if r["latched"] & ((1 << 12) | (1 << 13)))
    sig60 = sum(len(r["alarms"]) for r in est)
    if est:
        print(f"  60 s sampling (bench_estimation runs): {n60} clean cycles: short latches "
              f"{fa60}, signature/suspicion events {sig60}")  # fmt: skip
    n = n1 + n60
    fa = fa1 + fa60
    if n:
        bound = 3000.0 / n  # 95 % upper bound with zero events: 3 / n
        rate = fa / n * 1000
        upper = bound if fa == 0 else float("nan")
        print(f"  false alarms per 1000 clean cycles: {rate:.3f} over {n} cycles "
              f"(95 % upper bound {upper:.3f}; goal < 0.1)")  # fmt: skip
        sig = (sig1 + sig60) / n * 1000
        print(f"  signature/suspicion (WARNING, no latch) events per 1000 clean cycles: {sig:.2f}")
    for c in clean:
        for e in c["events"][:5]:
            print(f"    {c['preset']}: {e}")
    if sensors:
        print()
        print("sensor faults and contact loss (library scenarios): a short must not be claimed")
        for s in sensors:
            bad = s["latched"] & ((1 << 12) | (1 << 13))
            print(f"  {s['name']:34s} {'PASS' if s['passed'] else 'FAIL'}  short latched: "
                  f"{'yes' if bad else 'no'}  signatures: {sorted(set(s['events']))}")  # fmt: skip
    print()
    runs = faulty + clean
    sim = sum(r["sim_s"] for r in runs)
    wall = sum(r["wall_s"] for r in runs)
    samples = sum(r["samples"] for r in runs)
    print(f"scenario runner at 1 s sampling: {samples} samples, {sim / 3600:.0f} h simulated in "
          f"{wall:.0f} s of CPU: {sim / wall:.0f} simulated s per wall s "
          f"({samples / wall:.0f} samples/s)")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument(
        "--estimation",
        type=Path,
        default=Path("out/bench/estimation.json"),
        help="bench_estimation.py --json output (its clean 60 s cycles)",
    )
    args = ap.parse_args(argv)
    fcases = cases(args.quick)
    clean_tasks = (
        [("tang_lu_na_ssze_hv", 2)]
        if args.quick
        else [
            (k, 12)
            for k in (
                "jeon_t1_agc_ioncomplex_ncm712",
                "jeon_t2_mgf2c_ncm90",
                "tang_deysher_nacro2_borohydride_al",
                "tang_lu_na_ssze_hv",
                "tang_neudecker_lco_lipon_cu",
                "jeon_t1_agc_spray_ncm83",
            )
        ]
    )
    lib = [] if args.quick else sorted(
        str(p) for p in library_dir().glob("*.toml")
        if p.name.startswith(("sensor_", "contact_"))
    )  # fmt: skip
    t0 = time.perf_counter()
    with ProcessPoolExecutor(max(1, args.jobs)) as ex:
        fut_f = ex.map(run_case, fcases)
        fut_c = ex.map(run_clean, clean_tasks)
        fut_l = ex.map(run_library, lib)
        faulty, clean, sensors = list(fut_f), list(fut_c), list(fut_l)
    est = []
    if not args.quick and args.estimation.is_file():
        est = json.loads(args.estimation.read_text())
    report(faulty, clean, sensors, est)
    print(f"(wall time: {time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
