"""Register-level model of the TI INA226 (MicroPython subset; ``chips.ina226`` in the VM).

Physical inputs: ``set_current_ua``, ``set_bus_voltage_uv`` through a shunt of
``shunt_uohm``. The chip's arithmetic: SHUNT = V / 2.5 µV (signed 16-bit,
saturating), BUS = V / 1.25 mV, CURRENT = SHUNT × CAL / 2048 (from the
quantised shunt register, as the datasheet states), POWER = CURRENT × BUS /
20000. All registers are 16-bit big-endian. MASK/ENABLE.CVRF is set by each
conversion and cleared by reading MASK/ENABLE.

Faults: ``current`` and ``bus_voltage`` are ``Channel`` objects; ``fault(name, ...)``;
``set_ids``; the bus NACKs (``I2CBus.nack``). ``advance_ms`` reconverts only when
a noise hook is set (there is no accumulator).
"""

try:
    from afbms.chips.bus import Channel, clamp, rdiv
except ImportError:  # inside the MicroPython VM, files under /lib/chips/
    from chips.bus import Channel, clamp, rdiv

CONFIG = 0x00
SHUNT = 0x01
BUS = 0x02
POWER = 0x03
CURRENT = 0x04
CALIBRATION = 0x05
MASK_ENABLE = 0x06
ALERT_LIMIT = 0x07
MANUFACTURER_ID = 0xFE
DIE_ID = 0xFF

_CVRF = 0x0008


class INA226Emu:
    """An INA226 for ``I2CBus.attach(address, emu)``."""

    def __init__(self, shunt_uohm=10000):
        self.shunt_uohm = shunt_uohm
        self.current = Channel()
        self.bus_voltage = Channel()
        self._i_ua = 0
        self._v_uv = 0
        self.manufacturer_id = 0x5449
        self.die_id = 0x2260
        self._r = [0] * 8
        self.reset()

    def reset(self):
        for i in range(8):
            self._r[i] = 0
        self._r[CONFIG] = 0x4127
        self._refresh()

    def set_ids(self, manufacturer=0x5449, die=0x2260):
        self.manufacturer_id = manufacturer
        self.die_id = die

    def set_current_ua(self, ua):
        self._i_ua = ua
        self._refresh()

    def set_bus_voltage_uv(self, uv):
        self._v_uv = uv
        self._refresh()

    def fault(self, name, stuck=None, offset=0, gain_ppm=0, noise=None):
        """Inject a fault on channel ``name`` (current, bus_voltage)."""
        getattr(self, name).set(stuck, offset, gain_ppm, noise)
        self._refresh()

    def clear_faults(self):
        self.current.clear()
        self.bus_voltage.clear()
        self._refresh()

    def register(self, reg):
        """A register's value as an int (tests)."""
        if reg == MANUFACTURER_ID:
            return self.manufacturer_id
        if reg == DIE_ID:
            return self.die_id
        return self._r[reg] if reg < 8 else 0

    def advance_ms(self, ms):
        if self.current.noise is not None or self.bus_voltage.noise is not None:
            self._refresh()

    def _refresh(self):
        r = self._r
        mode = r[CONFIG] & 7
        if mode & 1:
            v_pv = self.current.value(self._i_ua) * self.shunt_uohm
            r[SHUNT] = clamp(rdiv(v_pv, 2500000), -32768, 32767) & 0xFFFF
        if mode & 2:
            r[BUS] = clamp(rdiv(self.bus_voltage.value(self._v_uv), 1250), 0, 32767)
        sh = r[SHUNT] - 0x10000 if r[SHUNT] & 0x8000 else r[SHUNT]
        cur = clamp(rdiv(sh * r[CALIBRATION], 2048), -32768, 32767)
        r[CURRENT] = cur & 0xFFFF
        r[POWER] = min(abs(cur) * r[BUS] // 20000, 0xFFFF)
        r[MASK_ENABLE] |= _CVRF

    def read_register(self, reg, buf):
        v = self.register(reg)
        for i in range(len(buf)):
            buf[i] = (v >> 8) if i == 0 else (v & 0xFF) if i == 1 else 0
        if reg == MASK_ENABLE:
            self._r[MASK_ENABLE] &= ~_CVRF

    def write_register(self, reg, data):
        if len(data) < 2 or reg not in (CONFIG, CALIBRATION, MASK_ENABLE, ALERT_LIMIT):
            return
        v = (data[0] << 8) | data[1]
        if reg == CONFIG and v & 0x8000:
            self.reset()
            return
        if reg == CONFIG:
            v = (v & 0x0FFF) | 0x4000  # bits 14..12 reserved, read as 100b
        elif reg == CALIBRATION:
            v &= 0x7FFF
        self._r[reg] = v
        if reg != MASK_ENABLE and reg != ALERT_LIMIT:
            self._refresh()
