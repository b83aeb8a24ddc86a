"""The simulated cell: speed of Plant.step at 1 s steps, and the presets' retention.

Prints simulated seconds per wall second of ``Plant.step(1000)`` (cell + cycler +
INA228/NAU7802/NTC emulators with realistic sensor errors, plus a sample read
through the real drivers), and a table per preset: cycles, reported retention,
the calibration target, and the simulated retention by the per-cycle model and
by the stepwise cell (60 s steps; ``--quick`` only for the short presets).

    python bench/bench_plant.py [--quick]
"""

from __future__ import annotations

import argparse
import sys
import time

from afbms.paths import firmware_dir
from afbms.plant.cell import Cell
from afbms.plant.cycler import Cycler, cycling_protocol
from afbms.plant.fastmodel import retention_after
from afbms.plant.presets import PRESETS
from afbms.plant.world import LOADCELL_ADDR, MONITOR_ADDR, NTC_ADC_PIN, Plant


def speed(seconds: int, with_reads: bool) -> float:
    plant = Plant("jeon_t2_w_mg_ncm811", cycles=1000, sensor_errors="realistic",
                  enables=(True, True), keep_records=False)  # fmt: skip
    read = None
    if with_reads:
        if str(firmware_dir()) not in sys.path:
            sys.path.append(str(firmware_dir()))
        from drivers.ina228 import INA228
        from drivers.nau7802 import NAU7802
        from drivers.ntc import NTC

        class Adc:
            def read_u16(self):
                return plant.adc_read_u16(NTC_ADC_PIN)

        ina = INA228(plant.bus, MONITOR_ADDR, 10000, 100000)
        nau = NAU7802(plant.bus, LOADCELL_ADDR, 859, 128, 320)
        ntc = NTC(Adc(), 10000, True, r25_ohm=10000, beta_k=3950)

        def read():
            ina.bus_voltage_uv()
            ina.current_ua()
            ina.charge_delta_uams()
            nau.pressure_pa(100_000)
            ntc.temperature_mc()
            plant.truth()

    t0 = time.perf_counter()
    for _ in range(seconds):
        plant.step(1000)
        if read is not None:
            read()
    return seconds / (time.perf_counter() - t0)


def stepwise_retention(pr, dt: float = 60.0) -> float:
    cell = Cell(pr.params)
    cyc = Cycler(cell, cycling_protocol(pr.params, pr.cycles), keep_records=False)
    while not cyc.done:
        cyc.advance(dt)
    return cell.q_discharge_last / cell.q_discharge_first


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="small sizes (smoke test)")
    args = ap.parse_args()
    n = 5_000 if args.quick else 100_000
    s = speed(n, False)
    print(f"Plant.step at 1 s steps: {s:,.0f} simulated s per wall s "
          f"({s / 86400:.2f} simulated days per wall s)")  # fmt: skip
    s = speed(n // 2, True)
    print(f"  with a driver read of every sensor + truth() per step: {s:,.0f} simulated s/s")
    print()
    print("preset retention (reported -> calibrated k_loss -> simulated)")
    hdr = (f"{'preset':38s} {'cycles':>6s} {'reported':>9s} {'target':>7s} {'k_loss':>9s} "
           f"{'per-cycle':>9s} {'stepwise':>9s}")  # fmt: skip
    print(hdr)
    worst = 0.0
    for key, pr in PRESETS.items():
        fast = retention_after(pr.params, pr.cycles)
        worst = max(worst, abs(fast - pr.target_retention))
        short = pr.cycles * (2 * pr.areal_capacity_mah_cm2 / pr.current_ma_cm2 + 0.6) < 1000
        if args.quick and not short:
            step = "-"
        else:
            sr = stepwise_retention(pr)
            worst = max(worst, abs(sr - pr.target_retention))
            step = f"{sr * 100:8.2f}%"
        rep = "n/a" if pr.reported_retention is None else f"{pr.reported_retention * 100:.2f}%"
        print(f"{key:38s} {pr.cycles:6d} {rep:>9s} {pr.target_retention * 100:6.2f}% "
              f"{pr.k_loss:9.3g} {fast * 100:8.2f}% {step:>9s}")  # fmt: skip
    print(f"largest |simulated - target|: {worst * 100:.2f} % (goal <= 1 %): "
          f"{'met' if worst <= 0.01 else 'MISSED'}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
