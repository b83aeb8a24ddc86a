"""Register-level emulators of the sensor chips (MicroPython-compatible)."""
