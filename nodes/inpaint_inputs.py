"""The inputs of FluxKit Inpaint Crop and Stitch, and the combo tables behind them (ids stored in workflows, labels
in the tooltips), in the order saved workflows store their widget values: new inputs only ever go last."""

from __future__ import annotations

from comfy_api.latest import io

from ..flux_core.inpaint.crop import KONTEXT_SIZES
from ..flux_core.inpaint.mask import INVERTED_COVERAGE
from . import comfy_types as t
from .choices import Choice, Choices
from .names import INPAINT_CROP, INPAINT_STITCH

SIZE_PRESET = Choices(
    INPAINT_CROP,
    "size_preset",
    (
        Choice("long_side", "long side = resolution at the mask box's aspect, multiples of 16 (alimama Beta 1024, "
               "Alpha 768; FLUX.1 Fill: any size in multiples of 16)"),
        Choice("kontext", "the nearest of FLUX.1 Kontext's 17 trained sizes (core's FluxKontextImageScale list, "
               "672×1568 … 1024×1024 … 1568×672), scaled by resolution/1024"),
    ),
)  # fmt: skip
SIZES = {"long_side": None, "kontext": KONTEXT_SIZES}
REGIONS = Choices(
    INPAINT_CROP,
    "regions",
    (
        Choice("separate", "holes far apart get a crop each (one batch, all one size), near ones share a crop; "
               "each region is sampled at the full resolution"),
        Choice("together", "one crop around every hole of a mask (FluxKit 0.1's behaviour)"),
    ),
)  # fmt: skip
HOLE_FILL = Choices(
    INPAINT_CROP,
    "hole_fill",
    (
        Choice("none", "the picture as it is (ControlNet, Fill and Kontext workflows)"),
        Choice("green", "pure green: what fal's FLUX.2 [klein] inpaint/outpaint LoRA was trained on (its prompt: "
               "'Fill the green spaces according to the image')"),
        Choice("grey", "neutral mid-grey, for editing models asked to paint something new there"),
    ),
)  # fmt: skip
TONE_FIT = Choices(
    INPAINT_STITCH,
    "tone_fit",
    (
        Choice("smooth", "gain and offset that may vary smoothly over the crop (a shift stronger on one side, a "
               "vignette); where the context shows no such variation it fits one gain and offset (as global) and "
               "says so, and with too little context it falls back to global"),
        Choice("global", "one gain and offset per channel (linear light): the typical VAE shift"),
    ),
)  # fmt: skip
ALIGN = Choices(
    INPAINT_STITCH,
    "align",
    (
        Choice("translation", "find how far the model moved the picture (to 1/10 px) on the context and move it "
               "back; nothing is done when it did not move"),
        Choice("off", "paste as generated"),
    ),
)  # fmt: skip
BLEND = Choices(
    INPAINT_STITCH,
    "blend",
    (
        Choice("multiband", "tone blends over the whole feather, fine detail within two pixels of the hole: a "
               "softer generation leaves no washed-out halo"),
        Choice("linear", "one linear ramp across the feather for everything (FluxKit 0.1)"),
    ),
)  # fmt: skip


def combo(name: str, table: Choices, intro: str):
    """An optional combo input over `table` (so a workflow saved before it existed still loads)."""
    return io.Combo.Input(
        name, options=table.ids(), default=table.default, optional=True, tooltip=table.tooltip(intro)
    )


def crop_inputs() -> list:
    """The crop node's inputs, in the order saved workflows store their widget values."""
    return [
        t.Image.Input("image", tooltip="Image(s) to inpaint, any size."),
        t.Mask.Input("mask", tooltip="1/white = repaint. Same size as the image."),
        io.Int.Input(
            "resolution",
            default=1024,
            min=64,
            max=4096,
            step=16,
            tooltip="Long side of the crop fed to the model: 1024 for alimama Beta, 768 for Alpha.",
        ),
        io.Float.Input(
            "context",
            default=0.5,
            min=0.0,
            max=4.0,
            step=0.05,
            tooltip="Extra surroundings as a fraction of the mask's box (0.5 = half its size, split on both sides).",
        ),
        io.Int.Input(
            "min_context_px",
            default=32,
            min=0,
            max=1024,
            tooltip="At least this many pixels of context.",
        ),
        io.Int.Input(
            "grow_px",
            default=0,
            min=-256,
            max=256,
            tooltip="Grow (>0) or shrink (<0) the hole first.",
        ),
        io.Int.Input(
            "feather_px",
            default=16,
            min=0,
            max=256,
            tooltip="Blend width outside the hole when stitching (seam hiding); the ControlNet still gets the binary hole.",
        ),
        io.Boolean.Input(
            "invert_mask",
            default=False,
            tooltip=f"Invert the mask first. A mask covering more than {INVERTED_COVERAGE:.0%} of the image "
            "triggers a warning: it usually means the polarity is flipped.",
        ),
        combo("size_preset", SIZE_PRESET, "The crop's size, for the model that samples it:"),
        combo("regions", REGIONS, "A mask with several holes:"),
        combo(
            "hole_fill",
            HOLE_FILL,
            "What the crop's hole shows the model (the stitch pastes only the model's result):",
        ),
    ]


def stitch_inputs(stitch_type) -> list:
    """The stitch node's inputs (`stitch_type`: the FLUXKIT_STITCH socket the crop node outputs)."""
    return [
        stitch_type.Input("stitch", tooltip="From FluxKit Inpaint Crop."),
        t.Image.Input("image", tooltip="The decoded inpainted crop(s), one per crop."),
        io.Boolean.Input(
            "colour_match",
            default=True,
            tooltip="Undo the tone/colour shift the model left: fitted where the model was told to keep the "
            "picture (the crop outside the hole and ring_px) and applied to the whole crop, so new content "
            "keeps the colours the model painted. (Before 0.2 this matched the hole's own colours to a ring "
            "of original pixels, which turned new objects grey; saved workflows with it on get this "
            "correction.) Turn off when the model was asked to relight the whole crop.",
        ),
        io.Int.Input(
            "ring_px",
            default=16,
            min=0,
            max=256,
            tooltip="Guard ring: pixels (of the original picture) next to the hole left out of the tone and "
            "alignment fits, since models repaint a little past the mask.",
        ),
        combo("tone_fit", TONE_FIT, "How colour_match models the shift:"),
        combo("align", ALIGN, "Undo a translation (Kontext and FLUX.2 edits often move the picture):"),
        combo("blend", BLEND, "How the crop meets the picture across the feather:"),
    ]
