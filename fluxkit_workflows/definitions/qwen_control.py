"""Qwen2VL-Flux's ControlNet workflows: the reference steers the content through FluxKit's Qwen2VL-Flux encode, and
Qwen2VL-Flux's union ControlNet (loaded by core's ControlNetLoader, its mode set by FluxKit's InstantX-id node)
keeps the layout from a depth map (Depth-Anything-V2, mode 2, strength 0.2) and/or a line map (core's Canny as the
built-in stand-in for Anyline, mode 0, strength 0.4). As the reference (model.py, modes controlnet /
controlnet-inpaint): img2img from the reference at denoise 0.8, 28 steps, guidance 3.5; inpainting uses the union
ControlNet with both maps (not the alimama ControlNet), here inside FluxKit's crop → stitch."""

from __future__ import annotations

from dataclasses import dataclass

from fluxkit_catalog import model_files as mf

from ..graph import Graph, NodeRef, Out
from ..schemas import load_schemas
from .parts import EXAMPLE_IMAGE, NodeSpec, flux_sigmas, sampling_tail
from .qwen import _condition, _models

# map → (union mode, Qwen2VL-Flux's strength)
MAPS = {"depth": ("depth", 0.2), "line": ("line", 0.4)}
DENOISE = 0.8

CONTROL_NOTE = """Qwen2VL-Flux {title}: the content comes from what Qwen2-VL sees in the reference image, the layout
from its {maps} through Qwen2VL-Flux's union ControlNet.

MODELS (besides the Qwen2VL-Flux ones: `python -m fluxkit_tools.download qwen2vl-controlnet`):
- controlnet/{cn}: Djrango/Qwen2vl-Flux controlnet/diffusion_pytorch_model.safetensors, renamed. Core's
  ControlNet loader reads it; FluxKit's Union ControlNet Mode node sets InstantX's ids (depth 2, line 0) — core's
  SetUnionControlNetType would pick xinsir's SDXL ids (its "depth" is tile here).{depth}
- Line map: core's Canny (low 0.2 / high 0.6, close to the reference's cv2 fallback 50/150). Qwen2VL-Flux uses
  Anyline (MTEED); plug any preprocessor pack's line art in its place for cleaner lines.

SETTINGS (the reference's): strengths depth 0.2, line 0.4; img2img from the reference at denoise {denoise}, 28 euler
steps, guidance 3.5, no CFG.{inpaint}"""
DEPTH_LINE = """
- depth_anything/{folder}/: depth-anything/Depth-Anything-V2-Large-hf (vitl, as Qwen2VL-Flux; in the
  qwen2vl-controlnet preset, or alone: `python -m fluxkit_tools.download depth-anything-v2`)."""
INPAINT_LINE = """
INPAINTING follows the reference: the union ControlNet with both maps of the crop (not the alimama inpainting
ControlNet), the mask's area re-noised from denoise 0.8; FluxKit's crop → stitch keeps every pixel outside the mask."""


@dataclass(frozen=True)
class ControlVariant:
    """`maps`: which control maps (keys of MAPS); `inpaint`: crop → inpaint → stitch on a second image."""

    name: str
    maps: tuple[str, ...]
    inpaint: bool = False


def _maps(g: Graph, pixels: Out, v: ControlVariant, depth_model: NodeRef | None) -> dict[str, NodeRef]:
    out = {}
    if "depth" in v.maps:
        out["depth"] = g.node("FluxKitDepthMap", 2, depth_model=depth_model[0], image=pixels)
    if "line" in v.maps:
        out["line"] = g.node("Canny", 2, title="Line map (core Canny)", image=pixels, low_threshold=0.2,
                             high_threshold=0.6)  # fmt: skip
    return out


def _apply(g: Graph, positive: Out, negative: Out, cn: NodeRef, vae: NodeRef, maps: dict) -> NodeRef:
    """One union-mode node + ControlNetApplyAdvanced per map, chained on the conditioning."""
    apply = None
    for key, image in maps.items():
        mode, strength = MAPS[key]
        union = g.node(
            "FluxKitUnionControlNetMode", 3, control_net=cn[0], **({} if mode == "depth" else {"mode": mode})
        )
        apply = g.node(
            "ControlNetApplyAdvanced", 3, positive=positive, negative=negative, control_net=union[0], image=image[0],
            strength=strength, vae=vae[0],
        )  # fmt: skip
        positive, negative = apply[0], apply[1]
    return apply


def qwen2vl_controlnet(v: ControlVariant) -> Graph:
    g = Graph(load_schemas())
    cn = g.node(
        "ControlNetLoader", 0, title="Qwen2VL-Flux union ControlNet", control_net_name=mf.QWEN_UNION_CN
    )
    depth_model = (
        g.node("FluxKitDepthAnythingLoader", 0, model_folder=mf.DEPTH_ANYTHING_FOLDER)
        if "depth" in v.maps
        else None
    )
    m = _models(g, False, extra=[cn, *([depth_model] if depth_model else [])])
    title = "Reference image (what to put in)" if v.inpaint else "Reference and starting image"
    reference = g.node("LoadImage", 1, gap=100, title=title, image=EXAMPLE_IMAGE)
    cond = _condition(g, m, reference, False)
    negative = g.node("ConditioningZeroOut", 2, conditioning=cond[0])
    crop = None
    if v.inpaint:
        target = g.node("LoadImage", 1, title="Image to edit (paint the mask here)", image=EXAMPLE_IMAGE)
        crop = g.node("FluxKitInpaintCrop", 1, image=target[0], mask=target[1], grow_px=8)
        pixels = crop[0]
    else:
        pixels = reference[0]
    apply = _apply(g, cond[0], negative[0], cn, m.vae, _maps(g, pixels, v, depth_model))
    latent = g.node("VAEEncode", 3, gap=100, pixels=pixels, vae=m.vae[0])
    if crop is not None:
        latent = g.node("SetLatentNoiseMask", 3, samples=latent[0], mask=crop[1])
    guider = NodeSpec("BasicGuider", {"conditioning": apply[0]})
    s = sampling_tail(g, 4, m.unet[0], guider, latent[0], m.vae[0], flux_sigmas(28), denoise=DENOISE)
    g.group("Sampling", [*s.setup, s.sample, s.decoded], color="#a1309b")
    image = s.decoded
    if crop is not None:
        image = g.node("FluxKitInpaintStitch", 6, stitch=crop[2], image=s.decoded[0])
    g.node("SaveImage", 7, images=image[0], filename_prefix=f"FluxKit/{v.name}")
    maps = " and ".join(f"{k} map" for k in v.maps)
    g.note(
        CONTROL_NOTE.format(
            title=("ControlNet inpainting" if v.inpaint else f"ControlNet ({maps})"),
            maps=maps,
            cn=mf.QWEN_UNION_CN,
            depth=DEPTH_LINE.format(folder=mf.DEPTH_ANYTHING_FOLDER) if "depth" in v.maps else "",
            denoise=DENOISE,
            inpaint=INPAINT_LINE if v.inpaint else "",
        ),  # fmt: skip
        size=(760, 360),
    )
    return g
