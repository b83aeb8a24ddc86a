"""CRC-16/CCITT-FALSE (a.k.a. CRC-16/IBM-3740) over every frame and log record.

Parameters: width 16, poly 0x1021, init 0xFFFF, no reflection, xorout 0x0000.
Check value: crc16(b"123456789") == 0x29B1. Stored little-endian on the wire.

Chosen over CRC-32 because its value always fits a MicroPython small int (a
CRC-32 would allocate a big int on every frame) and it gives Hamming
distance 4 for frames up to 4 KiB, larger than any afbms frame.
"""

import binascii

CRC16_INIT = 0xFFFF
CRC16_POLY = 0x1021
CRC16_CHECK = 0x29B1  # crc16(b"123456789")


def crc16(data: bytes | bytearray | memoryview, crc: int = CRC16_INIT) -> int:
    """CRC-16/CCITT-FALSE of ``data``, continuing from ``crc``."""
    # crc_hqx is the same polynomial, unreflected, with a caller-chosen init.
    return binascii.crc_hqx(data, crc)


def crc16_table() -> list[int]:
    """The 256-entry lookup table used by the generated firmware codec."""
    table = []
    for byte in range(256):
        crc = byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ CRC16_POLY) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
        table.append(crc)
    return table
