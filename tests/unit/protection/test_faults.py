"""bms.faults: one severity per fault bit, masks and the pure predicates."""

import pytest

from bms import faults, wire

FAULT_BITS = {name: getattr(wire, name) for name in dir(wire) if name.startswith("FAULT_")}

EXPECTED = {
    "FAULT_OVER_VOLTAGE": wire.SEV_ALARM,
    "FAULT_UNDER_VOLTAGE": wire.SEV_WARNING,
    "FAULT_OVER_CURRENT_CHARGE": wire.SEV_CRITICAL,
    "FAULT_OVER_CURRENT_DISCHARGE": wire.SEV_CRITICAL,
    "FAULT_OVER_TEMPERATURE": wire.SEV_CRITICAL,
    "FAULT_UNDER_TEMPERATURE": wire.SEV_ALARM,
    "FAULT_PRESSURE_LOW": wire.SEV_ALARM,
    "FAULT_PRESSURE_HIGH": wire.SEV_CRITICAL,
    "FAULT_SENSOR_CURRENT": wire.SEV_ALARM,
    "FAULT_SENSOR_PRESSURE": wire.SEV_ALARM,
    "FAULT_SENSOR_TEMPERATURE": wire.SEV_ALARM,
    "FAULT_SENSOR_STUCK": wire.SEV_ALARM,
    "FAULT_SHORT_SOFT": wire.SEV_ALARM,
    "FAULT_SHORT_HARD": wire.SEV_CRITICAL,
    "FAULT_WATCHDOG_RESET": wire.SEV_INFO,
    "FAULT_CONFIG_INVALID": wire.SEV_ALARM,
    "FAULT_LOG_ERROR": wire.SEV_WARNING,
}


def test_every_protocol_fault_has_an_expected_severity():
    assert set(FAULT_BITS) == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_severity_of_each_bit(name):
    assert faults.severity_of(FAULT_BITS[name]) == EXPECTED[name]


def test_severity_classes_partition_all_bits():
    classes = [faults.CRITICAL, faults.ALARM, faults.WARNING, faults.INFO_ONLY]
    for a in range(len(classes)):
        for b in range(a + 1, len(classes)):
            assert classes[a] & classes[b] == 0
    everything = 0
    for bit in FAULT_BITS.values():
        everything |= bit
    assert everything == faults.ALL
    assert everything == faults.CRITICAL | faults.ALARM | faults.WARNING | faults.INFO_ONLY


def test_blocking_is_alarm_and_above():
    for name, bit in FAULT_BITS.items():
        assert faults.blocking(bit) == (EXPECTED[name] >= wire.SEV_ALARM), name
    assert faults.BLOCKING == faults.CRITICAL | faults.ALARM
    assert not faults.blocking(0)
    assert not faults.blocking(wire.FAULT_WATCHDOG_RESET | wire.FAULT_LOG_ERROR)
    assert faults.blocking(wire.FAULT_WATCHDOG_RESET | wire.FAULT_SENSOR_STUCK)


def test_severity_of_a_mask_is_the_highest():
    assert faults.severity_of(0) == wire.SEV_INFO
    assert faults.severity_of(wire.FAULT_WATCHDOG_RESET) == wire.SEV_INFO
    assert faults.severity_of(wire.FAULT_WATCHDOG_RESET | wire.FAULT_LOG_ERROR) == wire.SEV_WARNING
    mask = wire.FAULT_LOG_ERROR | wire.FAULT_OVER_VOLTAGE
    assert faults.severity_of(mask) == wire.SEV_ALARM
    assert faults.severity_of(mask | wire.FAULT_SHORT_HARD) == wire.SEV_CRITICAL


def test_at_least():
    mask = faults.ALL
    assert faults.at_least(mask, wire.SEV_INFO) == faults.ALL
    assert faults.at_least(mask, wire.SEV_WARNING) == faults.ALL & ~faults.INFO_ONLY
    assert faults.at_least(mask, wire.SEV_ALARM) == faults.BLOCKING
    assert faults.at_least(mask, wire.SEV_CRITICAL) == faults.CRITICAL
    assert faults.at_least(wire.FAULT_LOG_ERROR, wire.SEV_ALARM) == 0


def test_info_only():
    assert faults.info_only(wire.FAULT_WATCHDOG_RESET)
    assert not faults.info_only(0)
    assert not faults.info_only(wire.FAULT_WATCHDOG_RESET | wire.FAULT_LOG_ERROR)


def test_sensor_and_external_masks():
    assert faults.SENSOR == (
        wire.FAULT_SENSOR_CURRENT
        | wire.FAULT_SENSOR_PRESSURE
        | wire.FAULT_SENSOR_TEMPERATURE
        | wire.FAULT_SENSOR_STUCK
    )
    assert faults.EXTERNAL & faults.SENSOR == 0
    assert faults.EXTERNAL & wire.FAULT_OVER_VOLTAGE == 0
