"""One set of readings, reused every sample period (nothing is allocated per sample)."""


class Sample:
    """Fixed-point readings of one period. Units are in the attribute names:

    t_ms            board clock ticks (ms) when sampled
    t_s, t_sub_ms   device time: s since 2000-01-01 UTC, ms within the second
    voltage_uv      µV cell voltage
    current_ua      µA, positive = charging
    pressure_pa     Pa stack pressure
    temperature_mc  m°C cell temperature
    charge_uah      net charge since boot, whole µAh ...
    charge_rem_uams ... plus the remainder in µA·ms (0 <= rem < 3 600 000)
    errors          wire.FAULT_SENSOR_* bits of reads that failed this period
    seq             sample counter since boot
    """

    def __init__(self):
        self.t_ms = 0
        self.t_s = 0
        self.t_sub_ms = 0
        self.voltage_uv = 0
        self.current_ua = 0
        self.pressure_pa = 0
        self.temperature_mc = 0
        self.charge_uah = 0
        self.charge_rem_uams = 0
        self.errors = 0
        self.seq = 0

    def add_charge_uams(self, delta):
        """Add charge in µA·ms to the split accumulator (exact, no rounding loss)."""
        rem = self.charge_rem_uams + delta
        # 1 µAh = 3 600 000 µA·ms; floor division keeps 0 <= rem < 3 600 000.
        whole = rem // 3600000
        self.charge_uah += whole
        self.charge_rem_uams = rem - whole * 3600000
