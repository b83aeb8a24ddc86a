"""The split charge accumulator loses nothing and stays in small ints."""

from hypothesis import given
from hypothesis import strategies as st

from bms.sample import Sample

UAMS_PER_UAH = 3_600_000


@given(st.lists(st.integers(-(10**8), 10**8), max_size=200))
def test_accumulator_is_exact(deltas):
    s = Sample()
    for d in deltas:
        s.add_charge_uams(d)
    assert s.charge_uah * UAMS_PER_UAH + s.charge_rem_uams == sum(deltas)
    assert 0 <= s.charge_rem_uams < UAMS_PER_UAH


def test_one_hour_at_one_milliamp_is_1000_uah():
    s = Sample()
    for _ in range(3600):
        s.add_charge_uams(1000 * 1000)  # 1 mA for 1 s
    assert (s.charge_uah, s.charge_rem_uams) == (1000, 0)
