"""Exports: columns, units and row counts; BDF in pandas; Parquet round trip; bad paths."""

import ast
import csv
import os
import sys
from datetime import datetime

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from afbms import export as ex
from afbms.logrecords import DEVICE_EPOCH_UNIX_S, LOG_FIELDS, of_kind
from afbms.paths import firmware_dir
from afbms.protocol.enums import LogKind, State
from afbms.store import Store, StoreError
from tests.host import DEVICE, OTHER_DEVICE, synthetic_log

CYCLES = 6
RECORDS = synthetic_log(CYCLES)
SAMPLES = of_kind(RECORDS, LogKind.SAMPLE)
BDF_LABELS = [name for name, _ in ex.BDF_COLUMNS]


@pytest.fixture
def store(tmp_path):
    with Store.open(tmp_path / "afbms.sqlite") as s:
        s.add_records(DEVICE, RECORDS, board="pico")
        yield s


def test_plain_csv_columns_units_and_rows(store, tmp_path):
    result = ex.export(store, "csv", tmp_path / "out.csv")
    assert (result.rows, result.device) == (len(SAMPLES), DEVICE)
    with result.path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert tuple(rows[0]) == ex.CSV_COLUMNS
    body = rows[1:]
    assert len(body) == len(SAMPLES)
    first, col = body[0], {name: i for i, name in enumerate(rows[0])}
    when = datetime.fromisoformat(first[col["time_utc"]].replace("Z", "+00:00"))
    assert when.timestamp() == SAMPLES["t_s"][0] + DEVICE_EPOCH_UNIX_S
    assert first[col["time_utc"]].endswith("Z")
    assert float(first[col["voltage_V"]]) == SAMPLES["v0"][0] / 1e6
    assert float(first[col["current_A"]]) == SAMPLES["v1"][0] / 1e6
    assert float(first[col["pressure_Pa"]]) == SAMPLES["v2"][0]
    assert float(first[col["temperature_degC"]]) == SAMPLES["v3"][0] / 1e3
    assert first[col["temperature_degC"]] == str(SAMPLES["v3"][0] / 1000)  # no 25.310000000000002
    assert [int(r[col["seq"]]) for r in body] == SAMPLES["seq"].tolist()
    assert {r[col["state"]] for r in body} >= {"CHARGE", "DISCHARGE", "IDLE", "FAULT"}
    assert "OVER_TEMPERATURE" in {r[col["faults"]] for r in body}


def test_bdf_loads_in_pandas_with_its_columns_and_units(store, tmp_path):
    path = ex.export(store, "bdf", tmp_path / "cell.bdf.csv").path
    df = pd.read_csv(path)
    assert list(df.columns) == BDF_LABELS
    for required in ("Test Time / s", "Voltage / V", "Current / A"):
        assert required in df.columns
    assert len(df) == len(SAMPLES)
    assert df["Test Time / s"].iloc[0] == 0 and df["Test Time / s"].is_monotonic_increasing
    assert df["Unix Time / s"].iloc[0] == SAMPLES["t_s"][0] + DEVICE_EPOCH_UNIX_S
    np.testing.assert_array_equal(df["Voltage / V"], SAMPLES["v0"] / 1e6)
    np.testing.assert_array_equal(df["Current / A"], SAMPLES["v1"] / 1e6)
    np.testing.assert_array_equal(df["Applied Pressure / Pa"], SAMPLES["v2"].astype(float))
    np.testing.assert_array_equal(df["Temperature T1 / degC"], SAMPLES["v3"] / 1e3)
    np.testing.assert_array_equal(df["Cycle Net Capacity / Ah"], SAMPLES["v4"] / 1e6)
    assert df["Voltage / V"].between(2.5, 4.5).all()  # volts, not µV
    assert df["Applied Pressure / Pa"].between(1e6, 3e6).all()  # pascals, not MPa
    for name, dtype in ex.BDF_COLUMNS:
        if dtype == "int64":
            assert df[name].dtype == np.int64, name
        elif dtype == "float64":
            assert df[name].dtype == np.float64, name
    cycles = df["Cycle Count / 1"]
    assert cycles.iloc[0] == 1 and cycles.is_monotonic_increasing and cycles.max() == CYCLES
    assert df["Step Count / 1"].is_monotonic_increasing
    assert set(df["Step Type"]) == {"CHARGE", "DISCHARGE", "IDLE", "FAULT"}


def test_cycle_count_matches_the_estimate_records(store):
    table = ex.sample_table(RECORDS)
    for est in of_kind(RECORDS, LogKind.ESTIMATE):
        closing = np.flatnonzero(table.seq < est["seq"])[-1]  # the sample that closed the cycle
        assert table.cycle[closing] == est["v4"] + 1
        assert table.cycle[closing - 1] == est["v4"]


def test_cycle_count_keeps_the_device_numbering_when_the_log_start_is_gone():
    # The ring overwrote the first cycles (the BOOT event with them): the log starts
    # during the discharge of cycle 3, in a phase the state rule alone cannot know.
    third = int(np.flatnonzero(RECORDS["kind"] == LogKind.ESTIMATE)[2])
    start = third - 100
    assert RECORDS["code"][start] == State.DISCHARGE and RECORDS["v4"][third] == 3
    table = ex.sample_table(RECORDS[start:])
    full = ex.sample_table(RECORDS)
    tail = np.isin(full.seq, table.seq)
    np.testing.assert_array_equal(table.cycle, full.cycle[tail])
    assert table.cycle[0] == 3


def test_cycle_and_step_numbering_rules():
    c, d, i = int(State.CHARGE), int(State.DISCHARGE), int(State.IDLE)
    states = np.array([d, i, c, c, i, d, d, i, c, d, c, i])
    #                  a discharge before any charge does not start a cycle
    assert ex.cycle_numbers(states).tolist() == [1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 3]
    assert ex.step_numbers(states).tolist() == [1, 2, 3, 3, 4, 5, 5, 6, 7, 8, 9, 10]


def test_parquet_round_trip_with_types(store, tmp_path):
    path = ex.export(store, "parquet", tmp_path / "cell.bdf.parquet").path
    table = pq.read_table(path)
    assert table.column_names == BDF_LABELS
    types = {f.name: str(f.type) for f in table.schema}
    assert types["Voltage / V"] == "double" and types["Cycle Count / 1"] == "int64"
    assert types["Step Type"] == "string"
    assert table.schema.metadata[b"afbms.device"] == DEVICE.encode()
    df = table.to_pandas()
    csv_df = pd.read_csv(ex.export(store, "bdf", tmp_path / "cell.bdf.csv").path)
    pd.testing.assert_frame_equal(df, csv_df, check_dtype=False)
    assert len(df) == len(SAMPLES)


def test_parquet_without_pyarrow_says_how_to_get_it(store, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    with pytest.raises(ex.ExportError, match=r"afbms\[parquet\]"):
        ex.export(store, "parquet", tmp_path / "x.bdf.parquet")
    assert list(tmp_path.glob("*.parquet")) == []


def test_export_into_a_folder_uses_a_bdf_style_name(store, tmp_path):
    result = ex.export(store, "bdf", tmp_path)
    assert result.path.parent == tmp_path
    assert result.path.name == f"afbms__{DEVICE}__20260302.bdf.csv"
    umask = os.umask(0)
    os.umask(umask)
    assert result.path.stat().st_mode & 0o777 == 0o666 & ~umask  # not a private temp file


def test_a_path_ending_in_a_separator_is_a_folder_created_on_demand(store, tmp_path):
    result = ex.export(store, "bdf", f"{tmp_path / 'new' / 'data'}/")
    assert result.path.parent == tmp_path / "new" / "data"
    assert result.path.name.endswith(".bdf.csv")


@pytest.mark.parametrize("fmt", ex.FORMATS)
def test_unwritable_path_is_a_one_line_error_and_leaves_nothing(store, tmp_path, fmt):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    with pytest.raises(ex.ExportError) as info:
        ex.export(store, fmt, blocker / "out.csv")
    assert "\n" not in str(info.value) and "cannot write" in str(info.value)
    with pytest.raises(ex.ExportError, match="cannot write"):
        ex.export(store, fmt, tmp_path / "missing" / "out.csv")
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == ["afbms.sqlite", "afbms.sqlite-shm", "afbms.sqlite-wal", "not-a-folder"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc")
def test_os_refusing_the_write_is_an_export_error(store):
    with pytest.raises(ex.ExportError, match="cannot write /proc/"):
        ex.export(store, "csv", "/proc/afbms-export.csv")


def test_a_failed_write_keeps_the_previous_file(store, tmp_path, monkeypatch):
    target = tmp_path / "cell.bdf.csv"
    target.write_text("previous export\n")

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(ex.csv, "writer", broken)
    with pytest.raises(ex.ExportError, match="No space left on device"):
        ex.export(store, "bdf", target)
    assert target.read_text() == "previous export\n"
    assert [p.name for p in tmp_path.glob(".*tmp")] == []


def test_device_without_samples_and_unknown_device(store, tmp_path):
    store.add_records(OTHER_DEVICE, of_kind(RECORDS, LogKind.EVENT))
    with pytest.raises(ex.ExportError, match="no samples"):
        ex.export(store, "csv", tmp_path / "x.csv", OTHER_DEVICE)
    with pytest.raises(StoreError, match="holds 2 devices"):
        ex.export(store, "csv", tmp_path / "x.csv")
    with pytest.raises(StoreError, match="no device"):
        ex.export(store, "csv", tmp_path / "x.csv", "abcdef")
    with pytest.raises(ex.ExportError, match="unknown format"):
        ex.export(store, "xlsx", tmp_path / "x.xlsx", DEVICE)


def test_log_fields_match_what_the_firmware_logs():
    """Every firmware log.append(t_s, t_ms, kind, code, aux, faults, v0..v4) names its values."""
    tree = ast.parse((firmware_dir() / "bms" / "app.py").read_text(encoding="utf-8"))
    seen = set()
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        if node.func.attr != "append" or len(node.args) != 11:
            continue
        kind = node.args[2]
        if not (isinstance(kind, ast.Attribute) and kind.attr.startswith("LOG_")):
            continue
        names = [a.attr if isinstance(a, ast.Attribute) else getattr(a, "id", None)
                 for a in node.args[6:]]  # fmt: skip
        if None in names:
            continue  # the BOOT event: firmware version constants
        logkind = LogKind[kind.attr.removeprefix("LOG_")]
        assert names == [q.firmware for q in LOG_FIELDS[logkind]], logkind.name
        seen.add(logkind)
    assert seen == {LogKind.SAMPLE, LogKind.EVENT, LogKind.ESTIMATE, LogKind.LOSS}
