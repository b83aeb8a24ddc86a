"""Open-circuit curves: cathodes vs their metal, and the plated anode's knee.

A cathode curve is ``U(y)`` in volts against the plated metal (Li/Li⁺ or Na/Na⁺),
``y`` the cathode's state of charge: 0 = fully lithiated (as assembled, the
cell's whole inventory inside it), 1 = delithiated to the end of its usable
window. The shapes are smooth, monotone stand-ins for the real materials (a
sloping layered oxide, a flat two-phase LFP plateau, NaCrO₂'s step) with steep
ends, not fits to any data set. Each is tabulated once on a uniform grid and
looked up by linear interpolation (O(1)); ``inverse`` bisects the table.

The anode side: the potential of the anode vs. its metal is 0 while plated metal
covers the collector and rises to ``u_bare`` as the last of it is stripped:
``U_a(q) = u_bare * exp(-q / q_knee)``. That term is the anode-depletion knee
that ends discharge in an anode-free cell.
"""

from __future__ import annotations

from bisect import bisect_left
from math import exp, pi, sin, tanh

_N = 4000  # grid intervals


def _nmc(y: float) -> float:
    # Layered Ni-rich oxide (NMC/NCM): sloping, steep at full lithiation.
    return (
        3.55 + 0.70 * y + 0.05 * sin(pi * y)
        - 0.45 * exp(-y / 0.025) + 0.10 * exp((y - 1.0) / 0.03)
    )  # fmt: skip


def _lfp(y: float) -> float:
    # LiFePO4: a flat two-phase plateau at 3.42 V with steep ends.
    return 3.42 + 0.05 * (y - 0.5) - 0.55 * exp(-y / 0.015) + 0.45 * exp((y - 1.0) / 0.015)


def _lco(y: float) -> float:
    # LiCoO2 between LiCoO2 and Li0.5CoO2 (thin-film cells).
    return 3.90 + 0.25 * y - 0.50 * exp(-y / 0.03) + 0.12 * exp((y - 1.0) / 0.03)


def _nacro2(y: float) -> float:
    # NaCrO2 vs Na/Na+: ~3 V with a step mid-way (the O3 -> P3 transition).
    return (
        2.95 + 0.30 * y + 0.04 * tanh((y - 0.5) / 0.04)
        - 0.60 * exp(-y / 0.03) + 0.15 * exp((y - 1.0) / 0.03)
    )  # fmt: skip


def _na_hv(y: float) -> float:
    # A generic 4.25 V-class sodium cathode (the review does not name it).
    return 3.25 + 0.90 * y - 0.60 * exp(-y / 0.03) + 0.12 * exp((y - 1.0) / 0.03)


class Curve:
    """A tabulated, strictly increasing OCV curve ``U(y)``, y in [0, 1]."""

    def __init__(self, name: str, fn, v_min: float, v_max: float, note: str):
        self.name = name
        self.v_min = v_min  # the usual discharge cutoff of full cells with this cathode
        self.v_max = v_max  # the usual charge cutoff
        self.note = note
        self._fn = fn
        self.table = [fn(i / _N) for i in range(_N + 1)]
        for a, b in zip(self.table, self.table[1:], strict=False):
            if not b > a:
                raise ValueError(f"curve {name} is not strictly increasing")

    def __call__(self, y: float) -> float:
        if y <= 0.0:
            return self.table[0]
        if y >= 1.0:
            return self.table[_N]
        f = y * _N
        i = int(f)
        t = self.table
        a = t[i]
        return a + (t[i + 1] - a) * (f - i)

    def exact(self, y: float) -> float:
        """The analytic curve (for tests)."""
        return self._fn(y)

    def inverse(self, u: float) -> float:
        """The y at which U(y) = u (clamped to [0, 1])."""
        t = self.table
        if u <= t[0]:
            return 0.0
        if u >= t[_N]:
            return 1.0
        i = bisect_left(t, u) - 1
        a = t[i]
        return (i + (u - a) / (t[i + 1] - a)) / _N


CURVES = {
    "nmc": Curve("nmc", _nmc, 2.5, 4.25, "NMC/NCM layered oxide vs Li (sloping)"),
    "lfp": Curve("lfp", _lfp, 2.5, 3.8, "LiFePO4 vs Li (flat plateau)"),
    "lco": Curve("lco", _lco, 3.0, 4.2, "LiCoO2 vs Li (thin film)"),
    "nacro2": Curve("nacro2", _nacro2, 2.0, 3.4, "NaCrO2 vs Na (step at half charge)"),
    "na_hv": Curve("na_hv", _na_hv, 2.0, 4.25, "generic 4.25 V-class Na cathode vs Na"),
}


def anode_potential(q_plated: float, q_knee: float, u_bare: float) -> float:
    """Anode potential vs its metal (V): 0 when plated, ``u_bare`` on the bare collector."""
    r = q_plated / q_knee
    if r > 40.0:
        return 0.0
    return u_bare * exp(-r if r > 0.0 else 0.0)
