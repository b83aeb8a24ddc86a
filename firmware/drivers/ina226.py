"""TI INA226: 16-bit current and bus voltage (no accumulator: the sampler integrates).

    ina = INA226(i2c, 0x40, shunt_uohm=10_000, max_current_ua=2_000_000)
    ina.current_ua(); ina.bus_voltage_uv()

Calibration (datasheet): CURRENT_LSB = max_current / 2^15 and
CAL = 0.00512 / (CURRENT_LSB × R_SHUNT), i.e. 1.6777216e14 / (max_current_ua ×
shunt_uohm) in the driver's units, rounded down (a coarser LSB, so max_current
stays in range) and clamped to the 15-bit register. The chip
computes CURRENT = VSHUNT × CAL / 2048, so the LSB the rounded CAL really gives
is 5.12e9 / (shunt_uohm × CAL) µA; it is held as an integer part plus a 2^-14
fraction so the per-sample arithmetic stays in small ints. Registers are
16-bit big-endian.
"""

try:
    from micropython import const
except ImportError:  # CPython, for host-side tests

    def const(__x):
        return __x


_REG_CONFIG = const(0x00)
_REG_BUS = const(0x02)
_REG_CURRENT = const(0x04)
_REG_CALIBRATION = const(0x05)
_REG_MANUFACTURER_ID = const(0xFE)
_REG_DIE_ID = const(0xFF)

_MANUFACTURER_TI = const(0x5449)
_DIE_ID = const(0x2260)

_CONFIG_RST = const(0x8000)
# CONFIG: AVG=16, VBUSCT=VSHCT=1.1 ms, MODE=7 (shunt and bus, continuous): ~35 ms/result.
# Bits 14..12 are reserved and read back as 100b.
CONFIG_DEFAULT = const(0x4527)
_CONFIG_MASK = const(0x0FFF)

_FRAC_BITS = const(14)
_HALF = const(0x2000)

_EIO = const(5)
_ENODEV = const(19)


class INA226:
    """INA226 on an I2C bus (machine.I2C API)."""

    def __init__(self, i2c, address, shunt_uohm, max_current_ua, config=CONFIG_DEFAULT):
        """Check the IDs, reset, calibrate. ``shunt_uohm``: shunt in µΩ; ``max_current_ua``:
        largest expected |current| in µA. Raises OSError (absent/other chip, bus error,
        configuration not taken), ValueError (shunt voltage beyond ±81.92 mV)."""
        if shunt_uohm <= 0 or max_current_ua <= 0:
            raise ValueError("shunt and max current must be positive")
        if max_current_ua * shunt_uohm > 81920000000:  # pV: 81.92 mV full scale
            raise ValueError("shunt voltage at max current exceeds 81.92 mV")
        self._i2c = i2c
        self._addr = address
        self._b2 = bytearray(2)
        if self._read16(_REG_MANUFACTURER_ID) != _MANUFACTURER_TI:
            raise OSError(_ENODEV, "INA226: bad manufacturer id")
        if self._read16(_REG_DIE_ID) != _DIE_ID:
            raise OSError(_ENODEV, "INA226: bad die id")
        prod = max_current_ua * shunt_uohm
        cal = 167772160000000 // prod  # down: a coarser LSB keeps max_current in range
        if cal > 0x7FFF:  # finer LSB than the register allows: take the finest possible
            cal = 0x7FFF
        if cal < 1:
            raise ValueError("CAL out of range")
        self.cal = cal
        num = 5120000000
        den = shunt_uohm * cal
        self._i_int = num // den
        self._i_frac = (((num % den) << _FRAC_BITS) + den // 2) // den
        if self._i_frac >> _FRAC_BITS:  # the fraction rounded up to one
            self._i_int += 1
            self._i_frac = 0
        self._write16(_REG_CONFIG, _CONFIG_RST)
        self._write16(_REG_CONFIG, config)
        self._write16(_REG_CALIBRATION, cal)
        if (
            self._read16(_REG_CALIBRATION) != cal
            or self._read16(_REG_CONFIG) & _CONFIG_MASK != config & _CONFIG_MASK
        ):
            raise OSError(_EIO, "INA226: configuration not taken")

    def _read16(self, reg):
        b = self._b2
        self._i2c.readfrom_mem_into(self._addr, reg, b)
        return (b[0] << 8) | b[1]

    def _write16(self, reg, value):
        b = self._b2
        b[0] = (value >> 8) & 0xFF
        b[1] = value & 0xFF
        self._i2c.writeto_mem(self._addr, reg, b)

    def bus_voltage_uv(self):
        """Bus voltage in µV (1.25 mV/LSB)."""
        return self._read16(_REG_BUS) * 1250

    def current_ua(self):
        """Current in µA, signed as the shunt voltage (IN+ to IN-)."""
        raw = self._read16(_REG_CURRENT)
        if raw & 0x8000:
            raw -= 0x10000
        return raw * self._i_int + ((raw * self._i_frac + _HALF) >> _FRAC_BITS)
