"""Host decode throughput: construct (the reference codec) vs the fast path, side by side.

Prints records/s for TELEMETRY streams and LOG_DATA pages, and the ratio.
Goal: bulk log decode >= 10x construct's parse.

    python bench/bench_decode.py [--quick]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from afbms.protocol.enums import LogKind, MsgType, State
from afbms.protocol.fast import FastDecoder, decode_log_pages
from afbms.protocol.frame import FrameReader, encode_frame
from afbms.protocol.messages import LOG_PAGE_RECORDS


def telemetry_stream(count: int) -> bytes:
    return b"".join(
        encode_frame(
            MsgType.TELEMETRY,
            dict(t_s=847_000_000 + i, t_ms=0, voltage_uv=3_800_000 + i, current_ua=1_570,
                 pressure_pa=5_000_000, temperature_mc=25_000, charge_uah=i,
                 state=State.CHARGE, faults=0),
            seq=i & 0xFFFF,
        )
        for i in range(count)
    )  # fmt: skip


def log_stream(pages: int) -> bytes:
    frames = []
    for p in range(pages):
        records = [
            dict(seq=p * LOG_PAGE_RECORDS + r, t_s=847_000_000 + r, t_ms=0, kind=LogKind.SAMPLE,
                 code=int(State.CHARGE), aux=0, faults=0, v0=3_800_000 + r, v1=1_570,
                 v2=5_000_000, v3=25_000, v4=r)
            for r in range(LOG_PAGE_RECORDS)
        ]  # fmt: skip
        frames.append(encode_frame(MsgType.LOG_DATA, {"start_seq": p * 24, "records": records}))
    return b"".join(frames)


def best_rate(fn: Callable[[], int], repeats: int) -> float:
    """Items per second of the fastest of ``repeats`` runs (fn returns the item count)."""
    best = float("inf")
    items = 0
    for _ in range(repeats):
        start = time.perf_counter()
        items = fn()
        best = min(best, time.perf_counter() - start)
    return items / best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    args = parser.parse_args(argv)
    n_tel, n_pages, repeats = (200, 10, 1) if args.quick else (20_000, 400, 3)

    tel = telemetry_stream(n_tel)
    logs = log_stream(n_pages)

    def construct_tel() -> int:
        return sum(1 for _ in FrameReader().feed(tel))

    def fast_tel() -> int:
        return len(FastDecoder().decode_stream(tel))

    def construct_log() -> int:
        return sum(len(f.payload["records"]) for f in FrameReader().feed(logs))

    def fast_log() -> int:
        return len(decode_log_pages(logs))

    rows = [
        ("TELEMETRY", best_rate(construct_tel, repeats), best_rate(fast_tel, repeats)),
        ("LOG_DATA records", best_rate(construct_log, repeats), best_rate(fast_log, repeats)),
    ]
    print(f"host decode throughput ({n_tel} telemetry frames, {n_pages} log pages, best of "
          f"{repeats})")  # fmt: skip
    print(f"{'what':<18} {'construct rec/s':>16} {'fast rec/s':>14} {'ratio':>8}")
    for what, slow, fast in rows:
        print(f"{what:<18} {slow:>16,.0f} {fast:>14,.0f} {fast / slow:>7.1f}x")
    ratio = rows[1][2] / rows[1][1]
    verdict = "met" if ratio >= 10 else "MISSED"
    print(f"bulk log decode ratio: {ratio:.1f}x (goal >= 10x): {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
