"""What the values of a 40-byte log record mean, per kind: the one place that knows.

A log record (``protocol/messages.py: LogRecordBody``) is ``seq, t_s, t_ms,
kind, code, aux, faults, v0..v4`` plus a CRC. ``kind`` (:class:`LogKind`)
says what ``code``, ``aux`` and the five values are; the firmware writes them
in ``firmware/bms/app.py`` (every ``log.append``):

========  ==============  ===================  ===============================================
kind      code            aux                  v0 .. v4
========  ==============  ===================  ===============================================
SAMPLE    State           0                    voltage µV, current µA, pressure Pa,
                                               temperature m°C, cycle charge µAh
EVENT     EventKind       Severity             value (kind-specific), voltage µV, current µA,
                                               pressure Pa, temperature m°C (snapshot)
ESTIMATE  0               cycle count & 0xFFFF inventory µAh, inventory ppm, CE last ppm,
                                               CE rolling ppm, cycle count
LOSS      0               cycle count & 0xFFFF SEI loss µAh, dead-metal loss µAh, plated nm,
                                               dead nm, cycles to EOL (-1 unknown)
CYCLE     (not written by the firmware yet: values kept raw)
========  ==============  ===================  ===============================================

The store keeps the raw integers; export and plot convert through
:data:`LOG_FIELDS` so units are declared once. Device time is seconds since
2000-01-01 UTC (MicroPython's embedded epoch) plus milliseconds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

from afbms.protocol.crc import crc16
from afbms.protocol.enums import EventKind, Fault, LogKind, Severity, State
from afbms.protocol.fast import RECORD_DTYPE

DEVICE_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
DEVICE_EPOCH_UNIX_S = 946_684_800  # Unix time of 2000-01-01T00:00:00Z
VALUE_NAMES = ("v0", "v1", "v2", "v3", "v4")
RECORD_FIELDS: tuple[str, ...] = tuple(RECORD_DTYPE.names or ())


@dataclass(frozen=True)
class Quantity:
    """One value slot of a record kind: its name, raw unit and how to reach SI."""

    name: str  # snake_case, used as a column name
    raw_unit: str  # unit of the stored integer
    unit: str  # unit after ``scale`` (SI or SI-accepted: V, A, Pa, degC, Ah, m, 1)
    scale: float  # multiply the raw integer by this to get ``unit``
    label: str  # short human label for axes and tables
    firmware: str  # the value the firmware logs (attribute name in its log.append call)


def _q(name: str, raw_unit: str, unit: str, scale: float, label: str, fw: str) -> Quantity:
    return Quantity(name, raw_unit, unit, scale, label, fw)


VOLTAGE = _q("voltage", "µV", "V", 1e-6, "Voltage", "voltage_uv")
CURRENT = _q("current", "µA", "A", 1e-6, "Current", "current_ua")
PRESSURE = _q("pressure", "Pa", "Pa", 1.0, "Stack pressure", "pressure_pa")
TEMPERATURE = _q("temperature", "m°C", "degC", 1e-3, "Temperature", "temperature_mc")

# v0..v4 of each kind, from the firmware's log.append calls (a test checks they agree).
LOG_FIELDS: dict[LogKind, tuple[Quantity, ...]] = {
    LogKind.SAMPLE: (
        VOLTAGE,
        CURRENT,
        PRESSURE,
        TEMPERATURE,
        _q(
            "cycle_charge",
            "µAh",
            "Ah",
            1e-6,
            "Net charge since the cycle began",
            "cycle_charge_uah",
        ),
    ),
    LogKind.EVENT: (
        _q("value", "kind-specific", "1", 1.0, "Event value", "value"),
        VOLTAGE,
        CURRENT,
        PRESSURE,
        TEMPERATURE,
    ),
    LogKind.ESTIMATE: (
        _q("inventory", "µAh", "Ah", 1e-6, "Cyclable inventory", "inventory_uah"),
        _q(
            "inventory_fraction",
            "ppm",
            "1",
            1e-6,
            "Inventory (fraction of initial)",
            "inventory_ppm",
        ),
        _q("ce_last", "ppm", "1", 1e-6, "Coulombic efficiency, last cycle", "ce_last_ppm"),
        _q("ce_rolling", "ppm", "1", 1e-6, "Coulombic efficiency, rolling mean", "ce_rolling_ppm"),
        _q("cycle_count", "cycles", "1", 1.0, "Completed cycles", "cycle_count"),
    ),
    LogKind.LOSS: (
        _q("loss_sei", "µAh", "Ah", 1e-6, "Inventory bound in SEI", "loss_sei_uah"),
        _q("loss_dead", "µAh", "Ah", 1e-6, "Inventory lost as dead metal", "loss_dead_uah"),
        _q("plated_thickness", "nm", "m", 1e-9, "Plated metal (dense equivalent)", "plated_nm"),
        _q("dead_thickness", "nm", "m", 1e-9, "Dead metal (dense equivalent)", "dead_nm"),
        _q(
            "cycles_to_eol",
            "cycles",
            "1",
            1.0,
            "Cycles to end of life (-1 unknown)",
            "cycles_to_eol",
        ),
    ),
    LogKind.CYCLE: tuple(_q(v, "raw", "1", 1.0, v, v) for v in VALUE_NAMES),
}

# What ``code`` and ``aux`` hold, per kind (an enum class, a description, or None).
CODE_MEANING: dict[LogKind, type | None] = {
    LogKind.SAMPLE: State,
    LogKind.EVENT: EventKind,
    LogKind.ESTIMATE: None,
    LogKind.LOSS: None,
    LogKind.CYCLE: None,
}
AUX_MEANING: dict[LogKind, type | str | None] = {
    LogKind.SAMPLE: None,
    LogKind.EVENT: Severity,
    LogKind.ESTIMATE: "cycle count & 0xFFFF",
    LogKind.LOSS: "cycle count & 0xFFFF",
    LogKind.CYCLE: None,
}

# Event kinds worth a mark on a time plot (besides any event of severity >= WARNING).
SIGNATURE_EVENTS = frozenset(
    {
        EventKind.FAULT_SET,
        EventKind.VOLTAGE_DROP,
        EventKind.VOLTAGE_NOISE,
        EventKind.CHARGE_OVERRUN,
        EventKind.CE_COLLAPSE,
        EventKind.SELF_DISCHARGE,
        EventKind.PRESSURE_ANOMALY,
        EventKind.SHORT_SUSPECTED,
        EventKind.SOFT_SHORT,
        EventKind.HARD_SHORT,
    }
)

_FAULT_SHORT = {
    Fault.OVER_VOLTAGE: "OV",
    Fault.UNDER_VOLTAGE: "UV",
    Fault.OVER_CURRENT_CHARGE: "OC chg",
    Fault.OVER_CURRENT_DISCHARGE: "OC dis",
    Fault.OVER_TEMPERATURE: "OT",
    Fault.UNDER_TEMPERATURE: "UT",
    Fault.PRESSURE_LOW: "P low",
    Fault.PRESSURE_HIGH: "P high",
    Fault.SENSOR_CURRENT: "I sensor",
    Fault.SENSOR_PRESSURE: "P sensor",
    Fault.SENSOR_TEMPERATURE: "T sensor",
    Fault.SENSOR_STUCK: "stuck",
    Fault.SHORT_SOFT: "soft short",
    Fault.SHORT_HARD: "hard short",
    Fault.WATCHDOG_RESET: "watchdog",
    Fault.CONFIG_INVALID: "config",
    Fault.LOG_ERROR: "log",
}

_EVENT_SHORT = {
    EventKind.VOLTAGE_DROP: "V drop",
    EventKind.VOLTAGE_NOISE: "V noise",
    EventKind.CHARGE_OVERRUN: "overrun",
    EventKind.CE_COLLAPSE: "CE drop",
    EventKind.SELF_DISCHARGE: "self-dis.",
    EventKind.PRESSURE_ANOMALY: "P step",
    EventKind.SHORT_SUSPECTED: "short?",
    EventKind.SOFT_SHORT: "soft short",
    EventKind.HARD_SHORT: "hard short",
}


def quantity(kind: LogKind, name: str) -> tuple[str, Quantity]:
    """(value slot ``v0``..``v4``, Quantity) of the value called ``name`` in records of ``kind``."""
    for slot, q in zip(VALUE_NAMES, LOG_FIELDS[kind], strict=True):
        if q.name == name:
            return slot, q
    raise KeyError(f"{kind.name} records have no value {name!r}")


def values(records: np.ndarray, kind: LogKind, name: str) -> np.ndarray:
    """The value ``name`` of records (all of ``kind``) in the Quantity's unit, as float64.

    Sub-unit scales divide by the power of ten (correctly rounded, so 25310 m°C
    prints as 25.31, not 25.310000000000002).
    """
    slot, q = quantity(kind, name)
    raw = records[slot].astype(np.float64)
    if q.scale < 1:
        return raw / round(1 / q.scale)
    return raw * q.scale


def of_kind(records: np.ndarray, kind: LogKind) -> np.ndarray:
    """The records of one kind, in the order given."""
    return records[records["kind"] == int(kind)]


# ---------------------------------------------------------------------- time


def device_time_ms(records: np.ndarray) -> np.ndarray:
    """Device time of each record in integer ms since 2000-01-01 UTC (int64)."""
    return records["t_s"].astype(np.int64) * 1000 + records["t_ms"].astype(np.int64)


def unix_time_s(records: np.ndarray) -> np.ndarray:
    """Unix time of each record in s (float64, ms resolution)."""
    return (device_time_ms(records) + DEVICE_EPOCH_UNIX_S * 1000) / 1000.0


def iso_time(t_s: int, t_ms: int = 0) -> str:
    """ISO-8601 UTC text of a device time, e.g. ``2026-03-01T12:00:05.250Z``."""
    when = DEVICE_EPOCH + timedelta(seconds=int(t_s), milliseconds=int(t_ms))
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def iso_from_device_ms(device_ms: np.ndarray) -> np.ndarray:
    """ISO-8601 UTC text (ms resolution, ``Z`` suffix) of device times in ms (vectorised)."""
    unix_ms = np.asarray(device_ms, dtype=np.int64) + DEVICE_EPOCH_UNIX_S * 1000
    text = np.datetime_as_string(unix_ms.astype("datetime64[ms]"), unit="ms")
    return np.char.add(text.astype(str), "Z")


# ---------------------------------------------------------------------- names and labels


def state_name(code: int) -> str:
    try:
        return State(code).name
    except ValueError:
        return f"STATE_{code}"


def fault_names(bits: int) -> list[str]:
    """Names of the set Fault bits, unknown bits as ``BIT<n>``."""
    names = []
    for n in range(32):
        if bits >> n & 1:
            try:
                names.append(Fault(1 << n).name or f"BIT{n}")
            except ValueError:
                names.append(f"BIT{n}")
    return names


def fault_short(bits: int) -> str:
    """A short label for fault bits, for plot annotations: ``"OT"``, ``"OV+OT"``."""
    parts = []
    for n in range(32):
        if bits >> n & 1:
            try:
                parts.append(_FAULT_SHORT.get(Fault(1 << n), f"bit{n}"))
            except ValueError:
                parts.append(f"bit{n}")
    return "+".join(parts) or "fault"


def event_label(kind: int, value: int) -> str:
    """Short text for an event mark on a plot."""
    if kind == EventKind.FAULT_SET:
        return fault_short(value)
    if kind in _EVENT_SHORT:
        return _EVENT_SHORT[EventKind(kind)]
    try:
        return EventKind(kind).name.lower().replace("_", " ")
    except ValueError:
        return f"event {kind}"


def severity_of(aux: int) -> Severity | int:
    try:
        return Severity(aux)
    except ValueError:
        return aux


# ---------------------------------------------------------------------- building records


def make_records(rows: Iterable[Mapping[str, int]]) -> np.ndarray:
    """Log records as the device would send them (CRC computed), from field mappings.

    Missing fields default to 0; ``crc`` is always computed. Used by tests and
    by anything that synthesises a log (simulators, importers).
    """
    rows = list(rows)
    out = np.zeros(len(rows), dtype=RECORD_DTYPE)
    body_fields = [f for f in RECORD_FIELDS if f != "crc"]
    for i, row in enumerate(rows):
        unknown = set(row) - set(RECORD_FIELDS)
        if unknown:
            raise KeyError(f"not log record fields: {sorted(unknown)}")
        for name in body_fields:
            out[name][i] = int(row.get(name, 0))
    raw = out.tobytes()
    size = RECORD_DTYPE.itemsize
    for i in range(len(rows)):
        out["crc"][i] = crc16(raw[i * size : (i + 1) * size - 2])
    return out
