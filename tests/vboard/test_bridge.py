"""The host side of the machine bridge, the minimal plant, deployment: no VM needed."""

from __future__ import annotations

import os
import struct
import threading
import time

import pytest

from afbms.boards.sim import board as SIM
from afbms.protocol.enums import ErrorCode, SimAction
from afbms.vboard import MinimalPlant, deploy_firmware, firmware_image
from afbms.vboard import bridge as br
from afbms.vboard.plant import FAULT_MONITOR_NACK, FAULT_VOLTAGE_STUCK


class Pipes:
    """A bridge served in a thread over real pipes, as the node runner talks to it."""

    def __init__(self, bridge: br.Bridge) -> None:
        self.req_r, self.req_w = os.pipe()
        self.resp_r, self.resp_w = os.pipe()
        self.thread = threading.Thread(target=bridge.serve, args=(self.req_r, self.resp_w))
        self.thread.start()

    def call(self, op, a=0, b=0, c=0, d=0, t=0, payload=b""):
        os.write(self.req_w, br.REQUEST.pack(op, len(payload), a, b, c, d, t) + payload)
        head = os.read(self.resp_r, br.RESPONSE.size)
        status, flags, n = br.RESPONSE.unpack(head)
        data = os.read(self.resp_r, n) if n else b""
        return status, flags, data

    def close(self) -> None:
        os.close(self.req_w)
        self.thread.join(5)
        for fd in (self.req_r, self.resp_r, self.resp_w):
            os.close(fd)
        assert not self.thread.is_alive()


@pytest.fixture
def plant() -> MinimalPlant:
    return MinimalPlant(noise_ua=0)


@pytest.fixture
def pipes(plant):
    cuts: list[int] = []
    bridge = br.Bridge(plant, threading.RLock(), epoch_s=1000, unique_id=b"ABCDEFGH",
                       on_power_cut=cuts.append)  # fmt: skip
    p = Pipes(bridge)
    p.bridge, p.cuts = bridge, cuts
    yield p
    p.close()


def test_wire_format_sizes():
    assert br.REQUEST.size == 20
    assert br.RESPONSE.size == 6


def test_i2c_read_write_scan(pipes, plant):
    status, _, data = pipes.call(br.OP_I2C_READ, SIM.MONITOR_ADDR, 0x3E, 2)
    assert (status, data) == (0, b"\x54\x49")  # INA228 manufacturer id "TI"
    status, _, _ = pipes.call(br.OP_I2C_WRITE, SIM.MONITOR_ADDR, 0x02, payload=b"\x12\x34")
    assert status == 0
    assert plant.ina.register(0x02) == 0x1234
    assert pipes.call(br.OP_I2C_SCAN)[2] == bytes([SIM.LOADCELL_ADDR, SIM.MONITOR_ADDR])
    assert pipes.call(br.OP_I2C_READ, 0x11, 0, 1)[0] == -5  # nothing there: EIO


def test_adc_pins_info(pipes, plant):
    code = pipes.call(br.OP_ADC_READ, SIM.NTC_ADC_PIN)[0]
    assert abs(code - 32768) < 50  # 25 °C, 10 k / 10 k divider
    assert pipes.call(br.OP_ADC_READ, 3)[0] == -19  # ENODEV: nothing on that pin
    assert pipes.call(br.OP_PIN_WRITE, SIM.CHARGE_EN_PIN, 1)[0] == 0
    assert plant.charge_enabled
    assert pipes.call(br.OP_PIN_READ, SIM.CHARGE_EN_PIN)[0] == 1
    status, _, uid = pipes.call(br.OP_INFO, t=5000)
    assert (status, uid) == (1005, b"ABCDEFGH")


class ClockOnly:
    """Just virtual time (the chip emulators integrate 12 days slowly)."""

    def __init__(self):
        self.t = 0

    def now_ms(self):
        return self.t

    def advance(self, ms):
        self.t += ms

    def pin_write(self, pin, value):
        pass


def test_time_follows_the_vm_ticks_lazily_and_unwraps():
    plant = ClockOnly()
    pipes = Pipes(br.Bridge(plant, threading.RLock()))
    try:
        _check_time(pipes, plant)
    finally:
        pipes.close()


def _check_time(pipes, plant):
    pipes.call(br.OP_BOOT)
    pipes.call(br.OP_SYNC, t=1500)
    assert plant.now_ms() == 1500
    pipes.call(br.OP_SYNC, t=(1 << 29) - 1)  # steps of less than half the tick range
    pipes.call(br.OP_SYNC, t=br.TICKS_MASK - 10)  # close to the wrap
    pipes.call(br.OP_SYNC, t=20)  # wrapped: 31 ms later
    assert plant.now_ms() == br.TICKS_MASK - 10 + 31
    before = plant.now_ms()
    pipes.call(br.OP_SYNC, t=10)  # never backwards
    assert plant.now_ms() == before
    pipes.call(br.OP_BOOT, b=1)  # a reboot: ticks restart at 0, the world goes on
    pipes.call(br.OP_SYNC, t=100)
    assert plant.now_ms() == before + 100


def test_pacing(pipes, plant):
    pipes.bridge.set_speed(20.0)
    pipes.call(br.OP_BOOT)
    t0 = time.monotonic()
    status, flags, _ = pipes.call(br.OP_SLEEP, t=4000)  # 4 s of virtual time at 20x
    assert status == 0 and flags & br.FLAG_PACED
    assert 0.15 < time.monotonic() - t0 < 1.0
    pipes.bridge.set_speed(None)
    t0 = time.monotonic()
    status, flags, _ = pipes.call(br.OP_SLEEP, t=600_000)
    assert not flags & br.FLAG_PACED and time.monotonic() - t0 < 0.2
    assert plant.now_ms() == 600_000


def test_sim_control(pipes, plant):
    call = pipes.call
    assert call(br.OP_SIM_CONTROL, b=SimAction.SET_TEMPERATURE, c=40_000)[0] == 0
    assert plant.cell.temperature_mc == 40_000
    inject = SimAction.INJECT_FAULT
    assert call(br.OP_SIM_CONTROL, b=inject, c=FAULT_VOLTAGE_STUCK, d=4_500_000)[0] == 0
    assert plant.cell.voltage_uv() == 4_500_000
    assert call(br.OP_SIM_CONTROL, b=SimAction.INJECT_FAULT, c=FAULT_MONITOR_NACK)[0] == 0
    assert call(br.OP_I2C_READ, SIM.MONITOR_ADDR, 0x05, 3)[0] == -5
    assert call(br.OP_SIM_CONTROL, b=SimAction.CLEAR_FAULT, c=FAULT_MONITOR_NACK)[0] == 0
    assert call(br.OP_I2C_READ, SIM.MONITOR_ADDR, 0x05, 3)[0] == 0
    assert call(br.OP_SIM_CONTROL, b=SimAction.INJECT_FAULT, c=999)[0] == ErrorCode.BAD_VALUE
    assert call(br.OP_SIM_CONTROL, b=SimAction.SET_SPEED, c=500)[0] == 0
    assert pipes.bridge.speed == 0.5
    assert call(br.OP_SIM_CONTROL, b=SimAction.SET_SPEED, c=0)[0] == 0
    assert pipes.bridge.speed is None
    assert call(br.OP_SIM_CONTROL, b=SimAction.POWER_CUT, c=0, d=250)[0] == 0
    call(br.OP_SYNC, t=1)  # the next request after the cut's time fires it
    deadline = time.monotonic() + 2
    while not pipes.cuts and time.monotonic() < deadline:
        time.sleep(0.01)
    assert pipes.cuts == [250]


def test_hard_boot_releases_the_enables(pipes, plant):
    pipes.call(br.OP_PIN_WRITE, SIM.CHARGE_EN_PIN, 1)
    pipes.call(br.OP_PIN_WRITE, SIM.DISCHARGE_EN_PIN, 1)
    pipes.call(br.OP_BOOT, b=1)  # soft reboot: pins keep their state
    assert plant.charge_enabled and plant.discharge_enabled
    pipes.call(br.OP_BOOT, b=0, c=br.HARD_RESET)
    assert not plant.charge_enabled and not plant.discharge_enabled
    assert pipes.bridge.boots == [("soft", 0), ("hard", br.HARD_RESET)]


def test_a_plant_bug_is_eio_not_a_hang(pipes, plant, monkeypatch):
    def broken(*args):
        raise RuntimeError("plant bug")

    monkeypatch.setattr(plant, "adc_read_u16", broken)
    assert pipes.call(br.OP_ADC_READ, SIM.NTC_ADC_PIN)[0] == -5
    assert "plant bug" in pipes.bridge.errors[0]


# ---------------------------------------------------------------- the minimal plant


def test_cycler_drives_current_only_through_an_enabled_path():
    plant = MinimalPlant(cycler_ua=1000, noise_ua=0)
    plant.advance(1000)
    assert plant.cell.current_ua == 0  # both paths off: no current
    plant.pin_write(SIM.CHARGE_EN_PIN, 1)
    assert plant.cell.current_ua == 1000
    q0 = plant.cell.charge_uah
    plant.advance(3_600_000)
    assert plant.cell.charge_uah == pytest.approx(q0 + 1000)
    plant.set_cycler(-500)
    assert plant.cell.current_ua == 0  # discharge path still off
    plant.pin_write(SIM.DISCHARGE_EN_PIN, 1)
    assert plant.cell.current_ua == -500


def test_plant_chips_read_what_the_cell_is():
    from drivers.ina228 import INA228
    from drivers.ntc import NTC

    plant = MinimalPlant(noise_ua=0)
    plant.set_cell(voltage_uv=4_000_000, temperature_mc=30_000)
    ina = INA228(plant.bus, SIM.MONITOR_ADDR, SIM.SHUNT_UOHM, SIM.MAX_CURRENT_UA)
    assert abs(ina.bus_voltage_uv() - 4_000_000) < 300

    class Adc:
        def read_u16(self):
            return plant.adc_read_u16(SIM.NTC_ADC_PIN)

    ntc = NTC(Adc(), SIM.NTC_R_FIXED_OHM, SIM.NTC_TO_GROUND, r25_ohm=SIM.NTC_R25_OHM,
              beta_k=SIM.NTC_BETA_K)  # fmt: skip
    assert abs(ntc.temperature_mc() - 30_000) < 300
    plant.release_voltage()
    assert plant.truth()["voltage_uv"] == plant.cell.ocv_uv()


def test_world_plant_fits_the_interface():
    from afbms.plant.world import Plant

    for name in ("i2c_read", "i2c_write", "i2c_scan", "adc_read_u16", "pin_write", "pin_read",
                 "now_ms", "advance", "sim_control"):  # fmt: skip
        assert callable(getattr(Plant, name)), name
        assert callable(getattr(MinimalPlant, name)), name


# ---------------------------------------------------------------- deployment


def test_firmware_image_layout():
    image = firmware_image(compiled=True)
    assert "main.py" in image and "board.mpy" in image and "hw.mpy" in image
    assert "bms/app.mpy" in image and "drivers/ina228.mpy" in image
    assert not any(name.endswith(".py") and name != "main.py" for name in image)
    assert image["board.mpy"][:1] == b"M"
    sources = firmware_image(compiled=False)
    assert "board.py" in sources and b"SIMULATED = True" in sources["board.py"]


def test_deploy_replaces_stale_twins_and_keeps_data(tmp_path):
    flash = tmp_path / "flash"
    deploy_firmware(flash, compiled=False)
    (flash / "data").mkdir()
    (flash / "data" / "keep.bin").write_bytes(b"x")
    assert (flash / "hw.py").exists()
    deploy_firmware(flash, compiled=True)
    assert (flash / "hw.mpy").exists() and not (flash / "hw.py").exists()
    assert (flash / "main.py").exists()
    assert (flash / "data" / "keep.bin").read_bytes() == b"x"


def test_request_struct_matches_the_runner():
    # runner.mjs writes: op u8, n u8, a u16, b i32, c i32, d i32, t u32 (little-endian)
    raw = br.REQUEST.pack(1, 2, 0x40, -1, 3, 4, 0x3FFFFFFF)
    assert raw == struct.pack("<BBHiiiI", 1, 2, 0x40, -1, 3, 4, 0x3FFFFFFF)
