"""The drivers' per-sample methods allocate nothing, in the real MicroPython VM.

The drivers run as .mpy (compiled by mpy-cross) against the emulators (as source,
package ``chips``) inside the WebAssembly VM: build bus + emulator + driver, warm
up, then gc.mem_alloc() across 1000 calls of each per-sample method. The readings
are printed too and compared with the same set-up under CPython.
"""

from pathlib import Path

import pytest

import afbms.chips
from afbms import mpvm
from afbms.mpvm import firmware_files, run_script

pytestmark = pytest.mark.vm

CHIPS = Path(afbms.chips.__file__).resolve().parent
COUNT = 1000

SETUP = """
from chips.bus import I2CBus, ADC
from chips.ina228 import INA228Emu
from chips.ina226 import INA226Emu
from chips.nau7802 import NAU7802Emu
from chips.ntc import NTCEmu
from drivers.ina228 import INA228
from drivers.ina226 import INA226
from drivers.nau7802 import NAU7802
from drivers.ntc import NTC

bus = I2CBus()
e228 = bus.attach(0x40, INA228Emu(10000))
ina228 = INA228(bus, 0x40, 10000, 2000000)
e228.set_current_ua(-1234567)
e228.set_bus_voltage_uv(3712345)
e228.set_die_temperature_mc(31234)
e226 = bus.attach(0x41, INA226Emu(10000))
ina226 = INA226(bus, 0x41, 10000, 2000000)
e226.set_current_ua(-765432)
e226.set_bus_voltage_uv(3712345)
enau = bus.attach(0x2A, NAU7802Emu(1320))
nau = NAU7802(bus, 0x2A, 1320 * 128 * 16777216 / 3.3e9, sleep_ms=lambda ms: None)
enau.set_force_mn(2355000)
entc = NTCEmu(10000)
ntc = NTC(ADC(entc), 10000)
entc.set_temperature_mc(37123)

def charge():
    e228.advance_ms(10)
    return ina228.charge_delta_uams()

def advance():
    e228.advance_ms(10)
    return 0

def pressure():
    return nau.pressure_pa(78500)

CASES = (
    ("ina228.bus_voltage_uv", ina228.bus_voltage_uv),
    ("ina228.current_ua", ina228.current_ua),
    ("ina228.die_temperature_mc", ina228.die_temperature_mc),
    ("ina228.advance_ms(emulator)", advance),
    ("ina228.charge_delta_uams", charge),
    ("ina226.bus_voltage_uv", ina226.bus_voltage_uv),
    ("ina226.current_ua", ina226.current_ua),
    ("nau7802.data_ready", nau.data_ready),
    ("nau7802.read_raw", nau.read_raw),
    ("nau7802.force_mn", nau.force_mn),
    ("nau7802.pressure_pa", pressure),
    ("ntc.temperature_mc", ntc.temperature_mc),
)
"""

MEASURE = """
import gc

def measure(fn, n):
    for _ in range(10):
        fn()
    gc.collect()
    before = gc.mem_alloc()
    for _ in range(n):
        fn()
    return gc.mem_alloc() - before

def main():
    for name, fn in CASES:
        print("VALUE", name, int(fn()))
    for name, fn in CASES:
        print("ALLOC", name, measure(fn, COUNT))

main()
"""


def _files() -> dict[str, bytes]:
    files = firmware_files(
        ["drivers/ina228.py", "drivers/ina226.py", "drivers/nau7802.py", "drivers/ntc.py"]
    )
    for name in ("__init__", "bus", "ina228", "ina226", "nau7802", "ntc"):
        files[f"/lib/chips/{name}.py"] = (CHIPS / f"{name}.py").read_bytes()
    return files


def _parse(stdout: bytes, tag: str) -> dict[str, int]:
    return {
        parts[1]: int(parts[2])
        for parts in (line.split() for line in stdout.decode().splitlines())
        if parts and parts[0] == tag
    }


@pytest.fixture(scope="module")
def vm_output() -> bytes:
    try:
        mpvm.node_executable()
        mpvm.micropython_module()
    except mpvm.VmUnavailable as exc:  # `make test` installs the VM: missing is a failure
        pytest.fail(str(exc))
    script = f"COUNT = {COUNT}\n" + SETUP + MEASURE
    return run_script(script, _files(), timeout=300).stdout


def test_per_sample_methods_allocate_nothing(vm_output: bytes):
    allocs = _parse(vm_output, "ALLOC")
    assert len(allocs) == 12, vm_output
    assert allocs == dict.fromkeys(allocs, 0)


def test_vm_readings_match_cpython(vm_output: bytes):
    """The compiled drivers compute what they compute under CPython."""
    namespace: dict = {}
    exec(SETUP.replace("chips.", "afbms.chips."), namespace)  # same set-up, host side
    host = {name: fn() for name, fn in namespace["CASES"]}
    vm = _parse(vm_output, "VALUE")
    assert vm == {name: int(value) for name, value in host.items()}
    assert abs(vm["ina228.current_ua"] + 1_234_567) <= 5
    assert abs(vm["ntc.temperature_mc"] - 37_123) <= 100
