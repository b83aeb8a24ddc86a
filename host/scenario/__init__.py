"""Scenarios: the real firmware app against the simulated cell, with expectations.

``load(path)`` reads a TOML scenario (:mod:`afbms.scenario.spec`);
``run_scenario(scenario)`` runs it (:mod:`afbms.scenario.runner`) and returns
a :class:`Result` with the firmware's EVENT/ESTIMATE frames, ground truth at
each, and the checks of the scenario's expectations.
``python -m afbms.scenario <file.toml> ...`` prints a summary.
"""

from afbms.scenario.runner import Result, Runner, latency, library_dir, run_scenario
from afbms.scenario.spec import Scenario, ScenarioError, from_dict, load

__all__ = [
    "Result",
    "Runner",
    "Scenario",
    "ScenarioError",
    "from_dict",
    "latency",
    "library_dir",
    "load",
    "run_scenario",
]
