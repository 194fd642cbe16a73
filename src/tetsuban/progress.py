"""How long work tells its progress: one callback type for every stage."""

from __future__ import annotations

from collections.abc import Callable

ProgressFn = Callable[[int, int | None], None]
"""Called with (items done, items in all, or None when the total is not known yet) as work goes on."""
