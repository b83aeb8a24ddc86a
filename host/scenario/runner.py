"""Run the REAL firmware app (CPython mode) sample by sample against the plant.

The app's :class:`~bms.app.Hardware` is built from the plant's I²C bus and ADC
with the real drivers (INA228, NAU7802, NTC), as ``afbms.chips.benchboard``
does with bare emulators; the enables are switches wired to the plant's
cycler; the clock is a :class:`~bms.clock.VirtualClock` that moves only when
the runner steps the plant. Each sample: step the plant to the sampler's next
deadline (splitting the step at fault onsets), then ``App.step()``. EVENT and
ESTIMATE frames are decoded from the app's port (the real wire path) and
stored next to the plant's ground truth at that instant.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from math import isfinite
from pathlib import Path
from typing import Any

from afbms.plant.cycler import CC, CCCV, CV, Loop, Rest, cycling_protocol
from afbms.plant.world import (
    LOADCELL_ADDR,
    MONITOR_ADDR,
    ChannelErrors,
    Plant,
    SensorErrors,
)
from afbms.protocol.enums import ConfigKey, EventKind, Fault, MsgType
from afbms.protocol.frame import FrameReader
from afbms.scenario import _fw  # noqa: F401  (firmware modules importable as on the board)
from afbms.scenario.faults import FaultSchedule
from afbms.scenario.spec import Scenario, ScenarioError
from bms import wire
from bms.app import App, Hardware
from bms.clock import VirtualClock
from bms.config import ConfigStore
from bms.port import MemoryPort
from bms.storage import OsFs
from drivers.ina228 import INA228
from drivers.nau7802 import NAU7802
from drivers.ntc import NTC

TIME_S0 = 800_000_000  # device time at the start (2025-05-08)
SHUNT_UOHM = 10000
MAX_CURRENT_UA = 100000
COUNTS_PER_N = 859
R_FIXED_OHM = 10000
R25_OHM = 10000
BETA_K = 3950


class PlantSwitch:
    """A path-enable output wired to the plant's cycler."""

    def __init__(self, plant: Plant, index: int, peer: PlantSwitch | None = None):
        self.plant = plant
        self.index = index
        self.peer = peer
        self.on = False
        self.changes = 0
        self.held = False  # the runner holds the path (formation override): not forwarded

    def set(self, on):
        on = bool(on)
        if on != self.on:
            self.on = on
            self.changes += 1
            if self.held:
                return
            chg = self.on if self.index == 0 else (self.peer.on if self.peer else False)
            dis = self.on if self.index == 1 else (self.peer.on if self.peer else False)
            self.plant.set_enables(chg, dis)


# ---------------------------------------------------------------- set-up helpers


def scenario_protocol(sc: Scenario, plant_params) -> list:
    p = sc.protocol
    cycles = int(p.get("cycles", 10_000))
    if "steps" in p:
        steps = []
        for st in p["steps"]:
            kind = str(st.get("type", "")).lower()
            max_s = st.get("max_s", float("inf"))
            name = st.get("name", "")
            if kind == "cc":
                steps.append(CC(st["current_ma"] * 1e-3, st.get("v_limit"), max_s=max_s, name=name))
            elif kind == "cccv":
                steps.append(CCCV(st["current_ma"] * 1e-3, st["voltage_v"], st["cut_ma"] * 1e-3,
                                  max_s=max_s, name=name or "charge"))  # fmt: skip
            elif kind == "cv":
                lim = st.get("limit_ma", float("inf")) * 1e-3
                steps.append(CV(st["voltage_v"], st["cut_ma"] * 1e-3, lim, max_s=max_s, name=name))
            elif kind == "rest":
                steps.append(Rest(st["s"], name=st.get("name", "")))
            else:
                raise ScenarioError(f"{sc.path or sc.name}: unknown protocol step type {kind!r}")
        return [Loop(steps, cycles)]
    cv = p.get("cv_cut_c", 0.05)
    if cv is False:
        cv = None
    return cycling_protocol(
        plant_params, cycles, j_ma_cm2=p.get("current_ma_cm2"), v_max=p.get("v_max"),
        v_min=p.get("v_min"), cv_cut_c=cv, rest_s=float(p.get("rest_s", 600.0)),
    )  # fmt: skip


def scenario_sensor_errors(sc: Scenario) -> SensorErrors:
    base = sc.sensors.get("errors", "realistic")
    se = SensorErrors.realistic(sc.seed) if base == "realistic" else SensorErrors.none()
    for ch in ("current", "voltage", "pressure", "temperature"):
        o = sc.sensors.get(ch)
        if o:
            cur: ChannelErrors = getattr(se, ch)
            setattr(se, ch, ChannelErrors(
                float(o.get("offset", cur.offset)), float(o.get("gain_ppm", cur.gain_ppm)),
                float(o.get("noise", cur.noise_rms)), cur.stuck,
            ))  # fmt: skip
    return se


def preset_config(plant: Plant, sc: Scenario) -> dict[int, int]:
    """Firmware config for the scenario's cell: the preset's metal, capacity, area,
    cutoffs (protection 50 mV above the cycler's charge cutoff and 100 mV below its
    discharge cutoff), currents, pressures and temperatures; then the overrides."""
    p = plant.params
    curve = p.curve
    prot = sc.protocol
    v_max = float(prot.get("v_max", curve.v_max))
    v_min = float(prot.get("v_min", curve.v_min))
    j = float(prot.get("current_ma_cm2", p.j_ref_ma_cm2))
    i_ua = j * p.area_cm2 * 1000.0
    area = round(p.area_cm2 * 100_000)
    i_max = max(round(2.5 * i_ua), 1000)
    i_max = min(i_max, 20 * area // 100)  # R_DENSITY: <= 20 mA/cm²
    p_mpa = p.preload_mpa
    amb = sc.ambient_c if sc.ambient_c is not None else p.ambient_c
    t_max = max(85_000, round((amb + 15.0) * 1000))
    melt = round(p.metal.melt_c * 1000) - 10_000
    cfg = {
        wire.CFG_METAL: p.metal.wire_id,
        wire.CFG_CAPACITY_UAH: round(p.inventory_uah),
        wire.CFG_ACTIVE_AREA_UM2K: area,
        wire.CFG_V_MAX_UV: round((v_max + 0.05) * 1e6),
        wire.CFG_V_MIN_UV: round((v_min - 0.10) * 1e6),
        wire.CFG_I_CHARGE_MAX_UA: i_max,
        wire.CFG_I_DISCHARGE_MAX_UA: i_max,
        wire.CFG_T_MAX_MC: min(t_max, melt),
        wire.CFG_T_MIN_MC: min(0, round((amb - 20.0) * 1000)),
        # contact loss below half the fixture's preload (0: no fixture to speak of)
        wire.CFG_P_MIN_PA: round(p_mpa * 0.5e6) if p_mpa >= 1.0 else 0,
        wire.CFG_P_MAX_PA: min(max(40_000_000, round((p_mpa + 20.0) * 1e6)), 200_000_000),
        wire.CFG_SAMPLE_PERIOD_MS: sc.sample_period_ms,
        wire.CFG_TELEMETRY_PERIOD_MS: 0,
        # R_DELAY: DEBOUNCE x SAMPLE_PERIOD <= 60 s
        wire.CFG_DEBOUNCE_SAMPLES: max(1, min(3, 60_000 // sc.sample_period_ms)),
    }
    for name, value in sc.config.items():
        cfg[int(ConfigKey[name])] = value
    return cfg


# ---------------------------------------------------------------- results


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class Result:
    scenario: Scenario
    samples: int = 0
    sim_s: float = 0.0
    wall_s: float = 0.0
    events: list[dict[str, Any]] = field(default_factory=list)
    estimates: list[dict[str, Any]] = field(default_factory=list)
    onsets: list[dict[str, Any]] = field(default_factory=list)
    cycle_starts_s: list[float] = field(default_factory=list)  # truth: when cycles closed
    latched: int = 0
    state: int = 0
    truth: dict[str, Any] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)
    trace: list[tuple] = field(default_factory=list)
    fw_cycles: int = 0
    formation_s: float = 0.0  # when the formation override ended (0: none)
    short_seen_sample: int | None = None  # first sample taken with a short conducting

    @property
    def speed(self) -> float:
        """Simulated seconds per wall second."""
        return self.sim_s / self.wall_s if self.wall_s > 0 else float("inf")

    @property
    def passed(self) -> bool:
        return all(c.ok for c in self.checks)

    def first_event(self, kind: str, after_s: float = 0.0) -> dict[str, Any] | None:
        for e in self.events:
            if e["kind"] == kind and e["t_s"] >= after_s:
                return e
        return None

    def inventory_errors_pct(self, min_cycle: int = 2) -> list[float]:
        """|estimate - truth| in % of the initial inventory, per ESTIMATE (the estimate
        from inventory_ppm: finer than the whole-µAh field on small cells)."""
        return [
            abs(e["inventory_ppm"] / 1e4 - e["truth_inventory_uah"] / e["truth_initial_uah"] * 100)
            for e in self.estimates
            if e["cycle_count"] >= min_cycle
        ]


# ---------------------------------------------------------------- the runner


class Runner:
    """One scenario: plant + real firmware app. ``run()`` returns a :class:`Result`."""

    def __init__(self, sc: Scenario, data_dir: str | None = None, trace_every: int = 0):
        self.sc = sc
        self.trace_every = trace_every
        plant_dt = sc.plant_dt_ms if sc.plant_dt_ms is not None else sc.sample_period_ms
        self.plant = Plant(
            sc.preset, protocol=None, cycles=1, seed=sc.seed,
            sensor_errors=scenario_sensor_errors(sc), dt_max_ms=plant_dt,
        )  # fmt: skip
        if sc.ambient_c is not None:
            self.plant.set_ambient(sc.ambient_c)
        self.plant.set_protocol(scenario_protocol(sc, self.plant.params))
        self._tmp = None
        self._t_ms = 0
        self._target = 0
        if data_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="afbms-scenario-")
            data_dir = self._tmp.name
        self.data_dir = data_dir
        fs = OsFs()
        store = ConfigStore(fs, data_dir)
        pairs = sorted(preset_config(self.plant, sc).items())
        status, key = store.set_many(pairs)
        if status != wire.CFGST_OK:
            name = ConfigKey(key).name if key else "?"
            raise ScenarioError(
                f"{sc.path or sc.name}: firmware config refused ({status}) at key {name}"
            )
        plant = self.plant
        self._v_release_uv = dict(pairs)[wire.CFG_V_MIN_UV] + 100_000
        self._formation = sc.formation_override and plant.cell.v * 1e6 < self._v_release_uv
        self.clock = VirtualClock(TIME_S0)
        chg = PlantSwitch(plant, 0)
        dis = PlantSwitch(plant, 1, chg)
        chg.peer = dis
        self.port = MemoryPort()
        self.hw = Hardware(
            b"plant", b"\x51\x4d\x00\x00\x00\x00\x00\x01", self.clock,
            INA228(plant.bus, MONITOR_ADDR, SHUNT_UOHM, MAX_CURRENT_UA), chg, dis, self.port, fs,
            data_dir,
            loadcell=NAU7802(plant.bus, LOADCELL_ADDR, COUNTS_PER_N, 128, 320),
            thermistor=NTC(plant.adc, R_FIXED_OHM, True, r25_ohm=R25_OHM, beta_k=BETA_K),
            simulated=True, capabilities=wire.CAP_CHARGE_ACCUMULATOR | wire.CAP_PRESSURE
            | wire.CAP_TEMPERATURE,
        )  # fmt: skip
        self.app = App(self.hw)
        self.reader = FrameReader()
        self.result = Result(sc)
        self.faults = FaultSchedule(sc.faults)
        self._short_seen_sample: int | None = None
        self._truth_cycle = 0

    def close(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    # -- faults -----------------------------------------------------------------------

    def _fire_due(self) -> None:
        # A sample due at this very instant still sees the world before the fault (no
        # time has passed): it counts as taken before the onset.
        before = self.app.steps + (1 if self._t_ms >= self._target else 0)
        for onset in self.faults.fire_due(self.plant, self._t_ms):
            onset["sample"] = before if onset["action"] == "inject" else self.app.steps
            self.result.onsets.append(onset)

    # -- stepping ---------------------------------------------------------------------

    def _advance(self, ms: int) -> None:
        target = self._t_ms + ms
        self._target = target
        plant = self.plant
        faults = self.faults
        while self._t_ms < target:
            faults.resolve(plant, self._t_ms)
            nxt = target
            if faults.active:
                nxt = min(target, faults.next_ms())
            chunk = int(max(1, round(nxt - self._t_ms))) if nxt > self._t_ms else 0
            if chunk > target - self._t_ms:
                chunk = target - self._t_ms
            if chunk > 0:
                plant.step(chunk)
                self._t_ms += chunk
            if faults.active:
                faults.resolve(plant, self._t_ms)
                self._fire_due()
        self.clock.advance(ms)

    def _collect(self) -> None:
        port = self.port
        if not port.tx:
            return
        res = self.result
        for fr in self.reader.feed(port.take_tx()):
            if fr.msg_type == MsgType.EVENT:
                p = fr.payload
                kind = p["kind"]
                kname = kind.name if isinstance(kind, EventKind) else str(kind)
                t = self.plant.cell
                res.events.append({
                    "kind": kname, "severity": int(p["severity"]), "value": p["value"],
                    "t_s": self._t_ms / 1000.0, "sample": self.app.steps,
                    "voltage_uv": p["voltage_uv"], "current_ua": p["current_ua"],
                    "pressure_pa": p["pressure_pa"], "faults": int(p["faults"]),
                    "state": int(p["state"]), "truth_cycle": t.cycle,
                    "truth_short": t.short.on, "truth_voltage_v": t.v,
                })  # fmt: skip
            elif fr.msg_type == MsgType.ESTIMATE:
                p = dict(fr.payload)
                tr = self.plant.truth()
                p.update({
                    "t_s": self._t_ms / 1000.0, "sample": self.app.steps,
                    "truth_inventory_uah": tr["inventory_uah"],
                    "truth_initial_uah": tr["initial_inventory_uah"],
                    "truth_sei_uah": tr["sei_loss_uah"], "truth_dead_uah": tr["dead_loss_uah"],
                    "truth_stranded_uah": tr["cathode_stranded_uah"],
                    "truth_plated_dense_um": tr["plated_dense_um"],
                    "truth_cycle": tr["cycle"], "truth_retention": tr["retention"],
                    "truth_q_discharge_uah": tr["q_discharge_last_uah"],
                    "truth_ce": tr["ce_last"],
                })  # fmt: skip
                res.estimates.append(p)

    def run(self, progress=None, stop=None) -> Result:
        """Run to the scenario's end. ``progress(sim_s, cycles)`` is called about once a
        wall second; ``stop(runner)``, checked when a cycle closes, ends the run early
        when it returns True (e.g. the cell is dead)."""
        sc = self.sc
        res = self.result
        app = self.app
        plant = self.plant
        cell = plant.cell
        dur_ms = sc.duration_s * 1000.0 if sc.duration_s is not None else float("inf")
        stop_cycles = sc.stop_after_cycles
        est = app.estimator
        trace_every = self.trace_every
        t0 = time.perf_counter()
        last_report = t0
        sw = (self.hw.charge_out, self.hw.discharge_out)
        if self._formation:
            for x in sw:
                x.held = True
            plant.set_enables(True, True)  # see spec.py: formation_override
        try:
            while self._t_ms < dur_ms:
                wait = app.sampler.ms_until_due()
                if wait > 0:
                    self._advance(wait)
                app.step()
                if self._formation and cell.v * 1e6 >= self._v_release_uv:
                    self._formation = False
                    for x in sw:
                        x.held = False
                    plant.set_enables(sw[0].on, sw[1].on)
                    app.command(wire.CMD_CLEAR_FAULTS, 0)
                    res.formation_s = self._t_ms / 1000.0
                if self._short_seen_sample is None and cell.short.on:
                    self._short_seen_sample = app.steps
                if cell.cycle != self._truth_cycle:
                    self._truth_cycle = cell.cycle
                    res.cycle_starts_s.append(self._t_ms / 1000.0)
                self._collect()
                if trace_every and app.steps % trace_every == 0:
                    s = app.sample
                    res.trace.append((self._t_ms / 1000.0, s.voltage_uv, s.current_ua,
                                      s.pressure_pa, s.temperature_mc, app.protection.state,
                                      est.inventory_uah, cell.inventory(), cell.v))  # fmt: skip
                if stop_cycles is not None and est.cycle_count >= stop_cycles:
                    break
                if stop is not None and est.cycle_done and stop(self):
                    break
                if plant.cycler.done and not self.faults.active:
                    break
                if progress is not None and app.steps % 5000 == 0:
                    now = time.perf_counter()
                    if now - last_report > 1.0:
                        last_report = now
                        progress(self._t_ms / 1000.0, est.cycle_count)
        finally:
            res.wall_s = time.perf_counter() - t0
        res.samples = app.steps
        res.sim_s = self._t_ms / 1000.0
        res.latched = app.protection.latched
        res.state = app.protection.state
        res.truth = plant.truth()
        res.fw_cycles = est.cycle_count
        res.short_seen_sample = self._short_seen_sample
        res.checks = check(res)
        return res


def run_scenario(sc: Scenario, trace_every: int = 0, progress=None, stop=None) -> Result:
    r = Runner(sc, trace_every=trace_every)
    try:
        return r.run(progress=progress, stop=stop)
    finally:
        r.close()


# ---------------------------------------------------------------- expectations


def cycle_duration_s(res: Result, before_s: float | None = None) -> float:
    """Mean duration of the truth cycles that closed (before ``before_s`` if given)."""
    starts = [0.0] + [t for t in res.cycle_starts_s if before_s is None or t <= before_s]
    if len(starts) >= 2:
        return (starts[-1] - starts[0]) / (len(starts) - 1)
    if len(res.cycle_starts_s) >= 1:
        return res.cycle_starts_s[0]
    return res.sim_s if res.sim_s > 0 else 1.0


def latency(res: Result, kind: str) -> dict[str, float] | None:
    """First ``kind`` event after the first fault onset: samples and cycles."""
    inj = [o for o in res.onsets if o["action"] == "inject"]
    if not inj:
        return None
    on = inj[0]
    ev = res.first_event(kind, on["t_s"])
    if ev is None:
        return None
    ref = on["sample"] + 1  # the first sample taken after the onset
    seen = res.short_seen_sample
    if on["kind"] == "soft_short_intermittent" and seen is not None and seen >= ref:
        ref = seen  # the first sample the filament was touching
    cyc = cycle_duration_s(res, on["t_s"])
    return {
        "samples": ev["sample"] - ref + 1,
        "seconds": ev["t_s"] - on["t_s"],
        "cycles": (ev["t_s"] - on["t_s"]) / cyc if cyc > 0 else float("inf"),
    }


def check(res: Result) -> list[Check]:
    sc = res.scenario
    ex = sc.expect
    out: list[Check] = []
    inj = [o for o in res.onsets if o["action"] == "inject"]
    if sc.faults and len(inj) < len(sc.faults):
        n = len(sc.faults)
        out.append(Check("faults injected", False, f"{len(inj)} of {n} onsets reached"))
    after = inj[0]["t_s"] if inj else 0.0
    kinds = {e["kind"] for e in res.events if e["t_s"] >= after}
    for k in ex.events:
        out.append(Check(f"event {k}", k in kinds, "raised" if k in kinds else "never raised"))
    all_kinds = [e["kind"] for e in res.events]
    for k in ex.no_events:
        n = all_kinds.count(k)
        first = res.first_event(k)
        where = f" (first at {first['t_s']:.0f} s)" if first else ""
        out.append(Check(f"no {k}", n == 0, f"{n} raised{where}"))
    for name in ex.latched:
        bit = int(Fault[name])
        out.append(Check(f"latched {name}", bool(res.latched & bit), f"faults 0x{res.latched:x}"))
    for name in ex.not_latched:
        bit = int(Fault[name])
        out.append(Check(f"not latched {name}", not res.latched & bit,
                         f"faults 0x{res.latched:x}"))  # fmt: skip
    for k, lim in ex.latency_samples.items():
        lat = latency(res, k)
        ok = lat is not None and lat["samples"] <= lim
        d = "not raised" if lat is None else f"{lat['samples']:.0f} samples"
        out.append(Check(f"latency {k} <= {lim:g} samples", ok, d))
    for k, lim in ex.latency_cycles.items():
        lat = latency(res, k)
        ok = lat is not None and lat["cycles"] <= lim
        d = "not raised" if lat is None else f"{lat['cycles']:.2f} cycles ({lat['seconds']:.0f} s)"
        out.append(Check(f"latency {k} <= {lim:g} cycles", ok, d))
    if ex.inventory_error_pct is not None:
        errs = res.inventory_errors_pct()
        worst = max(errs) if errs else float("nan")
        ok = bool(errs) and isfinite(worst) and worst <= ex.inventory_error_pct
        out.append(Check(f"inventory error <= {ex.inventory_error_pct:g} %", ok,
                         f"worst {worst:.3f} % over {len(errs)} estimates"))  # fmt: skip
    if ex.min_cycles:
        out.append(Check(f"cycles >= {ex.min_cycles}", res.fw_cycles >= ex.min_cycles,
                         f"{res.fw_cycles} closed"))  # fmt: skip
    return out


def library_dir() -> Path:
    """tests/scenarios/ of the checkout (the scenario library)."""
    return Path(__file__).resolve().parents[2] / "tests" / "scenarios"
