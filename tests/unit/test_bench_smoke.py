"""The benchmarks still run (tiny sizes); their figures are read by people, not asserted."""

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


def run_bench(name: str, *args: str) -> str:
    proc = subprocess.run(
        [sys.executable, str(BENCH / name), *args], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_decode_bench_prints_ratio():
    assert "bulk log decode ratio:" in run_bench("bench_decode.py", "--quick")


def test_wire_bench_prints_efficiency():
    assert "full LOG_DATA page:" in run_bench("bench_wire.py")


@pytest.mark.vm
def test_vm_alloc_bench_prints_figure():
    assert "TELEMETRY encode:" in run_bench("bench_vm_alloc.py", "--quick")


@pytest.mark.vm
def test_vm_sample_bench_prints_figures():
    out = run_bench("bench_vm_sample.py", "--quick")
    assert "heap bytes per sample" in out and "per-sample / reference" in out
