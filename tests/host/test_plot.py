"""Plots: files exist with sane sizes; the data shaping behind them."""

import numpy as np
import pytest
from matplotlib.image import imread

from afbms import plot as pl
from afbms.logrecords import of_kind
from afbms.protocol.enums import LogKind
from afbms.store import ESTIMATE_COLUMNS, Store
from tests.host import DEVICE, OTHER_DEVICE, synthetic_log

RECORDS = synthetic_log(8)
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def store(tmp_path):
    with Store.open(tmp_path / "afbms.sqlite") as s:
        s.add_records(DEVICE, RECORDS, board="pico")
        yield s


def assert_png(path, width, height):
    data = path.read_bytes()
    assert data[:8] == PNG
    assert 20_000 < len(data) < 3_000_000, len(data)
    image = imread(path)
    assert image.shape[:2] == (height, width)
    assert image[..., :3].std() > 0.05  # not a blank canvas


def test_all_figures_are_written(store, tmp_path):
    out = tmp_path / "figs" / "new"
    paths = pl.plot(store, out)
    assert [p.name for p in paths] == [f"{DEVICE}_{k}.png" for k in pl.KINDS]
    sizes = {"timeseries": (1650, 1350), "inventory": (1500, 1125), "thickness": (1500, 825)}
    for path, kind in zip(paths, pl.KINDS, strict=True):
        assert_png(path, *sizes[kind])


def test_one_kind_only(store, tmp_path):
    paths = pl.plot(store, tmp_path, ("thickness",))
    assert [p.name for p in paths] == [f"{DEVICE}_thickness.png"]
    assert list(tmp_path.glob("*.png")) == paths


def test_host_extrapolation_when_the_device_has_no_eol_estimate(tmp_path):
    records = synthetic_log(8, device_eol=False, incidents=False)
    table = pl.cycle_table(records)
    assert table.cycles_to_eol is None
    at, sigma, source = pl._eol_projection(table, 0.8)
    assert "host" in source and table.cycle[-1] < at < 40 and 0 < sigma < at
    with Store.open(tmp_path / "s.sqlite") as s:
        s.add_records(DEVICE, records)
        assert_png(pl.plot(s, tmp_path, ("inventory",))[0], 1500, 1125)


def test_device_eol_and_live_sigma(store):
    records = store.records(DEVICE)
    table = pl.cycle_table(records)
    loss = of_kind(records, LogKind.LOSS)
    assert table.cycles_to_eol == loss["v4"][-1] and table.eol_sigma is None
    last = int(table.cycle[-1])
    live = dict.fromkeys(ESTIMATE_COLUMNS, 0) | {"cycle_count": last, "cycles_to_eol": 14,
                                                  "eol_sigma": 3, "t_s": 1}  # fmt: skip
    store.add_estimates(DEVICE, [live])
    table = pl.cycle_table(records, store.live("estimates", DEVICE))
    assert (table.cycles_to_eol, table.eol_sigma) == (14, 3)
    assert pl._eol_projection(table, 0.8) == (last + 14, 3, "device estimate")


def test_far_projection_is_drawn_off_scale(tmp_path):
    table = pl.cycle_table(RECORDS)
    table.cycles_to_eol = 5000.0
    path = pl.plot_inventory(table, tmp_path / "inv.png", device=DEVICE)
    assert_png(path, 1500, 1125)


def test_cycle_table_pairs_loss_records_and_unwraps_resets():
    table = pl.cycle_table(RECORDS)
    est = of_kind(RECORDS, LogKind.ESTIMATE)
    assert table.cycle.tolist() == est["v4"].tolist() == list(range(1, 8))
    assert np.all(np.diff(table.dead_m) > 0) and np.all(table.plated_m >= 0)
    assert pl._unwrap_cycles(np.array([1, 2, 3, 1, 2, 1])).tolist() == [1, 2, 3, 4, 5, 6]


def test_envelope_keeps_spikes_and_bounds_the_points():
    x = np.arange(200_000, dtype=float)
    y = np.sin(x / 5000)
    y[123_457] = -5.0
    ex, ey = pl.envelope(x, y, buckets=1000)
    assert len(ex) <= 2000 and ey.min() == -5.0 and ey.max() == pytest.approx(1, abs=1e-3)
    assert np.all(np.diff(ex) >= 0)


def test_envelope_keeps_breaks_as_breaks():
    x = np.arange(30_000, dtype=float)
    x[20_000:] += 50_000  # the board was off for a while
    xb, (yb,) = pl._with_breaks(x, [np.cos(x / 300)])
    ex, ey = pl.envelope(xb, yb, buckets=100)
    assert np.isnan(ex).sum() == np.isnan(ey).sum() == 1
    assert len(ex) <= 2 * 100 + 3
    gap = int(np.flatnonzero(np.isnan(ex))[0])
    assert ex[gap - 1] < 20_000 < 70_000 <= ex[gap + 1]


def test_breaks_in_the_log_are_not_joined():
    x = np.array([0, 1, 2, 3, 100, 101, 102], dtype=float)
    xb, (yb,) = pl._with_breaks(x, [x * 2])
    assert np.isnan(xb[4]) and np.isnan(yb[4]) and len(xb) == 8


def test_nothing_to_plot(store, tmp_path):
    store.add_records(OTHER_DEVICE, of_kind(RECORDS, LogKind.EVENT))
    with pytest.raises(pl.NoDataError, match="no estimates"):
        pl.plot(store, tmp_path, ("inventory",), OTHER_DEVICE)
    warnings = []
    with pytest.raises(pl.PlotError, match="nothing to plot"):
        pl.plot(store, tmp_path, pl.KINDS, OTHER_DEVICE, skip_empty=True, warn=warnings.append)
    assert len(warnings) == 3


def test_samples_without_estimates_still_give_a_time_series(tmp_path):
    records = of_kind(RECORDS, LogKind.SAMPLE)[:500]
    with Store.open(tmp_path / "s.sqlite") as s:
        s.add_records(DEVICE, records)
        warnings = []
        paths = pl.plot(s, tmp_path, pl.KINDS, skip_empty=True, warn=warnings.append)
    assert [p.name for p in paths] == [f"{DEVICE}_timeseries.png"]
    assert len(warnings) == 2


def test_unwritable_output_folder(store, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(pl.PlotError, match="not a folder"):
        pl.plot(store, blocker)
    with pytest.raises(pl.PlotError, match="cannot create folder"):
        pl.plot(store, blocker / "sub")


def test_long_log_plots_quickly(tmp_path):
    records = synthetic_log(40, period_s=10)
    assert len(records) > 50_000  # far more points than pixel columns: the envelope works
    table = pl.sample_table(records)
    path = pl.plot_timeseries(table, pl.marked_events(records), tmp_path / "long.png",
                              device=DEVICE)  # fmt: skip
    assert_png(path, 1650, 1350)
