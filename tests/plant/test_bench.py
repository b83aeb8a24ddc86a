"""bench/bench_plant.py still runs (tiny sizes); its figures are read by people."""

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench_plant.py"


def test_plant_bench_prints_speed_and_table():
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--quick"], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    assert "simulated s per wall s" in proc.stdout
    assert "jeon_t1_agc_ioncomplex_ncm712" in proc.stdout
    assert "goal <= 1 %): met" in proc.stdout
