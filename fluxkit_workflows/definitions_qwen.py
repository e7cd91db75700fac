"""Qwen2VL-Flux workflows: variation (image only, image + text), img2img and inpainting, all built on FluxKit's
Qwen2VL-Flux encode node, whose output is ordinary FLUX conditioning."""

from __future__ import annotations

from dataclasses import dataclass

from . import model_files as mf
from .definitions import EXAMPLE_IMAGE, text_models
from .graph import Graph, NodeRef
from .schemas import load_schemas

QWEN_NOTE = """Qwen2VL-Flux {mode}: FLUX generates from what Qwen2-VL sees in the reference image{text2}.

MODELS:
- qwen2vl/{qwen}/ : the Qwen/Qwen2-VL-7B-Instruct folder (~15 GB bf16; `huggingface-cli download
  Qwen/Qwen2-VL-7B-Instruct --local-dir models/qwen2vl/{qwen}`). It is moved to the GPU only while encoding.
- qwen2vl_flux/{conn}{t5}  (Djrango/Qwen2vl-Flux, folder qwen2-vl; `python -m fluxkit_tools.download qwen2vl`)
- diffusion_models/{flux}: Qwen2VL-Flux ships its own FLUX transformer (Djrango/Qwen2vl-Flux/flux/transformer,
  diffusers format); stock FLUX.1-dev also runs. fp8 and GGUF loaders work: the output is ordinary CONDITIONING.
- text_encoders: CLIP-L gives the pooled vector of the EMPTY prompt (as the reference does){t5note}.

SETTINGS: 28 steps, euler, guidance 3.5, no CFG. GridDot (center_x/center_y/radius) focuses on part of the
reference: radius 0 = whole image."""

MODES = {
    "variation": ("image variation", ", no prompt"),
    "variation_text": ("image variation + text", ", steered by your prompt"),
    "img2img": ("img2img (denoise 0.8 from the reference)", ""),
    "inpaint": (
        "inpainting with the alimama ControlNet",
        "; it fills the masked area of the image being edited",
    ),
}


@dataclass
class QwenModels:
    unet: NodeRef
    clip: NodeRef
    vae: NodeRef
    qwen: NodeRef
    conn: NodeRef


def _models(g: Graph, with_text: bool, extra: list[NodeRef] | None = None) -> QwenModels:
    unet = g.node("UNETLoader", 0, unet_name=mf.FLUX_DEV, weight_dtype="default")
    clip = text_models(g)
    vae = g.node("VAELoader", 0, vae_name=mf.FLUX_VAE)
    qwen = g.node("FluxKitQwen2VLLoader", 0, model_folder=mf.QWEN2VL_FOLDER, dtype="bf16")
    conn = g.node(
        "FluxKitQwen2VLConnectorLoader",
        0,
        connector_name=mf.QWEN_CONNECTOR,
        t5_embedder_name=mf.QWEN_T5_EMBEDDER if with_text else "none (image only)",
    )
    m = QwenModels(unet, clip, vae, qwen, conn)
    g.group("Models", [unet, clip, vae, qwen, conn, *(extra or [])])
    return m


def _condition(g: Graph, m: QwenModels, reference: NodeRef, with_text: bool, column: int = 2) -> NodeRef:
    """Qwen2VL-Flux encode of `reference` (+ prompt) → FluxGuidance 3.5."""
    empty = g.node("CLIPTextEncode", 1, title="Empty prompt (pooled vector)", text="", clip=m.clip[0])
    extra = {}
    if with_text:
        prompt = g.node("CLIPTextEncode", 1, title="Prompt", text="as a watercolour painting", clip=m.clip[0])
        extra["prompt_conditioning"] = prompt[0]
    encode = g.node(
        "FluxKitQwen2VLEncode",
        column,
        qwen2vl=m.qwen[0],
        connector=m.conn[0],
        model=m.unet[0],
        image=reference[0],
        empty_conditioning=empty[0],
        center_x=0.5,
        center_y=0.5,
        radius=0.0,
        strength=1.0,
        **extra,
    )
    return g.node("FluxGuidance", column, conditioning=encode[0], guidance=3.5)


def _sample(g: Graph, m: QwenModels, cond: NodeRef, latent: NodeRef, denoise: float = 1.0) -> NodeRef:
    """28 euler steps, resolution-shifted sigmas (the last `denoise` of them), no CFG; returns the decoded image."""
    noise = g.node("RandomNoise", 3, noise_seed=24)
    sampler = g.node("KSamplerSelect", 3, sampler_name="euler")
    sigmas = g.node(
        "FluxKitTurboScheduler", 3, model=m.unet[0], steps=28, width=1024, height=1024,
        shift="resolution (FLUX dynamic μ)",
    )  # fmt: skip
    group = [noise, sampler, sigmas]
    if denoise < 1.0:
        split = g.node("SplitSigmasDenoise", 3, sigmas=sigmas[0], denoise=denoise)
        sigmas_out, group = split[1], [*group, split]
    else:
        sigmas_out = sigmas[0]
    guider = g.node("BasicGuider", 3, model=m.unet[0], conditioning=cond[0])
    sample = g.node(
        "SamplerCustomAdvanced", 4, noise=noise[0], guider=guider[0], sampler=sampler[0], sigmas=sigmas_out,
        latent_image=latent[0],
    )  # fmt: skip
    decoded = g.node("VAEDecode", 4, samples=sample[0], vae=m.vae[0])
    g.group("Sampling", [*group, guider, sample, decoded], color="#a1309b")
    return decoded


def _note(g: Graph, mode: str, with_text: bool) -> None:
    title, text2 = MODES[mode]
    g.note(
        QWEN_NOTE.format(
            mode=title,
            text2=text2,
            qwen=mf.QWEN2VL_FOLDER,
            conn=mf.QWEN_CONNECTOR,
            t5=f" + {mf.QWEN_T5_EMBEDDER}" if with_text else "",
            flux=mf.FLUX_DEV,
            t5note="; T5 encodes your prompt, whose tokens are appended" if with_text else "",
        ),  # fmt: skip
        size=(760, 320),
    )


def qwen2vl_variation(with_text: bool) -> Graph:
    """Reference image (+ prompt) → FLUX conditioning → 28 euler steps at 1024² from noise."""
    g = Graph(load_schemas())
    m = _models(g, with_text)
    image = g.node("LoadImage", 1, gap=100, title="Reference image", image=EXAMPLE_IMAGE)
    cond = _condition(g, m, image, with_text)
    latent = g.node("EmptySD3LatentImage", 2, width=1024, height=1024, batch_size=1)
    decoded = _sample(g, m, cond, latent)
    g.node("SaveImage", 5, images=decoded[0], filename_prefix="FluxKit/qwen2vl_variation")
    _note(g, "variation_text" if with_text else "variation", with_text)
    return g


def qwen2vl_img2img() -> Graph:
    """The reference is also the starting image: VAE-encoded, the last 80 % of the 28 sigmas (denoise 0.8)."""
    g = Graph(load_schemas())
    m = _models(g, with_text=False)
    image = g.node("LoadImage", 1, gap=100, title="Reference and starting image", image=EXAMPLE_IMAGE)
    cond = _condition(g, m, image, with_text=False)
    latent = g.node("VAEEncode", 2, pixels=image[0], vae=m.vae[0])
    decoded = _sample(g, m, cond, latent, denoise=0.8)
    g.node("SaveImage", 5, images=decoded[0], filename_prefix="FluxKit/qwen2vl_img2img")
    _note(g, "img2img", with_text=False)
    return g


def qwen2vl_inpaint() -> Graph:
    """Fill the mask of one image with what Qwen2-VL sees in another: Qwen conditioning + alimama inpainting
    ControlNet + crop/stitch (pixels outside the mask untouched)."""
    g = Graph(load_schemas())
    cn = g.node(
        "FluxKitInpaintControlNetLoader", 0, control_net_name=mf.INPAINT_CN_BETA, weight_dtype="default"
    )
    m = _models(g, with_text=False, extra=[cn])
    reference = g.node("LoadImage", 1, gap=100, title="Reference image (what to put in)", image=EXAMPLE_IMAGE)
    cond = _condition(g, m, reference, with_text=False)
    target = g.node("LoadImage", 1, title="Image to edit (paint the mask here)", image=EXAMPLE_IMAGE)
    crop = g.node(
        "FluxKitInpaintCrop", 1, image=target[0], mask=target[1], resolution=1024, context=0.5, min_context_px=32,
        grow_px=8, feather_px=16, invert_mask=False,
    )  # fmt: skip
    negative = g.node("ConditioningZeroOut", 2, conditioning=cond[0])
    apply = g.node(
        "FluxKitInpaintControlNetApply", 2, positive=cond[0], negative=negative[0], control_net=cn[0],
        vae=m.vae[0], image=crop[0], mask=crop[1], strength=0.9, start_percent=0.0, end_percent=1.0,
        mask_mode="binary (alimama training)",
    )  # fmt: skip
    latent = g.node("VAEEncode", 2, pixels=crop[0], vae=m.vae[0])
    masked = g.node("SetLatentNoiseMask", 2, samples=latent[0], mask=crop[1])
    decoded = _sample(g, m, apply, masked)
    stitched = g.node("FluxKitInpaintStitch", 4, stitch=crop[2], image=decoded[0], colour_match=False)
    g.node("SaveImage", 5, images=stitched[0], filename_prefix="FluxKit/qwen2vl_inpaint")
    _note(g, "inpaint", with_text=False)
    return g
