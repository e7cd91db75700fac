"""Exception types that carry enough context for a ComfyUI user to fix the problem."""

from __future__ import annotations


class FluxKitError(ValueError):
    """Bad user input (a wrong file, a wrong shape, a wrong setting); the message says what was expected."""


class CheckpointError(FluxKitError):
    """A model file that cannot be used: unreadable, truncated, or of another kind than the node expects."""

    def __init__(self, path: str, problem: str, expected: str | None = None):
        self.path = str(path)
        msg = f"{self.path}: {problem}"
        if expected:
            msg += f" (expected {expected})"
        super().__init__(msg)
