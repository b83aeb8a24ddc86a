"""``afbms export`` and ``afbms plot`` as subprocesses: outputs, exit codes, one-line errors."""

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from afbms.export import BDF_COLUMNS
from afbms.store import Store
from tests.host import DEVICE, OTHER_DEVICE, synthetic_log

RECORDS = synthetic_log(5)


def afbms(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    script = Path(sys.executable).with_name("afbms")
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "afbms"]
    return subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=timeout)


def assert_one_line_error(proc: subprocess.CompletedProcess, code: int, *words: str) -> None:
    assert proc.returncode == code, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    for word in words:
        assert word in lines[0], lines[0]


@pytest.fixture(scope="module")
def store_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("store") / "afbms.sqlite"
    with Store.open(path) as s:
        s.add_records(DEVICE, RECORDS, board="pico")
    return path


@pytest.fixture(scope="module")
def two_device_store(tmp_path_factory):
    path = tmp_path_factory.mktemp("store2") / "afbms.sqlite"
    with Store.open(path) as s:
        s.add_records(DEVICE, RECORDS[:200])
        s.add_records(OTHER_DEVICE, RECORDS[:200])
    return path


# ---------------------------------------------------------------------- export


def test_export_bdf_with_the_only_device(store_path, tmp_path):
    out = tmp_path / "cell.bdf.csv"
    proc = afbms("export", "--store", str(store_path), "--format", "bdf", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(out)
    df = pd.read_csv(out)
    assert list(df.columns) == [name for name, _ in BDF_COLUMNS]
    assert len(df) == int((RECORDS["kind"] == 1).sum())


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_export_other_formats_with_a_device_prefix(store_path, tmp_path, fmt):
    proc = afbms("export", "--store", str(store_path), "--device", DEVICE[:8],
                 "--format", fmt, "--out", str(tmp_path))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    written = Path(proc.stdout.strip())
    assert written.parent == tmp_path and written.stat().st_size > 1000


def test_export_missing_store(tmp_path):
    proc = afbms("export", "--store", str(tmp_path / "none.sqlite"), "--out", str(tmp_path))
    assert_one_line_error(proc, 2, "afbms export:", "no store at")
    assert not (tmp_path / "none.sqlite").exists()


def test_export_corrupt_store_file(tmp_path):
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(os.urandom(8192))
    proc = afbms("export", "--store", str(bad), "--out", str(tmp_path / "x.csv"))
    assert_one_line_error(proc, 2, "not an afbms store")


def test_export_damaged_store_file(store_path, tmp_path):
    damaged = tmp_path / "damaged.sqlite"
    data = bytearray(store_path.read_bytes())
    data[4096:] = os.urandom(len(data) - 4096)
    damaged.write_bytes(bytes(data))
    proc = afbms("export", "--store", str(damaged), "--out", str(tmp_path / "x.csv"))
    assert_one_line_error(proc, 2, str(damaged))


def test_export_store_that_is_a_folder(tmp_path):
    proc = afbms("export", "--store", str(tmp_path), "--out", str(tmp_path / "x.csv"))
    assert_one_line_error(proc, 2, "is a directory")


def test_export_unknown_device(store_path, tmp_path):
    proc = afbms("export", "--store", str(store_path), "--device", "0badc0de",
                 "--out", str(tmp_path / "x.csv"))  # fmt: skip
    assert_one_line_error(proc, 2, "no device 0badc0de", DEVICE)


def test_export_needs_a_device_when_the_store_holds_several(two_device_store, tmp_path):
    proc = afbms("export", "--store", str(two_device_store), "--out", str(tmp_path / "x.csv"))
    assert_one_line_error(proc, 2, "holds 2 devices", "--device")
    proc = afbms("export", "--store", str(two_device_store), "--device", OTHER_DEVICE,
                 "--format", "csv", "--out", str(tmp_path / "x.csv"))  # fmt: skip
    assert proc.returncode == 0, proc.stderr


def test_export_unwritable_path(store_path, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    proc = afbms("export", "--store", str(store_path), "--out", str(blocker / "x.bdf.csv"))
    assert_one_line_error(proc, 2, "cannot write")
    proc = afbms("export", "--store", str(store_path), "--out", "/proc/afbms.bdf.csv")
    assert_one_line_error(proc, 2, "cannot write /proc/afbms.bdf.csv")


# ---------------------------------------------------------------------- plot


def test_plot_all(store_path, tmp_path):
    out = tmp_path / "figures"
    proc = afbms("plot", "--store", str(store_path), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    paths = [Path(line) for line in proc.stdout.split()]
    assert [p.name for p in paths] == [
        f"{DEVICE}_timeseries.png", f"{DEVICE}_inventory.png", f"{DEVICE}_thickness.png"
    ]  # fmt: skip
    for path in paths:
        assert path.read_bytes()[:4] == b"\x89PNG" and path.stat().st_size > 20_000


def test_plot_one_kind(store_path, tmp_path):
    proc = afbms("plot", "--store", str(store_path), "--out", str(tmp_path),
                 "--kind", "inventory", "--eol", "90")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [str(tmp_path / f"{DEVICE}_inventory.png")]


def test_plot_without_estimates_skips_with_a_note(tmp_path):
    path = tmp_path / "s.sqlite"
    with Store.open(path) as s:
        s.add_records(DEVICE, RECORDS[:150])  # before the first cycle closes
    proc = afbms("plot", "--store", str(path), "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.split()) == 1 and "skipped inventory" in proc.stderr
    proc = afbms("plot", "--store", str(path), "--out", str(tmp_path), "--kind", "thickness")
    assert_one_line_error(proc, 2, "no loss estimates")


def test_plot_errors(store_path, two_device_store, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert_one_line_error(afbms("plot", "--store", str(store_path), "--out", str(blocker)), 2,
                          "afbms plot:", "not a folder")  # fmt: skip
    assert_one_line_error(
        afbms("plot", "--store", str(tmp_path / "none.sqlite"), "--out", str(tmp_path)), 2,
        "no store at",
    )  # fmt: skip
    assert_one_line_error(afbms("plot", "--store", str(blocker), "--out", str(tmp_path)), 2,
                          "not an afbms store")  # fmt: skip
    assert_one_line_error(
        afbms("plot", "--store", str(two_device_store), "--out", str(tmp_path)), 2, "--device"
    )
    assert_one_line_error(
        afbms("plot", "--store", str(store_path), "--device", "ff", "--out", str(tmp_path)), 2,
        "no device ff",
    )  # fmt: skip
    assert_one_line_error(
        afbms("plot", "--store", str(store_path), "--out", str(tmp_path), "--eol", "120"), 2,
        "--eol must be",
    )  # fmt: skip
