"""pytest plugin for hardware-in-the-loop suites (registered as ``afbms`` in pytest11).

    pytest tests/hil --afbms-port /dev/ttyACM0 --afbms-board pico   # a real board
    pytest tests/hil                                                # a virtual board

With ``--afbms-port`` the fixtures talk to the board on that port; without it, one
virtual board (the real MicroPython VM, the full cell model behind its pins) is started
for the session, the first time a fixture needs it, and switched off at the end.

Fixtures:

``afbms_target``  the board under test (:class:`BoardTarget`): port, board name, reset
                  and reconnect; the virtual board and its plant when simulated.
``board``         a :class:`afbms.device.Device` with an open session (HELLO done),
                  closed after the test.
``plant``         the simulated world (:class:`PlantControl`); tests using it are
                  skipped on real hardware. Faults, ambient and the cycler go back to
                  rest after each test.
``flashed_board`` ``board`` after a fresh image was flashed with :mod:`afbms.flash`
                  (once per session); the flash report is ``afbms_flash_report``.

Markers: ``hil`` (runs against a board), ``sim_only`` (needs the plant: skipped on
real hardware), ``slow``. Nothing here runs unless a test asks for these fixtures: the
plugin loads in every pytest run of a project that installs afbms.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

DEFAULT_PRESET = "jeon_t2_w_mg_ncm811"  # 25 °C, 2 MPa: inside the firmware's default limits
DEFAULT_SIM_SPEED = 50.0  # simulated s per wall s: a 1 s sample period gives 50 samples/s
CONNECT_TIMEOUT_S = 30.0  # a real board re-enumerates its USB port after a reset
PRECHARGE_V = 3.85  # the virtual cell starts formed and part charged, at rest

_MARKERS = {
    "hil": "runs against a board: the virtual board, or a real one with --afbms-port",
    "sim_only": "needs the simulated plant (virtual board only; skipped on real hardware)",
    "slow": "long scenarios and large fuzz runs (deselect with -m 'not slow')",
}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("afbms", "afbms hardware-in-the-loop")
    group.addoption("--afbms-port", default=None, metavar="PORT",
                    help="serial port of a real board (default: a virtual board)")  # fmt: skip
    group.addoption("--afbms-board", default=None, metavar="NAME",
                    help="board definition of the real board: pico, esp32s3 (required with "
                    "--afbms-port; the virtual board is 'sim')")  # fmt: skip
    group.addoption("--afbms-preset", default=DEFAULT_PRESET, metavar="KEY",
                    help=f"virtual board: the cell preset (default {DEFAULT_PRESET})")  # fmt: skip
    group.addoption("--afbms-sim-speed", type=float, default=DEFAULT_SIM_SPEED, metavar="X",
                    help="virtual board: simulated seconds per wall second, 0 = as fast "
                    f"as it runs (default {DEFAULT_SIM_SPEED:g})")  # fmt: skip


def pytest_configure(config: pytest.Config) -> None:
    # The project's pyproject registers some of these already: add only the missing ones.
    known = {line.split(":", 1)[0].strip() for line in config.getini("markers")}
    for name, text in _MARKERS.items():
        if name not in known:
            config.addinivalue_line("markers", f"{name}: {text}")
    if config.getoption("--afbms-port") and not config.getoption("--afbms-board"):
        raise pytest.UsageError("--afbms-port needs --afbms-board NAME (e.g. pico, esp32s3)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    port = config.getoption("--afbms-port")
    if not port:
        return
    skip = pytest.mark.skip(reason=f"sim_only: needs the simulated plant; {port} is a real board")
    for item in items:
        if item.get_closest_marker("sim_only") is not None:
            item.add_marker(skip)


# ---------------------------------------------------------------- the board under test


@dataclass
class BoardOptions:
    port: str | None
    board: str | None
    preset: str
    speed: float | None


def _options(config: pytest.Config) -> BoardOptions:
    speed = config.getoption("--afbms-sim-speed")
    return BoardOptions(
        port=config.getoption("--afbms-port"),
        board=config.getoption("--afbms-board"),
        preset=config.getoption("--afbms-preset"),
        speed=speed if speed and speed > 0 else None,
    )


class BoardTarget:
    """The board a HIL session runs against: a real one on a port, or a virtual board.

    ``connect()`` opens a protocol session, retrying while the firmware boots (or a
    real board's USB port comes back after a reset); ``reboot(device)`` resets the board
    by COMMAND REBOOT and reconnects ``device`` in place; ``power_cycle(device)`` cuts
    the power (virtual board only).
    """

    def __init__(self, port: str, board: str, vboard: Any = None) -> None:
        self.port = port
        self.board = board
        self.vboard = vboard  # afbms.vboard.VirtualBoard, or None on real hardware

    @property
    def virtual(self) -> bool:
        return self.vboard is not None

    @property
    def plant(self) -> Any:
        return self.vboard.plant if self.vboard is not None else None

    def connect(self, timeout: float = CONNECT_TIMEOUT_S) -> Any:
        from afbms.device import Device

        device = Device(self._open(timeout), timeout=3.0)
        try:
            self._hello(device, timeout)
        except BaseException:
            device.close()
            raise
        return device

    def reconnect(self, device: Any, timeout: float = CONNECT_TIMEOUT_S) -> dict[str, Any]:
        """Reopen ``device``'s port (its transport is replaced) and say HELLO again."""
        from afbms.protocol.frame import FrameReader
        from afbms.transport import TransportError

        with contextlib.suppress(TransportError, OSError):  # the old port may be gone
            device.transport.close()
        for _ in device.frames(0.0):  # what the old session queued is history now
            pass
        device.transport = self._open(timeout)
        device.reader = FrameReader()  # a frame cut by the reset is not completed later
        return self._hello(device, timeout)

    def reboot(self, device: Any) -> dict[str, Any]:
        """COMMAND REBOOT, then a session with the firmware that booted. The old one
        answers nothing after its ACK; wait for the reset itself before talking again."""
        from afbms.protocol.enums import Command

        vb = self.vboard
        boots = len(vb.bridge.boots) if vb is not None else 0
        device.command(Command.REBOOT)
        if vb is None:
            time.sleep(1.0)  # a real board's USB port goes away at once: let it
        else:
            deadline = time.monotonic() + CONNECT_TIMEOUT_S
            while len(vb.bridge.boots) == boots:
                if time.monotonic() > deadline:
                    raise RuntimeError("the virtual board did not reset after COMMAND REBOOT")
                time.sleep(0.01)
        return self.reconnect(device)

    def power_cycle(self, device: Any, off_s: float = 0.2) -> dict[str, Any]:
        if self.vboard is None:
            raise RuntimeError("power_cycle needs the virtual board (a bench has no power switch)")
        self.vboard.power_cut()
        time.sleep(off_s)
        self.vboard.power_on()
        return self.reconnect(device)

    def _open(self, timeout: float) -> Any:
        from afbms.transport import SerialTransport, TransportError

        deadline = time.monotonic() + timeout
        while True:
            try:
                return SerialTransport(self.port)
            except TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def _hello(self, device: Any, timeout: float) -> dict[str, Any]:
        """HELLO, then one request to prove the session (a board still booting may
        answer neither, or refuse it with NO_SESSION)."""
        from afbms.device import DeviceTimeout, Refused
        from afbms.protocol.enums import ConfigKey, ErrorCode

        deadline = time.monotonic() + timeout
        while True:
            try:
                info = device.hello()
                device.config_get(ConfigKey.SAMPLE_PERIOD_MS)
                return info
            except DeviceTimeout:  # still booting
                pass
            except Refused as exc:
                if exc.error != ErrorCode.NO_SESSION:
                    raise
            if time.monotonic() > deadline:
                raise DeviceTimeout(f"no session on {self.port} within {timeout:g} s")


def _precharged_plant(preset: str) -> Any:
    """The preset's cell, formed and charged to PRECHARGE_V, then resting with both paths
    open (as the board's pull-downs hold them until the firmware runs)."""
    from afbms.plant.cycler import CC, Rest
    from afbms.plant.world import Plant

    plant = Plant(preset, seed=1)
    current_a = plant.params.j_ref_ma_cm2 * plant.params.area_cm2 * 1e-3
    plant.set_protocol([CC(current_a, PRECHARGE_V, name="charge"), Rest(1e9, name="rest")])
    plant.set_enables(True, True)
    for _ in range(200):  # bounded: a few hours of virtual time at most
        if plant.truth()["step"] != "charge":
            break
        plant.step(60_000)
    plant.set_enables(False, False)
    plant.set_protocol([Rest(1e9, name="rest")])
    return plant


# The session's virtual board, while it runs (alive on purpose until the session ends).
SESSION_VBOARD = pytest.StashKey[Any]()


@pytest.fixture(scope="session")
def afbms_target(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BoardTarget]:
    """The board under test for this session (see :class:`BoardTarget`)."""
    opts = _options(request.config)
    if opts.port:
        assert opts.board is not None  # pytest_configure insists
        yield BoardTarget(opts.port, opts.board)
        return
    from afbms import mpvm
    from afbms.vboard import VirtualBoard, deploy_firmware

    try:
        mpvm.node_executable()
        mpvm.micropython_module()
    except mpvm.VmUnavailable as exc:
        pytest.fail(f"no real board given and the virtual board cannot start: {exc}")
    flash_dir = tmp_path_factory.mktemp("afbms-hil") / "flash"
    deploy_firmware(flash_dir, compiled=True)
    vb = VirtualBoard(flash_dir, plant=_precharged_plant(opts.preset), speed=opts.speed)
    request.config.stash[SESSION_VBOARD] = vb  # lets leak checks tell it from a leaked board
    try:
        vb.start()
        yield BoardTarget(vb.port, "sim", vb)
    finally:
        vb.close()  # bounded: SIGKILL of its own process group, joined with a timeout


@pytest.fixture
def board(afbms_target: BoardTarget) -> Iterator[Any]:
    """A connected :class:`afbms.device.Device` (HELLO done); its port is closed after."""
    device = afbms_target.connect()
    try:
        yield device
    finally:
        device.close()


class PlantControl:
    """Scenario control of the virtual board's world. Every call holds the board's lock
    (the plant is shared with the board's bridge thread)."""

    def __init__(self, vboard: Any) -> None:
        self.vboard = vboard
        self.world = vboard.plant

    def inject(self, kind: str, magnitude: float | None = None, **params: Any) -> None:
        with self.vboard.lock:
            self.world.inject(kind, magnitude, **params)

    def clear(self, kind: str) -> None:
        with self.vboard.lock:
            self.world.clear(kind)

    def set_ambient(self, t_c: float) -> None:
        with self.vboard.lock:
            self.world.set_ambient(t_c)

    def set_protocol(self, protocol: list) -> None:
        with self.vboard.lock:
            self.world.set_protocol(protocol)

    def rest(self) -> None:
        from afbms.plant.cycler import Rest

        self.set_protocol([Rest(1e9, name="rest")])

    def truth(self) -> dict[str, Any]:
        with self.vboard.lock:
            return self.world.truth()

    def soft_short_ohms_for_drop(self, drop_v: float) -> float:
        with self.vboard.lock:
            return self.world.soft_short_ohms_for_drop(drop_v)

    @contextlib.contextmanager
    def fast(self) -> Iterator[None]:
        """Virtual time as fast as the board runs, for the duration of the block."""
        speed = self.vboard.speed
        self.vboard.set_speed(None)
        try:
            yield
        finally:
            self.vboard.set_speed(speed)

    def restore(self, ambient_c: float) -> None:
        """Back to the session's world: no faults, the usual ambient, the cycler at rest.
        The cell's temperature is set back too (it would take virtual hours to settle,
        and the next test would start in a warm cell)."""
        with self.vboard.lock:
            self.world.clear_all()
            self.world.set_ambient(ambient_c)
            self.world.cell.t_c = ambient_c
        self.rest()


@pytest.fixture
def plant(afbms_target: BoardTarget) -> Iterator[PlantControl]:
    """The virtual board's world; skipped (with the reason) on real hardware."""
    if not afbms_target.virtual:
        pytest.skip(f"needs the simulated plant; {afbms_target.port} is a real board")
    control = PlantControl(afbms_target.vboard)
    ambient = control.truth()["ambient_c"]
    try:
        yield control
    finally:
        control.restore(ambient)


@pytest.fixture(scope="session")
def afbms_flash_report(afbms_target: BoardTarget) -> Any:
    """Flash the packaged firmware once per session (staged, verified, switched)."""
    from afbms.flash import flash

    return flash(afbms_target.port, afbms_target.board, timeout=60.0)


@pytest.fixture
def flashed_board(afbms_flash_report: Any, board: Any) -> Any:
    """``board``, running an image freshly flashed this session."""
    return board
