"""CRC-16/CCITT-FALSE: the documented check value, host and firmware alike."""

from afbms.protocol.crc import CRC16_CHECK, crc16, crc16_table
from bms import wire

CHECK_INPUT = b"123456789"


def test_check_value_is_the_catalogued_one():
    assert CRC16_CHECK == 0x29B1


def test_host_crc_gives_check_value():
    assert crc16(CHECK_INPUT) == CRC16_CHECK


def test_firmware_crc_gives_check_value():
    assert wire.crc16(CHECK_INPUT, 0, len(CHECK_INPUT), 0xFFFF) == CRC16_CHECK


def test_firmware_crc_respects_start_and_end():
    padded = b"xx" + CHECK_INPUT + b"yy"
    assert wire.crc16(padded, 2, 2 + len(CHECK_INPUT), 0xFFFF) == CRC16_CHECK


def test_crc_continues_across_chunks():
    assert crc16(CHECK_INPUT[4:], crc16(CHECK_INPUT[:4])) == CRC16_CHECK


def test_firmware_table_is_the_polynomial_table():
    assert list(wire._CRC_TABLE) == crc16_table()


def test_empty_input_leaves_init():
    assert crc16(b"") == 0xFFFF
