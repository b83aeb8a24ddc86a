"""A dendrite soft short injected into the simulated cell while it charges: the firmware
suspects it, then confirms it, and charging stops."""

from __future__ import annotations

import pytest

from afbms.plant.cycler import CC
from afbms.protocol.enums import EventKind, Fault, MsgType, State
from tests.hil.support import clear_all_faults, telemetry_for, wait_telemetry, wall_s

pytestmark = [pytest.mark.hil, pytest.mark.sim_only, pytest.mark.timeout(120)]


def test_soft_short_suspected_then_confirmed_and_charging_stops(afbms_target, board, plant):
    assert clear_all_faults(board, wall_s(afbms_target, 20)) == 0
    current_a = plant.world.params.j_ref_ma_cm2 * plant.world.params.area_cm2 * 1e-3
    with plant.fast():
        plant.set_protocol([CC(current_a, 4.2, name="charge")])
        # past the nucleation guard and the noise baseline's warm-up: 15 min of CC charge
        start = plant.truth()["time_ms"]
        wait_telemetry(board, lambda p: plant.truth()["time_ms"] - start > 900_000, 30)
        assert plant.truth()["charge_enabled"] and plant.truth()["current_a"] > 0
        ohms = plant.soft_short_ohms_for_drop(0.05)
        plant.inject("soft_short_intermittent", ohms, mean_interval_s=60.0, duration_s=3.0)
        kinds: list[EventKind] = []
        for frame in board.frames(30.0):
            if frame.msg_type == MsgType.EVENT:
                kinds.append(frame.payload["kind"])
                if frame.payload["kind"] == EventKind.SOFT_SHORT:
                    confirmed = frame.payload
                    break
        else:
            pytest.fail(f"no SOFT_SHORT within 30 s; events: {[k.name for k in kinds]}")
    assert EventKind.VOLTAGE_DROP in kinds
    assert EventKind.SHORT_SUSPECTED in kinds
    assert kinds.index(EventKind.SHORT_SUSPECTED) < kinds.index(EventKind.SOFT_SHORT)
    assert EventKind.HARD_SHORT not in kinds
    assert confirmed["faults"] & Fault.SHORT_SOFT
    after = wait_telemetry(board, lambda p: p["state"] == State.FAULT, wall_s(afbms_target, 5))
    assert after["faults"] & Fault.SHORT_SOFT
    telemetry_for(board, 3, wall_s(afbms_target, 5))  # the plant has moved on since
    truth = plant.truth()
    assert not truth["charge_enabled"] and truth["current_a"] <= 0, "still charging"
