"""FluxKit's workflows, written once as code. `python -m fluxkit_workflows.build` writes each one as
`workflows/ui/<name>.json` (graph editor), `workflows/api/<name>.json` (`POST /prompt`) and
`example_workflows/<name>.json` + `.jpg` (ComfyUI's template browser).

Each function returns a `Graph` in ComfyUI UI format; widgets are set by name, defaults come from the schemas.
"""

from __future__ import annotations

from collections.abc import Callable

from . import model_files as mf
from .graph import Graph, NodeRef
from .schemas import load_schemas

EXAMPLE_IMAGE = (
    "example.png"  # ships in every ComfyUI's input/ folder; paint the mask on it in the mask editor
)
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


def text_models(g: Graph) -> NodeRef:
    return g.node("DualCLIPLoader", 0, clip_name1=mf.T5XXL, clip_name2=mf.CLIP_L, type="flux")


def inpainting(steps: int, turbo: bool) -> Graph:
    """FLUX.1-dev + alimama inpainting ControlNet (Beta), crop → inpaint → stitch; Turbo LoRA + 8 steps if `turbo`."""
    g = Graph(load_schemas())
    unet = g.node("UNETLoader", 0, unet_name=mf.FLUX_DEV, weight_dtype="default")
    model: NodeRef = unet
    if turbo:
        model = g.node("FluxKitLoraLoader", 0, model=unet[0], lora_name=mf.TURBO_LORA, strength=1.0)
    clip = text_models(g)
    vae = g.node("VAELoader", 0, vae_name=mf.FLUX_VAE)
    cn = g.node("FluxKitInpaintControlNetLoader", 0, control_net_name=mf.INPAINT_CN_BETA)
    g.group("Models", [unet, clip, vae, cn] + ([model] if turbo else []))

    pos_text = g.node("CLIPTextEncode", 1, title="Prompt", text=INPAINT_PROMPT, clip=clip[0])
    pos = g.node("FluxGuidance", 1, conditioning=pos_text[0], guidance=3.5)
    if turbo:
        neg = g.node("ConditioningZeroOut", 1, conditioning=pos_text[0])
    else:
        neg = g.node("CLIPTextEncode", 1, title="Negative prompt (true CFG only)", text="", clip=clip[0])
    g.group("Prompt", [pos_text, pos, neg])

    image = g.node("LoadImage", 1, gap=100, image=EXAMPLE_IMAGE)
    crop = g.node(
        "FluxKitInpaintCrop",
        1,
        image=image[0],
        mask=image[1],
        resolution=1024,
        context=0.5,
        min_context_px=32,
        grow_px=8,
        feather_px=16,
        invert_mask=False,
    )
    apply = g.node(
        "FluxKitInpaintControlNetApply",
        2,
        positive=pos[0],
        negative=neg[0],
        control_net=cn[0],
        vae=vae[0],
        image=crop[0],
        mask=crop[1],
        strength=1.0 if turbo else 0.9,
        start_percent=0.0,
        end_percent=1.0,
        mask_mode="binary (alimama training)",
    )
    g.group("Image and mask (crop)", [image, crop], color="#8a8")
    latent = g.node("VAEEncode", 2, gap=100, pixels=crop[0], vae=vae[0])
    masked = g.node("SetLatentNoiseMask", 2, samples=latent[0], mask=crop[1])
    g.group("ControlNet and latent", [apply, latent, masked], color="#b58b2a")

    noise = g.node("RandomNoise", 3, noise_seed=24)
    sampler = g.node("KSamplerSelect", 3, sampler_name="euler")
    sigmas = g.node(
        "FluxKitTurboScheduler",
        3,
        model=model[0],
        steps=steps,
        width=1024,
        height=1024,
        shift="resolution (FLUX dynamic μ)",
    )
    if turbo:
        guider = g.node("BasicGuider", 3, model=model[0], conditioning=apply[0])
    else:
        guider = g.node(
            "CFGGuider",
            3,
            title="Guider (cfg 1 = off; 3.5 = alimama true CFG, 2× time)",
            model=model[0],
            positive=apply[0],
            negative=apply[1],
            cfg=1.0,
        )
    g.group("Sampling", [noise, sampler, sigmas, guider], color="#a1309b")
    sample = g.node(
        "SamplerCustomAdvanced",
        4,
        noise=noise[0],
        guider=guider[0],
        sampler=sampler[0],
        sigmas=sigmas[0],
        latent_image=masked[0],
    )
    decoded = g.node("VAEDecode", 4, samples=sample[0], vae=vae[0])
    stitched = g.node("FluxKitInpaintStitch", 4, stitch=crop[2], image=decoded[0], colour_match=False)
    g.group("Generate, decode, paste back", [sample, decoded, stitched], color="#a1309b")
    g.node("SaveImage", 5, images=stitched[0], filename_prefix=f"FluxKit/inpaint_{steps}step")
    g.note(
        INPAINT_NOTE.format(
            steps=steps,
            turbo=", Turbo LoRA" if turbo else "",
            flux=mf.FLUX_DEV,
            t5=mf.T5XXL,
            clip_l=mf.CLIP_L,
            vae=mf.FLUX_VAE,
            cn=mf.INPAINT_CN_BETA,
            lora_line=f"- loras/{mf.TURBO_LORA} at strength 1.0 (8 steps, euler, no CFG)" if turbo else "",
            cfg_line="Guider: cfg 1. Turbo is distilled for 8 euler steps."
            if turbo
            else "Guider cfg 1.0 for Beta; alimama uses true CFG 3.5 for Alpha (the negative prompt is then used; "
            "each step runs twice).",
        ),
        size=(760, 420),
    )
    return g


def t2i_turbo_8step() -> Graph:
    """FLUX.1-dev + Turbo-Alpha LoRA, 8 euler steps, guidance 3.5, 1024²."""
    g = Graph(load_schemas())
    unet = g.node("UNETLoader", 0, unet_name=mf.FLUX_DEV, weight_dtype="default")
    model = g.node("FluxKitLoraLoader", 0, model=unet[0], lora_name=mf.TURBO_LORA, strength=1.0)
    clip = text_models(g)
    vae = g.node("VAELoader", 0, vae_name=mf.FLUX_VAE)
    g.group("Models", [unet, model, clip, vae])
    text = g.node(
        "CLIPTextEncode",
        1,
        title="Prompt",
        text="a lighthouse on a cliff at dawn, photo",
        clip=clip[0],
    )
    cond = g.node("FluxGuidance", 1, conditioning=text[0], guidance=3.5)
    latent = g.node("EmptySD3LatentImage", 1, width=1024, height=1024, batch_size=1)
    noise = g.node("RandomNoise", 2, noise_seed=24)
    sampler = g.node("KSamplerSelect", 2, sampler_name="euler")
    sigmas = g.node(
        "FluxKitTurboScheduler",
        2,
        model=model[0],
        steps=8,
        width=1024,
        height=1024,
        shift="resolution (FLUX dynamic μ)",
    )
    guider = g.node("BasicGuider", 2, model=model[0], conditioning=cond[0])
    sample = g.node(
        "SamplerCustomAdvanced",
        3,
        noise=noise[0],
        guider=guider[0],
        sampler=sampler[0],
        sigmas=sigmas[0],
        latent_image=latent[0],
    )
    decoded = g.node("VAEDecode", 3, samples=sample[0], vae=vae[0])
    g.node("SaveImage", 4, images=decoded[0], filename_prefix="FluxKit/t2i_turbo")
    g.group("Sampling", [noise, sampler, sigmas, guider, sample, decoded], color="#a1309b")
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
    model = g.node("LoraLoaderModelOnly", 0, model=ckpt[0], lora_name=mf.DMD2_LORA, strength_model=1.0)
    text = g.node(
        "CLIPTextEncode", 1, title="Prompt", text="a photo of a cat wearing a tiny hat", clip=ckpt[1]
    )
    latent = g.node("EmptyLatentImage", 1, width=1024, height=1024, batch_size=1)
    noise = g.node("RandomNoise", 2, noise_seed=24)
    sampler = g.node("FluxKitDMD2Sampler", 2, first_step_noise="unit (DMD2)")
    sigmas = g.node("FluxKitDMD2Scheduler", 2, model=model[0], preset="4-step 999,749,499,249")
    guider = g.node("BasicGuider", 2, model=model[0], conditioning=text[0])
    sample = g.node(
        "SamplerCustomAdvanced",
        3,
        noise=noise[0],
        guider=guider[0],
        sampler=sampler[0],
        sigmas=sigmas[0],
        latent_image=latent[0],
    )
    decoded = g.node("VAEDecode", 3, samples=sample[0], vae=ckpt[2])
    g.node("SaveImage", 4, images=decoded[0], filename_prefix="FluxKit/dmd2_sdxl")
    g.group("DMD2 sampling", [noise, sampler, sigmas, guider, sample, decoded], color="#a1309b")
    g.note(
        "SDXL in 4 steps with DMD2 (tianweiy/DMD2).\n\n"
        f"MODELS: checkpoints/{mf.SDXL_BASE}; loras/{mf.DMD2_LORA} at 1.0 (or load dmd2_sdxl_4step_unet_fp16 "
        "as the model and drop the LoRA).\n\nSETTINGS: no CFG (BasicGuider: DMD2 is distilled with the teacher's "
        "CFG baked in); the scheduler gives exactly the trained timesteps 999/749/499/249 (ComfyUI's sgm_uniform is "
        "close but not equal); the sampler predicts x0 and re-noises with fresh noise between steps. For the 1-step "
        "UNet choose preset 1-step (t=399).",
        size=(760, 240),
    )
    return g


from .definitions_qwen import qwen2vl_img2img, qwen2vl_inpaint, qwen2vl_variation  # noqa: E402

WORKFLOWS: dict[str, Callable[[], Graph]] = {
    "inpainting_turbo_8step": lambda: inpainting(8, turbo=True),
    "inpainting_28step": lambda: inpainting(28, turbo=False),
    "t2i_turbo_8step": t2i_turbo_8step,
    "dmd2_sdxl_4step": dmd2_sdxl_4step,
    "qwen2vl_variation": lambda: qwen2vl_variation(with_text=False),
    "qwen2vl_variation_text": lambda: qwen2vl_variation(with_text=True),
    "qwen2vl_img2img": qwen2vl_img2img,
    "qwen2vl_inpaint": qwen2vl_inpaint,
}
