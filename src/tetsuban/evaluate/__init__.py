"""Evaluation on the test split: metrics, calibration, and comparisons between models."""
