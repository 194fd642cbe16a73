"""Parameter checks with one consistent message: what was wrong, what was given, what to do."""

from __future__ import annotations

from collections.abc import Collection

from tetsuban.errors import ConfigError


def check_int(name: str, value: object, low: int, high: int) -> int:
    """Return ``value`` if it is an int in [low, high], else raise ConfigError naming the parameter."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"The '{name}' parameter must be an int in [{low}, {high}]. Got {value!r}.")
    return value


def check_float(name: str, value: object, low: float, high: float) -> float:
    """Return ``value`` as a float if it is a number in [low, high], else raise ConfigError."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise ConfigError(f"The '{name}' parameter must be a number in [{low}, {high}]. Got {value!r}.")
    return float(value)


def check_choice(name: str, value: object, choices: Collection[str]) -> str:
    """Return ``value`` if it is one of ``choices``, else raise ConfigError listing them."""
    if value not in choices:
        listed = ", ".join(repr(c) for c in sorted(choices))
        raise ConfigError(f"The '{name}' parameter must be one of {listed}. Got {value!r}.")
    return str(value)


def check_str(name: str, value: object) -> str:
    """Return ``value`` if it is a non-empty string, else raise ConfigError."""
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"The '{name}' parameter must be a non-empty string. Got {value!r}.")
    return value
