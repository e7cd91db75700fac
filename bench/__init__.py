"""Benchmarks: FluxKit against the references it replaces, measured side by side (python -m bench)."""


class BenchFailed(RuntimeError):
    """A benchmark could not measure what it set out to (items failed, a server did not answer)."""
