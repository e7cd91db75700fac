"""FluxKit's Depth-Anything-V2 nodes in a real ComfyUI on a tiny random folder in the Hugging Face layout: the map
equals a direct transformers forward (the folder's own processor) plus Qwen2VL-Flux's post-processing, written out
here; a folder that is not Depth-Anything is a clear error."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from flux_core.depth_anything import slow_processor_kwargs
from flux_core.errors import FluxKitError
from fluxkit_testmodels.thin_depth import write_tiny_depth_anything

pytestmark = [pytest.mark.comfyui, pytest.mark.transformers]


@pytest.fixture(scope="module")
def depth_root(live_comfy, tmp_path_factory):
    import folder_paths

    root = tmp_path_factory.mktemp("depth_anything")
    write_tiny_depth_anything(str(root / "tiny-depth-anything-v2"), seed=2)
    (root / "not-depth").mkdir()
    (root / "not-depth" / "config.json").write_text(json.dumps({"model_type": "qwen2_vl"}))
    folder_paths.add_model_folder_path("depth_anything", str(root))
    return root


def expected_map(folder: str, picture: np.ndarray) -> np.ndarray:
    """transformers forward + Qwen2VL-Flux's generate_depth_map (min-max, astype(uint8), grey → RGB)."""
    from transformers import AutoImageProcessor, DepthAnythingForDepthEstimation

    processor = AutoImageProcessor.from_pretrained(folder, **slow_processor_kwargs())
    model = DepthAnythingForDepthEstimation.from_pretrained(folder).eval()
    with torch.no_grad():
        depth = model(**processor(images=[picture], return_tensors="pt")).predicted_depth
    h, w = picture.shape[:2]
    depth = F.interpolate(depth[:, None], (h, w), mode="bilinear", align_corners=True)[0, 0].numpy()
    norm = (depth - depth.min()) / (depth.max() - depth.min())
    grey = (norm * 255).astype(np.uint8)
    return np.repeat(grey[..., None], 3, axis=-1).astype(np.float32) / 255


@pytest.mark.parametrize("hw", [(600, 700), (96, 130)])
def test_depth_map_equals_transformers_and_the_reference_post_processing(live_comfy, depth_root, hw):
    picture = np.random.default_rng(hw[0]).integers(0, 256, (*hw, 3), dtype=np.uint8)
    (model,) = live_comfy.run("FluxKitDepthAnythingLoader", model_folder="tiny-depth-anything-v2")
    image = torch.from_numpy(picture).float()[None] / 255
    (depth,) = live_comfy.run("FluxKitDepthMap", depth_model=model, image=image, resolution=518)
    assert depth.shape == (1, *hw, 3) and torch.equal(image, torch.from_numpy(picture).float()[None] / 255)
    want = expected_map(str(depth_root / "tiny-depth-anything-v2"), picture)
    assert np.array_equal(depth[0].numpy(), want)
    assert depth.min() == 0 and depth.max() == 1  # normalised per picture


def test_a_folder_that_is_not_depth_anything_is_an_error(live_comfy, depth_root):
    with pytest.raises(FluxKitError, match="model_type 'qwen2_vl', not 'depth_anything'"):
        live_comfy.run("FluxKitDepthAnythingLoader", model_folder="not-depth")
