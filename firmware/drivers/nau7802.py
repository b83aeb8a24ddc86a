"""Nuvoton NAU7802: 24-bit load-cell ADC, read as force (mN) and stack pressure (Pa).

    cell = NAU7802(i2c, 0x2A, counts_per_n=859.4, gain=128, sps=10, ldo_mv=3300,
                   sleep_ms=clock.sleep_ms)
    cell.tare(8)
    cell.pressure_pa(100_000)   # area in 1000 µm² units (1 cm² = 100 000)

Start-up follows the datasheet: RR=1, RR=0, PUD+PUA, wait for PUR, check the
revision id, LDO/gain/rate, internal offset calibration (CALS, check CAL_ERR),
start conversions (CS). Every wait polls a ready bit at most ``max_polls``
times, with ``sleep_ms(1)`` between polls when a sleep function is given
(on MicroPython ``time.sleep_ms`` by default; under CPython the polls run
back to back unless one is passed).

The per-sample methods never wait: when no new conversion is ready they
return the value from the previous conversion.
"""

try:
    from micropython import const
except ImportError:  # CPython, for host-side tests

    def const(__x):
        return __x


try:
    from time import sleep_ms as _sleep_ms  # MicroPython
except ImportError:  # CPython: no sleep_ms, polls run back to back
    _sleep_ms = None

_REG_PU_CTRL = const(0x00)
_REG_CTRL1 = const(0x01)
_REG_CTRL2 = const(0x02)
_REG_ADCO_B2 = const(0x12)
_REG_ADC = const(0x15)
_REG_PWR_CTRL = const(0x1C)
_REG_REVISION = const(0x1F)

_PU_RR = const(0x01)
_PU_PUD = const(0x02)
_PU_PUA = const(0x04)
_PU_PUR = const(0x08)
_PU_CS = const(0x10)
_PU_CR = const(0x20)
_PU_AVDDS = const(0x80)  # AVDD from the internal LDO

_CTRL2_CALS = const(0x04)
_CTRL2_CAL_ERR = const(0x08)
_ADC_CHPS_OFF = const(0x30)  # REG_CHPS = 11: chopper clock off (datasheet recommendation)
_PWR_PGA_CAP_EN = const(0x80)

_EIO = const(5)
_ENODEV = const(19)
_ETIMEDOUT = const(110)

_B_LIMIT = const(0x40000)  # divisors of _muldiv stay below 2^18


def _muldiv(x, a, b):
    """round(x × a / b) for 0 ≤ a < 2^20, 0 < b < 2^18, in small ints for any small x."""
    q = x // b
    r = x - q * b
    t = r * (a >> 10)
    q2 = t // b
    return q * a + (q2 << 10) + (((t - q2 * b) << 10) + r * (a & 1023) + (b >> 1)) // b


def _code(value, table, what):
    for i in range(len(table)):
        if table[i] == value:
            return i
    raise ValueError(what)


class NAU7802:
    """NAU7802 on an I2C bus (machine.I2C API), channel 1, one load cell."""

    def __init__(
        self,
        i2c,
        address,
        counts_per_n,
        gain=128,
        sps=10,
        ldo_mv=3300,
        sleep_ms=None,
        max_polls=1000,
    ):
        """``counts_per_n``: ADC counts per newton at this gain and LDO (int or float,
        calibrated on the fixture); ``gain`` 1..128; ``sps`` 10, 20, 40, 80 or 320;
        ``ldo_mv`` 2400..4500 in 300 mV steps, or None for AVDD from the pin;
        ``sleep_ms(ms)`` used between polls (default: ``time.sleep_ms`` where it exists,
        else none); ``max_polls`` bounds every wait.
        Raises OSError (no chip, power-up or calibration failure, bus error)."""
        gain_code = _code(gain, (1, 2, 4, 8, 16, 32, 64, 128), "gain")
        rate_code = _code(sps, (10, 20, 40, 80, None, None, None, 320), "sps")  # 4..6 reserved
        if ldo_mv is not None and (ldo_mv < 2400 or ldo_mv > 4500 or (4500 - ldo_mv) % 300):
            raise ValueError("ldo_mv")
        if counts_per_n <= 0:
            raise ValueError("counts_per_n")
        self._i2c = i2c
        self._addr = address
        self._sleep = sleep_ms if sleep_ms is not None else _sleep_ms
        self._max_polls = max_polls
        self._b1 = bytearray(1)
        self._b3 = bytearray(3)
        # force_mn = counts × 1000 / counts_per_n = counts × a / b with both scaled by
        # the largest power of two that keeps b < 2^18 (a < 2^20).
        s = 1024
        while s > 1 and round(counts_per_n * s) >= _B_LIMIT:
            s >>= 1
        self._a = 1000 * s
        self._b = round(counts_per_n * s)
        if not 0 < self._b < _B_LIMIT:
            raise ValueError("counts_per_n")
        self.offset = 0  # counts at zero force (tare)
        self._raw = 0
        self._write8(_REG_PU_CTRL, _PU_RR)
        self._write8(_REG_PU_CTRL, 0)
        self._write8(_REG_PU_CTRL, _PU_PUD | _PU_PUA)
        self._wait(_REG_PU_CTRL, _PU_PUR, _PU_PUR, "NAU7802: power-up timeout")
        if self._read8(_REG_REVISION) & 0x0F != 0x0F:
            raise OSError(_ENODEV, "NAU7802: bad revision id")
        pu = _PU_PUD | _PU_PUA
        ctrl1 = gain_code
        if ldo_mv is not None:
            pu |= _PU_AVDDS
            ctrl1 |= ((4500 - ldo_mv) // 300) << 3
        self._write8(_REG_CTRL1, ctrl1)
        self._write8(_REG_PU_CTRL, pu)
        self._write8(_REG_ADC, _ADC_CHPS_OFF)
        self._write8(_REG_PWR_CTRL, self._read8(_REG_PWR_CTRL) | _PWR_PGA_CAP_EN)
        self._write8(_REG_CTRL2, rate_code << 4)
        if self._read8(_REG_CTRL1) != ctrl1:
            raise OSError(_EIO, "NAU7802: configuration not taken")
        self._write8(_REG_PU_CTRL, pu | _PU_CS)
        self.calibrate()
        self._next()  # first conversion after calibration

    # -- register access ------------------------------------------------------
    def _read8(self, reg):
        self._i2c.readfrom_mem_into(self._addr, reg, self._b1)
        return self._b1[0]

    def _write8(self, reg, value):
        self._b1[0] = value
        self._i2c.writeto_mem(self._addr, reg, self._b1)

    def _wait(self, reg, mask, want, message):
        """Poll ``reg`` until ``reg & mask == want``, at most max_polls times."""
        for _ in range(self._max_polls):
            v = self._read8(reg)
            if v & mask == want:
                return v
            if self._sleep is not None:
                self._sleep(1)
        raise OSError(_ETIMEDOUT, message)

    def _next(self):
        """Wait for a new conversion and read it; OSError after max_polls polls."""
        self._wait(_REG_PU_CTRL, _PU_CR, _PU_CR, "NAU7802: conversion timeout")
        return self._read_adc()

    def _read_adc(self):
        b = self._b3
        self._i2c.readfrom_mem_into(self._addr, _REG_ADCO_B2, b)
        v = (b[0] << 16) | (b[1] << 8) | b[2]
        if v & 0x800000:
            v -= 0x1000000
        self._raw = v
        return v

    # -- set-up ---------------------------------------------------------------
    def calibrate(self):
        """Internal offset calibration (CALMOD=00, CALS); OSError on timeout or CAL_ERR."""
        ctrl2 = self._read8(_REG_CTRL2) & 0xF0  # keep rate and channel, CALMOD = 00
        self._write8(_REG_CTRL2, ctrl2 | _CTRL2_CALS)
        v = self._wait(_REG_CTRL2, _CTRL2_CALS, 0, "NAU7802: calibration timeout")
        if v & _CTRL2_CAL_ERR:
            raise OSError(_EIO, "NAU7802: calibration error")

    def tare(self, samples=8):
        """Average ``samples`` new conversions and take them as zero force; returns the
        offset in counts. Blocks (bounded): call it at set-up, not per sample."""
        if samples < 1:
            raise ValueError("samples")
        if self.data_ready():
            self._read_adc()  # stale: may predate the call
        total = 0
        for _ in range(samples):
            total += self._next()
        self.offset = (2 * total + samples) // (2 * samples)
        return self.offset

    # -- measurements ---------------------------------------------------------
    def data_ready(self):
        """True when a new conversion is waiting (PU_CTRL.CR)."""
        return bool(self._read8(_REG_PU_CTRL) & _PU_CR)

    def read_raw(self):
        """Latest conversion in ADC counts (24-bit signed); the previous one if none is new."""
        if self._read8(_REG_PU_CTRL) & _PU_CR:
            return self._read_adc()
        return self._raw

    def force_mn(self):
        """Force in mN: (counts - tare offset) × 1000 / counts_per_n."""
        return _muldiv(self.read_raw() - self.offset, self._a, self._b)

    def pressure_pa(self, area_um2k):
        """Stack pressure in Pa over an active area in 1000 µm² units (0.001 mm²):
        Pa = mN × 1e6 / area_um2k."""
        if area_um2k <= 0:
            raise ValueError("area")
        a = 1000000
        b = area_um2k
        while b >= _B_LIMIT:  # areas above 2.6 cm²: scale both (error < 4 ppm)
            b = (b + 1) >> 1
            a >>= 1
        return _muldiv(self.force_mn(), a, b)
