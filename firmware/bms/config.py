"""Config store: a validated, versioned, CRC-protected, atomically written key table.

Every ``wire.CFG_*`` key has a row in ``TABLE``: (key, attribute name, default,
min, max, flags), integers in the key's unit (protocol/enums.py ConfigKey).
Changes are validated before they are applied: unknown key, read-only, range
(``CFGST_OUT_OF_RANGE``), then the cross-key rules of ``RULES``
(``CFGST_INCONSISTENT``); only a valid whole is persisted, and only a persisted
whole is applied (``CFGST_STORE_FAILED`` otherwise, RAM unchanged).

The table, the rules and the ``check_value`` / ``violated_rule`` functions are
plain data and functions so a host tool can import this module under CPython
and mirror the firmware's validation exactly.

File ``<folder>/config.bin``: a ``storage`` container (magic, format version,
length, payload, CRC-16) written with ``storage.write_atomic``. Payload, format
1 (the current one)::

    b"CF", count u16, then count x (key u16, value i32), little-endian

Format 0 is the legacy positional layout (the value of key k as i32 at offset
4*(k-1), no key ids); ``MIGRATIONS`` turns a format-n payload into format n+1,
so older files load with their missing keys at defaults. Unknown keys in a
file are ignored. A missing, corrupt, undecodable or invalid file loads the
defaults and leaves ``loaded_ok`` False (the firmware raises Fault
CONFIG_INVALID); ``load_status`` says why.

``export_bytes()`` is the same container as the file, so it survives firmware
upgrades the same way; ``import_bytes()`` applies it as one ``set_many``.

Each key's value is also an attribute named in the table (``store.v_max_uv``),
plus the derived limits recomputed on every accepted change (``_derive``); the
release levels use the hysteresis defined once in ``bms.protection``:

=========================  ====================================================
``v_max_release_uv``       over-voltage clears below V_MAX - 50 mV
``v_min_release_uv``       under-voltage clears above V_MIN + 50 mV
``i_charge_release_ua``    charge over-current clears below 95 % of its limit
``i_discharge_release_ua`` discharge over-current clears below 95 % of its limit
``t_max_release_mc``       over-temperature clears below T_MAX - 2 °C
``t_min_release_mc``       under-temperature clears above T_MIN + 2 °C
``p_min_release_pa``       contact loss clears above P_MIN + 5 %
``p_max_release_pa``       over-pressure clears below P_MAX - 5 %
``trip_delay_ms``          worst-case trip delay: DEBOUNCE x SAMPLE_PERIOD
``telemetry_every``        telemetry every n samples (rounded, >= 1; 0 = off)
``eol_inventory_uah``      inventory at end of life: CAPACITY x EOL ppm
``overrun_uah``            charge-overrun threshold: 110 % of CAPACITY
``areal_capacity_uah_cm2`` CAPACITY per cm² of ACTIVE_AREA
``charge_density_ua_cm2``  I_CHARGE_MAX per cm² of ACTIVE_AREA
``nm_per_mah_cm2``         dense metal thickness per mAh/cm² (Li 4850, Na 8800)
``full_plated_nm``         dense thickness of the whole initial inventory
``melt_mc``                melting point of the plated metal
=========================  ====================================================
"""

from struct import pack_into, unpack_from

from bms import protection, storage, wire

try:
    from micropython import const
except ImportError:  # CPython, for host-side tests

    def const(__x):
        return __x


FORMAT_VERSION = const(1)  # payload format written by this firmware
FILE_NAME = "config.bin"
F_READ_ONLY = const(1)  # flags: the host may read but not set the key

# Load outcomes (load_status).
LOAD_OK = const(0)
LOAD_MISSING = const(1)  # no file: first boot or erased flash
LOAD_CORRUPT = const(2)  # CRC, length or magic failed (and no valid .new)
LOAD_FORMAT = const(3)  # a format this firmware cannot read (newer, or malformed payload)
LOAD_INVALID = const(4)  # decoded, but a value is out of range or the whole inconsistent

# The release levels use protection's hysteresis: one definition of the bands.

# fmt: off
# (key, attribute, default, min, max, flags). Defaults: an anode-free Li | NMC lab
# cell, 1 mAh/cm² on 1 cm², in a pressure fixture (2-30 MPa, 25-80 °C, 0.5-3.5 mA/cm²).
TABLE = (
    # Metal id; range = any u8 id, which ids are known is rule R_MEMBER (so a newer
    # metal is "inconsistent" with this firmware, not a nonsense number).
    (wire.CFG_METAL, "metal", wire.METAL_LITHIUM, 0, 255, 0),
    # µAh. 10 µAh: below, the coulomb counter's resolution dominates; 20 Ah: larger
    # than any cell that fits a pressure fixture.
    (wire.CFG_CAPACITY_UAH, "capacity_uah", 1_000, 10, 20_000_000, 0),
    # 0.001 mm². 1 mm² (microcells) .. 100 cm² (large pouch); 100_000 = 1 cm².
    (wire.CFG_ACTIVE_AREA_UM2K, "active_area_um2k", 100_000, 1_000, 10_000_000, 0),
    # µV. 1.5 V (Na hard-carbon-free cells top out well above) .. 5.0 V: no Li or Na
    # cathode runs beyond 5 V without oxidising every known electrolyte.
    (wire.CFG_V_MAX_UV, "v_max_uv", 4_250_000, 1_500_000, 5_000_000, 0),
    # µV. 1.0 V (sodium cells discharge to 1.5-2.0 V; lower dissolves the Cu/Al
    # collector) .. 4.5 V (must sit below a V_MAX).
    (wire.CFG_V_MIN_UV, "v_min_uv", 3_000_000, 1_000_000, 4_500_000, 0),
    # µA, magnitude. 10 µA .. 10 A: the INA228/INA226 front ends' useful span.
    # 5 mA = 5 mA/cm² on 1 cm², above the 3.5 mA/cm² cycling ceiling.
    (wire.CFG_I_CHARGE_MAX_UA, "i_charge_max_ua", 5_000, 10, 10_000_000, 0),
    (wire.CFG_I_DISCHARGE_MAX_UA, "i_discharge_max_ua", 5_000, 10, 10_000_000, 0),
    # m°C. 0 .. 150 °C: a heated fixture; lithium melts at 180.5 °C (rule R_MELT
    # tightens it to 87.8 °C for sodium). 85 °C: above the 80 °C cycling ceiling.
    (wire.CFG_T_MAX_MC, "t_max_mc", 85_000, 0, 150_000, 0),
    # m°C. -40 °C (chamber floor) .. 100 °C (must sit below a T_MAX). Default 0 °C:
    # no plating into a cold solid electrolyte.
    (wire.CFG_T_MIN_MC, "t_min_mc", 0, -40_000, 100_000, 0),
    # Pa. 0 (= no contact-loss check, cell without fixture) .. 100 MPa. 1 MPa:
    # below it a solid-solid interface loses contact.
    (wire.CFG_P_MIN_PA, "p_min_pa", 1_000_000, 0, 100_000_000, 0),
    # Pa. 1 MPa .. 200 MPa: pellets are pressed at a few hundred MPa, cycled far
    # below; 40 MPa leaves room above the 30 MPa cycling ceiling.
    (wire.CFG_P_MAX_PA, "p_max_pa", 40_000_000, 1_000_000, 200_000_000, 0),
    # ms. 10 ms: three I²C sensors plus a protection step at 400 kHz; 60 s: slower
    # and over-current protection means nothing.
    (wire.CFG_SAMPLE_PERIOD_MS, "sample_period_ms", 1_000, 10, 60_000, 0),
    # ms, 0 = off. Up to 1 h; nonzero below SAMPLE_PERIOD is rule R_PERIOD.
    (wire.CFG_TELEMETRY_PERIOD_MS, "telemetry_period_ms", 1_000, 0, 3_600_000, 0),
    # ppm. 10 % (long dead) .. 99 % (anode-free cells lose 10-20 % in the first
    # cycle, so a higher EOL is reached at once). 80 % is the usual definition.
    (wire.CFG_EOL_RETENTION_PPM, "eol_retention_ppm", 800_000, 100_000, 990_000, 0),
    # samples. 1 (trip on the first) .. 100; with the period bounded by R_DELAY.
    (wire.CFG_DEBOUNCE_SAMPLES, "debounce_samples", 3, 1, 100, 0),
    # -- lithium-inventory estimator --
    # µV. The depletion knee takes an anode-free cell from the cathode's plateau to the
    # cutoff within ~0.5 % of its charge; an interrupted discharge rests on the plateau,
    # >= 0.5 V above V_MIN for every cathode in the seeds. 10 mV .. 2 V.
    (wire.CFG_KNEE_MARGIN_UV, "knee_margin_uv", 400_000, 10_000, 2_000_000, 0),
    # µV. A CC-CV charge holds V_MAX minus the protection margin (~50 mV); a charge that
    # stopped 100 mV lower is not at the top. 0 .. 1 V.
    (wire.CFG_TOP_MARGIN_UV, "top_margin_uv", 100_000, 0, 1_000_000, 0),
    # Pa per µm of anode thickness, 0 = learn it from the first charge. Springs and
    # presses: 1 kPa/µm (soft spring) .. 100 MPa/µm (rigid frame).
    (wire.CFG_STIFFNESS_PA_PER_UM, "stiffness_pa_per_um", 0, 0, 100_000_000, 0),
    # ppm of dense metal. Fresh deposit: 1033 mAh/cm³ of 2062 (DESIGN) = 50 %.
    (wire.CFG_LIVE_DENSITY_PPM, "live_density_ppm", 500_000, 10_000, 1_000_000, 0),
    # ppm of dense metal. Dead metal after 100 cycles: 143-343 mAh/cm³ (DESIGN), mid 243.
    (wire.CFG_DEAD_DENSITY_PPM, "dead_density_ppm", 118_000, 10_000, 1_000_000, 0),
    # nm per mAh/cm² of metal bound in SEI: ~2 µm (a Li2O/LiF/Li2S-like layer at about half
    # the metal's molar volume density). 0 (ignore SEI thickness) .. 100 µm.
    (wire.CFG_SEI_NM_PER_MAH_CM2, "sei_nm_per_mah_cm2", 2_000, 0, 100_000, 0),
    # cycles. The end-of-life line is fitted over half the cycles so far, at most this
    # many: 4 (follows sudden death at once, noisy) .. 64 (the buffer allocated once).
    (wire.CFG_EOL_FIT_CYCLES, "eol_fit_cycles", 64, 4, 64, 0),
    # -- dendrite-short detector --
    # µV. Dendrite contacts pull a CC charge down by 20-80 mV (seeds); the nucleation dip
    # and noise stay below 15 mV. 1 mV .. 1 V (R_ORDER keeps it below HARD_DROP).
    (wire.CFG_DROP_UV, "drop_uv", 15_000, 1_000, 1_000_000, 0),
    # drops. Three abrupt, recovering drops within two cycles: a filament, not chance.
    (wire.CFG_DROP_CONFIRM_COUNT, "drop_confirm_count", 3, 1, 50, 0),
    # %. Short-term charge noise above 3x its own long-term level. 110 % .. 100x.
    (wire.CFG_NOISE_RATIO_PCT, "noise_ratio_pct", 300, 110, 10_000, 0),
    # µV of mean |second difference|: a 20-bit monitor's noise is ~0.2 mV. 0 .. 1 V.
    (wire.CFG_NOISE_FLOOR_UV, "noise_floor_uv", 2_000, 0, 1_000_000, 0),
    # samples the noise must stay high: longer than one drop's echo (~6 samples).
    (wire.CFG_NOISE_SAMPLES, "noise_samples", 8, 1, 1_000, 0),
    # ppm of capacity charged beyond last cycle's top of charge (plus the usual loss)
    # without reaching it: 3 %, above cycle-to-cycle variation. 0.1 % .. 100 %.
    (wire.CFG_OVERRUN_PPM, "overrun_ppm", 30_000, 1_000, 1_000_000, 0),
    # ppm. CE 2 % below its rolling baseline: sudden death moves it < 1 % per cycle.
    (wire.CFG_CE_DROP_PPM, "ce_drop_ppm", 20_000, 100, 1_000_000, 0),
    # ppm of capacity per hour: a 1 %/h leak at rest (C/100). 100 ppm/h .. 100 %/h.
    (wire.CFG_LEAK_PPM_PER_H, "leak_ppm_per_h", 10_000, 100, 1_000_000, 0),
    # ms. Polarisation relaxes with ~20 s time constants: 2 min is 6 of them. 0 .. 1 h.
    (wire.CFG_REST_SETTLE_MS, "rest_settle_ms", 120_000, 0, 3_600_000, 0),
    # Pa. 0.2 MPa within a few samples, next to a voltage event. 1 kPa .. 100 MPa.
    (wire.CFG_PRESSURE_STEP_PA, "pressure_step_pa", 200_000, 1_000, 100_000_000, 0),
    # µV lost within one sample with the current steady: a hard short. 50 mV .. 5 V.
    (wire.CFG_HARD_DROP_UV, "hard_drop_uv", 500_000, 50_000, 5_000_000, 0),
    # ppm of capacity. The nucleation dip relaxes within ~1 % of a charge; 3 % is 12
    # e-folds of it. 0 .. 50 %.
    (wire.CFG_NUC_GUARD_PPM, "nuc_guard_ppm", 30_000, 0, 500_000, 0),
)
# fmt: on

KEYS = tuple(row[0] for row in TABLE)
ROWS = {row[0]: row for row in TABLE}
NKEY = max(KEYS) + 1  # value lists are indexed by key

# Metals: (id, melting point m°C, dense thickness nm per mAh/cm²).
METALS = (
    (wire.METAL_LITHIUM, 180_500, 4_850),
    (wire.METAL_SODIUM, 97_800, 8_800),
)

# Rule kinds (a, b: keys; arg: the rule's constant).
R_MEMBER = const(1)  # v[a] is one of METALS
R_ORDER = const(2)  # v[a] + arg <= v[b]
R_PERIOD = const(3)  # v[b] == 0 or v[a] <= v[b]
R_MELT = const(4)  # v[b] <= melting point of metal v[a] - arg
R_DENSITY = const(5)  # v[a] (µA) per cm² of v[b] (0.001 mm²) <= arg mA/cm²
R_DELAY = const(6)  # v[a] * v[b] <= arg

# (kind, a, b, arg, why). The key blamed in set_many is whichever of a, b changed.
RULES = (
    (R_MEMBER, wire.CFG_METAL, wire.CFG_METAL, 0, "metal must be a known Metal"),
    # 200 mV: at least 2 x protection.V_HYST_UV so the release bands cannot cross, and no
    # cycling window is narrower.
    (R_ORDER, wire.CFG_V_MIN_UV, wire.CFG_V_MAX_UV, 200_000, "V_MIN + 200 mV <= V_MAX"),
    (R_ORDER, wire.CFG_T_MIN_MC, wire.CFG_T_MAX_MC, 10_000, "T_MIN + 10 °C <= T_MAX"),
    (R_ORDER, wire.CFG_P_MIN_PA, wire.CFG_P_MAX_PA, 1_000_000, "P_MIN + 1 MPa <= P_MAX"),
    # A molten anode is no anode: 10 °C below the melting point (Na: 87.8 °C).
    (R_MELT, wire.CFG_METAL, wire.CFG_T_MAX_MC, 10_000, "T_MAX <= metal melting point - 10 °C"),
    (
        R_PERIOD,
        wire.CFG_SAMPLE_PERIOD_MS,
        wire.CFG_TELEMETRY_PERIOD_MS,
        0,
        "TELEMETRY_PERIOD is 0 or >= SAMPLE_PERIOD",
    ),
    # 20 mA/cm²: far above any solid electrolyte's critical current density; a
    # higher limit is a unit mistake (µA vs mA, or the area).
    (
        R_DENSITY,
        wire.CFG_I_CHARGE_MAX_UA,
        wire.CFG_ACTIVE_AREA_UM2K,
        20,
        "I_CHARGE_MAX <= 20 mA/cm² of ACTIVE_AREA",
    ),
    # A soft-short dip must stay distinguishable from a hard-short collapse.
    (R_ORDER, wire.CFG_DROP_UV, wire.CFG_HARD_DROP_UV, 10_000, "DROP + 10 mV <= HARD_DROP"),
    # A limit exceeded for a minute before tripping protects nothing.
    (
        R_DELAY,
        wire.CFG_DEBOUNCE_SAMPLES,
        wire.CFG_SAMPLE_PERIOD_MS,
        60_000,
        "DEBOUNCE x SAMPLE_PERIOD <= 60 s",
    ),
)

_PAIR_FMT = "<Hi"
_PAIR_SIZE = const(6)
_HEAD_FMT = "<HH"  # tag, count
_HEAD_SIZE = const(4)
_TAG = const(0x4643)  # b"CF" little-endian


def metal_props(metal):
    """(id, melting point m°C, nm per mAh/cm²) of a known metal, or None."""
    for m in METALS:
        if m[0] == metal:
            return m
    return None


def check_value(key, value, rows=ROWS):
    """Status of one key/value on its own: unknown key, read-only, range (no rules)."""
    row = rows.get(key)
    if row is None:
        return wire.CFGST_UNKNOWN_KEY
    if row[5] & F_READ_ONLY:
        return wire.CFGST_READ_ONLY
    if not isinstance(value, int) or isinstance(value, bool):
        return wire.CFGST_OUT_OF_RANGE
    if value < row[3] or value > row[4]:
        return wire.CFGST_OUT_OF_RANGE
    return wire.CFGST_OK


def rule_holds(rule, v):
    """True when ``rule`` holds for the values ``v`` (a list indexed by key)."""
    kind, a, b, arg = rule[0], rule[1], rule[2], rule[3]
    if kind == R_MEMBER:
        return metal_props(v[a]) is not None
    if kind == R_ORDER:
        return v[a] + arg <= v[b]
    if kind == R_PERIOD:
        return v[b] == 0 or v[a] <= v[b]
    if kind == R_MELT:
        m = metal_props(v[a])
        return m is None or v[b] <= m[1] - arg  # an unknown metal fails R_MEMBER
    if kind == R_DENSITY:
        # mA/cm² = (µA / 1000) / (area / 100_000) = µA * 100 / area
        return v[a] * 100 <= arg * v[b]
    if kind == R_DELAY:
        return v[a] * v[b] <= arg
    return False


def violated_rule(v, changed=None):
    """The first rule ``v`` breaks, as (rule, blamed key), or None when all hold.

    The blamed key is the rule's a, unless only its b is among ``changed`` (keys).
    """
    for rule in RULES:
        if not rule_holds(rule, v):
            key = rule[1]
            if changed is not None and rule[1] not in changed and rule[2] in changed:
                key = rule[2]
            return rule, key
    return None


def in_range(v, rows=ROWS):
    """The first key of ``v`` outside its range, or 0 when all are inside."""
    for key in rows:
        row = rows[key]
        if v[key] < row[3] or v[key] > row[4]:
            return key
    return 0


def defaults():
    """The default values as a list indexed by key."""
    v = [0] * NKEY
    for row in TABLE:
        v[row[0]] = row[2]
    return v


def encode(v):
    """Format-1 payload of every key of the table."""
    buf = bytearray(_HEAD_SIZE + _PAIR_SIZE * len(TABLE))
    pack_into(_HEAD_FMT, buf, 0, _TAG, len(TABLE))
    off = _HEAD_SIZE
    for key in KEYS:
        pack_into(_PAIR_FMT, buf, off, key, v[key])
        off += _PAIR_SIZE
    return buf


def decode(payload):
    """(key, value) pairs of a format-1 payload, or None when malformed."""
    if len(payload) < _HEAD_SIZE:
        return None
    tag, n = unpack_from(_HEAD_FMT, payload, 0)
    if tag != _TAG or len(payload) != _HEAD_SIZE + _PAIR_SIZE * n:
        return None
    pairs = []
    off = _HEAD_SIZE
    for _ in range(n):
        pairs.append(unpack_from(_PAIR_FMT, payload, off))
        off += _PAIR_SIZE
    return pairs


def _migrate_v0(payload):
    """Format 0 (positional i32 values, key k at 4*(k-1)) to format 1."""
    if len(payload) % 4:
        return None
    n = len(payload) // 4
    buf = bytearray(_HEAD_SIZE + _PAIR_SIZE * n)
    pack_into(_HEAD_FMT, buf, 0, _TAG, n)
    for i in range(n):
        pack_into(
            _PAIR_FMT, buf, _HEAD_SIZE + _PAIR_SIZE * i, i + 1, unpack_from("<i", payload, 4 * i)[0]
        )
    return buf


# MIGRATIONS[n] turns a format-n payload into a format-(n+1) one (None: malformed).
MIGRATIONS = {0: _migrate_v0}


def upgrade(version, payload):
    """(key, value) pairs of a payload of any readable format, or None."""
    while version < FORMAT_VERSION:
        step = MIGRATIONS.get(version)
        if step is None:
            return None
        payload = step(payload)
        if payload is None:
            return None
        version += 1
    if version != FORMAT_VERSION:
        return None  # written by a newer firmware
    return decode(payload)


class ConfigStore:
    """The board's configuration, persisted in ``<folder>/config.bin`` through ``fs``.

    ``loaded_ok`` is False when the file was missing, corrupt or invalid at
    load (defaults are in use); ``load_status`` is the LOAD_* reason and
    ``migrated_from`` the older format a file was upgraded from (-1: none).
    """

    def __init__(self, fs, folder, rows=ROWS):
        self.fs = fs
        self.folder = folder
        self.path = folder + "/" + FILE_NAME
        self.rows = rows
        self.keys = tuple(sorted(rows))  # every key id, for CONFIG_GET of all keys
        self.loaded_ok = False
        self.load_status = LOAD_MISSING
        self.migrated_from = -1
        self.persisted = False  # the file holds exactly the values in RAM
        self._v = defaults()
        self.load()

    # -- loading -----------------------------------------------------------

    def load(self):
        """(Re)load the file; defaults on any failure. Returns ``loaded_ok``."""
        self.migrated_from = -1
        self.persisted = False
        status = LOAD_OK
        v = defaults()
        try:
            got = storage.read_versioned(self.fs, self.path)
        except storage.CorruptFile:
            got = None
            status = LOAD_CORRUPT
        except OSError:
            got = None
            status = LOAD_CORRUPT
        if got is None and status == LOAD_OK:
            status = LOAD_MISSING
        if got is not None:
            pairs = upgrade(got[0], got[1])
            if pairs is None:
                status = LOAD_FORMAT
            else:
                for key, value in pairs:
                    if key in self.rows:  # unknown keys: written by a newer firmware
                        v[key] = value
                if in_range(v, self.rows) or violated_rule(v) is not None:
                    status = LOAD_INVALID
                    v = defaults()
                elif got[0] != FORMAT_VERSION:
                    self.migrated_from = got[0]
        self._v = v
        self.load_status = status
        self.loaded_ok = status == LOAD_OK
        self.persisted = self.loaded_ok
        if self.migrated_from >= 0:
            try:  # store it in the current format; the old file stays valid until then
                self._write(v)
            except OSError:
                pass
        self._apply()
        return self.loaded_ok

    # -- reading -----------------------------------------------------------

    def known(self, key):
        return key in self.rows

    def get(self, key):
        """Current value of ``key`` (KeyError when unknown)."""
        if key not in self.rows:
            raise KeyError(key)
        return self._v[key]

    def values(self):
        """A copy of the current values as a list indexed by key."""
        return list(self._v)

    # -- validating and changing --------------------------------------------

    def check(self, key, value):
        """Status ``set(key, value)`` would return, without side effects (save STORE_FAILED)."""
        st = check_value(key, value, self.rows)
        if st != wire.CFGST_OK:
            return st
        v = list(self._v)
        v[key] = value
        if violated_rule(v, (key,)) is not None:
            return wire.CFGST_INCONSISTENT
        return wire.CFGST_OK

    def set(self, key, value):
        """Validate, persist atomically, then apply. Returns a CFGST_* status."""
        st = self.check(key, value)
        if st != wire.CFGST_OK:
            return st
        return self.set_many(((key, value),))[0]

    def set_many(self, pairs):
        """All-or-nothing change of several keys: (status, key at fault or 0)."""
        v = list(self._v)
        changed = []
        for key, value in pairs:
            st = check_value(key, value, self.rows)
            if st != wire.CFGST_OK:
                return st, key
            v[key] = value
            changed.append(key)
        bad = violated_rule(v, changed)
        if bad is not None:
            return wire.CFGST_INCONSISTENT, bad[1]
        return self._commit(v), 0

    def reset(self):
        """Back to the factory defaults, persisted. Returns a CFGST_* status."""
        return self._commit(defaults())

    def _commit(self, v):
        if v == self._v and self.persisted:
            return wire.CFGST_OK
        try:
            self._write(v)
        except OSError:
            return wire.CFGST_STORE_FAILED
        self._v = v
        self.persisted = True
        self._apply()
        return wire.CFGST_OK

    def _write(self, v):
        storage.makedirs(self.fs, self.folder)
        storage.write_atomic(self.fs, self.path, encode(v), FORMAT_VERSION)

    # -- export / import ------------------------------------------------------

    def export_bytes(self):
        """Every key and value, self-described: the same container as ``config.bin``."""
        return bytes(storage.pack(FORMAT_VERSION, encode(self._v)))

    def import_bytes(self, data):
        """Apply an export as one ``set_many``: (status, key).

        Unknown and read-only keys are skipped, missing keys keep their current
        values, the result is validated as a whole. A damaged or unreadable
        blob is (CFGST_INCONSISTENT, 0).
        """
        got = storage.unpack(data)
        pairs = upgrade(got[0], got[1]) if got is not None else None
        if pairs is None:
            return wire.CFGST_INCONSISTENT, 0
        keep = []
        for key, value in pairs:
            row = self.rows.get(key)
            if row is not None and not row[5] & F_READ_ONLY:
                keep.append((key, value))
        return self.set_many(keep)

    # -- derived -----------------------------------------------------------

    def _apply(self):
        v = self._v
        for key in self.rows:
            setattr(self, self.rows[key][1], v[key])
        self._derive(v)

    def _derive(self, v):
        """Recompute the derived limits (see the module docstring)."""
        i_chg, i_dis = v[wire.CFG_I_CHARGE_MAX_UA], v[wire.CFG_I_DISCHARGE_MAX_UA]
        p_min, p_max = v[wire.CFG_P_MIN_PA], v[wire.CFG_P_MAX_PA]
        self.v_max_release_uv = v[wire.CFG_V_MAX_UV] - protection.V_HYST_UV
        self.v_min_release_uv = v[wire.CFG_V_MIN_UV] + protection.V_HYST_UV
        self.i_charge_release_ua = i_chg - protection.current_hysteresis_ua(i_chg)
        self.i_discharge_release_ua = i_dis - protection.current_hysteresis_ua(i_dis)
        self.t_max_release_mc = v[wire.CFG_T_MAX_MC] - protection.T_HYST_MC
        self.t_min_release_mc = v[wire.CFG_T_MIN_MC] + protection.T_HYST_MC
        self.p_min_release_pa = p_min + protection.pressure_hysteresis_pa(p_min)
        self.p_max_release_pa = p_max - protection.pressure_hysteresis_pa(p_max)
        sample = v[wire.CFG_SAMPLE_PERIOD_MS]
        tele = v[wire.CFG_TELEMETRY_PERIOD_MS]
        self.trip_delay_ms = v[wire.CFG_DEBOUNCE_SAMPLES] * sample
        self.telemetry_every = max(1, (tele + sample // 2) // sample) if tele else 0
        cap = v[wire.CFG_CAPACITY_UAH]
        area = v[wire.CFG_ACTIVE_AREA_UM2K]
        self.eol_inventory_uah = cap * v[wire.CFG_EOL_RETENTION_PPM] // 1_000_000
        self.overrun_uah = cap + cap // 10
        self.areal_capacity_uah_cm2 = cap * 100_000 // area
        self.charge_density_ua_cm2 = v[wire.CFG_I_CHARGE_MAX_UA] * 100_000 // area
        m = metal_props(v[wire.CFG_METAL]) or METALS[0]
        self.melt_mc = m[1]
        self.nm_per_mah_cm2 = m[2]
        self.full_plated_nm = self.areal_capacity_uah_cm2 * m[2] // 1000
