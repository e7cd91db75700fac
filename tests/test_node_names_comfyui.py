"""Inside a real ComfyUI: a node's error messages start with the display name its schema shows, for errors the node
raises itself and for those that come from flux_core (which knows no node) through `named_errors`."""

from __future__ import annotations

import pytest
import torch

from flux_core.errors import FluxKitError

pytestmark = pytest.mark.comfyui
IMAGE = torch.zeros(1, 32, 32, 3)


def _hole():
    mask = torch.zeros(1, 32, 32)
    mask[:, 8:16, 8:16] = 1.0
    return mask


class _EpsSampling:
    """Stands in for an SDXL MODEL: only its real ComfyUI sampling object is read."""

    def __init__(self):
        import importlib

        model_base = importlib.import_module("comfy.model_base")
        cfg = importlib.import_module("comfy.supported_models").SDXL({})
        self.ms = model_base.model_sampling(cfg, model_base.ModelType.EPS)

    def get_model_object(self, name):
        return self.ms


def _crop_then_stitch_two(node):
    crop = node("FluxKitInpaintCrop").execute(IMAGE, _hole(), 64, 0.5, 0, 0, 0, False).result
    return node("FluxKitInpaintStitch").execute(crop[2], torch.zeros(2, 64, 64, 3), False, 0)


CASES = {  # node id → a call with bad input, and a word of the expected message
    "FluxKitSaveConditioning": (lambda n: n("FluxKitSaveConditioning").execute([], "../up"), "must be 1-120"),
    "FluxKitInpaintControlNetApply": (
        lambda n: n("FluxKitInpaintControlNetApply").execute(
            [], [], object(), None, IMAGE, _hole(), 1.0, 0.0, 1.0
        ),
        "control_net is a object",
    ),
    "FluxKitDepthAnythingLoader": (
        lambda n: n("FluxKitDepthAnythingLoader").execute("no-such"),
        "no model folder",
    ),
    "FluxKitDepthMap": (
        lambda n: n("FluxKitDepthMap").execute(object(), IMAGE, 518),
        "depth_model must come",
    ),
    "FluxKitInpaintCrop": (
        lambda n: n("FluxKitInpaintCrop").execute(IMAGE, torch.zeros(2, 3, 16, 16), 64, 0.5, 0, 0, 0, False),
        "mask must be",
    ),
    "FluxKitInpaintStitch": (_crop_then_stitch_two, "2 generated images for 1 crops"),
    "FluxKitQwen2VLLoader": (
        lambda n: n("FluxKitQwen2VLLoader").execute("no-such", "bf16"),
        "no model folder",
    ),
    "FluxKitTurboScheduler": (
        lambda n: n("FluxKitTurboScheduler").execute(_EpsSampling(), 8, 1024, 1024, "resolution"),
        "not a flow-matching",
    ),
    "FluxKitDMD2Scheduler": (
        lambda n: n("FluxKitDMD2Scheduler").execute(_EpsSampling(), "custom", "999, x", "literal"),
        "'999, x' has a non-integer timestep",  # the text the user typed, quoted: the name cannot hold it
    ),
    "FluxKitDMD2Sampler": (lambda n: n("FluxKitDMD2Sampler").execute("bogus"), "first_step_noise 'bogus'"),
    "FluxKitUnionControlNetMode": (
        lambda n: n("FluxKitUnionControlNetMode").execute(object(), "depth"),
        "no mode embedder",
    ),
}


@pytest.mark.parametrize("node_id", sorted(CASES))
def test_error_message_starts_with_the_display_name_the_node_shows(live_comfy, node_id):
    def node(name):
        return live_comfy.nodes.NODE_CLASS_MAPPINGS[name]

    shown = live_comfy.nodes.NODE_DISPLAY_NAME_MAPPINGS[node_id]
    call, words = CASES[node_id]
    with pytest.raises(FluxKitError) as raised:
        call(node)
    message = str(raised.value)
    assert words not in shown, "the expected words must be text the display name cannot supply"
    assert message.startswith(f"{shown}: ") and words in message[len(shown) :], message
    assert message.count(shown) == 1, message  # named once, not once per layer it passed through
