"""Nodes: crop around the mask to the model's resolution, and stitch the result back without touching other pixels."""

from __future__ import annotations

import logging

from comfy_api.latest import io, ui

from ..flux_core import inpaint_stitch
from ..flux_core.inpaint_crop import KONTEXT_SIZES, crop
from ..flux_core.inpaint_mask import INVERTED_COVERAGE, as_batch, looks_inverted, prepare
from . import comfy_types as t
from .choices import Choice, Choices
from .names import INPAINT_CROP, INPAINT_STITCH, named_errors

log = logging.getLogger(__name__)
CATEGORY = "FluxKit/inpaint"
Stitch = io.Custom("FLUXKIT_STITCH")

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
        io.Combo.Input(
            "size_preset",
            options=SIZE_PRESET.ids(),
            default=SIZE_PRESET.default,
            optional=True,
            tooltip=SIZE_PRESET.tooltip("The crop's size, for the model that samples it:"),
        ),
    ]


class FluxKitInpaintCrop(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="FluxKitInpaintCrop",
            display_name=INPAINT_CROP,
            category=CATEGORY,
            description=(
                "Crops the masked region (plus context) and resizes it so the long side is the model's training "
                "resolution, a multiple of 16. Inpaint the crop, then FluxKit Inpaint Stitch pastes it back so every "
                "pixel outside the mask and its feather stays bit-identical. Batches: N×N, 1 image × N masks, N × 1."
            ),
            inputs=crop_inputs(),
            outputs=[
                t.Image.Output(display_name="image", tooltip="The crop, sized for the model."),
                t.Mask.Output(
                    display_name="mask", tooltip="The crop's binary hole (feed the ControlNet apply node)."
                ),
                Stitch.Output(display_name="stitch", tooltip="Geometry for FluxKit Inpaint Stitch."),
            ],
        )

    @classmethod
    def validate_inputs(cls, size_preset: str | None = None) -> bool | str:
        return SIZE_PRESET.accepts(size_preset)

    @classmethod
    def execute(
        cls,
        image,
        mask,
        resolution,
        context,
        min_context_px,
        grow_px,
        feather_px,
        invert_mask,
        size_preset: str = SIZE_PRESET.default,
    ) -> io.NodeOutput:
        with named_errors(INPAINT_CROP):
            m = as_batch(mask, INPAINT_CROP)
            if invert_mask:
                m = 1.0 - m
            flipped = looks_inverted(m)
            note = ""
            if flipped:
                note = (
                    f"mask(s) {flipped} cover more than {INVERTED_COVERAGE:.0%} of the image; white = repaint. "
                    "If you meant the opposite, set invert_mask."
                )
                log.warning("%s: %s", INPAINT_CROP, note)
            hole, blend = prepare(m, binary=True, grow_px=grow_px, feather_px=feather_px, where=INPAINT_CROP)
            sizes = SIZES[SIZE_PRESET.resolve(size_preset)]
            crops, holes, record = crop(
                image, hole, blend, resolution, context, min_context_px, INPAINT_CROP, sizes
            )
            text = f"crop {record.out_size[1]}×{record.out_size[0]} from boxes {[(b.w, b.h) for b in record.boxes]}"
            return io.NodeOutput(crops, holes, record, ui=ui.PreviewText(f"{text}\n{note}".strip()))


class FluxKitInpaintStitch(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="FluxKitInpaintStitch",
            display_name=INPAINT_STITCH,
            category=CATEGORY,
            description=(
                "Resizes the inpainted crop back and blends it into the ORIGINAL image with the feathered mask: "
                "pixels outside the mask and feather are copied bit for bit (no VAE round trip, no colour drift)."
            ),
            inputs=[
                Stitch.Input("stitch", tooltip="From FluxKit Inpaint Crop."),
                t.Image.Input("image", tooltip="The decoded inpainted crop(s), one per crop."),
                io.Boolean.Input(
                    "colour_match",
                    default=False,
                    tooltip="Match the new region's colour statistics (Lab mean/std) to a ring of original pixels "
                    "around the mask; helps when the fill looks darker or tinted.",
                ),
                io.Int.Input(
                    "ring_px", default=16, min=1, max=256, tooltip="Width of the ring used for colour match."
                ),
            ],
            outputs=[t.Image.Output(tooltip="The original image(s) with the inpainted region pasted in.")],
        )

    @classmethod
    def execute(cls, stitch, image, colour_match, ring_px) -> io.NodeOutput:
        with named_errors(INPAINT_STITCH):
            return io.NodeOutput(
                inpaint_stitch.stitch(image, stitch, colour_match=colour_match, ring_px=ring_px)
            )


NODES = [FluxKitInpaintCrop, FluxKitInpaintStitch]
