"""Forgetting curves: Ebbinghaus retention with recall strengthening (MemoryBank), and plain decay.

MemoryBank (Zhong et al., 2024) keeps for each memory a strength S and the time it was last
recalled; its retention is R = exp(-t / S) with t the time since then. Each recall adds to
S (MemoryBank: S += 1, with t measured in days) and resets t, so memories that keep being
used are kept and the rest fade; a memory whose retention falls below a threshold is
forgotten.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

DAY = 86400.0


def retention(elapsed_s: float, strength: float, unit_s: float = DAY) -> float:
    """Ebbinghaus R = exp(-t / S), t in `unit_s` units."""
    return math.exp(-max(0.0, elapsed_s) / max(1e-9, unit_s) / max(1e-9, strength))


def exponential_decay(elapsed_s: float, half_life_s: float) -> float:
    return 0.5 ** (max(0.0, elapsed_s) / max(1e-9, half_life_s))


@dataclass
class Trace:
    """Strength and last-recall time of one memory."""

    strength: float = 1.0
    last: float = 0.0

    def recall(self, now: float, boost: float = 1.0) -> None:
        self.strength += boost
        self.last = now

    def retention(self, now: float, unit_s: float = DAY) -> float:
        return retention(now - self.last, self.strength, unit_s)


def forget(traces: dict, now: float, threshold: float, unit_s: float = DAY) -> list:
    """Keys whose retention has fallen below `threshold` (the caller drops them)."""
    return [k for k, tr in traces.items() if tr.retention(now, unit_s) < threshold]
