"""Cell configuration on the host: the firmware's own table and rules, human units, TOML.

The host validates with the firmware's ``bms.config`` module itself (imported
under CPython), so host and board can never disagree about a range or a
rule; the board still re-validates everything it is sent.
"""

from __future__ import annotations

import re
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from afbms.paths import firmware_dir
from afbms.protocol.enums import ConfigKey, ConfigStatus, Metal


def firmware_module(name: str) -> ModuleType:
    """Import a firmware module (e.g. ``bms.config``) the way the board names it."""
    path = str(firmware_dir())
    if path not in sys.path:
        sys.path.append(path)  # last: never shadows the standard library
    __import__(name)
    return sys.modules[name]


@dataclass(frozen=True)
class Unit:
    symbol: str  # what the firmware stores, e.g. "µV"
    display: str  # what people read, e.g. "V"
    scale: int  # stored units per display unit


# By the key name's suffix (the protocol names every fixed-point key this way).
UNITS = {
    "_UV": Unit("µV", "V", 1_000_000),
    "_UA": Unit("µA", "mA", 1_000),
    "_UAH": Unit("µAh", "mAh", 1_000),
    "_PA": Unit("Pa", "MPa", 1_000_000),
    "_MC": Unit("m°C", "°C", 1_000),
    "_UM2K": Unit("0.001 mm²", "cm²", 100_000),
    "_PPM": Unit("ppm", "%", 10_000),
    "_MS": Unit("ms", "s", 1_000),
    "_SAMPLES": Unit("samples", "samples", 1),
}

# Accepted input units: name -> (display unit it belongs to, factor to display units).
INPUT_UNITS = {
    "V": ("V", 1.0), "mV": ("V", 1e-3), "uV": ("V", 1e-6), "µV": ("V", 1e-6),
    "A": ("mA", 1e3), "mA": ("mA", 1.0), "uA": ("mA", 1e-3), "µA": ("mA", 1e-3),
    "Ah": ("mAh", 1e3), "mAh": ("mAh", 1.0), "uAh": ("mAh", 1e-3), "µAh": ("mAh", 1e-3),
    "MPa": ("MPa", 1.0), "kPa": ("MPa", 1e-3), "Pa": ("MPa", 1e-6), "bar": ("MPa", 0.1),
    "C": ("°C", 1.0), "°C": ("°C", 1.0), "degC": ("°C", 1.0),
    "cm2": ("cm²", 1.0), "cm²": ("cm²", 1.0), "mm2": ("cm²", 0.01), "mm²": ("cm²", 0.01),
    "%": ("%", 1.0), "ppm": ("%", 1e-4),
    "s": ("s", 1.0), "ms": ("s", 1e-3), "min": ("s", 60.0),
}  # fmt: skip

_NUMBER_UNIT = re.compile(r"^\s*([-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)\s*([^\d\s].*)?$")


class ConfigError(ValueError):
    """A value a user gave cannot be used (one line, says why and what is allowed)."""


def unit_of(key: ConfigKey) -> Unit | None:
    for suffix, unit in UNITS.items():
        if key.name.endswith(suffix):
            return unit
    return None


def key_by_name(name: str) -> ConfigKey:
    """A ConfigKey from 'V_MAX_UV', 'v_max_uv' or the short 'v_max'."""
    wanted = name.strip().upper().replace("-", "_")
    for key in ConfigKey:
        unit_suffix = next((s for s in UNITS if key.name.endswith(s)), "")
        if wanted in (key.name, key.name.removesuffix(unit_suffix)):
            return key
    names = ", ".join(k.name.lower() for k in ConfigKey)
    raise ConfigError(f"unknown config key {name!r} (keys: {names})")


def format_value(key: ConfigKey | int, value: int) -> str:
    """'4.25 V' for V_MAX_UV=4250000; metal by name."""
    key = ConfigKey(key)
    if key == ConfigKey.METAL:
        try:
            return Metal(value).name.lower()
        except ValueError:
            return f"metal {value}"
    unit = unit_of(key)
    if unit is None or unit.scale == 1:
        return f"{value} {unit.display if unit else ''}".strip()
    return f"{value / unit.scale:g} {unit.display}"


def parse_value(key: ConfigKey, text: str) -> int:
    """Firmware units from what a person typed: '4.25V', '4250 mV', '4250000', 'sodium'."""
    if key == ConfigKey.METAL:
        try:
            return int(Metal[text.strip().upper()])
        except KeyError:
            if text.strip().isdigit():
                return int(text)
            metals = ", ".join(m.name.lower() for m in Metal)
            raise ConfigError(f"metal must be one of: {metals}") from None
    match = _NUMBER_UNIT.match(text)
    if not match:
        raise ConfigError(f"{key.name.lower()}: not a number: {text!r}")
    number, suffix = match.group(1), (match.group(2) or "").strip()
    unit = unit_of(key)
    if not suffix:  # a bare number is in the firmware's unit
        if not re.fullmatch(r"[-+]?\d+", number):
            raise ConfigError(
                f"{key.name.lower()}: give a unit with a decimal value "
                f"(e.g. {format_value(key, _default(key)).replace(' ', '')})"
            )
        return int(number)
    if unit is None or suffix not in INPUT_UNITS or INPUT_UNITS[suffix][0] != unit.display:
        expected = unit.display if unit else "no unit"
        raise ConfigError(f"{key.name.lower()}: unit {suffix!r} does not fit (expected {expected})")
    return round(float(number) * INPUT_UNITS[suffix][1] * unit.scale)


def _default(key: ConfigKey) -> int:
    return firmware_module("bms.config").ROWS[int(key)][2]


def describe_range(key: ConfigKey) -> str:
    row = firmware_module("bms.config").ROWS[int(key)]
    return f"{format_value(key, row[3])} .. {format_value(key, row[4])}"


def check(current: dict[int, int], changes: dict[ConfigKey, int]) -> None:
    """Validate ``changes`` against ``current`` with the firmware's own table and rules.

    Raises ConfigError naming the key, the range or the rule that refuses it.
    """
    cfg = firmware_module("bms.config")
    values = [0] * cfg.NKEY
    for key, value in current.items():
        if int(key) < cfg.NKEY:
            values[int(key)] = value
    for key, value in changes.items():
        status = cfg.check_value(int(key), value)
        if status == ConfigStatus.UNKNOWN_KEY:
            raise ConfigError(f"{key.name.lower()}: this firmware has no such key")
        if status == ConfigStatus.READ_ONLY:
            raise ConfigError(f"{key.name.lower()} is read-only")
        if status != ConfigStatus.OK:
            raise ConfigError(
                f"{key.name.lower()} = {format_value(key, value)} is out of range "
                f"({describe_range(key)})"
            )
        values[int(key)] = value
    broken = cfg.violated_rule(values, changed={int(k) for k in changes})
    if broken is not None:
        rule, key = broken
        raise ConfigError(f"{ConfigKey(key).name.lower()}: inconsistent: {rule[4]}")


def to_toml(values: dict[Any, int], meta: dict[str, str]) -> str:
    """A TOML document a person can read and edit: firmware units, with the human value."""
    lines = ["# afbms cell configuration", "[meta]"]
    lines += [f'{k} = "{v}"' for k, v in meta.items()]
    lines += ["", "[config]"]
    for key in sorted(values, key=int):
        try:
            k = ConfigKey(key)
        except ValueError:
            continue
        unit = unit_of(k)
        note = f"  # {format_value(k, values[key])}" + (
            f", stored in {unit.symbol}" if unit else ""
        )
        lines.append(f"{k.name.lower()} = {values[key]}{note}")
    return "\n".join(lines) + "\n"


def from_toml(path: Path) -> tuple[dict[ConfigKey, int], list[str]]:
    """(values by key, names of keys this version does not know — skipped)."""
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from exc
    table = doc.get("config")
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: no [config] table")
    values: dict[ConfigKey, int] = {}
    unknown = []
    for name, value in table.items():
        try:
            key = key_by_name(name)
        except ConfigError:
            unknown.append(name)
            continue
        values[key] = value if isinstance(value, int) else parse_value(key, str(value))
    return values, unknown


def preset_config(name: str) -> dict[ConfigKey, int]:
    """Protection limits and cell facts for a cell preset (``afbms.plant.presets``).

    The limits sit outside the preset's cycling window (the cycler's own cutoffs
    must never trip protection): V_MAX 50 mV above the charge cutoff, V_MIN
    300 mV below the discharge cutoff (the depletion knee overshoots it), twice
    the cycling current, the cycling temperature -25/+15 °C, half the stack
    pressure as contact loss and twice it plus 10 MPa as the upper bound.
    """
    from afbms.plant.presets import PRESETS

    try:
        preset = PRESETS[name]
    except KeyError:
        known = ", ".join(sorted(PRESETS))
        raise ConfigError(f"unknown preset {name!r} (presets: {known})") from None
    params = preset.params
    curve = params.curve
    current_ua = max(10, round(preset.current_ma_cm2 * params.area_cm2 * 1000 * 2))
    t_max = min(preset.temperature_c + 15, preset.metal.melt_c - 10)
    return {
        ConfigKey.METAL: preset.metal.wire_id,
        ConfigKey.CAPACITY_UAH: round(preset.areal_capacity_mah_cm2 * params.area_cm2 * 1000),
        ConfigKey.ACTIVE_AREA_UM2K: round(params.area_cm2 * 100_000),
        ConfigKey.V_MAX_UV: round((curve.v_max + 0.05) * 1e6),
        ConfigKey.V_MIN_UV: round(max(curve.v_min - 0.3, 1.0) * 1e6),
        ConfigKey.I_CHARGE_MAX_UA: current_ua,
        ConfigKey.I_DISCHARGE_MAX_UA: current_ua,
        ConfigKey.T_MAX_MC: round(t_max * 1000),
        ConfigKey.T_MIN_MC: round(max(preset.temperature_c - 25, -40) * 1000),
        ConfigKey.P_MIN_PA: round(preset.pressure_mpa * 0.5e6),
        ConfigKey.P_MAX_PA: round((preset.pressure_mpa * 2 + 10) * 1e6),
    }
