"""One FLUX.1-dev sampling step with the alimama inpainting ControlNet at full size, on a GPU, vs the FLOP floor.

    COMFYUI_PATH=~/ComfyUI python -m bench.gpu_step                # H100/H200: bf16, 1024², random weights
    COMFYUI_PATH=~/ComfyUI python -m bench.gpu_step --tiny --device cpu   # smoke test (tests run this)

Models (random bf16 weights, nothing downloaded): ComfyUI's own FLUX (`comfy.ldm.flux.model.Flux`, 19 double +
38 single blocks, width 3072, ~12 B params, ~24 GB) as the base; the Beta-shaped ControlNet (6 double blocks)
twice: FluxKit's `AlimamaInpaintControlNet` (interval residual rule, 6th block skipped) and core's
`ControlNetFlux(latent_input=True, control_latent_channels=17)` as `ControlNetLoader` builds it. Timed, median over
repeats after warm-up, CUDA-synchronised: base alone; ControlNet forward alone (FluxKit, core); a full step
(ControlNet + base with its residuals) for each. The FLOP floor counts every matmul and attention product of the
step and divides by the bf16 matmul rate measured on the same device (8192³ products). Never run in CI.
"""

from __future__ import annotations

import json
import statistics
import time

import torch

import fluxkit_cli as cli
from flux_core.control_input import image_ids, pack_tokens
from flux_core.controlnet_model import AlimamaInpaintControlNet, InpaintControlNetConfig
from flux_core.residual_schedule import residual_schedule, residuals_used

FULL = {"hidden": 3072, "heads": 24, "double": 19, "single": 38, "cn_blocks": 6, "px": 1024, "txt": 512}
TINY = {"hidden": 256, "heads": 2, "double": 3, "single": 2, "cn_blocks": 2, "px": 128, "txt": 16}


def block_flops(tokens: int, hidden: int) -> float:
    """Matmul + attention FLOPs of one FLUX block over `tokens` (double and single blocks both come to this):
    24·L·d² for the projections and MLP (qkv 6, out 2, MLP 16) and 4·L²·d for QKᵀ and AV."""
    return 24 * tokens * hidden**2 + 4 * tokens**2 * hidden


def step_flops(cfg: dict, img_tokens: int, cn_blocks_run: int) -> dict[str, float]:
    tokens = img_tokens + cfg["txt"]
    base = (cfg["double"] + cfg["single"]) * block_flops(tokens, cfg["hidden"])
    base += 2 * img_tokens * 64 * cfg["hidden"] * 2 + 2 * cfg["txt"] * 4096 * cfg["hidden"]  # in/out, context
    cn = (
        cn_blocks_run * block_flops(tokens, cfg["hidden"])
        + cn_blocks_run * 2 * img_tokens * cfg["hidden"] ** 2
    )
    cn += 2 * img_tokens * (64 + 68) * cfg["hidden"] + 2 * cfg["txt"] * 4096 * cfg["hidden"]
    return {"base": base, "controlnet": cn, "step": base + cn}


def matmul_rate(device: str, dtype: torch.dtype, n: int) -> float:
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    return 2 * n**3 / timed(lambda: a @ b, device, repeats=10)


def timed(fn, device: str, repeats: int = 5, warmup: int = 2) -> float:
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


@torch.no_grad()
def randomise(module: torch.nn.Module, seed: int) -> torch.nn.Module:
    g = torch.Generator(device="cpu").manual_seed(seed)
    for p in module.parameters():
        fan_in = p.shape[-1] if p.ndim > 1 else 1
        p.copy_((torch.randn(p.shape, generator=g) * (0.02 if p.ndim == 1 else fan_in**-0.5)).to(p.dtype))
    return module


def flux1_version_params(flux_params) -> dict:
    """FluxParams fields newer ComfyUI releases require, with the values its model detection gives FLUX.1
    (0.4.0 made `txt_ids_dims` required; FLUX.1 has none: `[]`)."""
    import dataclasses

    fields = {f.name for f in dataclasses.fields(flux_params)}
    return {k: v for k, v in {"txt_ids_dims": []}.items() if k in fields}


def build(cfg: dict, device: str, dtype: torch.dtype):
    import comfy.ldm.flux.controlnet
    import comfy.ldm.flux.model
    import comfy.ops

    ops = comfy.ops.disable_weight_init
    params = dict(
        in_channels=16, out_channels=16, vec_in_dim=768, context_in_dim=4096, hidden_size=cfg["hidden"],
        mlp_ratio=4.0, num_heads=cfg["heads"], axes_dim=[16, 56, 56], theta=10000, patch_size=2, qkv_bias=True,
        guidance_embed=True,
    )  # fmt: skip
    params.update(flux1_version_params(comfy.ldm.flux.model.FluxParams))
    base = comfy.ldm.flux.model.Flux(
        depth=cfg["double"],
        depth_single_blocks=cfg["single"],
        operations=ops,
        device=device,
        dtype=dtype,
        **params,
    )
    core_cn = comfy.ldm.flux.controlnet.ControlNetFlux(
        latent_input=True, control_latent_channels=17, depth=cfg["cn_blocks"], depth_single_blocks=0,
        operations=ops, device=device, dtype=dtype, **params,
    )  # fmt: skip
    core_cn.main_model_double = cfg["double"]
    fk_cfg = InpaintControlNetConfig(
        hidden_size=cfg["hidden"], num_heads=cfg["heads"], num_double_blocks=cfg["cn_blocks"]
    )
    fluxkit_cn = AlimamaInpaintControlNet(fk_cfg, dtype=dtype, device=device)
    return randomise(base, 0).eval(), randomise(core_cn, 1).eval(), randomise(fluxkit_cn, 2).eval()


def run(cfg: dict, device: str, dtype: torch.dtype, repeats: int) -> dict:
    base, core_cn, fluxkit_cn = build(cfg, device, dtype)
    lat = cfg["px"] // 8
    img_tokens = (lat // 2) ** 2
    x = torch.randn(1, 16, lat, lat, device=device, dtype=dtype)
    hint = torch.randn(1, 17, lat, lat, device=device, dtype=dtype)
    context = torch.randn(1, cfg["txt"], 4096, device=device, dtype=dtype)
    y = torch.randn(1, 768, device=device, dtype=dtype)
    t = torch.full((1,), 0.7, device=device, dtype=dtype)
    g = torch.full((1,), 3.5, device=device, dtype=dtype)
    schedule = residual_schedule(cfg["double"], cfg["cn_blocks"])
    needed = residuals_used(schedule)

    # FluxKit's inputs in its packed layout (what its control object builds from the same latents)
    img, cond = pack_tokens(x), pack_tokens(hint)  # [B, L, 64] / [B, L, 68], (c ph pw) per token
    img_ids = image_ids((lat, lat), 1, device=device, dtype=dtype)[0]  # [L, 3]
    txt_ids = torch.zeros(cfg["txt"], 3, device=device, dtype=dtype)

    def fluxkit_control():
        res = fluxkit_cn(img, cond, context, y, t, g, img_ids, txt_ids, num_residuals=needed)
        return {"input": [res[i] for i in schedule], "output": []}

    def core_control():  # ComfyUI's control_merge always supplies an "output" list; do the same
        return {"output": [], **core_cn(x, t, context, y=y, guidance=g, hint=hint)}

    with torch.inference_mode():
        out = {
            "base_s": timed(lambda: base(x, t, context, y=y, guidance=g), device, repeats),
            "fluxkit_cn_s": timed(fluxkit_control, device, repeats),
            "core_cn_s": timed(core_control, device, repeats),
            "fluxkit_step_s": timed(
                lambda: base(x, t, context, y=y, guidance=g, control=fluxkit_control()), device, repeats
            ),
            "core_step_s": timed(
                lambda: base(x, t, context, y=y, guidance=g, control=core_control()), device, repeats
            ),
        }
    flops = step_flops(cfg, img_tokens, needed)
    rate = matmul_rate(device, dtype, 8192 if device.startswith("cuda") else 1024)
    out.update(
        img_tokens=img_tokens,
        cn_blocks_run_fluxkit=needed,
        matmul_tflops=rate / 1e12,
        floor_step_s=flops["step"] / rate,
        floor_base_s=flops["base"] / rate,
        step_vs_floor=out["fluxkit_step_s"] / (flops["step"] / rate),
        fluxkit_vs_core_step=out["fluxkit_step_s"] / out["core_step_s"],
        fluxkit_vs_core_cn=out["fluxkit_cn_s"] / out["core_cn_s"],
        device=torch.cuda.get_device_name() if device.startswith("cuda") else "cpu",
        peak_gpu_gb=torch.cuda.max_memory_allocated() / 2**30 if device.startswith("cuda") else None,
    )
    return out


def main(argv: list[str] | None = None) -> int:
    ap = cli.Parser(prog="python -m bench.gpu_step", description=__doc__.split("\n\n")[0])
    ap.add_argument("--tiny", action="store_true", help="small widths for a CPU smoke run")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args(argv)
    from fluxkit_comfy.inprocess import find_comfyui

    comfyui = find_comfyui()
    if comfyui is None:
        print("needs ComfyUI's FLUX model code: set COMFYUI_PATH")
        return 2
    import sys

    sys.path.insert(0, str(comfyui))
    import comfy.cli_args

    comfy.cli_args.args.cpu = args.device == "cpu"  # decided before comfy.model_management is imported
    dtype = torch.float32 if args.device == "cpu" else torch.bfloat16
    result = run(TINY if args.tiny else FULL, args.device, dtype, args.repeats)
    for k, v in result.items():
        print(f"{k:>22}: {v:.4f}" if isinstance(v, float) else f"{k:>22}: {v}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(cli.run(main, "python -m bench.gpu_step"))
