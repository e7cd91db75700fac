"""The thin model set: real-width, one-block stand-ins for every model the FLUX workflows load, generated on first
use (random weights in the published key layouts) and cached outside the repo.

Real ComfyUI infers only block counts from a FLUX checkpoint (width 3072, 24 heads, text width 4096 are fixed) and
fixes the VAE's widths, so these files are full width and shallow. T5-XXL is far too heavy for a CPU, so the prompt
comes from a saved-conditioning file (FluxKit Load Conditioning), the same feature users use to skip T5.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import torch

from flux_core.conditioning_io import save_conditioning
from fluxkit_catalog import model_files as mf

from . import shapes as tm
from . import thin_klein

THIN_VERSION = "v2"  # v2: the tiny Qwen2-VL config.json in the published layout
PROMPT_FILE = "fluxkit-thin-prompt.safetensors"
KLEIN_PROMPT_FILE = "fluxkit-thin-klein-prompt.safetensors"  # Qwen3 states (7680 wide), no pooled vector


def thin_dir() -> Path:
    return Path(
        os.environ.get("FLUXKIT_THIN_DIR", Path.home() / ".cache" / "fluxkit" / "thin" / THIN_VERSION)
    )


def write_thin_prompt(path: str, tokens: int = 16, seed: int = 0) -> str:
    """A random FLUX prompt conditioning ([1, tokens, 4096] T5 states, [1, 768] pooled CLIP-L, guidance 3.5)."""
    gen = torch.Generator().manual_seed(seed)
    cond = torch.randn(1, tokens, tm.FLUX_CONTEXT, generator=gen) * 0.1
    pooled = torch.randn(1, tm.FLUX_POOLED, generator=gen) * 0.1
    save_conditioning(path, [(cond, {"pooled_output": pooled, "guidance": 3.5})])
    return path


def _kontext(path: str) -> str:
    """FLUX.1 Kontext has FLUX.1-dev's architecture (the reference image rides as extra tokens, no new weights)."""
    return tm.write_thin_flux(path, seed=2)


def _tiny_qwen(path: str) -> str:
    from .thin_qwen2vl import write_tiny_qwen2vl

    write_tiny_qwen2vl(Path(path))
    return path


def _connector(path: str) -> str:
    from .thin_qwen2vl import write_connector

    return str(write_connector(Path(path)))


def _union_cn(path: str) -> str:
    from .thin_union import write_thin_union_controlnet

    return write_thin_union_controlnet(path)


def _depth_anything(path: str) -> str:
    from .thin_depth import write_tiny_depth_anything

    return write_tiny_depth_anything(path)


def _t5_embedder(path: str) -> str:
    from .thin_qwen2vl import write_t5_embedder

    return str(write_t5_embedder(Path(path)))


GENERATORS = {
    "flux": ("flux1-dev-thin.safetensors", tm.write_thin_flux),
    "fill": ("flux1-fill-dev-thin.safetensors", tm.write_thin_fill),
    "kontext": ("flux1-kontext-dev-thin.safetensors", _kontext),
    "vae": ("ae-thin.safetensors", tm.write_thin_vae),
    "controlnet": ("alimama-inpaint-cn-thin.safetensors", tm.write_thin_inpaint_controlnet),
    "lora": ("turbo-thin-r4-s0.safetensors", tm.write_thin_turbo_lora),
    "conditioning": (PROMPT_FILE, write_thin_prompt),
    "qwen2vl": ("tiny-qwen2vl", _tiny_qwen),  # a folder
    "qwen_connector": ("qwen2vl-flux-connector-tiny.pt", _connector),
    "qwen_t5_embedder": ("qwen2vl-flux-t5_embedder.pt", _t5_embedder),
    "union_controlnet": ("qwen2vl-flux-union-cn-thin.safetensors", _union_cn),
    "depth_anything": ("tiny-depth-anything-v2", _depth_anything),  # a folder
    "klein": ("flux-2-klein-thin.safetensors", thin_klein.write_thin_klein),
    "flux2_vae": ("flux2-vae-thin.safetensors", thin_klein.write_thin_flux2_vae),
    "klein_conditioning": (KLEIN_PROMPT_FILE, thin_klein.write_klein_prompt),
    "klein_lora": ("klein-inpaint-lora-thin.safetensors", thin_klein.write_thin_klein_lora),
}
# Where each thin file stands in for a published file (the folder comes from models.json).
STANDS_FOR = {
    "flux": mf.FLUX_DEV,
    "fill": mf.FLUX_FILL,
    "kontext": mf.FLUX_KONTEXT,
    "vae": mf.FLUX_VAE,
    "controlnet": mf.INPAINT_CN_BETA,
    "lora": mf.TURBO_LORA,
    "qwen_connector": mf.QWEN_CONNECTOR,
    "qwen_t5_embedder": mf.QWEN_T5_EMBEDDER,
    "union_controlnet": mf.QWEN_UNION_CN,
    "klein": mf.KLEIN_4B,
    "flux2_vae": mf.FLUX2_VAE,
    "klein_lora": mf.KLEIN_OUTPAINT_LORA,
}
# Not manifest files: FluxKit's own saved-conditioning folder and the Qwen2-VL model folder.
EXTRA_PLACES = {
    "conditioning": ("fluxkit_conditioning", PROMPT_FILE),
    "klein_conditioning": ("fluxkit_conditioning", KLEIN_PROMPT_FILE),
    "qwen2vl": ("qwen2vl", mf.QWEN2VL_FOLDER),
    "depth_anything": ("depth_anything", mf.DEPTH_ANYTHING_FOLDER),
}


def places() -> dict[str, tuple[str, str]]:
    """Thin-set entry → (ComfyUI models folder, published name) it stands in for."""
    return {name: (mf.FOLDERS[published], published) for name, published in STANDS_FOR.items()} | EXTRA_PLACES


def ensure_thin_set(root: Path | None = None) -> dict[str, str]:
    """Paths of every thin file, generating the missing ones (a few seconds each; ~1.5 GB in all)."""
    root = root or thin_dir()
    root.mkdir(parents=True, exist_ok=True)
    out = {}
    for name, (file_name, write) in GENERATORS.items():
        path = root / file_name
        if not path.exists():
            tmp = path.with_name(path.name + ".partial")
            if tmp.is_dir():
                shutil.rmtree(tmp)
            write(str(tmp))
            tmp.replace(path)
        out[name] = str(path)
    return out


def link_into_models(models_dir: Path, thin: dict[str, str]) -> None:
    """Symlink the thin files into a ComfyUI models tree under the published names the workflows use."""
    for name, (folder, published) in places().items():
        target = models_dir / folder / published
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_symlink() or target.exists():
            target.unlink()
        target.symlink_to(thin[name], target_is_directory=Path(thin[name]).is_dir())
