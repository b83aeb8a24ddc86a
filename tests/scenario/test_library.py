"""The scenario library (tests/scenarios/*.toml) runs the real firmware app against the
plant and meets every expectation it states. Scenarios tagged "quick" run by default;
the rest (longer simulations) are marked slow."""

from __future__ import annotations

import pytest

from afbms.scenario import library_dir, load, run_scenario

FILES = sorted(library_dir().glob("*.toml"))


def _params():
    out = []
    for f in FILES:
        sc = load(f)
        marks = [] if "quick" in sc.tags else [pytest.mark.slow]
        out.append(pytest.param(f, id=f.stem, marks=marks))
    return out


def test_library_is_not_empty():
    names = {f.stem for f in FILES}
    assert len(names) >= 20
    assert {"soft_short_steady", "soft_short_intermittent", "hard_short_charge"} <= names
    assert any(n.startswith("clean_") for n in names)
    assert any(n.startswith("sensor_") for n in names)


@pytest.mark.parametrize("path", _params())
def test_scenario_meets_its_expectations(path):
    res = run_scenario(load(path))
    failed = [f"{c.name}: {c.detail}" for c in res.checks if not c.ok]
    assert not failed, f"{path.name}: " + "; ".join(failed)
    assert res.checks  # every library scenario states something to check
