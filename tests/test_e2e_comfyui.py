"""End to end in a real ComfyUI server: every FLUX API workflow (thin-set variant) queued over HTTP, followed over the
websocket, outputs fetched; determinism; untouched pixels; bad prompts answered with errors naming the node while
the server stays up. Skipped, with the reason, where no ComfyUI checkout is found."""

from __future__ import annotations

import asyncio
import json
import re

import numpy as np
import pytest
import torch
from PIL import Image

from fluxkit_comfy.client import PromptFailed, PromptRejected, fetch_outputs, run_prompt
from fluxkit_testmodels.thin_inputs import set_inputs, thin_variant
from fluxkit_testmodels.thin_set import PROMPT_FILE
from fluxkit_workflows import paths

pytestmark = pytest.mark.comfyui
from conftest import E2E_SIZE as SIZE  # noqa: E402

RESOLUTION = 128
# Fewer steps than shipped where the step count is not what the test is about (CPU time); stated per workflow.
STEP_OVERRIDES = {
    "inpainting_28step": 3,
    "t2i_turbo_8step": 4,
    "qwen2vl_variation": 2,
    "qwen2vl_variation_text": 2,
    "qwen2vl_img2img": 5,
    "qwen2vl_inpaint": 2,
    "qwen2vl_controlnet_depth": 5,
    "qwen2vl_controlnet_line": 5,
    "qwen2vl_controlnet_inpaint": 5,
    "kontext_edit_masked": 4,  # ships with Kontext's 28
}
SAMPLED_STEPS = {  # denoise 0.8 of 5 steps
    "qwen2vl_img2img": 4, "qwen2vl_controlnet_depth": 4, "qwen2vl_controlnet_line": 4, "qwen2vl_controlnet_inpaint": 4,
}  # fmt: skip
KEEPS_INPUT_SIZE = (
    "inpainting",
    "qwen2vl_img2img",
    "qwen2vl_inpaint",
    "qwen2vl_controlnet",
    "fill_inpaint",
    "kontext",
)
OUTPAINT_PX = 256  # fill_outpaint_turbo_8step pads the canvas on the right
FLUX_WORKFLOWS = [
    "inpainting_turbo_8step", "inpainting_28step", "t2i_turbo_8step", "qwen2vl_variation", "qwen2vl_variation_text",
    "qwen2vl_img2img", "qwen2vl_inpaint", "qwen2vl_controlnet_depth", "qwen2vl_controlnet_line",
    "qwen2vl_controlnet_inpaint", "fill_inpaint_turbo_8step", "fill_outpaint_turbo_8step", "kontext_edit_masked",
]  # fmt: skip


@pytest.fixture(scope="module")
def server(comfy_server):
    return comfy_server


def prepared(name: str, seed: int = 24) -> dict:
    api = thin_variant(json.loads((paths.API_DIR / f"{name}.json").read_text()), PROMPT_FILE, RESOLUTION)
    set_inputs(api, "LoadImage", image="fluxkit_e2e.png")
    set_inputs(api, "RandomNoise", noise_seed=seed)
    if name in STEP_OVERRIDES:
        set_inputs(api, "FluxKitTurboScheduler", steps=STEP_OVERRIDES[name])
    return api


def run(server, api: dict, out_dir) -> tuple:
    result = asyncio.run(run_prompt(server.url, api, timeout_s=900))
    files = asyncio.run(fetch_outputs(server.url, result, out_dir))
    assert len(files) == 1, result.outputs
    return result, np.asarray(Image.open(files[0]).convert("RGB"))


def fluxkit_problems(log: str) -> list[str]:
    return [
        line for line in log.splitlines()
        if re.search(r"fluxkit", line, re.I) and re.search(r"error|warning|traceback|exception", line, re.I)
        and "IMPORT FAILED" not in line
    ]  # fmt: skip


@pytest.mark.parametrize("name", FLUX_WORKFLOWS)
def test_workflow_runs(server, name, tmp_path):
    mark = server.log_mark()  # judge only this prompt's log lines (other tests provoke errors on purpose)
    result, image = run(server, prepared(name), tmp_path)
    expected_hw = SIZE[::-1] if name.startswith(KEEPS_INPUT_SIZE) else (RESOLUTION, RESOLUTION)
    if name == "fill_outpaint_turbo_8step":
        expected_hw = (SIZE[1], SIZE[0] + OUTPAINT_PX)
    assert image.shape[:2] == expected_hw
    steps = SAMPLED_STEPS.get(name, STEP_OVERRIDES.get(name, 8))
    assert result.progress_events >= steps  # the sampler reported progress over the websocket
    sampler_id = next(k for k, v in prepared(name).items() if v["class_type"] == "SamplerCustomAdvanced")
    print(
        f"{name}: wall {result.wall_s:.1f} s, sampler {result.node_seconds.get(sampler_id, 0):.1f} s / {steps} steps"
    )
    if name.startswith(("inpainting", "qwen2vl_inpaint")):  # the apply node previews the hole over the image
        apply_id = next(
            k for k, v in prepared(name).items() if v["class_type"] == "FluxKitInpaintControlNetApply"
        )
        assert [i["type"] for i in result.outputs[apply_id]["images"]] == ["temp"]
    assert fluxkit_problems(server.log_text(since=mark)) == []
    assert server.alive()


def hole_and_feather(width: int, height: int, reach: int) -> np.ndarray:
    """Where the demo image's hole is, dilated by `reach` px (grow + feather + resampling margin)."""
    from PIL import ImageDraw

    alpha = Image.new("L", (width, height), 0)
    ImageDraw.Draw(alpha).ellipse([width * 2 // 5, height // 3, width * 3 // 4, height * 5 // 6], fill=255)
    hole = torch.from_numpy(np.asarray(alpha) > 0).float()[None, None]
    grown = torch.nn.functional.max_pool2d(hole, 2 * reach + 1, stride=1, padding=reach)
    return grown[0, 0].numpy() > 0


def test_same_seed_same_image_and_untouched_pixels(server, tmp_path):
    _, first = run(server, prepared("inpainting_turbo_8step", seed=7), tmp_path / "a")
    _, other = run(server, prepared("inpainting_turbo_8step", seed=8), tmp_path / "b")
    _, again = run(server, prepared("inpainting_turbo_8step", seed=7), tmp_path / "c")
    assert np.array_equal(first, again)
    assert np.abs(first.astype(int) - other.astype(int)).mean() > 1.0
    source = np.asarray(Image.open(server.base_dir / "input" / "fluxkit_e2e.png").convert("RGB"))
    near = hole_and_feather(*SIZE, reach=8 + 16 + 2)  # grow_px 8 + feather_px 16 in the workflow
    assert np.array_equal(first[~near], source[~near])
    assert np.abs(first[near].astype(int) - source[near].astype(int)).mean() > 5.0


@pytest.mark.parametrize("name", ["fill_inpaint_turbo_8step", "kontext_edit_masked"])
def test_fill_and_kontext_change_only_the_masked_region(server, name, tmp_path):
    _, out = run(server, prepared(name), tmp_path)
    source = np.asarray(Image.open(server.base_dir / "input" / "fluxkit_e2e.png").convert("RGB"))
    near = hole_and_feather(*SIZE, reach=8 + 16 + 2)  # grow_px 8 + feather_px 16 in the workflows
    assert np.array_equal(out[~near], source[~near])
    assert np.abs(out[near].astype(int) - source[near].astype(int)).mean() > 5.0


def test_fill_outpaint_keeps_the_original_and_fills_the_new_area(server, tmp_path):
    _, out = run(server, prepared("fill_outpaint_turbo_8step"), tmp_path)
    source = np.asarray(Image.open(server.base_dir / "input" / "fluxkit_e2e.png").convert("RGB"))
    width = SIZE[0]
    keep = width - (8 + 16 + 2)  # the new area grown 8 px and feathered 16 px into the original, + resampling
    assert out.shape[:2] == (SIZE[1], width + OUTPAINT_PX)
    assert np.array_equal(out[:, :keep], source[:, :keep])
    new = out[:, width + 8 :].astype(int)
    assert np.abs(new - 128).mean() > 5.0 and new.std() > 5.0  # not the pad node's flat grey: sampled


def test_missing_model_is_a_validation_error_naming_the_node(server):
    api = prepared("inpainting_turbo_8step")
    set_inputs(api, "UNETLoader", unet_name="no-such-model.safetensors")
    with pytest.raises(PromptRejected, match=r"node 1 \(UNETLoader\).*no-such-model"):
        asyncio.run(run_prompt(server.url, api))
    assert server.alive()


def test_mask_of_wrong_size_is_an_execution_error_naming_the_node(server):
    api = prepared("inpainting_turbo_8step")
    api["90"] = {
        "inputs": {"image": "fluxkit_other_size.png", "channel": "alpha"},
        "class_type": "LoadImageMask",
    }
    crop = next(k for k, v in api.items() if v["class_type"] == "FluxKitInpaintCrop")
    api[crop]["inputs"]["mask"] = ["90", 0]
    with pytest.raises(
        PromptFailed, match=rf"node {crop} \(FluxKitInpaintCrop\).*image is 200×152 but mask is 96×64"
    ):
        asyncio.run(run_prompt(server.url, api))
    assert server.alive()


def test_wrong_file_into_controlnet_loader_is_an_execution_error(server):
    api = prepared("inpainting_turbo_8step")
    set_inputs(api, "FluxKitInpaintControlNetLoader", control_net_name="not-a-controlnet.safetensors")
    with pytest.raises(PromptFailed, match=r"FluxKitInpaintControlNetLoader.*not-a-controlnet"):
        asyncio.run(run_prompt(server.url, api))
    assert server.alive()


def test_template_thumbnails_are_served_by_fluxkit_route(server):
    """In the real server: FluxKit's thumbnail route is registered (the path without /api is served by it alone on
    0.3.64/0.28, whose static route is mounted under /api only) and the /api path the template browser asks for works."""
    import urllib.request

    name = next(paths.TEMPLATE_DIR.glob("*.jpg")).name
    for prefix in ("", "/api"):
        with urllib.request.urlopen(f"{server.url}{prefix}/workflow_templates/ComfyUI-FluxKit/{name}") as r:
            assert r.status == 200 and r.read() == (paths.TEMPLATE_DIR / name).read_bytes()
