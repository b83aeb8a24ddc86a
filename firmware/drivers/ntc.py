"""NTC thermistor on a board ADC through a divider with a fixed resistor.

    ntc = NTC(machine.ADC(26), 10_000, to_ground=True, r25_ohm=10_000, beta_k=3950)
    ntc.temperature_mc()

The ADC follows MicroPython's ``machine.ADC``: ``read_u16()`` gives 0..65535
for 0..Vref, the divider's supply being Vref (ratiometric). With the
thermistor to ground, code/65535 = R_ntc / (R_ntc + R_fixed); with it to the
supply, code/65535 = R_fixed / (R_ntc + R_fixed).

Temperature from R: Beta, 1/T = 1/298.15 + ln(R/R25)/beta_k, or Steinhart-Hart,
1/T = A + B ln R + C (ln R)^3 (T in K). Floats are used once, at construction,
to build a 129-entry table (every 512 codes); ``temperature_mc()`` interpolates
it in integers. A code that maps outside [t_min_mc, t_max_mc] (open or shorted
thermistor, broken wire) raises OSError.
"""

from array import array
from math import log

try:
    from micropython import const
except ImportError:  # CPython, for host-side tests

    def const(__x):
        return __x


_STEP_BITS = const(9)  # 512 codes between table entries
_ENTRIES = const(129)  # codes 0, 512, ..., 65536
_STEP_MASK = const(511)
_HALF_STEP = const(256)
_FULL = const(65535)
_RAIL = const(64)  # codes this close to 0 or 65535 are a short/open in any case

_ERANGE = const(34)


class NTC:
    """An NTC thermistor read through ``adc`` (anything with ``read_u16()``)."""

    def __init__(
        self,
        adc,
        r_fixed_ohm,
        to_ground=True,
        r25_ohm=10000,
        beta_k=3950,
        steinhart=None,
        t_min_mc=-55000,
        t_max_mc=150000,
    ):
        """``r_fixed_ohm``: the divider's fixed resistor (Ω); ``to_ground``: True when the
        thermistor is the lower leg; ``r25_ohm``/``beta_k``: Beta model; ``steinhart``:
        (A, B, C) Steinhart-Hart coefficients (R in Ω, T in K), used instead when given;
        ``t_min_mc``..``t_max_mc``: plausible range in m°C, outside it is a fault."""
        if r_fixed_ohm <= 0:
            raise ValueError("r_fixed_ohm")
        if steinhart is None and (r25_ohm <= 0 or beta_k <= 0):
            raise ValueError("beta model")
        self._adc = adc
        table = array("i", [0] * _ENTRIES)
        lo = _ENTRIES
        hi = -1
        for i in range(_ENTRIES):
            code = i << _STEP_BITS
            if not 0 < code < _FULL:
                continue
            x = code / _FULL
            r = r_fixed_ohm * x / (1 - x) if to_ground else r_fixed_ohm * (1 - x) / x
            if steinhart is None:
                inv = 1 / 298.15 + log(r / r25_ohm) / beta_k
            else:
                ln_r = log(r)
                inv = steinhart[0] + steinhart[1] * ln_r + steinhart[2] * ln_r**3
            if inv <= 0:
                continue
            t = round((1 / inv - 273.15) * 1000)
            if t_min_mc <= t <= t_max_mc:
                if hi >= 0 and hi != i - 1:
                    raise ValueError("thermistor model is not monotonic")
                table[i] = t
                lo = min(lo, i)
                hi = i
        if hi <= lo:
            raise ValueError("no code maps into the temperature range")
        self._table = table
        self._lo = max(lo << _STEP_BITS, _RAIL)
        self._hi = min(hi << _STEP_BITS, _FULL - _RAIL)

    def temperature_mc(self):
        """Thermistor temperature in m°C; OSError when the code is out of range
        (open or shorted thermistor, or a temperature outside the plausible range)."""
        code = self._adc.read_u16()
        if code < self._lo or code > self._hi:
            raise OSError(_ERANGE, "NTC: reading out of range (open or short?)")
        i = code >> _STEP_BITS
        t = self._table  # i + 1 <= 128: code <= 65535
        return t[i] + (((t[i + 1] - t[i]) * (code & _STEP_MASK) + _HALF_STEP) >> _STEP_BITS)
