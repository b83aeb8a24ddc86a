"""Sensor drivers: one chip per module."""
