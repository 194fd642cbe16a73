"""Heads on embeddings, the model artifact, and prediction."""
