"""Register-level model of the TI INA228 (MicroPython subset; ``chips.ina228`` in the VM).

Physical inputs: ``set_current_ua``, ``set_bus_voltage_uv``, ``set_die_temperature_mc``,
through a shunt of ``shunt_uohm`` (the real one: a driver told another value reads
scaled currents). The model computes what the chip computes:

* VSHUNT = V / 312.5 nV (78.125 nV with CONFIG.ADCRANGE=1), 20 bits in 23..4, saturating;
* CURRENT = V × 4096 / (VSHUNT_LSB × SHUNT_CAL) (the datasheet's SHUNT_CAL =
  13107.2e6 × CURRENT_LSB × R solved for the current), from the converter's
  internal value, saturating at 20 bits;
* VBUS at 195.3125 µV, DIETEMP at 7.8125 m°C, POWER = |CURRENT| × VBUS / 2^14;
* CHARGE += CURRENT per second and ENERGY += POWER / 16 per second of virtual time
  (``advance_ms``), while MODE is continuous with the shunt enabled; both are
  40-bit (CHARGE two's complement, wrapping, setting CHARGEOF), kept as two 20-bit
  halves so reads and ``advance_ms`` stay in small ints; CONFIG.RSTACC clears them.

Faults: ``current``, ``bus_voltage``, ``die_temperature`` are ``Channel`` objects
(stuck, offset, gain_ppm, noise); ``fault(name, ...)`` sets one and reconverts;
``set_ids`` changes the ID registers; the bus NACKs (``I2CBus.nack``).
"""

try:
    from afbms.chips.bus import Channel, clamp, rdiv
except ImportError:  # inside the MicroPython VM, files under /lib/chips/
    from chips.bus import Channel, clamp, rdiv

CONFIG = 0x00
ADC_CONFIG = 0x01
SHUNT_CAL = 0x02
SHUNT_TEMPCO = 0x03
VSHUNT = 0x04
VBUS = 0x05
DIETEMP = 0x06
CURRENT = 0x07
POWER = 0x08
ENERGY = 0x09
CHARGE = 0x0A
DIAG_ALRT = 0x0B
MANUFACTURER_ID = 0x3E
DEVICE_ID = 0x3F

_DEFAULTS = {
    CONFIG: 0x0000, ADC_CONFIG: 0xFB68, SHUNT_CAL: 0x1000, DIAG_ALRT: 0x0001,
    0x0C: 0x7FFF, 0x0D: 0x8000, 0x0E: 0x7FFF, 0x0F: 0x0000, 0x10: 0x7FFF, 0x11: 0xFFFF,
}  # fmt: skip
_WRITABLE = (CONFIG, ADC_CONFIG, SHUNT_CAL, SHUNT_TEMPCO, DIAG_ALRT,
             0x0C, 0x0D, 0x0E, 0x0F, 0x10, 0x11)  # fmt: skip
# Register sizes in bytes, by address (0x00..0x3F); reserved addresses read as 2 zero bytes.
_SIZES = bytes([2, 2, 2, 2, 3, 3, 2, 3, 3, 5, 5] + [2] * 53)

_CNVRF = 0x0002
_CHARGEOF = 0x0400
_ENERGYOF = 0x0800
_M20 = 0xFFFFF
_MAX20 = 0x7FFFF
_STEP_MS = 32  # advance in steps that keep POWER × ms below 2^30


class INA228Emu:
    """An INA228 for ``I2CBus.attach(address, emu)``."""

    def __init__(self, shunt_uohm=10000):
        self.shunt_uohm = shunt_uohm
        self.current = Channel()
        self.bus_voltage = Channel()
        self.die_temperature = Channel()
        self._i_ua = 0
        self._v_uv = 0
        self._t_mc = 25000
        self.manufacturer_id = 0x5449
        self.device_id = 0x2281
        self._r = [0] * 0x40
        self.reset()

    # -- set-up (may allocate) -----------------------------------------------
    def reset(self):
        """Power-on reset: default registers, accumulators cleared."""
        for i in range(0x40):
            self._r[i] = _DEFAULTS.get(i, 0)
        self._clear_acc()
        self._cur = 0  # CURRENT and POWER as numbers, for the accumulators
        self._pow = 0
        self._refresh()

    def _clear_acc(self):
        self._qhi = 0  # CHARGE, upper and lower 20 bits (unsigned)
        self._qlo = 0
        self._qrem = 0  # below one count, in CURRENT × ms
        self._ehi = 0
        self._elo = 0
        self._erem = 0

    def set_ids(self, manufacturer=0x5449, device=0x2281):
        self.manufacturer_id = manufacturer
        self.device_id = device

    def set_current_ua(self, ua):
        self._i_ua = ua
        self._refresh()

    def set_bus_voltage_uv(self, uv):
        self._v_uv = uv
        self._refresh()

    def set_die_temperature_mc(self, mc):
        self._t_mc = mc
        self._refresh()

    def fault(self, name, stuck=None, offset=0, gain_ppm=0, noise=None):
        """Inject a fault on channel ``name`` (current, bus_voltage, die_temperature)."""
        getattr(self, name).set(stuck, offset, gain_ppm, noise)
        self._refresh()

    def clear_faults(self):
        for ch in (self.current, self.bus_voltage, self.die_temperature):
            ch.clear()
        self._refresh()

    def set_charge_raw(self, value):
        """Preset CHARGE to a signed 40-bit count."""
        value &= 0xFFFFFFFFFF
        self._qhi = value >> 20
        self._qlo = value & _M20

    def charge_raw(self):
        """CHARGE as a signed 40-bit count of CURRENT_LSB."""
        v = (self._qhi << 20) | self._qlo
        return v - (1 << 40) if v >> 39 else v

    def energy_raw(self):
        return (self._ehi << 20) | self._elo

    def register(self, reg):
        """A register's value as an int (tests)."""
        if reg == CHARGE:
            return (self._qhi << 20) | self._qlo
        if reg == ENERGY:
            return self.energy_raw()
        return self._register(reg)

    def _refresh(self):
        """A conversion: result registers from the physical inputs, as MODE enables."""
        r = self._r
        mode = r[ADC_CONFIG] >> 12
        if mode & 2:
            lsb_pv = 78125 if r[CONFIG] & 0x10 else 312500
            full = (_MAX20 + 1) * lsb_pv
            v_pv = clamp(self.current.value(self._i_ua) * self.shunt_uohm, -full, full - lsb_pv)
            r[VSHUNT] = (rdiv(v_pv, lsb_pv) & _M20) << 4
            cal = r[SHUNT_CAL]
            cur = clamp(rdiv(v_pv * 4096, lsb_pv * cal), -_MAX20 - 1, _MAX20) if cal else 0
            self._cur = cur
            r[CURRENT] = (cur & _M20) << 4
        if mode & 1:
            r[VBUS] = clamp(rdiv(self.bus_voltage.value(self._v_uv) * 16, 3125), 0, _MAX20) << 4
        if mode & 4:
            t = clamp(rdiv(self.die_temperature.value(self._t_mc) * 16, 125), -32768, 32767)
            r[DIETEMP] = t & 0xFFFF
        vbus = r[VBUS] >> 4
        self._pow = min(abs(self._cur) * vbus >> 14, 0xFFFFFF)
        r[POWER] = self._pow
        r[DIAG_ALRT] |= _CNVRF

    def _noisy(self):
        return (self.current.noise is not None or self.bus_voltage.noise is not None
                or self.die_temperature.noise is not None)  # fmt: skip

    # -- virtual time (small ints unless a noise hook is set) ----------------
    def advance_ms(self, ms):
        """Let ``ms`` of virtual time pass: accumulate CHARGE and ENERGY."""
        if self._noisy():
            self._refresh()
        if (self._r[ADC_CONFIG] >> 12) & 0xA != 0xA:  # not continuous with shunt
            return
        cur = self._cur
        pw = self._pow
        while ms > 0:
            step = ms if ms < _STEP_MS else _STEP_MS
            ms -= step
            acc = cur * step + self._qrem
            n = acc // 1000
            self._qrem = acc - n * 1000
            if n:
                self._add_charge(n)
            acc = pw * step + self._erem
            n = acc // 16000
            self._erem = acc - n * 16000
            if n:
                lo = self._elo + n
                hi = self._ehi + (lo >> 20)
                self._elo = lo & _M20
                if hi > _M20:
                    self._r[DIAG_ALRT] |= _ENERGYOF
                self._ehi = hi & _M20

    def _add_charge(self, n):
        before = self._qhi >> 19
        lo = self._qlo + n
        self._qhi = (self._qhi + (lo >> 20)) & _M20
        self._qlo = lo & _M20
        after = self._qhi >> 19
        if before != after and (after if n > 0 else before):
            self._r[DIAG_ALRT] |= _CHARGEOF  # crossed +max to -min (or back)

    # -- I2C device interface (no allocation) --------------------------------
    def _register(self, reg):
        if reg == MANUFACTURER_ID:
            return self.manufacturer_id
        if reg == DEVICE_ID:
            return self.device_id
        return self._r[reg] if reg < 0x40 else 0

    def read_register(self, reg, buf):
        n = len(buf)
        if reg == CHARGE or reg == ENERGY:  # noqa: SIM109 (a tuple of globals allocates)
            hi = self._qhi if reg == CHARGE else self._ehi
            lo = self._qlo if reg == CHARGE else self._elo
            for i in range(n):
                if i == 0:
                    buf[0] = hi >> 12
                elif i == 1:
                    buf[1] = (hi >> 4) & 0xFF
                elif i == 2:
                    buf[2] = ((hi & 0x0F) << 4) | (lo >> 16)
                elif i == 3:
                    buf[3] = (lo >> 8) & 0xFF
                elif i == 4:
                    buf[4] = lo & 0xFF
                else:
                    buf[i] = 0
            return
        v = self._register(reg)
        size = _SIZES[reg] if reg < 0x40 else 2
        for i in range(n):
            buf[i] = (v >> (8 * (size - 1 - i))) & 0xFF if i < size else 0
        if reg == DIAG_ALRT:
            self._r[DIAG_ALRT] &= ~_CNVRF

    def write_register(self, reg, data):
        if len(data) < 2 or reg not in _WRITABLE:
            return  # a short write or a read-only register: ignored
        v = (data[0] << 8) | data[1]
        if reg == CONFIG:
            if v & 0x8000:  # RST
                self.reset()
                return
            if v & 0x4000:  # RSTACC
                self._clear_acc()
            v &= 0x3FFF
        elif reg == SHUNT_CAL:
            v &= 0x7FFF
        self._r[reg] = v
        if reg != DIAG_ALRT:
            self._refresh()
