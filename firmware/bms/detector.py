"""Dendrite-short detector: independent signature checks, escalation, latching.

Signatures (each debounced, graded INFO below twice its threshold and WARNING
above, reported as an EVENT with the sample as snapshot; thresholds in config):

* VOLTAGE_DROP: during a CC charge (current steady within 2 % + 20 µA, past the
  nucleation guard, below the CV level) the voltage falls below the highest of
  the previous three samples by DROP_UV or 4x the noise level, whichever is
  larger. One event per episode (an episode ends when the voltage is back
  within half the threshold, i.e. the fast recovery, or after 30 samples: a
  step). In CV the voltage is held, so a contact shows as the current jumping
  up: > 20 % + 50 µA above the previous sample is the same signature (value:
  the jump in µA, > 0; a CC dip's value is the dip in µV, < 0).
* VOLTAGE_NOISE: mean |second difference| of the CC-charge voltage, short-term
  (EMA 1/4) vs its long-term baseline (EMA 1/256, learned on the first 64
  samples, frozen while a drop episode runs): above NOISE_RATIO x baseline and
  NOISE_FLOOR for NOISE_SAMPLES samples in a row.
* CHARGE_OVERRUN: while charging, the corrected net charge beyond the last top
  of charge (plus the usual top-to-top slippage) exceeds OVERRUN of CAPACITY:
  the cathode cannot have given that much. Before the first top: net charge
  beyond CAPACITY + OVERRUN.
* CE_COLLAPSE: at the close of a full cycle (a top and a knee), CE below the
  detector's own rolling baseline by CE_DROP, or top-to-top slippage above
  its baseline by CE_DROP of CAPACITY. The baselines follow every full cycle
  with weight 1/2: a short's drop is abrupt, sudden death's decline gradual.
* SELF_DISCHARGE: at rest after a charge, past REST_SETTLE, the decline of the
  voltage (block means) converted to a leak current with dV/dQ measured on the
  last ~75 mV of the CC charge; above LEAK_PPM_PER_H of CAPACITY per hour.
* PRESSURE_ANOMALY: a pressure step of PRESSURE_STEP within 4 samples,
  within 4 samples of a voltage event (either order).
* HARD_SHORT: the voltage falls by HARD_DROP within one sample while the
  current did not move towards discharge (so it is not an IR step); after a
  discharge the voltage must also be below V_MIN - HARD_DROP / 2 (the anode
  knee ends at the cutoff, a short far below it). CRITICAL, latches
  FAULT_SHORT_HARD at once.

Escalation: the first signature raises SHORT_SUSPECTED (WARNING). A soft short
is confirmed (SOFT_SHORT, ALARM, latches FAULT_SHORT_SOFT: protection opens
both paths) by evidence from both sides within the current and the previous
cycle, a voltage-side signature (drop, noise, self-discharge, pressure) and a
charge-side one (overrun, CE collapse), since one sensor's fault produces only
one side; or by DROP_CONFIRM_COUNT drops, or by self-discharge at two rests.
Evidence older than the previous cycle is forgotten, and with it the suspicion.

One event per update: ALARM/CRITICAL escalations first, then signatures, then
SHORT_SUSPECTED; the rest wait in a small pending mask (values kept). Nothing
on this path allocates: ints, attribute stores and preallocated arrays.
"""

from array import array

from bms import wire

try:
    from micropython import const
except ImportError:  # CPython

    def const(__x):
        return __x


_MASK = const(0x3FFFFFFF)
_PPM = const(1000000)
_BASE_WARMUP = const(64)  # samples to learn the noise baseline
_EPISODE_MAX = const(30)  # samples a drop episode may last (then it is a step)
_P_WIN = const(4)  # samples: pressure step window and coincidence window
_MARK_UV = const(25000)  # spacing of the dQ/dV marks during a CC charge
_THR_MAX = const(298000)  # µV/h clamp: x 3600 s stays a small int
_FROZEN = const(8)  # identical current readings that mean a frozen register

# Signature bits (evidence)
SIG_DROP = const(1)
SIG_NOISE = const(2)
SIG_OVERRUN = const(4)
SIG_CE = const(8)
SIG_SD = const(16)
SIG_PRESSURE = const(32)
_VOLT_SIDE = const(1 | 2 | 16 | 32)
_CHARGE_SIDE = const(4 | 8)

# Pending event slots (index = priority order)
_P_HARD = const(0)
_P_SOFT = const(1)
_P_DROP = const(2)
_P_NOISE = const(3)
_P_OVERRUN = const(4)
_P_CE = const(5)
_P_SD = const(6)
_P_PRESS = const(7)
_P_SUSP = const(8)
_NP = const(9)


class Detector:
    """``update(sample, state)`` sets ``event_kind`` (wire.EVT_* or -1),
    ``event_severity``, ``event_value`` and ``latch`` (wire.FAULT_* bits)."""

    def __init__(self, estimator=None, get=None):
        self.est = estimator
        self._kinds = array(
            "i",
            [
                wire.EVT_HARD_SHORT, wire.EVT_SOFT_SHORT, wire.EVT_VOLTAGE_DROP,
                wire.EVT_VOLTAGE_NOISE, wire.EVT_CHARGE_OVERRUN, wire.EVT_CE_COLLAPSE,
                wire.EVT_SELF_DISCHARGE, wire.EVT_PRESSURE_ANOMALY, wire.EVT_SHORT_SUSPECTED,
            ],
        )  # fmt: skip
        self._pval = array("i", [0] * _NP)
        self._psev = array("i", [0] * _NP)
        self._mv = array("i", [0] * 4)  # dQ/dV marks: voltage ...
        self._mq = array("i", [0] * 4)  # ... and corrected net charge
        self._sdv = array("i", [0] * 4)  # self-discharge: last block of voltages ...
        self._sdt = array("i", [0] * 4)  # ... and rest times (ms)
        self.capacity_uah = 1000
        self.v_min_uv = 3000000
        self.v_max_uv = 4250000
        self.top_margin_uv = 100000
        self.drop_uv = 15000
        self.drop_confirm = 3
        self.noise_ratio_pct = 300
        self.noise_floor_uv = 2000
        self.noise_samples = 8
        self.overrun_ppm = 30000
        self.ce_drop_ppm = 20000
        self.leak_ppm_per_h = 10000
        self.rest_settle_ms = 120000
        self.pressure_step_pa = 200000
        self.hard_drop_uv = 500000
        self.nuc_guard_ppm = 30000
        self._derive()
        if get is not None:
            self.configure(get)
        self.reset()

    def configure(self, get):
        self.capacity_uah = get(wire.CFG_CAPACITY_UAH)
        self.v_min_uv = get(wire.CFG_V_MIN_UV)
        self.v_max_uv = get(wire.CFG_V_MAX_UV)
        self.top_margin_uv = get(wire.CFG_TOP_MARGIN_UV)
        self.drop_uv = get(wire.CFG_DROP_UV)
        self.drop_confirm = get(wire.CFG_DROP_CONFIRM_COUNT)
        self.noise_ratio_pct = get(wire.CFG_NOISE_RATIO_PCT)
        self.noise_floor_uv = get(wire.CFG_NOISE_FLOOR_UV)
        self.noise_samples = get(wire.CFG_NOISE_SAMPLES)
        self.overrun_ppm = get(wire.CFG_OVERRUN_PPM)
        self.ce_drop_ppm = get(wire.CFG_CE_DROP_PPM)
        self.leak_ppm_per_h = get(wire.CFG_LEAK_PPM_PER_H)
        self.rest_settle_ms = get(wire.CFG_REST_SETTLE_MS)
        self.pressure_step_pa = get(wire.CFG_PRESSURE_STEP_PA)
        self.hard_drop_uv = get(wire.CFG_HARD_DROP_UV)
        self.nuc_guard_ppm = get(wire.CFG_NUC_GUARD_PPM)
        self._derive()

    def _derive(self):
        cap = self.capacity_uah
        self._v_top = self.v_max_uv - self.top_margin_uv
        self._overrun_uah = cap * self.overrun_ppm // _PPM
        self._ce_slip_uah = cap * self.ce_drop_ppm // _PPM
        self._guard_uah = cap * self.nuc_guard_ppm // _PPM
        self._stall_uah = cap // 100 if cap >= 100 else 1
        self._leak_ua = cap * self.leak_ppm_per_h // _PPM
        if self._leak_ua < 1:
            self._leak_ua = 1
        self._hard_floor = self.v_min_uv - self.hard_drop_uv // 2
        self._drained_floor = self.v_min_uv // 5
        # dV/dQ before any charge was seen: the window over the capacity (Q8 µV per µAh)
        span = self.v_max_uv - self.v_min_uv
        self._uvq8_default = (span << 8) // (cap if cap > 0 else 1)
        if self._uvq8_default < 1:
            self._uvq8_default = 1

    def reset(self):
        self.event_kind = -1  # wire.EVT_* raised by the last update, or -1
        self.event_severity = 0
        self.event_value = 0
        self.latch = 0  # wire.FAULT_* bits to latch into protection
        self.suspected = False
        self.soft = False
        self.hard = False
        self.evidence = 0  # SIG_* bits in the window
        self.counts = array("i", [0] * 6)  # signature events raised since reset (per SIG bit)
        self._ev_cycle = array("i", [0] * 6)
        self._drops_now = 0  # drops in the current cycle ...
        self._drops_prev = 0  # ... and the previous one
        self._sd_now = 0
        self._sd_prev = 0
        self._cycle = 0
        self._pending = 0
        self._nv = 0  # valid consecutive samples in the window
        self._v1 = self._v2 = self._v3 = 0
        self._i1 = 0
        self._t1 = 0
        self._p1 = self._p2 = self._p3 = self._p4 = 0
        self._np = 0
        self._state1 = wire.STATE_INIT
        self._chg_n = 0  # consecutive charging samples
        self._chg_q0 = 0  # est.q_uah at the start of this charge
        self._post = 0  # steady samples past the nucleation guard
        self._i_same = 0  # consecutive identical current readings while charging
        self._episode = 0  # samples into a drop episode (0: none)
        self._ep_ref = 0
        self._ep_thr = 0
        self._ns = 0  # short-term noise x16
        self._nb = 0  # baseline noise x16
        self._nb_n = 0
        self._noise_run = 0
        self._noise_on = False
        self._noise_quiet = 0
        self._overrun_on = False
        self._stall_q = -1
        self._stall_v = 0
        self._last_vev = -100  # seq of the last voltage event
        self._last_pstep = -100  # seq of the last pressure step
        self._p_step = 0
        self._press_raised = -100
        # dQ/dV marks
        self._mn = 0
        self._mi = 0
        self._uvq8 = 0
        # self-discharge
        self._after_charge = False
        self._rest_ms = 0
        self._sd_m = 4
        self._sd_an = 0
        self._sd_asum = 0
        self._sd_at = 0
        self._sd_bn = 0
        self._sd_bi = 0
        self._sd_done = False
        self._sd_run = 0
        self._thr_uv_h = 0
        # CE baseline
        self._ce_base = 0
        self._ce_n = 0
        self._slip_base = 0
        self._slip_n = 0

    # ------------------------------------------------------------ per sample

    def update(self, sample, state):
        self.event_kind = -1
        self.latch = 0
        s = sample
        est = self.est
        if est is not None:
            c = est.cycle_count
            if c != self._cycle:
                self._roll_cycle(c)
            if est.cycle_done:
                self._check_cycle(est)
        if s.errors & wire.FAULT_SENSOR_CURRENT:
            self._nv = 0
            self._chg_n = 0
            self._emit()
            return
        v = s.voltage_uv
        i = s.current_ua
        seq = s.seq
        t = s.t_ms
        dt = (t - self._t1) & _MASK if self._nv else 0
        self._pressure(s, seq)
        if self._nv >= 1:
            self._check_hard(v, i, state, seq)
        if state == wire.STATE_CHARGE:
            if self._state1 != wire.STATE_CHARGE:
                self._start_charge(est)
            self._chg_n += 1
            self._charging(v, i, seq, est)
        else:
            if self._state1 == wire.STATE_CHARGE:
                self._end_charge()
            elif self._state1 == wire.STATE_DISCHARGE:
                self._rest_start()
            self._chg_n = 0
            self._episode = 0
            self._overrun_on = False
            if (state == wire.STATE_IDLE or state == wire.STATE_FAULT) and -20 < i < 20:
                if self._after_charge:
                    self._rest(v, dt, seq)
            else:
                self._after_charge = False
        self._v3 = self._v2
        self._v2 = self._v1
        self._v1 = v
        self._i1 = i
        self._t1 = t
        if self._nv < 3:
            self._nv += 1
        self._state1 = state
        self._emit()

    # ------------------------------------------------------------ checks

    def _check_hard(self, v, i, state, seq):
        if self.hard:
            return
        drop = self._v1 - v
        if drop < self.hard_drop_uv:
            return
        i1 = self._i1
        tol = (i1 if i1 > 0 else -i1) // 8 + 50
        if i - i1 < -tol:
            return  # the current fell (charge stopped, discharge started): an IR step
        if (state == wire.STATE_DISCHARGE or self._state1 == wire.STATE_DISCHARGE) and (
            v >= self._hard_floor
        ):
            return  # the anode knee ends a discharge at the cutoff, not below it
        if (self.soft or self._sd_done) and v >= self._drained_floor:
            return  # a known leak drained the anode: its knee, not a new hard path
        self.hard = True
        self.suspected = True
        self.latch |= wire.FAULT_SHORT_HARD
        self._queue(_P_HARD, -drop, wire.SEV_CRITICAL)
        self._voltage_event(seq)

    def _start_charge(self, est):
        self._chg_n = 0
        self._post = 0
        self._chg_q0 = est.q_uah if est is not None else 0
        self._episode = 0
        self._mn = 0
        self._mi = 0
        self._overrun_on = False
        self._after_charge = False
        self._stall_q = -1

    def _end_charge(self):
        # dQ/dV over the last marks of the CC ramp (Q8 µV per µAh), and the leak
        # threshold as a voltage decay rate (µV per hour).
        uvq8 = 0
        if self._mn >= 2:
            new = (self._mi - 1) % 4
            old = (self._mi - self._mn) % 4
            dq = self._mq[new] - self._mq[old]
            dv = self._mv[new] - self._mv[old]
            if dq > 0 and dv > 0:
                uvq8 = (dv << 8) // dq
        if uvq8 <= 0:
            uvq8 = self._uvq8 if self._uvq8 > 0 else self._uvq8_default
        self._uvq8 = uvq8
        thr = (self._leak_ua * uvq8) >> 8
        if thr < 1:
            thr = 1
        self._thr_uv_h = thr if thr < _THR_MAX else _THR_MAX
        self._rest_start()

    def _rest_start(self):
        # self-discharge is measured in the rest that follows a charge or a discharge
        if self._thr_uv_h <= 0:
            thr = (self._leak_ua * self._uvq8_default) >> 8
            self._thr_uv_h = thr if 0 < thr < _THR_MAX else (_THR_MAX if thr > 0 else 1)
        self._after_charge = True
        self._rest_ms = 0
        self._sd_an = 0
        self._sd_asum = 0
        self._sd_at = 0
        self._sd_bn = 0
        self._sd_bi = 0
        self._sd_done = False
        self._sd_run = 0

    def _charging(self, v, i, seq, est):
        if self.soft or self.hard:
            return
        # A 20-bit monitor's reading changes every sample or two while current flows;
        # a bit-identical current for _FROZEN samples is a frozen register, and every
        # check below trusts the current (the protection's stuck check needs V frozen too).
        if i == self._i1:
            if self._i_same < _FROZEN:
                self._i_same += 1
        else:
            self._i_same = 0
        if self._i_same >= _FROZEN:
            self._post = 0
            self._stall_q = -1
            return
        # overrun: more charge than the cathode can give since the last top
        if est is not None and not self._overrun_on and est.offset_known:
            # (before the first rest an offset of up to 20 µA may be in the count)
            if est.top_seen:
                excess = est.q_uah - est.top_q_uah - est.slip_uah
            else:
                excess = est.q_uah - self.capacity_uah
            if excess > self._overrun_uah:
                self._overrun_on = True
                sev = wire.SEV_WARNING if excess > 2 * self._overrun_uah else wire.SEV_INFO
                self._signature(SIG_OVERRUN, _P_OVERRUN, excess, sev, seq)
        if self._nv < 3 or self._chg_n < 4:
            return
        i1 = self._i1
        di = i - i1
        if v >= self._v_top:
            # CV: the voltage is held; a contact pulls the current up instead.
            if di > i1 // 5 + 50 and self._episode == 0:
                self._episode = 1
                self._ep_ref = v
                self._ep_thr = 0
                self._drop(di, wire.SEV_WARNING, seq)
            elif self._episode:
                self._episode += 1
                if self._episode > _EPISODE_MAX or di < 0:
                    self._episode = 0
            return
        if est is not None and est.q_uah - self._chg_q0 < self._guard_uah:
            self._post = 0
            return  # nucleation dip at the start of the charge
        tol = (i1 if i1 > 0 else -i1) // 50 + 20
        if di > tol or di < -tol:
            self._stall_q = -1  # the current moved: voltage changes are IR steps
            self._post = 0
            return
        # the window (this sample and the three before) must lie past the guard and at
        # one steady current
        self._post += 1
        # stall: over each 1 % of capacity charged at a steady current the voltage
        # must not fall (the OCV rises with the cathode's state of charge)
        if est is not None and not self._overrun_on and self._episode == 0:
            q = est.q_uah
            if self._stall_q < 0:
                self._stall_q = q
                self._stall_v = v
            elif q - self._stall_q >= self._stall_uah:
                fall = self._stall_v - v
                if fall >= self.drop_uv:
                    self._overrun_on = True
                    sev = wire.SEV_WARNING if fall >= 2 * self.drop_uv else wire.SEV_INFO
                    self._signature(SIG_OVERRUN, _P_OVERRUN, -fall, sev, seq)
                self._stall_q = q
                self._stall_v = v
        # dQ/dV marks along the CC ramp
        if est is not None:
            mi = self._mi
            last = self._mv[(mi - 1) % 4]
            if self._mn == 0 or v >= last + _MARK_UV:
                self._mv[mi] = v
                self._mq[mi] = est.q_uah
                self._mi = (mi + 1) % 4
                if self._mn < 4:
                    self._mn += 1
        if self._post < 4:
            return
        # noise level before this sample (a drop must not raise its own threshold)
        nb = self._nb
        level = self._ns if self._ns > nb else nb
        # noise: mean |second difference|
        d2 = v - 2 * self._v1 + self._v2
        a = (d2 if d2 > 0 else -d2) << 4
        ns = self._ns + ((a - self._ns) >> 2)
        self._ns = ns
        if self._episode == 0 and not self._noise_on:
            if self._nb_n < _BASE_WARMUP:
                self._nb_n += 1
                nb += (a - nb) // self._nb_n
            else:
                nb += (a - nb) >> 8
            self._nb = nb
        # drop
        ref = self._v1
        if self._v2 > ref:
            ref = self._v2
        if self._v3 > ref:
            ref = self._v3
        thr = level >> 2  # 4 x mean|d2| (x16 stored)
        if thr < self.drop_uv:
            thr = self.drop_uv
        if self._episode:
            self._episode += 1
            if v >= self._ep_ref - (self._ep_thr >> 1) or self._episode > _EPISODE_MAX:
                self._episode = 0
        elif ref - v >= thr:
            self._episode = 1
            self._ep_ref = ref
            self._ep_thr = thr
            drop = ref - v
            self._drop(-drop, wire.SEV_WARNING if drop >= 2 * thr else wire.SEV_INFO, seq)
        # noise signature
        if self._nb_n >= _BASE_WARMUP:
            nsv = ns >> 4
            if (
                nsv > self.noise_floor_uv
                and ns * 100 > nb * self.noise_ratio_pct
            ):
                self._noise_run += 1
                if self._noise_run >= self.noise_samples and not self._noise_on:
                    self._noise_on = True
                    sev = wire.SEV_WARNING if nsv > 2 * self.noise_floor_uv else wire.SEV_INFO
                    self._signature(SIG_NOISE, _P_NOISE, nsv, sev, seq)
                    self._voltage_event(seq)
            else:
                self._noise_run = 0
                if self._noise_on and ns * 100 <= nb * 200:
                    # quiet again; re-armed after a long quiet stretch (one event per bout)
                    self._noise_quiet += 1
                    if self._noise_quiet >= 16 * self.noise_samples:
                        self._noise_on = False
                        self._noise_quiet = 0
                else:
                    self._noise_quiet = 0

    def _drop(self, value, sev, seq):
        self._drops_now += 1
        self._signature(SIG_DROP, _P_DROP, value, sev, seq)
        self._voltage_event(seq)

    def _rest(self, v, dt, seq):
        if self._sd_done or self.hard:
            return
        self._rest_ms += dt
        if self._rest_ms < self.rest_settle_ms:
            if dt > 0:
                self._sd_m = 4 if dt <= 10000 else (2 if dt <= 30000 else 1)
            return
        m = self._sd_m
        if self._sd_an < m:
            self._sd_an += 1
            self._sd_asum += v
            self._sd_at += self._rest_ms // m
            return
        # the latest m samples
        bi = self._sd_bi
        self._sdv[bi] = v
        self._sdt[bi] = self._rest_ms
        self._sd_bi = (bi + 1) % m
        if self._sd_bn < m:
            self._sd_bn += 1
            if self._sd_bn < m:
                return
        bsum = 0
        bt = 0
        for k in range(m):
            bsum += self._sdv[k]
            bt += self._sdt[k] // m
        span_ms = bt - self._sd_at
        if span_ms < self.rest_settle_ms or span_ms <= 0:
            return
        decline = (self._sd_asum - bsum) // m  # µV over span
        # above the noise: half the noise floor and 4x the charge's noise level
        floor = self.noise_floor_uv >> 1
        nl = self._nb >> 2  # 4 x mean|d2| (x16 stored)
        if nl > floor:
            floor = nl
        if decline <= floor:
            self._sd_run = 0
            return
        span_s = span_ms // 1000
        if span_s > 3600:
            span_s = 3600
        if span_s <= 0:
            return
        if decline > 290000:
            decline = 290000
        rate_uv_h = decline * 3600 // span_s
        if rate_uv_h <= self._thr_uv_h:
            self._sd_run = 0
            return
        self._sd_run += 1
        if self._sd_run >= 2:  # debounce: two evaluations in a row
            self._sd_done = True
            leak = (rate_uv_h << 8) // self._uvq8 if self._uvq8 > 0 else 0
            self._sd_now += 1
            sev = wire.SEV_WARNING if rate_uv_h > 2 * self._thr_uv_h else wire.SEV_INFO
            self._signature(SIG_SD, _P_SD, leak, sev, seq)

    def _pressure(self, s, seq):
        if s.errors & wire.FAULT_SENSOR_PRESSURE:
            self._np = 0
            return
        p = s.pressure_pa
        if self._np >= _P_WIN:
            step = p - self._p4
            if step >= self.pressure_step_pa or -step >= self.pressure_step_pa:
                self._last_pstep = seq
                self._p_step = step
                if seq - self._last_vev <= _P_WIN:
                    self._pressure_anomaly(seq)
        else:
            self._np += 1
        self._p4 = self._p3
        self._p3 = self._p2
        self._p2 = self._p1
        self._p1 = p

    def _voltage_event(self, seq):
        self._last_vev = seq
        if seq - self._last_pstep <= _P_WIN:
            self._pressure_anomaly(seq)

    def _pressure_anomaly(self, seq):
        if seq - self._press_raised <= 2 * _P_WIN:
            return
        self._press_raised = seq
        self._signature(SIG_PRESSURE, _P_PRESS, self._p_step, wire.SEV_WARNING, seq)

    # ------------------------------------------------------------ per cycle

    def _roll_cycle(self, c):
        self._cycle = c
        self._drops_prev = self._drops_now
        self._drops_now = 0
        self._sd_prev = self._sd_now
        self._sd_now = 0
        ev = 0
        for k in range(6):
            if self.evidence & (1 << k) and self._ev_cycle[k] >= c - 1:
                ev |= 1 << k
        self.evidence = ev
        if ev == 0 and self._drops_prev == 0 and self._sd_prev == 0:
            self.suspected = False
            self.soft = False

    def _check_cycle(self, est):
        if self.soft or self.hard or not est.last_full or est.cycle_count < 2:
            return
        ce = est.ce_last_ppm
        slip = est.slippage_uah
        if self._ce_n >= 2:
            drop = self._ce_base - ce
            over = slip - self._slip_base if self._slip_n >= 2 else 0
            if drop > self.ce_drop_ppm or over > self._ce_slip_uah:
                if drop < 0:
                    drop = 0
                worst = drop > 2 * self.ce_drop_ppm or over > 2 * self._ce_slip_uah
                sev = wire.SEV_WARNING if worst else wire.SEV_INFO
                self._signature(SIG_CE, _P_CE, drop, sev, -100)
        # The baseline follows every full cycle with weight 1/2: a short's drop is abrupt
        # (one cycle), sudden death bends CE down by < 1 % per cycle and is followed.
        if self._ce_n == 0:
            self._ce_base = ce
            self._slip_base = slip
        else:
            self._ce_base += (ce - self._ce_base) >> 1
            self._slip_base += (slip - self._slip_base) >> 1
        self._ce_n += 1
        self._slip_n += 1

    # ------------------------------------------------------------ escalation

    def _signature(self, bit, slot, value, sev, seq):
        k = 0
        b = bit
        while b > 1:
            b >>= 1
            k += 1
        self.counts[k] += 1
        self._ev_cycle[k] = self._cycle
        self.evidence |= bit
        self._queue(slot, value, sev)
        if not self.suspected and not (self.soft or self.hard):
            self.suspected = True
            self._queue(_P_SUSP, bit, wire.SEV_WARNING)
        if self.soft or self.hard:
            return
        ev = self.evidence
        confirm = (ev & _VOLT_SIDE) and (ev & _CHARGE_SIDE)
        if self._drops_now + self._drops_prev >= self.drop_confirm:
            confirm = True
        if self._sd_now + self._sd_prev >= 2:
            confirm = True
        if confirm:
            self.soft = True
            self.suspected = True
            self.latch |= wire.FAULT_SHORT_SOFT
            self._queue(_P_SOFT, ev, wire.SEV_ALARM)

    def _queue(self, slot, value, sev):
        self._pending |= 1 << slot
        self._pval[slot] = value
        self._psev[slot] = sev

    def _emit(self):
        p = self._pending
        if p == 0:
            return
        k = 0
        while not p & (1 << k):
            k += 1
        self._pending = p & ~(1 << k)
        self.event_kind = self._kinds[k]
        self.event_severity = self._psev[k]
        self.event_value = self._pval[k]
