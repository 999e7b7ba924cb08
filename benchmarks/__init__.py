"""Benchmarks: our training pipeline against the plain script it replaces, and the floor."""
