"""The plant behind the virtual board's pins: what it must offer, and a minimal one.

The interface (duck-typed; :class:`afbms.plant.world.Plant`, the full anode-free cell
model, offers the same methods and plugs in unchanged: ``VirtualBoard(plant=Plant(...))``)::

    i2c_read(addr, reg, buf)          fill buf from register reg; OSError(EIO) on NACK
    i2c_write(addr, reg, data)
    i2c_scan() -> [addr, ...]
    adc_read_u16(pin) -> int          OSError(EIO) on a failed conversion,
                                      ValueError when nothing is on that pin
    pin_write(pin, value)             the charge/discharge enables (and any other pin)
    pin_read(pin) -> int
    now_ms() -> int                   the plant's virtual time
    advance(ms)                       let virtual time pass (the board's sleeps)
    sim_control(action, arg0, arg1) -> int   SIM_CONTROL (protocol SimAction): 0 done,
                                      non-zero refused (the board answers NACK BAD_VALUE)

The board calls these from its bridge thread with ``VirtualBoard.lock`` held, and only
ever advances time forwards (lazily: up to the board's clock just before a look).

:class:`MinimalPlant` is a trivially simple cell behind the real chip emulators (INA228
at 0x40, NAU7802 at 0x2A, NTC on ADC pin 26, as ``boards/sim/board.py`` and
``afbms.chips.benchboard``): voltage from a linear open-circuit curve plus I·R,
settable pressure and temperature, and a constant-current cycler that only drives
current while the board enables the matching path.
"""

from __future__ import annotations

from dataclasses import dataclass

from afbms.boards.sim import board as SIM
from afbms.chips.bus import ADC, I2CBus
from afbms.chips.ina228 import INA228Emu
from afbms.chips.nau7802 import NAU7802Emu
from afbms.chips.ntc import NTCEmu
from afbms.protocol.enums import SimAction

NV_PER_N = 1320  # 5 kN load cell, 2 mV/V at 3.3 V (afbms.chips.benchboard)
AREA_UM2K = 100_000  # 1 cm² (the config default): force = pressure × area
BOARD_TEMP_MC = 25_000  # the INA228's die

# SIM_CONTROL INJECT_FAULT / CLEAR_FAULT ids (arg0) this plant knows; the same numbers as
# afbms.plant.world.PlantFault.
FAULT_CURRENT_OFFSET = 10
FAULT_VOLTAGE_OFFSET = 14
FAULT_VOLTAGE_STUCK = 17
FAULT_PRESSURE_OFFSET = 18
FAULT_TEMPERATURE_OFFSET = 22
FAULT_NTC_OPEN = 26
FAULT_NTC_SHORT = 27
FAULT_MONITOR_NACK = 30
FAULT_LOADCELL_NACK = 31
FAULT_ADC_FAIL = 32

SIM_OK = 0
SIM_UNKNOWN_ACTION = 1
SIM_UNKNOWN_FAULT = 2


@dataclass
class SimpleCell:
    """The cell as the sensors see it. Voltage = OCV(state of charge) + I·R, where the
    OCV runs linearly from ``v_empty_uv`` to ``v_full_uv`` over ``capacity_uah``;
    ``voltage_override_uv`` (not None) replaces it (an injected over-voltage)."""

    capacity_uah: int = 1_000
    charge_uah: float = 500.0
    v_empty_uv: int = 3_000_000
    v_full_uv: int = 4_200_000
    r_mohm: int = 10_000  # 10 Ω: 10 mV at 1 mA
    current_ua: int = 0  # + charging
    pressure_pa: int = 5_000_000
    temperature_mc: int = 25_000
    voltage_override_uv: int | None = None

    def ocv_uv(self) -> int:
        soc = min(max(self.charge_uah / self.capacity_uah, 0.0), 1.0)
        return round(self.v_empty_uv + (self.v_full_uv - self.v_empty_uv) * soc)

    def voltage_uv(self) -> int:
        if self.voltage_override_uv is not None:
            return self.voltage_override_uv
        return max(self.ocv_uv() + self.current_ua * self.r_mohm // 1_000_000, 0)


class MinimalPlant:
    """A simple cell, a constant-current cycler and the real chip emulators.

    ``cycler_ua``: the cycler's set current (+ charge, − discharge, 0 rest); it flows
    only while the board enables that path (pins 14/15 active high). ``noise_ua``: a
    deterministic ±noise on the measured current, so consecutive readings differ as a
    real monitor's do (the firmware's stuck-sensor check expects that).
    """

    def __init__(
        self,
        cell: SimpleCell | None = None,
        cycler_ua: int = 0,
        noise_ua: int = 2,
        seed: int = 1,
    ) -> None:
        self.cell = cell or SimpleCell()
        self.cycler_ua = cycler_ua
        self._t_ms = 0
        self._pins: dict[int, int] = {}
        self._seed = seed or 1
        self.bus = I2CBus()
        self.ina = INA228Emu(shunt_uohm=SIM.SHUNT_UOHM)
        self.nau = NAU7802Emu(nv_per_n=NV_PER_N)
        self.ntc = NTCEmu(
            SIM.NTC_R_FIXED_OHM, to_ground=SIM.NTC_TO_GROUND, r25_ohm=SIM.NTC_R25_OHM,
            beta_k=SIM.NTC_BETA_K,
        )  # fmt: skip
        self.adc = ADC(self.ntc)
        self.bus.attach(SIM.MONITOR_ADDR, self.ina)
        self.bus.attach(SIM.LOADCELL_ADDR, self.nau)
        self.ina.set_die_temperature_mc(BOARD_TEMP_MC)
        if noise_ua:
            self.ina.fault("current", noise=self._noise(noise_ua))
        self._update()

    def _noise(self, amplitude: int):
        def noise() -> int:
            self._seed = (self._seed * 1103515245 + 12345) & 0x7FFFFFFF
            return (self._seed >> 8) % (2 * amplitude + 1) - amplitude

        return noise

    # ------------------------------------------------------------ the board's side

    def i2c_read(self, addr: int, reg: int, buf) -> None:
        self.bus.readfrom_mem_into(addr, reg, buf)

    def i2c_write(self, addr: int, reg: int, data) -> None:
        self.bus.writeto_mem(addr, reg, data)

    def i2c_scan(self) -> list[int]:
        return self.bus.scan()

    def adc_read_u16(self, pin: int) -> int:
        if pin != SIM.NTC_ADC_PIN:
            raise ValueError(f"nothing on ADC pin {pin} (the NTC is on {SIM.NTC_ADC_PIN})")
        return self.adc.read_u16()

    def pin_write(self, pin: int, value: int) -> None:
        self._pins[pin] = 1 if value else 0
        if pin in (SIM.CHARGE_EN_PIN, SIM.DISCHARGE_EN_PIN):
            self._update()

    def pin_read(self, pin: int) -> int:
        return self._pins.get(pin, 0)

    def now_ms(self) -> int:
        return self._t_ms

    def advance(self, ms: int) -> None:
        if ms <= 0:
            return
        cell = self.cell
        cell.charge_uah += cell.current_ua * ms / 3_600_000
        self._t_ms += ms
        self._update()
        self.ina.advance_ms(ms)
        self.nau.advance_ms(ms)

    def sim_control(self, action: int, arg0: int = 0, arg1: int = 0) -> int:
        if action == SimAction.SET_TEMPERATURE:
            self.set_cell(temperature_mc=arg0)
            return SIM_OK
        if action == SimAction.INJECT_FAULT:
            return self._fault(arg0, arg1, True)
        if action == SimAction.CLEAR_FAULT:
            return self._fault(arg0, 0, False)
        return SIM_UNKNOWN_ACTION

    # ------------------------------------------------------------ the host's side

    @property
    def charge_enabled(self) -> bool:
        return self._pins.get(SIM.CHARGE_EN_PIN, 1 - SIM.EN_ACTIVE_LEVEL) == SIM.EN_ACTIVE_LEVEL

    @property
    def discharge_enabled(self) -> bool:
        level = self._pins.get(SIM.DISCHARGE_EN_PIN, 1 - SIM.EN_ACTIVE_LEVEL)
        return level == SIM.EN_ACTIVE_LEVEL

    def set_cell(
        self,
        voltage_uv: int | None = None,
        pressure_pa: int | None = None,
        temperature_mc: int | None = None,
        charge_uah: float | None = None,
    ) -> None:
        """Set the cell's state. ``voltage_uv`` forces the terminal voltage (None keeps
        the present mode; use :meth:`release_voltage` to return to the OCV model)."""
        cell = self.cell
        if voltage_uv is not None:
            cell.voltage_override_uv = voltage_uv
        if pressure_pa is not None:
            cell.pressure_pa = pressure_pa
        if temperature_mc is not None:
            cell.temperature_mc = temperature_mc
        if charge_uah is not None:
            cell.charge_uah = charge_uah
        self._update()

    def release_voltage(self) -> None:
        self.cell.voltage_override_uv = None
        self._update()

    def inject_overvoltage(self, voltage_uv: int = 4_500_000) -> None:
        """The cell's terminal voltage jumps to ``voltage_uv`` (default 4.5 V)."""
        self.set_cell(voltage_uv=voltage_uv)

    def set_cycler(self, current_ua: int) -> None:
        """The cycler's constant current: + charge, − discharge, 0 rest."""
        self.cycler_ua = current_ua
        self._update()

    def truth(self) -> dict:
        cell = self.cell
        return {
            "time_ms": self._t_ms,
            "voltage_uv": cell.voltage_uv(),
            "current_ua": cell.current_ua,
            "charge_uah": cell.charge_uah,
            "pressure_pa": cell.pressure_pa,
            "temperature_mc": cell.temperature_mc,
            "charge_enabled": self.charge_enabled,
            "discharge_enabled": self.discharge_enabled,
        }

    # ------------------------------------------------------------ inside

    def _update(self) -> None:
        cell = self.cell
        i = self.cycler_ua
        if (i > 0 and not self.charge_enabled) or (i < 0 and not self.discharge_enabled):
            i = 0  # the board opened that path: the cycler cannot drive current
        cell.current_ua = i
        self.ina.set_current_ua(i)
        self.ina.set_bus_voltage_uv(cell.voltage_uv())
        self.nau.set_force_mn(cell.pressure_pa * AREA_UM2K // 1_000_000)
        self.ntc.set_temperature_mc(cell.temperature_mc)

    def _fault(self, fault: int, magnitude: int, on: bool) -> int:
        if fault == FAULT_VOLTAGE_STUCK:
            if on:
                self.cell.voltage_override_uv = magnitude
            else:
                self.cell.voltage_override_uv = None
        elif fault == FAULT_VOLTAGE_OFFSET:
            self.ina.fault("bus_voltage", offset=magnitude if on else 0)
        elif fault == FAULT_CURRENT_OFFSET:
            self.ina.current.offset = magnitude if on else 0
        elif fault == FAULT_PRESSURE_OFFSET:
            self.nau.fault(offset=magnitude * AREA_UM2K // 1_000_000 if on else 0)
        elif fault == FAULT_TEMPERATURE_OFFSET:
            self.ntc.fault(offset=magnitude if on else 0)
        elif fault == FAULT_NTC_OPEN:
            (self.ntc.set_open if on else self.ntc.set_connected)()
        elif fault == FAULT_NTC_SHORT:
            (self.ntc.set_short if on else self.ntc.set_connected)()
        elif fault == FAULT_MONITOR_NACK:
            self.bus.nack(SIM.MONITOR_ADDR, on)
        elif fault == FAULT_LOADCELL_NACK:
            self.bus.nack(SIM.LOADCELL_ADDR, on)
        elif fault == FAULT_ADC_FAIL:
            self.adc.fail = on
        else:
            return SIM_UNKNOWN_FAULT
        self._update()
        return SIM_OK


__all__ = ["MinimalPlant", "SimpleCell"]
