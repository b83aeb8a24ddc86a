"""When a scenario's faults happen: each is injected at a time (``at_s``) or at a
protocol step of a cycle (``at_cycle``/``at_step`` + ``after_s``), and cleared
``clear_after_s`` later. Shared by the CPython runner and the virtual board's plant,
so a scenario file means the same on both."""

from __future__ import annotations

from typing import Any

from afbms.plant.world import Plant
from afbms.scenario.spec import FaultSpec


class FaultSchedule:
    """Onsets and clears of ``faults`` in plant time (ms), applied to a world Plant."""

    def __init__(self, faults: list[FaultSpec]) -> None:
        self.faults = list(faults)
        self._pending = list(range(len(self.faults)))  # not injected yet
        self._onset_ms: dict[int, float] = {}
        self._clear_ms: dict[int, float] = {}

    @property
    def active(self) -> bool:
        """Something still to inject or to clear."""
        return bool(self._pending or self._clear_ms)

    def resolve(self, plant: Plant, now_ms: float) -> None:
        """Fix the onset time of every pending fault whose moment is now known."""
        cyc = plant.cycler
        for idx in self._pending:
            if idx in self._onset_ms:
                continue
            f = self.faults[idx]
            if f.at_s is not None:
                self._onset_ms[idx] = f.at_s * 1000.0
            elif f.at_cycle is not None and not cyc.done:
                if cyc.loop_cycle == f.at_cycle and cyc.step_name() == f.at_step:
                    rec = cyc.records[-1] if cyc.records else None
                    start_s = rec.start_s if rec is not None else plant.cell.time_s
                    self._onset_ms[idx] = (start_s + f.after_s) * 1000.0
                elif cyc.loop_cycle > f.at_cycle:
                    self._onset_ms[idx] = now_ms  # the cycle passed without that step: now

    def next_ms(self) -> float:
        """Plant time of the next known onset or clear (inf: none known)."""
        times = [self._onset_ms[i] for i in self._pending if i in self._onset_ms]
        times += self._clear_ms.values()
        return min(times, default=float("inf"))

    def fire_due(self, plant: Plant, now_ms: float) -> list[dict[str, Any]]:
        """Inject and clear what is due by ``now_ms``; one record each, in fault order."""
        done: list[dict[str, Any]] = []
        t_s = now_ms / 1000.0
        for idx, f in enumerate(self.faults):
            if idx in self._pending and self._onset_ms.get(idx, float("inf")) <= now_ms:
                self._pending.remove(idx)
                magnitude = f.magnitude
                if f.drop_mv is not None and f.kind.startswith("soft_short"):
                    magnitude = plant.soft_short_ohms_for_drop(f.drop_mv / 1000.0)
                plant.inject(f.kind, magnitude, **f.params)
                if f.clear_after_s is not None:
                    self._clear_ms[idx] = now_ms + f.clear_after_s * 1000.0
                truth = plant.truth()
                done.append({
                    "kind": f.kind, "action": "inject", "t_s": t_s, "magnitude": magnitude,
                    "cycle": truth["cycle"], "step": truth["step"],
                    "voltage_v": truth["voltage_v"],
                })  # fmt: skip
            if self._clear_ms.get(idx, float("inf")) <= now_ms:
                plant.clear(f.kind)
                del self._clear_ms[idx]
                done.append({"kind": f.kind, "action": "clear", "t_s": t_s})
        return done
