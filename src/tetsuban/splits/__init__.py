"""Train, validation and test splits: the assignment itself (assign.py, pure) and the stage that applies it to a
workspace (stage.py)."""

from __future__ import annotations

from tetsuban.splits.assign import SPLITS, SplitItem, SplitPlan, assign_splits

__all__ = ["SPLITS", "SplitItem", "SplitPlan", "assign_splits"]
