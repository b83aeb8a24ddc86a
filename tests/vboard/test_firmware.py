"""The real firmware on the virtual board: boots from its flash, speaks the protocol,
protects the (simulated) cell, survives power cuts."""

from __future__ import annotations

import random
import time

import pytest

from afbms.boards.sim import board as SIM
from afbms.device import Device
from afbms.protocol.enums import ConfigKey, ConfigStatus, Fault, MsgType, SimAction, State
from afbms.protocol.schema import SCHEMA_HASH
from afbms.transport import SerialTransport
from afbms.vboard.plant import FAULT_VOLTAGE_STUCK

pytestmark = [pytest.mark.vm, pytest.mark.timeout(180)]


def wait_for(predicate, timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout} s")
        time.sleep(0.01)


@pytest.fixture(params=["micropython", "cpython"])
def vm(request) -> str:
    return request.param


@pytest.fixture
def device_of():
    devices: list[Device] = []

    def make(vb) -> Device:
        dev = Device(SerialTransport(vb.port), timeout=5.0)
        devices.append(dev)
        return dev

    yield make
    for dev in devices:
        dev.close()


def wait_running(vb) -> None:
    """Until the firmware drives the enables (it has disabled Ctrl-C by then).

    Before that a 0x03 byte in a frame is Ctrl-C to the board's main.py start-up, as on
    a real board (see the report: main.py should disable Ctrl-C first thing)."""
    on = SIM.EN_ACTIVE_LEVEL
    wait_for(lambda: vb.plant.pin_read(SIM.CHARGE_EN_PIN) == on, 20.0, "firmware running")


def telemetry(dev: Device, timeout: float, until=None):
    """TELEMETRY payloads for up to ``timeout`` s (stops at the first that ``until`` accepts)."""
    got = []
    for frame in dev.frames(timeout):
        if frame.msg_type == MsgType.TELEMETRY:
            got.append(frame.payload)
            if until is not None and until(frame.payload):
                break
    return got


def sim_control(dev: Device, action: SimAction, arg0: int = 0, arg1: int = 0) -> None:
    dev.request(MsgType.SIM_CONTROL, {"action": action, "arg0": arg0, "arg1": arg1})


def test_boots_answers_hello_and_sends_telemetry(make_board, firmware_flash, device_of, vm):
    vb = make_board(firmware_flash, vm=vm)
    dev = device_of(vb)
    wait_running(vb)
    info = dev.hello()
    assert info["board"] == "sim"
    assert info["schema_hash"] == SCHEMA_HASH
    assert info["device_id"] == vb.bridge.unique_id
    frames = telemetry(dev, 5.0, until=lambda p: p["state"] == State.IDLE)
    assert frames and frames[-1]["state"] == State.IDLE
    t = frames[-1]
    assert abs(t["voltage_uv"] - vb.plant.cell.voltage_uv()) < 2_000
    assert abs(t["pressure_pa"] - 5_000_000) < 50_000
    assert abs(t["temperature_mc"] - 25_000) < 500
    wait_for(lambda: vb.plant.charge_enabled and vb.plant.discharge_enabled, what="paths enabled")


def test_protection_trips_on_over_voltage(make_board, firmware_flash, device_of, vm):
    vb = make_board(firmware_flash, vm=vm)
    dev = device_of(vb)
    wait_running(vb)
    dev.hello()
    wait_for(lambda: vb.plant.charge_enabled, what="charge path enabled")
    with vb.lock:
        vb.plant.inject_overvoltage(4_500_000)
    frames = telemetry(dev, 10.0, until=lambda p: p["state"] == State.FAULT)
    assert frames[-1]["state"] == State.FAULT
    assert frames[-1]["faults"] & Fault.OVER_VOLTAGE
    wait_for(lambda: not vb.plant.charge_enabled, 5.0, "charge path opened in the plant")
    assert not vb.plant.discharge_enabled


def test_sim_control_reaches_the_plant(make_board, firmware_flash, device_of):
    vb = make_board(firmware_flash)
    dev = device_of(vb)
    wait_running(vb)
    dev.hello()
    sim_control(dev, SimAction.SET_TEMPERATURE, 40_000)
    assert vb.plant.cell.temperature_mc == 40_000
    frames = telemetry(dev, 5.0, until=lambda p: abs(p["temperature_mc"] - 40_000) < 500)
    assert abs(frames[-1]["temperature_mc"] - 40_000) < 500
    sim_control(dev, SimAction.INJECT_FAULT, FAULT_VOLTAGE_STUCK, 4_600_000)
    frames = telemetry(dev, 10.0, until=lambda p: p["state"] == State.FAULT)
    assert frames[-1]["faults"] & Fault.OVER_VOLTAGE
    sim_control(dev, SimAction.SET_SPEED, 2_000)
    assert vb.speed == 2.0
    sim_control(dev, SimAction.SET_SPEED, 0)
    assert vb.speed is None


def test_sim_control_power_cut(make_board, firmware_flash, device_of, vm):
    vb = make_board(firmware_flash, vm=vm)
    dev = device_of(vb)
    wait_running(vb)
    dev.hello()
    sim_control(dev, SimAction.POWER_CUT, 0, 300)  # now, back on after 300 ms
    wait_for(lambda: len(vb.bridge.boots) == 2 and vb.powered, 10.0, "power back")
    wait_running(vb)
    assert dev.hello()["board"] == "sim"
    assert [kind for kind, _ in vb.bridge.boots] == ["hard", "hard"]


def test_recovers_from_power_cuts_while_writing(make_board, firmware_flash, device_of, vm):
    """Cut at random instants (the log is written every few virtual seconds, the config
    while being changed): every time the firmware boots again and answers."""
    rng = random.Random(5)
    vb = make_board(firmware_flash, vm=vm)
    dev = device_of(vb)
    wait_running(vb)
    dev.hello()
    period = dev.config_get(ConfigKey.TELEMETRY_PERIOD_MS)[ConfigKey.TELEMETRY_PERIOD_MS]
    for i in range(4):
        new = 1000 + 100 * (i + 1)
        dev.send(MsgType.CONFIG_SET, {"key": int(ConfigKey.TELEMETRY_PERIOD_MS), "value": new})
        time.sleep(rng.uniform(0.0, 0.02) if i % 2 else rng.uniform(0.05, 0.4))
        vb.power_cut()
        vb.power_on()
        wait_running(vb)
        info = dev.hello()
        assert info["board"] == "sim"
        value = dev.config_get(ConfigKey.TELEMETRY_PERIOD_MS)[ConfigKey.TELEMETRY_PERIOD_MS]
        assert value in (period, new)  # the old or the new config, never a broken one
        period = value
        frames = telemetry(dev, 5.0, until=lambda p: True)
        assert frames and not frames[-1]["faults"] & Fault.CONFIG_INVALID
        log = dev.log_info()
        assert log["next_seq"] >= log["first_seq"]
    assert len(vb.bridge.boots) == 5


def test_config_set_is_acknowledged(make_board, firmware_flash, device_of):
    vb = make_board(firmware_flash)
    dev = device_of(vb)
    wait_running(vb)
    dev.hello()
    status, value = dev.config_set(ConfigKey.TELEMETRY_PERIOD_MS, 2000)
    assert (status, value) == (ConfigStatus.OK, 2000)


@pytest.mark.parametrize(
    ("fault", "bit"),
    [("FAULT_MONITOR_NACK", Fault.SENSOR_CURRENT), ("FAULT_LOADCELL_NACK", Fault.SENSOR_PRESSURE)],
)
def test_a_chip_silent_at_power_on_is_a_latched_sensor_fault(
    make_board, firmware_flash, device_of, vm, fault, bit
):
    from afbms.vboard import plant as vplant

    vb = make_board(firmware_flash, vm=vm, power=False)
    with vb.lock:
        assert vb.plant.sim_control(SimAction.INJECT_FAULT, getattr(vplant, fault)) == 0
    vb.power_on()
    dev = device_of(vb)
    dev.hello()  # the board boots and talks although a chip does not answer
    frames = telemetry(dev, 10.0, until=lambda p: p["faults"] & bit)
    assert frames[-1]["faults"] & bit and frames[-1]["state"] == State.FAULT
    assert not vb.plant.charge_enabled and not vb.plant.discharge_enabled
