"""Every protection limit of firmware/bms/faults.py: trips, latches, persists across a
reset, and clears only by command.

Two ways to cross a limit. On any board (``hil``): move the limit across the present
reading through the config (the bench needs no fault rig; current limits need current
flowing, which the virtual board's cycler provides). On the virtual board
(``sim_only``): the world crosses the default limit (a hotter chamber, a lost preload,
a sensor that stops answering...).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass

import pytest

from afbms.device import Refused
from afbms.plant.cycler import CC
from afbms.protocol.enums import Command, ConfigKey, Fault, State
from afbms.pytest_plugin import PlantControl
from tests.hil.support import (
    clear_all_faults,
    config_restored,
    set_config,
    telemetry_for,
    wait_telemetry,
    wall_s,
)

pytestmark = [pytest.mark.hil, pytest.mark.timeout(120)]

BLOCKING = ~(Fault.UNDER_VOLTAGE | Fault.LOG_ERROR | Fault.WATCHDOG_RESET)  # faults.BLOCKING


@dataclass
class Limit:
    bit: Fault
    provoke: Callable[[], None]
    remove: Callable[[], None]


def exercise_limit(target, board, limit: Limit, period_s: float) -> None:
    """Trip -> latched, outputs safe -> still latched once the condition is gone -> still
    latched after a reset (from flash alone: the reading is fine by then) -> cleared by
    COMMAND CLEAR_FAULTS. Waits are counted in samples of ``period_s``."""

    def samples(n: float) -> float:
        return wall_s(target, n * period_s)

    bit = limit.bit
    blocking = bool(bit & BLOCKING)
    assert clear_all_faults(board, samples(20)) == 0, "the board starts with faults"
    limit.provoke()
    tripped = wait_telemetry(board, lambda p: p["faults"] & bit, samples(30))
    if blocking:
        tripped = wait_telemetry(board, lambda p: p["state"] == State.FAULT, samples(5))
        assert tripped["faults"] & bit
    if target.virtual:
        truth = target.vboard.plant.truth()
        assert not truth["discharge_enabled"], "discharge path still closed after the trip"
        assert truth["charge_enabled"] != blocking, "charge path in the wrong state"

    limit.remove()
    held = telemetry_for(board, 8, samples(12))
    assert all(p["faults"] & bit for p in held), "the fault cleared without a command"

    target.reboot(board)
    after = wait_telemetry(board, lambda p: True, samples(10))
    assert after["faults"] & bit, "the fault did not survive the reset"
    if blocking:
        assert after["state"] == State.FAULT, "outputs enabled after a reset with a fault"

    deadline = time.monotonic() + samples(30)
    while True:  # refused (NOT_ALLOWED) until the reading is back inside by the hysteresis
        try:
            board.command(Command.CLEAR_FAULTS, int(bit))
            break
        except Refused:
            assert time.monotonic() < deadline, "CLEAR_FAULTS still refused"
            time.sleep(0.05)
    cleared = wait_telemetry(board, lambda p: not p["faults"] & bit, samples(10))
    if blocking:
        assert cleared["state"] != State.FAULT or cleared["faults"] & BLOCKING


# ---------------------------------------------------------------- any board: limits moved


V, T, P = "voltage_uv", "temperature_mc", "pressure_pa"


def moved_limits(bit: Fault, now: dict, cfg: dict[ConfigKey, int]) -> dict[ConfigKey, int]:
    """Config that puts the present reading beyond ``bit``'s limit (keeping the
    cross-key rules); pytest.skip when this bench's readings do not allow it."""
    K = ConfigKey
    if bit == Fault.OVER_VOLTAGE:
        v_max = max(now[V] - 100_000, 1_500_000)
        return {K.V_MAX_UV: v_max, K.V_MIN_UV: min(cfg[K.V_MIN_UV], v_max - 200_000)}
    if bit == Fault.UNDER_VOLTAGE:
        v_min = now[V] + 100_000
        if v_min > 4_500_000:
            pytest.skip("the cell reads above 4.4 V: no V_MIN above it is allowed")
        return {K.V_MIN_UV: v_min, K.V_MAX_UV: max(cfg[K.V_MAX_UV], v_min + 200_000)}
    if bit in (Fault.OVER_CURRENT_CHARGE, Fault.OVER_CURRENT_DISCHARGE):
        charging = bit == Fault.OVER_CURRENT_CHARGE
        i = now["current_ua"] if charging else -now["current_ua"]
        if i < 200:
            side = "charge" if charging else "discharge"
            pytest.skip(f"no {side} current flowing on this bench (run the cycler)")
        return {K.I_CHARGE_MAX_UA if charging else K.I_DISCHARGE_MAX_UA: i // 2}
    if bit == Fault.OVER_TEMPERATURE:
        t_max = max(now[T] - 5_000, 0)
        return {K.T_MAX_MC: t_max, K.T_MIN_MC: max(min(cfg[K.T_MIN_MC], t_max - 10_000), -40_000)}
    if bit == Fault.UNDER_TEMPERATURE:
        t_min = now[T] + 5_000
        if t_min > 100_000:
            pytest.skip("the cell is above 95 °C: no T_MIN above it is allowed")
        return {K.T_MIN_MC: t_min, K.T_MAX_MC: max(cfg[K.T_MAX_MC], t_min + 10_000)}
    if bit == Fault.PRESSURE_LOW:
        p_min = now[P] + 500_000
        return {K.P_MIN_PA: p_min, K.P_MAX_PA: max(cfg[K.P_MAX_PA], p_min + 1_000_000)}
    if bit == Fault.PRESSURE_HIGH:
        p_max = now[P] - 500_000
        if p_max < 1_000_000:
            pytest.skip("stack pressure below 1.5 MPa: no P_MAX below it is allowed")
        return {K.P_MAX_PA: p_max, K.P_MIN_PA: max(min(cfg[K.P_MIN_PA], p_max - 1_000_000), 0)}
    raise AssertionError(bit)


READING_LIMITS = [
    Fault.OVER_VOLTAGE,
    Fault.UNDER_VOLTAGE,
    Fault.OVER_CURRENT_CHARGE,
    Fault.OVER_CURRENT_DISCHARGE,
    Fault.OVER_TEMPERATURE,
    Fault.UNDER_TEMPERATURE,
    Fault.PRESSURE_LOW,
    Fault.PRESSURE_HIGH,
]


def _drive_current(target, bit: Fault) -> PlantControl | None:
    """On the virtual board, let the cycler drive a modest current for the current
    limits (a bench runs its own cycler)."""
    if not target.virtual or bit not in (Fault.OVER_CURRENT_CHARGE, Fault.OVER_CURRENT_DISCHARGE):
        return None
    control = PlantControl(target.vboard)
    sign = 1 if bit == Fault.OVER_CURRENT_CHARGE else -1
    control.set_protocol([CC(sign * 1e-3, 4.1 if sign > 0 else 3.3, name="drive")])
    return control


@pytest.mark.parametrize("bit", READING_LIMITS, ids=lambda b: b.name.lower())
def test_limit_moved_across_the_reading(afbms_target, board, live, bit):
    with config_restored(board) as cfg:
        control = _drive_current(afbms_target, bit)
        try:
            limits: dict[ConfigKey, int] = {}

            def flowing(p: dict) -> bool:
                return control is None or abs(p["current_ua"]) > 500

            def provoke() -> None:
                now = wait_telemetry(board, flowing, wall_s(afbms_target, 20 * live))
                limits.update(moved_limits(bit, now, cfg))
                set_config(board, limits)

            def remove() -> None:
                if control is not None:
                    control.rest()
                set_config(board, {k: cfg[k] for k in limits})

            exercise_limit(afbms_target, board, Limit(bit, provoke, remove), live)
        finally:
            if control is not None:
                control.rest()


# ---------------------------------------------------------------- virtual board: the world


def _stimuli(target, plant: PlantControl) -> dict[str, Limit]:
    def injected(bit: Fault, kind: str, magnitude: float | None = None) -> Limit:
        return Limit(bit, lambda: plant.inject(kind, magnitude), lambda: plant.clear(kind))

    def cycler(bit: Fault, current_a: float, v_limit: float) -> Limit:
        return Limit(bit, lambda: plant.set_protocol([CC(current_a, v_limit, name="drive")]),
                     plant.rest)  # fmt: skip

    def ambient(bit: Fault, t_c: float) -> Limit:
        home = plant.truth()["ambient_c"]

        def provoke() -> None:
            plant.set_ambient(t_c)

        def remove() -> None:
            plant.set_ambient(home)

        return Limit(bit, provoke, remove)

    def sagging(bit: Fault, total_uv: float) -> Limit:
        # In steps well below HARD_DROP_UV per sample: a sudden collapse is a hard short.
        def provoke() -> None:
            for k in range(1, 5):
                plant.inject("voltage_offset", total_uv * k / 4)
                time.sleep(wall_s(target, 2.0, margin_s=0.0))

        return Limit(bit, provoke, lambda: plant.clear("voltage_offset"))

    def stuck() -> Limit:  # frozen registers while current flows
        def provoke() -> None:
            plant.inject("current_stuck", 1000.0)
            plant.inject("voltage_stuck", 3_900_000.0)

        def remove() -> None:
            plant.clear("current_stuck")
            plant.clear("voltage_stuck")

        return Limit(Fault.SENSOR_STUCK, provoke, remove)

    return {
        "over_voltage_reading": injected(Fault.OVER_VOLTAGE, "voltage_offset", 600_000.0),
        "under_voltage_reading": sagging(Fault.UNDER_VOLTAGE, -1_000_000.0),
        "over_current_charge": cycler(Fault.OVER_CURRENT_CHARGE, 7e-3, 4.2),
        "over_current_discharge": cycler(Fault.OVER_CURRENT_DISCHARGE, -7e-3, 3.0),
        "hot_chamber": ambient(Fault.OVER_TEMPERATURE, 100.0),
        "cold_chamber": ambient(Fault.UNDER_TEMPERATURE, -15.0),
        "contact_loss": injected(Fault.PRESSURE_LOW, "contact_loss", 0.9),
        "pressure_high_reading": injected(Fault.PRESSURE_HIGH, "pressure_offset", 45e6),
        "monitor_silent": injected(Fault.SENSOR_CURRENT, "monitor_nack"),
        "loadcell_silent": injected(Fault.SENSOR_PRESSURE, "loadcell_nack"),
        "ntc_open": injected(Fault.SENSOR_TEMPERATURE, "ntc_open"),
        "registers_frozen": stuck(),
    }


STIMULI = [
    "over_voltage_reading",
    "under_voltage_reading",
    "over_current_charge",
    "over_current_discharge",
    "hot_chamber",
    "cold_chamber",
    "contact_loss",
    "pressure_high_reading",
    "monitor_silent",
    "loadcell_silent",
    "ntc_open",
    "registers_frozen",
]


@pytest.mark.sim_only
@pytest.mark.parametrize("name", STIMULI)
def test_world_crosses_the_default_limit(afbms_target, board, plant, live, name):
    limit = _stimuli(afbms_target, plant)[name]
    with plant.fast() if name.endswith("chamber") else nullcontext():  # heat takes minutes
        exercise_limit(afbms_target, board, limit, live)
