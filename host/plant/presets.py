"""Cell presets from the seed papers, each calibrated to its reported retention.

Sources (../shared/seeds/):

* **Jeon et al.**, "All-Solid-State Batteries with Anodeless Electrodes: Research
  Trend and Future Perspective", Adv. Mater. Interfaces 2025,
  doi:10.1002/admi.202400953 (``003_*.txt``). Every full-cell row of Table 1
  (Ag/C chemistry) and Table 2 (Ag alternatives) is a preset. Skipped, because
  they are half cells against a Li-metal counter electrode (no cathode, no
  inventory to lose): Table 2 "Au-coated membrane | Li3PS4 | Li metal (counter)"
  and "Sputtered ZnO | Li6.55La2.95Ca0.05Zr1.5Ta0.5O12 | Li metal (counter)".
* **Tang et al.**, "Anode-Free Solid-State Rechargeable Batteries: Mechanisms,
  Challenges, and Design Strategies" (review, 2024) (``000_*.txt``). It has no
  table; the full cells it names with both electrodes are presets:
  LiCoO2 | LiPON | Cu (Neudecker 2000, its ref. 30), NaCrO2 | sodium
  closo-borohydride | porous Al (Deysher et al. 2024, ref. 22), and the
  4.25 V-class anode-free Na cell with the "liquid-in-solid" Na-SSZE
  electrolyte (Lu et al. 2024, ref. 27). Its Ag-C cell (Lee et al. 2020,
  ref. 33) is Jeon Table 1 row 1 (same work), so it is that preset. The review
  gives no capacity, current, temperature, pressure or retention figures for
  them: those fields are listed in ``Preset.assumed`` and the calibration
  target is an explicit assumption (``target_basis``). Named but not presets
  (see ``NOT_PRESETS``): systems without a named cathode or without any
  cycling figure, and the half cells it discusses.

Every preset's cell is 1 cm² (pouch rows too: modelled per cm², which keeps
the currents inside the board's 100 mA INA228 range and matches the firmware's
default area). Cycling protocol: CC-CV charge at the row's current density to
the cathode's upper cutoff (CV to C/20), CC discharge at the same current to
the lower cutoff, 10 min rests (:func:`afbms.plant.cycler.cycling_protocol`).

Calibration (``python -m afbms.plant.calibrate --write``) solves for the one
free loss parameter ``k_loss`` (per-cycle base loss fraction at the row's
conditions) by bisection so that the per-cycle model's retention after the
row's cycle count equals the target; the results live in ``CALIBRATED`` below.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from afbms.plant.cell import LITHIUM, SODIUM, CellParams, Metal

JEON = "Jeon et al., Adv. Mater. Interfaces 2025, doi:10.1002/admi.202400953"
TANG = "Tang, Han, Li, 'Anode-Free Solid-State Rechargeable Batteries' (review, 2024)"


@dataclass(frozen=True)
class Source:
    paper: str
    where: str  # table and row, or the passage
    row: str  # the row / sentence as printed in the seed text
    ref: str  # the primary work, as the paper cites it
    notes: str = ""


@dataclass(frozen=True)
class Preset:
    key: str
    title: str
    source: Source
    metal: Metal
    curve: str  # cathode OCV curve (afbms.plant.curves)
    cathode: str
    electrolyte: str
    anode_side: str  # the anodeless architecture / collector
    cell_type: str
    areal_capacity_mah_cm2: float
    current_ma_cm2: float
    temperature_c: float
    pressure_mpa: float  # stack pressure while cycling
    cycles: int
    reported_retention: float | None  # fraction, as reported; None: not reported
    target_retention: float  # what calibration matches
    target_basis: str
    assumed: tuple[str, ...] = ()  # fields not given by the source
    params: CellParams = field(default_factory=CellParams)

    @property
    def k_loss(self) -> float:
        return self.params.k_loss


# Electrolyte separators: ASR at 25 °C (Ω·cm²) and activation energy (kJ/mol).
# Order-of-magnitude values for the cell formats (pellet ~0.5-1 mm, pouch tens of µm).
ELECTROLYTES = {
    "sulfide_pellet": {"asr_bulk": 20.0, "ea_bulk_kj": 31.0},
    "sulfide_pouch": {"asr_bulk": 3.0, "ea_bulk_kj": 31.0},
    "garnet": {"asr_bulk": 100.0, "ea_bulk_kj": 39.0},
    "peo": {"asr_bulk": 800.0, "ea_bulk_kj": 68.0, "contact_exp": 0.3},
    "lipon": {"asr_bulk": 150.0, "ea_bulk_kj": 53.0, "contact_exp": 0.0, "ct_p_exp": 0.0},
    "borohydride": {"asr_bulk": 40.0, "ea_bulk_kj": 34.0},
    "ssze": {"asr_bulk": 20.0, "ea_bulk_kj": 25.0, "contact_exp": 0.3},
}

# ---- calibrated k_loss per preset (written by `python -m afbms.plant.calibrate --write`)
# BEGIN CALIBRATED
CALIBRATED: dict[str, float] = {
    "jeon_t1_agc_premix_ncm90": 4.24026e-06,
    "jeon_t1_agc_ioncomplex_ncm712": 0.000220235,
    "jeon_t1_agc_spray_ncm83": 0.000301247,
    "jeon_t1_agc_bilayer_ncm83": 0.00273033,
    "jeon_t2_mg_powder_ncm811": 0.000369274,
    "jeon_t2_mgf2c_ncm90": 0.000920272,
    "jeon_t2_mxene_mg_ncm811": 0.00829629,
    "jeon_t2_w_mg_ncm811": 0.000845621,
    "jeon_t2_zno_cu_lfp": 0.00519995,
    "jeon_t2_porous_zn_ncm523": 0.000435308,
    "tang_neudecker_lco_lipon_cu": 0.000177192,
    "tang_deysher_nacro2_borohydride_al": 0.000647411,
    "tang_lu_na_ssze_hv": 0.00117923,
}
# END CALIBRATED


def _preset(
    key, title, source, *, metal=LITHIUM, curve="nmc", cathode, electrolyte, anode_side,
    cell_type, cap, j, t, p, cycles, retention, target=None, basis=None, assumed=(),
    electrolyte_kind, eta_nuc=0.02, **overrides,
) -> Preset:  # fmt: skip
    kw = dict(ELECTROLYTES[electrolyte_kind])
    kw.update(overrides)
    params = CellParams(
        metal=metal,
        cathode=curve,
        areal_capacity_mah_cm2=cap,
        area_cm2=1.0,
        j_ref_ma_cm2=j,
        p_ref_mpa=p,
        t_ref_c=t,
        preload_mpa=p,
        ambient_c=t,
        eta_nuc_v=eta_nuc,
        k_loss=CALIBRATED.get(key, 1e-3),
        **kw,
    )
    if target is None:
        target = retention
        basis = basis or f"reported: {retention * 100:g} % after {cycles} cycles"
    return Preset(
        key, title, source, metal, curve, cathode, electrolyte, anode_side, cell_type,
        cap, j, t, p, cycles, retention, target, basis or "", tuple(assumed), params,
    )  # fmt: skip


_T1 = "Table 1 (AL-ASSBs with Ag/C chemistry), row {}"
_T2 = "Table 2 (AL-ASSBs with Ag alternatives), row {}"

PRESETS: dict[str, Preset] = {}


def _add(pr: Preset) -> None:
    PRESETS[pr.key] = pr


# -- Jeon et al., Table 1 -------------------------------------------------------
_add(_preset(
    "jeon_t1_agc_premix_ncm90",
    "Ag/C (pre-mixed 25:75) | Li6PS5Cl | NCM90-5-5, 6.8 mAh/cm², 2 MPa pouch",
    Source(JEON, _T1.format(1),
           "Ag/C composite | Pre-mixing | Ag:C = 25:75 | Li6PS5CI | LiNi0.9Co0.05Mn0.05O2 | "
           "6.8 mAh cm-2 | 3.4 mA cm-2 | 0° C | 1000 cycles (99.8%) | Pouch cell | 490 MPa | 2 MPa",
           "Jeon ref. [9] (Lee et al., Nat. Energy 2020; also Tang ref. [33])",
           "The seed's temperature cell reads '0° C'; read as 60 °C (the other rows' "
           "'C° 09' is 60 °C mirrored; Lee et al. cycled at 60 °C). The text (§2) calls "
           "99.8 % this cell's Coulombic efficiency; calibrated to the table as printed "
           "(99.8 % retention), which means a per-cycle loss far below the 0.1-1 % of "
           "the other rows."),
    cathode="LiNi0.9Co0.05Mn0.05O2", electrolyte="Li6PS5Cl",
    anode_side="Ag/C composite (pre-mixed)",
    cell_type="pouch", cap=6.8, j=3.4, t=60.0, p=2.0, cycles=1000, retention=0.998,
    electrolyte_kind="sulfide_pouch", eta_nuc=0.025,
))  # fmt: skip
_add(_preset(
    "jeon_t1_agc_ioncomplex_ncm712",
    "Ag/C (ion complex 5:95) | Li6PS5Cl | NCM712, 6.2 mAh/cm², 4 MPa pouch",
    Source(JEON, _T1.format(2),
           "Ag/C composite | Ion complex | Ag:C = 5:95 | Li6PS5CI | LiNi0.7Co0.1Mn0.2O2 | "
           "6.2 mAh cm-2 | 3.1 mA cm-2 | C° 09 | 500 cycles (91.6%) | Pouch cell | 490 MPa | 4 MPa",
           "Jeon ref. [13] (Jung et al.; §3: 'maintaining 91% of their capacity even after "
           "500 cycles')",
           "'C° 09' read as 60 °C."),
    cathode="LiNi0.7Co0.1Mn0.2O2", electrolyte="Li6PS5Cl",
    anode_side="Ag/C composite (ion complex)",
    cell_type="pouch", cap=6.2, j=3.1, t=60.0, p=4.0, cycles=500, retention=0.916,
    electrolyte_kind="sulfide_pouch", eta_nuc=0.02,
))  # fmt: skip
_add(_preset(
    "jeon_t1_agc_spray_ncm83",
    "Ag/C (spray-coated 25:75) | Li6PS5Cl | NCM83, 1.25 mAh/cm², 80 °C pellet",
    Source(JEON, _T1.format(3),
           "Ag/C composite | Spray coating | Ag:C = 25:75 | Li6PS5CI | LiNi0.83Mn0.06Co0.11O2 | "
           "1.25 mAh cm-2 | 0.75 mA cm-2 | 80 °C | 800 cycles (63%) | Pellet cell | 500 MPa | "
           "2.5 MPa | [12]",
           "Table ref. [12] (layer-by-layer spray coating; §3 cites it as [14])"),
    cathode="LiNi0.83Mn0.06Co0.11O2", electrolyte="Li6PS5Cl", anode_side="Ag/C composite (spray)",
    cell_type="pellet", cap=1.25, j=0.75, t=80.0, p=2.5, cycles=800, retention=0.63,
    electrolyte_kind="sulfide_pellet", eta_nuc=0.02,
))  # fmt: skip
_add(_preset(
    "jeon_t1_agc_bilayer_ncm83",
    "Ag/C bilayer (spray-coated) | Li6PS5Cl | NCM83, 2.4 mAh/cm², 60 °C pellet",
    Source(JEON, _T1.format(4),
           "Ag/C composite | Spray coating (bilayer) | Ag:C = 25:75 | Li6PS5CI | "
           "LiNi0.83Mn0.06Co0.11O2 | ≈2.4 mAh cm-2 | 1 mA cm-2 | C° 09 | 100 cycles (47%) | "
           "Pellet cell | 500 MPa | 4 MPa | [13]",
           "Table ref. [13] (Ag/C bilayer; §3 cites Metzler et al. as [15])",
           "'C° 09' read as 60 °C."),
    cathode="LiNi0.83Mn0.06Co0.11O2", electrolyte="Li6PS5Cl", anode_side="Ag/C bilayer (spray)",
    cell_type="pellet", cap=2.4, j=1.0, t=60.0, p=4.0, cycles=100, retention=0.47,
    electrolyte_kind="sulfide_pellet", eta_nuc=0.02,
))  # fmt: skip

# -- Jeon et al., Table 2 -------------------------------------------------------
_add(_preset(
    "jeon_t2_mg_powder_ncm811",
    "Mg powder | Li6PS5Cl0.5Br0.5 | NCM811, 2.92 mAh/cm², 30 MPa pellet",
    Source(JEON, _T2.format(1),
           "Mg powder | Li6PS5Cl0.5Br0.5 | LiNi0.8Co0.1Mn0.1O2 | 2.92 mAh cm-2 | 0.5 mA cm-2 | "
           "30 °C | 500 cycles (80%) | Pellet cell | 380 MPa | 30 MPa | [15]",
           "Table ref. [15] (Jun et al.; §4 cites [17])"),
    cathode="LiNi0.8Co0.1Mn0.1O2", electrolyte="Li6PS5Cl0.5Br0.5", anode_side="Mg powder",
    cell_type="pellet", cap=2.92, j=0.5, t=30.0, p=30.0, cycles=500, retention=0.80,
    electrolyte_kind="sulfide_pellet", eta_nuc=0.02,
))  # fmt: skip
_add(_preset(
    "jeon_t2_mgf2c_ncm90",
    "MgF2@C | Li6PS5Cl | NCM90-5-5, 7 mAh/cm², 4 MPa pouch",
    Source(JEON, _T2.format(2),
           "MgF2@C composite | Li6PS5CI | LiNi0.9Co0.05Mn0.05O2 | 7 mAh cm-2 | 3.5 mA cm-2 | "
           "C° 09 | 300 cycles (61.32%) | Pouch cell | 490 MPa | 4 MPa | [16]",
           "Table ref. [16] (Jeon et al.; §4 cites [18])",
           "'C° 09' read as 60 °C. The text (§4) quotes 81.4 % after 200 cycles for "
           "MgF2/C; calibrated to the table row."),
    cathode="LiNi0.9Co0.05Mn0.05O2", electrolyte="Li6PS5Cl", anode_side="MgF2@C composite",
    cell_type="pouch", cap=7.0, j=3.5, t=60.0, p=4.0, cycles=300, retention=0.6132,
    electrolyte_kind="sulfide_pouch", eta_nuc=0.015,
))  # fmt: skip
_add(_preset(
    "jeon_t2_mxene_mg_ncm811",
    "MXene/Mg | Li6PS5Cl | NCM811, 2.64 mAh/cm², 2 MPa pellet",
    Source(JEON, _T2.format(3),
           "Mxene/Mg | Li6PS5CI | LiNi0.8Co0.1Mn0.1O2 | 2.64 mAh cm-2 | 0.264 mA cm-2 | 25 °C | "
           "30 cycles (≈62%) | Pellet cell | 380 MPa | 2 MPa | [1]",
           "Table ref. [1] (Oh et al.; §4 cites [19])",
           "The text (§4) quotes 82.4 % retention for Mg-MXene at low pressure; "
           "calibrated to the table row."),
    cathode="LiNi0.8Co0.1Mn0.1O2", electrolyte="Li6PS5Cl", anode_side="MXene/Mg bilayer",
    cell_type="pellet", cap=2.64, j=0.264, t=25.0, p=2.0, cycles=30, retention=0.62,
    electrolyte_kind="sulfide_pellet", eta_nuc=0.02,
))  # fmt: skip
_add(_preset(
    "jeon_t2_w_mg_ncm811",
    "W/Mg bilayer | Li6PS5Cl | NCM811, 3.7 mAh/cm², 2 MPa pouch",
    Source(JEON, _T2.format(4),
           "W/Mg bilayer | Li6PS5CI | LiNi0.8Co0.1Mn0.1O2 | 3.7 mAh cm-2 | 1.11 mA cm-2 | 25 °C | "
           "300 cycles (71.9%) | Pouch cell | 450 MPa | 2 MPa | [1]",
           "Table ref. [1] (Oh et al., W/Mg bilayer; §4 cites [19])"),
    cathode="LiNi0.8Co0.1Mn0.1O2", electrolyte="Li6PS5Cl", anode_side="W/Mg bilayer",
    cell_type="pouch", cap=3.7, j=1.11, t=25.0, p=2.0, cycles=300, retention=0.719,
    electrolyte_kind="sulfide_pouch", eta_nuc=0.02,
))  # fmt: skip
_add(_preset(
    "jeon_t2_zno_cu_lfp",
    "Prelithiated ZnO@Cu | PEO composite | LFP, 0.5 mAh/cm², 25 °C",
    Source(JEON, _T2.format(6),
           "Prelithiated ZnO@Cu | PEO-based composite | LiFePO4 | 0.5 mAh cm-2 | 0.05 mA cm-2 | "
           "25 °C | 45 cycles (≈63%) | N/A | N/A | N/A | [2]",
           "Table ref. [2] (Zn-Li alloy seeds on Cu; §4 cites Liu et al. [22])",
           "Cell type and pressures are N/A in the table: a 0.5 MPa spring fixture is assumed."),
    curve="lfp", cathode="LiFePO4", electrolyte="PEO-based composite",
    anode_side="prelithiated ZnO@Cu", cell_type="coin (assumed)", cap=0.5, j=0.05, t=25.0,
    p=0.5, cycles=45, retention=0.63, assumed=("pressure_mpa", "cell_type"),
    electrolyte_kind="peo", eta_nuc=0.03,
))  # fmt: skip
_add(_preset(
    "jeon_t2_porous_zn_ncm523",
    "Porous Zn | LLZTO | NCM523, 0.75 mAh/cm², 30 MPa coin",
    Source(JEON, _T2.format(8),
           "Porous Zn | Li6.4La3Zr1.4Ta0.6O12 | LiNi0.5Co0.2Mn0.3O2 | 0.75 mAh cm-2 | "
           "0.075 mA cm-2 | 25 °C | 170 cycles (93%) | Coin cell | 50 M pa | 30 M Pa | [23]",
           "Table ref. [23] (3D porous Zn on garnet; §4 cites Wan et al. [24])"),
    cathode="LiNi0.5Co0.2Mn0.3O2", electrolyte="Li6.4La3Zr1.4Ta0.6O12 (LLZTO)",
    anode_side="porous Zn", cell_type="coin", cap=0.75, j=0.075, t=25.0, p=30.0, cycles=170,
    retention=0.93, electrolyte_kind="garnet", eta_nuc=0.03,
))  # fmt: skip

# -- Tang et al. (review): full cells named with both electrodes -----------------
_add(_preset(
    "tang_neudecker_lco_lipon_cu",
    "LiCoO2 | LiPON | Cu thin film (Li-free thin-film battery)",
    Source(TANG, "'The Configuration and Mechanisms of AFSSAMBs', ¶1 and Figure 2",
           "The first anode-free solid-state lithium battery, developed by B. J. Neudecker in "
           "2000, used a solid lithium electrolyte (Lipon) and achieved a cycle life exceeding "
           "1000 cycles ... gave birth to the lithium cobaltate|LiPON|Cu battery.",
           "Tang ref. [30] (Neudecker, Dudney, Bates, J. Electrochem. Soc. 2000, 147, 517)"),
    curve="lco", cathode="LiCoO2 (thin film)", electrolyte="LiPON", anode_side="Cu (bare)",
    cell_type="thin film", cap=0.1, j=0.1, t=25.0, p=0.1, cycles=1000, retention=None,
    target=0.80,
    basis="assumed: 'cycle life exceeding 1000 cycles' read as 80 % (end of life) at 1000",
    assumed=("areal_capacity_mah_cm2", "current_ma_cm2", "temperature_c", "pressure_mpa",
             "target_retention"),
    electrolyte_kind="lipon", eta_nuc=0.05, stiffness_mpa_per_um=0.0,
))  # fmt: skip
_add(_preset(
    "tang_deysher_nacro2_borohydride_al",
    "NaCrO2 | Na closo-borohydride | porous Al (anode-free Na)",
    Source(TANG, "'Construction of Current Collectors' and Figure 2",
           "Grayson Deysher et al. have used a porous aluminum current collector to establish "
           "intimate solid-solid interfaces with the sodium borohydride solid electrolyte ... "
           "full cell has demonstrated remarkable stability, maintaining stable cycling "
           "performance for several hundred cycles.",
           "Tang ref. [22] (Deysher et al., Nat. Energy 2024, 9, 1161)",
           "Cathode NaCrO2 from the review's mechanism section ('NaCrO2 in sodium cell')."),
    metal=SODIUM, curve="nacro2", cathode="NaCrO2",
    electrolyte="Na closo-borohydride (NaBH4-derived, Na4(B12H12)(B10H10)-type)",
    anode_side="porous Al (pelletised)", cell_type="pellet", cap=3.0, j=1.0, t=25.0, p=5.0,
    cycles=300, retention=None, target=0.80,
    basis="assumed: 'stable cycling for several hundred cycles' read as 80 % at 300",
    assumed=("areal_capacity_mah_cm2", "current_ma_cm2", "temperature_c", "pressure_mpa",
             "cycles", "target_retention"),
    electrolyte_kind="borohydride", eta_nuc=0.04,
))  # fmt: skip
_add(_preset(
    "tang_lu_na_ssze_hv",
    "4.25 V-class Na cathode | Na-SSZE liquid-in-solid | collector (anode-free Na pouch)",
    Source(TANG, "'Design of the Solid-State Electrolyte' and Figure 5b",
           "Ziyang Lu et al. have designed an innovative 'liquid-in-solid' electrolyte by "
           "utilizing Na-containing zeolite molecular sieves ... achieved remarkable cycling "
           "stability and high capacity retention in a 4.25 V-class anode-free Na battery.",
           "Tang ref. [27] (Lu et al., Adv. Mater. 2024, 36, 2404569)",
           "The review names neither cathode nor collector: a generic 4.25 V Na cathode "
           "curve; quasi-solid electrolyte (liquid confined in zeolite)."),
    metal=SODIUM, curve="na_hv", cathode="4.25 V-class Na cathode (not named)",
    electrolyte="Na-SSZE (zeolite-confined ether)", anode_side="bare collector (not named)",
    cell_type="pouch", cap=1.0, j=0.5, t=25.0, p=1.0, cycles=100, retention=None,
    target=0.90, basis="assumed: 'high capacity retention' read as 90 % after 100 cycles",
    assumed=("cathode", "anode_side", "areal_capacity_mah_cm2", "current_ma_cm2",
             "temperature_c", "pressure_mpa", "cycles", "target_retention"),
    electrolyte_kind="ssze", eta_nuc=0.05,
))  # fmt: skip

# Named in the seeds but not presets, and why.
NOT_PRESETS = {
    "Jeon Table 2: Au-coated membrane | Li3PS4 | Li metal (counter)": "half cell (Li counter)",
    "Jeon Table 2: Sputtered ZnO | LLCZT | Li metal (counter)": "half cell (Li counter)",
    "Tang: Ag-C nanocomposite (Lee et al., ref. 33)": "= jeon_t1_agc_premix_ncm90",
    "Tang: Cu|NZSP|Na (Ortmann et al., ref. 21)": "half cell: Na deposition study",
    "Tang: Li|LLZO|Cu film (Fuchs et al., ref. 59)": "half cell: first-plating study",
    "Tang: carbon-felt elastic layer (Zhu/Cao et al., ref. 34)": (
        "no cathode named; only first-cycle CE (58.4 -> 83.7 %)"
    ),
    "Tang: carbon-reinforced composite collector (Huang et al., ref. 54)": "no cathode, no figures",
    "Tang: Li2CO3-proof LLZO (Kim et al., ref. 51)": "Li-metal seed layer, not anode-free",
    "Tang Figure 2 timeline (refs. 26, 28, 29, 31)": "named only, no cell described",
}


def get(key: str) -> Preset:
    try:
        return PRESETS[key]
    except KeyError:
        raise KeyError(f"unknown preset {key!r}; known: {', '.join(PRESETS)}") from None


def fast_presets(max_cycles: int = 200) -> list[Preset]:
    return [p for p in PRESETS.values() if p.cycles <= max_cycles]
