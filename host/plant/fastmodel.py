"""The per-cycle inventory model: the stepwise cell's bookkeeping, one cycle at a time.

For the usual protocol (CC or CC-CV charge to ``v_max``, CC discharge to
``v_min``, rests) the stepwise :class:`~afbms.plant.cell.Cell` does, per cycle:

* charge: the cathode gives up metal until its OCV reaches
  ``v_max - I_end·(R + R_ct)`` (``I_end`` the CV cutoff, or the CC current);
  each µAh plated puts ``s`` into SEI (plus the formation loss on the very
  first plating);
* discharge: each µAh delivered strips ``1 + d`` from the anode, ``d`` of it
  left dead, and ``c`` of it is stranded in cathode particles that lose
  contact (the cathode's capacity shrinks by as much), until the anode's
  potential ``u_bare·exp(-q/q_knee)`` pulls the terminal voltage to
  ``v_min``: the residue ``q_res`` solves
  ``U_a(q_res) = U_c(y) - v_min - I·(R + R_ct)``.

The same functions (:func:`loss_rates`, :func:`thicknesses`,
:func:`stack_pressure`, :func:`resistances`) evaluated along the cycle in
``substeps`` slices of charge, at the ambient temperature (the cells' I²R
heating is milli-kelvin). No time, no polarisation transients, no shorts:
this is what calibration solves against, and a test checks it against the
stepwise cell over a few cycles.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import log

from afbms.plant.cell import (
    CellParams,
    bare_potential,
    loss_rates,
    resistances,
    stack_pressure,
    thicknesses,
)


@dataclass
class CycleResult:
    cycle: int
    q_charge_uah: float
    q_discharge_uah: float
    ce: float
    inventory_uah: float  # after the discharge
    sei_uah: float
    dead_uah: float
    stranded_uah: float
    retention: float  # q_discharge / q_discharge of cycle 1


class CycleModel:
    """Per-cycle state of one cell under the usual protocol."""

    def __init__(
        self,
        p: CellParams,
        j_ma_cm2: float | None = None,
        v_max: float | None = None,
        v_min: float | None = None,
        cv_cut_c: float | None = 0.05,
        substeps: int = 12,
    ):
        self.p = p
        self.curve = p.curve
        self.i0 = p.inventory_uah
        self.j = p.j_ref_ma_cm2 if j_ma_cm2 is None else j_ma_cm2
        self.i_a = self.j * p.area_cm2 * 1e-3
        self.v_max = self.curve.v_max if v_max is None else v_max
        self.v_min = self.curve.v_min if v_min is None else v_min
        self.i_end = self.i_a if cv_cut_c is None else cv_cut_c * self.i0 * 1e-6
        self.k = substeps
        self.t_c = p.ambient_c
        self.q_knee = max(p.knee_frac * self.i0, 1e-3)
        self.q_cat = self.i0
        self.q_cath = self.i0
        self.q_str = 0.0
        self.q_pl = 0.0
        self.q_sei = 0.0
        self.q_form = 0.0
        self.q_dead = 0.0
        self.thr = 0.0
        self.formed = False
        self.cycle = 0
        self.q_dis_first = 0.0
        self.results: list[CycleResult] = []

    def _lost(self) -> float:
        return (self.q_sei - self.q_form + self.q_dead + self.q_str) / self.i0

    def _state_pr(self, q_pl: float):
        """(pressure MPa, R_ohm + R_ct) with ``q_pl`` plated and the present losses."""
        p = self.p
        h_pl, h_dead, h_sei = thicknesses(p, q_pl, self.q_dead, self.q_sei, self.thr / self.i0)
        pr = stack_pressure(p, h_pl + h_dead + h_sei)
        r, rct = resistances(p, self.t_c, pr, h_dead + h_sei)
        return pr, r + rct

    def charge(self) -> float:
        p, c = self.p, self.curve
        qc = self.q_cath
        y0 = 1.0 - self.q_cat / qc
        q_top = self.q_pl + max(0.0, (1.0 - y0) * qc * 0.9)
        y_end = y0
        for _ in range(3):
            _, rt = self._state_pr(q_top)
            y_end = c.inverse(self.v_max - self.i_end * rt)
            q_top = self.q_pl + max(0.0, y_end - y0) * qc
        dq_total = max(0.0, (y_end - y0) * qc)
        chunk = dq_total / self.k
        for _ in range(self.k):
            pr, _ = self._state_pr(self.q_pl + 0.5 * chunk)
            s, _, _ = loss_rates(p, self.j, self.t_c, pr, self._lost())
            sf = 0.0 if self.formed else p.formation_loss
            self.q_cat -= chunk
            self.q_sei += chunk * (s + sf)
            self.q_form += chunk * sf
            self.q_pl += chunk * (1.0 - s - sf)
            self.thr += chunk
        return dq_total

    def _q_res(self, y_fin: float, q_pl_end: float) -> float:
        _, rt = self._state_pr(q_pl_end)
        x = self.curve(y_fin) - self.v_min - self.i_a * rt
        u = bare_potential(self.p)
        if x <= 0.0:
            return self.q_pl  # the cathode ends discharge at once
        if x >= u:
            return 0.0
        return self.q_knee * log(u / x)

    def discharge(self) -> float:
        p = self.p
        y_top = 1.0 - self.q_cat / self.q_cath
        # First guess of the residue, then strip in slices; correct the end once.
        q_res = self._q_res(y_top - self.q_pl / self.q_cath, 0.0)
        delivered = 0.0
        for rnd in range(2):
            removable = max(0.0, self.q_pl - q_res)
            if removable <= 0.0:
                break
            n = self.k if rnd == 0 else 1
            chunk = removable / n
            for _ in range(n):
                pr, _ = self._state_pr(self.q_pl - 0.5 * chunk)  # mid-slice pressure
                _, d, c = loss_rates(p, self.j, self.t_c, pr, self._lost())
                out = chunk / (1.0 + d)
                self.q_pl -= chunk
                self.q_cat += out * (1.0 - c)
                self.q_cath -= out * c
                self.q_str += out * c
                self.q_dead += out * d
                delivered += out
            q_res = self._q_res(1.0 - self.q_cat / self.q_cath, self.q_pl)
        if self.thr > 0.01 * self.i0:
            self.formed = True
        return delivered

    def run_cycle(self) -> CycleResult:
        q_in = self.charge()
        q_out = self.discharge()
        self.cycle += 1
        if self.cycle == 1:
            self.q_dis_first = q_out
        r = CycleResult(
            self.cycle, q_in, q_out, q_out / q_in if q_in > 0 else 0.0,
            self.q_cat + self.q_pl, self.q_sei, self.q_dead, self.q_str,
            q_out / self.q_dis_first if self.q_dis_first > 0 else 0.0,
        )  # fmt: skip
        self.results.append(r)
        return r


def simulate_cycles(p: CellParams, n: int, **kw) -> list[CycleResult]:
    m = CycleModel(p, **kw)
    for _ in range(n):
        m.run_cycle()
    return m.results


def retention_after(p: CellParams, n: int, **kw) -> float:
    """Simulated capacity retention (discharge n / discharge 1) after ``n`` cycles."""
    m = CycleModel(p, **kw)
    r = None
    for _ in range(n):
        r = m.run_cycle()
        if r.q_discharge_uah <= 1e-9 * m.i0:
            return 0.0
    return r.retention if r else 1.0
