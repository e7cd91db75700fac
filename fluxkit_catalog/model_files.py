"""Model file names the workflows use, exactly as published (or, where a repo publishes a generic
`diffusion_pytorch_model.safetensors`, the repo's name, which is what alimama's ComfyUI guide and FluxKit's
downloader save it as). The folder each belongs in comes from `models.json`, which the downloader reads too."""

from __future__ import annotations

import json
from pathlib import Path

FLUX_DEV = "flux1-dev.safetensors"  # black-forest-labs/FLUX.1-dev → models/diffusion_models
FLUX_FILL = "flux1-fill-dev.safetensors"  # black-forest-labs/FLUX.1-Fill-dev → models/diffusion_models
FLUX_KONTEXT = (
    "flux1-kontext-dev.safetensors"  # black-forest-labs/FLUX.1-Kontext-dev → models/diffusion_models
)
FLUX_VAE = "ae.safetensors"  # black-forest-labs/FLUX.1-dev → models/vae
T5XXL = "t5xxl_fp16.safetensors"  # comfyanonymous/flux_text_encoders → models/text_encoders
CLIP_L = "clip_l.safetensors"  # comfyanonymous/flux_text_encoders → models/text_encoders
INPAINT_CN_BETA = (
    "FLUX.1-dev-Controlnet-Inpainting-Beta.safetensors"  # alimama-creative/… → models/controlnet
)
INPAINT_CN_ALPHA = (
    "FLUX.1-dev-Controlnet-Inpainting-Alpha.safetensors"  # alimama-creative/… → models/controlnet
)
TURBO_LORA = "FLUX.1-Turbo-Alpha.safetensors"  # alimama-creative/FLUX.1-Turbo-Alpha → models/loras
SDXL_BASE = "sd_xl_base_1.0.safetensors"  # stabilityai/stable-diffusion-xl-base-1.0 → models/checkpoints
DMD2_LORA = "dmd2_sdxl_4step_lora_fp16.safetensors"  # tianweiy/DMD2 → models/loras
QWEN2VL_FOLDER = "Qwen2-VL-7B-Instruct"  # Qwen/Qwen2-VL-7B-Instruct, a folder → models/qwen2vl/
QWEN_CONNECTOR = "connector.pt"  # Djrango/Qwen2vl-Flux qwen2-vl/connector.pt → models/qwen2vl_flux
QWEN_T5_EMBEDDER = "t5_embedder.pt"  # Djrango/Qwen2vl-Flux qwen2-vl/t5_embedder.pt → models/qwen2vl_flux
QWEN_UNION_CN = "Qwen2vl-Flux-ControlNet.safetensors"  # Djrango/Qwen2vl-Flux controlnet/ → models/controlnet
DEPTH_ANYTHING_FOLDER = "Depth-Anything-V2-Large-hf"  # depth-anything/…, a folder → models/depth_anything/
# FLUX.2 [klein] (ComfyUI 0.28+): the distilled 4B (Apache-2.0) in bf16 (Comfy-Org's repack) and BFL's fp8, the
# distilled 9B (FLUX Non-Commercial), the Qwen3 text encoders, the FLUX.2 VAE, fal's outpaint/inpaint LoRA for 4B
KLEIN_4B = (
    "flux-2-klein-4b.safetensors"  # Comfy-Org/flux2-klein-4B split_files/diffusion_models → diffusion_models
)
KLEIN_4B_FP8 = "flux-2-klein-4b-fp8.safetensors"  # black-forest-labs/FLUX.2-klein-4b-fp8 → diffusion_models
KLEIN_9B = "flux-2-klein-9b.safetensors"  # black-forest-labs/FLUX.2-klein-9B → diffusion_models
QWEN3_4B = (
    "qwen_3_4b.safetensors"  # Comfy-Org split_files/text_encoders → text_encoders (CLIPLoader type flux2)
)
QWEN3_8B = (
    "qwen_3_8b_fp8mixed.safetensors"  # Comfy-Org/flux2-klein-9B split_files/text_encoders → text_encoders
)
FLUX2_VAE = "flux2-vae.safetensors"  # Comfy-Org/vae-text-encorder-for-flux-klein-4b split_files/vae → vae
KLEIN_OUTPAINT_LORA = "flux-2-klein-4B-outpaint-lora.safetensors"  # fal/flux-2-klein-4B-outpaint-lora → loras

MANIFEST = Path(__file__).with_name("models.json")  # every file: folder, hub repos, size, sha256; presets


def _folders() -> dict[str, str]:
    files = json.loads(MANIFEST.read_text(encoding="utf-8"))["files"]
    return {name: entry["folder"] for name, entry in files.items()}


FOLDERS: dict[str, str] = _folders()  # file name → ComfyUI models sub-folder, from the manifest (one source)
