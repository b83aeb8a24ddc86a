"""The image loader (firmware/main.py): slots, trial boots, confirmation, rollback."""

import sys

import main as loader
import pytest


@pytest.fixture
def fw(tmp_path, monkeypatch):
    monkeypatch.setattr(loader, "FW_DIR", str(tmp_path))
    for slot in "ab":
        (tmp_path / slot).mkdir()
    def install(slot, broken=False):
        code = (
            "raise ImportError('broken image')\n"
            if broken
            else ("STARTED.append(__file__)\ndef main(image):\n    STARTED_IMAGES.append(image)\n")
        )
        (tmp_path / slot / "app_main.py").write_text(code)

    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.delitem(sys.modules, "app_main", raising=False)
    import builtins

    monkeypatch.setattr(builtins, "STARTED", [], raising=False)
    monkeypatch.setattr(builtins, "STARTED_IMAGES", [], raising=False)
    return tmp_path, install


def state(tmp_path):
    return (tmp_path / "state").read_text().split()


def boot_once(monkeypatch):
    import builtins

    monkeypatch.delitem(sys.modules, "app_main", raising=False)
    loader.boot()
    return builtins.STARTED_IMAGES[-1]


def test_boots_the_active_slot(fw, monkeypatch):
    root, install = fw
    install("a")
    loader._write_state("a", "b", 0, 0)
    image = boot_once(monkeypatch)
    assert (image.slot, image.trial, state(root)) == ("a", 0, ["a", "b", "0", "0"])


def test_trial_boot_counts_a_try_until_confirmed(fw, monkeypatch):
    root, install = fw
    install("b")
    loader._write_state("b", "a", 1, 0)
    image = boot_once(monkeypatch)
    assert (image.trial, state(root)) == (1, ["b", "a", "1", "1"])
    image.confirm()
    assert state(root) == ["b", "a", "0", "0"]


def test_unconfirmed_trial_rolls_back_after_max_tries(fw, monkeypatch):
    _, install = fw
    install("a")
    install("b")
    loader._write_state("b", "a", 1, loader.MAX_TRIES)
    image = boot_once(monkeypatch)
    assert (image.slot, image.trial) == ("a", 0)


def test_broken_image_rolls_back_at_once(fw, monkeypatch):
    root, install = fw
    install("a")
    install("b", broken=True)
    loader._write_state("b", "a", 1, 0)
    with pytest.raises(ImportError):
        boot_once(monkeypatch)
    assert state(root) == ["a", "b", "0", "0"]


def test_rollback_goes_to_the_previous_slot(fw, monkeypatch):
    root, install = fw
    install("b")
    loader._write_state("b", "a", 1, 0)
    boot_once(monkeypatch).rollback()
    assert state(root) == ["a", "b", "0", "0"]


def test_state_left_in_dot_new_by_a_power_cut_is_used(fw):
    root, _ = fw
    (root / "state.new").write_text("b a 1 2\n")
    assert loader._read_state() == ("b", "a", 1, 2)


def test_garbage_state_means_no_slots(fw):
    root, _ = fw
    (root / "state").write_text("zz\n")
    assert loader._read_state() is None
