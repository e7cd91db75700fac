"""Crop the region around an inpainting mask to the model's working resolution, remembering how to undo it.

Images are ComfyUI IMAGE tensors [B, H, W, C] in [0, 1]; masks [B, H, W], 1 = repaint. For each batch item:
1. box = bounding box of the blend mask (hole ∪ feather), grown by `context` (a fraction of the box size) and at
   least `min_context_px`;
2. the box is widened to the common output aspect and resized so the output's long side is `resolution`
   (Beta: 1024, Alpha: 768, Fill: any size in multiples of 16), both sides snapped to a multiple of 16, or to the
   nearest of a list of sizes (Kontext's `KONTEXT_SIZES`); parts of the box outside the image are padded
   by edge replication (and are never written back);
3. the crop, its binary hole and a `StitchRecord` (geometry + blend masks + the original pixels) are returned.
An empty mask gives a whole-image "crop" and a record that makes the stitch return the input unchanged.
With `separate=True` a mask whose holes lie far apart gives one crop per region (`regions.split`); all crops of
all images share one size (one IMAGE batch) and the record says which image and region each belongs to.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..errors import FluxKitError
from . import regions
from .mask import pair_batches

SNAP = 16


@dataclass(frozen=True)
class Box:
    x0: int
    y0: int
    x1: int  # exclusive
    y1: int

    @property
    def w(self) -> int:
        return self.x1 - self.x0

    @property
    def h(self) -> int:
        return self.y1 - self.y0


@dataclass(frozen=True)
class StitchRecord:
    """Everything the stitch needs; tensors are references to (never modified) inputs or new tensors.
    B images (the output batch), N ≥ B crops: crop j belongs to image `items[j]`, region `region[j]` of its owner
    map."""

    original: torch.Tensor  # [B, H, W, C] the images to paste into (one per output item)
    blend: torch.Tensor  # [B, H, W] feathered blend mask in original coordinates
    hole: torch.Tensor  # [B, H, W] binary hole in original coordinates
    boxes: tuple[Box, ...]  # per crop, may extend beyond the image
    out_size: tuple[int, int]  # (height, width) of the crops
    empty: tuple[bool, ...]  # per crop: nothing to inpaint → stitch returns the original
    items: tuple[int, ...] = ()  # per crop: its image (default: crop j ↔ image j)
    owner: torch.Tensor | None = (
        None  # [B, H, W] int16: region + 1 on the blend support (None: one region each)
    )
    region: tuple[int, ...] = ()  # per crop: its value in `owner`
    feather_px: int = 0  # the blend mask's feather width (the multi-band blend's widest band)
    notes: tuple[str, ...] = ()  # what the crop had to decide (too many regions), for the previews

    def item(self, j: int) -> int:
        return self.items[j] if self.items else j

    def region_mask(self, j: int, y0: int = 0, y1: int | None = None, x0: int = 0, x1: int | None = None):
        """[y1 − y0, x1 − x0] bool (default the whole picture): the pixels crop j may write (its region of the
        blend support)."""
        i = self.item(j)
        if self.owner is None:
            return self.blend[i, y0:y1, x0:x1] > 0
        return self.owner[i, y0:y1, x0:x1] == self.region[j]


def mask_box(mask: torch.Tensor) -> Box | None:
    """Bounding box of mask > 0 for one [H, W] mask, or None when empty."""
    ys, xs = torch.nonzero(mask > 0, as_tuple=True)
    if ys.numel() == 0:
        return None
    return Box(int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)


def grow_box(box: Box, context: float, min_px: int) -> Box:
    dx = max(min_px, math.ceil(box.w * context / 2))
    dy = max(min_px, math.ceil(box.h * context / 2))
    return Box(box.x0 - dx, box.y0 - dy, box.x1 + dx, box.y1 + dy)


def output_size(w: int, h: int, resolution: int) -> tuple[int, int]:
    """(height, width) with the long side = `resolution`, keeping w/h, both snapped to multiples of 16."""
    scale = resolution / max(w, h)
    snap = lambda v: max(SNAP, SNAP * round(v * scale / SNAP))  # noqa: E731
    return snap(h), snap(w)


# What the hole of a crop is painted with before the model sees it (the model's own convention), by id: "green" is
# the pure green fal's FLUX.2 [klein] outpaint/inpaint LoRA was trained on ("Fill the green spaces according to the
# image"), "grey" the neutral mid-grey of inpainting by editing. None: the picture as it is.
HOLE_FILLS: dict[str, tuple[float, float, float] | None] = {
    "none": None,
    "green": (0.0, 1.0, 0.0),
    "grey": (0.5, 0.5, 0.5),
}


# FLUX.1 Kontext's preferred (width, height) at ~1 MP: ComfyUI core's FluxKontextImageScale list
# (comfy_extras/nodes_flux.py PREFERED_KONTEXT_RESOLUTIONS, the sizes Kontext was trained on).
KONTEXT_SIZES = (
    (672, 1568), (688, 1504), (720, 1456), (752, 1392), (800, 1328), (832, 1248), (880, 1184), (944, 1104),
    (1024, 1024), (1104, 944), (1184, 880), (1248, 832), (1328, 800), (1392, 752), (1456, 720), (1504, 688),
    (1568, 672),
)  # fmt: skip


def preset_size(w: int, h: int, resolution: int, sizes: tuple[tuple[int, int], ...]) -> tuple[int, int]:
    """(height, width): the entry of `sizes` (listed for 1024) whose aspect is nearest w/h, as core's
    FluxKontextImageScale picks it, scaled by resolution/1024 and snapped to multiples of 16 (1024: exact)."""
    _, sw, sh = min((abs(w / h - pw / ph), pw, ph) for pw, ph in sizes)
    scale = resolution / 1024
    return max(SNAP, SNAP * round(sh * scale / SNAP)), max(SNAP, SNAP * round(sw * scale / SNAP))


def fit_aspect(box: Box, out_hw: tuple[int, int]) -> Box:
    """Widen `box` symmetrically so that w/h equals the output's aspect (never shrinks it)."""
    target = out_hw[1] / out_hw[0]
    w, h = box.w, box.h
    if w / h < target:
        w = math.ceil(h * target)
    else:
        h = math.ceil(w / target)
    cx, cy = box.x0 + box.w / 2, box.y0 + box.h / 2
    x0, y0 = math.floor(cx - w / 2), math.floor(cy - h / 2)
    return Box(x0, y0, x0 + w, y0 + h)


def cut(image: torch.Tensor, box: Box) -> torch.Tensor:
    """[H, W, C] → [box.h, box.w, C], edge-replicating where the box leaves the image."""
    H, W = image.shape[:2]
    pad = (max(0, -box.x0), max(0, box.x1 - W), max(0, -box.y0), max(0, box.y1 - H))
    x = image.movedim(-1, 0).unsqueeze(0)
    if any(pad):
        x = F.pad(x, pad, mode="replicate")
    x0, y0 = box.x0 + pad[0], box.y0 + pad[2]
    return x[0, :, y0 : y0 + box.h, x0 : x0 + box.w].movedim(0, -1)


def resize_image(img: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
    """[h, w, C] → [H, W, C]; identity when sizes match; bicubic up / antialiased bilinear down, clamped to [0, 1]."""
    if tuple(img.shape[:2]) == tuple(hw):
        return img.clone()
    down = hw[0] < img.shape[0] or hw[1] < img.shape[1]
    x = img.movedim(-1, 0).unsqueeze(0)
    mode = "bilinear" if down else "bicubic"
    y = F.interpolate(x, size=hw, mode=mode, align_corners=False, antialias=down)
    return y[0].movedim(0, -1).clamp(0.0, 1.0)


def crop(
    images: torch.Tensor,
    hole: torch.Tensor,
    blend: torch.Tensor,
    resolution: int = 1024,
    context: float = 0.5,
    min_context_px: int = 32,
    where: str = "crop",
    sizes: tuple[tuple[int, int], ...] | None = None,
    separate: bool = False,
    feather_px: int = 0,
    fill: tuple[float, float, float] | None = None,
) -> tuple[torch.Tensor, torch.Tensor, StitchRecord]:
    """→ (crops [N, h, w, C], crop holes [N, h, w] binary, record). All crops share one size (one IMAGE batch):
    long side `resolution` at the widest box's aspect, or with `sizes` (e.g. KONTEXT_SIZES) the listed size nearest
    it. `separate`: far-apart regions of one mask get a crop each (N ≥ B), else one crop per image (N = B). `fill`:
    an RGB colour painted over each crop's hole (HOLE_FILLS), for models that expect one there."""
    if resolution % SNAP:
        raise FluxKitError(f"{where}: resolution {resolution} must be a multiple of {SNAP}")
    images, hole = pair_batches(images, hole, where)
    _, blend = pair_batches(images, blend, where)
    H, W = images.shape[1:3]

    def grown(b: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
        g = grow_box(Box(*b), context, min_context_px)
        return g.x0, g.y0, g.x1, g.y1

    boxes, items, region, empty, owners, notes = [], [], [], [], [], []
    for i in range(images.shape[0]):
        support = blend[i] > 0
        regs = regions.split(support, grown) if separate else regions.single(support)
        owners.append(regs.owner)
        if regs.note:
            notes.append(f"image {i}: {regs.note}")
        for k, b in enumerate(regs.boxes or [None]):
            boxes.append(Box(*grown(b)) if b else Box(0, 0, W, H))
            items.append(i)
            region.append(k + 1)
            empty.append(b is None)
    widest = max(boxes, key=lambda b: b.w / b.h)
    if sizes:
        out_hw = preset_size(widest.w, widest.h, resolution, sizes)
    else:
        out_hw = output_size(widest.w, widest.h, resolution)
    boxes = [fit_aspect(b, out_hw) for b in boxes]
    owner = torch.stack(owners)
    crops, holes = [], []
    for j, box in enumerate(boxes):
        i = items[j]
        crops.append(resize_image(cut(images[i], box), out_hw))
        mine = hole[i] * (owner[i] == region[j])
        h = cut(mine.unsqueeze(-1), box)[..., 0]
        holes.append(F.interpolate(h[None, None], size=out_hw, mode="nearest-exact")[0, 0])
    record = StitchRecord(
        images, blend, hole, tuple(boxes), out_hw, tuple(empty), tuple(items), owner, tuple(region),
        feather_px, tuple(notes),
    )  # fmt: skip
    holes_t = (torch.stack(holes) >= 0.5).float()
    return paint_holes(torch.stack(crops), holes_t, fill), holes_t, record


def paint_holes(
    crops: torch.Tensor, holes: torch.Tensor, fill: tuple[float, float, float] | None
) -> torch.Tensor:
    """crops [N, h, w, C] with the RGB of every hole pixel (holes [N, h, w] > 0) set to `fill` (None: unchanged)."""
    if fill is None:
        return crops
    colour = torch.tensor(fill, dtype=crops.dtype).view(1, 1, 1, 3)
    out = crops.clone()
    out[..., :3] = torch.where(holes[..., None] > 0, colour, crops[..., :3])
    return out


def original_crop(record: StitchRecord, j: int, hw: tuple[int, int] | None = None) -> torch.Tensor:
    """[h, w, C]: crop j of the original image as the crop node gave it to the model (at `hw`, default its size)."""
    return resize_image(cut(record.original[record.item(j)], record.boxes[j]), hw or record.out_size)
