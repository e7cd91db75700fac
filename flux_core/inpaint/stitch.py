"""Paste generated crops back into the original pixels, undoing what the model did to the part it was told to keep.

Per crop, on the generated crop at its own resolution next to the original crop at that resolution (what the model
was given), with the *context* = the crop's pixels inside the image, outside the hole and a guard ring around it:

    STEPS: align  (undo a translation: `align.estimate` / `align.undo`)
           tone   (undo a tone/colour shift: `tone.fit` / `ToneFit.apply`, `global` or `smooth`)
    then:  resize back to the box, blend into the original (`blend.BLENDS`: `linear` or `multiband`)

Only pixels of the crop's region with blend weight > 0 (hole ∪ feather) are written; every other pixel of the output
is a copy of the input, bit for bit. A step is one function `(view, options) → view` with a line for the report;
adding a correction is one module and one row in STEPS.

Shapes: generated `[N, h, w, C]` (N crops), output `[B, H, W, C]` (the record's images), both sRGB in [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F

from ..errors import FluxKitError
from . import align, tone
from .blend import BLENDS
from .crop import StitchRecord, original_crop, resize_image
from .mask import dilate

ASPECT_TOLERANCE = 0.02


@dataclass(frozen=True)
class Options:
    tone: str = "smooth"  # "off", "global", "smooth" (smooth: global where the context shows no variation)
    align: str = "translation"  # "off", "translation"
    blend: str = "multiband"  # "linear", "multiband"
    guard_px: int = 16  # original-image pixels next to the hole left out of the fits


@dataclass(frozen=True)
class View:
    """One crop being corrected: gen/orig [h, w, C] at the generated crop's size, context [h, w] bool."""

    gen: torch.Tensor
    orig: torch.Tensor
    context: torch.Tensor
    scale: float  # crop pixels per original pixel
    lines: tuple[str, ...] = ()


def align_step(view: View, opts: Options) -> View:
    shift = align.estimate(view.gen, view.orig, view.context)
    s = 1 / view.scale
    if shift.note:
        line = f"align: {shift.note}; nothing moved"
    elif shift.moved:
        line = f"align: the model moved the picture ({shift.dx * s:+.2f}, {shift.dy * s:+.2f}) px: undone"
    else:
        line = f"align: no movement (|shift| < {align.TOLERANCE_PX * s:.2f} px)"
    return replace(view, gen=align.undo(view.gen, shift), lines=(*view.lines, line))


def tone_step(view: View, opts: Options) -> View:
    fitted = tone.fit(view.gen, view.orig, view.context, opts.tone)
    if fitted.negligible:
        return replace(view, lines=(*view.lines, f"tone: no shift found ({fitted.pixels} context px)"))
    return replace(view, gen=fitted.apply(view.gen), lines=(*view.lines, fitted.summary()))


# (option that turns it off when "off", step)
STEPS = (("align", align_step), ("tone", tone_step))


def context_mask(record: StitchRecord, j: int, hw: tuple[int, int], guard_px: int) -> torch.Tensor:
    """[h, w] bool at the generated crop's size: inside the image, outside crop j's hole grown by `guard_px`."""
    i, box = record.item(j), record.boxes[j]
    H, W = record.original.shape[1:3]
    y0, x0, y1, x1 = max(0, box.y0), max(0, box.x0), min(H, box.y1), min(W, box.x1)
    hole = torch.zeros(box.h, box.w)
    win = (slice(y0 - box.y0, y1 - box.y0), slice(x0 - box.x0, x1 - box.x0))
    hole[win] = ((record.hole[i, y0:y1, x0:x1] > 0.5) & record.region_mask(j, y0, y1, x0, x1)).float()
    keep = torch.zeros(box.h, box.w)
    keep[win] = 1 - dilate(hole[None], guard_px)[0][win].float()
    return F.interpolate(keep[None, None], size=hw, mode="area")[0, 0] > 0.999


def _check(generated: torch.Tensor, record: StitchRecord) -> None:
    n = len(record.boxes)
    if generated.ndim != 4 or generated.shape[0] != n:
        shape = tuple(generated.shape)
        raise FluxKitError(
            f"{shape[0] if shape else 0} generated images for {n} crops (one per crop expected)"
        )
    h, w = generated.shape[1:3]
    oh, ow = record.out_size
    if abs((w / h) / (ow / oh) - 1) > ASPECT_TOLERANCE:
        raise FluxKitError(
            f"the image is {w}×{h} but the crop was {ow}×{oh}: give the stitch the decoded crop (that size, or a "
            "scaled copy of it) from the FluxKit Inpaint Crop this stitch input comes from"
        )
    if not torch.isfinite(generated).all():
        raise FluxKitError(
            "the image holds NaN or infinite values (the sampler or VAE produced them; a VAE in fp32 or a lower "
            "cfg usually helps): nothing to paste"
        )


@torch.no_grad()
def stitch(
    generated: torch.Tensor, record: StitchRecord, opts: Options = Options()
) -> tuple[torch.Tensor, str]:
    """generated [N, h, w, C] (the crops after inpainting) → ([B, H, W, C] originals with the results blended in,
    the report: one line per correction per crop)."""
    _check(generated, record)
    out = record.original.clone()
    H, W = out.shape[1:3]
    report = list(record.notes)
    for j, box in enumerate(record.boxes):
        if record.empty[j]:
            continue
        i = record.item(j)
        gen = generated[j].to(out.dtype)
        hw = tuple(gen.shape[:2])
        view = View(
            gen, original_crop(record, j, hw), context_mask(record, j, hw, opts.guard_px), hw[0] / box.h
        )
        for option, step in STEPS:
            if getattr(opts, option) != "off":
                view = step(view, opts)
        if len(record.boxes) > 1:
            report += [f"crop {j + 1} (image {i + 1}, box {box.w}×{box.h} at {box.x0},{box.y0}):"]
        report += [f"  {line}" if len(record.boxes) > 1 else line for line in view.lines]
        back = resize_image(view.gen, (box.h, box.w))[..., : out.shape[-1]]
        x0, y0, x1, y1 = max(0, box.x0), max(0, box.y0), min(W, box.x1), min(H, box.y1)
        back = back[y0 - box.y0 : y1 - box.y0, x0 - box.x0 : x1 - box.x0]
        b = record.blend[i, y0:y1, x0:x1] * record.region_mask(j, y0, y1, x0, x1)
        out[i, y0:y1, x0:x1] = BLENDS[opts.blend](out[i, y0:y1, x0:x1], back, b, record.feather_px)
    return out, "\n".join(report)
