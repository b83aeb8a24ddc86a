"""Lithium- (or sodium-) inventory estimator for an anode-free cell.

What an anode-free cell allows to be measured, and how it is used:

* Charge. The sampler's split accumulator (whole µAh + µA·ms, from the INA228's
  hardware CHARGE register when present) is read as deltas; a current offset is
  learned at rest (the mean reading while no current can flow) and removed from
  every delta with its remainder kept, so nothing rounds away. Every later
  calculation is retro-corrected with the newest offset: markers keep the RAW
  accumulator and the elapsed time, and corrected charge between two markers is
  ``raw difference - offset x elapsed``.
* Markers. Top of charge: a charge whose highest voltage came within
  TOP_MARGIN of V_MAX (CC-CV holds it there). Anode knee: a discharge that
  ended below V_MIN + KNEE_MARGIN (the plated metal ran out: the anode
  potential shoots up within ~0.5 % of the charge; an interrupted discharge
  rests on the cathode's plateau, far above).
* Inventory. At the top of charge the cathode keeps a residue ``r`` it gives
  up only beyond the cutoff; at the knee the collector is bare and the whole
  cyclable inventory is back in the cathode. So at every knee

      inventory = r + (corrected charge out from the last top to the knee)

  which is the MEASURED discharge capacity plus the residue: its error does not
  accumulate over cycles (a CE^n product does: offsets and gain compound, and
  it misses losses that are not charge-imbalanced, DESIGN). ``r`` is learned
  once, from the first charge of a fresh cell: r = CAPACITY - charge in to the
  first top (the cell is assembled with its whole inventory in the cathode).
  A gain error e then cancels to e x (loss so far). Between knees (partial,
  interrupted cycles, rests) the inventory follows the last knee minus
  ``lambda x charge plated since``, lambda the loss per plated µAh measured
  knee to knee (i.e. CE-based tracking).
* Loss split. Dead metal stays on the collector after the knee, SEI is a thin
  layer: the stack pressure at the knee above the bare-collector baseline is
  ``stiffness x (dead + SEI thickness)``. With the fixture stiffness (config,
  or learned from the first charge: pressure rise / thickness of the fresh
  deposit at LIVE_DENSITY), the dead metal's density (DEAD_DENSITY) and SEI
  thickness per charge, two equations give dead and SEI charge (clamped to
  [0, loss]).
* Thickness: plated metal now and dead metal, dense equivalent (nm), from
  charge x (4850 or 8800 nm per mAh/cm², the config's METAL) / area.
* End of life: a least-squares line through the recent knee inventories (ppm
  vs cycle; over half the cycles so far, at least 8, at most EOL_FIT_CYCLES
  points: every knee at first; when half the life outgrows the 64-point
  history, every 2nd, 4th, ... knee, so the window keeps its span; each
  re-corrected with the newest offset estimate: it moved the inventory by
  offset change x the time its charges were counted over). The loss of a
  cycle is a fraction of the metal plated in it, which shrinks with the
  inventory, so the decline is geometric: the line's slope at its centre gives
  the fraction lost per cycle and the projection to EOL_RETENTION is
  exponential (ln by its atanh series). cycles_to_eol counts to the first
  cycle at or below the threshold; 1-sigma from the residuals
  (inverse-prediction error of the line).
* Cycles: a cycle closes at the first charging sample after a discharge of
  >= 1 % of CAPACITY (as the plant and cyclers count). CE = out / in of the
  cycle (reported for every cycle, rolled into the baseline only for full
  cycles: a top and a knee, the first, formation cycle excluded). Slippage:
  corrected net charge at this top minus at the previous top (the loss a
  cycle costs, plus whatever a short drained).

Fixed point: charges are split (µAh, µA·ms) pairs; offset in nA, clamped to
±16 µA (rest is |I| < 20 µA) so offset x 60 s chunks stay below 2^30; the
plated-thickness factor is a per-config Q-format chosen so charge x factor
stays below 2^29. The per-sample path and the top-of-charge marker allocate
nothing; the knee anchor and the cycle close (once per cycle) use exact
integer arithmetic that may allocate a few big ints.
"""

from array import array

from bms import wire
from bms.config import METALS, metal_props

try:
    from micropython import const
except ImportError:  # CPython

    def const(__x):
        return __x


_PPM = const(1000000)
_UAMS = const(3600000)  # µA·ms per µAh
_MASK = const(0x3FFFFFFF)  # ticks wrap at 2**30
_REST_UA = const(20)  # |I| below this with the protection at rest: no current can flow
_OFF_MAX_NA = const(16000)  # offset clamp (nA): 16 µA x 60 s chunks < 2**30
_OFF_BLOCK = const(8192)  # rest samples per offset stretch at most (sum < 2**18)
_OFF_JUMP_UA = const(8)  # a reading this far from the stretch's mean starts a new stretch
_OFF_MIN_N = const(4)  # samples a stretch needs to count
_OFF_W = const(4096)  # weight cap of the running offset (samples): it can drift
_CHUNK_MS = const(60000)
_LAMBDA_MAX = const(50000)  # ppm: loss per plated µAh, clamp (keeps products small)
_HIST = const(64)  # EOL history capacity (points: knees, thinned as the life grows)
_LN_Q = const(15)  # fraction bits of the logarithm in the end-of-life projection
_SEG_REST = const(0)
_SEG_CHARGE = const(1)
_SEG_DIS = const(2)


def _ln_ratio_q(a, b):
    """ln(a / b) x 2**_LN_Q for 0 < a, b < 2**22 (ppm): 2 atanh(z), z = (a - b) / (a + b),
    by its odd series to the last nonzero term. z < 1 in Q15: every product stays a
    small int (nothing allocated)."""
    if a <= 0 or b <= 0:
        return 0
    if a < b:
        return -_ln_ratio_q(b, a)  # the series on z >= 0: floor division rounds alike
    d = (a + b) >> (_LN_Q - 8)
    if d <= 0:
        return 0
    z = ((a - b) << 8) // d  # (a - b) < 2**22: << 8 < 2**30
    z2 = (z * z) >> _LN_Q
    p = z
    acc = 0
    k = 1
    while p != 0 and k < 400:  # |z| < 1; converges within ~30 terms for a / b in 0.1..10
        acc += p // k
        p = (p * z2) >> _LN_Q
        k += 2
    return 2 * acc


def _isqrt(n):
    """Integer square root (Newton), n >= 0."""
    if n <= 0:
        return 0
    x = n
    y = (x + 1) // 2
    while y < x:
        x = y
        y = (x + n // x) // 2
    return x


class Estimator:
    """Attributes mirror the ESTIMATE message fields (see protocol/messages.py), plus
    live values the detector reads: ``q_uah`` (corrected net charge since reset),
    ``top_q_uah``/``top_seen`` (at the last top of charge), ``slip_uah`` (usual
    top-to-top slippage), ``plated_uah``, ``last_full`` (the cycle just closed had a
    top and a knee), ``knee_now``/``top_now`` (a marker was set this sample)."""

    def __init__(self, capacity_uah=1000, get=None):
        self.capacity_uah = capacity_uah
        self.v_min_uv = 3000000
        self.v_max_uv = 4250000
        self.knee_margin_uv = 400000
        self.top_margin_uv = 100000
        self.area_um2k = 100000
        self.nm_per_mah_cm2 = METALS[0][2]
        self.stiffness_pa_per_um = 0
        self.live_density_ppm = 500000
        self.dead_density_ppm = 118000
        self.sei_nm_per_mah_cm2 = 2000
        self.eol_retention_ppm = 800000
        self.eol_fit_cycles = 20
        # EOL history: (cycle, inventory ppm, offset nA then, offset exposure s) per knee,
        # and the offset-corrected ppm of the points in the fit
        self._hist = array("i", [0] * (4 * _HIST))
        self._hy = array("i", [0] * _HIST)
        self._hx = array("i", [0] * _HIST)
        self._derive()
        if get is not None:
            self.configure(get)
        self.reset()

    # ------------------------------------------------------------ configuration

    def configure(self, get):
        """Take parameters from ``get(wire.CFG_*)``; learned state is kept."""
        self.capacity_uah = get(wire.CFG_CAPACITY_UAH)
        self.v_min_uv = get(wire.CFG_V_MIN_UV)
        self.v_max_uv = get(wire.CFG_V_MAX_UV)
        self.knee_margin_uv = get(wire.CFG_KNEE_MARGIN_UV)
        self.top_margin_uv = get(wire.CFG_TOP_MARGIN_UV)
        self.area_um2k = get(wire.CFG_ACTIVE_AREA_UM2K)
        m = metal_props(get(wire.CFG_METAL)) or METALS[0]
        self.nm_per_mah_cm2 = m[2]
        self.stiffness_pa_per_um = get(wire.CFG_STIFFNESS_PA_PER_UM)
        self.live_density_ppm = get(wire.CFG_LIVE_DENSITY_PPM)
        self.dead_density_ppm = get(wire.CFG_DEAD_DENSITY_PPM)
        self.sei_nm_per_mah_cm2 = get(wire.CFG_SEI_NM_PER_MAH_CM2)
        self.eol_retention_ppm = get(wire.CFG_EOL_RETENTION_PPM)
        self.eol_fit_cycles = min(max(get(wire.CFG_EOL_FIT_CYCLES), 4), _HIST)
        self._derive()

    def set_capacity(self, capacity_uah):
        self.capacity_uah = capacity_uah
        self._derive()

    def _derive(self):
        self._v_knee = self.v_min_uv + self.knee_margin_uv
        self._v_top = self.v_max_uv - self.top_margin_uv
        cap = self.capacity_uah if self.capacity_uah > 0 else 1
        self._cycle_min_uah = cap // 100  # a discharge that counts for cycle closing
        # Dense thickness per µAh in Q(shift): charge <= 4 x capacity times the factor
        # stays below 2**29 (a small int on the board).
        num = self.nm_per_mah_cm2 * 100  # nm x (0.001 mm²) per µAh
        area = self.area_um2k if self.area_um2k > 0 else 1
        shift = 0
        while shift < 24 and 4 * cap * ((num << (shift + 1)) // area) < (1 << 29):
            shift += 1
        self._nm_q = (num << shift) // area
        self._nm_s = shift
        self._plated_max = 4 * cap

    # ------------------------------------------------------------ state

    def reset(self):
        cap = self.capacity_uah
        self.cycle_count = 0
        self.inventory_uah = cap
        self.inventory_ppm = _PPM
        self.ce_last_ppm = 0
        self.ce_rolling_ppm = 0
        self.loss_total_uah = 0
        self.loss_sei_uah = 0
        self.loss_dead_uah = 0
        self.plated_nm = 0
        self.dead_nm = 0
        self.slippage_uah = 0
        self.cycles_to_eol = -1
        self.eol_sigma = -1
        self.cycle_charge_uah = 0  # net charge of the current cycle (TELEMETRY.charge_uah)
        self.cycle_done = False  # set by update() when a cycle completed this sample
        # live values for the detector
        self.q_uah = 0
        self.plated_uah = 0
        self.top_seen = False
        self.top_q_uah = 0
        self.slip_uah = 0
        self.last_full = False
        self.knee_now = False
        self.top_now = False
        self.full_cycles = 0
        self.offset_na = 0
        self.offset_known = False  # a rest has measured the current offset
        self.residue_uah = -1  # r: cathode residue at the top of charge, -1 unknown
        self.stiffness_learned_pa_per_um = 0
        self.anchors = 0  # knee measurements so far
        self._primed = False
        self._last_t = 0
        self._last_uah = 0
        self._last_rem = 0
        self._start_uah = 0
        self._start_rem = 0
        self._corr_r = 0
        self._el_s = 0
        self._el_ms = 0
        self._q_rem = 0
        self._cin_uah = 0
        self._cin_rem = 0
        self._cout_uah = 0
        self._cout_rem = 0
        self._seg = _SEG_REST
        self._seg_vmax = 0
        self._seg_vmin = 0
        self._last_v = 0
        self._off_w = 0
        self._rs_sum = 0
        self._rs_x = 0
        self._rs_n = 0
        self._rest_run = 0  # consecutive rest samples
        # markers: raw accumulator and elapsed time (s, ms) since reset
        self._top_uah = 0
        self._top_rem = 0
        self._top_s = 0
        self._top_ms = 0
        self._top1_seen = False
        self._top1_uah = 0
        self._top1_rem = 0
        self._top1_s = 0
        self._top1_ms = 0
        self._p_top1 = 0
        self._knee_seen = False
        self._knee_q = 0
        self._in_since_knee = 0  # µAh (corrected, whole) charged since the last knee
        self._in_knee_rem = 0
        self._loss_live = 0  # µAh lost since the last knee (lambda x charge)
        self._lambda_ppm = 0
        self._lambda_n = 0
        self._anchor_uah = cap
        self._anchor_ppm = _PPM
        self._p0 = 0
        self._p0_set = False
        self._charged = False  # a charge has started since reset
        self._cyc_top = False
        self._cyc_knee = False
        self._slip_pending = 0
        self._slip_new = False
        self._knee_exp_s = 0  # s over which the last knee's charges were counted
        self._knee_off = 0  # the offset (nA) the last knee's inventory was computed with
        self._hn = 0  # EOL history entries
        self._hi = 0  # next slot
        self._h_stride = 1  # knees per history point (doubles when the history is thinned)
        self._h_skip = 0  # knees to skip before the next point

    # ------------------------------------------------------------ per sample

    def update(self, sample, state):
        """Account one sample (allocation-free except at a knee or a cycle close)."""
        self.cycle_done = False
        self.knee_now = False
        self.top_now = False
        if sample.errors & wire.FAULT_SENSOR_CURRENT:
            return  # no reading: the accumulator delta arrives with the next one
        s = sample
        t = s.t_ms
        cu = s.charge_uah
        cr = s.charge_rem_uams
        v = s.voltage_uv
        if not self._primed:
            self._primed = True
            self._last_t = t
            self._last_uah = cu
            self._last_rem = cr
            self._start_uah = cu
            self._start_rem = cr
            self._last_v = v
            if not (s.errors & wire.FAULT_SENSOR_PRESSURE):
                self._p0 = s.pressure_pa
                self._p0_set = True
            return
        dt = (t - self._last_t) & _MASK
        self._last_t = t
        du = cu - self._last_uah
        dr = cr - self._last_rem
        self._last_uah = cu
        self._last_rem = cr
        du0 = du  # the raw delta and interval, for the offset at rest
        dr0 = dr
        dt0 = dt
        ms = self._el_ms + dt
        if ms >= 1000:
            w = ms // 1000
            self._el_s += w
            ms -= w * 1000
        self._el_ms = ms
        off = self.offset_na
        if off != 0:
            c = 0
            rr = self._corr_r
            while dt > 0:
                step = dt if dt < _CHUNK_MS else _CHUNK_MS
                x = off * step + rr
                k = x // 1000
                rr = x - k * 1000
                c += k
                dt -= step
            self._corr_r = rr
            dr -= c
        w = dr // _UAMS
        if w != 0:
            du += w
            dr -= w * _UAMS
        r = self._q_rem + dr
        u = self.q_uah + du
        if r >= _UAMS:
            r -= _UAMS
            u += 1
        self.q_uah = u
        self._q_rem = r

        i = s.current_ua
        if state == wire.STATE_CHARGE:
            seg = _SEG_CHARGE
        elif state == wire.STATE_DISCHARGE:
            seg = _SEG_DIS
        else:
            seg = _SEG_REST
        prev = self._seg
        if seg != prev:
            if prev == _SEG_CHARGE:
                self._end_charge(s, v)
            elif prev == _SEG_DIS:
                self._end_discharge(s, v)
            elif self._rs_n:
                self._fold_offset()
            self._rest_run = 0
            if seg == _SEG_CHARGE:
                self._start_charge()
            self._seg = seg
            self._seg_vmax = v
            self._seg_vmin = v
        elif seg == _SEG_CHARGE:
            if v > self._seg_vmax:
                self._seg_vmax = v
        elif seg == _SEG_DIS:
            if v < self._seg_vmin:
                self._seg_vmin = v
        elif -_REST_UA < i < _REST_UA:
            # Rest on both ends of the interval: only the offset flows. The offset is
            # the mean of the last steady stretch of the rest (a CV tail that fell below
            # the rest threshold, then the real rest, are two stretches).
            # The value is the accumulator's mean current over each rest interval (nA),
            # so every conversion the chip made counts, not just the sampled one.
            self._rest_run += 1
            if self._rest_run >= 2 and -2 < du0 < 2 and dt0 > 0:
                n = self._rs_n
                if n > 0:
                    d = i * n - self._rs_sum
                    if d > _OFF_JUMP_UA * n or d < -_OFF_JUMP_UA * n:
                        self._rs_sum = 0
                        self._rs_x = 0
                        self._rs_n = 0
                        n = 0
                if n < _OFF_BLOCK:
                    d = du0 * _UAMS + dr0  # µA·ms over the interval
                    q = d // dt0
                    x = q * 1000 + (d - q * dt0) * 1000 // dt0
                    if -_OFF_MAX_NA - 4000 < x < _OFF_MAX_NA + 4000:
                        self._rs_sum += i
                        self._rs_x += x
                        self._rs_n = n + 1
            du = 0
            dr = 0
            if (
                not self._p0_set
                and not self._charged
                and not (s.errors & wire.FAULT_SENSOR_PRESSURE)
            ):
                self._p0 = s.pressure_pa
                self._p0_set = True
            elif not self._charged and not (s.errors & wire.FAULT_SENSOR_PRESSURE):
                self._p0 += (s.pressure_pa - self._p0) >> 3
        # Charge in or out of this cycle (after a close, so a new cycle gets its first delta).
        if du >= 0:
            if du > 0 or dr > 0:
                r = self._cin_rem + dr
                u = self._cin_uah + du
                if r >= _UAMS:
                    r -= _UAMS
                    u += 1
                self._cin_rem = r
                self._cin_uah = u
                r = self._in_knee_rem + dr
                u = self._in_since_knee + du
                if r >= _UAMS:
                    r -= _UAMS
                    u += 1
                self._in_knee_rem = r
                self._in_since_knee = u
        else:
            # out += -(du, dr): -(du x UAMS + dr) = (-du - 1) x UAMS + (UAMS - dr)
            if dr > 0:
                du = -du - 1
                dr = _UAMS - dr
            else:
                du = -du
            r = self._cout_rem + dr
            u = self._cout_uah + du
            if r >= _UAMS:
                r -= _UAMS
                u += 1
            self._cout_rem = r
            self._cout_uah = u
        self.cycle_charge_uah = self._cin_uah - self._cout_uah
        p = self.q_uah - self._knee_q - self._loss_live if self._knee_seen else self.q_uah
        if p < 0:
            p = 0
        elif p > self._plated_max:
            p = self._plated_max
        self.plated_uah = p
        self.plated_nm = (p * self._nm_q) >> self._nm_s
        self._last_v = v

    # ------------------------------------------------------------ offset

    def _fold_offset(self):
        n = self._rs_n
        if n < _OFF_MIN_N:
            self._rs_sum = 0
            self._rs_x = 0
            self._rs_n = 0
            return
        mean = self._rs_x // n  # nA
        w = self._off_w
        if n > 1024:
            n = 1024  # one stretch weighs at most a quarter of the running estimate
        off = mean if w <= 0 else self.offset_na + (mean - self.offset_na) * n // (w + n)
        if off > _OFF_MAX_NA:
            off = _OFF_MAX_NA
        elif off < -_OFF_MAX_NA:
            off = -_OFF_MAX_NA
        self.offset_na = off
        w += n
        self._off_w = w if w < _OFF_W else _OFF_W
        self.offset_known = True
        self._rs_sum = 0
        self._rs_x = 0
        self._rs_n = 0

    # ------------------------------------------------------------ segments

    def _start_charge(self):
        self._charged = True
        if self._cout_uah >= self._cycle_min_uah and self._cout_uah > 0:
            self._close_cycle()

    def _end_charge(self, s, v):
        vmax = self._seg_vmax if self._seg_vmax > v else v
        if vmax >= self._v_top:
            if self.top_seen:
                # top-to-top slippage, retro-corrected with the newest offset (may allocate)
                slip = self._corrected_uams(
                    self._top_uah, self._top_rem, self._top_s, self._top_ms,
                    s.charge_uah, s.charge_rem_uams, self._el_s, self._el_ms,
                )  # fmt: skip
                self._slip_pending = (slip + _UAMS // 2) // _UAMS
                self._slip_new = True
            self.top_q_uah = self.q_uah
            self.top_seen = True
            self.top_now = True
            self._top_uah = s.charge_uah
            self._top_rem = s.charge_rem_uams
            self._top_s = self._el_s
            self._top_ms = self._el_ms
            self._cyc_top = True
            if not self._top1_seen:
                self._top1_seen = True
                self._top1_uah = s.charge_uah
                self._top1_rem = s.charge_rem_uams
                self._top1_s = self._el_s
                self._top1_ms = self._el_ms
                self._p_top1 = s.pressure_pa
        # CE-based tracking between knees: lambda x charge plated since the last knee.
        lam = self._lambda_ppm
        a = self._in_since_knee // 1000
        b = self._in_since_knee - a * 1000
        self._loss_live = a * lam // 1000 + b * lam // _PPM
        inv = self._anchor_uah - self._loss_live
        self.inventory_uah = inv if inv > 0 else 0
        self.loss_total_uah = self.capacity_uah - self.inventory_uah
        if self._loss_live > 0 and self.capacity_uah > 0:
            ppm = self._anchor_ppm - self._loss_live * _PPM // self.capacity_uah
            self.inventory_ppm = ppm if ppm > 0 else 0

    def _end_discharge(self, s, v):
        vend = self._seg_vmin if self._seg_vmin < v else v
        if vend <= self._v_knee:
            self._knee(s)

    def _corrected_uams(self, a_uah, a_rem, a_s, a_ms, b_uah, b_rem, b_s, b_ms):
        """Corrected charge from marker a to marker b in µA·ms (exact ints; may allocate)."""
        raw = (b_uah - a_uah) * _UAMS + (b_rem - a_rem)
        el_ms = (b_s - a_s) * 1000 + (b_ms - a_ms)
        return raw - self.offset_na * el_ms // 1000

    def _knee(self, s):
        """The anode ran out: measure the inventory (once per cycle, may allocate)."""
        cap = self.capacity_uah
        self.knee_now = True
        self._cyc_knee = True
        if self._top1_seen:
            qc1 = self._corrected_uams(
                self._start_uah, self._start_rem, 0, 0,
                self._top1_uah, self._top1_rem, self._top1_s, self._top1_ms,
            )  # fmt: skip
            r = cap * _UAMS - qc1
            if r < 0:
                r = 0
            self.residue_uah = (r + _UAMS // 2) // _UAMS
            qd = -self._corrected_uams(
                self._top_uah, self._top_rem, self._top_s, self._top_ms,
                s.charge_uah, s.charge_rem_uams, self._el_s, self._el_ms,
            )  # fmt: skip
            # The residue shrinks with the cathode's capacity: metal stranded in cathode
            # particles that lost contact is counted out by a discharge and never comes
            # back, so the charge balance since the start misses it. With rho = r /
            # CAPACITY: inventory = r + Qd - rho x stranded, stranded = (CAPACITY - r -
            # Qd) - balance. The balance carries the offset's residual x all the time
            # since the start, so stranded is clamped to [0, half the measured loss].
            inv_uams = r + qd
            self._knee_exp_s = self._top1_s + self._el_s - self._top_s
            self._knee_off = self.offset_na
            cap_uams = cap * _UAMS
            bal = self._corrected_uams(
                self._start_uah, self._start_rem, 0, 0,
                s.charge_uah, s.charge_rem_uams, self._el_s, self._el_ms,
            )  # fmt: skip
            lost = cap_uams - inv_uams
            stranded = lost - bal
            if stranded > lost // 2:
                stranded = lost // 2
            if stranded > 0 and 0 < r < cap_uams:
                inv_uams -= r * stranded // (cap_uams - r)
            if self.stiffness_pa_per_um <= 0 and self._p0_set and qc1 > 0:
                self._learn_stiffness(qc1)
        else:
            # No top seen since reset: the charge balance since the start is all there is
            # (corrected as it was counted, not re-correctable later).
            inv_uams = cap * _UAMS - (self.q_uah * _UAMS + self._q_rem)
            self._knee_exp_s = 0
            self._knee_off = self.offset_na
        if inv_uams < 0:
            inv_uams = 0
        inv = (inv_uams + _UAMS // 2) // _UAMS
        prior = self._anchor_uah
        if self._knee_seen and self._in_since_knee > cap // 10:
            lam = (prior - inv) * _PPM // self._in_since_knee
            if lam < 0:
                lam = 0
            elif lam > _LAMBDA_MAX:
                lam = _LAMBDA_MAX
            n = self._lambda_n
            self._lambda_ppm = lam if n == 0 else self._lambda_ppm + (lam - self._lambda_ppm) // 4
            self._lambda_n = n + 1
        self._anchor_uah = inv
        self.anchors += 1
        self._knee_seen = True
        self._knee_q = self.q_uah
        self._in_since_knee = 0
        self._in_knee_rem = 0
        self._loss_live = 0
        self.inventory_uah = inv
        # ppm from the exact charge: finer than 1 µAh on small cells
        self.inventory_ppm = inv_uams * _PPM // (cap * _UAMS) if cap > 0 else 0
        self._anchor_ppm = self.inventory_ppm
        loss = cap - inv
        if loss < 0:
            loss = 0
        self.loss_total_uah = loss
        self._split_loss(s, loss)

    def _learn_stiffness(self, qc1_uams):
        dp = self._p_top1 - self._p0
        if dp <= 0:
            return
        # thickness of the first charge's deposit (nm) = Qc1 x dense nm/µAh / live density
        # stiffness (Pa/µm) = dp / thickness x 1000
        num = dp * 1000 * _UAMS * self.area_um2k * self.live_density_ppm
        den = qc1_uams * self.nm_per_mah_cm2 * 100 * _PPM
        if den > 0:
            self.stiffness_learned_pa_per_um = num // den

    def _split_loss(self, s, loss):
        k = self.stiffness_pa_per_um
        if k <= 0:
            k = self.stiffness_learned_pa_per_um
        if k <= 0 or not self._p0_set or s.errors & wire.FAULT_SENSOR_PRESSURE or loss <= 0:
            if loss <= 0:
                self.loss_dead_uah = 0
                self.loss_sei_uah = 0
                self.dead_nm = 0
            return
        # residual thickness over the bare collector, in nm x area (0.001 mm²)
        h_area = (s.pressure_pa - self._p0) * 1000 * self.area_um2k // k
        dd = self.dead_density_ppm
        sei = self.sei_nm_per_mah_cm2 * 100
        den = self.nm_per_mah_cm2 * 100 * _PPM - sei * dd
        dead = (h_area * dd - loss * sei * dd) // den if den > 0 else 0
        if dead < 0:
            dead = 0
        elif dead > loss:
            dead = loss
        self.loss_dead_uah = dead
        self.loss_sei_uah = loss - dead
        self.dead_nm = dead * self.nm_per_mah_cm2 * 100 // self.area_um2k

    # ------------------------------------------------------------ cycle close

    def _close_cycle(self):
        """Once per cycle, not per sample: exact (possibly big-int) arithmetic is fine here."""
        cin = self._cin_uah * _UAMS + self._cin_rem
        cout = self._cout_uah * _UAMS + self._cout_rem
        full = self._cyc_top and self._cyc_knee
        if cin > 0:
            ce = cout * _PPM // cin
            self.ce_last_ppm = ce if ce < _PPM else _PPM
            if full and self.cycle_count > 0:
                n = self.full_cycles
                if n == 0:
                    self.ce_rolling_ppm = self.ce_last_ppm
                else:
                    self.ce_rolling_ppm += (self.ce_last_ppm - self.ce_rolling_ppm) // 8
                self.full_cycles = n + 1
        self.last_full = full
        if self._slip_new:
            self._slip_new = False
            self.slippage_uah = self._slip_pending
            if self.cycle_count > 1:
                self.slip_uah = (
                    self._slip_pending
                    if self.slip_uah == 0
                    else self.slip_uah + (self._slip_pending - self.slip_uah) // 4
                )
        self.cycle_count += 1
        self.cycle_done = True
        if self._cyc_knee:
            if self._h_skip > 0:
                self._h_skip -= 1
            else:
                self._record_knee()
            self._fit_eol()
        self._cin_uah = 0
        self._cin_rem = 0
        self._cout_uah = 0
        self._cout_rem = 0
        self._cyc_top = False
        self._cyc_knee = False

    def _window(self):
        """The end-of-life fit's window in cycles: half the cycles so far, at least 8:
        a long life is fitted over many cycles (its slope is small against the noise),
        a short one over its recent bend."""
        w = self.cycle_count // 2
        return w if w > 8 else 8

    def _record_knee(self):
        h = self._hist
        if self._hn == _HIST and h[4 * self._hi] > self.cycle_count - self._window():
            self._thin_history()
        j = 4 * self._hi
        h[j] = self.cycle_count
        h[j + 1] = self.inventory_ppm
        # the knee's own offset: the rest after the knee has refined it since
        h[j + 2] = self._knee_off
        h[j + 3] = self._knee_exp_s
        self._hi = (self._hi + 1) % _HIST
        if self._hn < _HIST:
            self._hn += 1
        self._h_skip = self._h_stride - 1

    def _thin_history(self):
        """The full history would lose a point still inside the window: keep every
        other point (oldest first, in order from slot 0) and record every other knee
        from now on, so the history spans twice the cycles."""
        h = self._hist
        hx = self._hx
        hy = self._hy
        half = _HIST // 2
        j = self._hi  # full: the oldest
        for k in range(half):
            b = 4 * j
            hx[k] = h[b]
            hx[half + k] = h[b + 1]
            hy[k] = h[b + 2]
            hy[half + k] = h[b + 3]
            j = (j + 2) % _HIST
        for k in range(half):
            b = 4 * k
            h[b] = hx[k]
            h[b + 1] = hx[half + k]
            h[b + 2] = hy[k]
            h[b + 3] = hy[half + k]
        self._hn = half
        self._hi = half
        self._h_stride *= 2

    def _fit_eol(self):
        """Least-squares line through the knee inventories of the window (at most
        eol_fit_cycles points), each re-corrected for what the offset estimate learned
        since (an inventory moves by offset change x the time its charges were counted
        over)."""
        first = self.cycle_count - self._window()
        h = self._hist
        n = 0
        j = self._hi
        while n < self._hn and n < self.eol_fit_cycles:
            j = (j - 1) % _HIST
            if h[4 * j] <= first:
                break
            n += 1
        if n < 3:
            return
        hx = self._hx
        hy = self._hy
        off = self.offset_na
        cap = self.capacity_uah if self.capacity_uah > 0 else 1
        sx = sy = 0
        j = self._hi
        for k in range(n):
            j = (j - 1) % _HIST
            x = h[4 * j]
            # ppm = nA x s / (3.6 x µAh)
            y = h[4 * j + 1] + (off - h[4 * j + 2]) * h[4 * j + 3] * 10 // (36 * cap)
            hx[k] = x
            hy[k] = y
            sx += x
            sy += y
        # centred sums (x in cycles, y in ppm), scaled by n to stay exact
        sxx = sxy = 0
        for k in range(n):
            dx = n * hx[k] - sx
            dy = n * hy[k] - sy
            sxx += dx * dx
            sxy += dx * dy
        if sxx <= 0 or sxy >= 0:
            self.cycles_to_eol = -1
            self.eol_sigma = -1
            return
        # y = ybar + b (x - xbar), b = sxy / sxx (ppm per cycle); geometric decline with
        # the fraction b / ybar per cycle: x_eol = xbar + ybar ln(ybar / eol) / -b
        eol = self.eol_retention_ppm
        ybar = sy // n
        ln_q = _ln_ratio_q(ybar if ybar > 0 else 1, eol)  # ln(ybar / eol) x 2**_LN_Q
        x_eol_n = sx + ((sy * ln_q * sxx) >> _LN_Q) // -sxy  # n x x_eol
        now = self.cycle_count
        # the first whole cycle at or below the threshold: ceil(x_eol)
        left = -((-x_eol_n) // n) - now
        self.cycles_to_eol = left if left > 0 else 0
        # residuals: sum (dy - b dx)^2 / n^2
        ss = 0
        for k in range(n):
            dx = n * hx[k] - sx
            dy = n * hy[k] - sy
            e = dy * sxx - sxy * dx  # (dy - b dx) x sxx
            ss += e * e
        # s^2 = ss / (sxx^2 n^2 (n - 2)); sigma_x = s / |b| x sqrt(1/n + (x_eol - xbar)^2 / Sxx)
        # with Sxx = sxx / n^2 and |b| = |sxy| / sxx.
        dxe = x_eol_n - sx  # n (x_eol - xbar)
        var_n = ss * (sxx + n * dxe * dxe) // (n * n * n * (n - 2) * sxy * sxy * sxx)
        sig = _isqrt(var_n)
        self.eol_sigma = sig if sig < 1000000 else 1000000
        if self.cycles_to_eol > 1000000:
            self.cycles_to_eol = 1000000
