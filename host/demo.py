"""The end-to-end demo on a virtual board (``afbms demo``, the README's first command).

1. start a virtual board: the real MicroPython VM on a pseudo-terminal, with a
   simulated anode-free cell (a preset from the seeds' tables) behind its pins;
2. flash the firmware onto it (``afbms.flash``: staged, verified, atomic);
3. configure the cell from the preset over the protocol;
4. cycle it faster than real time while showing live telemetry;
5. read the log out into the SQLite store, export BDF, draw the plots;
6. print the firmware's estimate beside the simulated cell's truth.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from afbms.cellconfig import preset_config
from afbms.device import Device
from afbms.flash import flash
from afbms.monitor import format_frame, monitor
from afbms.protocol.enums import Command, ConfigKey
from afbms.readout import readout
from afbms.store import Store
from afbms.transport import SerialTransport

PRESET = "jeon_t1_agc_bilayer_ncm83"  # Ag/C bilayer | Li6PS5Cl | NCM83, 1 mA/cm², 60 °C
SAMPLE_PERIOD_MS = 10_000  # 10 s samples: hours of cycling in a minute of wall time


def _say(text: str) -> None:
    print(f"afbms demo: {text}", flush=True)


def run_demo(out_dir: Path, cycles: int = 2, wall_limit_s: float = 240.0) -> int:
    from afbms.export import export
    from afbms.plant.world import Plant
    from afbms.plot import plot
    from afbms.vboard import VirtualBoard

    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    plant = Plant(PRESET, cycles=cycles, seed=1)
    store_path = out_dir / "demo.sqlite"
    store_path.unlink(missing_ok=True)
    with (
        tempfile.TemporaryDirectory(prefix="afbms-demo-") as tmp,
        VirtualBoard(Path(tmp) / "flash", vm="micropython", plant=plant) as board,
    ):
        _say(f"1/6 virtual board on {board.port} (MicroPython VM), cell preset {PRESET}")
        _say("2/6 flashing the firmware (mpy-cross, staged upload, SHA-256 verify, switch)")
        report = flash(board.port, "sim", timeout=30)
        print(f"      slot {report.slot}: {len(report.uploaded)} files, {report.bytes_sent} bytes, "
              f"confirmed by HELLO")  # fmt: skip
        device = Device(SerialTransport(board.port), timeout=5)
        try:
            info = device.hello()
            _say(f"3/6 configuring the cell from the preset (board {info['board']!r})")
            settings = preset_config(PRESET)
            # Telemetry first: the board refuses a sample period longer than it.
            settings[ConfigKey.TELEMETRY_PERIOD_MS] = SAMPLE_PERIOD_MS
            settings[ConfigKey.SAMPLE_PERIOD_MS] = SAMPLE_PERIOD_MS
            for key, value in settings.items():
                status, now = device.config_set(key, value)
                if now != value:
                    raise RuntimeError(f"the board refused {key.name} = {value}: {status!r}")
            device.command(Command.CLEAR_FAULTS, 0)
            _say(f"4/6 cycling {cycles} cycles faster than real time (live telemetry)")
            shown = {"n": 0}

            def sink(kind: str, payload: dict) -> None:
                shown["n"] += 1
                if kind != "telemetry" or shown["n"] % 40 == 0:
                    print(f"      {format_frame(kind, payload)}", flush=True)

            deadline = started + wall_limit_s
            with Store.open(store_path) as store:
                while not plant.truth()["protocol_done"] and time.monotonic() < deadline:
                    monitor(device, 5.0, sink, store=store)
                    readout(device, store)  # as a connected host would: the ring never wraps
                sim_hours = plant.now_ms() / 3.6e6
                _say(f"5/6 reading the log out into {store_path.name}")
                device.command(Command.FLUSH_LOG)
                result = readout(device, store)
                print(f"      {store.record_count(result.device)} records in the store "
                      f"({result.bad_records} failed their CRC)")  # fmt: skip
                bdf = export(store, "bdf", out_dir, None)
                pngs = plot(store, out_dir, ("timeseries", "inventory", "thickness"), None,
                            skip_empty=True)  # fmt: skip
                estimates = store.live("estimates", result.device)
                events = store.live("events", result.device)
        finally:
            device.close()
    truth = plant.truth()
    _say("6/6 the firmware's estimate beside the simulated cell's truth")
    if estimates:
        last = estimates[-1]
        est_uah, true_uah = last["inventory_uah"], truth["inventory_uah"]
        initial = truth["initial_inventory_uah"]
        error = abs(est_uah - true_uah) / initial * 100
        print(f"      after {last['cycle_count']} cycles: firmware estimate "
              f"{est_uah / 1e3:.4f} mAh, simulated truth {true_uah / 1e3:.4f} mAh "
              f"(error {error:.2f} % of the initial inventory)")  # fmt: skip
    else:
        print("      no cycle completed: no estimate yet")
    shorts = [e for e in events if int(e["kind"]) >= 10]
    print(f"      events: {len(events)} ({len(shorts)} short signatures)")
    wall = time.monotonic() - started
    print(f"      {sim_hours:.1f} h of cycling simulated in {wall:.0f} s of wall time")
    _say(f"done; wrote {store_path}, {bdf.path.name}, "
         f"{', '.join(Path(str(p)).name for p in pngs)} in {out_dir}")  # fmt: skip
    return 0
