"""Protocol version: one byte on the wire, major in the high nibble, minor in the low.

A different major is refused. A newer minor is accepted: its payloads may be
longer than ours and the extra trailing bytes are ignored.
"""

PROTOCOL_MAJOR = 1
PROTOCOL_MINOR = 0
PROTOCOL_VERSION = (PROTOCOL_MAJOR << 4) | PROTOCOL_MINOR


def split_version(version: int) -> tuple[int, int]:
    """(major, minor) of a version byte."""
    return version >> 4, version & 0x0F
