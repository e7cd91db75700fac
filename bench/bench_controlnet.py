"""FluxKit inpainting ControlNet forward vs diffusers' FluxControlNetModel, same weights, same process.

The diffusers model is built with in_channels=64 and its `controlnet_x_embedder` replaced by a 68-in Linear (what
alimama's fork adds); both models get the same random weights. Reported: median seconds per forward after warm-up
and the ratio FluxKit / diffusers, plus the max relative difference of the residuals FLUX actually uses (FluxKit
computes only those: on FLUX's 19 double blocks the interleave rule never uses the 6th residual).
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

import torch

from flux_core.control_input import image_ids
from flux_core.controlnet_model import AlimamaInpaintControlNet, InpaintControlNetConfig
from flux_core.residual_schedule import residual_schedule, residuals_used


@dataclass(frozen=True)
class CNBenchCase:
    name: str
    heads: int  # width = heads * 128
    blocks: int
    image_px: int  # square image side; tokens = (px/16)²
    txt_tokens: int = 128


def build_pair(heads: int, blocks: int, seed: int = 0):
    """(diffusers model, FluxKit model) with identical random weights, fp32, eval mode."""
    from fluxkit_testmodels.cn_reference import diffusers_inpaint_controlnet

    ref = diffusers_inpaint_controlnet(heads, 128, blocks, 4096, 768, (16, 56, 56), seed=seed, bias_std=0.02)
    cfg = InpaintControlNetConfig(hidden_size=heads * 128, num_heads=heads, num_double_blocks=blocks)
    ours = AlimamaInpaintControlNet(cfg)
    ours.load_state_dict(ref.state_dict(), strict=True)
    return ref, ours.eval()


def inputs(case: CNBenchCase, seed: int = 1) -> dict:
    g = torch.Generator().manual_seed(seed)
    side = case.image_px // 16
    L = side * side
    ids = image_ids((2 * side, 2 * side), 1)[0]  # [L, 3] (0, row, col), as the ControlNet's own inputs
    return {
        "img": torch.randn(1, L, 64, generator=g),
        "cond": torch.randn(1, L, 68, generator=g),
        "txt": torch.randn(1, case.txt_tokens, 4096, generator=g),
        "pooled": torch.randn(1, 768, generator=g),
        "t": torch.tensor([0.7]),
        "guidance": torch.tensor([3.5]),
        "img_ids": ids,
        "txt_ids": torch.zeros(case.txt_tokens, 3),
    }


def _paired_seconds(ref, ours, repeats: int, warmup: int) -> tuple[float, float, float]:
    """Alternate the two (ref, ours, ref, ours, …) so load changes on a shared machine hit both alike.
    Returns (median ref s, median ours s, median of the per-pair ratios ours/ref)."""
    for _ in range(warmup):
        ref(), ours()
    pairs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        ref()
        t1 = time.perf_counter()
        ours()
        pairs.append((t1 - t0, time.perf_counter() - t1))
    return (
        statistics.median(r for r, _ in pairs),
        statistics.median(o for _, o in pairs),
        statistics.median(o / r for r, o in pairs),
    )


def run_case(case: CNBenchCase, repeats: int = 3, warmup: int = 1) -> dict:
    ref, ours = build_pair(case.heads, case.blocks)
    x = inputs(case)
    used = residuals_used(residual_schedule(19, case.blocks))

    def run_ref():
        with torch.inference_mode():
            return ref(
                hidden_states=x["img"],
                controlnet_cond=x["cond"],
                encoder_hidden_states=x["txt"],
                pooled_projections=x["pooled"],
                timestep=x["t"],
                guidance=x["guidance"],
                img_ids=x["img_ids"],
                txt_ids=x["txt_ids"],
                return_dict=False,
            )[0]

    def run_ours():
        with torch.inference_mode():
            return ours(
                img=x["img"],
                cond=x["cond"],
                txt=x["txt"],
                pooled=x["pooled"],
                timesteps=x["t"],
                guidance=x["guidance"],
                img_ids=x["img_ids"],
                txt_ids=x["txt_ids"],
                num_residuals=used,
            )

    ref_out, our_out = run_ref(), run_ours()
    err = max(((a - b).abs().max() / a.abs().max()).item() for a, b in zip(ref_out[:used], our_out))
    t_ref, t_ours, ratio = _paired_seconds(run_ref, run_ours, repeats, warmup)
    return {
        "case": case.name,
        "width": case.heads * 128,
        "blocks": case.blocks,
        "image_px": case.image_px,
        "img_tokens": (case.image_px // 16) ** 2,
        "txt_tokens": case.txt_tokens,
        "residuals_used": used,
        "diffusers_s": t_ref,
        "fluxkit_s": t_ours,
        "ratio": ratio,  # median of per-pair ratios
        "max_rel_err": err,
    }
