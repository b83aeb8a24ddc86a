"""Host store, export and plot tests, and the synthetic device log they share.

:func:`synthetic_log` builds the records a board would log while cycling an
anode-free cell (sample, event, estimate and loss records, CRCs included),
so every test starts from the same known-good log and changes one thing.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np

from afbms.logrecords import DEVICE_EPOCH, make_records
from afbms.protocol.enums import EventKind, Fault, LogKind, Severity, State

DEVICE = "e6614c311b2a7d35"
OTHER_DEVICE = "e6614c311b2a0001"
START_T_S = int((datetime(2026, 3, 2, 9, 0, tzinfo=UTC) - DEVICE_EPOCH).total_seconds())


def synthetic_log(
    cycles: int = 8,
    *,
    period_s: int = 60,
    capacity_uah: int = 3000,
    current_ua: int = 1500,
    ce: float = 0.99,
    first_seq: int = 1,
    device_eol: bool = True,
    incidents: bool = True,
) -> np.ndarray:
    """Records of ``cycles`` charge/discharge cycles, by seq, as the firmware logs them.

    Charge at +current, rest, discharge at -current, rest; inventory shrinks by
    (1 - ce) per cycle. With ``incidents``: a voltage drop (cycle 3), a
    suspected short (cycle 5) and an over-temperature fault with a FAULT
    period (cycle 6). ``device_eol``: LOSS records carry cycles_to_eol
    (else -1, as the placeholder estimator sends).
    """
    rows: list[dict[str, int]] = []
    t = [START_T_S]
    state = [int(State.IDLE)]
    faults = [0]

    def emit(kind: LogKind, code: int, aux: int, *v: int, t_ms: int = 0) -> None:
        rows.append(
            {"seq": first_seq + len(rows), "t_s": t[0], "t_ms": t_ms, "kind": int(kind),
             "code": code, "aux": aux, "faults": faults[0],
             **{f"v{i}": int(x) for i, x in enumerate(v)}}
        )  # fmt: skip

    def vipt(v: float, i: float, p: float, temp: float) -> tuple[int, int, int, int]:
        return round(v * 1e6), round(i), round(p), round(temp * 1e3)

    emit(LogKind.EVENT, int(EventKind.BOOT), 0, 0, 1, 0, 0, 0)
    inventory = float(capacity_uah)
    sei = dead = 0.0
    plated = 0.0  # µAh on the collector
    net = 0.0  # cycle charge µAh
    n_closed = 0
    ce_history: list[float] = []
    half_samples = int(capacity_uah / current_ua * 3600 / period_s)
    rest_samples = max(2, 600 // period_s)
    rng = np.random.default_rng(7)

    def set_state(new: State, snapshot: tuple[int, int, int, int]) -> None:
        if state[0] != int(new):
            prev = state[0]
            state[0] = int(new)
            emit(LogKind.EVENT, int(EventKind.STATE_CHANGE), int(Severity.INFO), prev, *snapshot)

    def sample(v: float, i: float, p: float, temp: float) -> tuple[int, int, int, int]:
        snap = vipt(v, i, p, temp)
        emit(LogKind.SAMPLE, state[0], 0, *snap, round(net))
        t[0] += period_s
        return snap

    def pressure() -> float:
        return 1.5e6 + 0.35e6 * plated / capacity_uah + 0.02e6 * (sei + dead) / capacity_uah * 10

    def temperature(i: float) -> float:
        return 25.0 + 0.4 * abs(i) / current_ua + 0.15 * math.sin(t[0] / 5000) + rng.normal(0, 0.03)

    for cycle in range(1, cycles + 1):
        # Charge: plating onto the bare collector (nucleation overpotential first).
        set_state(State.CHARGE, vipt(3.4, current_ua, pressure(), 25))
        charge_uah = inventory
        for k in range(half_samples):
            soc = k / half_samples
            dq = current_ua * period_s / 3600
            plated += dq * (1 - (1 - ce) / 2)
            sei += dq * (1 - ce) / 2
            net += dq
            v = 3.55 + 0.55 * soc + 0.08 * math.exp(-k / 3) + 0.1 * soc**8 + rng.normal(0, 4e-4)
            if incidents and cycle == 3 and k == half_samples // 2:
                v -= 0.045
                snap = vipt(v, current_ua, pressure(), temperature(current_ua))
                emit(
                    LogKind.EVENT, int(EventKind.VOLTAGE_DROP), int(Severity.WARNING), 45000, *snap
                )
            if incidents and cycle == 5 and k == int(half_samples * 0.8):
                snap = vipt(v, current_ua, pressure(), temperature(current_ua))
                emit(LogKind.EVENT, int(EventKind.SHORT_SUSPECTED), int(Severity.WARNING), 1800,
                     *snap)  # fmt: skip
            if plated >= charge_uah:
                break
            sample(v, current_ua, pressure(), temperature(current_ua))
        set_state(State.IDLE, vipt(4.1, 0, pressure(), 25))
        for _ in range(rest_samples):
            sample(4.12, 0, pressure(), temperature(0))
        if incidents and cycle == 6:
            faults[0] = int(Fault.OVER_TEMPERATURE)
            snap = vipt(4.1, 0, pressure(), 47.5)
            emit(LogKind.EVENT, int(EventKind.FAULT_SET), int(Severity.ALARM), faults[0], *snap)
            set_state(State.FAULT, snap)
            for k in range(rest_samples * 2):
                sample(4.1 - 0.001 * k, 0, pressure(), 26 + 21.5 * math.exp(-k / 4))
            cleared = faults[0]
            faults[0] = 0
            emit(LogKind.EVENT, int(EventKind.FAULTS_CLEARED), int(Severity.INFO), cleared,
                 *vipt(4.08, 0, pressure(), 26))  # fmt: skip
            set_state(State.IDLE, vipt(4.08, 0, pressure(), 26))
        # Discharge: stripping; the last of the plated metal goes with a voltage collapse.
        set_state(State.DISCHARGE, vipt(4.05, -current_ua, pressure(), 25))
        out = 0.0
        available = plated
        for _ in range(half_samples * 2):
            dq = current_ua * period_s / 3600
            if out + dq > available * ce:
                break
            out += dq
            plated -= dq
            dead += dq * (1 - ce) / 2
            plated -= dq * (1 - ce) / 2
            net -= dq
            soc = 1 - out / available
            v = 3.45 + 0.5 * soc - 0.06 - 0.5 * max(0.0, 0.06 - soc) / 0.06 + rng.normal(0, 4e-4)
            sample(v, -current_ua, pressure(), temperature(current_ua))
        set_state(State.IDLE, vipt(3.2, 0, pressure(), 25))
        for _ in range(rest_samples):
            sample(3.25, 0, pressure(), temperature(0))
        # The next charge closes the cycle: the estimator logs ESTIMATE and LOSS.
        if cycle < cycles:
            set_state(State.CHARGE, vipt(3.4, current_ua, pressure(), 25))
            snap = sample(3.5, current_ua, pressure(), temperature(current_ua))
            t[0] -= period_s
            n_closed += 1
            ce_last = out / charge_uah
            inventory = out
            inv_ppm = round(inventory / capacity_uah * 1e6)
            fade = 1 - ce_last
            to_eol = round((inventory / capacity_uah - 0.8) / fade) if device_eol else -1
            ce_history.append(ce_last)
            emit(LogKind.ESTIMATE, 0, n_closed & 0xFFFF, round(inventory), inv_ppm,
                 round(ce_last * 1e6), round(float(np.mean(ce_history)) * 1e6),
                 n_closed)  # fmt: skip
            emit(LogKind.LOSS, 0, n_closed & 0xFFFF, round(sei), round(dead),
                 round(plated / capacity_uah * 14550), round(dead / capacity_uah * 14550),
                 to_eol)  # fmt: skip
            t[0] += period_s
            net = 0.0
            del snap
    return make_records(rows)


def pages(records: np.ndarray, size: int = 24) -> list[np.ndarray]:
    """The records cut into LOG_DATA-sized pages."""
    return [records[i : i + size] for i in range(0, len(records), size)]
