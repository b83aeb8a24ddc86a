"""A board made of chip emulators: the real drivers and the real application
running on emulated INA228, NAU7802 and NTC, with a virtual clock.

MicroPython subset (``chips.benchboard`` inside the VM, with firmware/ on the
path), so the same rig serves CPython tests, the VM benchmarks and, later, the
plant. Physical inputs go through ``set_cell``; ``advance(ms)`` moves virtual
time for the clock and every chip. Set-up may allocate; ``advance`` does not.
"""

try:
    from afbms.chips.bus import ADC, I2CBus
    from afbms.chips.ina228 import INA228Emu
    from afbms.chips.nau7802 import NAU7802Emu
    from afbms.chips.ntc import NTCEmu
except ImportError:  # inside the MicroPython VM, files under /lib/chips/
    from chips.bus import ADC, I2CBus
    from chips.ina228 import INA228Emu
    from chips.nau7802 import NAU7802Emu
    from chips.ntc import NTCEmu

from bms.app import Hardware
from bms.clock import VirtualClock
from bms.port import MemoryPort
from drivers.ina228 import INA228
from drivers.nau7802 import NAU7802
from drivers.ntc import NTC

MONITOR_ADDR = 0x40
LOADCELL_ADDR = 0x2A
SHUNT_UOHM = 10000  # 10 mΩ
MAX_CURRENT_UA = 100000
GAIN = 128
NV_PER_N = 1320  # 5 kN load cell, 2 mV/V at 3.3 V
COUNTS_PER_N = 859  # NV_PER_N x GAIN x 2**24 / 3.3e9, as boards/*/board.py
R_FIXED_OHM = 10000
R25_OHM = 10000
BETA_K = 3950
AREA_UM2K = 100000  # 1 cm², the config default


class Switch:
    """A path-enable output that remembers what it was told."""

    def __init__(self):
        self.on = False
        self.changes = 0

    def set(self, on):
        if on != self.on:
            self.changes += 1
        self.on = on


class BenchClock(VirtualClock):
    """Virtual time that also moves the chips (the app sleeps through this clock)."""

    def __init__(self, time_s, ina, nau):
        self._ina = ina
        self._nau = nau
        VirtualClock.__init__(self, time_s)

    def advance(self, ms):
        VirtualClock.advance(self, ms)
        self._ina.advance_ms(ms)
        self._nau.advance_ms(ms)


class BenchBoard:
    """Emulated chips + real drivers, packaged as the app's ``Hardware``."""

    def __init__(self, fs, data_dir, port=None, time_s=848000000):
        self.bus = I2CBus()
        self.ina = INA228Emu(shunt_uohm=SHUNT_UOHM)
        self.nau = NAU7802Emu(nv_per_n=NV_PER_N)
        self.clock = BenchClock(time_s, self.ina, self.nau)
        self.ntc = NTCEmu(r_fixed_ohm=R_FIXED_OHM, to_ground=True, r25_ohm=R25_OHM, beta_k=BETA_K)
        self.bus.attach(MONITOR_ADDR, self.ina)
        self.bus.attach(LOADCELL_ADDR, self.nau)
        self.adc = ADC(self.ntc)
        self.charge = Switch()
        self.discharge = Switch()
        self.port = port if port is not None else MemoryPort()
        self.area_um2k = AREA_UM2K
        self.set_cell(3700000, 0, 5000000, 25000)
        self.monitor = INA228(self.bus, MONITOR_ADDR, SHUNT_UOHM, MAX_CURRENT_UA)
        self.loadcell = NAU7802(
            self.bus, LOADCELL_ADDR, COUNTS_PER_N, GAIN, 320, sleep_ms=self.clock.sleep_ms
        )
        self.thermistor = NTC(self.adc, R_FIXED_OHM, True, r25_ohm=R25_OHM, beta_k=BETA_K)
        self.hardware = Hardware(
            b"bench", b"\xbe\x0c\x4b\x0a\x7d\x00\x00\x01", self.clock, self.monitor,
            self.charge, self.discharge, self.port, fs, data_dir, loadcell=self.loadcell,
            thermistor=self.thermistor, capabilities=7,
        )  # fmt: skip

    def set_cell(self, voltage_uv, current_ua, pressure_pa, temperature_mc):
        """The cell as the sensors see it: µV, µA (+ = charging), Pa, m°C."""
        self.ina.set_bus_voltage_uv(voltage_uv)
        self.ina.set_current_ua(current_ua)
        # Force on the load cell: P x A, with A in 1000 µm² = 1e-9 m² -> mN = P x A / 1e6.
        self.nau.set_force_mn(pressure_pa * self.area_um2k // 1000000)
        self.ntc.set_temperature_mc(temperature_mc)

    def advance(self, ms):
        """Move virtual time: the clock and every chip that integrates or converts."""
        self.clock.advance(ms)
