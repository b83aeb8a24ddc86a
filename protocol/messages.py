"""One construct Struct per message payload: the single source of truth.

All integers are little-endian and in fixed-point units (µV, µA, Pa, m°C,
µAh, ppm, nm, ms), so the firmware never needs a float on the wire path.
Device time is seconds since 2000-01-01 UTC, the epoch of MicroPython's
embedded ports; it stays a small int on the device until 2034.

Field helpers tag the construct they return with what the code generator
and the host need to know (the IntEnum or IntFlag class, a fixed byte size).
"""

from construct import (
    Array,
    Bytes,
    Checksum,
    Construct,
    Enum,
    FormatField,
    Int8ul,
    Int16ul,
    Int32sl,
    Int32ul,
    PaddedString,
    RawCopy,
    Rebuild,
    Struct,
    len_,
    this,
)

from afbms.protocol.crc import crc16
from afbms.protocol.enums import (
    Capability,
    Command,
    ConfigKey,
    ConfigStatus,
    ErrorCode,
    EventKind,
    Fault,
    LogKind,
    MsgType,
    Severity,
    SimAction,
    State,
)

# Records per LOG_DATA page: 24 x 40 B = 960 B of records per frame, which
# keeps the wire efficiency above 0.97 and the firmware's frame buffer at 1 KiB.
LOG_PAGE_RECORDS = 24


def enum8(cls: type) -> Construct:
    """A one-byte IntEnum field; unknown values parse as plain ints (forward compatible)."""
    field = Enum(Int8ul, cls)
    field.enum_class = cls
    return field


def enum16(cls: type) -> Construct:
    """A two-byte IntEnum field."""
    field = Enum(Int16ul, cls)
    field.enum_class = cls
    return field


def flags32(cls: type) -> Construct:
    """A 32-bit IntFlag field, kept as a plain integer so unknown bits survive."""
    field = FormatField("<", "L")
    field.flag_class = cls
    return field


def ascii_field(size: int) -> Construct:
    """Fixed-size, NUL-padded ASCII text."""
    field = PaddedString(size, "ascii")
    field.fixed_bytes = size
    return field


Hello = Struct(
    "protocol_version" / Int8ul,  # major << 4 | minor
    "schema_hash" / Int32ul,  # hash of the sender's declarations
)

Info = Struct(
    "device_id" / Bytes(8),  # MCU unique id (machine.unique_id), zero-padded
    "fw_major" / Int8ul,  # firmware version
    "fw_minor" / Int8ul,
    "fw_patch" / Int8ul,
    "board" / ascii_field(16),  # board definition name, e.g. "pico"
    "protocol_version" / Int8ul,  # major << 4 | minor
    "schema_hash" / Int32ul,  # hash of the firmware's declarations
    "capabilities" / flags32(Capability),  # Capability bits
    "log_record_size" / Int16ul,  # bytes per log record
    "max_payload" / Int16ul,  # bytes, largest payload the device accepts
    "uptime_s" / Int32ul,  # s since boot
)

Ack = Struct(
    "acked_type" / enum8(MsgType),  # type of the request accepted
)

Nack = Struct(
    "nacked_type" / enum8(MsgType),  # type of the request refused
    "error" / enum8(ErrorCode),  # why
    "detail" / Int32sl,  # error-specific: the limit, the key, the expected length
)

Telemetry = Struct(
    "t_s" / Int32ul,  # s since 2000-01-01 UTC (device time)
    "t_ms" / Int16ul,  # ms within t_s
    "voltage_uv" / Int32sl,  # µV, cell voltage
    "current_ua" / Int32sl,  # µA, positive = charging
    "pressure_pa" / Int32sl,  # Pa, stack pressure
    "temperature_mc" / Int32sl,  # m°C, cell temperature
    "charge_uah" / Int32sl,  # µAh, net charge since the current cycle began
    "state" / enum8(State),  # protection state
    "faults" / flags32(Fault),  # latched Fault bits
)

Estimate = Struct(
    "t_s" / Int32ul,  # s since 2000-01-01 UTC
    "cycle_count" / Int32ul,  # completed cycles
    "inventory_uah" / Int32sl,  # µAh, cyclable lithium (or sodium) left
    "inventory_ppm" / Int32sl,  # ppm of the initial inventory
    "ce_last_ppm" / Int32sl,  # ppm, Coulombic efficiency of the last full cycle
    "ce_rolling_ppm" / Int32sl,  # ppm, rolling mean CE
    "loss_total_uah" / Int32sl,  # µAh, cumulative inventory loss
    "loss_sei_uah" / Int32sl,  # µAh, of which bound in SEI
    "loss_dead_uah" / Int32sl,  # µAh, of which electrically isolated (dead) metal
    "plated_nm" / Int32sl,  # nm, active metal plated now (dense equivalent)
    "dead_nm" / Int32sl,  # nm, dead metal layer (dense equivalent)
    "slippage_uah" / Int32sl,  # µAh, charge-endpoint slippage of the last cycle
    "cycles_to_eol" / Int32sl,  # cycles left to the end-of-life threshold, -1 unknown
    "eol_sigma" / Int32sl,  # cycles, 1-sigma uncertainty of cycles_to_eol, -1 unknown
)

Event = Struct(
    "t_s" / Int32ul,  # s since 2000-01-01 UTC
    "t_ms" / Int16ul,  # ms within t_s
    "kind" / enum8(EventKind),  # what happened
    "severity" / enum8(Severity),  # how bad
    "value" / Int32sl,  # kind-specific: dip µV, noise µV, leak µA, fault bits, ...
    "voltage_uv" / Int32sl,  # µV, snapshot at the event
    "current_ua" / Int32sl,  # µA, snapshot
    "pressure_pa" / Int32sl,  # Pa, snapshot
    "temperature_mc" / Int32sl,  # m°C, snapshot
    "state" / enum8(State),  # protection state after the event
    "faults" / flags32(Fault),  # latched Fault bits after the event
)

CONFIG_KEY_ALL = 0xFFFF  # CONFIG_GET key asking for every key

ConfigGet = Struct(
    "key" / enum16(ConfigKey),  # ConfigKey, or CONFIG_KEY_ALL
)

ConfigSet = Struct(
    "key" / enum16(ConfigKey),  # ConfigKey
    "value" / Int32sl,  # in the key's unit
)

ConfigValue = Struct(
    "key" / enum16(ConfigKey),  # ConfigKey
    "value" / Int32sl,  # in the key's unit
)

ConfigResult = Struct(
    "key" / enum16(ConfigKey),  # ConfigKey that was set
    "status" / enum8(ConfigStatus),  # OK or the reason it was refused
    "value" / Int32sl,  # value in force afterwards
)

CommandMsg = Struct(
    "command" / enum8(Command),  # what to do
    "arg" / Int32sl,  # command-specific (see Command)
)

LogInfoReq = Struct()

LogInfo = Struct(
    "first_seq" / Int32ul,  # oldest record still stored
    "next_seq" / Int32ul,  # sequence number the next record will get
    "capacity" / Int32ul,  # records the ring holds
    "record_size" / Int16ul,  # bytes per record
    "page_records" / Int8ul,  # records per LOG_DATA page
    "unflushed" / Int16ul,  # records in RAM not yet written to flash
)

LogRead = Struct(
    "start_seq" / Int32ul,  # first record wanted
    "count" / Int32ul,  # records wanted (the device sends pages until done)
)

LogRecordBody = Struct(
    "seq" / Int32ul,  # record sequence number, never reused
    "t_s" / Int32ul,  # s since 2000-01-01 UTC
    "t_ms" / Int16ul,  # ms within t_s
    "kind" / enum8(LogKind),  # what the values mean (see log.LOG_FIELDS)
    "code" / Int8ul,  # kind-specific: State, EventKind, ...
    "aux" / Int16ul,  # kind-specific: Severity, cycle number low bits, ...
    "faults" / flags32(Fault),  # latched Fault bits when recorded
    "v0" / Int32sl,  # kind-specific values, fixed-point (see log.LOG_FIELDS)
    "v1" / Int32sl,
    "v2" / Int32sl,
    "v3" / Int32sl,
    "v4" / Int32sl,
)

# One record as stored in flash and sent in LOG_DATA: the CRC lets the host
# and the firmware reject a record torn by a power cut.
LogRecord = Struct(
    "body" / RawCopy(LogRecordBody),
    "crc" / Checksum(Int16ul, crc16, this.body.data),  # CRC-16/CCITT-FALSE of body
)

LogData = Struct(
    "start_seq" / Int32ul,  # seq of the first record in this page
    "count" / Rebuild(Int8ul, len_(this.records)),  # records in this page
    "records" / Array(this.count, LogRecord),
)

SimControl = Struct(
    "action" / enum8(SimAction),  # what to do to the simulated world
    "arg0" / Int32sl,  # action-specific (see SimAction)
    "arg1" / Int32sl,
)

# Payload declaration of every message type.
PAYLOADS: dict[MsgType, Struct] = {
    MsgType.HELLO: Hello,
    MsgType.INFO: Info,
    MsgType.ACK: Ack,
    MsgType.NACK: Nack,
    MsgType.TELEMETRY: Telemetry,
    MsgType.ESTIMATE: Estimate,
    MsgType.EVENT: Event,
    MsgType.CONFIG_GET: ConfigGet,
    MsgType.CONFIG_SET: ConfigSet,
    MsgType.CONFIG_VALUE: ConfigValue,
    MsgType.CONFIG_RESULT: ConfigResult,
    MsgType.COMMAND: CommandMsg,
    MsgType.LOG_INFO_REQ: LogInfoReq,
    MsgType.LOG_INFO: LogInfo,
    MsgType.LOG_READ: LogRead,
    MsgType.LOG_DATA: LogData,
    MsgType.SIM_CONTROL: SimControl,
}
