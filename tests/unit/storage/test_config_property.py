"""No accepted config violates an invariant (hypothesis).

Random sequences of set() / set_many() / import_bytes() / reset() with random
keys (known and unknown) and values (inside, on and beyond the bounds, and any
i32). After each step: every value is in range, every rule holds, a refused
step changed nothing, an accepted one applied exactly what was asked, the
attributes and derived limits match the values, and the file reloads to the
same values.
"""

from __future__ import annotations

import struct
import tempfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bms import config, protection, storage, wire

UNKNOWN_KEYS = [0, max(config.KEYS) + 1, 99, 0xFFFF]


def _values_for(key: int) -> st.SearchStrategy[int]:
    row = config.ROWS.get(key)
    any_i32 = st.integers(-(2**31), 2**31 - 1)
    if row is None:
        return any_i32
    _, _, default, lo, hi, _ = row
    edges = st.sampled_from([lo, hi, lo - 1, hi + 1, default, (lo + hi) // 2])
    return st.one_of(st.integers(lo, hi), edges, any_i32)


keys = st.one_of(st.sampled_from(config.KEYS), st.sampled_from(UNKNOWN_KEYS))
pairs = keys.flatmap(lambda k: st.tuples(st.just(k), _values_for(k)))
pair_lists = st.lists(pairs, max_size=6)

ops = st.one_of(
    st.tuples(st.just("set"), pairs),
    st.tuples(st.just("set_many"), pair_lists),
    st.tuples(st.just("import"), pair_lists),
    st.tuples(st.just("import_damaged"), pair_lists),
    st.tuples(st.just("reset"), st.none()),
)


def _blob(ps: list[tuple[int, int]]) -> bytes:
    known = [(k, v) for k, v in ps if 0 <= k <= 0xFFFF and -(2**31) <= v < 2**31]
    body = struct.pack("<HH", 0x4643, len(known))
    body += b"".join(struct.pack("<Hi", k, v) for k, v in known)
    return bytes(storage.pack(config.FORMAT_VERSION, body))


def _check_invariants(s: config.ConfigStore, folder: str) -> None:
    v = s.values()
    assert config.in_range(v) == 0
    assert config.violated_rule(v) is None
    for key, name, *_ in config.TABLE:
        assert getattr(s, name) == v[key]
    assert s.v_max_release_uv == v[wire.CFG_V_MAX_UV] - protection.V_HYST_UV
    assert s.v_min_release_uv < s.v_max_release_uv
    assert s.t_min_release_mc < s.t_max_release_mc
    assert s.p_min_release_pa < s.p_max_release_pa
    assert s.trip_delay_ms <= 60_000
    assert 0 < s.eol_inventory_uah < v[wire.CFG_CAPACITY_UAH]
    again = config.ConfigStore(storage.OsFs(), folder)
    assert again.loaded_ok
    assert again.values() == v


def _run(sequence) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = tmp + "/data"
        s = config.ConfigStore(storage.OsFs(), folder)
        assert s.reset() == wire.CFGST_OK
        for kind, arg in sequence:
            before = s.values()
            if kind == "set":
                key, value = arg
                status = s.set(key, value)
                asked = [(key, value)]
                assert s.check(key, value) in (status, wire.CFGST_OK)
            elif kind == "set_many":
                status, _ = s.set_many(arg)
                asked = arg
            elif kind == "import":
                status, _ = s.import_bytes(_blob(arg))
                asked = [(k, v) for k, v in arg if k in config.ROWS]
            elif kind == "import_damaged":
                blob = bytearray(_blob(arg))
                blob[len(blob) // 2] ^= 0x5A
                status, key = s.import_bytes(bytes(blob))
                assert (status, key) == (wire.CFGST_INCONSISTENT, 0)
                asked = []
            else:
                status = s.reset()
                asked = [(row[0], row[2]) for row in config.TABLE]
            after = s.values()
            if status == wire.CFGST_OK:
                want = list(before)
                for k, v in asked:
                    want[k] = v
                assert after == want
            else:
                assert status in (
                    wire.CFGST_UNKNOWN_KEY,
                    wire.CFGST_OUT_OF_RANGE,
                    wire.CFGST_INCONSISTENT,
                )
                assert after == before
            _check_invariants(s, folder)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ops, min_size=1, max_size=12))
def test_no_accepted_config_violates_an_invariant(sequence):
    _run(sequence)


@pytest.mark.slow
@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ops, min_size=1, max_size=40))
def test_no_accepted_config_violates_an_invariant_long(sequence):
    _run(sequence)


@settings(max_examples=300, deadline=None)
@given(st.lists(pairs, max_size=8))
def test_check_agrees_with_module_functions(ps):
    # what a host tool computes by importing the module is what the store answers
    for key, value in ps:
        st_host = config.check_value(key, value)
        if st_host == wire.CFGST_OK:
            v = config.defaults()
            v[key] = value
            if config.violated_rule(v, (key,)) is not None:
                st_host = wire.CFGST_INCONSISTENT
        with tempfile.TemporaryDirectory() as tmp:
            s = config.ConfigStore(storage.OsFs(), tmp)
            assert s.check(key, value) == st_host
