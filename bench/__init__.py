"""Benchmarks: FluxKit against the references it replaces, measured side by side (python -m bench)."""
