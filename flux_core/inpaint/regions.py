"""Several regions in one mask: holes far apart get a crop each, near ones share one.

A mask with a hole at each end of the picture used to give one crop spanning both, most of it context the model
resamples at a lower resolution. Here the blend mask's support (hole ∪ feather) is split into connected parts on a
grid of cells (a cell is set when any pixel in it is; cells touching by an edge or a corner connect), each part's
box is grown by the crop's context, and parts whose grown boxes overlap are merged until none do (their crops
would overlap). More than MAX_REGIONS parts (a speckled mask) are kept as one region, and the caller says so.

Shapes: `support` `[H, W]` bool. `Regions` holds an owner map `[H, W]` int16 (region index + 1 on the support, 0
elsewhere) and the regions' boxes of the support (before context), top to bottom, then left to right.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

GRID = 256  # cells along the long side
MAX_REGIONS = 16


def _components(cells: torch.Tensor) -> torch.Tensor:
    """[h, w] bool → [h, w] int labels of 8-connected components (0 = empty), by max-label propagation."""
    h, w = cells.shape
    labels = torch.where(cells, torch.arange(1, h * w + 1, dtype=torch.float32).view(h, w), torch.zeros(h, w))
    for _ in range(h * w):
        grown = F.max_pool2d(labels[None, None], 3, stride=1, padding=1)[0, 0] * cells
        if torch.equal(grown, labels):
            break
        labels = grown
    return labels.long()


def _boxes_overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _union(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    return min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])


@dataclass(frozen=True)
class Regions:
    owner: torch.Tensor  # [H, W] int16: region index + 1 on the support, 0 elsewhere
    boxes: list[tuple[int, int, int, int]]  # per region: (x0, y0, x1, y1) of its support, exclusive ends
    note: str = ""  # why the mask was kept as one region, when it had to be


def split(support: torch.Tensor, grow) -> Regions:
    """The regions of `support` ([H, W] bool); `grow(box)` gives the box its crop would have (context added), used
    to decide which regions must share a crop. Boxes are (x0, y0, x1, y1) with exclusive ends."""
    H, W = support.shape
    cell = max(1, math.ceil(max(H, W) / GRID))
    cells = F.max_pool2d(support.float()[None, None], cell, ceil_mode=True)[0, 0] > 0
    labels = _components(cells)
    ids = [int(i) for i in labels.unique() if i > 0]
    note = ""
    if len(ids) > MAX_REGIONS:
        note = f"{len(ids)} separate parts in the mask (more than {MAX_REGIONS}): one crop around all of them"
        ids = []  # one region (below)
    full = labels.repeat_interleave(cell, 0).repeat_interleave(cell, 1)[:H, :W]
    groups: list[tuple[list[int], tuple[int, int, int, int]]] = []
    for i in ids:
        ys, xs = torch.nonzero((full == i) & support, as_tuple=True)
        groups.append(([i], (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)))
    merged = True
    while merged:
        merged = False
        for a in range(len(groups)):
            for b in range(a + 1, len(groups)):
                if _boxes_overlap(grow(groups[a][1]), grow(groups[b][1])):
                    groups[a] = (groups[a][0] + groups[b][0], _union(groups[a][1], groups[b][1]))
                    del groups[b]
                    merged = True
                    break
            if merged:
                break
    if not groups:  # empty support, or too many parts: everything is one region
        return single(support, note)
    groups.sort(key=lambda g: (g[1][1], g[1][0]))
    owner = torch.zeros(H, W, dtype=torch.int16)
    for k, (members, _box) in enumerate(groups):
        owner[torch.isin(full, torch.tensor(members)) & support] = k + 1
    return Regions(owner, [g[1] for g in groups], note)


def single(support: torch.Tensor, note: str = "") -> Regions:
    """All of `support` as one region (no region at all when it is empty)."""
    ys, xs = torch.nonzero(support, as_tuple=True)
    if ys.numel() == 0:
        return Regions(support.to(torch.int16), [], note)
    return Regions(
        support.to(torch.int16), [(int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)], note
    )
