"""Register-level model of the Nuvoton NAU7802 (MicroPython subset; ``chips.nau7802``).

The physical input is the load cell's force (``set_force_mn``), turned into a
differential voltage by ``nv_per_n`` (the cell's sensitivity at its excitation)
plus ``zero_nv`` (the cell's output at zero force, removed by the driver's tare).
A conversion is ``counts = V × gain × 2^24 / VREF`` (VREF = the LDO voltage with
PU_CTRL.AVDDS, else ``avdd_mv``) plus the chip's own offset
``chip_offset_counts``, minus the OCAL1 value that internal calibration
(CTRL2.CALS, CALMOD=00) measured; saturating at 24 bits.

Modelled registers: PU_CTRL (RR resets the registers, PUR rises on the first
read after PUD unless ``never_power_up``, CS starts conversions, CR is set by a
conversion and cleared by reading ADCO_B0), CTRL1 (GAINS, VLDO), CTRL2 (CALS
completes after ``cal_polls`` reads of CTRL2, setting CAL_ERR if ``cal_error``;
CRS), OCAL1, ADCO_B2..B0 (auto-increment reads), REVISION_ID (``revision``).
Conversions complete after ``polls_per_conversion`` reads of PU_CTRL while CR is
clear (0: never by polling), and every 1000/SPS ms of ``advance_ms``.

Faults: ``force`` is a ``Channel`` (stuck, offset, gain_ppm, noise, in mN);
``never_power_up``, ``cal_error``, ``revision``; the bus NACKs.
"""

try:
    from afbms.chips.bus import Channel, clamp, rdiv
except ImportError:  # inside the MicroPython VM, files under /lib/chips/
    from chips.bus import Channel, clamp, rdiv

PU_CTRL = 0x00
CTRL1 = 0x01
CTRL2 = 0x02
OCAL1_B2 = 0x03
ADCO_B2 = 0x12
ADCO_B1 = 0x13
ADCO_B0 = 0x14
REVISION_ID = 0x1F

RR = 0x01
PUD = 0x02
PUA = 0x04
PUR = 0x08
CS = 0x10
CR = 0x20
AVDDS = 0x80
CALS = 0x04
CAL_ERR = 0x08

_RATES = (10, 20, 40, 80, 80, 80, 80, 320)  # CRS codes 4..6 are reserved
_MAX24 = 0x7FFFFF


class NAU7802Emu:
    """A NAU7802 with a load cell on channel 1, for ``I2CBus.attach(address, emu)``."""

    def __init__(self, nv_per_n=1320, avdd_mv=3300, chip_offset_counts=1500):
        self.nv_per_n = nv_per_n
        self.avdd_mv = avdd_mv
        self.chip_offset_counts = chip_offset_counts
        self.zero_nv = 0
        self.force = Channel()
        self.never_power_up = False
        self.cal_error = False
        self.cal_polls = 3
        self.polls_per_conversion = 2
        self.revision = 0x0F
        self.conversions = 0
        self._f_mn = 0
        self._r = bytearray(0x20)
        self.reset()

    # -- set-up (may allocate) -----------------------------------------------
    def reset(self):
        """Power-on state: registers cleared, powered down."""
        for i in range(0x20):
            self._r[i] = 0
        self._cal_left = 0
        self._polls = 0
        self._t_ms = 0
        self._refresh()

    def set_force_mn(self, mn):
        self._f_mn = mn
        self._refresh()

    def set_zero_nv(self, nv):
        self.zero_nv = nv
        self._refresh()

    def fault(self, stuck=None, offset=0, gain_ppm=0, noise=None):
        """Inject a fault on the force input (mN)."""
        self.force.set(stuck, offset, gain_ppm, noise)
        self._refresh()

    def clear_faults(self):
        self.force.clear()
        self._refresh()

    def gain(self):
        return 1 << (self._r[CTRL1] & 7)

    def vref_mv(self):
        if self._r[PU_CTRL] & AVDDS:
            return 4500 - 300 * ((self._r[CTRL1] >> 3) & 7)
        return self.avdd_mv

    def sps(self):
        return _RATES[(self._r[CTRL2] >> 4) & 7]

    def input_nv(self):
        return rdiv(self.force.value(self._f_mn) * self.nv_per_n, 1000) + self.zero_nv

    def ideal_counts(self):
        """The conversion result for the present input, without the chip's offset."""
        return rdiv(self.input_nv() * self.gain() * (1 << 24), self.vref_mv() * 1000000)

    def register(self, reg):
        """A register's value, without the side effects of an I2C read (tests)."""
        return self._r[reg]

    def ocal(self):
        """OCAL1 as a signed 24-bit value."""
        return self._ocal()

    def _ocal(self):
        r = self._r
        v = (r[OCAL1_B2] << 16) | (r[OCAL1_B2 + 1] << 8) | r[OCAL1_B2 + 2]
        return v - (1 << 24) if v & 0x800000 else v

    def _refresh(self):
        """Precompute the next conversion result so conversions do not allocate."""
        v = self.ideal_counts() + self.chip_offset_counts - self._ocal()
        self._code = clamp(v, -_MAX24 - 1, _MAX24) & 0xFFFFFF

    # -- conversions (small ints unless a noise hook is set) -----------------
    def _running(self):
        pu = self._r[PU_CTRL]
        return pu & (PUD | PUA | PUR | CS) == PUD | PUA | PUR | CS

    def _convert(self):
        if self.force.noise is not None:
            self._refresh()
        r = self._r
        c = self._code
        r[ADCO_B2] = c >> 16
        r[ADCO_B1] = (c >> 8) & 0xFF
        r[ADCO_B0] = c & 0xFF
        r[PU_CTRL] |= CR
        self._polls = 0
        self.conversions += 1

    def advance_ms(self, ms):
        """Let ``ms`` of virtual time pass: a conversion every 1000/SPS ms."""
        if not self._running():
            return
        period = 1000 // self.sps()
        self._t_ms += ms
        if self._t_ms >= period:
            self._t_ms %= period
            self._convert()

    # -- I2C device interface (no allocation) --------------------------------
    def _read8(self, reg):
        r = self._r
        if reg == PU_CTRL:
            pu = r[PU_CTRL]
            if pu & PUD and not pu & (PUR | RR) and not self.never_power_up:
                r[PU_CTRL] = pu | PUR  # power-up takes one poll
            elif self._running() and not pu & CR and self.polls_per_conversion:
                self._polls += 1
                if self._polls >= self.polls_per_conversion:
                    self._convert()
        elif reg == CTRL2 and self._cal_left:
            self._cal_left -= 1
            if not self._cal_left:
                self._finish_cal()
        elif reg == REVISION_ID:
            return self.revision
        elif reg >= 0x20:
            return 0
        v = r[reg]
        if reg == ADCO_B0:
            r[PU_CTRL] &= ~CR
        return v

    def _finish_cal(self):
        r = self._r
        r[CTRL2] &= ~CALS
        if self.cal_error:
            r[CTRL2] |= CAL_ERR
            return
        off = self.chip_offset_counts & 0xFFFFFF
        r[OCAL1_B2] = off >> 16
        r[OCAL1_B2 + 1] = (off >> 8) & 0xFF
        r[OCAL1_B2 + 2] = off & 0xFF
        self._refresh()

    def _write8(self, reg, v):
        r = self._r
        if reg == PU_CTRL:
            if v & RR:
                self.reset()
                r[PU_CTRL] = RR
                return
            old = r[PU_CTRL]
            keep = old & (PUR | CR)
            if not v & PUD:
                keep = 0  # powered down: not ready, no data
            if v & CS and not old & CS:
                self._polls = 0
                self._t_ms = 0
            r[PU_CTRL] = (v & ~(PUR | CR)) | keep
            self._refresh()
        elif reg == CTRL2:
            r[CTRL2] = (v & ~CAL_ERR) | (r[CTRL2] & CAL_ERR)
            if v & CALS:
                r[CTRL2] &= ~CAL_ERR
                self._cal_left = self.cal_polls if self.cal_polls > 0 else 1
        elif reg < 0x20 and reg not in (ADCO_B2, ADCO_B1, ADCO_B0, REVISION_ID):
            r[reg] = v
            self._refresh()

    def read_register(self, reg, buf):
        for i in range(len(buf)):
            buf[i] = self._read8(reg + i)

    def write_register(self, reg, data):
        for i in range(len(data)):
            self._write8(reg + i, data[i])
