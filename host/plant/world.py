"""The simulated world behind a board's pins: cell + cycler + sensor chips, on virtual time.

:class:`Plant` owns the virtual clock, the cell (:mod:`afbms.plant.cell`), the
cycler (:mod:`afbms.plant.cycler`) and the register-level chip emulators wired
as on the boards (``boards/sim/board.py``): an I²C bus with the INA228 at 0x40
(10 mΩ shunt) and the NAU7802 at 0x2A (1320 nV/N load cell under the stack),
the NTC (10 kΩ, β 3950 K, 10 kΩ to the supply) on ADC pin 26, the charge and
discharge enables on pins 14 and 15 (active high). The same constants as
``afbms.chips.benchboard``.

Board-facing interface: what a virtual board's ``machine`` module forwards to.
A virtual board's own "minimal plant" should offer the same methods, so this
one can replace it (host/vboard/plant.py did not exist when this was written)::

    i2c_read(addr, reg, buf)      fill buf from register reg (OSError(EIO) on NACK)
    i2c_write(addr, reg, data)
    i2c_scan() -> [addr, ...]
    adc_read_u16(pin) -> int      OSError(EIO) when the ADC fault is injected
    pin_write(pin, value)         the enables; other pins are remembered
    pin_read(pin) -> int
    now_ms() -> int               virtual time since the plant was built
    advance(ms)                   let virtual time pass (= step)
    sim_control(action, arg0, arg1) -> int   SIM_CONTROL (protocol SimAction); 0 = done

``plant.bus`` itself is a ``machine.I2C`` stand-in the firmware drivers accept.

Scenario-facing interface::

    step(dt_ms)                   advance cell + cycler + chips
    set_enables(charge_on, discharge_on)
    truth() -> dict               ground truth (see Cell.truth, plus cycler and plant state)
    inject(fault, magnitude, **kw) / clear(fault) / clear_all()
    set_protocol(protocol), set_ambient(°C), soft_short_ohms_for_drop(V)

Faults: ``inject`` name (``FAULT_NAMES``) -- its magnitude -- SIM_CONTROL
``arg0`` = ``PlantFault`` id, ``arg1`` = the magnitude in integer units:

* ``soft_short`` -- steady leakage resistance, Ω -- Ω
* ``soft_short_intermittent`` -- Ω while a filament touches (only while
  plating; keywords ``mean_interval_s``, ``duration_s``) -- Ω
* ``hard_short`` -- Ω -- mΩ
* ``contact_loss`` -- fraction of the stack preload lost -- ppm
* ``current_{offset,gain,noise,stuck}`` -- µA, ppm, µA rms, µA
* ``voltage_{offset,gain,noise,stuck}`` -- µV, ppm, µV rms, µV
* ``pressure_{offset,gain,noise,stuck}`` -- Pa, ppm, Pa rms, Pa
* ``temperature_{offset,gain,noise,stuck}`` -- m°C, ppm, m°C rms, m°C
* ``ntc_open``, ``ntc_short``, ``monitor_nack``, ``loadcell_nack``,
  ``adc_fail`` -- no magnitude

Sensor faults add to the baseline sensor errors (:class:`SensorErrors`, seedable);
clearing a fault returns the channel to its baseline.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from enum import IntEnum
from math import inf

from afbms.boards.sim import board as SIM
from afbms.chips.bus import ADC, I2CBus
from afbms.chips.ina228 import INA228Emu
from afbms.chips.nau7802 import NAU7802Emu
from afbms.chips.ntc import NTCEmu
from afbms.plant import presets as _presets
from afbms.plant.cell import (
    SHORT_HARD,
    SHORT_INTERMITTENT,
    SHORT_NONE,
    SHORT_STEADY,
    Cell,
    CellParams,
    soft_short_ohms_for_drop,
)
from afbms.plant.cycler import Cycler, cycling_protocol
from afbms.protocol.enums import SimAction

MONITOR_ADDR = SIM.MONITOR_ADDR  # 0x40
LOADCELL_ADDR = SIM.LOADCELL_ADDR  # 0x2A
SHUNT_UOHM = SIM.SHUNT_UOHM  # 10 mΩ
NV_PER_N = 1320  # 5 kN load cell, 2 mV/V at 3.3 V (as afbms.chips.benchboard)
R_FIXED_OHM = SIM.NTC_R_FIXED_OHM
R25_OHM = SIM.NTC_R25_OHM
BETA_K = SIM.NTC_BETA_K
CHARGE_EN_PIN = SIM.CHARGE_EN_PIN
DISCHARGE_EN_PIN = SIM.DISCHARGE_EN_PIN
NTC_ADC_PIN = SIM.NTC_ADC_PIN
EN_ACTIVE = SIM.EN_ACTIVE_LEVEL
BOARD_TEMP_MC = 25000  # the INA228's die: on the board, at room temperature

# sim_control results
SIM_OK = 0
SIM_UNKNOWN_ACTION = 1
SIM_UNKNOWN_FAULT = 2
SIM_NOT_HERE = 3  # an action for the virtual board itself (power cut, speed)


class PlantFault(IntEnum):
    """Fault ids for SIM_CONTROL INJECT_FAULT / CLEAR_FAULT (arg0)."""

    SOFT_SHORT = 1
    SOFT_SHORT_INTERMITTENT = 2
    HARD_SHORT = 3
    CONTACT_LOSS = 4
    CURRENT_OFFSET = 10
    CURRENT_GAIN = 11
    CURRENT_NOISE = 12
    CURRENT_STUCK = 13
    VOLTAGE_OFFSET = 14
    VOLTAGE_GAIN = 15
    VOLTAGE_NOISE = 16
    VOLTAGE_STUCK = 17
    PRESSURE_OFFSET = 18
    PRESSURE_GAIN = 19
    PRESSURE_NOISE = 20
    PRESSURE_STUCK = 21
    TEMPERATURE_OFFSET = 22
    TEMPERATURE_GAIN = 23
    TEMPERATURE_NOISE = 24
    TEMPERATURE_STUCK = 25
    NTC_OPEN = 26
    NTC_SHORT = 27
    MONITOR_NACK = 30
    LOADCELL_NACK = 31
    ADC_FAIL = 32


# SIM_CONTROL integer magnitude -> inject() magnitude
_INT_SCALE = {
    PlantFault.HARD_SHORT: 1e-3,  # mΩ -> Ω
    PlantFault.CONTACT_LOSS: 1e-6,  # ppm -> fraction
}

_CHANNELS = ("current", "voltage", "pressure", "temperature")
_KINDS = ("offset", "gain", "noise", "stuck")

#: Every name ``Plant.inject`` accepts.
FAULT_NAMES = tuple(f.name.lower() for f in PlantFault)


@dataclass
class ChannelErrors:
    """Errors of one measured quantity, in its unit (µA, µV, Pa, m°C; gain in ppm)."""

    offset: float = 0.0
    gain_ppm: float = 0.0
    noise_rms: float = 0.0
    stuck: float | None = None


@dataclass
class SensorErrors:
    """Baseline errors of the four measurements; ``realistic(seed)`` draws signs."""

    current: ChannelErrors = field(default_factory=ChannelErrors)
    voltage: ChannelErrors = field(default_factory=ChannelErrors)
    pressure: ChannelErrors = field(default_factory=ChannelErrors)
    temperature: ChannelErrors = field(default_factory=ChannelErrors)

    @classmethod
    def none(cls) -> SensorErrors:
        return cls()

    @classmethod
    def realistic(cls, seed: int = 0) -> SensorErrors:
        """Gain 0.1 % on every channel, offsets of the order the parts specify
        (INA228: 10 µA ≈ 0.1 µV across 10 mΩ, 300 µV on VBUS; load cell 20 kPa
        ≈ 2 N on 1 cm² of zero drift; NTC ±0.3 °C), small noise; signs from ``seed``."""
        rng = random.Random(seed)

        def sign() -> float:
            return 1.0 if rng.random() < 0.5 else -1.0

        return cls(
            ChannelErrors(10.0 * sign(), 1000.0 * sign(), 2.0),
            ChannelErrors(300.0 * sign(), 1000.0 * sign(), 100.0),
            ChannelErrors(20000.0 * sign(), 1000.0 * sign(), 5000.0),
            ChannelErrors(300.0 * sign(), 1000.0 * sign(), 20.0),
        )


def _resolve_params(preset) -> tuple[CellParams, object]:
    if preset is None:
        preset = "jeon_t2_w_mg_ncm811"
    if isinstance(preset, str):
        preset = _presets.get(preset)
    if isinstance(preset, _presets.Preset):
        return preset.params, preset
    if isinstance(preset, CellParams):
        return preset, None
    raise TypeError(f"preset must be a key, a Preset or CellParams, not {type(preset).__name__}")


class Plant:
    """The simulated world: cell, cycler, chips, faults, virtual time.

    ``preset``: a preset key (:mod:`afbms.plant.presets`), a ``Preset`` or
    ``CellParams``. ``protocol``: a cycler protocol; default: the preset's usual
    protocol for ``cycles`` cycles. ``enables``: the enable inputs' initial level
    (off, as the board's pull-downs hold them until the firmware runs).
    ``sensor_errors``: "realistic", "none" or a :class:`SensorErrors`.
    """

    def __init__(
        self,
        preset=None,
        protocol: list | None = None,
        cycles: int = 1,
        seed: int = 0,
        sensor_errors="realistic",
        enables: tuple[bool, bool] = (False, False),
        dt_max_ms: int = 1000,
        keep_records: bool = True,
    ):
        self.params, self.preset = _resolve_params(preset)
        self.seed = seed
        self.cell = Cell(self.params, seed=seed + 1)
        if protocol is None:
            protocol = cycling_protocol(self.params, cycles)
        self.cycler = Cycler(self.cell, protocol, keep_records=keep_records)
        self.dt_max_ms = dt_max_ms
        self._t_ms = 0
        self._pins: dict[int, int] = {}
        # chips, as on the boards
        self.bus = I2CBus()
        self.ina = INA228Emu(shunt_uohm=SHUNT_UOHM)
        self.nau = NAU7802Emu(nv_per_n=NV_PER_N)
        self.ntc = NTCEmu(R_FIXED_OHM, to_ground=SIM.NTC_TO_GROUND, r25_ohm=R25_OHM, beta_k=BETA_K)
        self.adc = ADC(self.ntc)
        self.bus.attach(MONITOR_ADDR, self.ina)
        self.bus.attach(LOADCELL_ADDR, self.nau)
        self.ina.set_die_temperature_mc(BOARD_TEMP_MC)
        # errors: baseline + injected, per channel
        if sensor_errors == "realistic":
            sensor_errors = SensorErrors.realistic(seed)
        elif sensor_errors in (None, "none"):
            sensor_errors = SensorErrors.none()
        self.baseline: SensorErrors = sensor_errors
        self.injected: dict[str, float | None] = {}
        self.faults: dict[str, float | None] = {}
        self._rngs = {ch: random.Random((seed << 8) + i) for i, ch in enumerate(_CHANNELS)}
        for ch in _CHANNELS:
            self._apply_channel(ch)
        self.set_enables(*enables)
        self._last = (None, None, None, None)
        self._push_inputs(self.cell.i_ext)

    # -- board-facing interface ---------------------------------------------------
    def i2c_read(self, addr: int, reg: int, buf) -> None:
        self.bus.readfrom_mem_into(addr, reg, buf)

    def i2c_write(self, addr: int, reg: int, data) -> None:
        self.bus.writeto_mem(addr, reg, data)

    def i2c_scan(self) -> list[int]:
        return self.bus.scan()

    def adc_read_u16(self, pin: int) -> int:
        if pin != NTC_ADC_PIN:
            raise ValueError(f"nothing on ADC pin {pin} (the NTC is on {NTC_ADC_PIN})")
        return self.adc.read_u16()

    def pin_write(self, pin: int, value: int) -> None:
        self._pins[pin] = 1 if value else 0
        if pin in (CHARGE_EN_PIN, DISCHARGE_EN_PIN):
            self.cycler.set_enables(
                self._pins.get(CHARGE_EN_PIN, 1 - EN_ACTIVE) == EN_ACTIVE,
                self._pins.get(DISCHARGE_EN_PIN, 1 - EN_ACTIVE) == EN_ACTIVE,
            )

    def pin_read(self, pin: int) -> int:
        return self._pins.get(pin, 0)

    def now_ms(self) -> int:
        return self._t_ms

    def advance(self, ms: int) -> None:
        self.step(ms)

    def sim_control(self, action: int, arg0: int = 0, arg1: int = 0) -> int:
        """Act on the world for SIM_CONTROL. 0 = done; 1 unknown action; 2 unknown
        fault; 3 an action for the virtual board, not the plant (power cut, speed)."""
        if action == SimAction.INJECT_FAULT or action == SimAction.CLEAR_FAULT:
            try:
                fault = PlantFault(arg0)
            except ValueError:
                return SIM_UNKNOWN_FAULT
            name = fault.name.lower()
            if action == SimAction.CLEAR_FAULT:
                self.clear(name)
            else:
                self.inject(name, arg1 * _INT_SCALE.get(fault, 1.0))
            return SIM_OK
        if action == SimAction.SET_TEMPERATURE:
            self.set_ambient(arg0 / 1000.0)
            return SIM_OK
        if action in (SimAction.POWER_CUT, SimAction.SET_SPEED):
            return SIM_NOT_HERE
        return SIM_UNKNOWN_ACTION

    # -- scenario-facing interface --------------------------------------------------
    def set_enables(self, charge_on: bool, discharge_on: bool) -> None:
        level = {True: EN_ACTIVE, False: 1 - EN_ACTIVE}
        self._pins[CHARGE_EN_PIN] = level[bool(charge_on)]
        self._pins[DISCHARGE_EN_PIN] = level[bool(discharge_on)]
        self.cycler.set_enables(charge_on, discharge_on)

    def set_protocol(self, protocol: list) -> None:
        self.cycler.set_protocol(protocol)

    def set_ambient(self, t_c: float) -> None:
        self.cell.t_amb = t_c

    def step(self, dt_ms: int) -> None:
        """Advance virtual time by ``dt_ms``: cycler + cell in steps of at most
        ``dt_max_ms``, then the chips (the INA228 integrates the step's mean current)."""
        left = int(dt_ms)
        cell = self.cell
        while left > 0:
            ms = left if left < self.dt_max_ms else self.dt_max_ms
            q0 = cell.q_ext
            self.cycler.advance(ms / 1000.0)
            i_mean = (cell.q_ext - q0) * 3.6 / ms  # µAh over ms -> A
            i_end = cell.i_ext
            if abs(i_mean - i_end) > 1e-6:
                self.ina.set_current_ua(round(i_mean * 1e6))
                self.ina.advance_ms(ms)
                self._last = (None, *self._last[1:])
                self._push_inputs(i_end)
            else:
                self._push_inputs(i_end)
                self.ina.advance_ms(ms)
            self.nau.advance_ms(ms)
            self._t_ms += ms
            left -= ms

    def _push_inputs(self, i_a: float) -> None:
        """The cell as the sensors see it (their errors live in the emulators' channels)."""
        cell = self.cell
        i_ua = round(i_a * 1e6)
        v_uv = max(round(cell.v * 1e6), 0)
        f_mn = round(cell.pressure_mpa * 1e6 * self.params.area_cm2 / 10.0)
        t_mc = round(cell.t_c * 1000.0)
        li, lv, lf, lt = self._last
        if i_ua != li:
            self.ina.set_current_ua(i_ua)
        if v_uv != lv:
            self.ina.set_bus_voltage_uv(v_uv)
        if f_mn != lf:
            self.nau.set_force_mn(f_mn)
        if t_mc != lt:
            self.ntc.set_temperature_mc(t_mc)
        self._last = (i_ua, v_uv, f_mn, t_mc)

    # -- faults ----------------------------------------------------------------------
    def inject(self, fault: str, magnitude: float | None = None, **kw) -> None:
        """Inject ``fault`` (see the module table). Sensor faults add to the baseline."""
        fault = fault.lower()
        cell = self.cell
        if fault == "soft_short":
            cell.set_short(SHORT_STEADY, float(magnitude if magnitude else 2000.0), **kw)
        elif fault == "soft_short_intermittent":
            cell.set_short(SHORT_INTERMITTENT, float(magnitude if magnitude else 2000.0), **kw)
        elif fault == "hard_short":
            cell.set_short(SHORT_HARD, float(magnitude if magnitude else 0.5), **kw)
        elif fault == "contact_loss":
            cell.set_contact_loss(float(0.9 if magnitude is None else magnitude))
        elif fault in ("ntc_open", "ntc_short"):
            (self.ntc.set_open if fault == "ntc_open" else self.ntc.set_short)()
        elif fault == "monitor_nack":
            self.bus.nack(MONITOR_ADDR, True)
        elif fault == "loadcell_nack":
            self.bus.nack(LOADCELL_ADDR, True)
        elif fault == "adc_fail":
            self.adc.fail = True
        else:
            ch, _, kind = fault.partition("_")
            if ch not in _CHANNELS or kind not in _KINDS:
                raise ValueError(f"unknown fault {fault!r}")
            if magnitude is None:
                raise ValueError(f"{fault} needs a magnitude")
            self.injected[fault] = float(magnitude)
            self._apply_channel(ch)
        self.faults[fault] = magnitude
        self._last = (None, None, None, None)
        self._push_inputs(cell.i_ext)

    def clear(self, fault: str) -> None:
        fault = fault.lower()
        cell = self.cell
        if fault.startswith("soft_short") or fault == "hard_short":
            if cell.short.mode != SHORT_NONE:
                cell.clear_short()
        elif fault == "contact_loss":
            cell.set_contact_loss(0.0)
        elif fault in ("ntc_open", "ntc_short"):
            self.ntc.set_connected()
        elif fault == "monitor_nack":
            self.bus.nack(MONITOR_ADDR, False)
        elif fault == "loadcell_nack":
            self.bus.nack(LOADCELL_ADDR, False)
        elif fault == "adc_fail":
            self.adc.fail = False
        else:
            ch, _, kind = fault.partition("_")
            if ch not in _CHANNELS or kind not in _KINDS:
                raise ValueError(f"unknown fault {fault!r}")
            self.injected.pop(fault, None)
            self._apply_channel(ch)
        self.faults.pop(fault, None)
        self._last = (None, None, None, None)
        self._push_inputs(cell.i_ext)

    def clear_all(self) -> None:
        for f in list(self.faults):
            self.clear(f)

    def soft_short_ohms_for_drop(self, drop_v: float) -> float:
        """The soft-short resistance giving about ``drop_v`` at the present state."""
        return soft_short_ohms_for_drop(self.cell, drop_v)

    def _apply_channel(self, ch: str) -> None:
        base: ChannelErrors = getattr(self.baseline, ch)
        inj = self.injected
        offset = base.offset + inj.get(ch + "_offset", 0.0)
        gain = base.gain_ppm + inj.get(ch + "_gain", 0.0)
        noise = (base.noise_rms**2 + inj.get(ch + "_noise", 0.0) ** 2) ** 0.5
        stuck = inj.get(ch + "_stuck", base.stuck)
        scale = 1.0
        if ch == "pressure":  # the load cell converts force (mN): Pa × area
            scale = self.params.area_cm2 / 10.0
        hook = None
        if noise > 0.0:
            rng = self._rngs[ch]
            sd = noise * scale
            gauss = rng.gauss

            def hook(g=gauss, sd=sd):
                return round(g(0.0, sd))

        args = {
            "stuck": None if stuck is None else round(stuck * scale),
            "offset": round(offset * scale),
            "gain_ppm": round(gain),
            "noise": hook,
        }
        if ch == "current":
            self.ina.fault("current", **args)
        elif ch == "voltage":
            self.ina.fault("bus_voltage", **args)
        elif ch == "pressure":
            self.nau.fault(**args)
        else:
            self.ntc.fault(**args)

    # -- ground truth ------------------------------------------------------------------
    def truth(self) -> dict:
        t = self.cell.truth()
        t.update(self.cycler.state())
        t["time_ms"] = self._t_ms
        t["preset"] = self.preset.key if self.preset is not None else ""
        t["faults"] = dict(self.faults)
        return t

    @property
    def short_r_ohm(self) -> float:
        s = self.cell.short
        return s.r_ohm if s.mode != SHORT_NONE else inf


__all__ = [
    "FAULT_NAMES",
    "SHORT_HARD",
    "SHORT_INTERMITTENT",
    "SHORT_STEADY",
    "ChannelErrors",
    "Plant",
    "PlantFault",
    "SensorErrors",
]
