"""A small synthetic anode-free cell for unit tests of the estimator and detector.

Not the plant: a few lines of bookkeeping with exactly known truth, so one
thing can be changed at a time. Inventory ``q_cat + q_pl``; charging moves
metal from the cathode to the collector (a fraction ``sei`` of it into SEI),
until the cathode keeps only the residue ``r`` (top of charge); discharging
strips it back (a fraction ``dead`` of what is delivered is left dead) until
the collector is bare (the knee: the voltage falls to ``v_knee``). Readings:
exact current (+ an offset), voltage ``ocv + I R`` (+ optional noise and
events), pressure ``p0 + stiffness x thickness``. The measured charge is
integrated exactly into the Sample's split accumulator, as the sampler does.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from bms import wire
from bms.sample import Sample

UAMS = 3_600_000


@dataclass
class SynthCell:
    cap_uah: int = 1000
    residue_uah: float = 40.0
    sei: float = 0.002  # of plated
    dead: float = 0.002  # of delivered
    formation: float = 0.05  # extra SEI on the first plating
    r_ohm: float = 40.0
    area_cm2: float = 1.0
    p0_pa: float = 5e6
    stiffness_pa_per_um: float = 50_000.0
    live_frac: float = 0.5
    dead_frac: float = 0.118
    sei_um_per_mah_cm2: float = 2.0
    nm_per_mah_cm2: float = 4850.0
    q_cat: float = field(init=False)
    q_pl: float = field(init=False, default=0.0)
    q_sei: float = field(init=False, default=0.0)
    q_dead: float = field(init=False, default=0.0)
    formed: bool = field(init=False, default=False)

    def __post_init__(self) -> None:
        self.q_cat = float(self.cap_uah)

    @property
    def inventory(self) -> float:
        return self.q_cat + self.q_pl

    def ocv(self) -> float:
        y = 1.0 - self.q_cat / self.cap_uah
        v = 3.5 + 0.7 * y
        if self.q_pl < 0.002 * self.cap_uah:  # the knee: down to ~2.6 V when bare
            v -= 1.0 * (1.0 - self.q_pl / (0.002 * self.cap_uah))
        return v

    def pressure(self) -> float:
        per = self.nm_per_mah_cm2 / 1000.0 / self.area_cm2 / 1000.0  # µm per µAh dense
        h = self.q_pl * per / self.live_frac + self.q_dead * per / self.dead_frac
        h += self.q_sei * self.sei_um_per_mah_cm2 / 1000.0 / self.area_cm2
        return self.p0_pa + self.stiffness_pa_per_um * h

    def move(self, i_ua: float, dt_ms: int) -> float:
        """Pass current for dt; returns the charge actually passed (µA·ms), clipped at
        the top of charge and at the knee."""
        dq = i_ua * dt_ms / UAMS  # µAh
        if dq > 0:
            dq = min(dq, self.q_cat - self.residue_uah)
            if dq <= 0:
                return 0.0
            s = self.sei + (0.0 if self.formed else self.formation)
            self.q_cat -= dq
            self.q_sei += dq * s
            self.q_pl += dq * (1 - s)
        elif dq < 0:
            out = min(-dq, self.q_pl / (1 + self.dead))
            if out <= 0:
                return 0.0
            self.q_pl -= out * (1 + self.dead)
            self.q_pl = max(self.q_pl, 0.0)
            self.q_dead += out * self.dead
            self.q_cat += out
            self.formed = True
            dq = -out
        return dq * UAMS


@dataclass
class Trace:
    """Drives a SynthCell through steps, yielding (sample, state) per period."""

    cell: SynthCell
    period_ms: int = 1000
    offset_ua: int = 0
    i_noise_ua: float = 1.0  # a real monitor's reading never repeats for long
    v_cut: float = 2.55  # discharge cutoff (V), above the rigs' V_MIN of 2.5 V
    v_noise_uv: float = 0.0
    seed: int = 1
    sample: Sample = field(default_factory=Sample)
    t_ms: int = 0
    hooks: list[Callable[[Trace, Sample], None]] = field(default_factory=list)
    i_true: float = 0.0

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self._rem = 0.0

    def _emit(self, i_ua: float) -> tuple[Sample, int]:
        s = self.sample
        c = self.cell
        passed = c.move(i_ua, self.period_ms)  # µA·ms actually passed
        self.t_ms += self.period_ms
        i_eff = passed / self.period_ms if self.period_ms else 0.0
        self.i_true = i_eff
        meas = passed + self.offset_ua * self.period_ms + self._rem
        whole = int(meas)
        self._rem = meas - whole
        s.add_charge_uams(whole)
        s.t_ms = self.t_ms & 0x3FFFFFFF
        s.t_s = 800_000_000 + self.t_ms // 1000
        s.t_sub_ms = self.t_ms % 1000
        s.seq += 1
        s.current_ua = round(i_eff + self.offset_ua + self.rng.gauss(0, self.i_noise_ua))
        v = c.ocv() + i_eff * 1e-6 * c.r_ohm
        if i_eff < 0 and v < self.v_cut:
            v = self.v_cut  # a cycler stops the discharge at its cutoff
        noise = self.rng.gauss(0, self.v_noise_uv) if self.v_noise_uv else 0.0
        s.voltage_uv = round(v * 1e6 + noise)
        s.pressure_pa = round(c.pressure())
        s.temperature_mc = 25_000
        s.errors = 0
        for h in self.hooks:
            h(self, s)
        i = s.current_ua
        if i >= 20:
            return s, wire.STATE_CHARGE
        return s, wire.STATE_DISCHARGE if i <= -20 else wire.STATE_IDLE

    def rest(self, seconds: float) -> Iterator[tuple[Sample, int]]:
        for _ in range(int(seconds * 1000 // self.period_ms)):
            yield self._emit(0.0)

    def charge(self, i_ua: float, max_s: float = 1e9) -> Iterator[tuple[Sample, int]]:
        """CC until the top (the cathode down to its residue)."""
        n = int(max_s * 1000 // self.period_ms)
        for _ in range(n):
            if self.cell.q_cat - self.cell.residue_uah <= 1e-9:
                return
            yield self._emit(i_ua)

    def discharge(self, i_ua: float, max_s: float = 1e9) -> Iterator[tuple[Sample, int]]:
        """CC until the knee (the collector bare)."""
        n = int(max_s * 1000 // self.period_ms)
        for _ in range(n):
            if self.cell.q_pl <= 1e-9:
                return
            yield self._emit(-abs(i_ua))

    def cycle(self, i_ua: float, rest_s: float = 600) -> Iterator[tuple[Sample, int]]:
        yield from self.charge(i_ua)
        yield from self.rest(rest_s)
        yield from self.discharge(i_ua)
        yield from self.rest(rest_s)


def config_get(**over):
    """A ``get(key)`` over the firmware's config defaults (V_MIN 2.5 V: the synthetic
    cell's knee ends near 2.6 V, as a cycler's cutoff sits above V_MIN), with overrides
    by name."""
    from bms import config

    v = config.defaults()
    v[wire.CFG_V_MIN_UV] = 2_500_000
    for name, value in over.items():
        v[getattr(wire, "CFG_" + name.upper())] = value

    def get(key):
        return v[key]

    return get
