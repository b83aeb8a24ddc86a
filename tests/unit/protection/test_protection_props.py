"""Properties of bms.protection.Protection over random readings and commands (hypothesis).

* No sequence of readings and commands (update, latch, clear, maintenance,
  reset, reboot, reconfigure) ever leaves an output on while a blocking fault
  is latched, and an output is never on in FAULT, INIT or MAINTENANCE.
* A latched fault never disappears except through clear(), and only when its
  condition is inactive; persistence always holds the latched mask.
* Each limit follows a reference model of debounce and hysteresis exactly.
"""

from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from bms import faults, protection, wire
from bms.protection import Protection
from tests.unit.protection.test_protection import (
    GOOD,
    LIMIT_CASES,
    LIMITS,
    FakeOutput,
    Reading,
    Rig,
    Store,
)

SAFE_STATES = (wire.STATE_FAULT, wire.STATE_INIT, wire.STATE_MAINTENANCE)


def _around(edges, lo, hi):
    return st.one_of(st.sampled_from(edges), st.integers(lo, hi))


VOLTS = _around(
    [-1, 0, 2_999_999, 3_000_000, 3_049_999, 3_050_000, 3_700_000, 4_200_000, 4_200_001,
     4_250_000, 4_250_001, 6_000_000, 6_000_001],
    -200_000, 7_000_000,
)  # fmt: skip
AMPS = _around(
    [-5_001, -5_000, -4_751, -4_750, -20, -19, 0, 19, 20, 4_750, 4_751, 5_000, 5_001],
    -12_000,
    12_000,
)
PASCALS = _around(
    [-100_000_001, 999_999, 1_000_000, 1_050_000, 5_000_000, 38_000_000, 40_000_001,
     100_000_001],
    -150_000_000, 150_000_000,
)  # fmt: skip
MILLIDEGREES = _around([-55_001, -1, 0, 2_000, 25_000, 58_000, 60_001, 150_001], -80_000, 200_000)
ERRORS = st.one_of(
    st.just(0),
    st.just(0),
    st.just(0),
    st.integers(0, 7).map(lambda k: k << 8),  # SENSOR_CURRENT/PRESSURE/TEMPERATURE
)
READINGS = st.builds(
    Reading,
    voltage_uv=VOLTS,
    current_ua=AMPS,
    pressure_pa=PASCALS,
    temperature_mc=MILLIDEGREES,
    errors=ERRORS,
)
MASKS = st.one_of(
    st.just(0),
    st.sampled_from([1 << k for k in range(17)]),
    st.integers(0, faults.ALL),
    st.integers(0, (1 << 31) - 1),  # unknown bits too
)


class ProtectionMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.store = Store()
        self.limits = dict(LIMITS)
        self.maintenance = False  # the model: entered and not yet left
        self._build()
        self.last = Reading()

    def _build(self):
        self.chg = FakeOutput()
        self.dis = FakeOutput()
        self.p = Protection(self.chg, self.dis, self.store.load, self.store.save)
        self.p.configure(self.limits.__getitem__)
        self.before = self.p.latched

    def _monotonic(self):
        assert self.p.latched & self.before == self.before, "a latched fault vanished"
        self.before = self.p.latched

    @rule(reading=READINGS)
    def update(self, reading):
        self.last = reading
        self.p.update(reading)
        self._monotonic()

    @rule(n=st.integers(1, 20))
    def repeat_last_reading(self, n):
        for _ in range(n):
            self.p.update(self.last)
            assert not (self.p.latched & faults.BLOCKING and (self.chg.on or self.dis.on))
        self._monotonic()

    @rule(n=st.integers(1, 5))
    def good_readings(self, n):
        for _ in range(n):
            self.p.update(Reading())
        self._monotonic()

    @rule(mask=MASKS)
    def latch(self, mask):
        self.p.latch(mask)
        self._monotonic()

    @rule(mask=MASKS)
    def clear(self, mask):
        before = self.p.latched
        active = self.p.active
        remaining = self.p.clear(mask)
        assert remaining == self.p.latched
        gone = before & ~remaining
        assert remaining & ~before == 0, "clear() latched something"
        allowed = (mask or faults.ALL) & ~active
        assert gone & ~allowed == 0, "clear() removed an active or unrequested fault"
        assert gone == self.p.cleared
        self.before = self.p.latched

    @rule()
    def enter_maintenance(self):
        self.p.enter_maintenance()
        self.maintenance = True
        self._monotonic()

    @rule()
    def leave_maintenance(self):
        self.p.leave_maintenance()
        self.maintenance = False
        self._monotonic()

    @rule()
    def reset(self):
        self.p.reset()
        self.maintenance = False
        self._monotonic()

    @rule()
    def reboot(self):
        latched = self.p.latched
        self.maintenance = False
        self._build()
        assert self.p.latched == latched
        assert set(self.chg.history) == set(self.dis.history) == {False}

    @rule(debounce=st.integers(0, 4), v_max=st.sampled_from([4_250_000, 4_100_000, 3_650_000]))
    def reconfigure(self, debounce, v_max):
        self.limits[wire.CFG_DEBOUNCE_SAMPLES] = debounce
        self.limits[wire.CFG_V_MAX_UV] = v_max
        self.p.configure(self.limits.__getitem__)
        self._monotonic()

    @invariant()
    def outputs_safe(self):
        p = self.p
        on = (self.chg.on, self.dis.on)
        if p.active & wire.FAULT_UNDER_VOLTAGE:  # below the discharge cutoff
            assert not on[1], "discharge path on below the discharge cutoff"
        else:
            assert on[0] == on[1], "the two paths disagree"
        if p.latched & faults.BLOCKING:
            assert on == (False, False), "output on with a blocking fault latched"
        if p.state in SAFE_STATES:
            assert on == (False, False), f"output on in state {p.state}"

    @invariant()
    def maintenance_holds(self):
        if self.maintenance:
            assert self.p.state == wire.STATE_MAINTENANCE
            assert (self.chg.on, self.dis.on) == (False, False)
        else:
            assert self.p.state != wire.STATE_MAINTENANCE

    @invariant()
    def persisted(self):
        assert self.store.data.get("latched", 0) == self.p.latched

    @invariant()
    def active_conditions_are_latched(self):
        assert self.p.active & ~self.p.latched == 0

    @invariant()
    def state_is_known(self):
        assert self.p.state in (
            wire.STATE_INIT,
            wire.STATE_IDLE,
            wire.STATE_CHARGE,
            wire.STATE_DISCHARGE,
            wire.STATE_FAULT,
            wire.STATE_MAINTENANCE,
        )


ProtectionMachine.TestCase.settings = settings(
    max_examples=300, stateful_step_count=60, deadline=None
)
TestProtectionMachine = ProtectionMachine.TestCase


@settings(max_examples=300, deadline=None)
@given(readings=st.lists(READINGS, max_size=80))
def test_random_readings_outputs_follow_latched(readings):
    rig = Rig()
    for r in readings:
        state = rig.p.update(r)
        blocked = bool(rig.p.latched & faults.BLOCKING)
        if blocked:
            assert state == wire.STATE_FAULT
        else:
            assert state in (wire.STATE_IDLE, wire.STATE_CHARGE, wire.STATE_DISCHARGE)
        under_voltage = bool(rig.p.active & wire.FAULT_UNDER_VOLTAGE)
        expected = (False, False) if blocked else (True, not under_voltage)
        assert rig.outputs == expected
        if rig.p.new_faults & faults.BLOCKING:
            assert rig.outputs == (False, False)  # safe in the update that tripped


def _model(case, values, debounce):
    """Reference debounce + hysteresis for one limit: latched flag after each value."""
    _, _, limit, bad, _, released, _ = case
    above = bad > limit  # trips above the limit (else below)
    count = 0
    active = latched = False
    out = []
    for x in values:
        beyond = x > limit if above else x < limit
        back = x <= released if above else x >= released
        if active:
            active = not back
        elif beyond:
            count += 1
            if count >= debounce:
                active = latched = True
                count = 0
        else:
            count = 0
        out.append((active, latched))
    return out


def _values_for(case):
    _, _, limit, bad, inside, released, _ = case
    step = 1 if bad > limit else -1
    edges = [limit, bad, inside, released, released - step, bad + 100 * step, released - 500 * step]
    lo, hi = min(edges), max(edges)
    return st.lists(st.one_of(st.sampled_from(edges), st.integers(lo, hi)), max_size=60)


def _limit_property(case):
    name, attr, _, _, _, _, bit = case

    @settings(max_examples=150, deadline=None)
    @given(values=_values_for(case), debounce=st.integers(1, 4))
    def check(values, debounce):
        limits = dict(LIMITS)
        limits[wire.CFG_DEBOUNCE_SAMPLES] = debounce
        rig = Rig(limits=limits)
        rig.p.stuck_samples = 0  # constant currents here are deliberate
        expected = _model(case, values, debounce)
        for x, (active, latched) in zip(values, expected, strict=True):
            rig.p.update(Reading(**{**GOOD, attr: x}))
            assert bool(rig.p.active & bit) == active
            assert bool(rig.p.latched & bit) == latched
            if bit & faults.BLOCKING:
                assert rig.outputs == ((False, False) if latched else (True, True))
            else:  # under-voltage: only the discharge path, only while active
                assert rig.outputs == (True, not active)

    check.__name__ = f"test_model_{name}"
    return check


for _case in LIMIT_CASES:
    globals()[f"test_model_{_case[0]}"] = _limit_property(_case)
del _case

assert protection.STUCK_SAMPLES >= 2
