"""Fault bits as pure predicates over bit masks: a severity per bit, and masks.

Every ``wire.FAULT_*`` bit belongs to exactly one severity class (wire.SEV_*):

=============================================  ========  ==================================
bits                                           severity  why
=============================================  ========  ==================================
OVER_CURRENT_CHARGE, OVER_CURRENT_DISCHARGE    CRITICAL  heating, plating at high rate
OVER_TEMPERATURE                               CRITICAL  thermal runaway path
PRESSURE_HIGH                                  CRITICAL  cracking the solid electrolyte
SHORT_HARD                                     CRITICAL  confirmed hard dendrite short
OVER_VOLTAGE                                  ALARM     charge cutoff exceeded
UNDER_TEMPERATURE                              ALARM     plating risk when charging cold
PRESSURE_LOW                                   ALARM     contact loss, current crowding
SENSOR_CURRENT/PRESSURE/TEMPERATURE/STUCK      ALARM     the protection is blind
SHORT_SOFT                                     ALARM     confirmed soft short
CONFIG_INVALID                                 ALARM     running on defaults until confirmed
UNDER_VOLTAGE                                  WARNING   see below
LOG_ERROR                                      WARNING   data lost, the cell is not at risk
WATCHDOG_RESET                                 INFO      a record of what happened
=============================================  ========  ==================================

``BLOCKING`` (severity >= ALARM) is what forces the protection into the safe
state (both paths off).

UNDER_VOLTAGE is not blocking: in an anode-free cell every discharge ends at
the depletion knee, and a fresh cell starts with no metal plated, at a low
voltage. Blocking would stop the very charge that fixes it. While the
condition lasts the protection holds only the discharge path off.

Nothing here allocates: masks are ints computed once at import, the helpers
are integer tests.
"""

from bms import wire

CRITICAL = (
    wire.FAULT_OVER_CURRENT_CHARGE
    | wire.FAULT_OVER_CURRENT_DISCHARGE
    | wire.FAULT_OVER_TEMPERATURE
    | wire.FAULT_PRESSURE_HIGH
    | wire.FAULT_SHORT_HARD
)
SENSOR = (
    wire.FAULT_SENSOR_CURRENT
    | wire.FAULT_SENSOR_PRESSURE
    | wire.FAULT_SENSOR_TEMPERATURE
    | wire.FAULT_SENSOR_STUCK
)
ALARM = (
    wire.FAULT_OVER_VOLTAGE
    | wire.FAULT_UNDER_TEMPERATURE
    | wire.FAULT_PRESSURE_LOW
    | SENSOR
    | wire.FAULT_SHORT_SOFT
    | wire.FAULT_CONFIG_INVALID
)
WARNING = wire.FAULT_LOG_ERROR | wire.FAULT_UNDER_VOLTAGE
INFO_ONLY = wire.FAULT_WATCHDOG_RESET

ALL = CRITICAL | ALARM | WARNING | INFO_ONLY  # every known bit
BLOCKING = CRITICAL | ALARM  # severity >= ALARM: both paths off
# Raised by other modules through Protection.latch(), never by a limit.
EXTERNAL = (
    wire.FAULT_SHORT_SOFT
    | wire.FAULT_SHORT_HARD
    | wire.FAULT_WATCHDOG_RESET
    | wire.FAULT_CONFIG_INVALID
    | wire.FAULT_LOG_ERROR
)


def severity_of(mask):
    """Highest wire.SEV_* among the bits of ``mask`` (SEV_INFO for 0 or INFO-only bits)."""
    if mask & CRITICAL:
        return wire.SEV_CRITICAL
    if mask & ALARM:
        return wire.SEV_ALARM
    if mask & WARNING:
        return wire.SEV_WARNING
    return wire.SEV_INFO


def at_least(mask, severity):
    """The bits of ``mask`` whose severity is ``severity`` or higher."""
    if severity <= wire.SEV_INFO:
        return mask & ALL
    if severity == wire.SEV_WARNING:
        return mask & (CRITICAL | ALARM | WARNING)
    if severity == wire.SEV_ALARM:
        return mask & BLOCKING
    return mask & CRITICAL


def blocking(mask):
    """True when a bit of ``mask`` forces the safe state (severity >= ALARM)."""
    return (mask & BLOCKING) != 0


def info_only(mask):
    """True when ``mask`` has bits and every one of them is INFO-only."""
    return mask != 0 and (mask & ~INFO_ONLY) == 0
