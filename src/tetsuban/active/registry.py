"""The query strategies by name, for the CLI, the loop and the simulator."""

from __future__ import annotations

from collections.abc import Sequence

from tetsuban.active.hybrid import hybrid, hybrid_random10
from tetsuban.active.strategies import (
    Strategy,
    entropy,
    k_center_greedy,
    least_confidence,
    margin,
    random_picks,
    typiclust,
)
from tetsuban.errors import ConfigError

DEFAULT_STRATEGY = "hybrid"
STRATEGIES: dict[str, Strategy] = {
    "hybrid": hybrid,
    "hybrid_random10": hybrid_random10,
    "random": random_picks,
    "least_confidence": least_confidence,
    "margin": margin,
    "entropy": entropy,
    "kcenter": k_center_greedy,
    "typiclust": typiclust,
}


def check_strategies(names: Sequence[str]) -> None:
    """Refuse any name that is not a strategy's, before the work a command does first (embedding, splitting)."""
    for name in names:
        strategy_named(name)


def strategy_named(name: str) -> Strategy:
    """The strategy called ``name``; a clear error listing the names for anything else."""
    if name not in STRATEGIES:
        raise ConfigError(f"The strategy must be one of {', '.join(STRATEGIES)}. Got {name!r}.")
    return STRATEGIES[name]
