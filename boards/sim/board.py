"""The virtual board: the real MicroPython VM whose `machine` module forwards
I2C, ADC and Pin calls to the simulated world (the plant) on the host.

Same chips and addresses as the real boards, so the same drivers run. Time
is virtual: the plant owns the clock and can run faster than real time.
"""

NAME = "sim"
SIMULATED = True  # SIM_CONTROL is accepted only here

I2C_ID = 0
I2C_SDA = 0
I2C_SCL = 1
I2C_FREQ_HZ = 400000

MONITOR = "ina228"
MONITOR_ADDR = 0x40
SHUNT_UOHM = 10000
MAX_CURRENT_UA = 100000

LOADCELL = "nau7802"
LOADCELL_ADDR = 0x2A
LOADCELL_GAIN = 128
LOADCELL_SPS = 320  # the plant converts instantly; no reason to wait
# counts per newton: 5 kN cell, 2 mV/V, 3.3 V excitation, gain 128:
# 6.6 mV at 5 kN over a +-12.9 mV (+-2**23 count) input range -> 859 counts/N.
# Replace with the fixture's own calibration.
LOADCELL_COUNTS_PER_N = 859

NTC_ADC_PIN = 26
NTC_R_FIXED_OHM = 10000
NTC_R25_OHM = 10000
NTC_BETA_K = 3950
NTC_TO_GROUND = True

CHARGE_EN_PIN = 14
DISCHARGE_EN_PIN = 15
EN_ACTIVE_LEVEL = 1

LED_PIN = None
WDT_TIMEOUT_MS = 0  # no watchdog: the host can pause virtual time
DATA_DIR = "/data"
