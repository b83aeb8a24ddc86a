"""The estimation and detection benchmarks still run (tiny sizes): figures are read by
people, not asserted."""

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


def run_bench(name: str, *args: str) -> str:
    proc = subprocess.run([sys.executable, str(BENCH / name), *args], capture_output=True,
                          text=True, timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_estimation_bench_prints_the_tables():
    out = run_bench("bench_estimation.py", "--quick", "--jobs", "1", "--no-vm")
    assert "inventory error" in out and "end-of-life prediction" in out
    assert "simulated s per wall s" in out


@pytest.mark.vm
@pytest.mark.slow
def test_estimation_bench_prints_the_vm_cost():
    out = run_bench("bench_estimation.py", "--quick", "--jobs", "1")
    assert "heap bytes on ordinary samples" in out


@pytest.mark.slow
def test_detection_bench_prints_recall():
    out = run_bench("bench_detection.py", "--quick", "--jobs", "1")
    assert "overall recall" in out and "false alarms per 1000 clean cycles" in out
