"""FLUX.2 [klein] through FluxKit's crop → 4 steps → stitch (ComfyUI with FLUX.2 support: 0.28+, tested 0.33.0).

BFL shipped no FLUX.2 Fill model: klein inpaints by editing the crop it is shown (`ReferenceLatent`) and FluxKit
pastes back only the masked region, after undoing the shift and tint such edits leave (the stitch's alignment and
colour match, on by default; its preview says what it undid).
- `klein_edit_masked`: an instruction edits what is under the mask ("make the chair red leather").
- `klein_inpaint`: new content from a prompt, with fal's klein 4B outpaint/inpaint LoRA: the crop shows the hole as
  pure green (the crop's hole_fill) and the prompt starts with the LoRA's trigger, as Krita AI Diffusion uses it
  with the distilled 4B (Acly/krita-ai-diffusion presets: flux-2-klein-4b-fp8 + this LoRA for inpainting).
Settings from the model cards: the distilled klein runs 4 steps at CFG 1 (BasicGuider), `Flux2Scheduler` at the
crop's size; the LoRA's author recommends strength 1.1."""

from __future__ import annotations

from dataclasses import dataclass

from fluxkit_catalog import model_files as mf

from ..graph import Graph
from ..schemas import load_schemas
from .parts import EXAMPLE_IMAGE, NodeSpec, sampling_tail

KLEIN_STEPS = 4  # FLUX.2-klein-4B card: the distilled model runs 4 steps, guidance/CFG 1
LORA_STRENGTH = 1.1  # fal/flux-2-klein-4B-outpaint-lora card
LORA_TRIGGER = "Fill the green spaces according to the image."

NOTE = """FluxKit FLUX.2 [klein] {job} ({steps} steps, ComfyUI with FLUX.2 support: 0.28 or newer)

INPUT: Load Image; paint the region in the MaskEditor; {prompt_line}
MODELS (`python -m fluxkit_tools.download klein`; klein 4B is Apache-2.0):
- diffusion_models/{model} (or {fp8}, BFL's fp8)
- text_encoders/{te} (CLIPLoader type flux2), vae/{vae}{lora_line}

SETTINGS: {steps} euler steps, CFG 1 (the distilled klein), Flux2Scheduler at the crop's size, the crop at 1024
long side. Stitch undoes the translation and the tone shift the edit left, measured on the part of the crop klein
was told to keep, then pastes only the masked region (+ feather): everything else stays bit-identical."""


@dataclass(frozen=True)
class KleinVariant:
    inpaint: bool = False  # new content from a prompt (green hole + fal's LoRA), else an instruction edit


def klein(v: KleinVariant) -> Graph:
    g = Graph(load_schemas())
    unet = g.node("UNETLoader", 0, unet_name=mf.KLEIN_4B)
    model = unet
    if v.inpaint:
        model = g.node("LoraLoaderModelOnly", 0, model=unet[0], lora_name=mf.KLEIN_OUTPAINT_LORA,
                       strength_model=LORA_STRENGTH)  # fmt: skip
    clip = g.node("CLIPLoader", 0, clip_name=mf.QWEN3_4B, type="flux2")
    vae = g.node("VAELoader", 0, vae_name=mf.FLUX2_VAE)
    g.group("Models", [unet, *([model] if v.inpaint else []), clip, vae])
    image = g.node("LoadImage", 1, gap=100, image=EXAMPLE_IMAGE)
    crop = g.node("FluxKitInpaintCrop", 1, image=image[0], mask=image[1], grow_px=8,
                  **({"hole_fill": "green"} if v.inpaint else {}))  # fmt: skip
    g.group("Image and mask (crop)", [image, crop], color="#8a8")
    latent = g.node("VAEEncode", 2, pixels=crop[0], vae=vae[0])
    text = f"{LORA_TRIGGER} a red vintage armchair" if v.inpaint else "make the chair red leather"
    prompt = g.node(
        "CLIPTextEncode", 2, title="Prompt" if v.inpaint else "Instruction", text=text, clip=clip[0]
    )
    ref = g.node("ReferenceLatent", 2, conditioning=prompt[0], latent=latent[0])
    size = g.node("GetImageSize", 2, image=crop[0])
    g.group("The crop as klein's reference", [latent, prompt, ref, size], color="#b58b2a")
    sigmas = NodeSpec(
        "Flux2Scheduler", {"steps": KLEIN_STEPS, "width": size[0], "height": size[1]}, takes_model=False
    )
    s = sampling_tail(
        g, 3, model[0], NodeSpec("BasicGuider", {"conditioning": ref[0]}), latent[0], vae[0], sigmas
    )
    g.group("Sampling", s.setup, color="#a1309b")
    stitched = g.node("FluxKitInpaintStitch", 4, stitch=crop[2], image=s.decoded[0])
    g.group(
        "Generate, decode, paste back (alignment + colour match)",
        [s.sample, s.decoded, stitched],
        color="#a1309b",
    )
    g.node(
        "SaveImage",
        5,
        images=stitched[0],
        filename_prefix=f"FluxKit/klein_{'inpaint' if v.inpaint else 'edit'}",
    )
    g.note(
        NOTE.format(
            job="inpainting (fal's inpaint LoRA)" if v.inpaint else "masked edit", steps=KLEIN_STEPS,
            prompt_line=("write what to paint after the LoRA's trigger in the prompt (the crop shows the hole green)"
                         if v.inpaint else "write the instruction"),
            model=mf.KLEIN_4B, fp8=mf.KLEIN_4B_FP8, te=mf.QWEN3_4B, vae=mf.FLUX2_VAE,
            lora_line=f"\n- loras/{mf.KLEIN_OUTPAINT_LORA} (strength {LORA_STRENGTH}, the author's)" if v.inpaint else "",
        ),
        size=(760, 330),
    )  # fmt: skip
    return g
