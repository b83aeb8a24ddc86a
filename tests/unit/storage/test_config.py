"""bms.config: table, validation, persistence, migration, export/import.

Each test starts from a known-good store (defaults, persisted) and changes one thing.
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from afbms.protocol.enums import ConfigKey, ConfigStatus, Metal
from bms import config, storage, wire

OK = wire.CFGST_OK


@pytest.fixture
def folder(tmp_path: Path) -> str:
    return str(tmp_path / "data")


@pytest.fixture
def store(folder: str) -> config.ConfigStore:
    s = config.ConfigStore(storage.OsFs(), folder)
    assert s.reset() == OK
    return s


def reload(folder: str) -> config.ConfigStore:
    return config.ConfigStore(storage.OsFs(), folder)


def write_file(folder: str, version: int, payload: bytes) -> None:
    storage.makedirs(storage.OsFs(), folder)
    storage.write_atomic(storage.OsFs(), folder + "/config.bin", payload, version)


def v1_payload(pairs: list[tuple[int, int]]) -> bytes:
    head = struct.pack("<HH", 0x4643, len(pairs))
    return head + b"".join(struct.pack("<Hi", k, v) for k, v in pairs)


# -- the table ----------------------------------------------------------------


def test_table_covers_every_config_key_once():
    assert sorted(config.KEYS) == sorted(int(k) for k in ConfigKey)
    assert len(set(config.KEYS)) == len(config.KEYS)
    names = [row[1] for row in config.TABLE]
    assert len(set(names)) == len(names)


@pytest.mark.parametrize("row", config.TABLE, ids=[r[1] for r in config.TABLE])
def test_row_is_sane(row):
    key, name, default, lo, hi, _flags = row
    assert lo <= default <= hi
    assert -(2**31) <= lo < hi < 2**31  # i32 on the wire
    assert hi < 2**30 and lo > -(2**30)  # small ints on the board
    assert name.endswith(ConfigKey(key).name.lower().rsplit("_", 1)[-1]) or name == "metal"


def test_defaults_are_consistent_and_realistic():
    v = config.defaults()
    assert config.in_range(v) == 0
    assert config.violated_rule(v) is None
    assert v[wire.CFG_METAL] == Metal.LITHIUM
    assert v[wire.CFG_V_MAX_UV] == 4_250_000 and v[wire.CFG_V_MIN_UV] == 3_000_000
    assert v[wire.CFG_CAPACITY_UAH] == 1000 and v[wire.CFG_ACTIVE_AREA_UM2K] == 100_000
    assert v[wire.CFG_P_MIN_PA] == 1_000_000 and v[wire.CFG_P_MAX_PA] == 40_000_000
    assert v[wire.CFG_EOL_RETENTION_PPM] == 800_000 and v[wire.CFG_DEBOUNCE_SAMPLES] == 3
    # the cycling conditions fit inside the protection window: 2-30 MPa, 25-80 °C, 3.5 mA/cm²
    assert v[wire.CFG_P_MIN_PA] < 2_000_000 and v[wire.CFG_P_MAX_PA] > 30_000_000
    assert v[wire.CFG_T_MIN_MC] < 25_000 and v[wire.CFG_T_MAX_MC] > 80_000
    assert v[wire.CFG_I_CHARGE_MAX_UA] > 3_500


def test_every_rule_names_known_keys():
    for kind, a, b, _arg, why in config.RULES:
        assert kind in range(1, 7) and a in config.ROWS and b in config.ROWS and why


def test_store_statuses_are_the_protocol_ones():
    assert [wire.CFGST_OK, wire.CFGST_UNKNOWN_KEY, wire.CFGST_OUT_OF_RANGE] == [
        ConfigStatus.OK,
        ConfigStatus.UNKNOWN_KEY,
        ConfigStatus.OUT_OF_RANGE,
    ]


# -- set / check / get ----------------------------------------------------------


def test_fresh_folder_loads_defaults_flagged(folder: str):
    s = reload(folder)
    assert not s.loaded_ok and s.load_status == config.LOAD_MISSING
    assert s.values() == config.defaults()


def test_reset_store_reloads_ok(store, folder):
    s = reload(folder)
    assert s.loaded_ok and s.load_status == config.LOAD_OK
    assert s.values() == config.defaults()


def test_set_applies_and_persists(store, folder):
    assert store.set(wire.CFG_V_MAX_UV, 4_200_000) == OK
    assert store.get(wire.CFG_V_MAX_UV) == 4_200_000 == store.v_max_uv
    assert reload(folder).get(wire.CFG_V_MAX_UV) == 4_200_000


def test_unknown_key(store):
    assert store.set(99, 1) == wire.CFGST_UNKNOWN_KEY
    assert store.check(0, 1) == wire.CFGST_UNKNOWN_KEY
    assert store.set_many([(wire.CFG_V_MAX_UV, 4_200_000), (77, 0)]) == (
        wire.CFGST_UNKNOWN_KEY,
        77,
    )
    assert store.get(wire.CFG_V_MAX_UV) == 4_250_000
    with pytest.raises(KeyError):
        store.get(99)
    assert not store.known(99) and store.known(wire.CFG_METAL)


@pytest.mark.parametrize("row", config.TABLE, ids=[r[1] for r in config.TABLE])
def test_out_of_range_either_side(store, folder, row):
    key, _, _, lo, hi, _ = row
    before = store.values()
    assert store.set(key, lo - 1) == wire.CFGST_OUT_OF_RANGE
    assert store.set(key, hi + 1) == wire.CFGST_OUT_OF_RANGE
    assert store.check(key, hi + 1) == wire.CFGST_OUT_OF_RANGE
    assert store.values() == before
    assert reload(folder).values() == before


def test_non_int_values_are_out_of_range(store):
    assert store.check(wire.CFG_V_MAX_UV, 4.2e6) == wire.CFGST_OUT_OF_RANGE
    assert store.check(wire.CFG_DEBOUNCE_SAMPLES, True) == wire.CFGST_OUT_OF_RANGE
    assert store.check(wire.CFG_DEBOUNCE_SAMPLES, "3") == wire.CFGST_OUT_OF_RANGE


@pytest.mark.parametrize(
    "key,value",
    [
        (wire.CFG_V_MIN_UV, 4_100_000),  # within 200 mV of V_MAX 4.25 V
        (wire.CFG_V_MAX_UV, 3_100_000),  # within 200 mV of V_MIN 3.0 V
        (wire.CFG_T_MIN_MC, 80_000),  # within 10 °C of T_MAX 85 °C
        (wire.CFG_T_MAX_MC, 5_000),
        (wire.CFG_P_MIN_PA, 39_500_000),  # within 1 MPa of P_MAX
        (wire.CFG_P_MAX_PA, 1_500_000),
        (wire.CFG_TELEMETRY_PERIOD_MS, 500),  # faster than the 1 s sampling
        (wire.CFG_SAMPLE_PERIOD_MS, 2_000),  # slower than 1 s telemetry
        (wire.CFG_METAL, 7),  # no such metal
        (wire.CFG_METAL, wire.METAL_SODIUM),  # T_MAX 85 °C ok, so it is fine (see below)
        (wire.CFG_I_CHARGE_MAX_UA, 25_000),  # 25 mA/cm² on 1 cm²
        (wire.CFG_ACTIVE_AREA_UM2K, 20_000),  # 5 mA on 0.2 cm² = 25 mA/cm²
        (wire.CFG_DEBOUNCE_SAMPLES, 61),  # 61 s at 1 s sampling
    ],
)
def test_inconsistent_single_changes(store, folder, key, value):
    before = store.values()
    if key == wire.CFG_METAL and value == wire.METAL_SODIUM:
        assert store.set(key, value) == OK  # 85 °C < 97.8 - 10 °C
        return
    assert store.check(key, value) == wire.CFGST_INCONSISTENT
    assert store.set(key, value) == wire.CFGST_INCONSISTENT
    assert store.values() == before
    assert reload(folder).values() == before


def test_sodium_melting_point_bounds_t_max(store):
    assert store.set(wire.CFG_METAL, wire.METAL_SODIUM) == OK
    assert store.set(wire.CFG_T_MAX_MC, 90_000) == wire.CFGST_INCONSISTENT
    assert store.set(wire.CFG_T_MAX_MC, 87_800) == OK
    assert store.melt_mc == 97_800 and store.nm_per_mah_cm2 == 8_800
    assert store.set(wire.CFG_METAL, wire.METAL_LITHIUM) == OK
    assert store.set(wire.CFG_T_MAX_MC, 120_000) == OK
    assert store.set(wire.CFG_METAL, wire.METAL_SODIUM) == wire.CFGST_INCONSISTENT


def test_telemetry_off_is_consistent_with_any_sampling(store):
    assert store.set(wire.CFG_TELEMETRY_PERIOD_MS, 0) == OK
    assert store.set(wire.CFG_SAMPLE_PERIOD_MS, 20_000) == OK
    assert store.telemetry_every == 0


def test_set_many_is_all_or_nothing(store, folder):
    before = store.values()
    # a sodium cell: lower window; V_MIN first would be fine alone, V_MAX alone not
    pairs = [
        (wire.CFG_METAL, wire.METAL_SODIUM),
        (wire.CFG_V_MIN_UV, 1_500_000),
        (wire.CFG_V_MAX_UV, 3_700_000),
        (wire.CFG_T_MAX_MC, 200_000),
    ]
    assert store.set_many(pairs) == (wire.CFGST_OUT_OF_RANGE, wire.CFG_T_MAX_MC)
    pairs[-1] = (wire.CFG_T_MAX_MC, 90_000)  # above sodium's limit
    # both keys of the rule changed: its first key (the metal) is blamed
    assert store.set_many(pairs) == (wire.CFGST_INCONSISTENT, wire.CFG_METAL)
    assert store.values() == before
    pairs[-1] = (wire.CFG_T_MAX_MC, 80_000)
    assert store.set_many(pairs) == (OK, 0)
    s = reload(folder)
    assert (s.metal, s.v_min_uv, s.v_max_uv, s.t_max_mc) == (1, 1_500_000, 3_700_000, 80_000)


def test_set_many_needs_both_sides_of_a_rule(store):
    # moving the whole voltage window down past the old V_MIN takes both at once
    assert store.set(wire.CFG_V_MAX_UV, 2_500_000) == wire.CFGST_INCONSISTENT
    got = store.set_many([(wire.CFG_V_MAX_UV, 2_500_000), (wire.CFG_V_MIN_UV, 1_800_000)])
    assert got == (OK, 0)


def test_set_many_blames_the_changed_key(store):
    assert store.set_many([(wire.CFG_P_MAX_PA, 1_500_000)]) == (
        wire.CFGST_INCONSISTENT,
        wire.CFG_P_MAX_PA,
    )
    assert store.set_many([(wire.CFG_P_MIN_PA, 39_500_000)]) == (
        wire.CFGST_INCONSISTENT,
        wire.CFG_P_MIN_PA,
    )


def test_read_only_key(folder):
    rows = dict(config.ROWS)
    k = wire.CFG_CAPACITY_UAH
    rows[k] = (*rows[k][:5], config.F_READ_ONLY)
    s = config.ConfigStore(storage.OsFs(), folder, rows=rows)
    assert s.set(k, 2_000) == wire.CFGST_READ_ONLY
    assert s.check(k, 2_000) == wire.CFGST_READ_ONLY
    assert s.set_many([(k, 2_000)]) == (wire.CFGST_READ_ONLY, k)
    assert config.check_value(k, 2_000, rows) == wire.CFGST_READ_ONLY
    # an import skips read-only keys instead of refusing the whole blob
    other = config.ConfigStore(storage.OsFs(), folder + "2")
    assert other.set(k, 2_000) == OK
    assert other.set(wire.CFG_V_MAX_UV, 4_100_000) == OK
    assert s.import_bytes(other.export_bytes()) == (OK, 0)
    assert s.get(k) == 1_000 and s.get(wire.CFG_V_MAX_UV) == 4_100_000


class _FailingFs(storage.OsFs):
    def __init__(self) -> None:
        self.fail = False

    def open(self, path, mode):
        if self.fail and "w" in mode:
            raise OSError(28, "no space")
        return super().open(path, mode)


def test_store_failure_changes_nothing(folder):
    fs = _FailingFs()
    s = config.ConfigStore(fs, folder)
    assert s.reset() == OK
    fs.fail = True
    assert s.set(wire.CFG_V_MAX_UV, 4_200_000) == wire.CFGST_STORE_FAILED
    assert s.set_many([(wire.CFG_V_MAX_UV, 4_200_000)]) == (wire.CFGST_STORE_FAILED, 0)
    assert s.get(wire.CFG_V_MAX_UV) == 4_250_000 and s.v_max_uv == 4_250_000
    assert reload(folder).get(wire.CFG_V_MAX_UV) == 4_250_000
    fs.fail = False
    assert s.set(wire.CFG_V_MAX_UV, 4_200_000) == OK


def test_unchanged_value_does_not_write(store, folder):
    path = Path(folder) / "config.bin"
    mtime = path.stat().st_mtime_ns
    path.chmod(0o444)
    try:
        assert store.set(wire.CFG_V_MAX_UV, 4_250_000) == OK
    finally:
        path.chmod(0o644)
    assert path.stat().st_mtime_ns == mtime


# -- derived ----------------------------------------------------------------------


def test_derived_limits_follow_every_change(store):
    assert store.v_max_release_uv == 4_200_000 and store.v_min_release_uv == 3_050_000
    assert store.t_max_release_mc == 83_000 and store.t_min_release_mc == 2_000
    assert store.p_min_release_pa == 1_050_000 and store.p_max_release_pa == 38_000_000
    assert store.i_charge_release_ua == 4_750 and store.i_discharge_release_ua == 4_750
    assert store.trip_delay_ms == 3_000 and store.telemetry_every == 1
    assert store.eol_inventory_uah == 800 and store.overrun_uah == 1_100
    assert store.areal_capacity_uah_cm2 == 1_000 and store.charge_density_ua_cm2 == 5_000
    assert store.full_plated_nm == 4_850 and store.melt_mc == 180_500
    assert store.set(wire.CFG_V_MAX_UV, 4_300_000) == OK
    assert store.v_max_release_uv == 4_250_000
    assert store.set(wire.CFG_CAPACITY_UAH, 3_000) == OK
    assert store.eol_inventory_uah == 2_400 and store.full_plated_nm == 14_550
    assert store.set(wire.CFG_ACTIVE_AREA_UM2K, 200_000) == OK  # 2 cm²
    assert store.areal_capacity_uah_cm2 == 1_500 and store.charge_density_ua_cm2 == 2_500
    assert store.set(wire.CFG_TELEMETRY_PERIOD_MS, 5_000) == OK
    assert store.telemetry_every == 5
    assert store.set(wire.CFG_DEBOUNCE_SAMPLES, 10) == OK
    assert store.trip_delay_ms == 10_000


def test_rejected_change_leaves_derived_alone(store):
    assert store.set(wire.CFG_V_MAX_UV, 9_000_000) == wire.CFGST_OUT_OF_RANGE
    assert store.v_max_release_uv == 4_200_000


# -- the file -----------------------------------------------------------------------


def test_corrupt_file_loads_defaults_flagged(store, folder):
    assert store.set(wire.CFG_V_MAX_UV, 4_200_000) == OK
    path = Path(folder) / "config.bin"
    raw = bytearray(path.read_bytes())
    raw[20] ^= 1
    path.write_bytes(raw)
    s = reload(folder)
    assert not s.loaded_ok and s.load_status == config.LOAD_CORRUPT
    assert s.values() == config.defaults()
    assert path.read_bytes() == raw  # kept for inspection until the next change
    assert s.set(wire.CFG_V_MAX_UV, 4_200_000) == OK
    assert reload(folder).loaded_ok


def test_truncated_file_loads_defaults(store, folder):
    path = Path(folder) / "config.bin"
    path.write_bytes(path.read_bytes()[:-1])
    s = reload(folder)
    assert s.load_status == config.LOAD_CORRUPT and s.values() == config.defaults()


def test_out_of_range_value_in_file_is_invalid(folder):
    pairs = [(row[0], row[2]) for row in config.TABLE]
    pairs[3] = (wire.CFG_V_MAX_UV, 6_000_000)
    write_file(folder, 1, v1_payload(pairs))
    s = reload(folder)
    assert s.load_status == config.LOAD_INVALID and not s.loaded_ok
    assert s.values() == config.defaults()


def test_inconsistent_file_is_invalid(folder):
    write_file(folder, 1, v1_payload([(wire.CFG_V_MIN_UV, 4_200_000)]))
    s = reload(folder)
    assert s.load_status == config.LOAD_INVALID and s.values() == config.defaults()


def test_newer_format_is_refused(folder):
    write_file(folder, config.FORMAT_VERSION + 1, v1_payload([]))
    s = reload(folder)
    assert s.load_status == config.LOAD_FORMAT and s.values() == config.defaults()


def test_malformed_payload_is_refused(folder):
    write_file(folder, 1, v1_payload([(1, 0)])[:-1])
    assert reload(folder).load_status == config.LOAD_FORMAT


def test_unknown_keys_in_file_are_ignored_and_missing_keys_default(folder):
    write_file(folder, 1, v1_payload([(500, 1234), (wire.CFG_V_MAX_UV, 4_100_000), (0, -5)]))
    s = reload(folder)
    assert s.loaded_ok
    want = config.defaults()
    want[wire.CFG_V_MAX_UV] = 4_100_000
    assert s.values() == want


def test_older_format_is_migrated_with_defaults_filled_in(folder):
    # Format 0: positional i32 values, key k at 4*(k-1), written by a firmware that
    # knew only keys 1..10 (no SAMPLE_PERIOD, TELEMETRY_PERIOD, EOL, DEBOUNCE, P_MAX).
    old = config.defaults()
    old[wire.CFG_METAL] = wire.METAL_SODIUM
    old[wire.CFG_V_MAX_UV] = 3_800_000
    old[wire.CFG_V_MIN_UV] = 1_800_000
    old[wire.CFG_T_MAX_MC] = 70_000
    old[wire.CFG_P_MIN_PA] = 2_000_000
    payload = b"".join(struct.pack("<i", old[k]) for k in range(1, 11))
    write_file(folder, 0, payload)
    s = reload(folder)
    assert s.loaded_ok and s.migrated_from == 0
    want = config.defaults()
    for k in range(1, 11):
        want[k] = old[k]
    assert s.values() == want
    assert s.p_max_pa == 40_000_000 and s.debounce_samples == 3  # filled in
    # the file was rewritten in the current format
    got = storage.read_versioned(storage.OsFs(), folder + "/config.bin")
    assert got is not None and got[0] == config.FORMAT_VERSION
    again = reload(folder)
    assert again.loaded_ok and again.migrated_from == -1 and again.values() == want


def test_migration_of_malformed_old_payload_fails(folder):
    write_file(folder, 0, b"\x01\x02\x03")
    assert reload(folder).load_status == config.LOAD_FORMAT


def test_migration_chain_is_followed(monkeypatch):
    # the mechanism: MIGRATIONS[n] maps format n to n+1, applied until current
    monkeypatch.setattr(config, "FORMAT_VERSION", 2)
    monkeypatch.setitem(config.MIGRATIONS, 1, lambda p: p)
    pairs = config.upgrade(0, struct.pack("<ii", 1, 2_000))
    assert pairs == [(1, 1), (2, 2_000)]
    assert config.upgrade(2, struct.pack("<HH", 0x4643, 0)) == []


# -- export / import ----------------------------------------------------------------


def test_export_import_round_trip(store, folder, tmp_path):
    assert store.set_many([(wire.CFG_V_MAX_UV, 4_300_000), (wire.CFG_CAPACITY_UAH, 2_500)]) == (
        OK,
        0,
    )
    blob = store.export_bytes()
    assert blob == (Path(folder) / "config.bin").read_bytes()
    other = config.ConfigStore(storage.OsFs(), str(tmp_path / "other"))
    assert other.import_bytes(blob) == (OK, 0)
    assert other.values() == store.values()
    assert reload(str(tmp_path / "other")).values() == store.values()


def test_import_skips_unknown_keeps_missing(store):
    store.set(wire.CFG_DEBOUNCE_SAMPLES, 5)
    blob = storage.pack(1, v1_payload([(wire.CFG_V_MAX_UV, 4_100_000), (999, 7)]))
    assert store.import_bytes(blob) == (OK, 0)
    assert store.v_max_uv == 4_100_000 and store.debounce_samples == 5


def test_import_is_validated_as_a_whole(store):
    before = store.values()
    pairs = [(wire.CFG_V_MIN_UV, 3_500_000), (wire.CFG_V_MAX_UV, 3_600_000)]
    assert store.import_bytes(storage.pack(1, v1_payload(pairs))) == (
        wire.CFGST_INCONSISTENT,
        wire.CFG_V_MIN_UV,
    )
    bad = [(wire.CFG_SAMPLE_PERIOD_MS, 1)]
    assert store.import_bytes(storage.pack(1, v1_payload(bad))) == (
        wire.CFGST_OUT_OF_RANGE,
        wire.CFG_SAMPLE_PERIOD_MS,
    )
    assert store.values() == before


def test_import_of_damaged_blob_is_refused(store):
    blob = bytearray(store.export_bytes())
    blob[15] ^= 0xFF
    assert store.import_bytes(bytes(blob)) == (wire.CFGST_INCONSISTENT, 0)
    assert store.import_bytes(b"") == (wire.CFGST_INCONSISTENT, 0)


def test_import_of_old_format_export(store):
    payload = b"".join(struct.pack("<i", v) for v in (1, 2_000, 100_000, 3_900_000, 2_000_000))
    assert store.import_bytes(storage.pack(0, payload)) == (OK, 0)
    assert (store.metal, store.capacity_uah, store.v_max_uv, store.v_min_uv) == (
        1,
        2_000,
        3_900_000,
        2_000_000,
    )
