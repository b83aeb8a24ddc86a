"""Protection compiled by mpy-cross inside the real MicroPython VM: the same behaviour as
under CPython, and update() allocates nothing in steady state (running and FAULT)."""

import pytest

from afbms.mpvm import firmware_files, run_script

pytestmark = pytest.mark.vm

MODULES = ["bms/protection.py", "bms/faults.py", "bms/wire.py"]

_SCRIPT = """
import gc
from bms import wire
from bms.protection import Protection


class Out:
    def __init__(self):
        self.on = False
        self.sets = 0

    def set(self, on):
        self.on = on
        self.sets += 1


class S:
    def __init__(self):
        self.t_ms = 0
        self.voltage_uv = 3700000
        self.current_ua = 0
        self.pressure_pa = 5000000
        self.temperature_mc = 25000
        self.errors = 0


store = [0]
saves = [0]


def load():
    return store[0]


def save(mask):
    store[0] = mask
    saves[0] += 1


CFG = {
    wire.CFG_V_MAX_UV: 4250000, wire.CFG_V_MIN_UV: 3000000,
    wire.CFG_I_CHARGE_MAX_UA: 5000, wire.CFG_I_DISCHARGE_MAX_UA: 5000,
    wire.CFG_T_MAX_MC: 60000, wire.CFG_T_MIN_MC: 0,
    wire.CFG_P_MIN_PA: 1000000, wire.CFG_P_MAX_PA: 40000000,
    wire.CFG_DEBOUNCE_SAMPLES: 3,
}

chg = Out()
dis = Out()
p = Protection(chg, dis, load, save)
p.configure(CFG.get)
s = S()


def fill(n, mode):
    # Changing readings. The voltage is over its limit on n % 4 == 0 (mode 0: never
    # DEBOUNCE samples in a row), on every sample (mode 1), or on n % 8 < 4 (mode 2:
    # trips and releases again and again); mode 2 also fails a pressure read now and then.
    s.t_ms = n * 100
    s.voltage_uv = 3700000 + (n % 97) * 1000
    if mode == 1 or (mode == 0 and n % 4 == 0) or (mode == 2 and n % 8 < 4):
        s.voltage_uv = 4300000
    s.current_ua = 1000 - (n % 13) * 150  # charge, rest and discharge
    s.pressure_pa = 5000000 + (n % 7) * 100
    s.temperature_mc = 25000 + (n % 5) * 10
    s.errors = 0
    if mode == 2 and n % 16 == 5:
        s.errors = wire.FAULT_SENSOR_PRESSURE


edges = [0, 0]  # over-voltage activations seen by run(), last active bit


def run(count, start, mode):
    for n in range(start, start + count):
        fill(n, mode)
        p.update(s)
        a = p.active & 1
        if a and not edges[1]:
            edges[0] += 1
        edges[1] = a
        if p.latched & 0xBFFF and (chg.on or dis.on):
            raise AssertionError("output on with a blocking fault")


def measure(count, start, mode):
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()
    run(count, start, mode)
    after = gc.mem_alloc()
    gc.enable()
    return after - before


def control(count):
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()
    for n in range(count):
        [n]
    after = gc.mem_alloc()
    gc.enable()
    return after - before


# Outside the measured windows: a trip, clears, a latch, maintenance, stuck.
run(20, 0, 0)
print("STATE0", p.state, p.latched)
run(5, 100, 1)
print("TRIPPED", p.state, p.latched, chg.on, dis.on)
run(3, 200, 0)
print("CLEARED", p.clear(0))
p.latch(wire.FAULT_SHORT_HARD)
print("LATCHED", p.state, chg.on)
p.clear(0)
p.enter_maintenance()
run(10, 300, 0)
print("MAINT", p.state, chg.on)
p.leave_maintenance()
s.errors = wire.FAULT_SENSOR_TEMPERATURE
p.update(s)
print("SENSOR", p.latched)
run(2, 400, 0)
p.clear(0)
run(5, 500, 0)
print("RUNNING", p.state, p.latched, chg.on, dis.on)
saves_before = saves[0]
print("ALLOC running", measure(1000, 1000, 0), p.latched)
run(5, 2000, 1)  # latch over-voltage: FAULT for the next window
p.latch(wire.FAULT_SENSOR_PRESSURE)  # so the window's read failures latch nothing new
edges[0] = 0
print("ALLOC fault", measure(1000, 3000, 2), p.state, p.latched)
print("TRIPS", edges[0])
print("ALLOC control", control(100))
print("SAVES", saves[0] - saves_before)
"""


@pytest.fixture(scope="module")
def vm_lines():
    result = run_script(_SCRIPT, firmware_files(MODULES), timeout=120)
    out = {}
    for line in result.stdout.decode().splitlines():
        key, _, rest = line.partition(" ")
        if key == "ALLOC":
            what, _, rest = rest.partition(" ")
            key = f"ALLOC {what}"
        out[key] = rest.split()
    return out


def test_behaviour_matches_cpython(vm_lines):
    assert vm_lines["STATE0"] == ["2", "0"]  # n = 19: 1000 - 6 * 150 µA, charging
    assert vm_lines["TRIPPED"] == ["4", "1", "False", "False"]
    assert vm_lines["CLEARED"] == ["0"]
    assert vm_lines["LATCHED"] == ["4", "False"]
    assert vm_lines["MAINT"] == ["5", "False"]
    assert vm_lines["SENSOR"] == [str(0x400)]
    assert vm_lines["RUNNING"][1:] == ["0", "True", "True"]


def test_update_allocates_nothing_when_running(vm_lines):
    allocated, latched = vm_lines["ALLOC running"]
    assert latched == "0"  # the window really ran with the outputs on
    assert int(allocated) == 0


def test_update_allocates_nothing_in_fault(vm_lines):
    allocated, state, latched = vm_lines["ALLOC fault"]
    assert (state, latched) == ("4", str(0x201))
    assert int(allocated) == 0


def test_fault_window_trips_and_releases(vm_lines):
    # Every 8 samples a trip and a release; the first block continues the activation
    # left by the latching run just before the window.
    assert int(vm_lines["TRIPS"][0]) == 1000 // 8 - 1


def test_measurement_sees_allocations(vm_lines):
    # The control loop builds one list per pass: the method is sensitive.
    assert int(vm_lines["ALLOC control"][0]) > 0


def test_no_saves_in_steady_state(vm_lines):
    assert vm_lines["SAVES"] == ["2"]  # over-voltage and the pressure latch between the windows
