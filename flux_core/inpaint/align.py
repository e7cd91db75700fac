"""Alignment: find how far the model moved the picture, on the context band, and move it back.

Editing models (FLUX.1 Kontext, FLUX.2) return the crop translated by a fraction of a pixel up to a few percent of
its size; pasted back unmoved, every edge at the seam doubles. The context band (outside the hole and its guard)
is what the model kept, so it shows the translation `t` with `generated(x) ≈ original(x − t)`:

1. whole pixels: masked normalised cross-correlation (Padfield, "Masked object registration in the Fourier
   domain", IEEE TIP 2012; as scikit-image's `phase_cross_correlation` with masks), on a copy ≤ COARSE_SIDE a side,
   over shifts up to MAX_SHIFT of the crop, the masks moving with their images;
2. sub-pixel: Lucas–Kanade on linear luminance with a gain and an offset (the tone shift must not pull the
   translation), robust (Tukey) weights, on a copy ≤ FINE_SIDE a side, from the coarse estimate;
3. `undo`: `aligned(x) = generated(x + t)` (bicubic, edges repeated); a no-op when |t| < TOLERANCE_PX.

Shapes: images `[h, w, C]` sRGB in [0, 1]; context `[h, w]` bool; translations (dx, dy) in pixels of the crop.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .colour import luma
from .resample import block_all, block_mean, factor

COARSE_SIDE = 192
FINE_SIDE = 512
MAX_SHIFT = 0.2  # of the crop's side
MIN_OVERLAP = 0.3  # of the context pixels, for a coarse candidate
MIN_CORRELATION = 0.3  # below this the coarse peak is not trusted (flat or unrelated context)
TOLERANCE_PX = 0.1
LK_ITERATIONS = 12
LK_POINTS = 40000
TUKEY_C = 4.685


@dataclass(frozen=True)
class Shift:
    dx: float  # the content moved right by dx crop pixels
    dy: float  # and down by dy
    correlation: float  # masked NCC of the coarse peak (1 = identical structure)
    pixels: int  # context pixels the fine fit used
    note: str = ""

    @property
    def moved(self) -> bool:
        return max(abs(self.dx), abs(self.dy)) >= TOLERANCE_PX


def _masked_ncc(
    fixed: torch.Tensor, moving: torch.Tensor, fm: torch.Tensor, mm: torch.Tensor
) -> torch.Tensor:
    """Masked NCC of all integer shifts: [h, w] images and masks → [2h−1, 2w−1], index (h−1, w−1) = no shift,
    index (h−1+sy, w−1+sx) = `moving` moved by (sx, sy) matches `fixed`. 0 where the overlap is too small."""
    h, w = fixed.shape
    shape = (2 * h - 1, 2 * w - 1)
    fm, mm = fm.double(), mm.double()
    fixed, moving = fixed.double() * fm, moving.double() * mm

    def fft(x):
        return torch.fft.rfft2(x, s=shape)

    def ifft(x):
        return torch.fft.irfft2(x, s=shape)

    rot, rot_m = moving.flip(0, 1), mm.flip(0, 1)
    f_fixed, f_rot, f_fm, f_rm = fft(fixed), fft(rot), fft(fm), fft(rot_m)
    overlap = ifft(f_rm * f_fm).round().clamp_min(1e-12)
    c_fixed, c_rot = ifft(f_rm * f_fixed), ifft(f_fm * f_rot)
    num = ifft(f_rot * f_fixed) - c_fixed * c_rot / overlap
    den_f = (ifft(f_rm * fft(fixed**2)) - c_fixed**2 / overlap).clamp_min(0)
    den_m = (ifft(f_fm * fft(rot**2)) - c_rot**2 / overlap).clamp_min(0)
    den = (den_f * den_m).sqrt()
    out = torch.where(
        den > 1e-9 * den.max().clamp_min(1e-30), num / den.clamp_min(1e-30), torch.zeros_like(num)
    )
    out = out.clamp(-1, 1)
    out[overlap < MIN_OVERLAP * min(fm.sum(), mm.sum())] = 0
    return out.flip(0, 1)  # index by the shift of `moving`, not of `fixed`


def coarse(gen_l: torch.Tensor, orig_l: torch.Tensor, ctx: torch.Tensor) -> tuple[float, float, float]:
    """Whole-pixel translation of gen vs orig luminance ([h, w], same size) on `ctx` → (dx, dy, correlation)."""
    h, w = gen_l.shape
    ncc = _masked_ncc(orig_l, gen_l, ctx, ctx)
    ry, rx = max(1, int(MAX_SHIFT * h)), max(1, int(MAX_SHIFT * w))
    window = ncc[h - 1 - ry : h + ry, w - 1 - rx : w + rx]
    best = int(window.argmax())
    sy, sx = divmod(best, window.shape[1])
    return float(sx - rx), float(sy - ry), float(window.max())


def _gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """[h, w] → blurred (separable, edges repeated)."""
    r = max(1, int(3 * sigma))
    k = torch.exp(-(torch.arange(-r, r + 1, dtype=x.dtype) ** 2) / (2 * sigma**2))
    k = k / k.sum()
    y = F.pad(x[None, None], (r, r, r, r), mode="replicate")
    y = F.conv2d(y, k.view(1, 1, 1, -1))
    return F.conv2d(y, k.view(1, 1, -1, 1))[0, 0]


def warp(img: torch.Tensor, dx: float, dy: float, mode: str = "bilinear") -> torch.Tensor:
    """[h, w, C] → out(x, y) = img(x + dx, y + dy), edges repeated."""
    h, w = img.shape[:2]
    ys = torch.arange(h, dtype=torch.float32) + dy
    xs = torch.arange(w, dtype=torch.float32) + dx
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    return sample(img, gx, gy, mode)


def sample(img: torch.Tensor, x: torch.Tensor, y: torch.Tensor, mode: str = "bilinear") -> torch.Tensor:
    """[h, w, C] at pixel positions x, y (any equal shapes S) → [*S, C], edges repeated."""
    h, w = img.shape[:2]
    grid = torch.stack([x / max(w - 1, 1) * 2 - 1, y / max(h - 1, 1) * 2 - 1], -1).float()
    flat = grid.reshape(1, -1, 1, 2).to(img.device)
    out = F.grid_sample(
        img.float().movedim(-1, 0)[None], flat, mode=mode, padding_mode="border", align_corners=True
    )
    return out[0, :, :, 0].T.reshape(*x.shape, img.shape[-1])


def refine(gen_l, orig_l, ctx, dx: float, dy: float) -> tuple[float, float, int]:
    """Lucas–Kanade for (dx, dy, gain, offset) from (dx, dy) on [h, w] luminance → (dx, dy, pixels used).

    Runs on up to LK_POINTS context pixels (an even stride through them), sampling the moving image there."""
    g, o = _gaussian_blur(gen_l, 1.0), _gaussian_blur(orig_l, 1.0)
    gy, gx = torch.gradient(g)
    stack = torch.stack([g, gx, gy, ctx.float()], -1)
    ys, xs = torch.nonzero(ctx, as_tuple=True)
    stride = max(1, ys.numel() // LK_POINTS)
    ys, xs = ys[::stride].float(), xs[::stride].float()
    target = o[ys.long(), xs.long()]
    a, c, n = 1.0, 0.0, 0
    for _ in range(LK_ITERATIONS):
        gw, gxw, gyw, cw = sample(stack, xs + dx, ys + dy, "bicubic").unbind(-1)
        m = cw > 0.999  # the moving point is still on the context
        n = int(m.sum())
        if n < 16:
            break
        r = a * gw[m] + c - target[m]
        j = torch.stack([a * gxw[m], a * gyw[m], gw[m], torch.ones_like(r)], -1).double()
        scale = 1.4826 * (r - r.median()).abs().median()
        wts = ((1 - (r / (TUKEY_C * scale.clamp_min(1e-5))) ** 2).clamp_min(0) ** 2).double()
        jw = j * wts[:, None]
        step = torch.linalg.solve(jw.T @ j + 1e-9 * torch.eye(4, dtype=j.dtype), jw.T @ -r.double())
        dx, dy, a, c = dx + float(step[0]), dy + float(step[1]), a + float(step[2]), c + float(step[3])
        if abs(float(step[0])) + abs(float(step[1])) < 1e-3:
            break
    return dx, dy, n


def estimate(gen: torch.Tensor, orig: torch.Tensor, context: torch.Tensor) -> Shift:
    """The translation of `gen` against `orig` ([h, w, ≥3], same size) seen on `context` ([h, w] bool)."""
    h, w = gen.shape[:2]
    ff = factor(h, w, FINE_SIDE)
    g_f, o_f = luma(block_mean(gen[..., :3], ff)), luma(block_mean(orig[..., :3], ff))  # [h/ff, w/ff]
    ctx_f = block_all(context, ff)
    fc = factor(*g_f.shape, COARSE_SIDE)  # in fine pixels
    ctx_c = block_all(ctx_f, fc)
    if int(ctx_c.sum()) < 16:
        return Shift(0.0, 0.0, 0.0, 0, "too little context to align")
    cx, cy, corr = coarse(
        block_mean(g_f[..., None], fc)[..., 0], block_mean(o_f[..., None], fc)[..., 0], ctx_c
    )
    if corr < MIN_CORRELATION:
        return Shift(0.0, 0.0, corr, 0, f"no reliable match on the context (correlation {corr:.2f})")
    # a block copy's pixel is f pixels of the finer one (block centres sit at (i + 0.5)·f − 0.5: no offset)
    dx, dy, n = refine(g_f, o_f, ctx_f, cx * fc, cy * fc)
    return Shift(dx * ff, dy * ff, corr, n)


def undo(gen: torch.Tensor, shift: Shift) -> torch.Tensor:
    """[h, w, C] → the crop moved back by `shift` (bicubic, clamped to [0, 1]); unchanged when it did not move."""
    if not shift.moved:
        return gen
    return warp(gen, shift.dx, shift.dy, mode="bicubic").clamp(0, 1).to(gen.dtype)
