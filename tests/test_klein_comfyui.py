"""FLUX.2 [klein] through FluxKit's crop → 4 steps → stitch in a real ComfyUI server (0.28+; 0.3.64 has no FLUX.2):
both shipped klein workflows on the thin klein (real layout, 256 wide), the stitch undoing a known shift inside the
klein graph, and FluxKit's FLUX.1-only nodes refusing a FLUX.2 model by name instead of failing deep in sampling."""

from __future__ import annotations

import asyncio
import json
import re
import urllib.request

import numpy as np
import pytest
from PIL import Image

from fluxkit_comfy.client import fetch_outputs, run_prompt
from fluxkit_testmodels.thin_inputs import set_inputs, thin_variant
from fluxkit_testmodels.thin_set import KLEIN_PROMPT_FILE

pytestmark = pytest.mark.comfyui
from conftest import E2E_SIZE as SIZE  # noqa: E402
from test_e2e_comfyui import hole_and_feather  # noqa: E402

RESOLUTION = 128
KLEIN_WORKFLOWS = ["klein_edit_masked", "klein_inpaint"]
TEXTURE_IMAGE = "fluxkit_klein_texture.png"


@pytest.fixture(scope="module")
def server(comfy_server):
    with urllib.request.urlopen(f"{comfy_server.url}/object_info/Flux2Scheduler", timeout=60) as r:
        if not json.loads(r.read()):
            pytest.skip("this ComfyUI has no FLUX.2 support (Flux2Scheduler: 0.28 and newer)")
    return comfy_server


def prepared(name: str, image: str = "fluxkit_e2e.png") -> dict:
    from fluxkit_workflows import paths

    api = thin_variant(
        json.loads((paths.API_DIR / f"{name}.json").read_text()), KLEIN_PROMPT_FILE, RESOLUTION
    )
    set_inputs(api, "LoadImage", image=image)
    return api


def node_id(api: dict, class_type: str) -> str:
    return next(k for k, v in api.items() if v["class_type"] == class_type)


def run(server, api: dict, out_dir, progress: list | None = None):
    on_progress = None if progress is None else (lambda *event: progress.append(event))
    result = asyncio.run(run_prompt(server.url, api, timeout_s=600, on_progress=on_progress))
    files = asyncio.run(fetch_outputs(server.url, result, out_dir))
    assert len(files) == 1, result.outputs
    return result, np.asarray(Image.open(files[0]).convert("RGB"))


def preview(result, api: dict, class_type: str) -> str:
    return "\n".join(result.outputs[node_id(api, class_type)]["text"])


@pytest.mark.parametrize("name", KLEIN_WORKFLOWS)
def test_klein_workflow_changes_only_the_masked_region(server, name, tmp_path):
    progress: list[tuple[str, int, int]] = []
    result, out = run(server, prepared(name), tmp_path, progress)
    source = np.asarray(Image.open(server.base_dir / "input" / "fluxkit_e2e.png").convert("RGB"))
    assert out.shape == source.shape
    sampler = node_id(prepared(name), "SamplerCustomAdvanced")
    # klein's 4 steps: the sampler's bar reaches 4 of 4 (ComfyUI may coalesce intermediate events on a fast CPU)
    assert progress[-1] == (sampler, 4, 4), progress
    near = hole_and_feather(*SIZE, reach=8 + 16 + 2)  # grow_px 8 + the crop's default feather 16 + resampling
    assert np.array_equal(out[~near], source[~near])
    assert np.abs(out[near].astype(int) - source[near].astype(int)).mean() > 5.0
    assert "crop(s)" in preview(result, prepared(name), "FluxKitInpaintCrop")
    assert server.alive()


def texture_image(path, width: int, height: int, seed: int = 3) -> None:
    """A picture with detail everywhere (smoothed noise: a shift is measurable anywhere) and an elliptic hole in
    its alpha, the same hole as the e2e picture's."""
    from PIL import ImageDraw, ImageFilter

    rng = np.random.default_rng(seed)
    noise = Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8), "RGB")
    img = noise.filter(ImageFilter.GaussianBlur(2.0))
    alpha = Image.new("L", (width, height), 255)
    ImageDraw.Draw(alpha).ellipse([width * 2 // 5, height // 3, width * 3 // 4, height * 5 // 6], fill=0)
    img.putalpha(alpha)
    img.save(path)


def test_the_stitch_in_the_klein_graph_finds_and_undoes_a_known_shift(server, tmp_path):
    """klein edits by re-drawing the whole crop, which can come back moved: here the 'generation' is the crop itself
    moved 2 crop pixels right (core's ImagePadForOutpaint + ImageCrop), so the stitch must report (+2 crop px in
    original pixels, 0) and put the picture back where it was."""
    texture_image(server.base_dir / "input" / TEXTURE_IMAGE, *SIZE)
    api = prepared("klein_edit_masked", TEXTURE_IMAGE)
    crop, stitch = node_id(api, "FluxKitInpaintCrop"), node_id(api, "FluxKitInpaintStitch")
    size = node_id(api, "GetImageSize")
    api["901"] = {"class_type": "ImagePadForOutpaint", "inputs": {
        "image": [crop, 0], "left": 2, "top": 0, "right": 0, "bottom": 0, "feathering": 0}}  # fmt: skip
    api["902"] = {"class_type": "ImageCrop", "inputs": {
        "image": ["901", 0], "width": [size, 0], "height": [size, 1], "x": 0, "y": 0}}  # fmt: skip
    api[stitch]["inputs"]["image"] = ["902", 0]
    result, out = run(server, api, tmp_path)
    boxes = re.search(
        r"crop\(s\) (\d+)×(\d+) from boxes \[\((\d+), (\d+)\)\]", preview(result, api, "FluxKitInpaintCrop")
    )
    assert boxes, preview(result, api, "FluxKitInpaintCrop")
    crop_w, box_w = int(boxes[1]), int(boxes[3])
    report = preview(result, api, "FluxKitInpaintStitch")
    moved = re.search(r"moved the picture \(([-+.\d]+), ([-+.\d]+)\) px", report)
    assert moved, report
    expected_dx = 2 * box_w / crop_w  # in original pixels
    print(f"shift 2 crop px = {expected_dx:.2f} px; stitch measured ({moved[1]}, {moved[2]}); {report!r}")
    assert abs(float(moved[1]) - expected_dx) <= 0.25  # original pixels
    assert abs(float(moved[2])) <= 0.25
    source = np.asarray(Image.open(server.base_dir / "input" / TEXTURE_IMAGE).convert("RGB"))
    near = hole_and_feather(*SIZE, reach=8 + 16 + 2)
    assert np.array_equal(out[~near], source[~near])
    # the hole gets the crop back, moved back into place: close to the source (resampled twice, grey-padded edge)
    err = np.abs(out[near].astype(int) - source[near].astype(int)).mean()
    assert err < 12.0, err


@pytest.fixture(scope="module")
def klein_model(live_comfy, thin_models):
    import comfy.sd
    import comfy.supported_models as sm

    if not hasattr(sm, "Flux2"):
        pytest.skip("this ComfyUI has no FLUX.2 support (0.28 and newer have)")
    return comfy.sd.load_diffusion_model(thin_models["klein"])


def test_flux1_only_nodes_refuse_a_klein_model_by_name(live_comfy, thin_models, klein_model):
    """The LoRA loader (FLUX.1 key map), the Turbo scheduler (FLUX.1's shift) and the alimama ControlNet (FLUX.1
    tokens) each refuse the thin klein with an error that starts with the node's name, says FLUX.2 and what to use."""
    import os

    import folder_paths

    from flux_core.errors import FluxKitError

    mapping = live_comfy.nodes.NODE_CLASS_MAPPINGS
    names = live_comfy.import_module(f"{live_comfy.pack.__name__}.nodes.names")
    folder_paths.add_model_folder_path("loras", os.path.dirname(thin_models["klein_lora"]))
    with pytest.raises(FluxKitError, match=rf"^{re.escape(names.LORA_LOADER)}: the model is FLUX\.2 .*"
                       r"LoraLoaderModelOnly"):  # fmt: skip
        mapping["FluxKitLoraLoader"].execute(klein_model, os.path.basename(thin_models["klein_lora"]), 1.0)
    with pytest.raises(FluxKitError, match=rf"^{re.escape(names.TURBO_SCHEDULER)}: the model is FLUX\.2 .*"
                       r"Flux2Scheduler"):  # fmt: skip
        mapping["FluxKitTurboScheduler"].execute(klein_model, 4, 1024, 1024, "resolution")
    folder_paths.add_model_folder_path("controlnet", os.path.dirname(thin_models["controlnet"]))
    cn = (
        mapping["FluxKitInpaintControlNetLoader"]
        .execute(os.path.basename(thin_models["controlnet"]))
        .result[0]
    )
    with pytest.raises(FluxKitError, match=rf"^{re.escape(names.INPAINT_CN_APPLY)}: the model is FLUX\.2"):
        cn.copy().pre_run(klein_model.model, lambda percent: 1.0 - percent)
