"""BFL's own editing models through FluxKit's crop → sample → exact stitch: FLUX.1 Fill (inpainting with the masked
picture and mask as extra input channels, Turbo-Alpha 8 steps; outpainting on a padded canvas) and FLUX.1 Kontext
(an instruction edit of the crop, pasted back so only the masked region changes). Variants are data: `FillVariant`.

Settings from the model cards: Fill guidance 30, Kontext guidance 2.5 and 28 steps (black-forest-labs/FLUX.1-Fill-dev,
black-forest-labs/FLUX.1-Kontext-dev README usage code)."""

from __future__ import annotations

from dataclasses import dataclass

from fluxkit_catalog import model_files as mf

from ..graph import Graph, NodeRef
from ..schemas import load_schemas
from .parts import EXAMPLE_IMAGE, NodeSpec, flux_sigmas, sampling_tail, text_models

FILL_GUIDANCE = 30.0  # FLUX.1-Fill-dev model card: guidance_scale=30
KONTEXT_GUIDANCE = 2.5  # FLUX.1-Kontext-dev model card: guidance_scale=2.5
KONTEXT_STEPS = 28  # FLUX.1-Kontext-dev model card example (diffusers default)
OUTPAINT_RIGHT_PX = 256  # the canvas grows on the right by default; set any side in the pad node

FILL_NOTE = """FluxKit FLUX.1 Fill {job} (8 steps, Turbo LoRA)

INPUT: Load Image.{input_line}
MODELS (`python -m fluxkit_tools.download fill-turbo`; Fill-dev is gated: accept its licence on Hugging Face and
set HF_TOKEN):
- diffusion_models/{fill}
- loras/{lora} (a FLUX.1-dev LoRA: FluxKit places its img_in pair on Fill's latent columns; core skips it)
- text_encoders/{t5} + {clip_l}, vae/{vae}

SETTINGS: FluxGuidance 30 (Fill's card), euler, 8 steps, no CFG. InpaintModelConditioning gives Fill the masked
picture and the mask; no ControlNet (the alimama apply node refuses a Fill model).

ONLY THE MASK CHANGES: Crop cuts the mask's box (+ context) at 1024 long side; Stitch pastes the result back, so
pixels outside mask+feather are bit-identical to the input."""

KONTEXT_NOTE = f"""FluxKit FLUX.1 Kontext masked edit ({KONTEXT_STEPS} steps)

INPUT: Load Image; paint the region to edit in the MaskEditor; write the instruction in the prompt.
MODELS (`python -m fluxkit_tools.download kontext`; Kontext-dev is gated: accept its licence, set HF_TOKEN):
- diffusion_models/{mf.FLUX_KONTEXT}
- text_encoders/{mf.T5XXL} + {mf.CLIP_L}, vae/{mf.FLUX_VAE}

SETTINGS: FluxGuidance 2.5, {KONTEXT_STEPS} euler steps (Kontext's card). The crop takes the nearest of Kontext's
trained sizes (size_preset kontext, as core's FluxKontextImageScale). Kontext edits the crop it is shown
(ReferenceLatent); Stitch keeps only the masked region (+ feather) of the edit, so the rest of the picture stays
bit-identical even where Kontext would have shifted colours or details."""


@dataclass(frozen=True)
class FillVariant:
    """`outpaint`: pad the canvas (ImagePadForOutpaint) and fill the new area, else inpaint the painted mask."""

    outpaint: bool = False


def _image_and_crop(g: Graph, outpaint: bool, **crop_values) -> tuple[list[NodeRef], NodeRef]:
    """Load Image (→ padded canvas for outpainting) → FluxKit Inpaint Crop around the mask; (group nodes, crop)."""
    image = g.node("LoadImage", 1, gap=100, image=EXAMPLE_IMAGE)
    source, nodes = image, [image]
    if outpaint:  # the new area is the mask; no pad feathering: the crop's own feather blends the seam
        source = g.node("ImagePadForOutpaint", 1, image=image[0], right=OUTPAINT_RIGHT_PX, feathering=0)
        nodes.append(source)
    crop = g.node("FluxKitInpaintCrop", 1, image=source[0], mask=source[1], grow_px=8, **crop_values)
    return [*nodes, crop], crop


def fill_turbo(v: FillVariant) -> Graph:
    """FLUX.1-Fill-dev + Turbo-Alpha: crop → InpaintModelConditioning → 8 Turbo steps → stitch."""
    g = Graph(load_schemas())
    unet = g.node("UNETLoader", 0, unet_name=mf.FLUX_FILL)
    model = g.node("FluxKitLoraLoader", 0, model=unet[0], lora_name=mf.TURBO_LORA)
    clip = text_models(g)
    vae = g.node("VAELoader", 0, vae_name=mf.FLUX_VAE)
    g.group("Models", [unet, model, clip, vae])
    text = "a wide sunlit meadow under a clear sky, photo" if v.outpaint else "a red vintage armchair, photo"
    pos_text = g.node("CLIPTextEncode", 1, title="Prompt", text=text, clip=clip[0])
    pos = g.node("FluxGuidance", 1, conditioning=pos_text[0], guidance=FILL_GUIDANCE)
    neg = g.node("ConditioningZeroOut", 1, conditioning=pos_text[0])
    g.group("Prompt", [pos_text, pos, neg])
    image_nodes, crop = _image_and_crop(g, v.outpaint)
    g.group("Canvas and mask (crop)" if v.outpaint else "Image and mask (crop)", image_nodes, color="#8a8")
    cond = g.node(
        "InpaintModelConditioning",
        2,
        positive=pos[0],
        negative=neg[0],
        vae=vae[0],
        pixels=crop[0],
        mask=crop[1],
    )
    size = g.node("GetImageSize", 2, image=crop[0])  # the scheduler's μ from the crop's own size
    g.group("Fill conditioning", [cond, size], color="#b58b2a")
    s = sampling_tail(g, 3, model[0], NodeSpec("BasicGuider", {"conditioning": cond[0]}), cond[2], vae[0],
                      flux_sigmas(8, size))  # fmt: skip
    g.group("Sampling", s.setup, color="#a1309b")
    stitched = g.node("FluxKitInpaintStitch", 4, stitch=crop[2], image=s.decoded[0])
    g.group("Generate, decode, paste back", [s.sample, s.decoded, stitched], color="#a1309b")
    job = "outpaint" if v.outpaint else "inpaint"
    g.node("SaveImage", 5, images=stitched[0], filename_prefix=f"FluxKit/fill_{job}")
    input_line = (
        f" The pad node adds {OUTPAINT_RIGHT_PX} px on the right (any side works); the new area is the mask."
        if v.outpaint
        else " Right-click → Open in MaskEditor and paint what to repaint (or send an RGBA PNG headless)."
    )
    g.note(
        FILL_NOTE.format(job="outpainting" if v.outpaint else "inpainting", input_line=input_line,
                         fill=mf.FLUX_FILL, lora=mf.TURBO_LORA, t5=mf.T5XXL, clip_l=mf.CLIP_L, vae=mf.FLUX_VAE),
        size=(760, 400),
    )  # fmt: skip
    return g


def kontext_edit_masked() -> Graph:
    """FLUX.1-Kontext-dev: crop around the mask → instruction edit of the crop (ReferenceLatent) → stitch."""
    g = Graph(load_schemas())
    unet = g.node("UNETLoader", 0, unet_name=mf.FLUX_KONTEXT)
    clip = text_models(g)
    vae = g.node("VAELoader", 0, vae_name=mf.FLUX_VAE)
    g.group("Models", [unet, clip, vae])
    image_nodes, crop = _image_and_crop(g, outpaint=False, size_preset="kontext")
    g.group("Image and mask (crop)", image_nodes, color="#8a8")
    latent = g.node("VAEEncode", 2, pixels=crop[0], vae=vae[0])
    text = g.node("CLIPTextEncode", 2, title="Instruction", text="make the chair red leather", clip=clip[0])
    ref = g.node("ReferenceLatent", 2, conditioning=text[0], latent=latent[0])
    pos = g.node("FluxGuidance", 2, conditioning=ref[0], guidance=KONTEXT_GUIDANCE)
    size = g.node("GetImageSize", 2, image=crop[0])  # the scheduler's μ from the crop's own size
    g.group("Edit instruction on the crop", [latent, text, ref, pos, size], color="#b58b2a")
    s = sampling_tail(g, 3, unet[0], NodeSpec("BasicGuider", {"conditioning": pos[0]}), latent[0], vae[0],
                      flux_sigmas(KONTEXT_STEPS, size))  # fmt: skip
    g.group("Sampling", s.setup, color="#a1309b")
    stitched = g.node("FluxKitInpaintStitch", 4, stitch=crop[2], image=s.decoded[0])
    g.group("Generate, decode, paste back", [s.sample, s.decoded, stitched], color="#a1309b")
    g.node("SaveImage", 5, images=stitched[0], filename_prefix="FluxKit/kontext_edit")
    g.note(KONTEXT_NOTE, size=(760, 330))
    return g
