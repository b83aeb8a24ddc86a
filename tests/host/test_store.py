"""The local store: dedup, one transaction per page, resume points, damaged files, migrations."""

import os
import sqlite3
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from afbms import store as store_mod
from afbms.logrecords import RECORD_FIELDS
from afbms.protocol.enums import LogKind, MsgType, State
from afbms.protocol.fast import decode_log_pages
from afbms.protocol.frame import decode_frame, encode_frame
from afbms.protocol.layout import MESSAGE_LAYOUTS
from afbms.store import FIRST_SEQ, SCHEMA_VERSION, Store, StoreError, device_key
from tests.host import DEVICE, OTHER_DEVICE, pages, synthetic_log

RECORDS = synthetic_log(3)


@pytest.fixture
def path(tmp_path):
    return tmp_path / "afbms.sqlite"


@pytest.fixture
def store(path):
    with Store.open(path) as s:
        yield s


def wire_pages(records: np.ndarray, size: int = 24) -> bytes:
    """LOG_DATA frames carrying ``records`` as a device sends them."""
    body = [f for f in RECORD_FIELDS if f != "crc"]
    stream = b""
    for page in pages(records, size):
        recs = [{f: int(r[f]) for f in body} for r in page]
        stream += encode_frame(
            MsgType.LOG_DATA, {"start_seq": int(page["seq"][0]), "records": recs}
        )
    return stream


def one_line(exc: BaseException) -> str:
    text = str(exc)
    assert text and "\n" not in text and "Traceback" not in text
    return text


# ---------------------------------------------------------------------- the known-good state


def test_new_store_is_versioned_wal_and_marked_as_afbms(store, path):
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("PRAGMA application_id").fetchone()[0] == store_mod.APPLICATION_ID
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_schema WHERE type='table'")}
    assert {"devices", "records", "gaps", "telemetry", "events", "estimates"} <= tables


def test_records_from_wire_pages_round_trip(store):
    decoded = decode_log_pages(wire_pages(RECORDS))
    for page in pages(decoded):
        store.add_page(DEVICE, page, board="pico")
    back = store.records(DEVICE)
    assert back.dtype == RECORDS.dtype
    assert back.tobytes() == RECORDS.tobytes()
    assert store.devices()[0].board == "pico"
    assert store.devices()[0].records == len(RECORDS)


def test_records_filtered_by_kind_and_range(store):
    store.add_records(DEVICE, RECORDS)
    est = store.records(DEVICE, [LogKind.ESTIMATE])
    assert len(est) == int((RECORDS["kind"] == LogKind.ESTIMATE).sum()) == 2
    part = store.records(DEVICE, first_seq=10, last_seq=19)
    assert part["seq"].tolist() == list(range(10, 20))


def test_device_key_accepts_bytes_and_hex_forms():
    raw = bytes.fromhex(DEVICE)
    assert device_key(raw) == device_key(DEVICE.upper()) == device_key("0x" + DEVICE) == DEVICE
    with pytest.raises(StoreError):
        device_key("not-hex")


# ---------------------------------------------------------------------- dedup


def test_reinserting_the_same_records_adds_nothing(store):
    assert store.add_records(DEVICE, RECORDS) == len(RECORDS)
    assert store.add_records(DEVICE, RECORDS) == 0
    # Overlapping pages (a readout resumed a little early) add only the new ones.
    assert store.add_page(DEVICE, RECORDS[10:40]) == 0
    assert store.record_count(DEVICE) == len(RECORDS)


def test_same_seq_on_two_devices_is_kept_apart(store):
    store.add_records(DEVICE, RECORDS[:50])
    store.add_records(OTHER_DEVICE, RECORDS[:50])
    assert store.record_count(DEVICE) == store.record_count(OTHER_DEVICE) == 50


def test_progress_reports_every_committed_page(store):
    calls = []
    store.add_records(
        DEVICE, RECORDS[:100], page_records=24, progress=lambda d, t: calls.append((d, t))
    )
    assert calls == [(24, 100), (48, 100), (72, 100), (96, 100), (100, 100)]


# ---------------------------------------------------------------------- transactions


def test_a_page_failing_midway_leaves_earlier_pages_and_none_of_itself(store, monkeypatch):
    real = Store._insert_rows
    seen = []

    def flaky(self, conn, key, records):
        seen.append(len(seen))
        if len(seen) == 3:  # third page: half its rows go in, then the process "dies"
            real(self, conn, key, records[: len(records) // 2])
            raise RuntimeError("cut mid-page")
        return real(self, conn, key, records)

    monkeypatch.setattr(Store, "_insert_rows", flaky)
    with pytest.raises(RuntimeError, match="cut mid-page"):
        store.add_records(DEVICE, RECORDS, page_records=24)
    assert store.record_count(DEVICE) == 48
    assert store.resume_point(DEVICE) == int(RECORDS["seq"][48])
    monkeypatch.setattr(Store, "_insert_rows", real)
    store.add_records(DEVICE, RECORDS[48:])
    assert store.resume_point(DEVICE) == int(RECORDS["seq"][-1]) + 1


def test_killed_mid_page_keeps_every_committed_page(path, tmp_path):
    np.save(tmp_path / "records.npy", RECORDS)
    script = textwrap.dedent(
        f"""
        import os, signal
        import numpy as np
        from afbms.store import Store

        records = np.load({str(tmp_path / "records.npy")!r})
        real = Store._insert_rows
        pages_done = [0]

        def insert(self, conn, key, rows):
            pages_done[0] += 1
            if pages_done[0] == 4:
                real(self, conn, key, rows[:10])  # inside the page's transaction
                os.kill(os.getpid(), signal.SIGKILL)
            return real(self, conn, key, rows)

        Store._insert_rows = insert
        store = Store.open({str(path)!r})
        store.add_records({DEVICE!r}, records, page_records=24)
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == -9, proc.stderr
    with Store.open(path, create=False) as s:
        assert s.record_count(DEVICE) == 72
        assert s.records(DEVICE).tobytes() == RECORDS[:72].tobytes()
        assert s.resume_point(DEVICE) == int(RECORDS["seq"][72])


# ---------------------------------------------------------------------- resume points and gaps


def test_resume_point_of_an_unknown_device_is_the_first_seq(store):
    assert store.resume_point(DEVICE) == FIRST_SEQ


def test_resume_point_stops_at_a_hole_until_the_hole_is_known_lost(store):
    store.add_records(DEVICE, RECORDS[:50])  # seqs 1..50
    store.add_records(DEVICE, RECORDS[60:100])  # seqs 61..100: 51..60 missing
    assert store.resume_point(DEVICE) == 51
    assert store.holes(DEVICE) == [(51, 60)]
    store.mark_lost(DEVICE, 51, 60, "power cut")
    assert store.resume_point(DEVICE) == 101
    assert store.holes(DEVICE) == []
    assert store.gaps(DEVICE) == [(51, 60, "power cut")]


def test_hole_refilled_by_a_later_read(store):
    store.add_records(DEVICE, RECORDS[:50])
    store.add_records(DEVICE, RECORDS[60:100])
    store.add_page(DEVICE, RECORDS[50:60])  # a torn page read again
    assert store.resume_point(DEVICE) == 101
    assert store.islands(DEVICE) == [(1, 100)]


def test_ring_overwrote_the_start(store):
    # The device's oldest record is 1000: LOG_INFO says so, the readout notes 1..999 lost.
    late = RECORDS.copy()
    late["seq"] += 999
    store.add_page(DEVICE, late[:24], lost=(FIRST_SEQ, 999), lost_reason="ring overwritten")
    assert store.resume_point(DEVICE) == 1000 + 24
    assert store.gaps(DEVICE) == [(1, 999, "ring overwritten")]


def test_page_starting_past_the_request_records_the_skip(store):
    store.add_records(DEVICE, RECORDS[:24])  # 1..24
    # Asked for 25; the device served from 41 (25..40 lost at a reboot): one transaction.
    store.add_page(DEVICE, RECORDS[40:64], lost=(25, 40))
    assert store.resume_point(DEVICE) == 65
    assert store.holes(DEVICE) == []


def test_resume_point_counts_only_the_run_from_the_start(store):
    store.add_records(DEVICE, RECORDS[100:150])  # 101..150 only
    assert store.resume_point(DEVICE) == FIRST_SEQ
    assert store.holes(DEVICE) == [(1, 100)]


# ---------------------------------------------------------------------- damaged and foreign files


def test_garbage_file_is_a_one_line_store_error(path):
    path.write_bytes(os.urandom(4096))
    with pytest.raises(StoreError) as info:
        Store.open(path, create=False)
    assert "not an afbms store" in one_line(info.value)


def test_text_file_is_not_a_store(path):
    path.write_text("device,seq\n1,2\n")
    with pytest.raises(StoreError, match="not an SQLite database"):
        Store.open(path)


def test_damaged_pages_give_a_store_error_not_a_sqlite_traceback(path):
    with Store.open(path) as s:
        s.add_records(DEVICE, synthetic_log(8))
    size = path.stat().st_size
    assert size > 8 * 4096 and not path.with_name(path.name + "-wal").exists()
    with path.open("r+b") as fh:  # keep the header page, trash the b-tree pages
        fh.seek(4096)
        fh.write(os.urandom(size - 4096))
    with pytest.raises(StoreError) as info, Store.open(path, create=False) as s:
        s.records(DEVICE)
    assert str(path) in one_line(info.value)


def test_foreign_sqlite_database_is_refused(path):
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE photos (id INTEGER)")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="not an afbms store"):
        Store.open(path)


def test_store_from_a_newer_afbms_is_refused(store, path):
    store.close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 5}")
    conn.close()
    with pytest.raises(StoreError, match="newer than this afbms"):
        Store.open(path)


def test_missing_store_is_not_created_when_reading(path):
    with pytest.raises(StoreError, match="no store at"):
        Store.open(path, create=False)
    assert not path.exists()


def test_store_in_a_missing_folder(tmp_path):
    with pytest.raises(StoreError, match="does not exist"):
        Store.open(tmp_path / "nope" / "afbms.sqlite")


def test_empty_file_becomes_a_store(path):
    path.touch()
    with Store.open(path) as s:
        assert s.schema_version == SCHEMA_VERSION


# ---------------------------------------------------------------------- migrations


def test_migration_hook_upgrades_an_old_store(path, monkeypatch):
    with Store.open(path) as s:
        s.add_records(DEVICE, RECORDS[:30])

    def add_notes(conn):
        conn.execute("CREATE TABLE notes (device TEXT, text TEXT)")

    monkeypatch.setattr(store_mod, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    monkeypatch.setitem(store_mod.MIGRATIONS, SCHEMA_VERSION, add_notes)
    with Store.open(path) as s:
        assert s.schema_version == SCHEMA_VERSION + 1
        assert s.record_count(DEVICE) == 30
        s._conn.execute("INSERT INTO notes VALUES ('x', 'y')")


def test_missing_migration_is_a_store_error(path, monkeypatch):
    Store.open(path).close()
    monkeypatch.setattr(store_mod, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    with pytest.raises(StoreError, match="no migration"):
        Store.open(path)


# ---------------------------------------------------------------------- devices


def test_resolve_device(store):
    with pytest.raises(StoreError, match="holds no device"):
        store.resolve_device(None)
    store.add_records(DEVICE, RECORDS[:5])
    assert store.resolve_device(None) == DEVICE
    assert store.resolve_device(DEVICE[:6]) == DEVICE
    store.add_records(OTHER_DEVICE, RECORDS[:5])
    with pytest.raises(StoreError, match="holds 2 devices"):
        store.resolve_device(None)
    with pytest.raises(StoreError, match="ambiguous"):
        store.resolve_device("e6614c")
    with pytest.raises(StoreError, match="no device 0123"):
        store.resolve_device("0123")


# ---------------------------------------------------------------------- live data


def test_live_columns_follow_the_protocol():
    assert MESSAGE_LAYOUTS[MsgType.TELEMETRY].names == store_mod.TELEMETRY_COLUMNS
    assert MESSAGE_LAYOUTS[MsgType.EVENT].names == store_mod.EVENT_COLUMNS
    assert MESSAGE_LAYOUTS[MsgType.ESTIMATE].names == store_mod.ESTIMATE_COLUMNS


def test_live_telemetry_from_decoded_frames(store):
    payload = {
        "t_s": 800_000_000, "t_ms": 250, "voltage_uv": 3_850_000, "current_ua": -1500,
        "pressure_pa": 1_600_000, "temperature_mc": 25_100, "charge_uah": 1200,
        "state": State.DISCHARGE, "faults": 0,
    }  # fmt: skip
    frame = decode_frame(encode_frame(MsgType.TELEMETRY, payload))
    assert store.add_telemetry(DEVICE, [frame.payload, dict(frame.payload, t_ms=500)]) == 2
    rows = store.live("telemetry", DEVICE)
    assert [r["t_ms"] for r in rows] == [250, 500]
    assert rows[0]["state"] == int(State.DISCHARGE) and rows[0]["voltage_uv"] == 3_850_000


def test_live_events_and_estimates_accept_tuples_in_wire_order(store):
    store.add_events(DEVICE, [(1, 2, 21, 2, 1800, 4_100_000, 1500, 1_700_000, 25_000, 2, 4096)])
    est = (1, 7, 2700, 900_000, 990_000, 991_000, 300, 100, 200, 500, 300, 10, 25, 4)
    row = dict(zip(store_mod.ESTIMATE_COLUMNS, est, strict=True)) | {"host_time": 5}
    store.add_estimates(DEVICE, [row])
    assert store.live("events", DEVICE)[0]["kind"] == 21
    got = store.live("estimates", DEVICE)[0]
    assert (got["host_time"], got["cycles_to_eol"], got["eol_sigma"]) == (5, 25, 4)
    with pytest.raises(StoreError, match="values"):
        store.add_events(DEVICE, [(1, 2, 3)])
