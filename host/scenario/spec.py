"""Scenario files: TOML in, a validated :class:`Scenario` out.

A scenario is a cell preset, a cycling protocol, sensor errors, faults with
onsets, firmware config overrides, a duration and the expected outcomes::

    name = "soft_short_steady"
    description = "A 50 mV steady soft short appears mid-charge in cycle 3"
    preset = "jeon_t2_mxene_mg_ncm811"   # afbms.plant.presets key
    seed = 3
    sample_period_ms = 1000              # firmware CFG_SAMPLE_PERIOD_MS
    plant_dt_ms = 1000                   # longest plant step (default: the sample period)
    formation_override = true            # see below
    duration_h = 40                      # or duration_s; the run also ends when the
    stop_after_cycles = 3                # ... protocol is done or this many cycles closed

    [protocol]                           # the preset's usual protocol, adjusted:
    cycles = 5
    current_ma_cm2 = 1.0                 # default: the preset's
    cv_cut_c = 0.05                      # false: CC charge only
    rest_s = 600
    # or explicit steps, repeated `cycles` times:
    # steps = [{type = "cccv", current_ma = 1.0, voltage_v = 4.25, cut_ma = 0.05},
    #          {type = "rest", s = 600}, {type = "cc", current_ma = -1.0, v_limit = 2.5}]

    [sensors]
    errors = "realistic"                 # or "none"; per-channel overrides below
    current = {offset = 10.0, gain_ppm = 1000, noise = 2.0}

    [config]                             # firmware ConfigKey overrides by name
    DROP_UV = 15000

    [[faults]]
    kind = "soft_short"                  # afbms.plant.world inject() names
    drop_mv = 50                         # soft shorts: resistance for this drop at onset
    # magnitude = 2000.0                 # ... or the inject() magnitude itself
    at_cycle = 3                         # onset: when the cycler enters step `at_step`
    at_step = "charge"                   # of outer-loop iteration `at_cycle` ...
    after_s = 1800                       # ... plus this long; or at_s / at_h (absolute)
    clear_after_s = 600                  # optional: clear the fault again
    params = {mean_interval_s = 60}      # extra inject() keywords

    [expect]
    events = ["VOLTAGE_DROP", "SOFT_SHORT"]       # must be raised after the first onset
    no_events = ["HARD_SHORT"]                    # must never be raised
    latched = ["SHORT_SOFT"]                      # protection fault bits latched at the end
    not_latched = ["SHORT_HARD"]
    latency_samples = {VOLTAGE_DROP = 2}          # from the first sample showing the fault
    latency_cycles = {SOFT_SHORT = 1.0}           # in cycle durations from onset
    inventory_error_pct = 0.5                     # every ESTIMATE after cycle 1 vs truth
    min_cycles = 3

``formation_override``: an anode-free cell as assembled reads ~0.1 V (bare
collector), below any V_MIN the config accepts (>= 1 V): the protection latches
UNDER_VOLTAGE at boot and would never let the formation charge start. Until the
protection has a formation exemption, the runner plays the lab operator: it
holds the cycler's path open (as a formation cycler bypassing the BMS would)
while the firmware samples, and clears the fault with COMMAND CLEAR_FAULTS
once the voltage is 100 mV above V_MIN. The firmware counts that charge like
any other; the FAULT_SET/FAULTS_CLEARED events stay in the record.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from afbms.plant import presets as _presets
from afbms.protocol.enums import ConfigKey, EventKind, Fault


class ScenarioError(ValueError):
    """A scenario file that cannot be run: one line saying why."""


@dataclass
class FaultSpec:
    kind: str
    magnitude: float | None = None
    drop_mv: float | None = None
    at_s: float | None = None
    at_cycle: int | None = None
    at_step: str = "charge"
    after_s: float = 0.0
    clear_after_s: float | None = None
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class Expect:
    events: list[str] = field(default_factory=list)
    no_events: list[str] = field(default_factory=list)
    latched: list[str] = field(default_factory=list)
    not_latched: list[str] = field(default_factory=list)
    latency_samples: dict[str, float] = field(default_factory=dict)
    latency_cycles: dict[str, float] = field(default_factory=dict)
    inventory_error_pct: float | None = None
    min_cycles: int = 0


@dataclass
class Scenario:
    name: str
    preset: str
    description: str = ""
    seed: int = 0
    sample_period_ms: int = 1000
    plant_dt_ms: int | None = None
    duration_s: float | None = None
    stop_after_cycles: int | None = None
    protocol: dict[str, Any] = field(default_factory=dict)
    sensors: dict[str, Any] = field(default_factory=lambda: {"errors": "realistic"})
    config: dict[str, int] = field(default_factory=dict)
    faults: list[FaultSpec] = field(default_factory=list)
    expect: Expect = field(default_factory=Expect)
    ambient_c: float | None = None
    formation_override: bool = True
    path: str = ""
    tags: list[str] = field(default_factory=list)


_TOP = {
    "name", "description", "preset", "seed", "sample_period_ms", "plant_dt_ms", "duration_h",
    "duration_s", "stop_after_cycles", "protocol", "sensors", "config", "faults", "expect",
    "ambient_c", "tags", "formation_override",
}  # fmt: skip
_FAULT = {
    "kind", "magnitude", "drop_mv", "at_s", "at_h", "at_cycle", "at_step", "after_s",
    "clear_after_s", "params",
}  # fmt: skip
_EXPECT = set(Expect.__dataclass_fields__)
_EVENTS = {e.name for e in EventKind}
_FAULTS = {f.name for f in Fault}
_CHANNELS = ("current", "voltage", "pressure", "temperature")


def _unknown(keys, allowed, where: str) -> None:
    bad = sorted(set(keys) - allowed)
    if bad:
        raise ScenarioError(f"{where}: unknown key(s) {', '.join(bad)}")


def _names(values, allowed: set[str], where: str) -> list[str]:
    out = []
    for v in values:
        name = str(v).upper()
        if name not in allowed:
            raise ScenarioError(f"{where}: unknown name {v!r}")
        out.append(name)
    return out


def from_dict(d: dict[str, Any], path: str = "") -> Scenario:
    """Validate a parsed TOML document."""
    where = path or "scenario"
    _unknown(d, _TOP, where)
    for key in ("name", "preset"):
        if key not in d:
            raise ScenarioError(f"{where}: missing {key!r}")
    if d["preset"] not in _presets.PRESETS:
        raise ScenarioError(f"{where}: unknown preset {d['preset']!r}")
    duration = d.get("duration_s")
    if "duration_h" in d:
        duration = float(d["duration_h"]) * 3600.0
    sc = Scenario(
        name=str(d["name"]),
        preset=str(d["preset"]),
        description=str(d.get("description", "")),
        seed=int(d.get("seed", 0)),
        sample_period_ms=int(d.get("sample_period_ms", 1000)),
        plant_dt_ms=int(d["plant_dt_ms"]) if "plant_dt_ms" in d else None,
        duration_s=float(duration) if duration is not None else None,
        stop_after_cycles=int(d["stop_after_cycles"]) if "stop_after_cycles" in d else None,
        protocol=dict(d.get("protocol", {})),
        sensors=dict(d.get("sensors", {"errors": "realistic"})),
        ambient_c=float(d["ambient_c"]) if "ambient_c" in d else None,
        formation_override=bool(d.get("formation_override", True)),
        path=path,
        tags=[str(t) for t in d.get("tags", [])],
    )
    if not 10 <= sc.sample_period_ms <= 60000:
        raise ScenarioError(f"{where}: sample_period_ms must be 10..60000 (firmware range)")
    if sc.duration_s is None and sc.stop_after_cycles is None and "cycles" not in sc.protocol:
        raise ScenarioError(f"{where}: give duration_h/duration_s, stop_after_cycles or cycles")
    _unknown(
        sc.protocol,
        {"cycles", "current_ma_cm2", "cv_cut_c", "rest_s", "v_max", "v_min", "steps"},
        f"{where} [protocol]",
    )
    _unknown(sc.sensors, {"errors", *_CHANNELS}, f"{where} [sensors]")
    if sc.sensors.get("errors", "realistic") not in ("realistic", "none"):
        raise ScenarioError(f"{where} [sensors]: errors must be 'realistic' or 'none'")
    for ch in _CHANNELS:
        if ch in sc.sensors:
            _unknown(sc.sensors[ch], {"offset", "gain_ppm", "noise"}, f"{where} [sensors.{ch}]")
    for k, v in dict(d.get("config", {})).items():
        name = str(k).upper()
        if name not in ConfigKey.__members__:
            raise ScenarioError(f"{where} [config]: unknown config key {k!r}")
        sc.config[name] = int(v)
    for i, f in enumerate(d.get("faults", [])):
        w = f"{where} [[faults]] #{i + 1}"
        _unknown(f, _FAULT, w)
        if "kind" not in f:
            raise ScenarioError(f"{w}: missing 'kind'")
        at_s = f.get("at_s")
        if "at_h" in f:
            at_s = float(f["at_h"]) * 3600.0
        if at_s is None and "at_cycle" not in f:
            raise ScenarioError(f"{w}: give at_s/at_h or at_cycle")
        sc.faults.append(
            FaultSpec(
                kind=str(f["kind"]).lower(),
                magnitude=float(f["magnitude"]) if "magnitude" in f else None,
                drop_mv=float(f["drop_mv"]) if "drop_mv" in f else None,
                at_s=float(at_s) if at_s is not None else None,
                at_cycle=int(f["at_cycle"]) if "at_cycle" in f else None,
                at_step=str(f.get("at_step", "charge")),
                after_s=float(f.get("after_s", 0.0)),
                clear_after_s=float(f["clear_after_s"]) if "clear_after_s" in f else None,
                params=dict(f.get("params", {})),
            )
        )
    e = dict(d.get("expect", {}))
    _unknown(e, _EXPECT, f"{where} [expect]")
    sc.expect = Expect(
        events=_names(e.get("events", []), _EVENTS, f"{where} [expect] events"),
        no_events=_names(e.get("no_events", []), _EVENTS, f"{where} [expect] no_events"),
        latched=_names(e.get("latched", []), _FAULTS, f"{where} [expect] latched"),
        not_latched=_names(e.get("not_latched", []), _FAULTS, f"{where} [expect] not_latched"),
        latency_samples={
            k.upper(): float(v) for k, v in dict(e.get("latency_samples", {})).items()
        },
        latency_cycles={k.upper(): float(v) for k, v in dict(e.get("latency_cycles", {})).items()},
        inventory_error_pct=(
            float(e["inventory_error_pct"]) if "inventory_error_pct" in e else None
        ),
        min_cycles=int(e.get("min_cycles", 0)),
    )
    for k in (*sc.expect.latency_samples, *sc.expect.latency_cycles):
        if k not in _EVENTS:
            raise ScenarioError(f"{where} [expect]: unknown event {k!r} in a latency table")
    return sc


def load(path: str | Path) -> Scenario:
    """Read and validate a scenario file."""
    p = Path(path)
    try:
        with p.open("rb") as fh:
            d = tomllib.load(fh)
    except FileNotFoundError:
        raise ScenarioError(f"{p}: no such file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{p}: not valid TOML ({exc})") from None
    return from_dict(d, str(p))
