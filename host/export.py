"""Exports of a device's samples from the store: plain CSV, Battery Data Format, Parquet.

Every format has one row per SAMPLE record, in seq order.

* ``csv``: plain CSV, SI units named in the header, ISO-8601 UTC times.
* ``bdf``: Battery Data Format CSV (Battery Data Alliance, a Linux Foundation
  Energy project): a header row of the quantities' preferred labels
  ``"<Quantity> / <unit>"`` in the format's fixed units (table schema 1.2.0 of
  the battery-data-format ontology). Columns: :data:`BDF_COLUMNS`.
* ``parquet``: the BDF columns with typed columns (float64, int64, string),
  BDF's recommended name ``*.bdf.parquet``. Needs ``pyarrow``
  (``pip install 'afbms[parquet]'``).

Cycle count (BDF ``Cycle Count / 1``, starting at 1): a cycle begins at each
charge after a discharge, the firmware estimator's rule, applied to the
protection state of each sample, and at each sample an ESTIMATE record says
closed a cycle. When the log holds an ESTIMATE record before any reboot, the
count is aligned with the device's (an ESTIMATE record closing cycle n means
the samples from its closing sample on belong to cycle n + 1), so a log
whose start was overwritten by the ring still numbers cycles as the device
does. Step count (``Step Count / 1``) increases at every change of
protection state; ``Step Type`` is the state's name.

Files are written to a temporary name beside the target and renamed into
place, so a failed export never leaves a half-written file behind.
"""

from __future__ import annotations

import csv
import os
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import numpy as np

from afbms import logrecords as lr
from afbms.protocol.enums import EventKind, LogKind, State
from afbms.store import Store, StoreError

FORMATS = ("csv", "bdf", "parquet")
SUFFIXES = {"csv": ".csv", "bdf": ".bdf.csv", "parquet": ".bdf.parquet"}


class ExportError(Exception):
    """The export could not be written (path, format, missing data or library)."""


# BDF preferred labels (battery-data-format ontology, table schema 1.2.0) and dtypes.
BDF_TEST_TIME = "Test Time / s"
BDF_UNIX_TIME = "Unix Time / s"
BDF_VOLTAGE = "Voltage / V"
BDF_CURRENT = "Current / A"
BDF_PRESSURE = "Applied Pressure / Pa"
BDF_TEMPERATURE = "Temperature T1 / degC"
BDF_CYCLE_NET = "Cycle Net Capacity / Ah"
BDF_CYCLE = "Cycle Count / 1"
BDF_STEP = "Step Count / 1"
BDF_STEP_TYPE = "Step Type"

BDF_COLUMNS: tuple[tuple[str, str], ...] = (
    (BDF_TEST_TIME, "float64"),
    (BDF_UNIX_TIME, "float64"),
    (BDF_VOLTAGE, "float64"),
    (BDF_CURRENT, "float64"),
    (BDF_PRESSURE, "float64"),
    (BDF_TEMPERATURE, "float64"),
    (BDF_CYCLE_NET, "float64"),
    (BDF_CYCLE, "int64"),
    (BDF_STEP, "int64"),
    (BDF_STEP_TYPE, "string"),
)

# Plain CSV: SI units in the names.
CSV_COLUMNS = (
    "time_utc",
    "seq",
    "elapsed_s",
    "voltage_V",
    "current_A",
    "pressure_Pa",
    "temperature_degC",
    "cycle_charge_Ah",
    "cycle",
    "state",
    "faults",
)


@dataclass
class SampleTable:
    """The samples of one device as columns in SI units (numpy arrays, one row per sample)."""

    seq: np.ndarray  # int64
    device_ms: np.ndarray  # int64, ms since 2000-01-01 UTC
    voltage_v: np.ndarray
    current_a: np.ndarray
    pressure_pa: np.ndarray
    temperature_c: np.ndarray
    cycle_charge_ah: np.ndarray
    state: np.ndarray  # int64 State codes
    faults: np.ndarray  # int64 Fault bits
    cycle: np.ndarray  # int64, from 1
    step: np.ndarray  # int64, from 1

    def __len__(self) -> int:
        return len(self.seq)

    @property
    def elapsed_s(self) -> np.ndarray:
        """Seconds since the first sample (exact to the ms: integer ms / 1000)."""
        if not len(self):
            return np.empty(0)
        return (self.device_ms - self.device_ms[0]) / 1000.0

    @property
    def unix_s(self) -> np.ndarray:
        return (self.device_ms + lr.DEVICE_EPOCH_UNIX_S * 1000) / 1000.0


def cycle_starts(states: np.ndarray) -> np.ndarray:
    """True at each sample that begins a new cycle: the first charge after a discharge.

    A discharge only counts after a charge has been seen (the estimator's phases:
    nothing -> charging -> discharging -> charging closes a cycle).
    """
    out = np.zeros(len(states), dtype=bool)
    phase = 0
    charge, discharge = int(State.CHARGE), int(State.DISCHARGE)
    for i, s in enumerate(states.tolist()):
        if s == charge:
            if phase == 2:
                out[i] = True
            phase = 1
        elif s == discharge and phase == 1:
            phase = 2
    return out


def cycle_numbers(states: np.ndarray) -> np.ndarray:
    """Cycle index (from 1) of each sample by :func:`cycle_starts` alone."""
    return 1 + np.cumsum(cycle_starts(states))


def step_numbers(states: np.ndarray) -> np.ndarray:
    """Step index (from 1): increases at each change of protection state."""
    if not len(states):
        return np.empty(0, dtype=np.int64)
    changes = np.concatenate(([0], (np.diff(states) != 0).astype(np.int64)))
    return 1 + np.cumsum(changes)


def _closing_samples(estimates: np.ndarray, samples: np.ndarray) -> np.ndarray:
    """Index (into samples) of the sample each ESTIMATE record closed a cycle at, or -1.

    The firmware logs the closing sample, then the ESTIMATE record: the closing
    sample is the last sample before the ESTIMATE's seq.
    """
    return np.searchsorted(samples["seq"], estimates["seq"]) - 1


def sample_cycles(records: np.ndarray, samples: np.ndarray) -> np.ndarray:
    """Cycle number of each sample: state rule plus ESTIMATE closings, device-aligned.

    A cycle starts at a charge after a discharge (:func:`cycle_starts`) and at
    every sample an ESTIMATE record says closed a cycle (which covers a log
    whose start, and so the earlier phases, is gone). Numbers start at 1, or
    at the device's count when the first ESTIMATE record comes before any
    BOOT event (the placeholder estimator restarts its count at boot).
    """
    starts = cycle_starts(samples["code"])
    estimates = lr.of_kind(records, LogKind.ESTIMATE)
    closing = _closing_samples(estimates, samples)
    starts[closing[closing >= 0]] = True
    count = np.cumsum(starts)
    base = 1
    if len(estimates) and closing[0] >= 0:
        kinds, codes = records["kind"], records["code"]
        first_est_seq = estimates["seq"][0]
        booted = (
            (kinds == int(LogKind.EVENT))
            & (codes == int(EventKind.BOOT))
            & (records["seq"] < first_est_seq)
        ).any()
        if not booted:
            completed = int(lr.values(estimates[:1], LogKind.ESTIMATE, "cycle_count")[0])
            aligned = completed + 1 - int(count[closing[0]])
            base = aligned if aligned >= 1 else 1
    return base + count.astype(np.int64)


def sample_table(records: np.ndarray) -> SampleTable:
    """The SAMPLE records among ``records`` (all kinds, by seq) as a SampleTable."""
    samples = lr.of_kind(records, LogKind.SAMPLE)
    kind = LogKind.SAMPLE
    states = samples["code"].astype(np.int64)
    return SampleTable(
        seq=samples["seq"].astype(np.int64),
        device_ms=lr.device_time_ms(samples),
        voltage_v=lr.values(samples, kind, "voltage"),
        current_a=lr.values(samples, kind, "current"),
        pressure_pa=lr.values(samples, kind, "pressure"),
        temperature_c=lr.values(samples, kind, "temperature"),
        cycle_charge_ah=lr.values(samples, kind, "cycle_charge"),
        state=states,
        faults=samples["faults"].astype(np.int64),
        cycle=sample_cycles(records, samples),
        step=step_numbers(states),
    )


def bdf_columns(table: SampleTable) -> dict[str, np.ndarray]:
    """The BDF columns (label -> array) of a sample table."""
    codes, index = np.unique(table.state, return_inverse=True)
    names = np.array([lr.state_name(int(c)) for c in codes], dtype=object)
    step_type = names[index] if len(codes) else np.empty(0, dtype=object)
    return {
        BDF_TEST_TIME: table.elapsed_s,
        BDF_UNIX_TIME: table.unix_s,
        BDF_VOLTAGE: table.voltage_v,
        BDF_CURRENT: table.current_a,
        BDF_PRESSURE: table.pressure_pa,
        BDF_TEMPERATURE: table.temperature_c,
        BDF_CYCLE_NET: table.cycle_charge_ah,
        BDF_CYCLE: table.cycle,
        BDF_STEP: table.step,
        BDF_STEP_TYPE: step_type,
    }


# ---------------------------------------------------------------------- writing


@contextmanager
def _atomic_output(path: Path, mode: str = "w") -> Iterator[IO[Any]]:
    """Write to a temporary file beside ``path``; rename into place on success."""
    if path.is_dir():
        raise ExportError(f"cannot write {path}: it is a directory")
    folder = path.parent
    if not folder.is_dir():
        raise ExportError(f"cannot write {path}: folder {folder} does not exist")
    # open(mode "x"), not mkstemp: the file gets the usual permissions (umask), not 0600.
    tmp_path = folder / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    kwargs = {"newline": "", "encoding": "utf-8"} if "b" not in mode else {}
    try:
        fh = open(tmp_path, mode.replace("w", "x"), **kwargs)  # noqa: SIM115 - closed below
    except OSError as exc:
        raise ExportError(f"cannot write {path}: {exc.strerror or exc}") from exc
    try:
        with fh:
            yield fh
        os.replace(tmp_path, path)
    except OSError as exc:
        tmp_path.unlink(missing_ok=True)
        raise ExportError(f"cannot write {path}: {exc.strerror or exc}") from exc
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def write_csv(table: SampleTable, path: Path) -> None:
    """Plain CSV: SI units in the header, ISO-8601 UTC time of each sample."""
    iso = lr.iso_from_device_ms(table.device_ms)
    states = [lr.state_name(int(s)) for s in table.state.tolist()]
    faults = ["|".join(lr.fault_names(int(f))) for f in table.faults.tolist()]
    with _atomic_output(path) as fh:
        writer = csv.writer(fh)
        writer.writerow(CSV_COLUMNS)
        writer.writerows(
            zip(
                iso.tolist(),
                table.seq.tolist(),
                table.elapsed_s.tolist(),
                table.voltage_v.tolist(),
                table.current_a.tolist(),
                table.pressure_pa.tolist(),
                table.temperature_c.tolist(),
                table.cycle_charge_ah.tolist(),
                table.cycle.tolist(),
                states,
                faults,
                strict=True,
            )
        )


def write_bdf(table: SampleTable, path: Path) -> None:
    """Battery Data Format CSV: header of preferred labels, fixed units."""
    columns = bdf_columns(table)
    with _atomic_output(path) as fh:
        writer = csv.writer(fh)
        writer.writerow(list(columns))
        writer.writerows(zip(*(c.tolist() for c in columns.values()), strict=True))


def write_parquet(table: SampleTable, path: Path, device: str = "") -> None:
    """The BDF columns in Parquet with proper types (float64, int64, string)."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise ExportError("Parquet export needs pyarrow: pip install 'afbms[parquet]'") from None
    columns = bdf_columns(table)
    arrow_types = {"float64": pa.float64(), "int64": pa.int64(), "string": pa.string()}
    arrays = [
        pa.array(columns[name].tolist() if dtype == "string" else columns[name],
                 type=arrow_types[dtype])
        for name, dtype in BDF_COLUMNS
    ]  # fmt: skip
    metadata = {"afbms.device": device, "bdf.schema": "1.2.0"}
    arrow = pa.Table.from_arrays(arrays, names=[n for n, _ in BDF_COLUMNS]).replace_schema_metadata(
        metadata
    )
    with _atomic_output(path, "wb") as fh:
        pq.write_table(arrow, fh)


WRITERS: dict[str, Callable[..., None]] = {
    "csv": write_csv,
    "bdf": write_bdf,
    "parquet": write_parquet,
}


def default_name(device: str, fmt: str, first_ms: int | None) -> str:
    """A BDF-style file name: ``afbms__<device>__<YYYYMMDD><suffix>``."""
    day = (
        datetime.fromtimestamp(first_ms / 1000 + lr.DEVICE_EPOCH_UNIX_S, UTC).strftime("%Y%m%d")
        if first_ms is not None
        else "empty"
    )
    return f"afbms__{device}__{day}{SUFFIXES[fmt]}"


@dataclass(frozen=True)
class ExportResult:
    path: Path
    rows: int
    device: str
    format: str


def export(store: Store, fmt: str, out: str | Path, device: str | None = None) -> ExportResult:
    """Write the samples of ``device`` (None: the store's only device) to ``out``.

    ``out`` may be a folder (an existing one, or any path ending in a separator,
    created if needed): the file is then named by :func:`default_name`.
    """
    if fmt not in WRITERS:
        raise ExportError(f"unknown format {fmt!r} (choose from {', '.join(FORMATS)})")
    key = store.resolve_device(device)
    records = store.records(key)
    table = sample_table(records)
    if not len(table):
        raise ExportError(f"device {key} has no samples in store {store.path}: nothing to export")
    path = Path(out)
    if str(out).endswith(("/", os.sep)) and not path.is_dir():
        try:
            path.mkdir(parents=True)
        except OSError as exc:
            raise ExportError(f"cannot create folder {out}: {exc.strerror or exc}") from exc
    if path.is_dir():
        path = path / default_name(key, fmt, int(table.device_ms[0]))
    if fmt == "parquet":
        write_parquet(table, path, device=key)
    else:
        WRITERS[fmt](table, path)
    return ExportResult(path=path, rows=len(table), device=key, format=fmt)


def run(args: Any) -> int:
    """``afbms export``: the CLI handler's body (args: store, device, format, out)."""
    from afbms.store import open_store

    with open_store(args.store) as store:
        result = export(store, args.format, args.out, args.device)
    print(result.path)
    return 0


__all__ = [
    "BDF_COLUMNS",
    "CSV_COLUMNS",
    "FORMATS",
    "ExportError",
    "ExportResult",
    "SampleTable",
    "StoreError",
    "bdf_columns",
    "cycle_numbers",
    "cycle_starts",
    "export",
    "sample_cycles",
    "sample_table",
    "step_numbers",
    "write_bdf",
    "write_csv",
    "write_parquet",
]
