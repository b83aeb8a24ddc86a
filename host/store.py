"""The local store: one SQLite file holding log records and live data per device.

Tables (schema version :data:`SCHEMA_VERSION`, in ``PRAGMA user_version``;
``PRAGMA application_id`` marks the file as an afbms store)::

    devices    device (16 hex digits of the MCU id) PRIMARY KEY, board, first_seen, last_seen
    records    device, seq, t_s, t_ms, kind, code, aux, faults, v0..v4, crc
               PRIMARY KEY (device, seq): reading the same records again adds nothing
    gaps       device, first_seq, last_seq, reason, noted: sequence numbers the device
               reported lost (ring overwritten, power cut), so resuming skips them
    telemetry  device, host_time, then the TELEMETRY fields      (``afbms monitor``)
    events     device, host_time, then the EVENT fields
    estimates  device, host_time, then the ESTIMATE fields

Values stay the device's integers (µV, µA, Pa, m°C, µAh, ppm, nm); what they
mean is :mod:`afbms.logrecords`. Times: ``t_s``/``t_ms`` are device time (s since
2000-01-01 UTC); ``host_time``, ``first_seen`` and ``last_seen`` are the host's
clock (Unix s, ISO-8601 UTC).

Durability: WAL journal, ``synchronous=NORMAL``. Every page of records
(:meth:`Store.add_page`) is one transaction, so a readout killed at any
instant keeps every page committed before it and none of the page in flight;
:meth:`Store.resume_point` then says where to ask again. (A host power cut
can roll back the last few commits; the device still has those records and
resuming reads them again.)

Readout recipe: LOG_INFO first; if its ``first_seq`` is past
:meth:`Store.resume_point`, ``mark_lost(resume, first_seq - 1, "ring
overwritten")``. LOG_READ from the resume point; a LOG_DATA page that starts
past the seq asked for goes in with ``add_page(..., lost=(asked, start - 1))``.
Records dropped for a bad CRC on the wire are a hole, not a loss: the next
resume point stops there and reads them again.

Errors: a missing, corrupt or foreign file, or one from a newer afbms, raises
:class:`StoreError` with a one-line message; no ``sqlite3`` exception escapes.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import wraps
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import numpy as np

from afbms.logrecords import RECORD_FIELDS
from afbms.protocol.fast import RECORD_DTYPE
from afbms.protocol.messages import LOG_PAGE_RECORDS

SCHEMA_VERSION = 1
APPLICATION_ID = 0x41464253  # "AFBS"
FIRST_SEQ = 1  # seq of the first record of a brand-new device log (firmware flashlog.FIRST_SEQ)
SQLITE_MAGIC = b"SQLite format 3\x00"
_FETCH_ROWS = 65536

# Live-data columns, in wire order of the protocol messages (tests check they match).
TELEMETRY_COLUMNS = (
    "t_s", "t_ms", "voltage_uv", "current_ua", "pressure_pa", "temperature_mc", "charge_uah",
    "state", "faults",
)  # fmt: skip
EVENT_COLUMNS = (
    "t_s", "t_ms", "kind", "severity", "value", "voltage_uv", "current_ua", "pressure_pa",
    "temperature_mc", "state", "faults",
)  # fmt: skip
ESTIMATE_COLUMNS = (
    "t_s", "cycle_count", "inventory_uah", "inventory_ppm", "ce_last_ppm", "ce_rolling_ppm",
    "loss_total_uah", "loss_sei_uah", "loss_dead_uah", "plated_nm", "dead_nm", "slippage_uah",
    "cycles_to_eol", "eol_sigma",
)  # fmt: skip

_LIVE_TABLES = {
    "telemetry": TELEMETRY_COLUMNS,
    "events": EVENT_COLUMNS,
    "estimates": ESTIMATE_COLUMNS,
}

ProgressFn = Callable[[int, int], None]  # (records done, records total)


class StoreError(Exception):
    """The store cannot be used: missing, corrupt, foreign, newer, or a wrong request."""


P = ParamSpec("P")
R = TypeVar("R")


def _guarded(method: Callable[P, R]) -> Callable[P, R]:
    """Turn any sqlite3 error raised by ``method`` into a one-line StoreError."""

    @wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except sqlite3.Error as exc:
            store = args[0]
            raise StoreError(f"store {store.path}: {_describe(exc)}") from exc  # type: ignore[attr-defined]

    return wrapper


def _describe(exc: sqlite3.Error) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if isinstance(exc, sqlite3.DatabaseError) and "malformed" in text:
        return f"damaged ({text})"
    return text


# ---------------------------------------------------------------------- schema and migrations


def _create_v1(conn: sqlite3.Connection) -> None:
    values = ", ".join(f"{v} INTEGER NOT NULL" for v in ("v0", "v1", "v2", "v3", "v4"))
    conn.execute(
        """CREATE TABLE devices (
            device TEXT PRIMARY KEY,
            board TEXT,
            first_seen TEXT NOT NULL,
            last_seen TEXT NOT NULL
        )"""
    )
    conn.execute(
        f"""CREATE TABLE records (
            device TEXT NOT NULL REFERENCES devices(device),
            seq INTEGER NOT NULL,
            t_s INTEGER NOT NULL,
            t_ms INTEGER NOT NULL,
            kind INTEGER NOT NULL,
            code INTEGER NOT NULL,
            aux INTEGER NOT NULL,
            faults INTEGER NOT NULL,
            {values},
            crc INTEGER NOT NULL,
            PRIMARY KEY (device, seq)
        ) WITHOUT ROWID"""
    )
    conn.execute("CREATE INDEX records_kind ON records (device, kind, seq)")
    conn.execute(
        """CREATE TABLE gaps (
            device TEXT NOT NULL REFERENCES devices(device),
            first_seq INTEGER NOT NULL,
            last_seq INTEGER NOT NULL,
            reason TEXT NOT NULL,
            noted TEXT NOT NULL,
            PRIMARY KEY (device, first_seq, last_seq)
        )"""
    )
    for table, columns in _LIVE_TABLES.items():
        cols = ", ".join(f"{c} INTEGER NOT NULL" for c in columns)
        conn.execute(
            f"""CREATE TABLE {table} (
                device TEXT NOT NULL REFERENCES devices(device),
                host_time REAL NOT NULL,
                {cols}
            )"""
        )
        conn.execute(f"CREATE INDEX {table}_device ON {table} (device, t_s)")


# MIGRATIONS[n] brings a store at user_version n to n + 1 (inside one transaction).
# Add an entry and bump SCHEMA_VERSION for every schema change; never edit old ones.
MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {
    0: _create_v1,
}


# ---------------------------------------------------------------------- helpers


def device_key(device: str | bytes | bytearray) -> str:
    """The store's name of a device: lowercase hex of its 8-byte id (``Info.device_id``)."""
    if isinstance(device, bytes | bytearray):
        return bytes(device).hex()
    text = device.strip().lower()
    if text.startswith("0x"):
        text = text[2:]
    try:
        bytes.fromhex(text)
    except ValueError:
        raise StoreError(f"device id {device!r} is not hex") from None
    if not text:
        raise StoreError("empty device id")
    return text


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class DeviceInfo:
    device: str
    board: str | None
    first_seen: str
    last_seen: str
    records: int


def _row_values(row: Mapping[str, Any] | Sequence[Any], columns: Sequence[str]) -> list[int]:
    """Integers in ``columns`` order from a decoded payload dict (enums allowed) or a tuple."""
    if isinstance(row, Mapping):
        try:
            return [int(row[c]) for c in columns]
        except KeyError as exc:
            raise StoreError(f"row lacks field {exc.args[0]!r}") from None
    if len(row) < len(columns):
        raise StoreError(f"row has {len(row)} values, {len(columns)} expected")
    return [int(v) for v in row[: len(columns)]]


# ---------------------------------------------------------------------- the store


class Store:
    """An afbms store file. Open with :meth:`open`; use as a context manager or :meth:`close`."""

    def __init__(self, path: Path, conn: sqlite3.Connection) -> None:
        self.path = path
        self._conn = conn

    # ------------------------------------------------------------ opening

    @classmethod
    def open(cls, path: str | Path, *, create: bool = True) -> Store:
        """Open (and with ``create``, create or upgrade) the store at ``path``."""
        path = Path(path)
        if path.is_dir():
            raise StoreError(f"store {path} is a directory, not a store file")
        exists = path.exists()
        if not exists and not create:
            raise StoreError(f"no store at {path}")
        if exists:
            _check_header(path)
        elif not path.parent.exists():
            raise StoreError(f"cannot create store {path}: folder {path.parent} does not exist")
        try:
            conn = sqlite3.connect(path, isolation_level=None, timeout=10.0)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open store {path}: {_describe(exc)}") from exc
        store = cls(path, conn)
        try:
            store._prepare()
        except BaseException:
            conn.close()
            raise
        return store

    @_guarded
    def _prepare(self) -> None:
        conn = self._conn
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if app_id != APPLICATION_ID:
            has_tables = conn.execute("SELECT count(*) FROM sqlite_schema").fetchone()[0]
            if app_id != 0 or version != 0 or has_tables:
                raise StoreError(f"{self.path} is an SQLite database but not an afbms store")
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"store {self.path} has schema version {version}, newer than this afbms "
                f"understands ({SCHEMA_VERSION}): upgrade afbms"
            )
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise StoreError(f"store {self.path}: cannot use WAL journal (got {mode})")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        self._migrate(version)

    def _migrate(self, version: int) -> None:
        while version < SCHEMA_VERSION:
            step = MIGRATIONS.get(version)
            if step is None:
                raise StoreError(f"store {self.path}: no migration from schema version {version}")
            with self._transaction() as conn:
                step(conn)
                conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
                conn.execute(f"PRAGMA user_version={version + 1}")
            version += 1

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        return int(self._conn.execute("PRAGMA user_version").fetchone()[0])

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    # ------------------------------------------------------------ devices

    @_guarded
    def register_device(self, device: str | bytes, board: str | None = None) -> str:
        """Note that ``device`` was seen now (creating it); returns its key."""
        with self._transaction() as conn:
            return self._touch(conn, device, board)

    def _touch(self, conn: sqlite3.Connection, device: str | bytes, board: str | None) -> str:
        key = device_key(device)
        now = _now_iso()
        conn.execute(
            """INSERT INTO devices (device, board, first_seen, last_seen) VALUES (?, ?, ?, ?)
               ON CONFLICT (device) DO UPDATE SET last_seen = excluded.last_seen,
               board = coalesce(excluded.board, devices.board)""",
            (key, board, now, now),
        )
        return key

    @_guarded
    def devices(self) -> list[DeviceInfo]:
        rows = self._conn.execute(
            """SELECT d.device, d.board, d.first_seen, d.last_seen,
                      (SELECT count(*) FROM records r WHERE r.device = d.device)
               FROM devices d ORDER BY d.device"""
        ).fetchall()
        return [DeviceInfo(*row) for row in rows]

    @_guarded
    def device_info(self, device: str) -> DeviceInfo:
        key = self.resolve_device(device)
        return next(d for d in self.devices() if d.device == key)

    @_guarded
    def resolve_device(self, device: str | bytes | None = None) -> str:
        """The key of ``device`` (a unique prefix is enough); with None, the only device."""
        known = [row[0] for row in self._conn.execute("SELECT device FROM devices ORDER BY 1")]
        if device is None:
            if len(known) == 1:
                return known[0]
            if not known:
                raise StoreError(f"store {self.path} holds no device yet")
            raise StoreError(
                f"store {self.path} holds {len(known)} devices ({', '.join(known)}): "
                "choose one with --device"
            )
        key = device_key(device)
        if key in known:
            return key
        matches = [k for k in known if k.startswith(key)]
        if len(matches) == 1:
            return matches[0]
        if matches:
            raise StoreError(f"device {key} is ambiguous: {', '.join(matches)}")
        listing = ", ".join(known) if known else "none"
        raise StoreError(f"no device {key} in store {self.path} (known: {listing})")

    # ------------------------------------------------------------ log records

    @_guarded
    def add_page(
        self,
        device: str | bytes,
        records: np.ndarray,
        *,
        lost: tuple[int, int] | None = None,
        lost_reason: str = "not on device",
        board: str | None = None,
    ) -> int:
        """Store one page of records in one transaction; returns how many were new.

        ``lost``: an inclusive (first, last) seq range the device reported gone
        (a LOG_DATA page starting past the seq asked for, LOG_INFO's first_seq
        past ours), recorded in the same transaction so resuming skips it.
        Records already stored are ignored (deduplicated by (device, seq)).
        """
        if records.dtype != RECORD_DTYPE:
            raise StoreError(f"records must have the log record dtype, not {records.dtype}")
        with self._transaction() as conn:
            key = self._touch(conn, device, board)
            if lost is not None and lost[0] <= lost[1]:
                self._note_gap(conn, key, lost[0], lost[1], lost_reason)
            return self._insert_rows(conn, key, records)

    def _insert_rows(self, conn: sqlite3.Connection, key: str, records: np.ndarray) -> int:
        before = conn.total_changes
        placeholders = ", ".join("?" * (len(RECORD_FIELDS) + 1))
        conn.executemany(
            f"INSERT OR IGNORE INTO records (device, {', '.join(RECORD_FIELDS)}) "
            f"VALUES ({placeholders})",
            ((key, *row) for row in records.tolist()),
        )
        return conn.total_changes - before

    def add_records(
        self,
        device: str | bytes,
        records: np.ndarray,
        *,
        page_records: int = LOG_PAGE_RECORDS,
        progress: ProgressFn | None = None,
        board: str | None = None,
    ) -> int:
        """Store many records, one transaction per ``page_records``; returns how many were new.

        ``progress(done, total)`` is called after every committed page.
        """
        if page_records < 1:
            raise StoreError("page_records must be at least 1")
        total = len(records)
        added = 0
        if total == 0:
            self.register_device(device, board)
        for start in range(0, total, page_records):
            page = records[start : start + page_records]
            added += self.add_page(device, page, board=board)
            if progress is not None:
                progress(min(start + page_records, total), total)
        return added

    @_guarded
    def mark_lost(
        self, device: str | bytes, first_seq: int, last_seq: int, reason: str = "not on device"
    ) -> None:
        """Record that seqs first_seq..last_seq (inclusive) are gone from the device for good."""
        if first_seq > last_seq:
            raise StoreError(f"empty gap {first_seq}..{last_seq}")
        with self._transaction() as conn:
            key = self._touch(conn, device, None)
            self._note_gap(conn, key, first_seq, last_seq, reason)

    def _note_gap(
        self, conn: sqlite3.Connection, key: str, first: int, last: int, reason: str
    ) -> None:
        conn.execute(
            "INSERT OR IGNORE INTO gaps (device, first_seq, last_seq, reason, noted) "
            "VALUES (?, ?, ?, ?, ?)",
            (key, int(first), int(last), reason, _now_iso()),
        )

    @_guarded
    def gaps(self, device: str | bytes) -> list[tuple[int, int, str]]:
        """Known lost ranges (first, last, reason), by first seq."""
        key = device_key(device)
        return [
            (int(a), int(b), str(r))
            for a, b, r in self._conn.execute(
                "SELECT first_seq, last_seq, reason FROM gaps WHERE device = ? ORDER BY 1, 2",
                (key,),
            )
        ]

    @_guarded
    def islands(self, device: str | bytes) -> list[tuple[int, int]]:
        """Runs of consecutive stored seqs, as inclusive (first, last), ascending."""
        key = device_key(device)
        rows = self._conn.execute(
            """SELECT min(seq), max(seq) FROM (
                   SELECT seq, seq - row_number() OVER (ORDER BY seq) AS run
                   FROM records WHERE device = ?)
               GROUP BY run ORDER BY 1""",
            (key,),
        ).fetchall()
        return [(int(a), int(b)) for a, b in rows]

    def _covered(self, device: str | bytes) -> list[tuple[int, int]]:
        """Stored runs and known gaps merged into disjoint ascending ranges."""
        key = device_key(device)
        spans = self.islands(key) + [
            (int(a), int(b))
            for a, b in self._conn.execute(
                "SELECT first_seq, last_seq FROM gaps WHERE device = ?", (key,)
            )
        ]
        merged: list[tuple[int, int]] = []
        for a, b in sorted(spans):
            if merged and a <= merged[-1][1] + 1:
                merged[-1] = (merged[-1][0], max(merged[-1][1], b))
            else:
                merged.append((a, b))
        return merged

    @_guarded
    def resume_point(self, device: str | bytes) -> int:
        """The next seq to ask the device for.

        The end of the contiguous run of seqs, stored or known lost, that starts
        at the device log's first seq (FIRST_SEQ, or the lowest one held), + 1.
        A hole (a page torn on the wire, a readout cut) stops the run there, so
        asking again from this point fills it; deduplication absorbs the rest.
        """
        covered = self._covered(device)
        if not covered or covered[0][0] > FIRST_SEQ:
            return FIRST_SEQ
        return covered[0][1] + 1

    @_guarded
    def holes(self, device: str | bytes) -> list[tuple[int, int]]:
        """Seq ranges neither stored nor known lost, between FIRST_SEQ and the highest stored."""
        covered = self._covered(device)
        out = []
        expect = FIRST_SEQ
        for a, b in covered:
            if a > expect:
                out.append((expect, a - 1))
            expect = max(expect, b + 1)
        return out

    @_guarded
    def record_count(self, device: str | bytes, kind: int | None = None) -> int:
        key = device_key(device)
        if kind is None:
            sql, params = "SELECT count(*) FROM records WHERE device = ?", (key,)
        else:
            sql, params = (
                "SELECT count(*) FROM records WHERE device = ? AND kind = ?",
                (key, int(kind)),
            )
        return int(self._conn.execute(sql, params).fetchone()[0])

    @_guarded
    def records(
        self,
        device: str | bytes,
        kinds: Iterable[int] | None = None,
        *,
        first_seq: int | None = None,
        last_seq: int | None = None,
    ) -> np.ndarray:
        """Stored records of ``device`` (optionally only ``kinds``, a seq range), by seq."""
        key = device_key(device)
        where, params = ["device = ?"], [key]
        if kinds is not None:
            kinds = [int(k) for k in kinds]
            where.append(f"kind IN ({', '.join('?' * len(kinds))})")
            params += kinds
        if first_seq is not None:
            where.append("seq >= ?")
            params.append(int(first_seq))
        if last_seq is not None:
            where.append("seq <= ?")
            params.append(int(last_seq))
        cursor = self._conn.execute(
            f"SELECT {', '.join(RECORD_FIELDS)} FROM records WHERE {' AND '.join(where)} "
            "ORDER BY seq",
            params,
        )
        chunks = [np.empty(0, dtype=RECORD_DTYPE)]
        while rows := cursor.fetchmany(_FETCH_ROWS):  # bounded memory for long logs
            chunks.append(np.array(rows, dtype=RECORD_DTYPE))
        return np.concatenate(chunks)

    # ------------------------------------------------------------ live data (afbms monitor)

    def add_telemetry(
        self, device: str | bytes, rows: Iterable[Mapping[str, Any] | Sequence[Any]]
    ) -> int:
        """Store TELEMETRY payloads (decoded dicts or tuples in wire order); one transaction."""
        return self._add_live("telemetry", device, rows)

    def add_events(
        self, device: str | bytes, rows: Iterable[Mapping[str, Any] | Sequence[Any]]
    ) -> int:
        """Store EVENT payloads; one transaction."""
        return self._add_live("events", device, rows)

    def add_estimates(
        self, device: str | bytes, rows: Iterable[Mapping[str, Any] | Sequence[Any]]
    ) -> int:
        """Store ESTIMATE payloads; one transaction."""
        return self._add_live("estimates", device, rows)

    @_guarded
    def _add_live(
        self,
        table: str,
        device: str | bytes,
        rows: Iterable[Mapping[str, Any] | Sequence[Any]],
    ) -> int:
        """Rows may carry ``host_time`` (Unix s) when a mapping; it defaults to now."""
        columns = _LIVE_TABLES[table]
        now = time.time()
        values = []
        for row in rows:
            host_time = float(row.get("host_time", now)) if isinstance(row, Mapping) else now
            values.append((host_time, *_row_values(row, columns)))
        with self._transaction() as conn:
            key = self._touch(conn, device, None)
            conn.executemany(
                f"INSERT INTO {table} (device, host_time, {', '.join(columns)}) "
                f"VALUES (?, ?, {', '.join('?' * len(columns))})",
                ((key, *v) for v in values),
            )
        return len(values)

    @_guarded
    def live(self, table: str, device: str | bytes) -> list[dict[str, Any]]:
        """Rows of ``telemetry``, ``events`` or ``estimates`` for ``device``, by device time."""
        if table not in _LIVE_TABLES:
            raise StoreError(f"no live table {table!r}")
        columns = ("host_time", *_LIVE_TABLES[table])
        cursor = self._conn.execute(
            f"SELECT {', '.join(columns)} FROM {table} WHERE device = ? ORDER BY t_s, rowid",
            (device_key(device),),
        )
        return [dict(zip(columns, row, strict=True)) for row in cursor]


def _check_header(path: Path) -> None:
    """A non-empty file must start with SQLite's magic, or it is not a store."""
    try:
        with path.open("rb") as fh:
            head = fh.read(len(SQLITE_MAGIC))
    except OSError as exc:
        raise StoreError(f"cannot read store {path}: {exc.strerror}") from exc
    if head and head != SQLITE_MAGIC[: len(head)]:
        raise StoreError(f"{path} is not an afbms store (not an SQLite database)")
    if head and len(head) < len(SQLITE_MAGIC):
        raise StoreError(f"{path} is not an afbms store (truncated)")


def open_store(path: str | Path, *, create: bool = False) -> Store:
    """Open an existing store (``create=False``, for export and plot) or make one."""
    return Store.open(path, create=create)
