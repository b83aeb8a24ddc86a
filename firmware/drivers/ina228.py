"""TI INA228: 20-bit current, bus voltage and die temperature, 40-bit charge accumulator.

    ina = INA228(i2c, 0x40, shunt_uohm=10_000, max_current_ua=2_000_000)
    ina.current_ua(); ina.bus_voltage_uv(); ina.die_temperature_mc()
    ina.charge_delta_uams()   # charge since the previous call, µA·ms

Calibration (datasheet): CURRENT_LSB = max_current / 2^19 and
SHUNT_CAL = 13107.2e6 × CURRENT_LSB × R_SHUNT (×4 with ADCRANGE=1). In the
driver's units that is max_current_ua × shunt_uohm / 4e7 (ADCRANGE=0) or / 1e7
(ADCRANGE=1, chosen when the shunt voltage at max_current fits ±40.96 mV),
rounded up (a coarser LSB, so max_current stays within the 20-bit range).
Readings use the LSB the rounded SHUNT_CAL really gives:
CURRENT_LSB = SHUNT_CAL × 1e7 / (2^17 × shunt_uohm) µA (2^19 with ADCRANGE=1),
held as an integer part plus a 2^-18 fraction so the per-sample arithmetic
stays in small ints (no heap allocation on MicroPython). Multi-byte registers
are big-endian; VBUS, CURRENT and VSHUNT hold 20 bits in bits 23..4.
"""

try:
    from micropython import const
except ImportError:  # CPython, for host-side tests

    def const(__x):
        return __x


_REG_CONFIG = const(0x00)
_REG_ADC_CONFIG = const(0x01)
_REG_SHUNT_CAL = const(0x02)
_REG_VBUS = const(0x05)
_REG_DIETEMP = const(0x06)
_REG_CURRENT = const(0x07)
_REG_CHARGE = const(0x0A)
_REG_MANUFACTURER_ID = const(0x3E)
_REG_DEVICE_ID = const(0x3F)

_MANUFACTURER_TI = const(0x5449)
_DIE_ID = const(0x228)  # DEVICE_ID bits 15..4

_CONFIG_RST = const(0x8000)
_CONFIG_RSTACC = const(0x4000)
_CONFIG_ADCRANGE = const(0x0010)

# ADC_CONFIG: MODE=0xF (continuous bus, shunt and temperature), VBUSCT=VSHCT=1052 µs,
# VTCT=540 µs, AVG=16: a fresh averaged result every ~42 ms; the accumulators
# integrate every conversion whatever the sample period.
ADC_CONFIG_DEFAULT = const(0xFB62)

_FRAC_BITS = const(18)
_FRAC_ONE = const(0x40000)  # 1 << _FRAC_BITS
_HALF = const(0x20000)
_MASK20 = const(0xFFFFF)
_SIGN20 = const(0x80000)
_WRAP20 = const(0x100000)

_EIO = const(5)
_ENODEV = const(19)


def _fmul(x, f, r):
    """floor((x × f + r) / 2^18) for 0 ≤ f, r < 2^18; small ints while |x| < 2^20."""
    t = (x & 1023) * f + r
    u = (x >> 10) * f + (t >> 10)
    return u >> 8


class INA228:
    """INA228 on an I2C bus (machine.I2C API)."""

    def __init__(self, i2c, address, shunt_uohm, max_current_ua, adc_config=ADC_CONFIG_DEFAULT):
        """Check the IDs, reset, calibrate. ``shunt_uohm``: shunt in µΩ; ``max_current_ua``:
        largest expected |current| in µA. Raises OSError (absent/other chip, bus error,
        configuration not taken), ValueError (shunt voltage beyond ±163.84 mV)."""
        if shunt_uohm <= 0 or max_current_ua <= 0:
            raise ValueError("shunt and max current must be positive")
        self._i2c = i2c
        self._addr = address
        self._b2 = bytearray(2)
        self._b3 = bytearray(3)
        self._b5 = bytearray(5)
        if self._read16(_REG_MANUFACTURER_ID) != _MANUFACTURER_TI:
            raise OSError(_ENODEV, "INA228: bad manufacturer id")
        if self._read16(_REG_DEVICE_ID) >> 4 != _DIE_ID:
            raise OSError(_ENODEV, "INA228: bad device id")
        # Shunt voltage at max current, µV (µA × µΩ = pV).
        vmax_uv = max_current_ua * shunt_uohm // 1000000
        if vmax_uv > 163840:
            raise ValueError("shunt voltage at max current exceeds 163.84 mV")
        self.adcrange = 1 if vmax_uv <= 40960 else 0
        div = 10000000 if self.adcrange else 40000000
        cal = (max_current_ua * shunt_uohm + div - 1) // div  # up: max_current stays in range
        if not 1 <= cal <= 0x7FFF:
            raise ValueError("SHUNT_CAL out of range")
        self.shunt_cal = cal
        # Effective CURRENT_LSB in µA = num / den; charge LSB in µA·ms = 1000 × that.
        num = cal * 10000000
        den = shunt_uohm << (19 if self.adcrange else 17)
        self._i_int = num // den
        self._i_frac = ((num % den) * _FRAC_ONE + den // 2) // den
        if self._i_frac == _FRAC_ONE:  # the fraction rounded up to one
            self._i_int += 1
            self._i_frac = 0
        num *= 1000
        self._q_int = num // den
        self._q_frac = (num % den) * _FRAC_ONE // den
        self._write16(_REG_CONFIG, _CONFIG_RST)
        self._write16(_REG_CONFIG, _CONFIG_ADCRANGE if self.adcrange else 0)
        self._write16(_REG_ADC_CONFIG, adc_config)
        self._write16(_REG_SHUNT_CAL, cal)
        if self._read16(_REG_SHUNT_CAL) != cal or self._read16(_REG_ADC_CONFIG) != adc_config:
            raise OSError(_EIO, "INA228: configuration not taken")
        self._hi = 0  # previous CHARGE, upper and lower 20 bits (unsigned); reset to 0
        self._lo = 0
        self._rem = 0  # charge remainder below 1 µA·ms, in 2^-18 µA·ms

    # -- register access ------------------------------------------------------
    def _read16(self, reg):
        b = self._b2
        self._i2c.readfrom_mem_into(self._addr, reg, b)
        return (b[0] << 8) | b[1]

    def _write16(self, reg, value):
        b = self._b2
        b[0] = (value >> 8) & 0xFF
        b[1] = value & 0xFF
        self._i2c.writeto_mem(self._addr, reg, b)

    def _read20(self, reg):
        """Signed 20-bit value from bits 23..4 of a 24-bit register."""
        b = self._b3
        self._i2c.readfrom_mem_into(self._addr, reg, b)
        v = (b[0] << 12) | (b[1] << 4) | (b[2] >> 4)
        if v & _SIGN20:
            v -= _WRAP20
        return v

    def _latch_charge(self):
        """Read CHARGE into self._hi/_lo (two unsigned 20-bit halves of the 40 bits)."""
        b = self._b5
        self._i2c.readfrom_mem_into(self._addr, _REG_CHARGE, b)
        self._hi = (b[0] << 12) | (b[1] << 4) | (b[2] >> 4)
        self._lo = ((b[2] & 0x0F) << 16) | (b[3] << 8) | b[4]

    # -- measurements ---------------------------------------------------------
    def bus_voltage_uv(self):
        """Bus voltage in µV (VBUS, 195.3125 µV/LSB = 3125/16)."""
        raw = self._read20(_REG_VBUS)
        return raw * 195 + ((raw * 5 + 8) >> 4)

    def current_ua(self):
        """Current in µA, signed as the shunt voltage (IN+ to IN-)."""
        raw = self._read20(_REG_CURRENT)
        return raw * self._i_int + _fmul(raw, self._i_frac, _HALF)

    def die_temperature_mc(self):
        """Die temperature in m°C (DIETEMP, signed 16-bit, 7.8125 m°C/LSB = 125/16)."""
        raw = self._read16(_REG_DIETEMP)
        if raw & 0x8000:
            raw -= 0x10000
        return (raw * 125 + 8) >> 4

    def charge_delta_uams(self):
        """Charge in µA·ms accumulated by the chip since the previous call (or reset).

        Differences the 40-bit CHARGE register modulo 2^40, so crossing zero and the
        40-bit wrap are both handled; the sub-µA·ms remainder is carried to the next
        call, so the sum of all deltas equals the accumulated charge. Allocation-free
        while the delta is below 2^20 LSB (and the result fits a small int)."""
        phi = self._hi
        plo = self._lo
        self._latch_charge()
        dh = (self._hi - phi) & _MASK20
        if dh & _SIGN20:
            dh -= _WRAP20
        delta = dh * _WRAP20 + (self._lo - plo)  # LSB counts
        f = self._q_frac
        t = (delta & 1023) * f + self._rem
        u = (delta >> 10) * f + (t >> 10)
        self._rem = ((u & 0xFF) << 10) | (t & 1023)
        return delta * self._q_int + (u >> 8)

    def charge_raw(self):
        """The CHARGE register as a signed 40-bit count of CURRENT_LSB (may allocate)."""
        b = self._b5
        self._i2c.readfrom_mem_into(self._addr, _REG_CHARGE, b)
        v = 0
        for x in b:
            v = (v << 8) | x
        if v & 0x8000000000:
            v -= 0x10000000000
        return v

    def reset_charge(self):
        """Clear the ENERGY and CHARGE accumulators (CONFIG.RSTACC) and the remainder."""
        self._write16(_REG_CONFIG, _CONFIG_RSTACC | (_CONFIG_ADCRANGE if self.adcrange else 0))
        self._hi = 0  # the register is zero from this instant on
        self._lo = 0
        self._rem = 0
