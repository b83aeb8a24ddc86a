"""Wire efficiency: payload bytes / wire bytes (COBS, header, CRC and delimiter included).

Goal: >= 0.95 for a full LOG_DATA page.

    python bench/bench_wire.py
"""

from __future__ import annotations

from afbms.protocol.enums import LogKind, MsgType, State
from afbms.protocol.frame import encode_frame
from afbms.protocol.layout import LOG_RECORD_LAYOUT, MESSAGE_LAYOUTS
from afbms.protocol.messages import LOG_PAGE_RECORDS


def main() -> int:
    telemetry = dict(t_s=847_000_000, t_ms=250, voltage_uv=3_912_345, current_ua=1_570,
                     pressure_pa=5_000_000, temperature_mc=25_125, charge_uah=1_234,
                     state=State.CHARGE, faults=0)  # fmt: skip
    record = dict(seq=1_000, t_s=847_000_000, t_ms=250, kind=LogKind.SAMPLE, code=2, aux=0,
                  faults=0, v0=3_912_345, v1=1_570, v2=5_000_000, v3=25_125, v4=1_234)  # fmt: skip
    page = {"start_seq": 1_000, "records": [dict(record, seq=1_000 + i) for i in range(24)]}
    tel_wire = encode_frame(MsgType.TELEMETRY, telemetry)
    page_wire = encode_frame(MsgType.LOG_DATA, page)
    tel_payload = MESSAGE_LAYOUTS[MsgType.TELEMETRY].size
    record_bytes = LOG_PAGE_RECORDS * LOG_RECORD_LAYOUT.size
    page_payload = MESSAGE_LAYOUTS[MsgType.LOG_DATA].size + record_bytes
    print("wire efficiency (payload bytes / wire bytes)")
    print(f"{'frame':<26} {'payload':>8} {'wire':>6} {'efficiency':>11}")
    rows = [
        ("TELEMETRY", tel_payload, len(tel_wire)),
        ("LOG_DATA page (payload)", page_payload, len(page_wire)),
        ("LOG_DATA page (records)", record_bytes, len(page_wire)),
    ]
    for what, payload, wire in rows:
        print(f"{what:<26} {payload:>8} {wire:>6} {payload / wire:>11.3f}")
    eff_records = record_bytes / len(page_wire)
    print(f"full LOG_DATA page: {eff_records:.3f} counting record bytes only (goal >= 0.95): "
          f"{'met' if eff_records >= 0.95 else 'MISSED'}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
