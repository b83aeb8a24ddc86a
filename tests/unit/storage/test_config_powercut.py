"""Power cuts during config writes: at every byte and between every write and rename.

After a cut the store reopens with the old or the new config, loaded_ok, and
never anything else (no mix, no defaults).
"""

from __future__ import annotations

import contextlib
import shutil
import struct
from pathlib import Path

import pytest

from bms import config, storage, wire
from tests.unit.storage.powercut import PowerCut, PowerCutFs

OLD = [(wire.CFG_V_MAX_UV, 4_200_000), (wire.CFG_CAPACITY_UAH, 1_500)]
NEW = [
    (wire.CFG_METAL, wire.METAL_SODIUM),
    (wire.CFG_V_MAX_UV, 3_800_000),
    (wire.CFG_V_MIN_UV, 1_800_000),
    (wire.CFG_T_MAX_MC, 70_000),
]


def _values(pairs) -> list[int]:
    v = config.defaults()
    for k, x in pairs:
        v[k] = x
    return v


OLD_V = _values(OLD)
NEW_V = _values(OLD + NEW)


def _prepare(folder: str) -> None:
    shutil.rmtree(folder, ignore_errors=True)
    s = config.ConfigStore(storage.OsFs(), folder)
    assert s.set_many(OLD) == (wire.CFGST_OK, 0)


def _change(fs: PowerCutFs, folder: str) -> None:
    s = config.ConfigStore(storage.OsFs(), folder)
    s.fs = fs  # the cut applies to the change only
    assert s.set_many(NEW) == (wire.CFGST_OK, 0)


def _ticks(run, replaces: bool = True) -> int:
    fs = PowerCutFs(None, rename_replaces=replaces)
    run(fs)
    return fs.ticks


def _sweep(folder: str, replaces: bool) -> dict[str, int]:
    _prepare(folder)
    total = _ticks(lambda fs: _change(fs, folder), replaces)
    seen = {"old": 0, "new": 0}
    for t in range(total + 1):
        _prepare(folder)
        fs = PowerCutFs(t, rename_replaces=replaces)
        try:
            _change(fs, folder)
        except PowerCut:
            assert t < total
        s = config.ConfigStore(PowerCutFs(None, rename_replaces=replaces), folder)
        assert s.loaded_ok, (t, s.load_status)
        got = s.values()
        assert got in (OLD_V, NEW_V), t
        seen["old" if got == OLD_V else "new"] += 1
        # whatever was recovered stays: a second boot reads the same
        assert config.ConfigStore(storage.OsFs(), folder).values() == got
    assert seen["old"] and seen["new"]
    seen["ticks"] = total
    return seen


@pytest.mark.parametrize("replaces", [True, False], ids=["rename-replaces", "remove-then-rename"])
def test_cut_at_every_tick_of_a_config_write(tmp_path: Path, replaces: bool):
    seen = _sweep(str(tmp_path / "data"), replaces)
    # every byte of the container plus open/rename (and the remove of the fallback)
    size = len(config.encode(NEW_V)) + storage.OVERHEAD
    assert seen["ticks"] >= size + 2
    assert seen["old"] + seen["new"] == seen["ticks"] + 1


def test_cut_during_recovery_after_a_cut(tmp_path: Path):
    """A second cut while the boot commits a leftover .new: still old or new."""
    folder = str(tmp_path / "data")
    _prepare(folder)
    total = _ticks(lambda fs: _change(fs, folder), False)
    tries = 0
    for t in range(total + 1):
        for u in range(4):  # the recovery is at most a rename (and a remove)
            _prepare(folder)
            with contextlib.suppress(PowerCut):
                _change(PowerCutFs(t, rename_replaces=False), folder)
            with contextlib.suppress(PowerCut):
                config.ConfigStore(PowerCutFs(u, rename_replaces=False), folder)
            s = config.ConfigStore(storage.OsFs(), folder)
            assert s.loaded_ok and s.values() in (OLD_V, NEW_V), (t, u)
            tries += 1
    assert tries == 4 * (total + 1)


def test_cut_during_migration_rewrite(tmp_path: Path):
    """Upgrading a format-0 file at boot: a cut leaves the old file, which migrates again."""
    folder = str(tmp_path / "data")
    old = config.defaults()
    old[wire.CFG_V_MAX_UV] = 4_100_000
    payload = b"".join(struct.pack("<i", old[k]) for k in range(1, 11))

    def prepare() -> None:
        shutil.rmtree(folder, ignore_errors=True)
        storage.makedirs(storage.OsFs(), folder)
        storage.write_atomic(storage.OsFs(), folder + "/config.bin", payload, 0)

    prepare()
    total = _ticks(lambda fs: config.ConfigStore(fs, folder))
    assert total > len(config.encode(old))
    for t in range(total + 1):
        prepare()
        with contextlib.suppress(PowerCut):
            config.ConfigStore(PowerCutFs(t), folder)
        s = config.ConfigStore(storage.OsFs(), folder)
        assert s.loaded_ok and s.values() == old, t
