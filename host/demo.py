"""The end-to-end demo on a virtual board (``afbms demo``, the README's first command).

1. start a virtual board: the real MicroPython VM on a pseudo-terminal, with a
   simulated anode-free cell (a preset from the seeds' tables) behind its pins;
2. flash the firmware onto it (``afbms.flash``: staged, verified, atomic);
3. configure the cell from the preset over the protocol;
4. cycle it faster than real time while showing live telemetry and progress; at the
   start of the charge in cycle ``short_cycle`` a dendrite soft short develops in the
   simulated cell (virtual time), which the firmware should suspect, then confirm,
   and stop charging;
5. read the log out into the SQLite store, export BDF, draw the plots (events marked);
6. print the firmware's estimate beside the simulated cell's truth, and the short
   events with their latencies from the onset.
"""

from __future__ import annotations

import datetime
import math
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from afbms.cellconfig import preset_config
from afbms.device import Device
from afbms.flash import flash
from afbms.monitor import format_frame, monitor
from afbms.plant.world import Plant
from afbms.protocol.enums import Command, ConfigKey, EventKind, Fault, State
from afbms.readout import readout
from afbms.store import Store
from afbms.transport import SerialTransport

PRESET = "jeon_t1_agc_bilayer_ncm83"  # Ag/C bilayer | Li6PS5Cl | NCM83, 1 mA/cm², 60 °C
SAMPLE_PERIOD_MS = 10_000  # 10 s samples: hours of cycling in a minute of wall time
SHORT_DROP_V = 0.05  # the soft short's resistance: about a 50 mV drop at its onset
SHORT_AFTER_S = 1800  # the onset, into the charge of the short's cycle (simulated s)
SHORT_EVENTS = (EventKind.VOLTAGE_DROP, EventKind.VOLTAGE_NOISE, EventKind.CHARGE_OVERRUN,
                EventKind.CE_COLLAPSE, EventKind.SELF_DISCHARGE, EventKind.PRESSURE_ANOMALY,
                EventKind.SHORT_SUSPECTED, EventKind.SOFT_SHORT, EventKind.HARD_SHORT)  # fmt: skip
AFTER_CONFIRM_S = 1800  # simulated time shown after the confirmation: charging stays off
_EPOCH_2000 = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)


class ShortingPlant(Plant):
    """The cell of the demo: a :class:`Plant` in which a steady soft short (a dendrite
    touching the cathode) appears ``SHORT_AFTER_S`` into the charge of cycle
    ``short_cycle`` (once metal is plated: the drop is then the stated one), decided in
    virtual time as the board advances it. ``onset_ms``: plant time of the onset."""

    def __init__(self, preset: str, cycles: int, short_cycle: int, seed: int) -> None:
        super().__init__(preset, cycles=cycles, seed=seed)
        self.short_cycle = short_cycle
        self.onset_ms: int | None = None
        self.short_ohm = 0.0
        self._charge_start_ms: int | None = None

    def advance(self, ms: int) -> None:
        super().advance(ms)
        cycler = self.cycler
        if self.onset_ms is not None or cycler.done or cycler.loop_cycle != self.short_cycle:
            return
        if cycler.step_name() != "charge":
            return
        if self._charge_start_ms is None:
            self._charge_start_ms = self.now_ms()
        if self.now_ms() - self._charge_start_ms >= SHORT_AFTER_S * 1000:
            self.short_ohm = self.soft_short_ohms_for_drop(SHORT_DROP_V)
            self.inject("soft_short", self.short_ohm)
            self.onset_ms = self.now_ms()


@dataclass
class ShortEvent:
    kind: EventKind
    severity: int
    t_s: float  # plant time (s since the plant started)
    after_onset_s: float
    samples: int  # sample periods from the onset to the event (1: the first sample after)


def short_events(events: list[dict[str, Any]], epoch_s: int, onset_ms: int) -> list[ShortEvent]:
    """The short signatures and escalations seen from the onset on, with their latency."""
    out = []
    for e in events:
        if int(e["kind"]) not in SHORT_EVENTS:
            continue
        t_s = e["t_s"] - epoch_s + e.get("t_sub_ms", 0) / 1000.0
        after = t_s - onset_ms / 1000.0
        if after < 0:
            continue
        samples = max(1, math.ceil(after * 1000.0 / SAMPLE_PERIOD_MS - 1e-9))
        out.append(ShortEvent(EventKind(int(e["kind"])), int(e["severity"]), t_s, after, samples))
    return out


def _hms(seconds: float) -> str:
    seconds = round(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _say(text: str) -> None:
    print(f"afbms demo: {text}", flush=True)


@dataclass
class DemoReport:
    out_dir: Path
    store_path: Path
    files: list[Path]  # everything written (store, BDF export, plots)
    cycles_done: int  # cycles the plant completed
    sim_s: float  # simulated time
    wall_s: float
    estimate_uah: float | None  # the firmware's last lithium-inventory estimate
    truth_uah: float  # the simulated cell's inventory at the end
    initial_uah: float
    onset_s: float | None  # plant time of the soft short's onset
    shorts: list[ShortEvent]
    charge_stopped: bool  # the board's charge path was off at the end, state FAULT
    latched: int  # fault bits in the last telemetry
    records: int
    bad_records: int

    def first(self, kind: EventKind) -> ShortEvent | None:
        return next((e for e in self.shorts if e.kind == kind), None)


def run_demo(out_dir: Path, cycles: int = 4, short_cycle: int = 3,
             wall_limit_s: float = 240.0) -> int:  # fmt: skip
    """``afbms demo``: run it, print what happened; 0 when it ran to the end."""
    demo(out_dir, cycles=cycles, short_cycle=short_cycle, wall_limit_s=wall_limit_s)
    return 0


def demo(out_dir: Path, cycles: int = 4, short_cycle: int = 3,
         wall_limit_s: float = 240.0) -> DemoReport:  # fmt: skip
    """The end-to-end run (see the module docstring). ``short_cycle``: the cycle in whose
    charge the soft short develops (0: none). Cycling stops at the end of the protocol,
    ``AFTER_CONFIRM_S`` of simulated time after the firmware confirmed the short, or at
    ``wall_limit_s`` of wall time."""
    from afbms.export import export
    from afbms.plot import plot
    from afbms.vboard import VirtualBoard

    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    plant = ShortingPlant(PRESET, cycles=cycles, short_cycle=short_cycle, seed=1)
    epoch_s = int((datetime.datetime.now(datetime.UTC) - _EPOCH_2000).total_seconds())
    store_path = out_dir / "demo.sqlite"
    store_path.unlink(missing_ok=True)
    live_events: list[dict[str, Any]] = []
    last_telemetry: dict[str, Any] = {}
    with (
        tempfile.TemporaryDirectory(prefix="afbms-demo-") as tmp,
        VirtualBoard(Path(tmp) / "flash", vm="micropython", plant=plant, epoch_s=epoch_s) as board,
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
            plan = (f"; a soft short develops at the start of the charge in cycle {short_cycle}"
                    if short_cycle else "")  # fmt: skip
            _say(f"4/6 cycling {cycles} cycles faster than real time{plan}")

            def sink(kind: str, payload: dict) -> None:
                if kind == "telemetry":
                    last_telemetry.update(payload)
                elif kind == "event":
                    live_events.append(dict(payload))
                if kind != "telemetry":
                    print(f"      {format_frame(kind, payload)}", flush=True)

            deadline = started + wall_limit_s
            confirmed_at_ms: int | None = None
            with Store.open(store_path) as store:
                while time.monotonic() < deadline:
                    monitor(device, 5.0, sink, store=store)
                    readout(device, store)  # as a connected host would: the ring never wraps
                    with board.lock:
                        truth = plant.truth()
                        now_ms = plant.now_ms()
                    _progress(truth, now_ms, cycles, time.monotonic() - started, plant.onset_ms)
                    if last_telemetry:
                        print(f"      {format_frame('telemetry', last_telemetry)}", flush=True)
                    if confirmed_at_ms is None and any(
                        int(e["kind"]) == EventKind.SOFT_SHORT for e in live_events
                    ):
                        confirmed_at_ms = now_ms
                    if truth["protocol_done"] or (
                        confirmed_at_ms is not None
                        and now_ms - confirmed_at_ms >= AFTER_CONFIRM_S * 1000
                    ):
                        break
                sim_s = plant.now_ms() / 1000.0
                _say(f"5/6 reading the log out into {store_path}")
                device.command(Command.FLUSH_LOG)
                result = readout(device, store)
                records = store.record_count(result.device)
                print(f"      {records} records in the store "
                      f"({result.bad_records} failed their CRC)")  # fmt: skip
                bdf = export(store, "bdf", out_dir, None)
                pngs = plot(store, out_dir, ("timeseries", "inventory", "thickness"), None,
                            skip_empty=True)  # fmt: skip
                estimates = store.live("estimates", result.device)
                stored_events = store.live("events", result.device)
        finally:
            device.close()
        with board.lock:
            truth = plant.truth()
            charge_on = truth["charge_enabled"]
    events = stored_events or live_events
    onset_ms = plant.onset_ms
    shorts = short_events(events, epoch_s, onset_ms) if onset_ms is not None else []
    wall = time.monotonic() - started
    rep = DemoReport(
        out_dir=out_dir,
        store_path=store_path,
        files=[store_path, Path(str(bdf.path)), *(Path(str(p)) for p in pngs)],
        cycles_done=max(0, int(truth["loop_cycle"]) - 1) if not truth["protocol_done"] else cycles,
        sim_s=sim_s,
        wall_s=wall,
        estimate_uah=estimates[-1]["inventory_uah"] if estimates else None,
        truth_uah=truth["inventory_uah"],
        initial_uah=truth["initial_inventory_uah"],
        onset_s=onset_ms / 1000.0 if onset_ms is not None else None,
        shorts=shorts,
        charge_stopped=not charge_on and last_telemetry.get("state") == State.FAULT,
        latched=int(last_telemetry.get("faults", 0)),
        records=records,
        bad_records=result.bad_records,
    )
    _print_summary(rep, estimates[-1] if estimates else None, plant.short_ohm)
    return rep


def _progress(truth: dict, now_ms: int, cycles: int, wall_s: float, onset_ms: int | None) -> None:
    sim_s = now_ms / 1000.0
    cycle = min(int(truth["loop_cycle"]) or cycles, cycles)
    short = " | soft short present" if onset_ms is not None else ""
    print(f"   -- cycle {cycle}/{cycles} {truth['step']}: {sim_s / 3600:.1f} h simulated in "
          f"{wall_s:.0f} s (x{sim_s / max(wall_s, 1e-3):.0f}){short}", flush=True)  # fmt: skip


def _print_summary(rep: DemoReport, last_estimate: dict | None, short_ohm: float) -> None:
    _say("6/6 the firmware's estimate beside the simulated cell's truth")
    if last_estimate is not None and rep.estimate_uah is not None:
        error = abs(rep.estimate_uah - rep.truth_uah) / rep.initial_uah * 100
        print(f"      lithium inventory after {last_estimate['cycle_count']} cycles: firmware "
              f"estimate {rep.estimate_uah / 1e3:.4f} mAh, simulated truth "
              f"{rep.truth_uah / 1e3:.4f} mAh (error {error:.2f} % of the initial "
              f"{rep.initial_uah / 1e3:.4f} mAh)")  # fmt: skip
    else:
        print("      no cycle completed: no estimate yet")
    if rep.onset_s is None:
        print("      no soft short was injected")
    else:
        print(
            f"      soft short ({short_ohm:.0f} Ω) from {_hms(rep.onset_s)} simulated "
            f"(sample period {SAMPLE_PERIOD_MS / 1000:g} s); events from the onset on:"
        )
        for e in rep.shorts:
            print(f"        {e.kind.name:<17} at {_hms(e.t_s)}  latency {e.samples:>4} samples "
                  f"= {_hms(e.after_onset_s)} simulated")  # fmt: skip
        if not rep.shorts:
            print("        none: the firmware did not notice the short")
        confirmed = rep.first(EventKind.SOFT_SHORT)
        if confirmed is not None and rep.charge_stopped:
            print(f"      confirmed {_hms(confirmed.after_onset_s)} after the onset; charging "
                  f"stopped (state FAULT, latched {Fault(rep.latched)!r})")  # fmt: skip
        elif confirmed is not None:
            print("      confirmed, but the charge path was still on at the end")
        else:
            print("      the soft short was NOT confirmed within the run")
    print(f"      {rep.sim_s / 3600:.1f} h of cycling simulated in {rep.wall_s:.0f} s of wall time "
          f"(x{rep.sim_s / max(rep.wall_s, 1e-3):.0f})")  # fmt: skip
    _say(f"done; wrote to {rep.out_dir}: " + ", ".join(p.name for p in rep.files))
