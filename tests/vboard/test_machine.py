"""The sim board's machine module: virtual time, pacing, watchdog (real VM and CPython)."""

from __future__ import annotations

import time

import pytest

pytestmark = [pytest.mark.vm, pytest.mark.timeout(120)]

RAW_PROMPT = b"raw REPL; CTRL-B to exit\r\n>"


@pytest.fixture(params=["micropython", "cpython"])
def vm(request) -> str:
    return request.param


def raw_exec(term, code: bytes, timeout: float = 20.0) -> bytes:
    """Run code in the raw REPL; returns its output (raises on a traceback)."""
    term.write(code + b"\x04")
    out = term.read_until(b"\x04>", timeout=timeout)
    assert out.startswith(b"OK"), out
    body, err = out[2:-2].split(b"\x04", 1)
    assert not err, err.decode(errors="replace")
    return body


def enter_raw(term) -> None:
    term.read_until(b">>> ")
    term.write(b"\r\x01")
    term.read_until(RAW_PROMPT)


def test_sleeps_advance_the_plant_lazily(open_board, vm):
    vb, term = open_board(vm=vm)
    enter_raw(term)
    t0 = time.monotonic()
    raw_exec(term, b"import machine\nmachine.lightsleep(1_000_000)")  # 17 min, no wait
    assert time.monotonic() - t0 < 2.0
    assert vb.plant.now_ms() < 1_000_000  # nobody looked yet
    raw_exec(term, b"machine.unique_id()")  # a look at the plant brings it up to date
    assert vb.plant.now_ms() >= 1_000_000


def test_paced_speed(open_board, vm):
    vb, term = open_board(vm=vm, speed=10.0)
    enter_raw(term)
    t0 = time.monotonic()
    raw_exec(term, b"import machine\nfor i in range(40): machine.lightsleep(100)")
    elapsed = time.monotonic() - t0
    assert 0.3 < elapsed < 2.0  # 4 s of virtual time at 10x
    vb.set_speed(None)
    raw_exec(term, b"machine.unique_id()")  # the board learns the new pace at a request
    t0 = time.monotonic()
    raw_exec(term, b"for i in range(20): machine.lightsleep(100)")
    assert time.monotonic() - t0 < 0.5


def test_ctrl_c_interrupts_a_long_paced_sleep(open_board, vm):
    _, term = open_board(vm=vm, speed=1.0)
    term.read_until(b">>> ")
    term.write(b"import machine; machine.lightsleep(20000)\r")
    time.sleep(0.5)
    t0 = time.monotonic()
    term.write(b"\x03")
    assert b"KeyboardInterrupt" in term.read_until(b">>> ", timeout=5)
    assert time.monotonic() - t0 < 2.0


def test_watchdog_resets_the_board(open_board, vm):
    vb, term = open_board(vm=vm)
    enter_raw(term)
    out = raw_exec(
        term,
        b"import machine\nw = machine.WDT(timeout=1000)\n"
        b"machine.lightsleep(600); w.feed(); machine.lightsleep(900)\nprint('fed')",
    )
    assert out == b"fed\n"
    term.write(b"machine.lightsleep(1500)\x04")
    term.read_until(b">>> ", timeout=10)  # a reset comes back to the friendly REPL
    term.write(b"import machine; machine.reset_cause() == machine.WDT_RESET\r")
    assert b"True" in term.read_until(b">>> ")
    assert vb.bridge.boots[-1] == ("hard", 3)


def test_i2c_adc_pin_through_the_bridge(open_board, vm):
    vb, term = open_board(vm=vm)
    enter_raw(term)
    out = raw_exec(
        term,
        b"import machine\ni2c = machine.I2C(0, sda=machine.Pin(0), scl=machine.Pin(1))\n"
        b"print(i2c.scan(), i2c.readfrom_mem(0x40, 0x3E, 2))\n"
        b"p = machine.Pin(14, machine.Pin.OUT, value=1)\nprint(p.value())\n"
        b"print(abs(machine.ADC(machine.Pin(26)).read_u16() - 32768) < 100)\n"
        b"try:\n i2c.readfrom_mem(0x11, 0, 1)\nexcept OSError as e:\n print('nack', e.errno)\n",
    )
    assert out == b"[42, 64] b'TI'\n1\nTrue\nnack 5\n"
    assert vb.plant.charge_enabled


def test_sim_clock_is_a_firmware_clock(open_board, firmware_flash, vm):
    (firmware_flash / "main.py").unlink()  # the REPL, not the firmware's loop
    vb, term = open_board(firmware_flash, vm=vm)
    enter_raw(term)
    out = raw_exec(
        term,
        b"import machine\nfrom bms.clock import Clock\nc = machine.SimClock()\n"
        b"t = c.ticks_ms(); c.sleep_ms(1500)\n"
        b"print(isinstance(c, Clock), c.ticks_diff(c.ticks_ms(), t), c.poll_slice_ms)",
    )
    assert out == b"True 1500 60000\n"
    vb.set_speed(50.0)
    raw_exec(term, b"machine.unique_id()")
    assert raw_exec(term, b"print(c.poll_slice_ms)") == b"5\n"
