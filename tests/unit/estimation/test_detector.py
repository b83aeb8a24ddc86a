"""Detector on synthetic traces: clean cycling raises nothing; each signature, the
escalation and the latches, one change at a time."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bms import wire
from bms.detector import Detector
from bms.estimator import Estimator
from bms.sample import Sample

from .synth import SynthCell, Trace, config_get

SHORT_EVENTS = {
    wire.EVT_VOLTAGE_DROP, wire.EVT_VOLTAGE_NOISE, wire.EVT_CHARGE_OVERRUN,
    wire.EVT_CE_COLLAPSE, wire.EVT_SELF_DISCHARGE, wire.EVT_PRESSURE_ANOMALY,
    wire.EVT_SHORT_SUSPECTED, wire.EVT_SOFT_SHORT, wire.EVT_HARD_SHORT,
}  # fmt: skip


class Rig:
    """Detector then estimator per sample, as the app calls them; events recorded."""

    def __init__(self, **cfg):
        get = config_get(**cfg)
        self.est = Estimator(get(wire.CFG_CAPACITY_UAH), get)
        self.det = Detector(self.est, get)
        self.events: list[tuple[int, int, int, int]] = []  # (seq, kind, severity, value)
        self.latched = 0

    def feed(self, gen):
        for s, state in gen:
            if self.latched & (wire.FAULT_SHORT_SOFT | wire.FAULT_SHORT_HARD):
                state = wire.STATE_FAULT
            self.det.update(s, state)
            self.latched |= self.det.latch
            if self.det.event_kind >= 0:
                self.events.append(
                    (s.seq, self.det.event_kind, self.det.event_severity, self.det.event_value)
                )
            self.est.update(s, state)
        return self

    def kinds(self):
        return [e[1] for e in self.events]

    def first(self, kind):
        for e in self.events:
            if e[1] == kind:
                return e
        return None


def warm(tr: Trace, rig: Rig, n=3, i_ua=1000):
    rig.feed(tr.rest(2))
    for _ in range(n):
        rig.feed(tr.cycle(i_ua))


def test_clean_cycles_raise_nothing():
    tr = Trace(SynthCell(), v_noise_uv=300)
    rig = Rig()
    warm(tr, rig, 6)
    assert not SHORT_EVENTS & set(rig.kinds())
    assert rig.latched == 0


@settings(max_examples=25, deadline=None)
@given(
    noise_uv=st.floats(0, 3000),
    i_ua=st.integers(200, 3000),
    r_ohm=st.floats(5, 200),
    seed=st.integers(0, 1000),
    period_ms=st.sampled_from([500, 1000, 5000]),
)
def test_no_false_alarm_on_clean_noisy_charge_curves(noise_uv, i_ua, r_ohm, seed, period_ms):
    tr = Trace(SynthCell(r_ohm=r_ohm), v_noise_uv=noise_uv, seed=seed, period_ms=period_ms)
    rig = Rig()
    rig.feed(tr.rest(10))
    rig.feed(tr.cycle(i_ua))
    rig.feed(tr.charge(i_ua))
    assert not SHORT_EVENTS & set(rig.kinds())


def drop_hook(at_seq, depth_uv, length):
    def hook(tr, s):
        if at_seq <= s.seq < at_seq + length:
            s.voltage_uv -= depth_uv

    return hook


def test_a_dip_with_recovery_is_a_voltage_drop_within_one_sample():
    tr = Trace(SynthCell(), v_noise_uv=200)
    rig = Rig()
    warm(tr, rig, 2)
    at = tr.sample.seq + 1500  # mid-charge
    tr.hooks.append(drop_hook(at, 40_000, 3))
    rig.feed(tr.charge(1000))
    ev = rig.first(wire.EVT_VOLTAGE_DROP)
    assert ev is not None and ev[0] == at and -45_000 < ev[3] < -35_000
    assert rig.first(wire.EVT_SHORT_SUSPECTED)[0] == at + 1  # escalation next sample
    assert rig.latched == 0  # one drop is a suspicion, not a confirmation


def test_repeated_drops_confirm_a_soft_short_and_latch():
    tr = Trace(SynthCell(), v_noise_uv=200)
    rig = Rig()
    warm(tr, rig, 2)
    base = tr.sample.seq
    for k in range(3):
        tr.hooks.append(drop_hook(base + 1000 + 150 * k, 30_000, 3))
    rig.feed(tr.charge(1000))
    assert rig.latched & wire.FAULT_SHORT_SOFT
    soft = rig.first(wire.EVT_SOFT_SHORT)
    assert soft is not None and soft[2] == wire.SEV_ALARM and soft[0] == base + 1300
    assert not rig.latched & wire.FAULT_SHORT_HARD


def test_drop_threshold_is_configurable():
    tr = Trace(SynthCell(), v_noise_uv=200)
    rig = Rig(drop_uv=50_000)
    warm(tr, rig, 2)
    tr.hooks.append(drop_hook(tr.sample.seq + 1500, 40_000, 3))
    rig.feed(tr.charge(1000))
    assert rig.first(wire.EVT_VOLTAGE_DROP) is None


def test_nucleation_dip_at_charge_start_is_not_a_drop():
    def nucleation(tr, s):
        # a 40 mV overpotential that relaxes over the first 1 % of the charge
        q = tr.cell.q_pl
        if tr.i_true > 0 and q < 0.01 * tr.cell.cap_uah:
            s.voltage_uv += round(40_000 * (1 - q / (0.01 * tr.cell.cap_uah)))

    tr = Trace(SynthCell(), v_noise_uv=200, period_ms=10_000, hooks=[nucleation])
    rig = Rig()
    warm(tr, rig, 3)
    assert rig.first(wire.EVT_VOLTAGE_DROP) is None


def test_hard_collapse_latches_hard_short_in_the_same_sample():
    tr = Trace(SynthCell())
    rig = Rig()
    warm(tr, rig, 2)
    at = tr.sample.seq + 800

    def collapse(tr_, s):
        if s.seq >= at:
            s.voltage_uv = 150_000

    tr.hooks.append(collapse)
    rig.feed(tr.charge(1000, max_s=900))
    ev = rig.first(wire.EVT_HARD_SHORT)
    assert ev is not None and ev[0] == at and ev[2] == wire.SEV_CRITICAL
    assert rig.latched & wire.FAULT_SHORT_HARD


def test_the_anode_knee_at_the_end_of_discharge_is_not_a_hard_short():
    tr = Trace(SynthCell(), period_ms=60_000)  # the whole knee falls between two samples
    rig = Rig(v_min_uv=2_500_000)
    warm(tr, rig, 4)
    assert rig.first(wire.EVT_HARD_SHORT) is None and rig.latched == 0


def test_current_step_is_an_ir_step_not_a_short():
    tr = Trace(SynthCell(r_ohm=400))  # 0.4 V IR at 1 mA
    rig = Rig()
    warm(tr, rig, 1)
    rig.feed(tr.charge(1000, max_s=1200))
    rig.feed(tr.rest(600))  # charge stops: V falls by the IR drop at once
    assert rig.first(wire.EVT_HARD_SHORT) is None and rig.first(wire.EVT_VOLTAGE_DROP) is None


def test_voltage_decay_at_rest_is_self_discharge_with_a_leak_estimate():
    tr = Trace(SynthCell())
    rig = Rig()
    warm(tr, rig, 2)
    rig.feed(tr.charge(1000))
    leak_ua = 50.0  # 5 %/h of 1 mAh: well above the 1 %/h default

    def leak(tr_, s):
        tr_.cell.q_cat += leak_ua * tr_.period_ms / 3_600_000  # the short refills the cathode
        tr_.cell.q_pl -= leak_ua * tr_.period_ms / 3_600_000

    tr.hooks.append(leak)
    rig.feed(tr.rest(900))
    ev = rig.first(wire.EVT_SELF_DISCHARGE)
    assert ev is not None
    assert 0.5 * leak_ua < ev[3] < 2.0 * leak_ua  # µA, from dV/dQ of the charge


def test_quiet_rest_is_no_self_discharge():
    tr = Trace(SynthCell(), v_noise_uv=500)
    rig = Rig()
    warm(tr, rig, 3)
    rig.feed(tr.charge(1000))
    rig.feed(tr.rest(3600))
    assert rig.first(wire.EVT_SELF_DISCHARGE) is None


def test_charge_beyond_the_last_top_is_an_overrun():
    cell = SynthCell()
    tr = Trace(cell)
    rig = Rig()
    warm(tr, rig, 3)

    # a leak during the charge: the cathode gets metal back, so more charge goes in
    def leak(tr_, s):
        if tr_.i_true > 0:
            cell.q_cat += 300 * tr_.period_ms / 3_600_000
            cell.q_pl -= 300 * tr_.period_ms / 3_600_000

    tr.hooks.append(leak)
    rig.feed(tr.charge(1000, max_s=5400))
    ev = rig.first(wire.EVT_CHARGE_OVERRUN)
    assert ev is not None and ev[3] > 30  # µAh beyond the expected top


def test_ce_collapse_against_the_rolling_baseline():
    cell = SynthCell()
    tr = Trace(cell)
    rig = Rig()
    warm(tr, rig, 5)
    cell.dead = 0.05  # 5 % of the delivered charge lost in one cycle
    rig.feed(tr.cycle(1000))
    rig.feed(tr.charge(1000, max_s=10))  # closes the cycle
    ev = rig.first(wire.EVT_CE_COLLAPSE)
    assert ev is not None and ev[3] > 20_000


def test_voltage_noise_above_its_baseline():
    tr = Trace(SynthCell(), v_noise_uv=200)
    rig = Rig()
    warm(tr, rig, 2)
    at = tr.sample.seq + 1200

    def noisy(tr_, s):
        if s.seq >= at:
            s.voltage_uv += round(tr_.rng.gauss(0, 4000))

    tr.hooks.append(noisy)
    rig.feed(tr.charge(1000))
    assert rig.first(wire.EVT_VOLTAGE_NOISE) is not None
    assert not rig.latched  # one side only: a noisy sensor is not a short


def test_pressure_step_with_a_voltage_drop_is_a_pressure_anomaly():
    tr = Trace(SynthCell())
    rig = Rig()
    warm(tr, rig, 2)
    at = tr.sample.seq + 1500
    tr.hooks.append(drop_hook(at, 40_000, 3))

    def press(tr_, s):
        if s.seq >= at + 1:
            s.pressure_pa -= 400_000

    tr.hooks.append(press)
    rig.feed(tr.charge(1000, max_s=1800))
    ev = rig.first(wire.EVT_PRESSURE_ANOMALY)
    assert ev is not None and ev[3] <= -390_000 and at <= ev[0] <= at + 4


def test_pressure_step_alone_is_nothing():
    tr = Trace(SynthCell())
    rig = Rig()
    warm(tr, rig, 2)
    at = tr.sample.seq + 1500

    def press(tr_, s):
        if s.seq >= at:
            s.pressure_pa -= 400_000

    tr.hooks.append(press)
    rig.feed(tr.charge(1000))
    assert not SHORT_EVENTS & set(rig.kinds())


def test_frozen_current_register_disables_the_current_based_checks():
    tr = Trace(SynthCell(), v_noise_uv=200)
    rig = Rig()
    warm(tr, rig, 2)
    at = tr.sample.seq + 1000

    def frozen(tr_, s):
        if s.seq >= at:
            s.current_ua = 1000
        if s.seq == at + 400:
            s.voltage_uv -= 40_000

    tr.hooks.append(frozen)
    rig.feed(tr.charge(1000, max_s=3000))
    assert rig.first(wire.EVT_VOLTAGE_DROP) is None


def test_failed_current_read_is_skipped():
    det = Detector()
    s = Sample()
    s.voltage_uv = 4_000_000
    s.current_ua = 1000
    det.update(s, wire.STATE_CHARGE)
    s.voltage_uv = 0
    s.errors = wire.FAULT_SENSOR_CURRENT
    det.update(s, wire.STATE_CHARGE)
    assert det.event_kind == -1 and det.latch == 0


def test_standalone_detector_keeps_the_hard_short_check():
    det = Detector()
    s = Sample()
    for k in range(5):
        s.seq = k + 1
        s.voltage_uv = 3_900_000
        s.current_ua = 1000
        det.update(s, wire.STATE_CHARGE)
    s.seq = 6
    s.voltage_uv = 200_000
    det.update(s, wire.STATE_CHARGE)
    assert det.event_kind == wire.EVT_HARD_SHORT and det.latch == wire.FAULT_SHORT_HARD
