"""One `flux_core` per process: what a FluxKit node raises inside ComfyUI is the `FluxKitError` tests import."""

from __future__ import annotations

import sys

import pytest

pytestmark = pytest.mark.comfyui


def test_fluxkit_error_raised_inside_comfyui_is_caught_as_flux_core_error(live_comfy):
    import flux_core.errors
    from flux_core.errors import FluxKitError

    with pytest.raises(FluxKitError, match="strictly decreasing") as caught:
        live_comfy.run(
            "FluxKitDMD2Scheduler",
            model=None,
            preset="custom",
            custom_timesteps="249, 999",
            flow_mapping="shifted",
        )
    assert type(caught.value).__module__ == "flux_core.errors"
    prefix = f"{live_comfy.pack.__name__}.flux_core"
    pack_modules = {name: mod for name, mod in sys.modules.items() if name.startswith(prefix)}
    assert f"{prefix}.errors" in pack_modules and pack_modules[f"{prefix}.errors"] is flux_core.errors
    assert {
        n: m
        for n, m in pack_modules.items()
        if m is not sys.modules.get(n[len(live_comfy.pack.__name__) + 1 :])
    } == {}
