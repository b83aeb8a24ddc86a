"""An NTC thermistor in a divider, as seen by a board ADC (MicroPython subset; ``chips.ntc``).

``set_temperature_mc`` computes the thermistor's resistance (Beta or Steinhart-Hart)
and the divider's ``read_u16()`` code: with the thermistor to ground
code = 65535 × R / (R + R_fixed), to the supply 65535 × R_fixed / (R + R_fixed).
``adc_bits=12`` quantises like the RP2040 (12-bit result scaled to 16 bits).
Feed it to ``chips.bus.ADC(ntc)`` for a ``machine.ADC`` stand-in.

Faults: ``temperature`` is a ``Channel`` (stuck, offset, gain_ppm, noise, in m°C);
``set_open()``/``set_short()`` model a broken or shorted thermistor,
``set_connected()`` undoes them. Floats are used only when the input changes
(and per read when a noise hook is set).
"""

from math import exp, sqrt

try:
    from afbms.chips.bus import Channel, clamp
except ImportError:  # inside the MicroPython VM, files under /lib/chips/
    from chips.bus import Channel, clamp


def _cbrt(x):
    return x ** (1 / 3) if x >= 0 else -((-x) ** (1 / 3))


def resistance_ohm(t_c, r25_ohm=10000, beta_k=3950, steinhart=None):
    """Thermistor resistance at ``t_c`` °C (float)."""
    inv_t = 1 / (t_c + 273.15)
    if steinhart is None:
        return r25_ohm * exp(beta_k * (inv_t - 1 / 298.15))
    a, b, c = steinhart
    # c L^3 + b L + (a - 1/T) = 0, one real root (b, c > 0): Cardano.
    p = b / c
    q = (a - inv_t) / c
    d = sqrt(q * q / 4 + p * p * p / 27)
    return exp(_cbrt(-q / 2 + d) + _cbrt(-q / 2 - d))


class NTCEmu:
    """A thermistor divider; ``read_u16()`` is the ADC code."""

    def __init__(
        self, r_fixed_ohm, to_ground=True, r25_ohm=10000, beta_k=3950, steinhart=None, adc_bits=16
    ):
        self.r_fixed_ohm = r_fixed_ohm
        self.to_ground = to_ground
        self.r25_ohm = r25_ohm
        self.beta_k = beta_k
        self.steinhart = steinhart
        self.adc_bits = adc_bits
        self.temperature = Channel()
        self._t_mc = 25000
        self._state = 0  # 0 connected, 1 open, 2 shorted
        self._code = 0
        self._refresh()

    def set_temperature_mc(self, mc):
        self._t_mc = mc
        self._refresh()

    def set_open(self):
        self._state = 1
        self._refresh()

    def set_short(self):
        self._state = 2
        self._refresh()

    def set_connected(self):
        self._state = 0
        self._refresh()

    def fault(self, stuck=None, offset=0, gain_ppm=0, noise=None):
        """Inject a fault on the temperature input (m°C)."""
        self.temperature.set(stuck, offset, gain_ppm, noise)
        self._refresh()

    def clear_faults(self):
        self.temperature.clear()
        self._state = 0
        self._refresh()

    def ratio(self):
        """The divider's output as a fraction of the reference (float)."""
        if self._state == 1:
            return 1.0 if self.to_ground else 0.0
        if self._state == 2:
            return 0.0 if self.to_ground else 1.0
        t_c = self.temperature.value(self._t_mc) / 1000
        r = resistance_ohm(t_c, self.r25_ohm, self.beta_k, self.steinhart)
        return (r if self.to_ground else self.r_fixed_ohm) / (r + self.r_fixed_ohm)

    def _refresh(self):
        x = self.ratio()
        if self.adc_bits == 12:
            v = clamp(round(x * 4095), 0, 4095)
            self._code = (v << 4) | (v >> 8)
        else:
            self._code = clamp(round(x * 65535), 0, 65535)

    def read_u16(self):
        if self.temperature.noise is not None:
            self._refresh()
        return self._code
