"""Clocks: tick arithmetic across the wrap, device time, re-anchoring."""

import pytest

from bms.clock import TICKS_PERIOD, VirtualClock
from bms.sample import Sample


def test_ticks_diff_across_wrap():
    clock = VirtualClock(start_ticks=TICKS_PERIOD - 10)
    start = clock.ticks_ms()
    clock.advance(25)
    assert (clock.ticks_ms(), clock.ticks_diff(clock.ticks_ms(), start)) == (15, 25)


def test_ticks_add_wraps():
    clock = VirtualClock()
    assert clock.ticks_add(TICKS_PERIOD - 1, 2) == 1


def test_negative_diff():
    clock = VirtualClock()
    assert clock.ticks_diff(100, 300) == -200


def test_device_time_counts_from_anchor():
    clock = VirtualClock(time_s=848_000_000)
    clock.advance(2_500)
    sample = Sample()
    clock.device_time_into(sample)
    assert (sample.t_s, sample.t_sub_ms) == (848_000_002, 500)


def test_set_time_reanchors():
    clock = VirtualClock(time_s=5)
    clock.advance(10_000)
    clock.set_time_s(848_000_000)
    clock.advance(1_000)
    assert clock.time_s() == 848_000_001


def test_device_time_survives_many_tick_wraps():
    clock = VirtualClock(time_s=0, start_ticks=TICKS_PERIOD - 1)
    hours = 24 * 30  # a month: the tick counter wraps twice
    for _ in range(hours * 60):
        clock.advance(60_000)
        clock.time_s()  # the app reads time every sample: keeps the anchor fresh
    assert clock.time_s() == hours * 3600


def test_sleep_advances_virtual_time():
    clock = VirtualClock()
    clock.sleep_ms(40)
    clock.sleep_ms(-5)
    assert clock.ticks_ms() == 40


@pytest.mark.parametrize("a", [0, 1, TICKS_PERIOD // 2 - 1, TICKS_PERIOD // 2, TICKS_PERIOD - 1])
@pytest.mark.parametrize("delta", [0, 1, -1, 1000, -1000, 2**29 - 1, -(2**29)])
def test_tick_arithmetic_matches_the_modular_definition(a, delta):
    clock = VirtualClock()
    b = clock.ticks_add(a, delta)
    assert b == (a + delta) % TICKS_PERIOD
    assert clock.ticks_diff(b, a) == delta
