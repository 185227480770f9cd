"""Operators: each makes one child program from parents. `build_operators` reads the config."""
from __future__ import annotations

from typing import Any

from evolve.config import ConfigError, OperatorConfig
from evolve.operators.base import Operator
from evolve.operators.structural import KnobMutation


def build_operators(configs: list[OperatorConfig], context: dict[str, Any] | None = None) -> list[tuple[Operator, float]]:
    """Instantiate the configured operators with their weights; unknown names fail loudly at start."""
    factories = {"structural": lambda p: KnobMutation(**p)}
    out = []
    for oc in configs:
        if oc.name not in factories:
            raise ConfigError(f"unknown operator '{oc.name}' in operators (known: {', '.join(sorted(factories))})")
        try:
            out.append((factories[oc.name](oc.params), oc.weight))
        except TypeError as exc:
            raise ConfigError(f"operators.{oc.name}.params: {exc}") from None
    return out
