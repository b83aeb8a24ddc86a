"""The machine.I2C / machine.ADC stand-ins (afbms.chips.bus)."""

import errno

import pytest

from afbms.chips.bus import ADC, Channel, I2CBus
from afbms.chips.ina228 import INA228Emu


class Regs:
    """A trivial device: 256 byte registers, auto-increment."""

    def __init__(self):
        self.mem = bytearray(256)

    def read_register(self, reg, buf):
        for i in range(len(buf)):
            buf[i] = self.mem[(reg + i) & 0xFF]

    def write_register(self, reg, data):
        for i, b in enumerate(data):
            self.mem[(reg + i) & 0xFF] = b


def test_read_write_and_counters():
    bus = I2CBus()
    dev = bus.attach(0x10, Regs())
    bus.writeto_mem(0x10, 0x20, b"\x01\x02\x03")
    assert dev.mem[0x20:0x23] == b"\x01\x02\x03"
    buf = bytearray(2)
    bus.readfrom_mem_into(0x10, 0x21, buf)
    assert buf == b"\x02\x03"
    assert bus.readfrom_mem(0x10, 0x20, 3) == b"\x01\x02\x03"
    assert (bus.reads, bus.writes) == (2, 1)


def test_nack_and_absent_raise_eio():
    bus = I2CBus()
    bus.attach(0x10, Regs())
    bus.attach(0x40, Regs())
    assert bus.scan() == [0x10, 0x40]
    bus.nack(0x10)
    assert bus.scan() == [0x40]
    for addr in (0x10, 0x11):
        with pytest.raises(OSError) as info:
            bus.readfrom_mem_into(addr, 0, bytearray(1))
        assert info.value.args[0] == errno.EIO
        with pytest.raises(OSError):
            bus.writeto_mem(addr, 0, b"\x00")
    assert (bus.reads, bus.writes) == (0, 0)
    bus.nack(0x10, on=False)
    bus.readfrom_mem_into(0x10, 0, bytearray(1))
    bus.detach(0x40)
    assert bus.scan() == [0x10]


def test_ina228_registers_are_big_endian():
    bus = I2CBus()
    emu = bus.attach(0x40, INA228Emu())
    assert bus.readfrom_mem(0x40, 0x3E, 2) == b"\x54\x49"
    assert bus.readfrom_mem(0x40, 0x3F, 2) == b"\x22\x81"
    emu.set_charge_raw(-2)
    assert bus.readfrom_mem(0x40, 0x0A, 5) == b"\xff\xff\xff\xff\xfe"
    emu.set_charge_raw(0x0123456789)
    assert bus.readfrom_mem(0x40, 0x0A, 5) == bytes.fromhex("0123456789")
    bus.writeto_mem(0x40, 0x02, b"\x12\x34")
    assert bus.readfrom_mem(0x40, 0x02, 2) == b"\x12\x34"
    emu.set_bus_voltage_uv(3_125_000)  # 16000 LSB of 195.3125 µV
    assert bus.readfrom_mem(0x40, 0x05, 3) == (16000 << 4).to_bytes(3, "big")


def test_adc_reads_its_source():
    class Src:
        def read_u16(self):
            return 1234

    adc = ADC(Src())
    assert adc.read_u16() == 1234 and adc.reads == 1
    adc.fail = True
    with pytest.raises(OSError):
        adc.read_u16()


def test_channel_faults():
    ch = Channel()
    assert ch.value(1000) == 1000
    ch.set(offset=5)
    assert ch.value(1000) == 1005
    ch.set(gain_ppm=1000)
    assert ch.value(1_000_000) == 1_001_000
    ch.set(stuck=7)
    assert ch.value(1000) == 7
    ch.set(noise=lambda: -3)  # set() replaces every fault: no longer stuck
    assert ch.value(20) == 17
    ch.clear()
    assert ch.value(10) == 10
