"""Every enumerated value that crosses the wire.

The numeric values are the protocol: never renumber a member, only add.
Each enum is exported into the generated firmware codec as constants named
``<PREFIX>_<MEMBER>`` (prefix in ``CODEGEN_PREFIX``).
"""

from enum import IntEnum, IntFlag


class MsgType(IntEnum):
    """Message type byte of a frame. Direction in brackets (H = host, D = device)."""

    HELLO = 0x01  # [H->D] open a session: versions and schema hash
    INFO = 0x02  # [D->H] answer to HELLO: who the device is
    ACK = 0x03  # [D->H] request accepted
    NACK = 0x04  # [D->H] request refused, with an error code
    TELEMETRY = 0x10  # [D->H] periodic measurements
    ESTIMATE = 0x11  # [D->H] lithium-inventory estimate
    EVENT = 0x12  # [D->H] fault, short signature or state change, with a snapshot
    CONFIG_GET = 0x20  # [H->D] read one key or all
    CONFIG_SET = 0x21  # [H->D] write one key
    CONFIG_VALUE = 0x22  # [D->H] one key's value
    CONFIG_RESULT = 0x23  # [D->H] outcome of CONFIG_SET
    COMMAND = 0x30  # [H->D] an action (see Command)
    LOG_INFO_REQ = 0x40  # [H->D] ask for the log's extent
    LOG_INFO = 0x41  # [D->H] the log's extent
    LOG_READ = 0x42  # [H->D] ask for records by sequence range
    LOG_DATA = 0x43  # [D->H] one page of log records
    SIM_CONTROL = 0x70  # [H->D] virtual board only: act on the simulated world


class FrameFlag(IntFlag):
    """Bits of the frame header's flags byte."""

    RESPONSE = 0x01  # answers a request; seq echoes the request's seq
    MORE = 0x02  # more frames of the same answer follow (config dump, log pages)


class State(IntEnum):
    """Protection state machine."""

    INIT = 0
    IDLE = 1  # at rest: both paths enabled, no current flowing
    CHARGE = 2
    DISCHARGE = 3
    FAULT = 4  # a latched fault holds the outputs safe
    MAINTENANCE = 5  # outputs safe, console handed to the REPL


class Fault(IntFlag):
    """Fault bits. Latched until cleared by command; persisted across resets."""

    OVER_VOLTAGE = 1 << 0
    UNDER_VOLTAGE = 1 << 1
    OVER_CURRENT_CHARGE = 1 << 2
    OVER_CURRENT_DISCHARGE = 1 << 3
    OVER_TEMPERATURE = 1 << 4
    UNDER_TEMPERATURE = 1 << 5
    PRESSURE_LOW = 1 << 6  # contact loss
    PRESSURE_HIGH = 1 << 7  # risk of cracking the electrolyte
    SENSOR_CURRENT = 1 << 8  # current/voltage monitor failed (bus error or implausible)
    SENSOR_PRESSURE = 1 << 9
    SENSOR_TEMPERATURE = 1 << 10
    SENSOR_STUCK = 1 << 11  # a reading stopped changing
    SHORT_SOFT = 1 << 12  # confirmed dendrite soft short
    SHORT_HARD = 1 << 13
    WATCHDOG_RESET = 1 << 14  # the last reset was the watchdog's
    CONFIG_INVALID = 1 << 15  # stored config failed its CRC or validation
    LOG_ERROR = 1 << 16  # flash log could not be written


class Severity(IntEnum):
    INFO = 0
    WARNING = 1  # suspected: watch
    ALARM = 2  # confirmed: charging stopped
    CRITICAL = 3  # both paths opened


class EventKind(IntEnum):
    BOOT = 0
    STATE_CHANGE = 1
    FAULT_SET = 2
    FAULTS_CLEARED = 3
    CONFIG_CHANGED = 4
    CYCLE_END = 5
    VOLTAGE_DROP = 10  # 20-80 mV dip with fast recovery during charge
    VOLTAGE_NOISE = 11  # fluctuation above baseline during charge
    CHARGE_OVERRUN = 12  # charge beyond the inventory without reaching cutoff
    CE_COLLAPSE = 13  # CE or endpoint slippage off the rolling baseline
    SELF_DISCHARGE = 14  # voltage decay at rest
    PRESSURE_ANOMALY = 15  # pressure step coinciding with a voltage event
    SHORT_SUSPECTED = 20
    SOFT_SHORT = 21
    HARD_SHORT = 22


class Command(IntEnum):
    """COMMAND codes; the meaning of ``arg`` is given for each."""

    SET_TELEMETRY_PERIOD = 1  # arg: period in ms (0 = telemetry off)
    CLEAR_FAULTS = 2  # arg: fault mask to clear (0 = all)
    RESET_ESTIMATOR = 3  # arg: 0
    SET_TIME = 4  # arg: s since 2000-01-01 UTC
    REBOOT = 5  # arg: 0
    ENTER_MAINTENANCE = 6  # arg: 0; outputs safe, REPL handed back
    SEND_ESTIMATE = 7  # arg: 0; send one ESTIMATE now
    FLUSH_LOG = 8  # arg: 0; write pending log records to flash


class ErrorCode(IntEnum):
    """Why a NACK refused a request."""

    UNKNOWN_TYPE = 1
    BAD_LENGTH = 2  # payload shorter than the message
    BAD_VALUE = 3
    UNSUPPORTED_VERSION = 4  # major version differs
    SCHEMA_MISMATCH = 5  # HELLO carried another schema hash
    NO_SESSION = 6  # a request arrived before a valid HELLO
    BUSY = 7
    NOT_ALLOWED = 8  # not in the current state
    UNKNOWN_COMMAND = 9
    LOG_RANGE = 10  # requested records are no longer (or not yet) in the log
    NOT_SIMULATED = 11  # SIM_CONTROL on a real board


class ConfigStatus(IntEnum):
    """Outcome of CONFIG_SET (and the reason when refused)."""

    OK = 0
    UNKNOWN_KEY = 1
    OUT_OF_RANGE = 2
    INCONSISTENT = 3  # conflicts with another key (e.g. V_MIN >= V_MAX)
    READ_ONLY = 4
    STORE_FAILED = 5  # valid, but could not be persisted


class ConfigKey(IntEnum):
    """Configuration keys. Values are i32 in the unit named by the key."""

    METAL = 1  # Metal enum: the plated metal
    CAPACITY_UAH = 2  # µAh, initial cyclable inventory (cathode-limited)
    ACTIVE_AREA_UM2K = 3  # 1000 µm² (= 0.001 mm²), electrode and pressure area
    V_MAX_UV = 4  # µV, charge cutoff / over-voltage limit
    V_MIN_UV = 5  # µV, discharge cutoff / under-voltage limit
    I_CHARGE_MAX_UA = 6  # µA, charge over-current limit
    I_DISCHARGE_MAX_UA = 7  # µA, discharge over-current limit (magnitude)
    T_MAX_MC = 8  # m°C
    T_MIN_MC = 9  # m°C
    P_MIN_PA = 10  # Pa, below: contact loss
    P_MAX_PA = 11  # Pa, above: cracking risk
    SAMPLE_PERIOD_MS = 12  # ms
    TELEMETRY_PERIOD_MS = 13  # ms, 0 = off
    EOL_RETENTION_PPM = 14  # ppm of initial inventory that counts as end of life
    DEBOUNCE_SAMPLES = 15  # samples a limit must be exceeded before it trips
    # Lithium-inventory estimator (issue 4)
    KNEE_MARGIN_UV = 16  # µV, a discharge ending below V_MIN + this reached the anode knee
    TOP_MARGIN_UV = 17  # µV, a charge reaching V_MAX - this reached the top of charge
    STIFFNESS_PA_PER_UM = 18  # Pa per µm of anode thickness (fixture), 0 = learn it
    LIVE_DENSITY_PPM = 19  # ppm of dense metal: fresh deposit (learning the stiffness)
    DEAD_DENSITY_PPM = 20  # ppm of dense metal: porous dead metal
    SEI_NM_PER_MAH_CM2 = 21  # nm of SEI per mAh/cm² of metal bound in it
    EOL_FIT_CYCLES = 22  # cycles in the end-of-life fit, at most (half the cycles so far)
    # Dendrite-short detector (issue 4)
    DROP_UV = 23  # µV, smallest voltage drop during CC charge that is a signature
    DROP_CONFIRM_COUNT = 24  # voltage drops within two cycles that confirm a soft short
    NOISE_RATIO_PCT = 25  # %, charge voltage noise above this x baseline is a signature
    NOISE_FLOOR_UV = 26  # µV, ... and above this absolute level
    NOISE_SAMPLES = 27  # samples the noise must stay high (debounce)
    OVERRUN_PPM = 28  # ppm of capacity charged beyond the expected top of charge
    CE_DROP_PPM = 29  # ppm, CE below its rolling baseline (or slippage above it)
    LEAK_PPM_PER_H = 30  # ppm of capacity per hour: self-discharge leak at rest
    REST_SETTLE_MS = 31  # ms of rest before the self-discharge rate is measured
    PRESSURE_STEP_PA = 32  # Pa, pressure step that coincides with a voltage event
    HARD_DROP_UV = 33  # µV, collapse within one sample that is a hard short
    NUC_GUARD_PPM = 34  # ppm of capacity at the start of a charge with no drop check


class Metal(IntEnum):
    """The metal plated on the current collector."""

    LITHIUM = 0  # 4.85 µm per mAh/cm² when dense
    SODIUM = 1  # 8.8 µm per mAh/cm² when dense


class Capability(IntFlag):
    """What a device can do (INFO.capabilities)."""

    CHARGE_ACCUMULATOR = 1 << 0  # hardware coulomb counter (INA228)
    PRESSURE = 1 << 1
    TEMPERATURE = 1 << 2
    FLASH_LOG = 1 << 3
    WATCHDOG = 1 << 4
    SIMULATED = 1 << 5  # virtual board: SIM_CONTROL accepted


class LogKind(IntEnum):
    """Kinds of fixed-size log records (field meaning in :data:`.log.LOG_FIELDS`)."""

    SAMPLE = 1
    ESTIMATE = 2
    LOSS = 3
    EVENT = 4
    CYCLE = 5


class SimAction(IntEnum):
    """SIM_CONTROL actions (virtual board only)."""

    INJECT_FAULT = 1  # arg0: plant fault id, arg1: magnitude (fault-specific unit)
    CLEAR_FAULT = 2  # arg0: plant fault id
    SET_TEMPERATURE = 3  # arg0: m°C
    POWER_CUT = 4  # arg0: delay in ms
    SET_SPEED = 5  # arg0: simulated seconds per wall second x1000 (0 = as fast as possible)


# Prefix of each enum's constants in the generated firmware codec.
CODEGEN_PREFIX: dict[type, str] = {
    MsgType: "MSG",
    FrameFlag: "FLAG",
    State: "STATE",
    Fault: "FAULT",
    Severity: "SEV",
    EventKind: "EVT",
    Command: "CMD",
    ErrorCode: "ERR",
    ConfigStatus: "CFGST",
    ConfigKey: "CFG",
    Metal: "METAL",
    Capability: "CAP",
    LogKind: "LOG",
    SimAction: "SIM",
}
