"""Raspberry Pi Pico / Pico W (RP2040) next to a cell pressure fixture.

Data only: hw.py builds the hardware from these names. See README.md here
for the wiring. Units are in the names (µΩ, µA, Hz, ms).
"""

NAME = "pico"

# I2C0 carries the current monitor and the load-cell ADC.
I2C_ID = 0
I2C_SDA = 4  # GP4, physical pin 6
I2C_SCL = 5  # GP5, physical pin 7
I2C_FREQ_HZ = 400000

# Current / voltage monitor: INA228 (20-bit, hardware charge accumulator).
MONITOR = "ina228"
MONITOR_ADDR = 0x40  # A0 = A1 = GND
SHUNT_UOHM = 10000  # 10 mΩ shunt
MAX_CURRENT_UA = 100000  # 100 mA full scale: lab cells run at a few mA

# Load cell: NAU7802 24-bit ADC on a full-bridge load cell under the stack.
LOADCELL = "nau7802"
LOADCELL_ADDR = 0x2A  # fixed
LOADCELL_GAIN = 128
LOADCELL_SPS = 10
# counts per newton: 5 kN cell, 2 mV/V, 3.3 V excitation, gain 128:
# 6.6 mV at 5 kN over a +-12.9 mV (+-2**23 count) input range -> 859 counts/N.
# Replace with the fixture's own calibration.
LOADCELL_COUNTS_PER_N = 859

# NTC thermistor against the cell can, divider from 3V3 to GND on ADC0.
NTC_ADC_PIN = 26  # GP26 / ADC0, physical pin 31
NTC_R_FIXED_OHM = 10000  # fixed resistor to 3V3
NTC_R25_OHM = 10000
NTC_BETA_K = 3950
NTC_TO_GROUND = True  # thermistor between the ADC pin and GND

# Path enables (to the cycler's interlock / MOSFET drivers). External
# pull-downs hold them at the safe level while the firmware is not running.
CHARGE_EN_PIN = 14  # GP14, physical pin 19
DISCHARGE_EN_PIN = 15  # GP15, physical pin 20
EN_ACTIVE_LEVEL = 1  # 1 enables a path; 0 is the safe (off) level

LED_PIN = "LED"  # on-board LED (GP25 on Pico, via the wireless chip on Pico W)
WDT_TIMEOUT_MS = 2000  # RP2040 maximum is 8388 ms
DATA_DIR = "/data"  # config, latched faults and the flash log
