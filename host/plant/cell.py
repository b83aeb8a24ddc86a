"""The simulated anode-free cell: cathode, plated metal, losses, mechanics, heat, shorts.

Plain CPython floats, stepped by the cycler (one call per simulated second, or
longer). Units inside: volts, amperes, ohms, seconds, charge in µAh, thickness
in µm, pressure in MPa, temperature in °C. Current is positive when charging
(into the positive terminal), as the board's sensors report it.

Equivalent circuit (``E`` the true OCV, ``R`` the ohmic resistance, ``η_p`` an
RC polarisation, ``η_n`` the nucleation overpotential, ``G`` the conductance of
a short across the electrodes)::

    E = U_c(y) - U_a(q_pl)                 cathode OCV minus anode potential
    V = E + I_cell·R + η_p + η_n           (η_n only while plating)
    I_cell = I_ext - G·V                   the short bypasses the electrolyte
    τ dη_p/dt = I_cell·R_ct - η_p

Bookkeeping of the metal (µAh, conserved:
``q_cat + q_pl + q_sei + q_dead + q_str = I0``): plating ``dq`` moves ``dq`` out
of the cathode, ``dq·s`` into SEI and the rest onto the collector; stripping
``dq`` back into the cathode isolates another ``dq·d`` as dead metal, and
``dq·c`` of what reaches the cathode is stranded in particles that lose contact
(the cathode's capacity shrinks with it). ``s``, ``d``, ``c`` come from
:func:`loss_rates` (shared with the per-cycle model in
:mod:`afbms.plant.fastmodel`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from math import exp, inf

from afbms.plant.curves import CURVES, anode_potential

R_GAS = 8.314462618e-3  # kJ/(mol·K)
T0_K = 273.15
UAH_PER_AS = 1e6 / 3600.0  # µAh per ampere-second
LI_DENSE_MAH_CM3 = 1e4 / 4.85  # 2062 mAh/cm³: 1 mAh/cm² = 4.85 µm


@dataclass(frozen=True)
class Metal:
    """The plated metal: configuration, not an assumption (DESIGN)."""

    name: str
    wire_id: int  # protocol Metal enum value
    um_per_mah_cm2: float  # dense thickness per areal capacity
    u_bare_v: float  # bare collector vs the metal: height of the depletion knee
    melt_c: float
    alpha_p: float  # pressure sensitivity of dead-metal formation (exponent)


LITHIUM = Metal("lithium", 0, 4.85, 3.0, 180.5, 0.5)
# Sodium: Ortmann et al. (Tang ref. 21) found stack pressure "relatively
# insignificant" for Na deposition on NZSP -> weaker pressure dependence.
SODIUM = Metal("sodium", 1, 8.8, 2.0, 97.8, 0.2)
METALS = {"lithium": LITHIUM, "sodium": SODIUM, "Li": LITHIUM, "Na": SODIUM}


@dataclass(frozen=True)
class CellParams:
    """Everything that defines one cell. ``*_ref`` are the conditions the loss
    rate ``k_loss`` is quoted at (a preset's reported conditions), so at those
    conditions the per-cycle loss is ≈ ``k_loss`` before sudden death."""

    metal: Metal = LITHIUM
    cathode: str = "nmc"
    areal_capacity_mah_cm2: float = 1.0
    area_cm2: float = 1.0
    # Reference (reported) conditions
    j_ref_ma_cm2: float = 1.0
    p_ref_mpa: float = 5.0
    t_ref_c: float = 25.0
    # Inventory loss (fractions of the charge plated / stripped)
    k_loss: float = 1e-3  # calibrated per preset
    sei_share: float = 0.35  # shares of the loss at the reference conditions: SEI,
    dead_share: float = 0.45  # dead metal, and (the rest) metal stranded in the cathode
    alpha_cathode_p: float = 0.5  # cathode contact loss ∝ (P_ref/P)^alpha
    alpha_j: float = 0.6  # dead metal ∝ (j / j_ref)^alpha_j
    ea_sei_kj: float = 40.0  # SEI growth speeds up with T (Arrhenius)
    ea_dead_kj: float = 15.0  # dead metal falls with T (faster creep / diffusion)
    formation_loss: float = 0.10  # extra SEI on the very first plating (fraction)
    sd_onset: float = 0.20  # sudden death around 80 % retention...
    sd_gain: float = 8.0  # ...multiplying the loss rate by up to 1 + gain
    sd_exp: float = 6.0  # sharpness of the onset
    # Impedance (area-specific, Ω·cm²)
    asr_bulk: float = 20.0  # electrolyte separator at 25 °C
    ea_bulk_kj: float = 31.0
    asr_contact: float = 5.0  # at 5 MPa
    contact_exp: float = 1.0  # contact ASR ∝ (5 MPa / P)^contact_exp
    asr_ct: float = 10.0  # charge transfer at 25 °C, 5 MPa
    ea_ct_kj: float = 50.0
    ct_p_exp: float = 0.5
    tau_pol_s: float = 20.0
    asr_growth_per_um: float = 0.2  # dead metal + SEI layer resistance
    # Anode
    knee_frac: float = 0.0003  # knee width, fraction of the initial inventory
    eta_nuc_v: float = 0.03  # nucleation overpotential at j_ref, t_ref (bare collector)
    nuc_frac: float = 0.0025  # relaxes over ~1 % of charge (e-fold 0.25 %)
    nuc_j_exp: float = 0.3
    ea_nuc_kj: float = 20.0
    # Morphology: deposit density as a fraction of dense metal, in equivalent
    # cycles n: f(n) = f_inf + (f0 - f_inf)·exp(-n/tau). Defaults: DESIGN's
    # 1033 -> 143..343 mAh/cm³ over 100 cycles (dense Li = 2062 mAh/cm³).
    dense_frac_0: float = 1033.0 / LI_DENSE_MAH_CM3
    dense_frac_inf: float = 243.0 / LI_DENSE_MAH_CM3
    porosity_tau_cycles: float = 30.0
    dead_dense_frac: float = 243.0 / LI_DENSE_MAH_CM3
    sei_um_per_mah_cm2: float = 2.0
    # Mechanics: P = preload + stiffness × anode thickness
    preload_mpa: float = 5.0
    stiffness_mpa_per_um: float = 0.05
    # Thermal: C dT/dt = heat - h (T - T_amb)
    c_th_j_per_k: float = 20.0
    h_w_per_k: float = 0.05
    ambient_c: float = 25.0

    @property
    def inventory_uah(self) -> float:
        """Cathode-limited initial inventory: areal capacity × area."""
        return self.areal_capacity_mah_cm2 * self.area_cm2 * 1000.0

    @property
    def curve(self):
        return CURVES[self.cathode]

    def with_(self, **kw) -> CellParams:
        return replace(self, **kw)


# -- shared physics (the stepwise cell and the per-cycle model both use these) --


def arrhenius(ea_kj: float, t_c: float, tref_c: float) -> float:
    """exp(-Ea/R (1/T - 1/Tref)): > 1 above Tref for Ea > 0."""
    return exp(-ea_kj / R_GAS * (1.0 / (t_c + T0_K) - 1.0 / (tref_c + T0_K)))


def sudden_death(p: CellParams, lost_frac: float) -> float:
    """Loss-rate multiplier: 1 early on, rising steeply past ``sd_onset`` to 1 + gain."""
    if lost_frac <= 0.0:
        return 1.0
    r = (lost_frac / p.sd_onset) ** p.sd_exp
    return 1.0 + p.sd_gain * r / (1.0 + r)


def loss_rates(p: CellParams, j_ma_cm2: float, t_c: float, p_mpa: float, lost_frac: float):
    """(s, d, c): SEI per unit plated; dead metal and cathode-stranded metal per unit
    stripped (delivered).

    s = k·σ_sei·A_sei(T)·g                              g = sudden_death(lost)
    d = k·σ_dead·(j/j_ref)^αj·(P_ref/P)^αp·A_dead(T)·g   αp from the metal
    c = k·σ_cat·(P_ref/P)^αc·g                          σ_cat = 1 - σ_sei - σ_dead

    ``c`` is metal that goes back into cathode particles which then lose contact
    (solid-state cathodes breathe and lose contact, more so at low pressure):
    it was counted out by the discharge, so Coulombic efficiency does not see it
    and the product of CEs over-predicts retention (DESIGN).
    """
    g = sudden_death(p, lost_frac)
    k = p.k_loss * g
    s = k * p.sei_share * arrhenius(p.ea_sei_kj, t_c, p.t_ref_c)
    pr = p.p_ref_mpa / max(p_mpa, 0.05)
    fj = (max(j_ma_cm2, 1e-6) / p.j_ref_ma_cm2) ** p.alpha_j
    fp = pr**p.metal.alpha_p
    d = k * p.dead_share * min(fj, 30.0) * min(fp, 30.0)
    d *= arrhenius(-p.ea_dead_kj, t_c, p.t_ref_c)
    c = k * (1.0 - p.sei_share - p.dead_share) * min(pr**p.alpha_cathode_p, 30.0)
    return s, d, c


def bare_potential(p: CellParams) -> float:
    """Height of the depletion knee: the bare collector's potential vs the metal,
    kept below the discharged cathode's so the as-assembled cell's OCV is positive."""
    return min(p.metal.u_bare_v, p.curve(0.0) - 0.05)


def deposit_dense_frac(p: CellParams, n_eq: float) -> float:
    """Density of the live deposit as a fraction of dense metal after n_eq cycles."""
    return p.dense_frac_inf + (p.dense_frac_0 - p.dense_frac_inf) * exp(
        -n_eq / p.porosity_tau_cycles
    )


def thicknesses(p: CellParams, q_pl: float, q_dead: float, q_sei: float, n_eq: float):
    """(plated, dead, sei) thickness in µm from charges in µAh."""
    per_uah = p.metal.um_per_mah_cm2 / (1000.0 * p.area_cm2)  # µm of dense metal per µAh
    h_pl = q_pl * per_uah / deposit_dense_frac(p, n_eq)
    h_dead = q_dead * per_uah / p.dead_dense_frac
    h_sei = q_sei * p.sei_um_per_mah_cm2 / (1000.0 * p.area_cm2)
    return h_pl, h_dead, h_sei


def stack_pressure(p: CellParams, anode_um: float, preload_scale: float = 1.0) -> float:
    return max(p.preload_mpa * preload_scale + p.stiffness_mpa_per_um * anode_um, 0.0)


def resistances(p: CellParams, t_c: float, p_mpa: float, layer_um: float):
    """(R_ohm, R_ct) in Ω for the cell's area."""
    pf = 5.0 / max(p_mpa, 0.05)
    asr = (
        p.asr_bulk * arrhenius(-p.ea_bulk_kj, t_c, 25.0)
        + p.asr_contact * pf**p.contact_exp
        + p.asr_growth_per_um * layer_um
    )
    asr_ct = p.asr_ct * arrhenius(-p.ea_ct_kj, t_c, 25.0) * pf**p.ct_p_exp
    return asr / p.area_cm2, asr_ct / p.area_cm2


# -- faults ------------------------------------------------------------------

SHORT_NONE = "none"
SHORT_STEADY = "soft"  # a steady leakage path
SHORT_INTERMITTENT = "soft_intermittent"  # a filament that touches and burns open
SHORT_HARD = "hard"


@dataclass
class Short:
    """A parallel path across the electrodes (a dendrite through the separator)."""

    mode: str = SHORT_NONE
    r_ohm: float = inf
    mean_interval_s: float = 120.0  # intermittent: mean time between contacts while plating
    duration_s: float = 3.0  # intermittent: how long a contact conducts
    on: bool = False
    _left_s: float = 0.0
    rng: random.Random = field(default_factory=lambda: random.Random(1))

    def conductance(self) -> float:
        return 1.0 / self.r_ohm if self.on and self.r_ohm > 0 else 0.0

    def update(self, dt: float, plating: bool) -> None:
        """Advance the intermittent contact process by ``dt`` seconds."""
        if self.mode != SHORT_INTERMITTENT:
            self.on = self.mode in (SHORT_STEADY, SHORT_HARD)
            return
        if self.on:
            self._left_s -= dt
            if self._left_s <= 0.0:
                self.on = False
        elif plating and self.rng.random() < 1.0 - exp(-dt / self.mean_interval_s):
            self.on = True
            self._left_s = self.duration_s * (0.5 + self.rng.random())


# -- the cell ----------------------------------------------------------------


class Cell:
    """One anode-free cell, as assembled: all inventory in the cathode, bare collector."""

    def __init__(self, params: CellParams, seed: int = 1):
        self.p = params
        self.i0 = params.inventory_uah
        self.curve = params.curve
        self.short = Short(rng=random.Random(seed))
        self.preload_scale = 1.0  # contact loss lowers it
        self.t_amb = params.ambient_c
        self.reset()

    def reset(self) -> None:
        p = self.p
        self.q_cat = self.i0  # Li (Na) in the cathode, µAh
        self.q_cath = self.i0  # cathode capacity: y = 1 - q_cat / q_cath
        self.q_pl = 0.0
        self.q_sei = 0.0
        self.q_form = 0.0  # the formation part of q_sei
        self.q_dead = 0.0
        self.q_str = 0.0  # stranded in disconnected cathode particles
        self.throughput = 0.0  # µAh plated in total
        self.nuc_q = 0.0  # plated since the collector was last bare
        self.eta_p = 0.0
        self.t_c = self.t_amb
        self.formed = False  # True after the first real stripping
        self.q_knee = max(p.knee_frac * self.i0, 1e-3)
        self.u_bare = bare_potential(p)
        self.q_nuc = max(p.nuc_frac * self.i0, 1e-3)
        self.q_seed = 2.0 * self.q_knee
        # last step
        self.v = 0.0
        self.i_ext = 0.0
        self.i_cell = 0.0
        self.i_short = 0.0
        self.eta_n = 0.0
        self.time_s = 0.0
        self.q_ext = 0.0  # terminal charge in, net, µAh (what a coulomb counter integrates)
        # cycle bookkeeping (terminal charge, what a perfect meter sees)
        self.cycle = 0
        self._phase = 0  # +1 charging, -1 discharging
        self._q_in = 0.0
        self._q_out = 0.0
        self.q_charge_last = 0.0
        self.q_discharge_last = 0.0
        self.ce_last = 0.0
        self.q_discharge_first = 0.0
        self.inventory_at_last_cycle = self.i0
        self._update_derived()
        self.v = self.ocv()

    # -- derived quantities ----------------------------------------------------
    def _update_derived(self) -> None:
        p = self.p
        n_eq = self.throughput / self.i0
        self.h_pl, self.h_dead, self.h_sei = thicknesses(
            p, self.q_pl, self.q_dead, self.q_sei, n_eq
        )
        self.pressure_mpa = stack_pressure(
            p, self.h_pl + self.h_dead + self.h_sei, self.preload_scale
        )
        self.r_ohm, self.r_ct = resistances(
            p, self.t_c, self.pressure_mpa, self.h_dead + self.h_sei
        )

    def lost_frac(self) -> float:
        return (self.q_sei - self.q_form + self.q_dead + self.q_str) / self.i0

    def inventory(self) -> float:
        """Cyclable metal, µAh: in the cathode plus plated and connected."""
        return self.q_cat + self.q_pl

    def y(self) -> float:
        return 1.0 - self.q_cat / self.q_cath

    def anode_potential(self) -> float:
        return anode_potential(self.q_pl, self.q_knee, self.u_bare)

    def ocv(self) -> float:
        """True open-circuit voltage."""
        return self.curve(self.y()) - self.anode_potential()

    def nucleation_overpotential(self, j: float) -> float:
        """Extra plating overpotential on a bare collector: it builds up while the
        collector reaches the metal's potential (the first few knee widths), then
        relaxes as nuclei grow (e-fold ``nuc_frac`` of the inventory)."""
        p = self.p
        nq = self.nuc_q
        over = nq - 5.0 * self.q_knee
        r = over / self.q_nuc if over > 0.0 else 0.0
        if r > 30.0:
            return 0.0
        rise = 1.0 - exp(-nq / self.q_knee)
        jf = (max(j, 1e-6) / p.j_ref_ma_cm2) ** p.nuc_j_exp
        return p.eta_nuc_v * jf * arrhenius(-p.ea_nuc_kj, self.t_c, p.t_ref_c) * rise * exp(-r)

    # -- faults ----------------------------------------------------------------
    def set_short(self, mode: str, r_ohm: float = inf, **kw) -> None:
        s = self.short
        for k in kw:
            if k not in ("mean_interval_s", "duration_s"):
                raise ValueError(f"unknown short parameter {k!r} (mean_interval_s, duration_s)")
        s.mode = mode
        s.r_ohm = r_ohm
        for k, v in kw.items():
            setattr(s, k, float(v))
        s.on = mode in (SHORT_STEADY, SHORT_HARD)
        s._left_s = 0.0

    def clear_short(self) -> None:
        self.set_short(SHORT_NONE)

    def set_contact_loss(self, frac: float) -> None:
        self.preload_scale = max(0.0, 1.0 - frac)
        self._update_derived()

    # -- stepping ----------------------------------------------------------------
    def _trial(self, dt: float, mode: int, value: float, i_lo: float, i_hi: float):
        """One step from the present state, not committed. Returns the new state tuple.

        mode 0: rest (I_ext = 0); 1: current ``value`` A; 2: voltage ``value`` V,
        the current clipped to [i_lo, i_hi].
        """
        p = self.p
        g = self.short.conductance()
        e0 = self.curve(self.y()) - anode_potential(self.q_pl, self.q_knee, self.u_bare)
        r = self.r_ohm
        a = exp(-dt / p.tau_pol_s)
        rp = r + self.r_ct * (1.0 - a)
        base = e0 + self.eta_p * a
        area = p.area_cm2
        # Guess the direction for the nucleation term from the requested current.
        if mode == 1:
            i_ext = value
        elif mode == 2:
            i_ext = min(max((value * (1.0 + g * rp) - base) / rp, i_lo), i_hi)
        else:
            i_ext = 0.0
        eta_n = 0.0
        for _ in range(2):
            v = (base + eta_n + i_ext * rp) / (1.0 + g * rp)
            i_cell = i_ext - g * v
            want = self.nucleation_overpotential(i_cell * 1000.0 / area) if i_cell > 0 else 0.0
            if want == eta_n:
                break
            eta_n = want
            if mode == 2:
                i_ext = min(max((value * (1.0 + g * rp) - base - eta_n) / rp, i_lo), i_hi)
        v = (base + eta_n + i_ext * rp) / (1.0 + g * rp)
        i_cell = i_ext - g * v
        eta_p = self.eta_p * a + i_cell * self.r_ct * (1.0 - a)
        # Move the metal.
        dq = i_cell * dt * UAH_PER_AS
        q_cat, q_cath, q_pl = self.q_cat, self.q_cath, self.q_pl
        q_sei, q_form, q_dead, q_str = self.q_sei, self.q_form, self.q_dead, self.q_str
        thr, nuc_q, formed = self.throughput, self.nuc_q, self.formed
        j = abs(i_cell) * 1000.0 / area
        if dq > 0.0:
            dq = min(dq, q_cat)
            s, _, _ = loss_rates(p, j, self.t_c, self.pressure_mpa, self.lost_frac())
            sf = 0.0 if formed else p.formation_loss
            q_cat -= dq
            q_sei += dq * (s + sf)
            q_form += dq * sf
            q_pl += dq * (1.0 - s - sf)
            thr += dq
            nuc_q += dq * (1.0 - s - sf)
        elif dq < 0.0:
            _, d, c = loss_rates(p, j, self.t_c, self.pressure_mpa, self.lost_frac())
            out = -dq
            if out * (1.0 + d) > q_pl:
                out = q_pl / (1.0 + d)
            q_pl -= out * (1.0 + d)
            if q_pl < 0.0:
                q_pl = 0.0
            q_dead += out * d
            # Cathode particles that lose contact while filling strand their metal.
            q_cat += out * (1.0 - c)
            q_cath -= out * c
            q_str += out * c
            if thr > 0.01 * self.i0:
                formed = True  # the first plating is over: no more formation loss
            if q_pl < self.q_seed:
                nuc_q = 0.0
        # Terminal voltage at the end of the step (end-of-step OCV, same currents).
        e1 = self.curve(1.0 - q_cat / q_cath) - anode_potential(q_pl, self.q_knee, self.u_bare)
        v1 = e1 + eta_p + eta_n + i_ext * r
        if g:
            v1 /= 1.0 + g * r
        return (v1, i_ext, eta_n, eta_p, e1,
                q_cat, q_cath, q_pl, q_sei, q_form, q_dead, q_str, thr, nuc_q, formed)  # fmt: skip

    def _commit(self, dt: float, st) -> None:
        v, i_ext, eta_n, eta_p, e = st[:5]
        (self.q_cat, self.q_cath, self.q_pl, self.q_sei, self.q_form, self.q_dead, self.q_str,
         self.throughput, self.nuc_q, self.formed) = st[5:]  # fmt: skip
        p = self.p
        i_sh = self.short.conductance() * v
        i_cell = i_ext - i_sh
        self.v, self.i_ext, self.eta_n, self.eta_p = v, i_ext, eta_n, eta_p
        self.i_cell, self.i_short = i_cell, i_sh
        # Heat: irreversible losses in the cell plus the power in the short.
        heat = i_cell * (v - e) + v * i_sh
        t_inf = self.t_amb + heat / p.h_w_per_k
        self.t_c = t_inf + (self.t_c - t_inf) * exp(-dt * p.h_w_per_k / p.c_th_j_per_k)
        self.time_s += dt
        dq_ext = i_ext * dt * UAH_PER_AS
        self.q_ext += dq_ext
        self._bookkeep(dq_ext)
        self._update_derived()

    def _bookkeep(self, dq_ext: float) -> None:
        """Cycles by terminal charge: a charge after a real discharge closes a cycle."""
        eps = 1e-9 * self.i0
        if dq_ext > 0.0:
            if self._phase < 0 and self._q_out > 0.01 * self.i0:
                self._close_cycle()
            if dq_ext > eps:
                self._phase = 1
            self._q_in += dq_ext
        elif dq_ext < 0.0:
            if -dq_ext > eps:
                self._phase = -1
            self._q_out -= dq_ext

    def _close_cycle(self) -> None:
        self.cycle += 1
        self.q_charge_last = self._q_in
        self.q_discharge_last = self._q_out
        self.ce_last = self._q_out / self._q_in if self._q_in > 0 else 0.0
        if self.cycle == 1:
            self.q_discharge_first = self._q_out
        self.inventory_at_last_cycle = self.inventory()
        self._q_in = 0.0
        self._q_out = 0.0

    def finish_cycle(self) -> None:
        """Close the running cycle now (end of a protocol), if it has a discharge."""
        if self._phase < 0 and self._q_out > 0.01 * self.i0:
            self._close_cycle()
            self._phase = 0

    def step(
        self,
        dt: float,
        mode: int = 0,
        value: float = 0.0,
        i_lo: float = -inf,
        i_hi: float = inf,
        v_hi: float | None = None,
        v_lo: float | None = None,
        _depth: int = 0,
    ) -> tuple[float, bool]:
        """Advance ``dt`` s. Stops early, exactly at the crossing, when the terminal
        voltage would rise to ``v_hi`` or fall to ``v_lo``. Returns (dt_used, stopped).

        mode 0: rest; 1: current ``value`` A (+ charging); 2: voltage ``value`` V with
        the current clipped to [i_lo, i_hi]."""
        if _depth == 0:
            self.short.update(dt, self.i_cell > 0 or (mode == 1 and value > 0))
        st = self._trial(dt, mode, value, i_lo, i_hi)
        # Sub-step where one step would strip most of what is left (the knee, a short).
        if _depth < 8 and st[7] < 0.5 * self.q_pl and self.q_pl > 0.05 * self.q_knee:
            used = 0.0
            for _ in range(2):
                du, hit = self.step(dt / 2, mode, value, i_lo, i_hi, v_hi, v_lo, _depth + 1)
                used += du
                if hit:
                    return used, True
            return used, False
        v = st[0]
        if not ((v_hi is not None and v >= v_hi) or (v_lo is not None and v <= v_lo)):
            self._commit(dt, st)
            return dt, False
        # Bisect for the crossing: commit the step that just reaches the limit.
        lo, hi = 0.0, dt
        for _ in range(14):
            mid = 0.5 * (lo + hi)
            v = self._trial(mid, mode, value, i_lo, i_hi)[0]
            if (v_hi is not None and v >= v_hi) or (v_lo is not None and v <= v_lo):
                hi = mid
            else:
                lo = mid
        self._commit(hi, self._trial(hi, mode, value, i_lo, i_hi))
        return hi, True

    # -- ground truth -----------------------------------------------------------------
    def truth(self) -> dict:
        p = self.p
        inv = self.inventory()
        area = p.area_cm2
        return {
            "time_s": self.time_s,
            "voltage_v": self.v,
            "current_a": self.i_ext,
            "cell_current_a": self.i_cell,
            "short_current_a": self.i_short,
            "ocv_v": self.ocv(),
            "cathode_ocv_v": self.curve(self.y()),
            "anode_potential_v": self.anode_potential() - self.eta_n,
            "eta_nucleation_v": self.eta_n,
            "eta_polarisation_v": self.eta_p,
            "r_ohm": self.r_ohm,
            "r_ct_ohm": self.r_ct,
            "cathode_soc": self.y(),
            "inventory_uah": inv,
            "inventory_frac": inv / self.i0,
            "initial_inventory_uah": self.i0,
            "cathode_uah": self.q_cat,
            "plated_uah": self.q_pl,
            "sei_loss_uah": self.q_sei,
            "formation_loss_uah": self.q_form,
            "dead_loss_uah": self.q_dead,
            "cathode_stranded_uah": self.q_str,
            "cathode_capacity_uah": self.q_cath,
            "plated_um": self.h_pl,
            "dead_um": self.h_dead,
            "sei_um": self.h_sei,
            "anode_um": self.h_pl + self.h_dead + self.h_sei,
            "plated_dense_um": self.q_pl * p.metal.um_per_mah_cm2 / (1000.0 * area),
            "deposit_dense_frac": deposit_dense_frac(p, self.throughput / self.i0),
            "pressure_pa": self.pressure_mpa * 1e6,
            "temperature_c": self.t_c,
            "ambient_c": self.t_amb,
            "cycle": self.cycle,
            "ce_last": self.ce_last,
            "q_charge_last_uah": self.q_charge_last,
            "q_discharge_last_uah": self.q_discharge_last,
            "q_discharge_first_uah": self.q_discharge_first,
            "retention": (
                self.q_discharge_last / self.q_discharge_first if self.q_discharge_first else 1.0
            ),
            "short_mode": self.short.mode,
            "short_active": self.short.on,
            "short_r_ohm": self.short.r_ohm if self.short.mode != SHORT_NONE else inf,
            "contact_preload_scale": self.preload_scale,
            "metal": p.metal.name,
        }


def dense_thickness_um(metal: Metal, mah_cm2: float) -> float:
    """Thickness of ``mah_cm2`` of dense metal (4.85 µm/(mAh/cm²) Li, 8.8 Na)."""
    return metal.um_per_mah_cm2 * mah_cm2


def soft_short_ohms_for_drop(cell: Cell, drop_v: float) -> float:
    """The short resistance that pulls the terminal voltage down by about ``drop_v``
    at the present state (drop ≈ V·R/(R + R_sh) for the instantaneous ohmic R)."""
    v = max(cell.v, 0.1)
    r = cell.r_ohm
    return max(r * (v - drop_v) / drop_v, 1e-3)


__all__ = [
    "LITHIUM",
    "SHORT_HARD",
    "SHORT_INTERMITTENT",
    "SHORT_NONE",
    "SHORT_STEADY",
    "SODIUM",
    "Cell",
    "CellParams",
    "Metal",
    "dense_thickness_um",
    "loss_rates",
    "soft_short_ohms_for_drop",
]
