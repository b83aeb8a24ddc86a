"""Packaging marker only: this file is not deployed to boards."""
