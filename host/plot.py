"""PNG figures of a device's log, the ones a researcher would otherwise make by hand.

* ``timeseries``: voltage, current, stack pressure and temperature against time
  (stacked, shared time axis), faults and short signatures marked by vertical
  lines with short labels, fault periods shaded.
* ``inventory``: cyclable inventory (% of initial) and Coulombic efficiency
  against cycle, with the end-of-life projection: the device's
  ``cycles_to_eol`` (and its sigma when a live ESTIMATE recorded one) drawn
  from the last point to the EOL threshold; without it, a host-side linear
  extrapolation of the last cycles, labelled as such.
* ``thickness``: plated and dead metal thickness (dense equivalent) against cycle.

Matplotlib with the Agg canvas only (no display, no pyplot global state).
Long logs are reduced to a min/max envelope per pixel column, which keeps
spikes (a voltage dip, a pressure step) visible; breaks in the log longer
than ten sample periods are drawn as breaks, not as straight lines.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from pathlib import Path
from typing import Any

import numpy as np

from afbms import logrecords as lr
from afbms.export import SampleTable, sample_table
from afbms.protocol.enums import LogKind, Severity, State
from afbms.store import Store

KINDS = ("timeseries", "inventory", "thickness")
DEFAULT_EOL_RETENTION = 0.80  # config EOL_RETENTION_PPM default: 80 % of the initial inventory
ENVELOPE_BUCKETS = 2000

STYLE = {
    "font.size": 11,
    "axes.titlesize": 13,
    "axes.labelsize": 11,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.6,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.frameon": False,
    "legend.fontsize": 9,
    "lines.linewidth": 1.1,
    "savefig.dpi": 150,
    "axes.formatter.useoffset": False,
    "axes.formatter.limits": (-4, 6),
}

COLORS = {
    "voltage": "#1f4e9c",
    "current": "#b5442c",
    "pressure": "#3b7d3b",
    "temperature": "#8a4fa3",
    "inventory": "#1f4e9c",
    "ce": "#b5442c",
    "plated": "#1f4e9c",
    "dead": "#6b6b6b",
    "eol": "#b5442c",
    "fault_shade": "#f4c7c3",
}
SEVERITY_COLORS = {
    int(Severity.INFO): "#7f7f7f",
    int(Severity.WARNING): "#d98c00",
    int(Severity.ALARM): "#d62728",
    int(Severity.CRITICAL): "#7b0000",
}


class PlotError(Exception):
    """Nothing to plot, or the figure could not be written."""


class NoDataError(PlotError):
    """The store has no data for this figure (yet)."""


# ---------------------------------------------------------------------- data shaping


def _time_unit(span_s: float) -> tuple[str, float]:
    """(unit, seconds per unit) for an elapsed-time axis of ``span_s`` seconds."""
    if span_s <= 600:
        return "s", 1.0
    if span_s <= 3 * 3600:
        return "min", 60.0
    if span_s <= 3 * 86400:
        return "h", 3600.0
    return "d", 86400.0


def _scaled(values_si: np.ndarray, base: str, prefixes: tuple[tuple[str, float], ...]) -> tuple:
    """Values in the largest prefix unit that keeps the peak >= 1; (values, unit)."""
    peak = float(np.nanmax(np.abs(values_si))) if len(values_si) else 0.0
    for prefix, factor in prefixes:
        if peak >= factor:
            return values_si / factor, prefix + base
    prefix, factor = prefixes[-1]
    return values_si / factor, prefix + base


_CURRENT_PREFIXES = (("", 1.0), ("m", 1e-3), ("µ", 1e-6))
_PRESSURE_PREFIXES = (("M", 1e6), ("k", 1e3), ("", 1.0))


def _with_breaks(x: np.ndarray, ys: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
    """Insert NaN rows where the time step exceeds ten typical periods (log breaks)."""
    if len(x) < 3:
        return x, ys
    dx = np.diff(x)
    typical = float(np.median(dx))
    if typical <= 0:
        return x, ys
    cut = np.flatnonzero(dx > 10 * typical) + 1
    if not len(cut):
        return x, ys
    xb = np.insert(x.astype(float), cut, np.nan)
    return xb, [np.insert(y.astype(float), cut, np.nan) for y in ys]


def envelope(x: np.ndarray, y: np.ndarray, buckets: int = ENVELOPE_BUCKETS) -> tuple:
    """Min/max per bucket of consecutive points, in x order: spikes survive.

    NaN in ``x`` marks a break in the log (see :func:`_with_breaks`); each run
    between breaks gets its share of the buckets and the breaks stay breaks.
    """
    n = len(x)
    if n <= 2 * buckets:
        return x, y
    breaks = np.flatnonzero(np.isnan(x))
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    start = 0
    for stop in [*breaks.tolist(), n]:
        if stop > start:
            share = max(1, round(buckets * (stop - start) / n))
            ex, ey = _envelope_run(x[start:stop], y[start:stop], share)
            xs += [ex, np.array([np.nan])]
            ys += [ey, np.array([np.nan])]
        start = stop + 1
    return np.concatenate(xs[:-1]), np.concatenate(ys[:-1])


def _envelope_run(x: np.ndarray, y: np.ndarray, buckets: int) -> tuple:
    n = len(x)
    if n <= 2 * buckets:
        return x, y
    size = math.ceil(n / buckets)
    rows = math.ceil(n / size)
    pad = size * rows - n
    xp = np.concatenate([x, np.full(pad, np.nan)]).reshape(rows, size)
    yp = np.concatenate([y, np.full(pad, np.nan)]).reshape(rows, size)
    keep = ~np.all(np.isnan(yp), axis=1)
    xp, yp = xp[keep], yp[keep]
    lo = np.argmin(np.where(np.isnan(yp), np.inf, yp), axis=1)
    hi = np.argmax(np.where(np.isnan(yp), -np.inf, yp), axis=1)
    first, second = np.minimum(lo, hi), np.maximum(lo, hi)
    index = np.arange(len(xp))
    xs = np.column_stack([xp[index, first], xp[index, second]]).ravel()
    ys = np.column_stack([yp[index, first], yp[index, second]]).ravel()
    return xs, ys


@dataclass
class EventMarks:
    t_ms: np.ndarray  # device ms
    kind: np.ndarray
    severity: np.ndarray
    value: np.ndarray

    def __len__(self) -> int:
        return len(self.t_ms)


def marked_events(records: np.ndarray) -> EventMarks:
    """Events worth a mark: faults, short and other signatures, anything >= WARNING."""
    ev = lr.of_kind(records, LogKind.EVENT)
    kinds = ev["code"].astype(np.int64)
    sev = ev["aux"].astype(np.int64)
    wanted = np.isin(kinds, [int(k) for k in lr.SIGNATURE_EVENTS]) | (sev >= Severity.WARNING)
    ev = ev[wanted]
    return EventMarks(
        t_ms=lr.device_time_ms(ev),
        kind=ev["code"].astype(np.int64),
        severity=ev["aux"].astype(np.int64),
        value=ev["v0"].astype(np.int64),
    )


@dataclass
class CycleTable:
    """One row per cycle closed by an ESTIMATE record (with its LOSS record)."""

    cycle: np.ndarray  # monotonic cycle number (device counts unwrapped across resets)
    t_ms: np.ndarray
    inventory_fraction: np.ndarray  # of the initial inventory
    ce_last: np.ndarray  # fraction; NaN when unknown
    ce_rolling: np.ndarray
    plated_m: np.ndarray  # NaN without a LOSS record
    dead_m: np.ndarray
    cycles_to_eol: float | None  # at the last cycle; None when unknown
    eol_sigma: float | None

    def __len__(self) -> int:
        return len(self.cycle)


def _unwrap_cycles(counts: np.ndarray) -> np.ndarray:
    """Device cycle counts made monotonic across estimator resets (count dropping)."""
    out = counts.astype(np.int64).copy()
    offset = 0
    for i in range(1, len(counts)):
        if counts[i] < counts[i - 1]:
            offset += int(counts[i - 1])
        out[i] = int(counts[i]) + offset
    return out


def cycle_table(records: np.ndarray, live_estimates: list[dict[str, Any]] = ()) -> CycleTable:
    """Per-cycle estimates from ESTIMATE and LOSS records (and live ESTIMATE rows)."""
    est = lr.of_kind(records, LogKind.ESTIMATE)
    loss = lr.of_kind(records, LogKind.LOSS)
    by_key = {(int(r["t_s"]), int(r["aux"])): r for r in loss}
    plated, dead, c2e = [], [], []
    for r in est:
        match = by_key.get((int(r["t_s"]), int(r["aux"])))
        plated.append(np.nan if match is None else match["v2"] * 1e-9)
        dead.append(np.nan if match is None else match["v3"] * 1e-9)
        c2e.append(-1 if match is None else int(match["v4"]))

    def nan_if_zero(a: np.ndarray) -> np.ndarray:
        return np.where(a > 0, a, np.nan)

    if len(est):
        counts = est["v4"].astype(np.int64)
        table = CycleTable(
            cycle=_unwrap_cycles(counts),
            t_ms=lr.device_time_ms(est),
            inventory_fraction=lr.values(est, LogKind.ESTIMATE, "inventory_fraction"),
            ce_last=nan_if_zero(lr.values(est, LogKind.ESTIMATE, "ce_last")),
            ce_rolling=nan_if_zero(lr.values(est, LogKind.ESTIMATE, "ce_rolling")),
            plated_m=np.array(plated, dtype=float),
            dead_m=np.array(dead, dtype=float),
            cycles_to_eol=float(c2e[-1]) if c2e[-1] >= 0 else None,
            eol_sigma=None,
        )
        last_count = int(counts[-1])
    elif live_estimates:
        rows = live_estimates
        counts = np.array([r["cycle_count"] for r in rows], dtype=np.int64)
        ppm = np.array([r["inventory_ppm"] for r in rows], dtype=float) * 1e-6
        table = CycleTable(
            cycle=_unwrap_cycles(counts),
            t_ms=np.array([r["t_s"] * 1000 for r in rows], dtype=np.int64),
            inventory_fraction=ppm,
            ce_last=nan_if_zero(np.array([r["ce_last_ppm"] for r in rows], dtype=float) * 1e-6),
            ce_rolling=nan_if_zero(
                np.array([r["ce_rolling_ppm"] for r in rows], dtype=float) * 1e-6
            ),
            plated_m=np.array([r["plated_nm"] for r in rows], dtype=float) * 1e-9,
            dead_m=np.array([r["dead_nm"] for r in rows], dtype=float) * 1e-9,
            cycles_to_eol=None,
            eol_sigma=None,
        )
        last_count = int(counts[-1])
    else:
        empty = np.empty(0)
        return CycleTable(empty, empty, empty, empty, empty, empty, empty, None, None)
    # The newest live estimate for the last cycle carries the sigma the log has no room for.
    for row in reversed(live_estimates):
        if row["cycle_count"] == last_count and row["cycles_to_eol"] >= 0:
            table.cycles_to_eol = float(row["cycles_to_eol"])
            table.eol_sigma = float(row["eol_sigma"]) if row["eol_sigma"] >= 0 else None
            break
    return table


# ---------------------------------------------------------------------- figures


def _styled(draw: Callable[..., Path]) -> Callable[..., Path]:
    """Run a figure function under :data:`STYLE` (rcParams are read as artists are made)."""

    @wraps(draw)
    def wrapper(*args: Any, **kwargs: Any) -> Path:
        import matplotlib

        with matplotlib.rc_context(STYLE):
            return draw(*args, **kwargs)

    return wrapper


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _title(device: str, board: str | None, what: str) -> str:
    return f"{what} — device {device}" + (f" ({board})" if board else "")


def _fault_spans(x: np.ndarray, state: np.ndarray) -> list[tuple[float, float]]:
    """(start, end) x ranges where the protection state is FAULT."""
    fault = state == int(State.FAULT)
    if not fault.any():
        return []
    edges = np.diff(np.concatenate(([0], fault.astype(np.int8), [0])))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1
    return [
        (float(x[s]), float(x[min(e + 1, len(x) - 1)])) for s, e in zip(starts, ends, strict=True)
    ]


@_styled
def plot_timeseries(
    table: SampleTable,
    events: EventMarks,
    path: Path,
    *,
    device: str,
    board: str | None = None,
) -> Path:
    """Voltage, current, pressure and temperature against time, events marked."""
    if not len(table):
        raise NoDataError(f"device {device} has no samples: no time series to plot")
    t0 = int(table.device_ms[0])
    span = (int(table.device_ms[-1]) - t0) / 1000.0
    unit, per = _time_unit(span)
    x = (table.device_ms - t0) / 1000.0 / per
    current, i_unit = _scaled(table.current_a, "A", _CURRENT_PREFIXES)
    pressure, p_unit = _scaled(table.pressure_pa, "Pa", _PRESSURE_PREFIXES)
    series = [
        (table.voltage_v, "Voltage / V", COLORS["voltage"]),
        (current, f"Current / {i_unit}", COLORS["current"]),
        (pressure, f"Stack pressure / {p_unit}", COLORS["pressure"]),
        (table.temperature_c, "Temperature / °C", COLORS["temperature"]),
    ]
    xb, ys = _with_breaks(x, [s[0] for s in series])

    fig = _figure(11, 9)
    axes = fig.subplots(4, 1, sharex=True)
    for ax, (y, (_, label, color)) in zip(axes, zip(ys, series, strict=True), strict=True):
        ex, ey = envelope(xb, y)
        ax.plot(ex, ey, color=color, lw=1.0)
        ax.set_ylabel(label)
        ax.yaxis.set_label_coords(-0.07, 0.5)
    axes[1].axhline(0, color="0.4", lw=0.6, zorder=1)
    for start, end in _fault_spans(x, table.state):
        for ax in axes:
            ax.axvspan(start, end, color=COLORS["fault_shade"], alpha=0.6, lw=0, zorder=0)
    axes[-1].set_xlabel(f"Time since {lr.iso_time(t0 // 1000)[:16].replace('T', ' ')} UTC / {unit}")
    axes[-1].set_xlim(x[0], x[-1] if x[-1] > x[0] else x[0] + 1)
    _mark_events(axes, events, t0, per)
    n_marked = len(events)
    fig.suptitle(_title(device, board, "Cell voltage, current, pressure and temperature"))
    axes[0].set_title(
        f"{len(table):,} samples over {span / per:.3g} {unit}, "
        f"cycles {int(table.cycle[0])}–{int(table.cycle[-1])}, {n_marked} events marked",
        fontsize=10,
        color="0.3",
        loc="left",
        pad=22 if n_marked else 6,
    )
    return _save(fig, path)


def _mark_events(axes, events: EventMarks, t0_ms: int, per: float) -> None:
    """Vertical lines on every axis; short labels above the top axis, thinned when crowded."""
    if not len(events):
        return
    from matplotlib.lines import Line2D
    from matplotlib.transforms import blended_transform_factory

    x = (events.t_ms - t0_ms) / 1000.0 / per
    lo, hi = axes[0].get_xlim()
    min_gap = 0.025 * (hi - lo)
    top = axes[0]
    trans = blended_transform_factory(top.transData, top.transAxes)
    order = np.argsort(-events.severity, kind="stable")  # most severe labelled first
    labelled: list[float] = []
    for i in order:
        color = SEVERITY_COLORS.get(int(events.severity[i]), "#7f7f7f")
        for ax in axes:
            ax.axvline(x[i], color=color, lw=0.9, ls=(0, (4, 2)), alpha=0.8, zorder=3)
        if all(abs(x[i] - other) >= min_gap for other in labelled):
            labelled.append(float(x[i]))
            top.text(
                x[i], 1.02, lr.event_label(int(events.kind[i]), int(events.value[i])),
                transform=trans, rotation=35, ha="left", va="bottom", fontsize=8.5,
                color=color, clip_on=False,
            )  # fmt: skip
    present = sorted({int(s) for s in events.severity})
    handles = [
        Line2D([], [], color=SEVERITY_COLORS.get(s, "#7f7f7f"), ls=(0, (4, 2)),
               label=Severity(s).name.lower() if s in Severity._value2member_map_ else str(s))
        for s in present
    ]  # fmt: skip
    axes[0].figure.legend(handles=handles, loc="outside upper right", ncols=len(handles),
                          title="events marked", fontsize=8.5, title_fontsize=9)  # fmt: skip


def _integer_cycles(ax) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _eol_projection(table: CycleTable, eol: float) -> tuple[float, float | None, str] | None:
    """(EOL cycle, sigma or None, source label) or None when nothing can be said."""
    c_last = float(table.cycle[-1])
    if table.cycles_to_eol is not None:
        return c_last + table.cycles_to_eol, table.eol_sigma, "device estimate"
    # Host-side fallback: least-squares line through the last cycles.
    good = ~np.isnan(table.inventory_fraction)
    c, inv = table.cycle[good].astype(float), table.inventory_fraction[good]
    k = min(20, len(c))
    if k < 3:
        return None
    c, inv = c[-k:], inv[-k:]
    if k >= 4:
        (slope, intercept), cov = np.polyfit(c, inv, 1, cov=True)
    else:
        slope, intercept = np.polyfit(c, inv, 1)
        cov = None
    if slope >= 0:
        return None
    at = (eol - intercept) / slope
    if at <= c_last:
        return None
    sigma = None
    if cov is not None:
        # Delta method: at = (eol - b) / m, so d(at)/dm = -(eol - b) / m², d(at)/db = -1 / m.
        grad = np.array([-(eol - intercept) / slope**2, -1.0 / slope])
        var = float(grad @ cov @ grad)
        sigma = math.sqrt(var) if var > 0 else None
    return float(at), sigma, f"host linear fit of the last {k} cycles"


def _cycles_text(value: float) -> str:
    return f"{value:,.0f}" if value >= 1 else f"{value:.2g}"


@_styled
def plot_inventory(
    table: CycleTable,
    path: Path,
    *,
    device: str,
    board: str | None = None,
    eol_retention: float = DEFAULT_EOL_RETENTION,
) -> Path:
    """Inventory (% of initial) and CE against cycle, with the end-of-life projection."""
    if not len(table):
        raise NoDataError(f"device {device} has no estimates yet: no inventory to plot")
    fig = _figure(10, 7.5)
    ax_inv, ax_ce = fig.subplots(2, 1, sharex=True, height_ratios=(3, 2))
    cyc = table.cycle.astype(float)
    inv = table.inventory_fraction * 100
    eol = eol_retention * 100
    ax_inv.plot(cyc, inv, "o-", color=COLORS["inventory"], ms=3.5, label="inventory")
    ax_inv.axhline(eol, color=COLORS["eol"], ls="--", lw=1, label=f"end of life ({eol:g} %)")
    ax_inv.set_ylabel("Cyclable inventory / % of initial")
    projection = _eol_projection(table, eol_retention)
    c_last, inv_last = float(cyc[-1]), float(inv[-1])
    xmax = c_last
    note = "no end-of-life projection yet"
    if projection is not None:
        at, sigma, source = projection
        span = max(c_last - float(cyc[0]), 10.0)
        limit = c_last + 4 * span
        reach = at + (sigma or 0)
        if reach <= limit:
            xmax = reach
            ax_inv.plot([c_last, at], [inv_last, eol], ls=":", color=COLORS["eol"], lw=1.6,
                        label=f"projection: {source}")  # fmt: skip
            if sigma:
                ax_inv.fill(
                    [c_last, at - sigma, at + sigma], [inv_last, eol, eol],
                    color=COLORS["eol"], alpha=0.12, lw=0, label="±1σ",
                )  # fmt: skip
            ax_inv.plot([at], [eol], "v", color=COLORS["eol"], ms=7)
        else:
            xmax = limit
            frac = (limit - c_last) / (at - c_last)
            y_edge = inv_last + frac * (eol - inv_last)
            ax_inv.annotate(
                "", xy=(limit, y_edge), xytext=(c_last, inv_last),
                arrowprops={"arrowstyle": "->", "color": COLORS["eol"], "ls": ":", "lw": 1.4},
            )  # fmt: skip
            ax_inv.plot([], [], ls=":", color=COLORS["eol"], label=f"projection: {source}")
        note = f"end of life ≈ cycle {at:,.0f}" + (f" ± {_cycles_text(sigma)}" if sigma else "")
        note += f", {_cycles_text(at - c_last)} cycles after the last one plotted"
        if reach > limit:
            note += " (off the right edge)"
    ax_inv.set_title(note, fontsize=10, color="0.3", loc="left")
    lo = min(float(np.nanmin(inv)), eol)
    ax_inv.set_ylim(lo - 0.08 * (100 - lo + 1), max(100.5, float(np.nanmax(inv)) + 0.5))
    ax_inv.legend(loc="upper right")

    ce_last, ce_roll = table.ce_last * 100, table.ce_rolling * 100
    ax_ce.plot(cyc, ce_last, "o", color=COLORS["ce"], ms=3.5, alpha=0.7, label="last cycle")
    ax_ce.plot(cyc, ce_roll, "-", color="0.25", lw=1.4, label="rolling mean")
    ax_ce.set_ylabel("Coulombic efficiency / %")
    ax_ce.set_xlabel("Cycle")
    finite = ce_last[np.isfinite(ce_last)]
    if len(finite):
        lo_ce, hi_ce = np.percentile(finite, [2, 100])
        pad = max(0.05, 0.15 * (hi_ce - lo_ce))
        ax_ce.set_ylim(lo_ce - pad, min(100.2, hi_ce + pad))
        ax_ce.legend(loc="best", ncols=2)
    _integer_cycles(ax_ce)
    ax_ce.set_xlim(float(cyc[0]) - 0.5, xmax + max(1.0, 0.02 * (xmax - float(cyc[0]))))
    fig.suptitle(_title(device, board, "Lithium inventory and Coulombic efficiency"))
    return _save(fig, path)


@_styled
def plot_thickness(
    table: CycleTable,
    path: Path,
    *,
    device: str,
    board: str | None = None,
    metal: str = "lithium",
) -> Path:
    """Plated (active) and dead metal thickness against cycle, in µm."""
    has = np.isfinite(table.plated_m) | np.isfinite(table.dead_m) if len(table) else []
    if not len(table) or not np.any(has):
        raise NoDataError(f"device {device} has no loss estimates yet: no thickness to plot")
    fig = _figure(10, 5.5)
    ax = fig.subplots()
    cyc = table.cycle.astype(float)
    ax.plot(cyc, table.plated_m * 1e6, "o-", ms=3.5, color=COLORS["plated"],
            label=f"plated {metal} (active)")  # fmt: skip
    ax.plot(cyc, table.dead_m * 1e6, "s-", ms=3.5, color=COLORS["dead"],
            label=f"dead {metal} (isolated)")  # fmt: skip
    ax.set_xlabel("Cycle")
    ax.set_ylabel("Thickness, dense equivalent / µm")
    ax.set_ylim(bottom=0)
    _integer_cycles(ax)
    ax.legend(loc="upper left")
    ax.set_title("at the end of each cycle (discharged)", fontsize=10, color="0.3", loc="left")
    fig.suptitle(_title(device, board, f"Plated and dead {metal}"))
    return _save(fig, path)


def _save(fig, path: Path) -> Path:
    try:
        fig.savefig(path, format="png")
    except OSError as exc:
        raise PlotError(f"cannot write {path}: {exc.strerror or exc}") from exc
    return path


# ---------------------------------------------------------------------- from the store


def plot(
    store: Store,
    out_dir: str | Path,
    kinds: tuple[str, ...] = KINDS,
    device: str | None = None,
    *,
    eol_retention: float = DEFAULT_EOL_RETENTION,
    skip_empty: bool = False,
    warn: Callable[[str], None] | None = None,
) -> list[Path]:
    """Write the figures ``kinds`` of ``device`` into ``out_dir``; returns the PNG paths.

    With ``skip_empty``, a figure with no data is skipped (``warn`` is told why)
    instead of raising; PlotError if none at all could be drawn.
    """
    unknown = set(kinds) - set(KINDS)
    if unknown:
        raise PlotError(
            f"unknown plot kind {sorted(unknown)[0]!r} (choose from {', '.join(KINDS)})"
        )
    key = store.resolve_device(device)
    board = store.device_info(key).board
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise PlotError(f"cannot write figures into {out}: not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PlotError(f"cannot create folder {out}: {exc.strerror or exc}") from exc
    records = store.records(key)
    written: list[Path] = []
    cycles = None
    for kind in kinds:
        path = out / f"{key}_{kind}.png"
        try:
            if kind == "timeseries":
                table = sample_table(records)
                marks = marked_events(records)
                written.append(plot_timeseries(table, marks, path, device=key, board=board))
                continue
            if cycles is None:
                cycles = cycle_table(records, store.live("estimates", key))
            if kind == "inventory":
                written.append(
                    plot_inventory(
                        cycles, path, device=key, board=board, eol_retention=eol_retention
                    )
                )
            else:
                written.append(plot_thickness(cycles, path, device=key, board=board))
        except NoDataError as exc:
            if not skip_empty:
                raise
            if warn is not None:
                warn(f"skipped {kind}: {exc}")
    if not written:
        raise PlotError(f"device {key} has nothing to plot in store {store.path}")
    return written


def run(args: Any) -> int:
    """``afbms plot``: the CLI handler's body (args: store, device, out, kind, eol)."""
    from afbms.store import open_store

    kinds = KINDS if args.kind == "all" else (args.kind,)
    if not 0 < args.eol < 100:
        raise PlotError(f"--eol must be a percentage between 0 and 100, not {args.eol:g}")

    def warn(message: str) -> None:
        print(f"afbms plot: {message}", file=sys.stderr)

    with open_store(args.store) as store:
        paths = plot(
            store, args.out, kinds, args.device, eol_retention=args.eol / 100.0,
            skip_empty=args.kind == "all", warn=warn,
        )  # fmt: skip
    for path in paths:
        print(path)
    return 0
