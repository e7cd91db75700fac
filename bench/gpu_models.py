"""The models `bench.gpu_run` samples with: random weights in the published key layouts, made where they will run.

Full size (`SIZES["full"]`): FLUX.1-dev (19 double + 38 single blocks, width 3072, bf16, ~24 GB, BFL keys, what
UNETLoader loads), FLUX.1 Fill (the same with img_in 384 wide), the alimama Beta-shaped ControlNet (6 double
blocks), a Turbo-Alpha-shaped LoRA (rank 64 on every Linear), the FLUX VAE, and a saved prompt conditioning (T5
512 tokens + pooled CLIP-L) in place of the text encoders. `tiny`: one block of each kind (FLUX.1 detection needs
the real width), rank 4, 16 tokens: the same code on a CPU in a test.

Tensors are drawn on `device` from a seeded generator (a GPU fills 24 GB in seconds where a CPU takes minutes), in
bf16, then written with safetensors. Nothing is downloaded; files already there (same name, same size class) are
reused, so a second run in a warm machine starts at once.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import torch
from safetensors.torch import save_file

from fluxkit_catalog import model_files as mf
from fluxkit_testmodels.shapes import (
    FLUX_FILL_IMG_IN,
    flux_bfl_shapes,
    flux_vae_shapes,
    inpaint_controlnet_shapes,
    turbo_lora_shapes,
)
from fluxkit_testmodels.thin_set import write_thin_prompt

SIZES = {
    "full": {"double": 19, "single": 38, "cn_blocks": 6, "lora_rank": 64, "tokens": 512, "px": 1024},
    "tiny": {"double": 1, "single": 1, "cn_blocks": 1, "lora_rank": 4, "tokens": 16, "px": 128},
}
PROMPT_NAME = "fluxkit_gpu_bench_prompt.safetensors"  # in models/fluxkit_conditioning/


def random_on(shapes: dict, device: str, seed: int, gain: float = 1.0) -> dict[str, torch.Tensor]:
    """bf16 CPU tensors for `shapes`, drawn on `device`: weights N(0, gain²/fan_in), 1-D N(0, 0.02²) (+1 for
    norm scales), as `fluxkit_testmodels.shapes.random_state_dict` draws them on the CPU."""
    gen = torch.Generator(device=device).manual_seed(seed)
    out = {}
    for key, shape in shapes.items():
        t = torch.randn(shape, generator=gen, device=device, dtype=torch.float32)
        if len(shape) == 1:
            t = t * 0.02 + (1.0 if "norm" in key and key.endswith((".weight", ".scale")) else 0.0)
        else:
            t = t * (gain / math.sqrt(math.prod(shape[1:])))
        out[key] = t.to(torch.bfloat16).cpu()
        del t
    return out


def _write(path: Path, shapes: dict, device: str, seed: int, gain: float = 1.0) -> Path:
    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    save_file(
        random_on(shapes, device, seed, gain), str(tmp), metadata={"generator": "fluxkit.bench.gpu_models"}
    )
    os.replace(tmp, path)
    return path


def write_models(models: Path, size: str, device: str) -> dict[str, Path]:
    """Write the set into a ComfyUI models tree under the published names; returns {role: path}."""
    s = SIZES[size]
    out = {
        "flux": _write(
            models / "diffusion_models" / mf.FLUX_DEV, flux_bfl_shapes(s["double"], s["single"]), device, 1
        ),
        "fill": _write(
            models / "diffusion_models" / mf.FLUX_FILL,
            flux_bfl_shapes(s["double"], s["single"], img_in=FLUX_FILL_IMG_IN),
            device,
            2,
        ),  # fmt: skip
        "controlnet": _write(
            models / "controlnet" / mf.INPAINT_CN_BETA, inpaint_controlnet_shapes(s["cn_blocks"]), device, 3
        ),
        "lora": _write(
            models / "loras" / mf.TURBO_LORA,
            turbo_lora_shapes(s["double"], s["single"], s["lora_rank"]),
            device,
            4,
            gain=0.05,
        ),  # fmt: skip
        "vae": _write(models / "vae" / mf.FLUX_VAE, flux_vae_shapes(), device, 5),
    }
    prompt = models / "fluxkit_conditioning" / PROMPT_NAME
    if not prompt.is_file():
        prompt.parent.mkdir(parents=True, exist_ok=True)
        write_thin_prompt(str(prompt), tokens=s["tokens"])
    out["prompt"] = prompt
    return out


def total_gb(paths: dict[str, Path]) -> float:
    return sum(p.stat().st_size for p in paths.values()) / 1e9
