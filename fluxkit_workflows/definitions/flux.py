"""FLUX.1-dev workflows: inpainting (alimama ControlNet, crop/stitch; 28 steps or Turbo 8), Turbo text-to-image, and
SDXL + DMD2 4-step (the DMD2 nodes on their reference model). Variants are data: `InpaintVariant`."""

from __future__ import annotations

from dataclasses import dataclass

from fluxkit_catalog import model_files as mf

from ..graph import Graph
from ..schemas import load_schemas
from .parts import EXAMPLE_IMAGE, NodeSpec, flux_sigmas, flux_unet, inpaint_block, sampling_tail, text_models

INPAINT_PROMPT = "a red vintage armchair in a sunlit living room, photo, detailed fabric"

INPAINT_NOTE = """FluxKit inpainting ({steps} steps{turbo})

INPUT: Load Image. Right-click → Open in MaskEditor and paint what to repaint (painted = repaint).
Headless: send an RGBA PNG whose transparent pixels mark the hole (or use fluxkit client --mask).

MODELS (names as published; `python -m fluxkit_tools.download inpainting-turbo` fetches them):
- diffusion_models/{flux}  (fp8 works: set weight_dtype fp8_e4m3fn)
- text_encoders/{t5} + {clip_l}
- vae/{vae}
- controlnet/{cn} (Beta, trained at 1024²; Alpha: 768²; set Crop resolution to match)
{lora_line}
SETTINGS: FluxGuidance 3.5. ControlNet strength 0.9–1.0, end 1.0 (lower both if the fill ignores the prompt).
{cfg_line}

ONLY THE MASK CHANGES: FluxKit Inpaint Crop cuts the mask's box (+ context) and scales it to 1024 long side;
FluxKit Inpaint Stitch pastes the result back, so pixels outside mask+feather are bit-identical to the input.
To inpaint the whole frame instead: wire Load Image straight into the ControlNet apply and VAE Encode, and
Save the VAE Decode output (slower on large images, and the whole image goes through the VAE)."""


@dataclass(frozen=True)
class InpaintVariant:
    """One inpainting workflow: `steps` euler steps; `turbo`: Turbo-Alpha LoRA, no CFG, ControlNet strength 1.0
    (else strength 0.9 and a CFG guider at cfg 1, ready for alimama's true CFG 3.5)."""

    steps: int
    turbo: bool

    @property
    def cn_strength(self) -> float:
        return 1.0 if self.turbo else 0.9


def inpainting(v: InpaintVariant) -> Graph:
    """FLUX.1-dev + alimama inpainting ControlNet (Beta), crop → inpaint → stitch."""
    g = Graph(load_schemas())
    unet = flux_unet(g)
    model = g.node("FluxKitLoraLoader", 0, model=unet[0], lora_name=mf.TURBO_LORA) if v.turbo else unet
    clip = text_models(g)
    vae = g.node("VAELoader", 0, vae_name=mf.FLUX_VAE)
    cn = g.node("FluxKitInpaintControlNetLoader", 0, control_net_name=mf.INPAINT_CN_BETA)
    g.group("Models", [unet, clip, vae, cn] + ([model] if v.turbo else []))

    pos_text = g.node("CLIPTextEncode", 1, title="Prompt", text=INPAINT_PROMPT, clip=clip[0])
    pos = g.node("FluxGuidance", 1, conditioning=pos_text[0])
    if v.turbo:
        neg = g.node("ConditioningZeroOut", 1, conditioning=pos_text[0])
    else:
        neg = g.node("CLIPTextEncode", 1, title="Negative prompt (true CFG only)", text="", clip=clip[0])
    g.group("Prompt", [pos_text, pos, neg])

    image = g.node("LoadImage", 1, gap=100, image=EXAMPLE_IMAGE)
    block = inpaint_block(g, image, pos[0], neg[0], cn, vae, strength=v.cn_strength)
    g.group("Image and mask (crop)", [image, block.crop], color="#8a8")
    g.group("ControlNet and latent", [block.apply, block.latent, block.masked], color="#b58b2a")

    if v.turbo:
        guider = NodeSpec("BasicGuider", {"conditioning": block.apply[0]})
    else:
        guider = NodeSpec(
            "CFGGuider",
            {"positive": block.apply[0], "negative": block.apply[1], "cfg": 1.0},
            title="Guider (cfg 1 = off; 3.5 = alimama true CFG, 2× time)",
        )
    s = sampling_tail(g, 3, model[0], guider, block.masked[0], vae[0], flux_sigmas(v.steps))
    g.group("Sampling", s.setup, color="#a1309b")
    stitched = g.node("FluxKitInpaintStitch", 4, stitch=block.crop[2], image=s.decoded[0])
    g.group("Generate, decode, paste back", [s.sample, s.decoded, stitched], color="#a1309b")
    g.node("SaveImage", 5, images=stitched[0], filename_prefix=f"FluxKit/inpaint_{v.steps}step")
    g.note(
        INPAINT_NOTE.format(
            steps=v.steps,
            turbo=", Turbo LoRA" if v.turbo else "",
            flux=mf.FLUX_DEV,
            t5=mf.T5XXL,
            clip_l=mf.CLIP_L,
            vae=mf.FLUX_VAE,
            cn=mf.INPAINT_CN_BETA,
            lora_line=f"- loras/{mf.TURBO_LORA} at strength 1.0 (8 steps, euler, no CFG)" if v.turbo else "",
            cfg_line="Guider: cfg 1. Turbo is distilled for 8 euler steps."
            if v.turbo
            else "Guider cfg 1.0 for Beta; alimama uses true CFG 3.5 for Alpha (the negative prompt is then used; "
            "each step runs twice).",
        ),
        size=(760, 420),
    )
    return g


def t2i_turbo_8step() -> Graph:
    """FLUX.1-dev + Turbo-Alpha LoRA, 8 euler steps, guidance 3.5, 1024²."""
    g = Graph(load_schemas())
    unet = flux_unet(g)
    model = g.node("FluxKitLoraLoader", 0, model=unet[0], lora_name=mf.TURBO_LORA)
    clip = text_models(g)
    vae = g.node("VAELoader", 0, vae_name=mf.FLUX_VAE)
    g.group("Models", [unet, model, clip, vae])
    text = g.node(
        "CLIPTextEncode", 1, title="Prompt", text="a lighthouse on a cliff at dawn, photo", clip=clip[0]
    )
    cond = g.node("FluxGuidance", 1, conditioning=text[0])
    latent = g.node("EmptySD3LatentImage", 1)
    guider = NodeSpec("BasicGuider", {"conditioning": cond[0]})
    s = sampling_tail(g, 2, model[0], guider, latent[0], vae[0], flux_sigmas(8))
    g.node("SaveImage", 4, images=s.decoded[0], filename_prefix="FluxKit/t2i_turbo")
    g.group("Sampling", [*s.setup, s.sample, s.decoded], color="#a1309b")
    g.note(
        "FLUX.1-dev text-to-image in 8 steps with alimama's FLUX.1-Turbo-Alpha LoRA.\n\n"
        f"MODELS: diffusion_models/{mf.FLUX_DEV}, loras/{mf.TURBO_LORA}, text_encoders/{mf.T5XXL} + {mf.CLIP_L}, "
        f"vae/{mf.FLUX_VAE}.\n\nSETTINGS: LoRA strength 1.0; guidance 3.5; euler; 8 steps; no CFG (BasicGuider). "
        "The Turbo scheduler gives FLUX's resolution-shifted sigmas: keep its width/height equal to the latent's.\n"
        "Other few-step LoRAs: Hyper-FLUX.1-dev-8steps at strength 0.125.",
        size=(760, 240),
    )
    return g


def dmd2_sdxl_4step() -> Graph:
    """SDXL base + DMD2 4-step LoRA at exactly t = 999, 749, 499, 249 with DMD2's denoise → renoise sampler."""
    g = Graph(load_schemas())
    ckpt = g.node("CheckpointLoaderSimple", 0, ckpt_name=mf.SDXL_BASE)
    model = g.node("LoraLoaderModelOnly", 0, model=ckpt[0], lora_name=mf.DMD2_LORA)
    text = g.node(
        "CLIPTextEncode", 1, title="Prompt", text="a photo of a cat wearing a tiny hat", clip=ckpt[1]
    )
    latent = g.node("EmptyLatentImage", 1, width=1024, height=1024)
    s = sampling_tail(
        g, 2, model[0], NodeSpec("BasicGuider", {"conditioning": text[0]}), latent[0], ckpt[2],
        sigmas=NodeSpec("FluxKitDMD2Scheduler"), sampler=NodeSpec("FluxKitDMD2Sampler"),
    )  # fmt: skip
    g.node("SaveImage", 4, images=s.decoded[0], filename_prefix="FluxKit/dmd2_sdxl")
    g.group("DMD2 sampling", [*s.setup, s.sample, s.decoded], color="#a1309b")
    g.note(
        "SDXL in 4 steps with DMD2 (tianweiy/DMD2).\n\n"
        f"MODELS: checkpoints/{mf.SDXL_BASE}; loras/{mf.DMD2_LORA} at 1.0 (or load dmd2_sdxl_4step_unet_fp16 "
        "as the model and drop the LoRA).\n\nSETTINGS: no CFG (BasicGuider: DMD2 is distilled with the teacher's "
        "CFG baked in); the scheduler gives exactly the trained timesteps 999/749/499/249 (ComfyUI's sgm_uniform is "
        "close but not equal); the sampler predicts x0 and re-noises with fresh noise between steps. For the 1-step "
        "UNet choose preset 1step (t=399).",
        size=(760, 240),
    )
    return g
