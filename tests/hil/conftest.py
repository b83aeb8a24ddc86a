"""The HIL suite's fixtures come from the afbms pytest plugin (host/pytest_plugin.py).

Without --afbms-port the suite runs on the virtual board, inside the MicroPython VM:
its tests then carry the project's ``vm`` marker like every other VM test.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from afbms.protocol.enums import ConfigKey
from tests.hil.support import config_restored, set_config

_HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--afbms-port"):
        return
    for item in items:
        if _HERE in item.path.resolve().parents:
            item.add_marker(pytest.mark.vm)


@pytest.fixture
def live(board) -> Iterator[float]:
    """The board's sample period in seconds, with telemetry on every sample during the
    test (the bench's own telemetry setting is put back afterwards)."""
    with config_restored(board) as cfg:
        period_ms = cfg[ConfigKey.SAMPLE_PERIOD_MS]
        if cfg[ConfigKey.TELEMETRY_PERIOD_MS] != period_ms:
            set_config(board, {ConfigKey.TELEMETRY_PERIOD_MS: period_ms})
        yield period_ms / 1000.0
