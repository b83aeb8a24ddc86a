"""ESP32-S3-DevKitC-1 next to a cell pressure fixture.

Data only: hw.py builds the hardware from these names. See README.md here
for the wiring. Units are in the names (µΩ, µA, Hz, ms).
"""

NAME = "esp32s3"

I2C_ID = 0
I2C_SDA = 8  # GPIO8
I2C_SCL = 9  # GPIO9
I2C_FREQ_HZ = 400000

MONITOR = "ina228"
MONITOR_ADDR = 0x40
SHUNT_UOHM = 10000
MAX_CURRENT_UA = 100000

LOADCELL = "nau7802"
LOADCELL_ADDR = 0x2A
LOADCELL_GAIN = 128
LOADCELL_SPS = 10
# counts per newton: 5 kN cell, 2 mV/V, 3.3 V excitation, gain 128:
# 6.6 mV at 5 kN over a +-12.9 mV (+-2**23 count) input range -> 859 counts/N.
# Replace with the fixture's own calibration.
LOADCELL_COUNTS_PER_N = 859

# ADC1 only: ADC2 is unavailable while Wi-Fi runs.
NTC_ADC_PIN = 1  # GPIO1 / ADC1_CH0
NTC_R_FIXED_OHM = 10000
NTC_R25_OHM = 10000
NTC_BETA_K = 3950
NTC_TO_GROUND = True

CHARGE_EN_PIN = 10  # GPIO10
DISCHARGE_EN_PIN = 11  # GPIO11
EN_ACTIVE_LEVEL = 1

LED_PIN = None  # the DevKitC-1 LED is an addressable RGB LED: not used as a status LED
WDT_TIMEOUT_MS = 2000
DATA_DIR = "/data"
