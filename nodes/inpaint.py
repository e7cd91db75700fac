"""Nodes: crop around the mask to the model's resolution, and stitch the result back without touching other pixels."""

from __future__ import annotations

import logging

from comfy_api.latest import io, ui

from ..flux_core.inpaint import stitch as stitching
from ..flux_core.inpaint.crop import HOLE_FILLS, crop
from ..flux_core.inpaint.mask import INVERTED_COVERAGE, as_batch, looks_inverted, prepare
from . import comfy_types as t
from .choices import all_accepted
from .inpaint_inputs import (
    ALIGN,
    BLEND,
    HOLE_FILL,
    REGIONS,
    SIZE_PRESET,
    SIZES,
    TONE_FIT,
    crop_inputs,
    stitch_inputs,
)
from .names import INPAINT_CROP, INPAINT_STITCH, named_errors

log = logging.getLogger(__name__)
CATEGORY = "FluxKit/inpaint"
Stitch = io.Custom("FLUXKIT_STITCH")


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
    def validate_inputs(
        cls, size_preset: str | None = None, regions: str | None = None, hole_fill: str | None = None
    ) -> bool | str:
        return all_accepted((SIZE_PRESET, size_preset), (REGIONS, regions), (HOLE_FILL, hole_fill))

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
        regions: str = REGIONS.default,
        hole_fill: str = HOLE_FILL.default,
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
                image, hole, blend, resolution, context, min_context_px, INPAINT_CROP, sizes,
                separate=REGIONS.resolve(regions) == "separate", feather_px=feather_px,
                fill=HOLE_FILLS[HOLE_FILL.resolve(hole_fill)],
            )  # fmt: skip
            text = f"{len(record.boxes)} crop(s) {record.out_size[1]}×{record.out_size[0]} from boxes " + str(
                [(b.w, b.h) for b in record.boxes]
            )
            text = "\n".join([text, *record.notes, note]).strip()
            return io.NodeOutput(crops, holes, record, ui=ui.PreviewText(text))


class FluxKitInpaintStitch(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="FluxKitInpaintStitch",
            display_name=INPAINT_STITCH,
            category=CATEGORY,
            description=(
                "Pastes the inpainted crop(s) back into the ORIGINAL image: pixels outside the mask and feather are "
                "copied bit for bit (no VAE round trip). Before pasting it undoes what the model did to the part it "
                "was told to keep, measured there: a translation (align) and a tone/colour shift (colour_match); the "
                "preview text says what it found and undid."
            ),
            inputs=stitch_inputs(Stitch),
            outputs=[t.Image.Output(tooltip="The original image(s) with the inpainted region(s) pasted in.")],
        )

    @classmethod
    def validate_inputs(
        cls, tone_fit: str | None = None, align: str | None = None, blend: str | None = None
    ) -> bool | str:
        return all_accepted((TONE_FIT, tone_fit), (ALIGN, align), (BLEND, blend))

    @classmethod
    def execute(
        cls,
        stitch,
        image,
        colour_match,
        ring_px,
        tone_fit: str = TONE_FIT.default,
        align: str = ALIGN.default,
        blend: str = BLEND.default,
    ) -> io.NodeOutput:
        with named_errors(INPAINT_STITCH):
            opts = stitching.Options(
                tone=TONE_FIT.resolve(tone_fit) if colour_match else "off",
                align=ALIGN.resolve(align),
                blend=BLEND.resolve(blend),
                guard_px=ring_px,
            )
            out, report = stitching.stitch(image, stitch, opts)
            log.info("%s: %s", INPAINT_STITCH, report.replace("\n", "; "))
            return io.NodeOutput(out, ui=ui.PreviewText(report or "pasted as generated (no correction on)"))


NODES = [FluxKitInpaintCrop, FluxKitInpaintStitch]
