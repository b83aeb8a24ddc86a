"""Protection state machine: limits with debounce and hysteresis, latched faults, outputs.

Pure: readings come in as a Sample, outputs are objects with ``set(on)``,
persistence is two callbacks. ``update()`` allocates nothing (ints only; no
tuples, strings or exceptions), checked with gc.mem_alloc() in the MicroPython VM.

Choices (each a module constant, so tests and the app can read them):

* Debounce: a limit must be exceeded (strictly beyond it) for
  ``CFG_DEBOUNCE_SAMPLES`` consecutive evaluated samples to trip (at least 1).
  A sample whose sensor read failed or was implausible neither advances nor
  resets the counters of that sensor's limits: it carries no information.
* Hysteresis: an active condition is gone only once the reading is back inside
  the limit by the margin: ``V_HYST_UV`` (50 mV, well above the monitor's
  noise and the IR step when a path reopens), ``T_HYST_MC`` (2 °C, NTC noise
  plus self-heating), 5 % of the current limit (``I_HYST_DIV``, at least 1 µA)
  and 5 % of each pressure limit (``P_HYST_DIV``, fixture creep).
* Rest: ``|current| < rest_ua`` (default ``REST_UA`` = 20 µA: above the current
  monitor's offset, below the smallest useful cycling current of a small cell)
  is IDLE, else CHARGE (positive) or DISCHARGE.
* Sensor failures: a failed read (``sample.errors``) trips its SENSOR_* bit in
  the same update, no debounce: the protection is blind for that quantity. An
  implausible reading (voltage outside 0..6 V, pressure beyond ±100 MPa,
  temperature outside −55..150 °C) is debounced like a limit (a single
  corrupted transfer is not a dead sensor) and suspends that sensor's limits.
* Stuck: the same raw voltage AND current for ``STUCK_SAMPLES`` (16)
  consecutive samples while not at rest trips SENSOR_STUCK. With current
  flowing, a 20-bit monitor's conversion noise changes at least one of the two
  values almost every sample: at ~1 LSB rms a value repeats with p ~ 0.3, both
  with ~ 0.08, so 15 repeats in a row happen by chance ~ 1e-16 of the time,
  while a frozen register (chip or bus returning stale data) is caught after
  1.6 s to 16 s at 100 ms to 1 s sample periods. It assumes that noise: a
  16-bit monitor (coarser LSB) or heavy averaging makes repeats plausible, so
  ``stuck_samples`` can be raised or set to 0 (off); it must otherwise be >= 2.
* Outputs are re-asserted on every update (a glitched pin is corrected within
  one period). ``clear()`` never enables them: the next ``update()`` does, on
  fresh readings. ``clear()`` also refuses a reading-based bit whose condition
  has not been evaluated since construction/reset (nothing seen yet).
* ``save_latched`` is called only when ``latched`` changes, after the outputs
  have been driven; its exceptions propagate to the caller.
"""

from array import array

try:
    from micropython import const
except ImportError:  # CPython, for host-side tests

    def const(__x):
        return __x


from bms import faults, wire

V_HYST_UV = const(50000)  # µV, voltage hysteresis
T_HYST_MC = const(2000)  # m°C, temperature hysteresis
I_HYST_DIV = const(20)  # current hysteresis = limit // 20 (5 %), at least 1 µA
P_HYST_DIV = const(20)  # pressure hysteresis = |limit| // 20 (5 %)
REST_UA = const(20)  # µA, |current| below this is rest (IDLE)


def current_hysteresis_ua(limit_ua):
    """Release margin of a current limit (config.py derives the same release levels)."""
    h = abs(limit_ua) // I_HYST_DIV
    return h if h > 1 else 1


def pressure_hysteresis_pa(limit_pa):
    """Release margin of a pressure limit."""
    return abs(limit_pa) // P_HYST_DIV

STUCK_SAMPLES = const(16)  # identical V and I samples, not at rest, for SENSOR_STUCK
V_PLAUSIBLE_MIN_UV = const(0)
V_PLAUSIBLE_MAX_UV = const(6000000)
P_PLAUSIBLE_PA = const(100000000)  # |pressure| beyond this: sensor failure
T_PLAUSIBLE_MIN_MC = const(-55000)
T_PLAUSIBLE_MAX_MC = const(150000)

# Debounce counter index per condition.
_K_OV = const(0)
_K_UV = const(1)
_K_OCC = const(2)
_K_OCD = const(3)
_K_OT = const(4)
_K_UT = const(5)
_K_PL = const(6)
_K_PH = const(7)
_K_SC = const(8)  # implausible voltage
_K_SP = const(9)  # implausible pressure
_K_ST = const(10)  # implausible temperature
_NK = const(11)

# Bits whose condition becomes known when a group is evaluated on a valid reading.
_KNOWN_VI = (
    wire.FAULT_OVER_VOLTAGE
    | wire.FAULT_UNDER_VOLTAGE
    | wire.FAULT_OVER_CURRENT_CHARGE
    | wire.FAULT_OVER_CURRENT_DISCHARGE
    | wire.FAULT_SENSOR_STUCK
)
_KNOWN_P = wire.FAULT_PRESSURE_LOW | wire.FAULT_PRESSURE_HIGH
_KNOWN_T = wire.FAULT_OVER_TEMPERATURE | wire.FAULT_UNDER_TEMPERATURE
_KNOWN_ANY = wire.FAULT_SENSOR_CURRENT | wire.FAULT_SENSOR_PRESSURE | wire.FAULT_SENSOR_TEMPERATURE


class Protection:
    """Evaluates every limit each sample, latches faults, drives the two outputs.

    Attributes: ``state`` (wire.STATE_*), ``latched`` and ``active`` (fault
    masks), ``prev_state``/``new_faults``/``cleared`` (what the last call
    changed, for events), ``rest_ua``, ``stuck_samples``, ``configured``.
    """

    def __init__(self, charge, discharge, load_latched, save_latched):
        charge.set(False)  # safe before anything else can fail
        discharge.set(False)
        self._chg = charge
        self._dis = discharge
        self._load = load_latched
        self._save = save_latched
        self.rest_ua = REST_UA
        self.stuck_samples = STUCK_SAMPLES
        self.configured = False
        self.state = wire.STATE_INIT
        self.prev_state = wire.STATE_INIT
        self.new_faults = 0
        self.cleared = 0
        self.latched = 0
        self.active = 0
        self._known = 0
        self._count = array("i", [0] * _NK)
        self._debounce = 1
        self._same = 0
        self._last_v = -1
        self._last_i = 0
        self._v_max = self._v_max_ok = self._v_min = self._v_min_ok = 0
        self._i_chg = self._i_chg_ok = self._i_dis = self._i_dis_ok = 0
        self._t_max = self._t_max_ok = self._t_min = self._t_min_ok = 0
        self._p_min = self._p_min_ok = self._p_max = self._p_max_ok = 0
        self.reset()

    def reset(self):
        """Back to INIT, outputs off, latched faults reloaded from persistence."""
        self._off()
        self.prev_state = self.state
        self.state = wire.STATE_INIT
        self.new_faults = 0
        self.cleared = 0
        self.active = 0
        self._known = 0
        self._clear_counts()
        self.latched = self._load() & faults.ALL

    def configure(self, get):
        """Take the limits from ``get(wire.CFG_*)``; hysteresis derives from them."""
        v = get(wire.CFG_V_MAX_UV)
        self._v_max = v
        self._v_max_ok = v - V_HYST_UV
        v = get(wire.CFG_V_MIN_UV)
        self._v_min = v
        self._v_min_ok = v + V_HYST_UV
        i = abs(get(wire.CFG_I_CHARGE_MAX_UA))
        self._i_chg = i
        self._i_chg_ok = i - current_hysteresis_ua(i)
        i = abs(get(wire.CFG_I_DISCHARGE_MAX_UA))
        self._i_dis = -i
        self._i_dis_ok = -i + current_hysteresis_ua(i)
        t = get(wire.CFG_T_MAX_MC)
        self._t_max = t
        self._t_max_ok = t - T_HYST_MC
        t = get(wire.CFG_T_MIN_MC)
        self._t_min = t
        self._t_min_ok = t + T_HYST_MC
        p = get(wire.CFG_P_MIN_PA)
        self._p_min = p
        self._p_min_ok = p + pressure_hysteresis_pa(p)
        p = get(wire.CFG_P_MAX_PA)
        self._p_max = p
        self._p_max_ok = p - pressure_hysteresis_pa(p)
        self._debounce = max(get(wire.CFG_DEBOUNCE_SAMPLES), 1)
        self._clear_counts()
        self.configured = True

    def update(self, s):
        """Evaluate one Sample, latch what tripped, drive the outputs; return the state."""
        self.prev_state = self.state
        self.new_faults = 0
        self.cleared = 0
        if not self.configured:
            self._off()  # no limits known: never enable
            return self.state
        err = s.errors
        v = s.voltage_uv
        i = s.current_ua
        if err & wire.FAULT_SENSOR_CURRENT:
            self.active |= wire.FAULT_SENSOR_CURRENT
            self._count[_K_SC] = 0
            self._same = 0
        else:
            bad = v < V_PLAUSIBLE_MIN_UV or v > V_PLAUSIBLE_MAX_UV
            self._cond(_K_SC, wire.FAULT_SENSOR_CURRENT, bad, not bad)
            if bad:
                self._same = 0
            else:
                self._cond(_K_OV, wire.FAULT_OVER_VOLTAGE, v > self._v_max, v <= self._v_max_ok)
                self._cond(_K_UV, wire.FAULT_UNDER_VOLTAGE, v < self._v_min, v >= self._v_min_ok)
                self._cond(
                    _K_OCC, wire.FAULT_OVER_CURRENT_CHARGE, i > self._i_chg, i <= self._i_chg_ok
                )
                self._cond(
                    _K_OCD, wire.FAULT_OVER_CURRENT_DISCHARGE, i < self._i_dis, i >= self._i_dis_ok
                )
                self._stuck(v, i)
                self._known |= _KNOWN_VI
        x = s.pressure_pa
        if err & wire.FAULT_SENSOR_PRESSURE:
            self.active |= wire.FAULT_SENSOR_PRESSURE
            self._count[_K_SP] = 0
        else:
            bad = x < -P_PLAUSIBLE_PA or x > P_PLAUSIBLE_PA
            self._cond(_K_SP, wire.FAULT_SENSOR_PRESSURE, bad, not bad)
            if not bad:
                self._cond(_K_PL, wire.FAULT_PRESSURE_LOW, x < self._p_min, x >= self._p_min_ok)
                self._cond(_K_PH, wire.FAULT_PRESSURE_HIGH, x > self._p_max, x <= self._p_max_ok)
                self._known |= _KNOWN_P
        x = s.temperature_mc
        if err & wire.FAULT_SENSOR_TEMPERATURE:
            self.active |= wire.FAULT_SENSOR_TEMPERATURE
            self._count[_K_ST] = 0
        else:
            bad = x < T_PLAUSIBLE_MIN_MC or x > T_PLAUSIBLE_MAX_MC
            self._cond(_K_ST, wire.FAULT_SENSOR_TEMPERATURE, bad, not bad)
            if not bad:
                self._cond(_K_OT, wire.FAULT_OVER_TEMPERATURE, x > self._t_max, x <= self._t_max_ok)
                self._cond(
                    _K_UT, wire.FAULT_UNDER_TEMPERATURE, x < self._t_min, x >= self._t_min_ok
                )
                self._known |= _KNOWN_T
        self._known |= _KNOWN_ANY
        new = self.active & ~self.latched
        if new:
            self.latched |= new
            self.new_faults = new
        st = self.state
        if st == wire.STATE_MAINTENANCE:
            self._off()
        elif self.latched & faults.BLOCKING:
            self.state = wire.STATE_FAULT
            self._off()
        else:
            rest = self.rest_ua
            if i >= rest:
                self.state = wire.STATE_CHARGE
            elif i <= -rest:
                self.state = wire.STATE_DISCHARGE
            else:
                self.state = wire.STATE_IDLE
            self._chg.set(True)
            # Below the discharge cutoff: no more discharge, charging still allowed.
            self._dis.set(not self.active & wire.FAULT_UNDER_VOLTAGE)
        if new:
            self._save(self.latched)
        return self.state

    def latch(self, mask):
        """Latch faults raised elsewhere (short detector, app); a blocking one turns the
        outputs off in this call. Returns the latched mask."""
        self.prev_state = self.state
        self.cleared = 0
        new = mask & faults.ALL & ~self.latched
        self.new_faults = new
        self.latched |= new
        if self.latched & faults.BLOCKING:
            st = self.state
            if st == wire.STATE_IDLE or st == wire.STATE_CHARGE or st == wire.STATE_DISCHARGE:
                self.state = wire.STATE_FAULT
            self._off()
        if new:
            self._save(self.latched)
        return self.latched

    def clear(self, mask):
        """Clear the latched bits of ``mask`` (0 = all) whose condition is inactive and
        known; return the bits still latched. Outputs are enabled by the next update()."""
        self.prev_state = self.state
        self.new_faults = 0
        if mask == 0:
            mask = faults.ALL
        gone = self.latched & mask & ~self.active & (self._known | faults.EXTERNAL)
        self.cleared = gone
        if gone:
            self.latched &= ~gone
            self._save(self.latched)
        return self.latched

    def enter_maintenance(self):
        """Outputs off, state MAINTENANCE until leave_maintenance() or reset()."""
        self.prev_state = self.state
        self.new_faults = 0
        self.cleared = 0
        self.state = wire.STATE_MAINTENANCE
        self._off()

    def leave_maintenance(self):
        """Back to INIT (outputs still off); the next update() decides."""
        self.prev_state = self.state
        self.new_faults = 0
        self.cleared = 0
        if self.state == wire.STATE_MAINTENANCE:
            self.state = wire.STATE_INIT
        self._off()

    def _cond(self, k, bit, bad, good):
        # One limit: debounce towards tripping, hysteresis (``good``) to release.
        if self.active & bit:
            if good:
                self.active &= ~bit
            return
        n = self._count
        if bad:
            c = n[k] + 1
            if c >= self._debounce:
                self.active |= bit
                c = 0
            n[k] = c
        else:
            n[k] = 0

    def _stuck(self, v, i):
        rest = self.rest_ua
        if -rest < i < rest:
            n = 0  # at rest a steady reading is normal
        elif v == self._last_v and i == self._last_i:
            n = self._same
            if n < self.stuck_samples:
                n += 1
        else:
            n = 1
        self._same = n
        self._last_v = v
        self._last_i = i
        limit = self.stuck_samples
        if limit and n >= limit:
            self.active |= wire.FAULT_SENSOR_STUCK
        else:
            self.active &= ~wire.FAULT_SENSOR_STUCK

    def _clear_counts(self):
        n = self._count
        for k in range(_NK):
            n[k] = 0
        self._same = 0
        self._last_v = -1
        self._last_i = 0

    def _off(self):
        self._chg.set(False)
        self._dis.set(False)
