"""Qwen2VL-Flux workflows: variation (image only, image + text), img2img and inpainting, all built on FluxKit's
Qwen2VL-Flux encode node, whose output is ordinary FLUX conditioning. Variants are data: `QwenVariant`."""

from __future__ import annotations

from dataclasses import dataclass

from fluxkit_catalog import model_files as mf

from ..graph import Graph, NodeRef
from ..schemas import load_schemas
from .parts import EXAMPLE_IMAGE, NodeSpec, flux_sigmas, flux_unet, inpaint_block, sampling_tail, text_models

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


@dataclass(frozen=True)
class QwenVariant:
    """One Qwen2VL-Flux workflow. `mode`: a key of MODES; `with_text`: a prompt steers the encode (T5 embedder);
    `denoise` < 1: img2img from the reference; `inpaint`: the alimama ControlNet + crop/stitch on a second image."""

    mode: str
    with_text: bool = False
    denoise: float = 1.0
    inpaint: bool = False

    @property
    def prefix(self) -> str:
        return "qwen2vl_" + ("variation" if self.mode.startswith("variation") else self.mode)


@dataclass
class QwenModels:
    unet: NodeRef
    clip: NodeRef
    vae: NodeRef
    qwen: NodeRef
    conn: NodeRef


def _models(g: Graph, with_text: bool, extra: list[NodeRef]) -> QwenModels:
    unet = flux_unet(g)
    clip = text_models(g)
    vae = g.node("VAELoader", 0, vae_name=mf.FLUX_VAE)
    qwen = g.node("FluxKitQwen2VLLoader", 0, model_folder=mf.QWEN2VL_FOLDER)
    conn = g.node(
        "FluxKitQwen2VLConnectorLoader", 0, connector_name=mf.QWEN_CONNECTOR,
        **({"t5_embedder_name": mf.QWEN_T5_EMBEDDER} if with_text else {}),
    )  # fmt: skip
    g.group("Models", [unet, clip, vae, qwen, conn, *extra])
    return QwenModels(unet, clip, vae, qwen, conn)


def _condition(g: Graph, m: QwenModels, reference: NodeRef, with_text: bool) -> NodeRef:
    """Qwen2VL-Flux encode of `reference` (+ prompt) → FluxGuidance 3.5, in column 2."""
    empty = g.node("CLIPTextEncode", 1, title="Empty prompt (pooled vector)", text="", clip=m.clip[0])
    extra = {}
    if with_text:
        prompt = g.node("CLIPTextEncode", 1, title="Prompt", text="as a watercolour painting", clip=m.clip[0])
        extra["prompt_conditioning"] = prompt[0]
    encode = g.node(
        "FluxKitQwen2VLEncode", 2, qwen2vl=m.qwen[0], connector=m.conn[0], model=m.unet[0], image=reference[0],
        empty_conditioning=empty[0], **extra,
    )  # fmt: skip
    return g.node("FluxGuidance", 2, conditioning=encode[0])


def _note(g: Graph, v: QwenVariant) -> None:
    title, text2 = MODES[v.mode]
    g.note(
        QWEN_NOTE.format(
            mode=title,
            text2=text2,
            qwen=mf.QWEN2VL_FOLDER,
            conn=mf.QWEN_CONNECTOR,
            t5=f" + {mf.QWEN_T5_EMBEDDER}" if v.with_text else "",
            flux=mf.FLUX_DEV,
            t5note="; T5 encodes your prompt, whose tokens are appended" if v.with_text else "",
        ),  # fmt: skip
        size=(760, 320),
    )


def qwen2vl(v: QwenVariant) -> Graph:
    """Reference image (+ prompt) → Qwen2VL-Flux conditioning → 28 euler steps at 1024²: from noise (variation),
    from the VAE-encoded reference (img2img, the last `denoise` of the sigmas) or inside a mask (inpaint)."""
    g = Graph(load_schemas())
    cn = (
        [g.node("FluxKitInpaintControlNetLoader", 0, control_net_name=mf.INPAINT_CN_BETA)]
        if v.inpaint
        else []
    )
    m = _models(g, v.with_text, extra=cn)
    title = "Reference image (what to put in)" if v.inpaint else (
        "Reference and starting image" if v.denoise < 1.0 else "Reference image")  # fmt: skip
    reference = g.node("LoadImage", 1, gap=100, title=title, image=EXAMPLE_IMAGE)
    cond = _condition(g, m, reference, v.with_text)
    stitch = None
    if v.inpaint:
        target = g.node("LoadImage", 1, title="Image to edit (paint the mask here)", image=EXAMPLE_IMAGE)
        negative = g.node("ConditioningZeroOut", 2, conditioning=cond[0])
        block = inpaint_block(g, target, cond[0], negative[0], cn[0], m.vae, strength=0.9)
        cond, latent, stitch = block.apply, block.masked, block.crop
    elif v.denoise < 1.0:
        latent = g.node("VAEEncode", 2, pixels=reference[0], vae=m.vae[0])
    else:
        latent = g.node("EmptySD3LatentImage", 2)
    guider = NodeSpec("BasicGuider", {"conditioning": cond[0]})
    s = sampling_tail(g, 3, m.unet[0], guider, latent[0], m.vae[0], flux_sigmas(28), denoise=v.denoise)
    g.group("Sampling", [*s.setup, s.sample, s.decoded], color="#a1309b")
    image = s.decoded
    if stitch is not None:
        image = g.node("FluxKitInpaintStitch", 4, stitch=stitch[2], image=s.decoded[0])
    g.node("SaveImage", 5, images=image[0], filename_prefix=f"FluxKit/{v.prefix}")
    _note(g, v)
    return g
