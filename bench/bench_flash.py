"""Flash figure: wall time of ``afbms flash`` (including its on-device SHA-256
verification and the new image's HELLO) vs ``mpremote fs cp -r`` of the same
compiled firmware tree, each onto its own virtual board running the real
MicroPython VM, measured side by side in one run.

* full: both boards start with an empty flash (REPL only).
* again: nothing changed; afbms skips unchanged files by hash, ``fs cp -r``
  copies everything again.
* cold cache: a full flash whose mpy-cross output is not in afbms's compile cache
  yet (it compiles first; mpremote is handed the compiled tree).

Goal: afbms <= 0.5x mpremote's time.

    python bench/bench_flash.py [--rounds N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from afbms.flash import build_image
from afbms.vboard import VirtualBoard

BIN = Path(sys.executable).parent
GOAL = 0.5


def write_tree(folder: Path, board: str) -> tuple[int, int]:
    """The compiled image (loader, modules, board definition) as a host folder."""
    image = build_image(board)
    for rel, data in image.items():
        target = folder / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return len(image), sum(len(b) for b in image.values())


def timed(cmd: list[str], timeout: float = 600, env: dict[str, str] | None = None) -> float:
    t0 = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    seconds = time.monotonic() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return seconds


def afbms_flash(port: str, cache: Path | None = None) -> float:
    env = None if cache is None else {**os.environ, "XDG_CACHE_HOME": str(cache)}
    return timed([str(BIN / "afbms"), "flash", "--board", "sim", "--port", port], env=env)


def at_repl(port: str) -> None:
    """Wait until the board's REPL answers (the VM is up), outside the timed runs."""
    timed([str(BIN / "mpremote"), "connect", port, "exec", "pass"])


def mpremote_cp(port: str, tree: Path) -> float:
    return timed([str(BIN / "mpremote"), "connect", port, "fs", "cp", "-r", str(tree), ":"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=1,
                        help="full flashes onto fresh boards (median reported)")  # fmt: skip
    args = parser.parse_args(argv)
    full_a, full_m, again_a, again_m, cold_a = [], [], [], [], []
    with tempfile.TemporaryDirectory(prefix="afbms-bench-flash-") as tmp:
        root = Path(tmp)
        tree = root / "fwtree"
        files, size = write_tree(tree, "sim")
        for r in range(args.rounds):
            flashes = [root / f"{name}{r}" for name in ("mp", "af", "cold")]
            for folder in flashes:
                folder.mkdir()
            with (
                VirtualBoard(flashes[0]) as mp_board,
                VirtualBoard(flashes[1]) as af_board,
                VirtualBoard(flashes[2]) as cold_board,
            ):
                for vb in (mp_board, af_board, cold_board):
                    at_repl(vb.port)
                full_m.append(mpremote_cp(mp_board.port, tree))
                full_a.append(afbms_flash(af_board.port))
                cold_a.append(afbms_flash(cold_board.port, cache=root / f"cache{r}"))
                again_m.append(mpremote_cp(mp_board.port, tree))
                again_a.append(afbms_flash(af_board.port))
    med = statistics.median
    print(f"flash: {files} files, {size} bytes (board sim), virtual board in the MicroPython "
          f"VM, {args.rounds} round(s), median wall time")  # fmt: skip
    print(f"{'':<28}{'afbms flash':>12}{'mpremote cp -r':>16}{'ratio':>8}   goal <= {GOAL}")
    for label, a, m in (("full (empty board)", full_a, full_m),
                        ("again (nothing changed)", again_a, again_m),
                        ("full, cold compile cache", cold_a, full_m)):  # fmt: skip
        ratio = med(a) / med(m)
        verdict = "met" if ratio <= GOAL else "MISSED"
        print(f"{label:<28}{med(a):>10.2f} s{med(m):>14.2f} s{ratio:>8.2f}   {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
