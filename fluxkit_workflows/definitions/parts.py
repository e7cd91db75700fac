"""Building blocks the workflow families share: the text encoders, the crop → inpainting ControlNet block and the
sampling tail (noise, sampler, sigmas, guider → SamplerCustomAdvanced → VAE decode).

Each block adds its nodes to a `Graph` at the given column and returns their `NodeRef`s; callers group them.
Widget values equal to the schema default are left out (the graph builder fills them in and refuses a restated
default), so a workflow names only what it changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fluxkit_catalog import model_files as mf

from ..graph import Graph, NodeRef, Out

EXAMPLE_IMAGE = (
    "example.png"  # ships in every ComfyUI's input/ folder; paint the mask on it in the mask editor
)
SEED = 24


def text_models(g: Graph) -> NodeRef:
    """T5-XXL + CLIP-L for FLUX (DualCLIPLoader, type flux)."""
    return g.node("DualCLIPLoader", 0, clip_name1=mf.T5XXL, clip_name2=mf.CLIP_L, type="flux")


def flux_unet(g: Graph) -> NodeRef:
    return g.node("UNETLoader", 0, unet_name=mf.FLUX_DEV)


@dataclass
class InpaintBlock:
    """Crop → alimama ControlNet apply → VAE-encoded crop with its noise mask; `crop[2]` is the stitch data."""

    crop: NodeRef
    apply: NodeRef
    latent: NodeRef
    masked: NodeRef


def inpaint_block(
    g: Graph, image: NodeRef, positive: Out, negative: Out, cn: NodeRef, vae: NodeRef, strength: float
) -> InpaintBlock:
    """FluxKit Inpaint Crop (column 1, grow 8 px) of `image` + its mask, the inpainting ControlNet on the crop
    (column 2) and the latent to sample from. `positive`/`negative`: the conditioning the ControlNet attaches to."""
    crop = g.node("FluxKitInpaintCrop", 1, image=image[0], mask=image[1], grow_px=8)
    apply = g.node(
        "FluxKitInpaintControlNetApply", 2, positive=positive, negative=negative, control_net=cn[0], vae=vae[0],
        image=crop[0], mask=crop[1], **({} if strength == 1.0 else {"strength": strength}),
    )  # fmt: skip
    latent = g.node("VAEEncode", 2, gap=100, pixels=crop[0], vae=vae[0])
    masked = g.node("SetLatentNoiseMask", 2, samples=latent[0], mask=crop[1])
    return InpaintBlock(crop, apply, latent, masked)


@dataclass(frozen=True)
class NodeSpec:
    """A node to add later: its type, optional title and inputs (links or widget values)."""

    type: str
    inputs: dict = field(default_factory=dict)
    title: str | None = None
    takes_model: bool = (
        True  # a sigmas node that reads the model's sampling (FluxKit's); Flux2Scheduler does not
    )

    def add(self, g: Graph, column: int, **links) -> NodeRef:
        return g.node(self.type, column, title=self.title, **self.inputs, **links)


@dataclass
class Sampling:
    setup: list[NodeRef]  # noise, sampler, sigmas[, split], guider: one column
    sample: NodeRef
    decoded: NodeRef


def flux_sigmas(steps: int, size: NodeRef | None = None) -> NodeSpec:
    """FluxKit Turbo Scheduler with the resolution shift (the `model` link is added by the tail): at 1024², or at
    the size `size` (a GetImageSize node of the crop) reports, so a non-square crop gets its own μ."""
    values: dict = {} if steps == 8 else {"steps": steps}
    if size is not None:
        values.update(width=size[0], height=size[1])
    return NodeSpec("FluxKitTurboScheduler", values)


def sampling_tail(
    g: Graph,
    column: int,
    model: Out,
    guider: NodeSpec,
    latent: Out,
    vae: Out,
    sigmas: NodeSpec,
    sampler: NodeSpec = NodeSpec("KSamplerSelect"),
    denoise: float = 1.0,
) -> Sampling:
    """Seeded noise, `sampler`, `sigmas` (the last `denoise` of them) and `guider` (both given `model`) in `column`;
    SamplerCustomAdvanced on `latent` and the VAE decode in the next column."""
    noise = g.node("RandomNoise", column, noise_seed=SEED)
    sampler_ref = sampler.add(g, column)
    sigmas_ref = sigmas.add(g, column, **({"model": model} if sigmas.takes_model else {}))
    setup = [noise, sampler_ref, sigmas_ref]
    sigmas_out = sigmas_ref[0]
    if denoise < 1.0:
        split = g.node("SplitSigmasDenoise", column, sigmas=sigmas_ref[0], denoise=denoise)
        sigmas_out, setup = split[1], [*setup, split]
    guider_ref = guider.add(g, column, model=model)
    sample = g.node(
        "SamplerCustomAdvanced", column + 1, noise=noise[0], guider=guider_ref[0], sampler=sampler_ref[0],
        sigmas=sigmas_out, latent_image=latent,
    )  # fmt: skip
    decoded = g.node("VAEDecode", column + 1, samples=sample[0], vae=vae)
    return Sampling([*setup, guider_ref], sample, decoded)
