"""The application: one step per sample period, the link served in between.

Per step: sample the sensors -> protection (outputs safe within this step on
a fault) -> short detector (a confirmed short latches into protection) ->
estimator -> events -> flash log -> telemetry. Between steps the link is
polled, so a connected host never stops protection.

Everything hardware-specific arrives in a ``Hardware`` object (built by
``hw.build`` on a board, by hand in tests), so this module imports no
``machine``.
"""

from bms import wire
from bms.config import LOAD_MISSING, ConfigStore
from bms.detector import Detector
from bms.estimator import Estimator
from bms.faults import severity_of
from bms.flashlog import FlashLog
from bms.link import Link
from bms.protection import Protection
from bms.sample import Sample
from bms.sampler import Sampler
from bms.storage import CorruptFile, read_checked, write_atomic

try:
    from micropython import const
except ImportError:  # CPython

    def const(__x):
        return __x


FW_VERSION = (0, 1, 0)
_FAULTS_VERSION = const(1)

# What App.run() returns: why the loop stopped.
STOP_MAINTENANCE = const(1)  # hand the console back to the REPL (flashing)
STOP_REBOOT = const(2)
STOP_STEPS = const(3)  # a bounded run (tests, benchmarks) finished
STOP_ROLLBACK = const(4)  # a trial image was never confirmed: go back to the previous one
TRIAL_TIMEOUT_MS = const(120000)  # a trial image must see a host within this


class Hardware:
    """What the application needs from a board (``hw.build`` on a board, by hand in tests).

    name (bytes), device_id (8 bytes), clock, monitor (INA228/INA226 driver),
    loadcell (NAU7802 or None), thermistor (NTC or None), charge_out and
    discharge_out (objects with set(on)), port (the link's bytes), fs (file
    system), data_dir, wdt (feed(), or None), led (value(v), or None),
    simulated (bool), sim (SIM_CONTROL handler with control(action, a0, a1), or
    None), capabilities (wire.CAP_* bits).
    """

    def __init__(
        self, name, device_id, clock, monitor, charge_out, discharge_out, port, fs, data_dir,
        loadcell=None, thermistor=None, wdt=None, led=None, simulated=False, sim=None,
        capabilities=0,
    ):  # fmt: skip
        self.name = name
        self.device_id = device_id
        self.clock = clock
        self.monitor = monitor
        self.charge_out = charge_out
        self.discharge_out = discharge_out
        self.port = port
        self.fs = fs
        self.data_dir = data_dir
        self.loadcell = loadcell
        self.thermistor = thermistor
        self.wdt = wdt
        self.led = led
        self.simulated = simulated
        self.sim = sim
        self.capabilities = capabilities


class App:
    def __init__(self, hw, watchdog_reset=False, image=None):
        self.hw = hw
        self.image = image  # the loader's Image (trial/confirm/rollback), or None
        self.clock = hw.clock
        self.device_id = hw.device_id
        self.board_name = hw.name
        self.fw_version = FW_VERSION
        self.capabilities = hw.capabilities | wire.CAP_FLASH_LOG
        if hw.simulated:
            self.capabilities |= wire.CAP_SIMULATED
        self._faults_path = hw.data_dir + "/faults.bin"
        self._faults_buf = bytearray(4)
        self.config = ConfigStore(hw.fs, hw.data_dir)
        cfg = self.config
        self.config_keys = cfg.keys
        # 48 segments x 256 records x 40 B = 480 KiB: 3.4 h at 1 Hz, 34 h at 0.1 Hz.
        self.log = FlashLog(hw.fs, hw.data_dir + "/log", max_segments=48)
        self.sample = Sample()
        self.protection = Protection(
            hw.charge_out, hw.discharge_out, self._load_latched, self._save_latched
        )
        self.protection.configure(cfg.get)
        self.sampler = Sampler(
            hw.clock, self.sample, hw.monitor, hw.loadcell, hw.thermistor,
            cfg.get(wire.CFG_SAMPLE_PERIOD_MS), cfg.get(wire.CFG_ACTIVE_AREA_UM2K),
        )  # fmt: skip
        self.estimator = Estimator(cfg.get(wire.CFG_CAPACITY_UAH), cfg.get)
        self.detector = Detector(self.estimator, cfg.get)
        self.link = Link(hw.port, self)
        self.telemetry_period_ms = cfg.get(wire.CFG_TELEMETRY_PERIOD_MS)
        self._telemetry_due = self.clock.ticks_ms()
        self._uptime_ms = 0
        self._last_ticks = self.clock.ticks_ms()
        self.stop = 0
        self.steps = 0
        boot = 0
        if not cfg.loaded_ok and cfg.load_status != LOAD_MISSING:
            # A first boot runs on the defaults; a damaged config must be looked at.
            boot |= wire.FAULT_CONFIG_INVALID
        if watchdog_reset:
            boot |= wire.FAULT_WATCHDOG_RESET
        if boot:
            self.protection.latch(boot)
        self.log.append(self.clock.time_s(), 0, wire.LOG_EVENT, wire.EVT_BOOT, 0,
                        self.protection.latched, FW_VERSION[0], FW_VERSION[1], FW_VERSION[2],
                        0, 0)  # fmt: skip

    # ------------------------------------------------------------ persistence of faults

    def _load_latched(self):
        try:
            data = read_checked(self.hw.fs, self._faults_path)
        except CorruptFile:
            # Atomic writes survive power cuts, so this is real corruption: what was
            # latched is unknown. Hold the outputs safe until a person clears it.
            return wire.FAULT_CONFIG_INVALID
        if data is None or len(data) < 4:
            return 0
        return data[0] | data[1] << 8 | data[2] << 16 | data[3] << 24

    def _save_latched(self, mask):
        b = self._faults_buf
        b[0] = mask & 0xFF
        b[1] = (mask >> 8) & 0xFF
        b[2] = (mask >> 16) & 0xFF
        b[3] = (mask >> 24) & 0xFF
        try:
            write_atomic(self.hw.fs, self._faults_path, b, _FAULTS_VERSION)
        except OSError:
            pass  # protection holds the mask in RAM; LOG_ERROR would need the same flash

    # ------------------------------------------------------------ the loop

    def step(self):
        """One sample period's work. Returns the Sample."""
        s = self.sampler.read()
        p = self.protection
        p.update(s)
        det = self.detector
        det.update(s, p.state)
        if det.latch:
            p.latch(det.latch)
        est = self.estimator
        est.update(s, p.state)
        self._events(s, det)
        log = self.log
        log.append(s.t_s, s.t_sub_ms, wire.LOG_SAMPLE, p.state, 0, p.latched, s.voltage_uv,
                   s.current_ua, s.pressure_pa, s.temperature_mc, est.cycle_charge_uah)  # fmt: skip
        if est.cycle_done:
            self._log_estimate(s)
            self.link.send_estimate(s.t_s, est)
        if self.telemetry_period_ms > 0:
            clock = self.clock
            if clock.ticks_diff(s.t_ms, self._telemetry_due) >= 0:
                self._telemetry_due = clock.ticks_add(self._telemetry_due, self.telemetry_period_ms)
                if clock.ticks_diff(s.t_ms, self._telemetry_due) >= 0:
                    self._telemetry_due = clock.ticks_add(s.t_ms, self.telemetry_period_ms)
                self.link.send_telemetry(s, est.cycle_charge_uah, p.state, p.latched)
        led = self.hw.led
        if led is not None:
            led.value(1 if p.state == wire.STATE_FAULT else s.seq & 1)
        self.steps += 1
        return s

    def _events(self, s, det):
        p = self.protection
        if p.new_faults:
            self._event(s, wire.EVT_FAULT_SET, severity_of(p.new_faults), p.new_faults)
        if p.state != p.prev_state:
            self._event(s, wire.EVT_STATE_CHANGE, wire.SEV_INFO, p.prev_state)
        if det.event_kind >= 0:
            self._event(s, det.event_kind, det.event_severity, det.event_value)

    def _event(self, s, kind, severity, value):
        p = self.protection
        self.log.append(
            s.t_s, s.t_sub_ms, wire.LOG_EVENT, kind, severity, p.latched, value, s.voltage_uv,
            s.current_ua, s.pressure_pa, s.temperature_mc,
        )  # fmt: skip
        self.link.send_event(s, kind, severity, value, p.state, p.latched)

    def _log_estimate(self, s):
        e = self.estimator
        log = self.log
        log.append(s.t_s, s.t_sub_ms, wire.LOG_ESTIMATE, 0, e.cycle_count & 0xFFFF, 0,
                   e.inventory_uah, e.inventory_ppm, e.ce_last_ppm, e.ce_rolling_ppm,
                   e.cycle_count)  # fmt: skip
        log.append(s.t_s, s.t_sub_ms, wire.LOG_LOSS, 0, e.cycle_count & 0xFFFF, 0,
                   e.loss_sei_uah, e.loss_dead_uah, e.plated_nm, e.dead_nm,
                   e.cycles_to_eol)  # fmt: skip

    def run(self, max_steps=-1):
        """Sample on schedule and serve the link until a stop is requested."""
        clock = self.clock
        sampler = self.sampler
        wdt = self.hw.wdt
        while not self.stop:
            wait = sampler.ms_until_due()
            if wait > 0:
                self.link.poll()
                wait = sampler.ms_until_due()
                if wait > 0:
                    slice_ms = clock.poll_slice_ms
                    clock.sleep_ms(wait if wait < slice_ms else slice_ms)
                if wdt is not None:
                    wdt.feed()
                continue
            self._tick_uptime()
            image = self.image
            if image is not None and image.trial and self._uptime_ms > TRIAL_TIMEOUT_MS:
                self.protection.enter_maintenance()
                self.stop = STOP_ROLLBACK
                break
            self.step()
            if wdt is not None:
                wdt.feed()
            if max_steps >= 0 and self.steps >= max_steps:
                self.stop = STOP_STEPS
        # Flush what is pending: maintenance and reboot are orderly stops.
        self.log.flush()
        self.link.poll()
        return self.stop

    def _tick_uptime(self):
        now = self.clock.ticks_ms()
        self._uptime_ms += self.clock.ticks_diff(now, self._last_ticks)
        self._last_ticks = now

    # ------------------------------------------------------------ link handler

    def session_opened(self):
        """A host completed HELLO with matching declarations: a trial image is healthy."""
        if self.image is not None:
            self.image.confirm()

    def uptime_s(self):
        self._tick_uptime()
        return self._uptime_ms // 1000

    def config_value(self, key):
        if not self.config.known(key):
            return None
        return self.config.get(key)

    def config_set(self, key, value):
        status = self.config.set(key, value)
        if status == wire.CFGST_OK:
            self._apply_config()
            s = self.sample
            self._event(s, wire.EVT_CONFIG_CHANGED, wire.SEV_INFO, key)
        return status, self.config.get(key) if self.config.known(key) else 0

    def _apply_config(self):
        cfg = self.config
        self.protection.configure(cfg.get)
        self.sampler.set_period(cfg.get(wire.CFG_SAMPLE_PERIOD_MS))
        self.sampler.set_area(cfg.get(wire.CFG_ACTIVE_AREA_UM2K))
        self.estimator.configure(cfg.get)
        self.detector.configure(cfg.get)
        self.telemetry_period_ms = cfg.get(wire.CFG_TELEMETRY_PERIOD_MS)

    def command(self, code, arg):
        if code == wire.CMD_SET_TELEMETRY_PERIOD:
            status, _ = self.config_set(wire.CFG_TELEMETRY_PERIOD_MS, arg)
            return 0 if status == wire.CFGST_OK else wire.ERR_BAD_VALUE
        if code == wire.CMD_CLEAR_FAULTS:
            before = self.protection.latched
            remaining = self.protection.clear(arg)
            cleared = before & ~remaining
            if cleared:
                self._event(self.sample, wire.EVT_FAULTS_CLEARED, wire.SEV_INFO, cleared)
            wanted = arg if arg else before
            return wire.ERR_NOT_ALLOWED if remaining & wanted else 0
        if code == wire.CMD_RESET_ESTIMATOR:
            self.estimator.reset()
            return 0
        if code == wire.CMD_SET_TIME:
            if arg < 0:
                return wire.ERR_BAD_VALUE
            self.clock.set_time_s(arg)
            return 0
        if code == wire.CMD_REBOOT:
            self.protection.enter_maintenance()
            self.stop = STOP_REBOOT
            self.link.closed = True  # after this command's ACK
            return 0
        if code == wire.CMD_ENTER_MAINTENANCE:
            self.protection.enter_maintenance()
            self.stop = STOP_MAINTENANCE
            self.link.closed = True  # after this command's ACK
            return 0
        if code == wire.CMD_SEND_ESTIMATE:
            self.link.send_estimate(self.sample.t_s, self.estimator)
            return 0
        if code == wire.CMD_FLUSH_LOG:
            self.log.flush()
            return 0
        return wire.ERR_UNKNOWN_COMMAND

    def log_info(self):
        return self.log.info()

    def log_read_into(self, start_seq, buf, max_records):
        return self.log.read_into(start_seq, buf, max_records)

    def sim_control(self, action, arg0, arg1):
        if self.hw.sim is None:
            return wire.ERR_NOT_SIMULATED
        return self.hw.sim.control(action, arg0, arg1)
