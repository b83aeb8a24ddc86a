"""bms.protection.Protection under CPython: start from a known-good state, change one thing.

The helpers at the top (FakeOutput, Store, Reading, Rig, LIMITS) are shared with
the property tests in this folder.
"""

import pytest

from bms import faults, protection, wire
from bms.protection import Protection

DEBOUNCE = 3
LIMITS = {
    wire.CFG_V_MAX_UV: 4_250_000,
    wire.CFG_V_MIN_UV: 3_000_000,
    wire.CFG_I_CHARGE_MAX_UA: 5_000,
    wire.CFG_I_DISCHARGE_MAX_UA: 5_000,
    wire.CFG_T_MAX_MC: 60_000,
    wire.CFG_T_MIN_MC: 0,
    wire.CFG_P_MIN_PA: 1_000_000,
    wire.CFG_P_MAX_PA: 40_000_000,
    wire.CFG_DEBOUNCE_SAMPLES: DEBOUNCE,
}
GOOD = {
    "voltage_uv": 3_700_000,
    "current_ua": 0,
    "pressure_pa": 5_000_000,
    "temperature_mc": 25_000,
}
RUNNING = (wire.STATE_IDLE, wire.STATE_CHARGE, wire.STATE_DISCHARGE)


class FakeOutput:
    """A path enable that records every set()."""

    def __init__(self):
        self.history = []

    def set(self, on):
        self.history.append(bool(on))

    @property
    def on(self):
        return bool(self.history) and self.history[-1]


class Store:
    """Persistence of the latched mask (a dict standing in for the file)."""

    def __init__(self, mask=0):
        self.data = {"latched": mask} if mask else {}
        self.saves = []
        self.loads = 0
        self.on_load = None

    def load(self):
        self.loads += 1
        if self.on_load is not None:
            self.on_load()
        return self.data.get("latched", 0)

    def save(self, mask):
        self.saves.append(mask)
        self.data["latched"] = mask


class Reading:
    """Sample stand-in: the attributes Protection reads."""

    def __init__(self, **values):
        self.t_ms = 0
        self.errors = 0
        for name, value in GOOD.items():
            setattr(self, name, value)
        for name, value in values.items():
            setattr(self, name, value)


class Rig:
    """A configured Protection with fake outputs and persistence."""

    def __init__(self, store=None, limits=None, configure=True):
        self.store = store if store is not None else Store()
        self.chg = FakeOutput()
        self.dis = FakeOutput()
        self.p = Protection(self.chg, self.dis, self.store.load, self.store.save)
        self.t_ms = 0
        if configure:
            self.p.configure((limits or LIMITS).__getitem__)

    def feed(self, n=1, **values):
        """n updates with the known-good readings changed by ``values``; the last state."""
        state = None
        for _ in range(n):
            self.t_ms += 100
            state = self.p.update(Reading(t_ms=self.t_ms, **values))
        return state

    @property
    def outputs(self):
        return (self.chg.on, self.dis.on)


ON = (True, True)
OFF = (False, False)


def running():
    rig = Rig()
    assert rig.feed(2) == wire.STATE_IDLE
    assert rig.outputs == ON
    return rig


# name, attribute, limit value, tripping value, just inside (still active), released, bit
LIMIT_CASES = [
    ("over_voltage", "voltage_uv", 4_250_000, 4_250_001, 4_200_001, 4_200_000,
     wire.FAULT_OVER_VOLTAGE),
    ("under_voltage", "voltage_uv", 3_000_000, 2_999_999, 3_049_999, 3_050_000,
     wire.FAULT_UNDER_VOLTAGE),
    ("over_current_charge", "current_ua", 5_000, 5_001, 4_751, 4_750,
     wire.FAULT_OVER_CURRENT_CHARGE),
    ("over_current_discharge", "current_ua", -5_000, -5_001, -4_751, -4_750,
     wire.FAULT_OVER_CURRENT_DISCHARGE),
    ("over_temperature", "temperature_mc", 60_000, 60_001, 58_001, 58_000,
     wire.FAULT_OVER_TEMPERATURE),
    ("under_temperature", "temperature_mc", 0, -1, 1_999, 2_000,
     wire.FAULT_UNDER_TEMPERATURE),
    ("pressure_low", "pressure_pa", 1_000_000, 999_999, 1_049_999, 1_050_000,
     wire.FAULT_PRESSURE_LOW),
    ("pressure_high", "pressure_pa", 40_000_000, 40_000_001, 38_000_001, 38_000_000,
     wire.FAULT_PRESSURE_HIGH),
]  # fmt: skip
IDS = [c[0] for c in LIMIT_CASES]
# Under-voltage is the anode-free cell's normal end of discharge: not blocking.
BLOCKING_CASES = [c for c in LIMIT_CASES if c[6] != wire.FAULT_UNDER_VOLTAGE]
BLOCKING_IDS = [c[0] for c in BLOCKING_CASES]


# ----------------------------------------------------------------- construction, INIT


def test_constructor_sets_outputs_off_before_loading():
    store = Store()
    seen = []
    rig_outputs = []

    def on_load():
        seen.append(tuple(o.history[:] for o in rig_outputs))

    store.on_load = on_load
    chg, dis = FakeOutput(), FakeOutput()
    rig_outputs.extend([chg, dis])
    p = Protection(chg, dis, store.load, store.save)
    assert len(seen) == 1
    for history in seen[0]:  # both already set, and only ever off
        assert history
        assert set(history) == {False}
    assert store.loads == 1
    assert p.state == wire.STATE_INIT
    assert (chg.on, dis.on) == OFF


def test_init_until_first_update_and_nothing_saved():
    rig = Rig()
    assert rig.p.state == wire.STATE_INIT
    assert rig.outputs == OFF
    assert rig.store.saves == []
    assert rig.feed() == wire.STATE_IDLE
    assert rig.p.prev_state == wire.STATE_INIT
    assert rig.outputs == ON


def test_update_before_configure_keeps_outputs_off():
    rig = Rig(configure=False)
    assert rig.feed(5) == wire.STATE_INIT
    assert rig.outputs == OFF
    assert True not in rig.chg.history + rig.dis.history


def test_unknown_persisted_bits_are_dropped():
    rig = Rig(store=Store(1 << 30 | wire.FAULT_WATCHDOG_RESET))
    assert rig.p.latched == wire.FAULT_WATCHDOG_RESET


# ----------------------------------------------------------------- states


@pytest.mark.parametrize(
    "current,state",
    [
        (0, wire.STATE_IDLE),
        (protection.REST_UA - 1, wire.STATE_IDLE),
        (-(protection.REST_UA - 1), wire.STATE_IDLE),
        (protection.REST_UA, wire.STATE_CHARGE),
        (4_000, wire.STATE_CHARGE),
        (-protection.REST_UA, wire.STATE_DISCHARGE),
        (-4_000, wire.STATE_DISCHARGE),
    ],
)
def test_state_follows_current(current, state):
    rig = running()
    assert rig.feed(current_ua=current) == state
    assert rig.outputs == ON


def test_transitions_report_prev_state():
    rig = running()
    rig.feed(current_ua=1_000)
    assert (rig.p.prev_state, rig.p.state) == (wire.STATE_IDLE, wire.STATE_CHARGE)
    rig.feed(current_ua=-1_000)
    assert (rig.p.prev_state, rig.p.state) == (wire.STATE_CHARGE, wire.STATE_DISCHARGE)
    rig.feed(voltage_uv=5_000_000, current_ua=-1_001, n=DEBOUNCE)
    assert (rig.p.prev_state, rig.p.state) == (wire.STATE_DISCHARGE, wire.STATE_FAULT)
    rig.feed(current_ua=-1_000)
    assert (rig.p.prev_state, rig.p.state) == (wire.STATE_FAULT, wire.STATE_FAULT)


def test_rest_threshold_is_an_attribute():
    rig = running()
    rig.p.rest_ua = 500
    assert rig.feed(current_ua=499) == wire.STATE_IDLE
    assert rig.feed(current_ua=500) == wire.STATE_CHARGE


# ----------------------------------------------------------------- limits


@pytest.mark.parametrize("case", BLOCKING_CASES, ids=BLOCKING_IDS)
def test_limit_trips_after_exactly_debounce_samples(case):
    _, attr, _, bad, _, _, bit = case
    rig = running()
    rig.feed(DEBOUNCE - 1, **{attr: bad})
    assert rig.p.latched == 0
    assert rig.p.active == 0
    assert rig.outputs == ON
    assert rig.p.state in RUNNING
    rig.feed(**{attr: bad})
    assert rig.p.latched == bit
    assert rig.p.active == bit
    assert rig.p.new_faults == bit
    assert rig.p.state == wire.STATE_FAULT
    assert rig.outputs == OFF  # in the very update that tripped
    assert rig.store.saves == [bit]
    rig.feed(3, **{attr: bad})
    assert rig.p.new_faults == 0
    assert rig.store.saves == [bit]  # saved on change only


@pytest.mark.parametrize("case", LIMIT_CASES, ids=IDS)
def test_at_the_limit_is_not_a_violation(case):
    _, attr, limit, _, _, _, _ = case
    rig = running()
    rig.feed(10, **{attr: limit})
    assert rig.p.latched == 0
    assert rig.outputs == ON


@pytest.mark.parametrize("case", LIMIT_CASES, ids=IDS)
def test_interrupted_violation_does_not_trip(case):
    _, attr, _, bad, _, _, _ = case
    rig = running()
    for _ in range(4):
        rig.feed(DEBOUNCE - 1, **{attr: bad})
        rig.feed()
    assert rig.p.latched == 0
    assert rig.outputs == ON


@pytest.mark.parametrize("case", BLOCKING_CASES, ids=BLOCKING_IDS)
def test_hysteresis_and_clear(case):
    _, attr, limit, bad, inside, released, bit = case
    rig = running()
    rig.feed(DEBOUNCE, **{attr: bad})
    assert rig.p.latched == bit
    for value in (limit, inside):  # back inside the limit but not by the margin
        rig.feed(2, **{attr: value})
        assert rig.p.active == bit
        assert rig.p.clear(bit) == bit
        assert rig.p.cleared == 0
        assert rig.p.latched == bit
        assert rig.outputs == OFF
    rig.feed(**{attr: released})
    assert rig.p.active == 0
    assert rig.p.latched == bit  # still latched: only clear() removes it
    assert rig.feed() == wire.STATE_FAULT
    assert rig.outputs == OFF
    assert rig.p.clear(bit) == 0
    assert rig.p.cleared == bit
    assert rig.store.saves == [bit, 0]
    assert rig.outputs == OFF  # clear() never enables; the next update does
    assert rig.feed() == wire.STATE_IDLE
    assert rig.outputs == ON


def test_a_new_trip_below_the_release_threshold_needs_debounce_again():
    rig = running()
    rig.feed(DEBOUNCE, voltage_uv=4_300_000)
    rig.feed(voltage_uv=4_100_000)
    rig.p.clear(0)
    rig.feed()
    rig.feed(DEBOUNCE - 1, voltage_uv=4_300_000)
    assert rig.p.latched == 0
    rig.feed(voltage_uv=4_300_000)
    assert rig.p.latched == wire.FAULT_OVER_VOLTAGE


def test_clear_mask_zero_clears_every_inactive_bit():
    rig = running()
    rig.feed(DEBOUNCE, voltage_uv=4_300_000, temperature_mc=70_000)
    rig.p.latch(wire.FAULT_SHORT_SOFT)
    rig.feed(temperature_mc=70_000)  # voltage released, temperature still high
    assert rig.p.clear(0) == wire.FAULT_OVER_TEMPERATURE
    assert rig.p.cleared == wire.FAULT_OVER_VOLTAGE | wire.FAULT_SHORT_SOFT
    assert rig.store.data["latched"] == wire.FAULT_OVER_TEMPERATURE


def test_clear_of_an_unlatched_mask_saves_nothing():
    rig = running()
    assert rig.p.clear(wire.FAULT_OVER_VOLTAGE) == 0
    assert rig.store.saves == []


def test_debounce_from_config():
    limits = dict(LIMITS)
    limits[wire.CFG_DEBOUNCE_SAMPLES] = 1
    rig = Rig(limits=limits)
    rig.feed()
    rig.feed(voltage_uv=4_300_000)
    assert rig.p.latched == wire.FAULT_OVER_VOLTAGE
    limits[wire.CFG_DEBOUNCE_SAMPLES] = 0  # treated as 1
    rig = Rig(limits=limits)
    rig.feed(voltage_uv=4_300_000)
    assert rig.p.latched == wire.FAULT_OVER_VOLTAGE


def test_reconfigure_moves_the_limits():
    rig = running()
    limits = dict(LIMITS)
    limits[wire.CFG_V_MAX_UV] = 3_600_000
    rig.p.configure(limits.__getitem__)
    rig.feed(DEBOUNCE)  # 3.7 V is now over the limit
    assert rig.p.latched == wire.FAULT_OVER_VOLTAGE


# ----------------------------------------------------------------- persistence


def test_latched_faults_survive_a_reboot_and_block_from_the_first_update():
    rig = running()
    rig.feed(DEBOUNCE, pressure_pa=50_000_000)
    assert rig.store.data["latched"] == wire.FAULT_PRESSURE_HIGH
    again = Rig(store=rig.store)
    assert again.p.latched == wire.FAULT_PRESSURE_HIGH
    assert again.p.state == wire.STATE_INIT
    assert again.feed() == wire.STATE_FAULT  # good readings, but still latched
    assert again.p.new_faults == 0
    assert True not in again.chg.history + again.dis.history
    assert again.p.clear(0) == 0
    assert again.feed() == wire.STATE_IDLE


def test_reset_reloads_from_persistence():
    rig = running()
    rig.feed(DEBOUNCE, temperature_mc=-5_000)
    rig.store.data["latched"] |= wire.FAULT_SHORT_HARD  # written by another instance
    rig.p.reset()
    assert rig.p.state == wire.STATE_INIT
    assert rig.p.prev_state == wire.STATE_FAULT
    assert rig.p.latched == wire.FAULT_UNDER_TEMPERATURE | wire.FAULT_SHORT_HARD
    assert rig.p.active == 0
    assert rig.outputs == OFF
    assert rig.feed() == wire.STATE_FAULT
    assert rig.outputs == OFF


def test_clear_before_any_reading_keeps_reading_based_faults():
    store = Store(wire.FAULT_OVER_VOLTAGE | wire.FAULT_SHORT_SOFT | wire.FAULT_SENSOR_PRESSURE)
    rig = Rig(store=store)
    # Nothing seen yet: the voltage/sensor conditions are unknown, a short is not ours.
    assert rig.p.clear(0) == wire.FAULT_OVER_VOLTAGE | wire.FAULT_SENSOR_PRESSURE
    rig.feed(errors=wire.FAULT_SENSOR_CURRENT)  # blind for voltage: still unknown
    assert rig.p.clear(wire.FAULT_OVER_VOLTAGE) & wire.FAULT_OVER_VOLTAGE
    rig.feed()
    assert rig.p.clear(0) == 0
    assert rig.feed() == wire.STATE_IDLE


# ----------------------------------------------------------------- sensors

SENSORS = [
    (wire.FAULT_SENSOR_CURRENT, "voltage_uv", 9_000_000, wire.FAULT_OVER_VOLTAGE),
    (wire.FAULT_SENSOR_PRESSURE, "pressure_pa", 90_000_000, wire.FAULT_PRESSURE_HIGH),
    (wire.FAULT_SENSOR_TEMPERATURE, "temperature_mc", 120_000, wire.FAULT_OVER_TEMPERATURE),
]


@pytest.mark.parametrize("bit,attr,garbage,limit_bit", SENSORS)
def test_sensor_read_failure_trips_immediately(bit, attr, garbage, limit_bit):
    rig = running()
    rig.feed(errors=bit, **{attr: garbage})
    assert rig.p.latched == bit  # garbage of a failed read is not a limit violation
    assert rig.p.new_faults == bit
    assert rig.p.state == wire.STATE_FAULT
    assert rig.outputs == OFF
    rig.feed(DEBOUNCE + 1, errors=bit, **{attr: garbage})
    assert rig.p.latched == bit
    assert rig.p.clear(bit) == bit  # still failing
    rig.feed()
    assert rig.p.clear(bit) == 0
    assert rig.feed() == wire.STATE_IDLE


def test_other_error_bits_are_ignored():
    rig = running()
    rig.feed(errors=wire.FAULT_LOG_ERROR | wire.FAULT_OVER_VOLTAGE)
    assert rig.p.latched == 0


PLAUSIBILITY = [
    ("voltage_uv", protection.V_PLAUSIBLE_MAX_UV + 1, wire.FAULT_SENSOR_CURRENT),
    ("voltage_uv", protection.V_PLAUSIBLE_MIN_UV - 1, wire.FAULT_SENSOR_CURRENT),
    ("pressure_pa", protection.P_PLAUSIBLE_PA + 1, wire.FAULT_SENSOR_PRESSURE),
    ("pressure_pa", -protection.P_PLAUSIBLE_PA - 1, wire.FAULT_SENSOR_PRESSURE),
    ("temperature_mc", protection.T_PLAUSIBLE_MAX_MC + 1, wire.FAULT_SENSOR_TEMPERATURE),
    ("temperature_mc", protection.T_PLAUSIBLE_MIN_MC - 1, wire.FAULT_SENSOR_TEMPERATURE),
]


@pytest.mark.parametrize("attr,value,bit", PLAUSIBILITY)
def test_implausible_reading_is_a_debounced_sensor_fault(attr, value, bit):
    rig = running()
    rig.feed(DEBOUNCE - 1, **{attr: value})
    assert rig.p.latched == 0
    assert rig.outputs == ON
    rig.feed(**{attr: value})
    assert rig.p.latched == bit  # not the limit of that quantity
    assert rig.outputs == OFF
    rig.feed()
    assert rig.p.clear(0) == 0


def test_plausibility_bounds_are_inclusive():
    rig = running()
    rig.p.configure({**LIMITS, wire.CFG_V_MAX_UV: 6_000_000}.__getitem__)
    rig.feed(10, voltage_uv=protection.V_PLAUSIBLE_MAX_UV)
    assert rig.p.latched == 0


def test_limits_hold_while_the_sensor_is_blind():
    rig = running()
    rig.feed(DEBOUNCE - 1, voltage_uv=4_300_000)
    rig.feed(errors=wire.FAULT_SENSOR_CURRENT, voltage_uv=3_700_000)  # no information
    rig.feed(voltage_uv=4_300_000)
    assert rig.p.latched & wire.FAULT_OVER_VOLTAGE  # the count was not reset
    rig.feed(errors=wire.FAULT_SENSOR_CURRENT, voltage_uv=3_700_000)
    assert rig.p.active & wire.FAULT_OVER_VOLTAGE  # nor released by a failed read


# ----------------------------------------------------------------- stuck


def test_stuck_reading_trips_after_stuck_samples():
    n = protection.STUCK_SAMPLES
    rig = running()
    rig.feed(n - 1, current_ua=1_000)
    assert rig.p.latched == 0
    assert rig.p.state == wire.STATE_CHARGE
    rig.feed(current_ua=1_000)
    assert rig.p.latched == wire.FAULT_SENSOR_STUCK
    assert rig.outputs == OFF
    assert rig.p.clear(0) == wire.FAULT_SENSOR_STUCK
    rig.feed(current_ua=1_001)  # the reading moves again
    assert rig.p.active == 0
    assert rig.p.clear(0) == 0


def test_steady_readings_at_rest_are_not_stuck():
    rig = running()
    rig.feed(10 * protection.STUCK_SAMPLES, current_ua=protection.REST_UA - 1)
    assert rig.p.latched == 0


def test_changing_readings_under_current_are_not_stuck():
    rig = running()
    for k in range(10 * protection.STUCK_SAMPLES):
        rig.feed(current_ua=1_000, voltage_uv=3_700_000 + (k % 2) * 195)
        rig.feed(current_ua=1_000 + (k % 2), voltage_uv=3_700_000)
    assert rig.p.latched == 0


def test_stuck_count_restarts_after_rest_and_read_failures():
    n = protection.STUCK_SAMPLES
    rig = running()
    rig.feed(n - 1, current_ua=1_000)
    rig.feed()  # rest
    rig.feed(n - 1, current_ua=1_000)
    assert rig.p.latched == 0


def test_stuck_detector_can_be_disabled():
    rig = running()
    rig.p.stuck_samples = 0
    rig.feed(5 * protection.STUCK_SAMPLES, current_ua=1_000)
    assert rig.p.latched == 0


# ----------------------------------------------------------------- latch() from elsewhere


@pytest.mark.parametrize("bit", [wire.FAULT_WATCHDOG_RESET, wire.FAULT_LOG_ERROR])
def test_non_blocking_faults_leave_the_outputs_on(bit):
    rig = running()
    rig.feed(current_ua=-1_000)
    assert rig.p.latch(bit) == bit
    assert rig.p.new_faults == bit
    assert rig.p.state == wire.STATE_DISCHARGE
    assert rig.outputs == ON
    assert rig.feed(current_ua=-1_000) == wire.STATE_DISCHARGE
    assert rig.outputs == ON
    assert rig.p.latched == bit
    assert rig.store.saves == [bit]


@pytest.mark.parametrize(
    "bit", [wire.FAULT_SHORT_SOFT, wire.FAULT_SHORT_HARD, wire.FAULT_CONFIG_INVALID]
)
def test_blocking_latch_turns_outputs_off_in_the_call(bit):
    rig = running()
    rig.feed(current_ua=1_000)
    rig.p.latch(bit)
    assert rig.outputs == OFF
    assert rig.p.state == wire.STATE_FAULT
    assert (rig.p.prev_state, rig.p.new_faults) == (wire.STATE_CHARGE, bit)
    assert rig.store.saves == [bit]
    rig.p.latch(bit)
    assert rig.p.new_faults == 0
    assert rig.store.saves == [bit]
    assert rig.p.clear(bit) == 0  # nothing of ours keeps it active
    assert rig.feed() == wire.STATE_IDLE


def test_latch_before_first_update_stays_init_with_outputs_off():
    rig = Rig()
    rig.p.latch(wire.FAULT_CONFIG_INVALID | wire.FAULT_WATCHDOG_RESET)
    assert rig.p.state == wire.STATE_INIT
    assert rig.outputs == OFF
    assert rig.feed() == wire.STATE_FAULT


def test_change_reports_reset_on_every_call():
    rig = running()
    rig.p.latch(wire.FAULT_WATCHDOG_RESET)
    rig.feed()
    assert rig.p.new_faults == 0
    rig.p.clear(0)
    assert rig.p.cleared == wire.FAULT_WATCHDOG_RESET
    rig.feed()
    assert rig.p.cleared == 0


# ----------------------------------------------------------------- maintenance


def test_maintenance_keeps_outputs_off_and_still_latches():
    rig = running()
    rig.p.enter_maintenance()
    assert rig.p.state == wire.STATE_MAINTENANCE
    assert rig.outputs == OFF
    assert rig.feed(5, current_ua=1_000) == wire.STATE_MAINTENANCE
    assert rig.outputs == OFF
    rig.feed(DEBOUNCE, voltage_uv=4_400_000)
    assert rig.p.latched == wire.FAULT_OVER_VOLTAGE
    assert rig.p.new_faults == wire.FAULT_OVER_VOLTAGE
    assert rig.p.state == wire.STATE_MAINTENANCE
    rig.p.latch(wire.FAULT_SHORT_HARD)
    assert rig.p.state == wire.STATE_MAINTENANCE
    rig.feed()
    assert rig.p.clear(0) == 0
    assert rig.feed() == wire.STATE_MAINTENANCE
    assert rig.outputs == OFF
    rig.p.leave_maintenance()
    assert (rig.p.prev_state, rig.p.state) == (wire.STATE_MAINTENANCE, wire.STATE_INIT)
    assert rig.outputs == OFF
    assert rig.feed() == wire.STATE_IDLE
    assert rig.outputs == ON


def test_reset_leaves_maintenance():
    rig = running()
    rig.p.enter_maintenance()
    rig.p.reset()
    assert rig.p.state == wire.STATE_INIT
    assert rig.feed() == wire.STATE_IDLE


def test_leave_maintenance_outside_maintenance_changes_nothing():
    rig = running()
    rig.p.leave_maintenance()
    assert rig.p.state == wire.STATE_IDLE
    assert rig.outputs == OFF  # conservative: outputs off until the next update
    assert rig.feed() == wire.STATE_IDLE
    assert rig.outputs == ON


def test_every_fault_bit_is_handled_by_severity():
    for bit in [1 << k for k in range(17)]:
        rig = running()
        rig.p.latch(bit)
        rig.feed()
        assert rig.outputs == (OFF if faults.blocking(bit) else ON), hex(bit)


def test_under_voltage_holds_only_the_discharge_path_off():
    rig = running()
    rig.feed(DEBOUNCE, voltage_uv=2_900_000)
    assert rig.p.latched == wire.FAULT_UNDER_VOLTAGE
    assert rig.p.state == wire.STATE_IDLE and rig.outputs == (True, False)  # charging allowed
    rig.feed(voltage_uv=3_100_000)  # back above the cutoff by the margin
    assert rig.outputs == ON and rig.p.latched == wire.FAULT_UNDER_VOLTAGE  # a record only
    assert rig.p.clear(0) == 0


def test_fresh_anode_free_cell_can_be_charged_from_a_low_voltage():
    rig = Rig()
    rig.feed(DEBOUNCE + 2, voltage_uv=1_800_000, current_ua=0)
    assert rig.outputs == (True, False)
    rig.feed(current_ua=1_000, voltage_uv=1_900_000)
    assert rig.p.state == wire.STATE_CHARGE and rig.outputs[0]
