"""Interleave rule: base block i of N gets residual i // ceil(N/n); cyclic only when asked."""

from __future__ import annotations

import math

import pytest

from flux_core.errors import FluxKitError
from flux_core.residual_schedule import ResidualRule, residual_schedule, residuals_used


def test_alimama_six_residuals_on_nineteen_blocks():
    sched = residual_schedule(19, 6)
    assert sched == (0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4)
    assert residuals_used(sched) == 5  # residual 5 is computed by the reference but never used


@pytest.mark.parametrize("n", range(1, 20))
def test_interval_rule_matches_repeat_then_truncate(n):
    # Independent formulation (ComfyUI's): repeat each residual ceil(19/n) times in a row, truncate to 19.
    repeated = [k for k in range(n) for _ in range(math.ceil(19 / n))][:19]
    assert residual_schedule(19, n) == tuple(repeated)
    assert residuals_used(residual_schedule(19, n)) == max(repeated) + 1


def test_cyclic_only_on_request():
    assert residual_schedule(19, 2, ResidualRule.CYCLIC) == tuple(i % 2 for i in range(19))
    assert residual_schedule(19, 2, "cyclic") != residual_schedule(19, 2)
    assert residual_schedule(19, 2) == (0,) * 10 + (1,) * 9


def test_bad_arguments():
    with pytest.raises(FluxKitError):
        residual_schedule(19, 0)
    with pytest.raises(ValueError):
        residual_schedule(19, 6, "alternate")
