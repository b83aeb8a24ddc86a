"""The afbms wire protocol, declared once with construct.

Everything that crosses the serial link is described in :mod:`.messages`
(payloads) and :mod:`.frame` (framing). The firmware codec
``firmware/bms/wire.py`` is generated from these declarations by
:mod:`.codegen`; the schema hash in :mod:`.schema` lets two builds from
different declarations detect each other.
"""

from afbms.protocol.enums import (
    Capability,
    Command,
    ConfigKey,
    ConfigStatus,
    ErrorCode,
    EventKind,
    Fault,
    FrameFlag,
    LogKind,
    Metal,
    MsgType,
    Severity,
    SimAction,
    State,
)
from afbms.protocol.version import PROTOCOL_MAJOR, PROTOCOL_MINOR, PROTOCOL_VERSION

__all__ = [
    "PROTOCOL_MAJOR",
    "PROTOCOL_MINOR",
    "PROTOCOL_VERSION",
    "Capability",
    "Command",
    "ConfigKey",
    "ConfigStatus",
    "ErrorCode",
    "EventKind",
    "Fault",
    "FrameFlag",
    "LogKind",
    "Metal",
    "MsgType",
    "Severity",
    "SimAction",
    "State",
]
