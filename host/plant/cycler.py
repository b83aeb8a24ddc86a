"""A battery cycler: CC, CV (current-taper cutoff), CC-CV, rest and loops, behind the
board's path enables.

The board's charge and discharge enables sit between the cycler and the cell
(an interlock or MOSFET pair): when the firmware opens the charge path, any
charging current stops at once, and the same for discharge; the cycler's step
timer keeps running (a real cycler does not know its output is blocked), and
the current resumes when the path closes again. Voltage limits are exact (the
cell stops a step at the crossing); CV ends on the first step whose current
has tapered below the cutoff.

A protocol is a list of steps and :class:`Loop` objects (loops may nest)::

    [Loop([CCCV(+1e-3, 4.25, 5e-5), Rest(600), CC(-1e-3, 2.5), Rest(600)], 100)]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import inf

from afbms.plant.cell import Cell, CellParams


@dataclass(frozen=True)
class CC:
    """Constant current ``current_a`` (+ charge, - discharge) until the voltage
    reaches ``v_limit`` (from below when charging, from above when discharging)."""

    current_a: float
    v_limit: float | None = None
    max_s: float = inf
    name: str = ""


@dataclass(frozen=True)
class CV:
    """Hold ``voltage_v`` with at most ``i_limit_a`` until |I| < ``i_cut_a``.
    ``direction`` +1 only charges, -1 only discharges."""

    voltage_v: float
    i_cut_a: float
    i_limit_a: float = inf
    direction: int = 1
    max_s: float = inf
    name: str = ""


@dataclass(frozen=True)
class CCCV:
    """CC at ``current_a`` to ``voltage_v``, then CV there until |I| < ``i_cut_a``."""

    current_a: float
    voltage_v: float
    i_cut_a: float
    max_s: float = inf
    name: str = ""


@dataclass(frozen=True)
class Rest:
    duration_s: float
    name: str = ""


@dataclass(frozen=True)
class Loop:
    steps: list = field(default_factory=list)
    count: int = 1


def _label(step) -> str:
    if step.name:
        return step.name
    if isinstance(step, Rest):
        return "rest"
    if isinstance(step, CV):
        return "cv"
    cur = step.current_a
    return "charge" if cur > 0 else "discharge"


@dataclass
class StepRecord:
    index: int
    name: str
    cycle: int
    start_s: float
    end_s: float = 0.0
    reason: str = ""  # limit, cutoff, time, done
    charge_uah: float = 0.0  # terminal charge passed (+ in)
    v_end: float = 0.0  # terminal voltage when the step ended
    i_end: float = 0.0  # current when the step ended (A)


class Cycler:
    """Runs a protocol on a cell, gated by the enables."""

    def __init__(self, cell: Cell, protocol: list | None = None, keep_records: bool = True):
        self.cell = cell
        self.charge_on = True
        self.discharge_on = True
        self.keep_records = keep_records
        self.set_protocol(protocol or [])

    def set_protocol(self, protocol: list) -> None:
        self._prog = list(_flatten(protocol, [0]))
        self.pc = 0
        self.elapsed = 0.0
        self.in_cv = False
        self.records: list[StepRecord] = []
        self.done = not self._prog
        self.blocked = False
        self._start_record()

    def set_enables(self, charge_on: bool, discharge_on: bool) -> None:
        self.charge_on = bool(charge_on)
        self.discharge_on = bool(discharge_on)

    @property
    def step_now(self):
        return None if self.done else self._prog[self.pc][0]

    @property
    def loop_cycle(self) -> int:
        """1-based iteration of the outermost loop the present step is in (0: none)."""
        return 0 if self.done else self._prog[self.pc][1]

    def step_name(self) -> str:
        if self.done:
            return "done"
        s = self.step_now
        return "cv" if self.in_cv else _label(s)

    def _start_record(self) -> None:
        if self.done or not self.keep_records:
            return
        step, cyc = self._prog[self.pc]
        self.records.append(StepRecord(self.pc, _label(step), cyc, self.cell.time_s))

    def _next(self, reason: str) -> None:
        if self.keep_records and self.records:
            r = self.records[-1]
            r.end_s = self.cell.time_s
            r.reason = reason
            r.v_end = self.cell.v
            r.i_end = self.cell.i_ext
        self.pc += 1
        self.elapsed = 0.0
        self.in_cv = False
        if self.pc >= len(self._prog):
            self.done = True
            self.cell.finish_cycle()
        else:
            self._start_record()

    def advance(self, dt: float) -> None:
        """Run ``dt`` seconds of the protocol on the cell."""
        cell = self.cell
        left = dt
        guard = 0
        while left > 1e-9:
            guard += 1
            if guard > 10000:
                raise RuntimeError("cycler made no progress")
            if self.done:
                cell.step(left)
                self.blocked = False
                return
            step = self._prog[self.pc][0]
            max_s = step.duration_s if isinstance(step, Rest) else step.max_s
            run = min(left, max_s - self.elapsed)
            if run <= 1e-12:
                self._next("time")
                continue
            q0 = cell.q_ext
            used, _, end_reason = self._run(step, run)
            if self.keep_records and self.records:
                self.records[-1].charge_uah += cell.q_ext - q0
            self.elapsed += used
            left -= used
            if end_reason:
                self._next(end_reason)
            elif self.elapsed >= max_s - 1e-9:
                self._next("time")

    def _run(self, step, run: float):
        """One call to the cell within the present step: (used, hit, end_reason)."""
        cell = self.cell
        if isinstance(step, Rest):
            self.blocked = False
            used, _ = cell.step(run)
            return used, False, ""
        if isinstance(step, CC) or (isinstance(step, CCCV) and not self.in_cv):
            cur = step.current_a
            allowed = self.charge_on if cur > 0 else self.discharge_on
            self.blocked = not allowed
            if not allowed:
                used, _ = cell.step(run)
                return used, False, ""
            lim = step.v_limit if isinstance(step, CC) else step.voltage_v
            v_hi = lim if (lim is not None and cur > 0) else None
            v_lo = lim if (lim is not None and cur < 0) else None
            used, hit = cell.step(run, 1, cur, v_hi=v_hi, v_lo=v_lo)
            if hit:
                if isinstance(step, CCCV):
                    self.in_cv = True
                    return used, True, ""
                return used, True, "limit"
            return used, False, ""
        # CV (or the CV phase of CC-CV)
        if isinstance(step, CCCV):
            v_set, i_cut, i_lim, direction = step.voltage_v, step.i_cut_a, step.current_a, 1
        else:
            v_set, i_cut, i_lim, direction = (
                step.voltage_v,
                step.i_cut_a,
                step.i_limit_a,
                step.direction,
            )
        allowed = self.charge_on if direction > 0 else self.discharge_on
        self.blocked = not allowed
        if not allowed:
            used, _ = cell.step(run)
            return used, False, ""
        lo, hi = (0.0, abs(i_lim)) if direction > 0 else (-abs(i_lim), 0.0)
        used, _ = cell.step(run, 2, v_set, i_lo=lo, i_hi=hi)
        if abs(cell.i_ext) < i_cut:
            return used, False, "cutoff"
        return used, False, ""

    def state(self) -> dict:
        return {
            "step": self.step_name(),
            "step_index": self.pc,
            "loop_cycle": self.loop_cycle,
            "step_elapsed_s": self.elapsed,
            "protocol_done": self.done,
            "charge_enabled": self.charge_on,
            "discharge_enabled": self.discharge_on,
            "current_blocked": self.blocked,
        }


def _flatten(protocol, counter, cycle=0):
    """(step, outer-loop iteration) pairs; loops expanded."""
    for item in protocol:
        if isinstance(item, Loop):
            for _ in range(item.count):
                if cycle == 0:
                    counter[0] += 1
                    yield from _flatten(item.steps, counter, counter[0])
                else:
                    yield from _flatten(item.steps, counter, cycle)
        else:
            yield item, cycle


def cycling_protocol(
    params: CellParams,
    cycles: int,
    j_ma_cm2: float | None = None,
    v_max: float | None = None,
    v_min: float | None = None,
    cv_cut_c: float | None = 0.05,
    rest_s: float = 600.0,
) -> list:
    """The usual protocol for a preset: CC-CV charge at the reported current density
    (CV to C/20), rest, CC discharge to the cutoff, rest; ``cycles`` times.
    ``cv_cut_c=None``: CC charge only."""
    curve = params.curve
    j = params.j_ref_ma_cm2 if j_ma_cm2 is None else j_ma_cm2
    i = j * params.area_cm2 * 1e-3
    vmax = curve.v_max if v_max is None else v_max
    vmin = curve.v_min if v_min is None else v_min
    cap_as = params.inventory_uah * 3600e-6
    t_half = cap_as / i
    cc_max = 1.5 * t_half + 3600.0
    if cv_cut_c is None:
        charge = CC(i, vmax, max_s=cc_max, name="charge")
    else:
        i_cut = cv_cut_c * params.inventory_uah * 1e-6
        charge = CCCV(i, vmax, i_cut, max_s=cc_max + 10 * 3600.0, name="charge")
    body = [charge, Rest(rest_s), CC(-i, vmin, max_s=cc_max, name="discharge"), Rest(rest_s)]
    return [Loop(body, cycles)]
