"""Build a board's hardware from its definition (boards/<name>/board.py).

The only firmware module besides main.py that touches ``machine``: the
application receives everything through the ``Hardware`` object made here.
"""

import time

import machine

from bms.app import Hardware
from bms.clock import Clock
from bms.port import ConsolePort
from bms.storage import OsFs


class BoardClock(Clock):
    """MicroPython's tick counter; device time from the RTC at boot."""

    def __init__(self):
        Clock.__init__(self, time.time())

    def ticks_ms(self):
        return time.ticks_ms()

    def ticks_add(self, ticks, delta):
        return time.ticks_add(ticks, delta)

    def ticks_diff(self, a, b):
        return time.ticks_diff(a, b)

    def sleep_ms(self, ms):
        time.sleep_ms(ms)


class Switch:
    """A path-enable output: ``set(True)`` enables the path. Starts off (safe)."""

    def __init__(self, pin_id, active_level):
        self._active = active_level
        self._pin = machine.Pin(pin_id, machine.Pin.OUT, value=1 - active_level)

    def set(self, on):
        self._pin.value(self._active if on else 1 - self._active)


class Silent:
    """A chip that did not answer at start-up. Every reading raises OSError, so the
    sampler latches its sensor fault and protection keeps the paths safe; the board
    still boots and talks to the host. Rewire and reset to bring the chip back."""

    def __init__(self, err):
        self.err = err  # the start-up OSError, raised again on each reading

    def _fail(self, *args):
        raise self.err

    bus_voltage_uv = current_ua = charge_delta_uams = pressure_pa = _fail


def _start(make, *args, **kw):
    """``make(*args, **kw)``: a driver, or a Silent stand-in when its chip does not answer."""
    try:
        return make(*args, **kw)
    except OSError as err:
        return Silent(err)


def build(board):
    """A Hardware object for ``board`` (the board.py module)."""
    from drivers.ina226 import INA226
    from drivers.ina228 import INA228
    from drivers.nau7802 import NAU7802
    from drivers.ntc import NTC

    # Outputs first, so the paths are safe before anything can fail.
    charge = Switch(board.CHARGE_EN_PIN, board.EN_ACTIVE_LEVEL)
    discharge = Switch(board.DISCHARGE_EN_PIN, board.EN_ACTIVE_LEVEL)
    i2c = machine.I2C(
        board.I2C_ID,
        sda=machine.Pin(board.I2C_SDA),
        scl=machine.Pin(board.I2C_SCL),
        freq=board.I2C_FREQ_HZ,
    )
    # The virtual board's machine module provides a clock on the plant's virtual time.
    simulated = getattr(board, "SIMULATED", False)
    clock = machine.SimClock() if simulated else BoardClock()  # pyright: ignore[reportAttributeAccessIssue]
    caps = 0
    if board.MONITOR == "ina228":
        monitor = _start(INA228, i2c, board.MONITOR_ADDR, board.SHUNT_UOHM, board.MAX_CURRENT_UA)
        caps |= 1  # wire.CAP_CHARGE_ACCUMULATOR
    else:
        monitor = _start(INA226, i2c, board.MONITOR_ADDR, board.SHUNT_UOHM, board.MAX_CURRENT_UA)
    loadcell = _start(
        NAU7802, i2c, board.LOADCELL_ADDR, board.LOADCELL_COUNTS_PER_N, board.LOADCELL_GAIN,
        board.LOADCELL_SPS, sleep_ms=clock.sleep_ms,
    )  # fmt: skip
    thermistor = NTC(
        machine.ADC(machine.Pin(board.NTC_ADC_PIN)), board.NTC_R_FIXED_OHM,
        board.NTC_TO_GROUND, r25_ohm=board.NTC_R25_OHM, beta_k=board.NTC_BETA_K,
    )  # fmt: skip
    caps |= 2 | 4  # wire.CAP_PRESSURE | wire.CAP_TEMPERATURE
    wdt = None
    if board.WDT_TIMEOUT_MS:
        wdt = machine.WDT(timeout=board.WDT_TIMEOUT_MS)
        caps |= 16  # wire.CAP_WATCHDOG
    led = machine.Pin(board.LED_PIN, machine.Pin.OUT) if board.LED_PIN is not None else None
    uid = machine.unique_id()
    device_id = bytes(uid[i] if i < len(uid) else 0 for i in range(8))
    return Hardware(
        name=board.NAME.encode(),
        device_id=device_id,
        clock=clock,
        monitor=monitor,
        loadcell=loadcell,
        thermistor=thermistor,
        charge_out=charge,
        discharge_out=discharge,
        port=ConsolePort(),
        fs=OsFs(),
        data_dir=board.DATA_DIR,
        wdt=wdt,
        led=led,
        simulated=simulated,
        sim=machine.SimControl() if simulated else None,  # pyright: ignore[reportAttributeAccessIssue]
        capabilities=caps,
    )


def watchdog_caused_reset():
    return machine.reset_cause() == machine.WDT_RESET


def reset():
    machine.reset()
