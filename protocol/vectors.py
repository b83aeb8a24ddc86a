"""Golden vectors: one or more hex frames per message type, with their decoded fields.

``protocol/vectors/golden.json`` is committed. Both codecs must produce and
parse every vector identically: the construct codec here, and the generated
firmware codec under CPython and inside the real MicroPython VM.

Regenerate (only after a deliberate protocol change)::

    python -m afbms.protocol.vectors
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from afbms.paths import protocol_dir
from afbms.protocol.enums import (
    Capability,
    Command,
    ConfigKey,
    ConfigStatus,
    ErrorCode,
    EventKind,
    Fault,
    FrameFlag,
    LogKind,
    MsgType,
    Severity,
    SimAction,
    State,
)
from afbms.protocol.frame import build_frame, decode_frame, encode_frame
from afbms.protocol.layout import LOG_RECORD_LAYOUT, MESSAGE_LAYOUTS
from afbms.protocol.messages import CONFIG_KEY_ALL, LOG_PAGE_RECORDS
from afbms.protocol.schema import SCHEMA_HASH
from afbms.protocol.version import PROTOCOL_VERSION

I32_MIN, I32_MAX, U32_MAX, U16_MAX = -(2**31), 2**31 - 1, 2**32 - 1, 2**16 - 1
ALL_FAULTS = int(Fault(sum(Fault)))


def _record(seq: int, kind: LogKind, **values: int) -> dict[str, int]:
    rec = {"seq": seq, "t_s": 800_000_000 + seq, "t_ms": (seq * 37) % 1000, "kind": int(kind)}
    rec.update({"code": 0, "aux": 0, "faults": 0, "v0": 0, "v1": 0, "v2": 0, "v3": 0, "v4": 0})
    rec.update(values)
    return rec


def _full_page() -> list[dict[str, int]]:
    kinds = [LogKind.SAMPLE, LogKind.ESTIMATE, LogKind.LOSS, LogKind.EVENT, LogKind.CYCLE]
    records = []
    for i in range(LOG_PAGE_RECORDS):
        records.append(
            _record(
                0x01010101 + i,
                kinds[i % len(kinds)],
                code=1 + i % 5,
                aux=0x0101 * (1 + i % 3),
                faults=0x01010101 if i % 2 else 0,
                v0=3_850_000 + i * 1111,
                v1=-1_234_567 + i,
                v2=5_000_000 + i * 7,
                v3=25_000 + i,
                v4=I32_MIN + i if i % 4 == 3 else I32_MAX - i,
            )
        )
    return records


def _nonzero_page(count: int, salt: int) -> list[dict[str, int]]:
    """Records without a single zero byte: exercises COBS's 254-byte blocks."""
    filler = 0x11111111 + salt
    return [
        _record(
            0x21212121 + i,
            LogKind.SAMPLE,
            t_s=0x31313131,
            t_ms=0x4141,
            code=0x51,
            aux=0x6161,
            faults=filler,
            v0=filler,
            v1=filler,
            v2=filler,
            v3=filler,
            v4=filler,
        )
        for i in range(count)
    ]


def _cobs_page(final_run: int | None) -> dict[str, Any]:
    """A full LOG_DATA page whose frame has no zero byte, or whose only zero
    leaves exactly ``final_run`` non-zero bytes up to the end of the frame."""
    for salt in range(1, 500):
        payload = {"start_seq": 0x21212121, "records": _nonzero_page(LOG_PAGE_RECORDS, salt)}
        if final_run is not None:
            # Zero one byte of v2 (record 17) so the rest of the frame is one run.
            payload["records"][17]["v2"] &= 0xFFFF00FF
        raw = build_frame(MsgType.LOG_DATA, payload, seq=0x1111, flags=1)
        zeros = [i for i, b in enumerate(raw) if b == 0]
        if final_run is None and not zeros:
            return payload
        if final_run is not None and zeros == [len(raw) - final_run - 1]:
            return payload
    raise AssertionError("no page with the wanted zero pattern")


# (name, msg_type, seq, flags, fields). Edge values are the reason most of these exist.
CASES: list[tuple[str, MsgType, int, int, dict[str, Any]]] = [
    (
        "hello",
        MsgType.HELLO,
        1,
        0,
        {"protocol_version": PROTOCOL_VERSION, "schema_hash": SCHEMA_HASH},
    ),
    (
        "info_pico",
        MsgType.INFO,
        1,
        FrameFlag.RESPONSE,
        {
            "device_id": bytes.fromhex("e66038b7131c2a21"),
            "fw_major": 0,
            "fw_minor": 1,
            "fw_patch": 0,
            "board": "pico",
            "protocol_version": PROTOCOL_VERSION,
            "schema_hash": SCHEMA_HASH,
            "capabilities": int(
                Capability.CHARGE_ACCUMULATOR
                | Capability.PRESSURE
                | Capability.TEMPERATURE
                | Capability.FLASH_LOG
                | Capability.WATCHDOG
            ),
            "log_record_size": LOG_RECORD_LAYOUT.size,
            "max_payload": 965,
            "uptime_s": 3600,
        },
    ),
    (
        "info_edges",
        MsgType.INFO,
        U16_MAX,
        FrameFlag.RESPONSE,
        {
            "device_id": bytes(8),
            "fw_major": 255,
            "fw_minor": 255,
            "fw_patch": 255,
            "board": "sixteen-chars-xx",
            "protocol_version": 0xFF,
            "schema_hash": U32_MAX,
            "capabilities": U32_MAX,
            "log_record_size": U16_MAX,
            "max_payload": U16_MAX,
            "uptime_s": U32_MAX,
        },
    ),
    ("ack_command", MsgType.ACK, 42, FrameFlag.RESPONSE, {"acked_type": int(MsgType.COMMAND)}),
    (
        "nack_schema",
        MsgType.NACK,
        7,
        FrameFlag.RESPONSE,
        {"nacked_type": int(MsgType.HELLO), "error": int(ErrorCode.SCHEMA_MISMATCH), "detail": 0},
    ),
    (
        "nack_edges",
        MsgType.NACK,
        0,
        FrameFlag.RESPONSE,
        {"nacked_type": 0xFF, "error": int(ErrorCode.UNKNOWN_TYPE), "detail": I32_MIN},
    ),
    (
        "telemetry_charging",
        MsgType.TELEMETRY,
        1000,
        0,
        {
            "t_s": 847_000_000,
            "t_ms": 250,
            "voltage_uv": 3_912_345,
            "current_ua": 1_570,
            "pressure_pa": 5_000_000,
            "temperature_mc": 25_125,
            "charge_uah": 1_234,
            "state": int(State.CHARGE),
            "faults": 0,
        },
    ),
    (
        "telemetry_min",
        MsgType.TELEMETRY,
        0,
        0,
        {
            "t_s": 0,
            "t_ms": 0,
            "voltage_uv": I32_MIN,
            "current_ua": I32_MIN,
            "pressure_pa": I32_MIN,
            "temperature_mc": I32_MIN,
            "charge_uah": I32_MIN,
            "state": int(State.INIT),
            "faults": 0,
        },
    ),
    (
        "telemetry_max",
        MsgType.TELEMETRY,
        U16_MAX,
        int(FrameFlag.RESPONSE | FrameFlag.MORE),
        {
            "t_s": U32_MAX,
            "t_ms": 999,
            "voltage_uv": I32_MAX,
            "current_ua": I32_MAX,
            "pressure_pa": I32_MAX,
            "temperature_mc": I32_MAX,
            "charge_uah": I32_MAX,
            "state": int(State.FAULT),
            "faults": ALL_FAULTS,
        },
    ),
    (
        "estimate_midlife",
        MsgType.ESTIMATE,
        5,
        0,
        {
            "t_s": 847_100_000,
            "cycle_count": 250,
            "inventory_uah": 4_580_000,
            "inventory_ppm": 916_000,
            "ce_last_ppm": 999_650,
            "ce_rolling_ppm": 999_700,
            "loss_total_uah": 420_000,
            "loss_sei_uah": 150_000,
            "loss_dead_uah": 270_000,
            "plated_nm": 22_250_000,
            "dead_nm": 1_310_000,
            "slippage_uah": 1_500,
            "cycles_to_eol": 250,
            "eol_sigma": 25,
        },
    ),
    (
        "estimate_unknown_eol",
        MsgType.ESTIMATE,
        6,
        0,
        {
            "t_s": 0,
            "cycle_count": 0,
            "inventory_uah": 5_000_000,
            "inventory_ppm": 1_000_000,
            "ce_last_ppm": 0,
            "ce_rolling_ppm": 0,
            "loss_total_uah": 0,
            "loss_sei_uah": 0,
            "loss_dead_uah": 0,
            "plated_nm": 0,
            "dead_nm": 0,
            "slippage_uah": 0,
            "cycles_to_eol": -1,
            "eol_sigma": -1,
        },
    ),
    (
        "event_soft_short",
        MsgType.EVENT,
        77,
        0,
        {
            "t_s": 847_000_123,
            "t_ms": 500,
            "kind": int(EventKind.SOFT_SHORT),
            "severity": int(Severity.ALARM),
            "value": -45_000,
            "voltage_uv": 3_867_000,
            "current_ua": 1_570,
            "pressure_pa": 4_950_000,
            "temperature_mc": 25_300,
            "state": int(State.FAULT),
            "faults": int(Fault.SHORT_SOFT),
        },
    ),
    (
        "config_get_all",
        MsgType.CONFIG_GET,
        10,
        0,
        {"key": CONFIG_KEY_ALL},
    ),
    ("config_get_vmax", MsgType.CONFIG_GET, 11, 0, {"key": int(ConfigKey.V_MAX_UV)}),
    (
        "config_set_vmax",
        MsgType.CONFIG_SET,
        12,
        0,
        {"key": int(ConfigKey.V_MAX_UV), "value": 4_300_000},
    ),
    (
        "config_value_metal",
        MsgType.CONFIG_VALUE,
        10,
        int(FrameFlag.RESPONSE | FrameFlag.MORE),
        {"key": int(ConfigKey.METAL), "value": 1},
    ),
    (
        "config_result_out_of_range",
        MsgType.CONFIG_RESULT,
        12,
        FrameFlag.RESPONSE,
        {
            "key": int(ConfigKey.V_MAX_UV),
            "status": int(ConfigStatus.OUT_OF_RANGE),
            "value": 4_250_000,
        },
    ),
    (
        "command_set_time",
        MsgType.COMMAND,
        13,
        0,
        {"command": int(Command.SET_TIME), "arg": 848_000_000},
    ),
    (
        "command_clear_faults",
        MsgType.COMMAND,
        14,
        0,
        {"command": int(Command.CLEAR_FAULTS), "arg": 0},
    ),
    ("log_info_req", MsgType.LOG_INFO_REQ, 15, 0, {}),
    (
        "log_info",
        MsgType.LOG_INFO,
        15,
        FrameFlag.RESPONSE,
        {
            "first_seq": 1_000,
            "next_seq": 20_000,
            "capacity": 16_384,
            "record_size": LOG_RECORD_LAYOUT.size,
            "page_records": LOG_PAGE_RECORDS,
            "unflushed": 3,
        },
    ),
    ("log_read", MsgType.LOG_READ, 16, 0, {"start_seq": 1_000, "count": U32_MAX}),
    (
        "log_data_empty",
        MsgType.LOG_DATA,
        16,
        FrameFlag.RESPONSE,
        {"start_seq": 20_000, "records": []},
    ),
    (
        "log_data_one",
        MsgType.LOG_DATA,
        16,
        int(FrameFlag.RESPONSE | FrameFlag.MORE),
        {
            "start_seq": 1_000,
            "records": [
                _record(
                    1_000,
                    LogKind.SAMPLE,
                    code=int(State.CHARGE),
                    v0=3_912_345,
                    v1=1_570,
                    v2=5_000_000,
                    v3=25_125,
                    v4=1_234,
                )
            ],
        },
    ),
    (
        "log_data_full_page",
        MsgType.LOG_DATA,
        17,
        FrameFlag.RESPONSE,
        {"start_seq": 0x01010101, "records": _full_page()},
    ),
    # COBS edges: runs longer than a 254-byte block, and a frame ending on
    # exactly one full block (no trailing code byte).
    ("log_data_no_zeros", MsgType.LOG_DATA, 0x1111, 1, _cobs_page(None)),
    ("log_data_final_run_254", MsgType.LOG_DATA, 0x1112, 1, _cobs_page(254)),
    (
        "sim_inject_short",
        MsgType.SIM_CONTROL,
        18,
        0,
        {"action": int(SimAction.INJECT_FAULT), "arg0": 1, "arg1": 200},
    ),
]


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return {"hex": value.hex()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, int):
        return int(value)
    return value


def _from_json(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"hex"}:
        return bytes.fromhex(value["hex"])
    if isinstance(value, list):
        return [_from_json(v) for v in value]
    if isinstance(value, dict):
        return {k: _from_json(v) for k, v in value.items()}
    return value


def build_vectors() -> list[dict[str, Any]]:
    """Vectors from CASES, encoded by the construct codec (the reference)."""
    vectors = []
    for name, msg_type, seq, flags, fields in CASES:
        wire = encode_frame(msg_type, fields, seq=seq, flags=int(flags))
        decoded = decode_frame(wire).payload
        assert isinstance(decoded, dict)
        vectors.append(
            {
                "name": name,
                "msg_type": msg_type.name,
                "seq": seq,
                "flags": int(flags),
                "fields": _jsonable(decoded),  # includes computed count and record CRCs
                "hex": wire.hex(),
            }
        )
    return vectors


def vectors_path() -> Path:
    return protocol_dir() / "vectors" / "golden.json"


def load_vectors(path: Path | None = None) -> list[dict[str, Any]]:
    """The committed vectors, with bytes fields restored."""
    data = json.loads((path or vectors_path()).read_text(encoding="utf-8"))
    for vector in data["vectors"]:
        vector["fields"] = _from_json(vector["fields"])
    return data["vectors"]


def render_vectors(vectors: list[dict[str, Any]]) -> str:
    doc = {
        "about": "afbms golden frames: hex is COBS(frame) + 00; fields are the decoded payload",
        "protocol_version": PROTOCOL_VERSION,
        "schema_hash": SCHEMA_HASH,
        "vectors": vectors,
    }
    return json.dumps(doc, indent=1) + "\n"


def field_order() -> dict[str, list[str]]:
    """Payload field names in wire order, per message type (plus the log record)."""
    order = {t.name: list(layout.names) for t, layout in MESSAGE_LAYOUTS.items()}
    order["LOG_RECORD"] = [f.name for f in LOG_RECORD_LAYOUT.fields]
    return order


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    text = render_vectors(build_vectors())
    path = vectors_path()
    if "--check" in argv:
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        if current != text:
            print(f"{path.name} differs from the declarations", file=sys.stderr)
            return 1
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    print(f"wrote {path} ({len(CASES)} vectors)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
