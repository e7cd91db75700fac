"""Which ControlNet residual each base FLUX block receives.

Two conventions exist, and using the wrong one is a silent quality bug (sources per convention below):

- **interval** (alimama, diffusers `controlnet_blocks_repeat=False`, ComfyUI `latent_input=True`, DiffSynth):
  ``interval = ceil(N / n)``; base block ``i`` receives residual ``i // interval``. For alimama's n = 6 residuals and
  FLUX's N = 19 double blocks, interval = 4: blocks 16–18 share residual 4 and residual 5 is never used.
  Source: alimama-creative/FLUX-Controlnet-Inpainting@6ea5d92, transformer_flux.py (interval_control).
- **cyclic** (XLabs ControlNets, diffusers `controlnet_blocks_repeat=True`): base block ``i`` receives ``i % n``.
  Only ever chosen explicitly.
"""

from __future__ import annotations

import math
from enum import Enum

from .errors import FluxKitError


class ResidualRule(str, Enum):
    INTERVAL = "interval"
    CYCLIC = "cyclic"


def residual_schedule(
    num_blocks: int, num_residuals: int, rule: ResidualRule | str = ResidualRule.INTERVAL
) -> tuple[int, ...]:
    """Residual index for each of `num_blocks` base blocks, given `num_residuals` ControlNet outputs.

    >>> residual_schedule(19, 6)[15:]
    (3, 4, 4, 4)
    """
    rule = ResidualRule(rule)
    if num_blocks < 0 or num_residuals < 1:
        raise FluxKitError(
            f"residual schedule needs num_blocks ≥ 0 and num_residuals ≥ 1, got {num_blocks}, {num_residuals}"
        )
    if rule is ResidualRule.CYCLIC:
        return tuple(i % num_residuals for i in range(num_blocks))
    interval = max(1, math.ceil(num_blocks / num_residuals))
    return tuple(i // interval for i in range(num_blocks))


def residuals_used(schedule: tuple[int, ...]) -> int:
    """How many leading ControlNet blocks must run to serve `schedule` (trailing unused blocks can be skipped)."""
    return max(schedule) + 1 if schedule else 0
