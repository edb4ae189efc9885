"""Benchmarks: each figure measured side by side with its reference in one run."""
