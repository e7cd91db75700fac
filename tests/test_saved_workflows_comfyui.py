"""Workflows saved with release 0.1.0's stored values (`tests/saved_workflows/`, copied from that release's files;
combo values were then the labels, e.g. "binary (alimama training)") still validate and run the same in today's
ComfyUI, and the same run with today's short ids gives the same image."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from fluxkit_testmodels.thin_inputs import set_inputs, thin_variant
from fluxkit_testmodels.thin_set import PROMPT_FILE
from fluxkit_workflows import paths
from fluxkit_workflows.convert import ui_to_api
from fluxkit_workflows.schemas import load_schemas

pytestmark = pytest.mark.comfyui
SAVED = Path(__file__).parent / "saved_workflows"
# The inputs whose stored values changed from labels to ids (and must keep accepting the labels).
CHANGED = {
    "FluxKitInpaintControlNetApply": {"mask_mode": "binary (alimama training)"},
    "FluxKitTurboScheduler": {"shift": "resolution (FLUX dynamic μ)"},
    "FluxKitDMD2Scheduler": {"preset": "4-step 999,749,499,249", "flow_mapping": "shifted by the model (t/1000 → model sigma)"},
    "FluxKitDMD2Sampler": {"first_step_noise": "unit (DMD2)"},
    "FluxKitQwen2VLConnectorLoader": {"t5_embedder_name": "none (image only)"},
}  # fmt: skip


def saved_prompts() -> dict[str, dict]:
    prompts = {p.name: json.loads(p.read_text()) for p in sorted(SAVED.glob("*.api.json"))}
    for p in sorted(SAVED.glob("*.ui.json")):
        prompts[p.name] = ui_to_api(json.loads(p.read_text()), load_schemas())
    return prompts


def combo_errors(live_comfy, prompt: dict) -> dict[str, list]:
    """ComfyUI's own validation of `prompt`: errors on the inputs whose stored values changed, per node id (missing
    model files are expected here: the in-process ComfyUI has none of the published files)."""
    execution = live_comfy.import_module("execution")
    _valid, _error, _outputs, node_errors = asyncio.run(execution.validate_prompt("saved", prompt, None))
    out = {}
    for node_id, err in node_errors.items():
        bad = [
            e
            for e in err["errors"]
            if e.get("extra_info", {}).get("input_name") in CHANGED.get(err["class_type"], {})
        ]
        bad += [e for e in err["errors"] if e["type"] == "custom_validation_failed"]
        if bad:
            out[node_id] = bad
    return out


def test_saved_files_hold_the_released_values():
    seen = {
        (node["class_type"], name): value
        for prompt in saved_prompts().values()
        for node in prompt.values()
        for name, value in node["inputs"].items()
        if name in CHANGED.get(node["class_type"], {})
    }
    assert seen == {(cls, name): v for cls, inputs in CHANGED.items() for name, v in inputs.items()}


def test_saved_workflows_validate_in_comfyui_and_unknown_values_are_named(live_comfy):
    prompts = saved_prompts()
    assert len(prompts) == 4
    for name, prompt in prompts.items():
        assert combo_errors(live_comfy, prompt) == {}, name
    broken = json.loads(json.dumps(prompts["inpainting_turbo_8step.api.json"]))
    apply_id = next(k for k, v in broken.items() if v["class_type"] == "FluxKitInpaintControlNetApply")
    broken[apply_id]["inputs"]["mask_mode"] = "fuzzy"
    errors = combo_errors(live_comfy, broken)
    assert list(errors) == [apply_id]
    assert (
        "FluxKit Inpaint ControlNet Apply (alimama): mask_mode 'fuzzy' is not one of ['binary', 'soft']"
        in str(errors)
    )


def test_released_values_give_what_the_ids_give(live_comfy, thin_models):
    flux = live_comfy.import_module("comfy.sd").load_diffusion_model(thin_models["flux"])
    nodes = live_comfy.nodes.NODE_CLASS_MAPPINGS
    pairs = [
        ("FluxKitTurboScheduler", dict(model=flux, steps=8, width=512, height=768), "shift",
         [("resolution (FLUX dynamic μ)", "resolution"), ("model's own shift", "model")]),
        ("FluxKitDMD2Scheduler", dict(model=flux, preset="2step", custom_timesteps=""), "flow_mapping",
         [("shifted by the model (t/1000 → model sigma)", "shifted"), ("literal (σ = t/1000)", "literal"),
          ("SNR-matched (σ_VE/(1+σ_VE))", "snr")]),
        ("FluxKitDMD2Scheduler", dict(model=flux, custom_timesteps="", flow_mapping="literal"), "preset",
         [("4-step 999,749,499,249", "4step"), ("2-step 999,499", "2step")]),
    ]  # fmt: skip
    results = {}
    for node_id, inputs, name, values in pairs:
        for old, new in values:
            a = nodes[node_id].execute(**inputs, **{name: old}).result[0]
            b = nodes[node_id].execute(**inputs, **{name: new}).result[0]
            assert torch.equal(a, b), (node_id, old)
            results[(node_id, new)] = b
    assert not torch.equal(
        results[("FluxKitTurboScheduler", "resolution")], results[("FluxKitTurboScheduler", "model")]
    )
    assert len(results[("FluxKitDMD2Scheduler", "4step")]) == 5
    sampler = nodes["FluxKitDMD2Sampler"]
    for old, new, unit in [("unit (DMD2)", "unit", True), ("ComfyUI default", "comfyui", False)]:
        assert sampler.execute(old).result[0].extra_options == {"unit_noise_first_step": unit}
        assert sampler.execute(new).result[0].extra_options == {"unit_noise_first_step": unit}


def test_saved_inpainting_workflow_runs_and_equals_todays(comfy_server, tmp_path):
    from PIL import Image

    from fluxkit_comfy.client import fetch_outputs, run_prompt

    images = []
    for source in (SAVED / "inpainting_turbo_8step.api.json", paths.API_DIR / "inpainting_turbo_8step.json"):
        api = thin_variant(json.loads(source.read_text()), PROMPT_FILE, 64)
        set_inputs(api, "LoadImage", image="fluxkit_e2e.png")
        set_inputs(api, "FluxKitTurboScheduler", steps=2)
        # 0.1.0 saved colour_match false (then a ring-statistics match); today's workflow has the new correction
        # on. The saved file runs with it off and gains alignment and the multi-band blend (new inputs, defaults),
        # as today's does with colour_match set the same way.
        set_inputs(api, "FluxKitInpaintStitch", colour_match=False)
        result = asyncio.run(run_prompt(comfy_server.url, api, timeout_s=600))
        (file,) = asyncio.run(fetch_outputs(comfy_server.url, result, tmp_path / source.parent.name))
        images.append(np.asarray(Image.open(file).convert("RGB")))
    assert images[0].shape == images[1].shape and images[0].std() > 1
    assert np.array_equal(images[0], images[1])
