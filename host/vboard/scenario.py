"""Scenario files on the virtual board: the plant plays the scenario in virtual time, the
firmware runs in the VM, the host compares what the firmware said with the truth.

:class:`ScenarioPlant` is :class:`afbms.plant.world.Plant` built from a scenario
(preset, seed, cycling protocol, sensor errors, ambient) behind the board's pins. As the
board's clock moves it forward, it applies the scenario's faults at their onsets
(``at_s`` or ``at_cycle``/``at_step`` + ``after_s``; ``clear_after_s``), splitting the
plant's steps there, and plays the lab operator of ``formation_override`` (the cycler's
path held open until the fresh cell is above V_MIN + 100 mV). It records what happened
on the plant's time axis: fault onsets, cycle ends, the first instant a short conducted,
and the ground truth every few seconds.

:func:`run_scenario_on_board` configures the firmware for the scenario over the protocol,
reads its EVENT/ESTIMATE/TELEMETRY stream until the scenario ends, pairs each frame with
the truth at the frame's own timestamp, and judges the result with the scenario runner's
checks (:func:`afbms.scenario.runner.check`: the scenario's ``[expect]`` tolerances).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from contextlib import suppress
from typing import Any

from afbms.boards.sim import board as SIM
from afbms.device import Device, Refused
from afbms.plant.world import Plant
from afbms.protocol.enums import Command, ConfigKey, ConfigStatus, EventKind, Fault, MsgType
from afbms.scenario.faults import FaultSchedule
from afbms.scenario.runner import (
    Result,
    check,
    preset_config,
    scenario_protocol,
    scenario_sensor_errors,
)
from afbms.scenario.spec import Scenario, ScenarioError

EPOCH_S = 800_000_000  # device time at plant time 0 (s since 2000; as the CPython runner)
TRUTH_EVERY_MS = 5_000  # ground truth kept this often (virtual time) ...
TRUTH_KEEP = 20_000  # ... for this many instants (> 27 h)
_TRUTH_KEYS = (
    "inventory_uah", "initial_inventory_uah", "sei_loss_uah", "dead_loss_uah",
    "cathode_stranded_uah", "plated_dense_um", "cycle", "retention", "q_discharge_last_uah",
    "ce_last",
)  # fmt: skip


class ScenarioPlant:
    """The scenario's world behind the virtual board's pins (see the module docstring).

    Offers the board-facing interface of :mod:`afbms.vboard.plant`; ``world`` is the
    :class:`~afbms.plant.world.Plant`, ``config`` the firmware config for the scenario's
    cell (ConfigKey id -> value). The board calls in with its lock held.
    """

    def __init__(self, sc: Scenario) -> None:
        self.scenario = sc
        dt_ms = sc.plant_dt_ms if sc.plant_dt_ms is not None else sc.sample_period_ms
        world = Plant(sc.preset, protocol=None, cycles=1, seed=sc.seed,
                      sensor_errors=scenario_sensor_errors(sc), dt_max_ms=dt_ms)  # fmt: skip
        if sc.ambient_c is not None:
            world.set_ambient(sc.ambient_c)
        world.set_protocol(scenario_protocol(sc, world.params))
        self.world = world
        self.config: dict[int, int] = preset_config(world, sc)
        self._release_uv = self.config[ConfigKey.V_MIN_UV] + 100_000
        self.formation = sc.formation_override and world.cell.v * 1e6 < self._release_uv
        self._fw_pins = {SIM.CHARGE_EN_PIN: 0, SIM.DISCHARGE_EN_PIN: 0}
        if self.formation:
            world.set_enables(True, True)  # see spec.py: formation_override
        self.formation_end_s: float | None = None
        self._faults = FaultSchedule(sc.faults)
        self.onsets: list[dict[str, Any]] = []  # as Result.onsets, "sample" filled later
        self.cycle_starts_s: list[float] = []
        self.short_seen_ms: float | None = None
        self._cycle = world.cell.cycle
        self._truth: deque[tuple[int, dict[str, Any]]] = deque(maxlen=TRUTH_KEEP)
        self._keep_truth()

    # ------------------------------------------------------------ board-facing

    def i2c_read(self, addr: int, reg: int, buf) -> None:
        self.world.i2c_read(addr, reg, buf)

    def i2c_write(self, addr: int, reg: int, data) -> None:
        self.world.i2c_write(addr, reg, data)

    def i2c_scan(self) -> list[int]:
        return self.world.i2c_scan()

    def adc_read_u16(self, pin: int) -> int:
        return self.world.adc_read_u16(pin)

    def pin_write(self, pin: int, value: int) -> None:
        if pin in self._fw_pins:
            self._fw_pins[pin] = value
            if self.formation:
                return  # the operator holds the path: the firmware's level waits
        self.world.pin_write(pin, value)

    def pin_read(self, pin: int) -> int:
        return self.world.pin_read(pin)

    def now_ms(self) -> int:
        return self.world.now_ms()

    def sim_control(self, action: int, arg0: int = 0, arg1: int = 0) -> int:
        return self.world.sim_control(action, arg0, arg1)

    def advance(self, ms: int) -> None:
        """Step the world by ``ms``, split at fault onsets and clears. A fault due at the
        very end is applied when time moves on: a sample taken at its instant still
        sees the world before it (as in the CPython runner)."""
        world = self.world
        target = world.now_ms() + int(ms)
        while world.now_ms() < target:
            now = world.now_ms()
            self._faults.resolve(world, now)
            self.onsets += self._faults.fire_due(world, now)
            chunk = min(target, self._faults.next_ms()) - now
            chunk = max(1, int(chunk))
            world.step(min(chunk, target - now))
            self._after_step()

    # ------------------------------------------------------------ ground truth

    def truth(self) -> dict[str, Any]:
        return self.world.truth()

    def truth_at(self, t_ms: float) -> dict[str, Any]:
        """The kept truth nearest before plant time ``t_ms`` (the latest if none)."""
        best = self._truth[-1][1]
        for t, tr in reversed(self._truth):
            best = tr
            if t <= t_ms:
                break
        return best

    @property
    def pending_faults(self) -> bool:
        return self._faults.active

    def _keep_truth(self) -> None:
        tr = self.world.truth()
        self._truth.append((self.world.now_ms(), {k: tr[k] for k in _TRUTH_KEYS}))

    def _after_step(self) -> None:
        world = self.world
        cell = world.cell
        now = world.now_ms()
        if self.formation and cell.v * 1e6 >= self._release_uv:
            self.formation = False
            self.formation_end_s = now / 1000.0
            for pin, level in self._fw_pins.items():
                world.pin_write(pin, level)
        if self.short_seen_ms is None and cell.short.on:
            self.short_seen_ms = float(now)
        if cell.cycle != self._cycle:
            self._cycle = cell.cycle
            self.cycle_starts_s.append(now / 1000.0)
        if now - self._truth[-1][0] >= TRUTH_EVERY_MS:
            self._keep_truth()


# ---------------------------------------------------------------- on the board


def apply_config(device: Device, values: dict[int, int]) -> None:
    """Set every key, in an order the firmware's cross-key rules accept."""
    now = device.config_get()
    pending = {k: v for k, v in values.items() if now.get(k) != v}
    while pending:
        progress = False
        for key, value in list(pending.items()):
            status, _ = device.config_set(ConfigKey(key), value)
            if status == ConfigStatus.OK:
                del pending[key]
                progress = True
            elif status != ConfigStatus.INCONSISTENT:
                raise ScenarioError(f"the firmware refused {ConfigKey(key).name} = {value}: "
                                    f"{status!r}")  # fmt: skip
        if not progress:
            names = ", ".join(ConfigKey(k).name for k in pending)
            raise ScenarioError(f"the firmware finds these settings inconsistent: {names}")


def scenario_config(plant: ScenarioPlant) -> dict[int, int]:
    """The firmware config of a scenario run: the cell's, plus telemetry every ten
    samples (the host follows the latched faults through it)."""
    cfg = dict(plant.config)
    cfg[ConfigKey.TELEMETRY_PERIOD_MS] = 10 * cfg[ConfigKey.SAMPLE_PERIOD_MS]
    return cfg


def configure(device: Device, plant: ScenarioPlant) -> None:
    """Put the scenario's config on the board and start its estimator afresh."""
    apply_config(device, scenario_config(plant))
    device.command(Command.RESET_ESTIMATOR)
    with suppress(Refused):  # refused while a condition (a fresh cell's UV) is active
        device.command(Command.CLEAR_FAULTS)


class _Clock:
    """Device timestamps -> the plant's time axis and sample numbers."""

    def __init__(self, period_ms: int) -> None:
        self.period_ms = period_ms
        self.phase_ms: float | None = None

    def plant_ms(self, t_s: int, t_sub_ms: int | None = None) -> float:
        """``t_sub_ms`` None: a whole-second stamp (ESTIMATE), which says nothing of
        the sampling phase."""
        ms = (t_s - EPOCH_S) * 1000 + (t_sub_ms or 0)
        if self.phase_ms is None and t_sub_ms is not None:
            self.phase_ms = ms % self.period_ms
        return ms

    def sample_of(self, t_ms: float) -> int:
        """Samples taken at or before plant time ``t_ms``."""
        phase = self.phase_ms or 0.0
        return int((t_ms - phase) // self.period_ms) + 1


def run_scenario_on_board(
    vboard: Any,
    device: Device,
    *,
    wall_limit_s: float = 300.0,
    progress: Callable[[float, int], None] | None = None,
    stop_when_decided: bool = False,
) -> Result:
    """Run the scenario of ``vboard.plant`` (a :class:`ScenarioPlant`) on the running
    firmware behind ``device`` (session open), as fast as the board goes, and judge it.

    The board must have been made with ``epoch_s=EPOCH_S`` (device time = plant time).
    It is configured first at its present speed, then set to full speed. With
    ``stop_when_decided`` the run ends as soon as the rest of the scenario cannot change
    the verdict (see :func:`decided`). Raises ScenarioError when the scenario does not
    end within ``wall_limit_s``."""
    plant: ScenarioPlant = vboard.plant
    sc = plant.scenario
    if vboard.bridge.epoch_s != EPOCH_S:
        raise ValueError("make the VirtualBoard with epoch_s=EPOCH_S: frames are timed by it")
    configure(device, plant)
    clock = _Clock(sc.sample_period_ms)
    res = Result(sc)
    end_ms = sc.duration_s * 1000.0 if sc.duration_s is not None else float("inf")
    t0 = time.monotonic()
    last_report = t0

    def clear_after_formation() -> None:
        # as the CPython runner: the operator clears the formation's UNDER_VOLTAGE
        if not res.formation_s and plant.formation_end_s is not None:
            res.formation_s = plant.formation_end_s
            with suppress(Refused):
                device.command(Command.CLEAR_FAULTS)

    clear_after_formation()
    vboard.set_speed(None)  # configured: as fast as the board goes
    try:
        while True:
            clear_after_formation()
            for frame in device.frames(0.2):
                _take(frame, plant, clock, res, vboard.lock)
            with vboard.lock:
                now_ms = plant.now_ms()
                done = plant.world.cycler.done and not plant.pending_faults
            cycles = res.estimates[-1]["cycle_count"] if res.estimates else 0
            if now_ms >= end_ms or done:
                break
            if stop_when_decided and decided(res, plant):
                break
            if sc.stop_after_cycles is not None and cycles >= sc.stop_after_cycles:
                break
            wall = time.monotonic() - t0
            if wall > wall_limit_s:
                raise ScenarioError(
                    f"{sc.name}: not done after {wall:.0f} s of wall time "
                    f"({now_ms / 3.6e6:.2f} h simulated, {cycles} cycles)"
                )
            if progress is not None and time.monotonic() - last_report > 1.0:
                last_report = time.monotonic()
                progress(now_ms / 1000.0, cycles)
        # The latched faults as of now: the next telemetry frame.
        for frame in device.frames(5.0):
            if frame.msg_type == MsgType.TELEMETRY:
                _take(frame, plant, clock, res, vboard.lock)
                break
    finally:
        vboard.set_speed(1.0)  # from here on the scenario is over: no need to race
    with vboard.lock:
        res.sim_s = plant.now_ms() / 1000.0
        res.truth = plant.truth()
        res.cycle_starts_s = list(plant.cycle_starts_s)
        res.onsets = [dict(o, sample=clock.sample_of(o["t_s"] * 1000.0)) for o in plant.onsets]
        if plant.short_seen_ms is not None:
            res.short_seen_sample = clock.sample_of(plant.short_seen_ms) + 1
    res.wall_s = time.monotonic() - t0
    res.samples = clock.sample_of(res.sim_s * 1000.0)
    res.fw_cycles = res.estimates[-1]["cycle_count"] if res.estimates else 0
    res.checks = check(res)
    return res


def decided(res: Result, plant: ScenarioPlant) -> bool:
    """True when the rest of the run cannot change the verdict: every fault has been
    applied, every expected event was raised (its latency is then fixed) and every
    expected fault is latched (latched faults stay until a command clears them), and the
    scenario expects nothing of the run's whole length (no forbidden events or faults,
    no inventory tolerance, no cycle count)."""
    ex = plant.scenario.expect
    if ex.no_events or ex.not_latched or ex.inventory_error_pct is not None or ex.min_cycles:
        return False
    if plant.pending_faults:
        return False
    onsets = [o["t_s"] for o in plant.onsets if o["action"] == "inject"]
    after = onsets[0] if onsets else 0.0
    seen = {e["kind"] for e in res.events if e["t_s"] >= after}
    latched = all(res.latched & int(Fault[name]) for name in ex.latched)
    return set(ex.events) <= seen and latched


def _take(frame, plant: ScenarioPlant, clock: _Clock, res: Result, lock) -> None:
    p = frame.payload
    if frame.msg_type == MsgType.TELEMETRY:
        clock.plant_ms(p["t_s"], p["t_ms"])
        res.latched = int(p["faults"])
        res.state = int(p["state"])
    elif frame.msg_type == MsgType.EVENT:
        t_ms = clock.plant_ms(p["t_s"], p["t_ms"])
        kind = p["kind"]
        with lock:
            tr = plant.truth_at(t_ms)
        res.events.append({
            "kind": kind.name if isinstance(kind, EventKind) else str(kind),
            "severity": int(p["severity"]), "value": p["value"], "t_s": t_ms / 1000.0,
            "sample": clock.sample_of(t_ms), "voltage_uv": p["voltage_uv"],
            "current_ua": p["current_ua"], "pressure_pa": p["pressure_pa"],
            "faults": int(p["faults"]), "state": int(p["state"]), "truth_cycle": tr["cycle"],
        })  # fmt: skip
        res.latched = int(p["faults"])
    elif frame.msg_type == MsgType.ESTIMATE:
        t_ms = clock.plant_ms(p["t_s"])
        with lock:
            tr = plant.truth_at(t_ms)
        est = dict(p)
        est.update({
            "t_s": t_ms / 1000.0, "sample": clock.sample_of(t_ms),
            "truth_inventory_uah": tr["inventory_uah"],
            "truth_initial_uah": tr["initial_inventory_uah"],
            "truth_sei_uah": tr["sei_loss_uah"], "truth_dead_uah": tr["dead_loss_uah"],
            "truth_stranded_uah": tr["cathode_stranded_uah"],
            "truth_plated_dense_um": tr["plated_dense_um"], "truth_cycle": tr["cycle"],
            "truth_retention": tr["retention"], "truth_q_discharge_uah": tr["q_discharge_last_uah"],
            "truth_ce": tr["ce_last"],
        })  # fmt: skip
        res.estimates.append(est)


__all__ = ["EPOCH_S", "ScenarioPlant", "apply_config", "configure", "decided",
           "run_scenario_on_board", "scenario_config"]  # fmt: skip
