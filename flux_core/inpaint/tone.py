"""Tone/colour correction fitted on the context the model kept, applied to the whole generated crop.

A diffusion model + VAE return the crop with a small tone shift: in linear light, per channel, close to
`generated = gain · original + offset`, sometimes varying slowly across the crop. The context band (inside the crop,
outside the hole and a guard ring around it) is what the model was asked to keep, so there generated-vs-original
*measures* that shift; the correction is its inverse, `(generated − offset) / gain`, applied everywhere, the hole
included. The hole's own statistics never enter the fit: a red car painted onto a grey road stays red.

- `global`: one gain and offset per channel; `smooth`: gain and offset fields of first order over the crop (1, u, v
  in coordinates −1…1: a shift stronger on one side), evaluated at every pixel and clamped to what was seen on the
  context. (Second-order fields, and a gain field with one offset, measured worse on real photographs in
  `bench.bench_seams`: the hole's interior is far from every context pixel, and a shift that varies in its offset
  too is common.)
- Fitted as the forward model (original is the regressor, the model's errors are in `generated`, so the gains are
  not biased towards 1 by blur or noise), by iteratively reweighted least squares with Tukey's biweight: context
  pixels the model did change (a repainted feather zone, an object it added) get weight 0. A tiny ridge keeps a
  context that cannot tell gain from offset (a flat sky) solvable; it is small enough not to bias a real fit
  (at 1e-3 it halved the gains fitted on a narrow-range sky: rocket's ΔE in the hole doubled).
- The simplest model the context supports: global is used only where it lowers the context's absolute residual by
  IMPROVE_MIN over no correction, smooth only where it does so over global (a generation that is only softer is left
  alone; a uniform shift asked as smooth is fitted global, said in the report). Measured in `bench.bench_seams`:
  without this, a context with no shift still got a fitted gain that moved the hole's colours by noise (core ΔE
  1.18 global, 1.28 smooth, vs 1.14 with no correction); with it both equal no correction there, and smooth equals
  global wherever the shift is uniform.
- Never extrapolates wildly: gains are clamped to [GAIN_MIN, GAIN_MAX], offsets to ±OFFSET_MAX; with fewer than
  SMOOTH_MIN_PIXELS context pixels `smooth` falls back to `global`; every clamp or fallback is reported.

Shapes: images `[h, w, 3]` sRGB in [0, 1]; masks `[h, w]` bool; fits run on a working copy of ≤ FIT_SIDE pixels a
side (f×f block means of the sRGB values, then linearised: the detail a softer generation lacks is averaged out).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..errors import FluxKitError
from .colour import linear_to_srgb, srgb_to_linear
from .resample import block_all, block_mean, coords, factor

FIT_SIDE = 256
GAIN_MIN, GAIN_MAX = 0.75, 1.33
OFFSET_MAX = 0.1  # linear light
SMOOTH_MIN_PIXELS = 1500  # working-resolution context pixels a smooth field needs
GLOBAL_MIN_PIXELS = 16
RIDGE = 1e-6  # relative to the number of context pixels: only to keep a flat context solvable
TUKEY_C = 4.685
IRLS_ITERATIONS = 6
LUT_SIZE = 4097
NEGLIGIBLE = 1 / 765
# A richer model must lower the context's absolute residual by this fraction to be used (identity → global →
# smooth): a fit that explains nothing the context shows would only move the hole's colours by noise.
IMPROVE_MIN = 0.03


def basis(ys: torch.Tensor, xs: torch.Tensor, model: str) -> torch.Tensor:
    """[len(ys), len(xs), K] basis functions at normalised coordinates (K = 1 for global, 3 for smooth)."""
    v, u = torch.meshgrid(ys, xs, indexing="ij")
    if model == "global":
        return torch.ones_like(u)[..., None]
    return torch.stack([torch.ones_like(u), u, v], -1)


@dataclass(frozen=True)
class ToneFit:
    """gen ≈ gain(x) · orig + offset(x) per channel in linear light; `apply` undoes it."""

    model: str  # "global" or "smooth" (what was fitted; may be less than asked)
    gain: torch.Tensor  # [K, 3] coefficients of the gain field
    offset: torch.Tensor  # [K, 3] coefficients of the offset field
    gain_range: torch.Tensor  # [2, 3] the field is clamped to these (seen on the context, within the limits)
    offset_range: torch.Tensor  # [2, 3]
    pixels: int  # working-resolution context pixels the fit used
    notes: tuple[str, ...]  # clamps and fallbacks, for the report

    def fields(self, h: int, w: int, device=None) -> tuple[torch.Tensor, torch.Tensor]:
        """(gain, offset) at every pixel of an [h, w] image: [h, w, 3] each, clamped."""
        phi = basis(coords(h, 1, device), coords(w, 1, device), self.model)
        gain = (phi @ self.gain.to(device)).clamp(
            self.gain_range[0].to(device), self.gain_range[1].to(device)
        )
        offset = (phi @ self.offset.to(device)).clamp(
            self.offset_range[0].to(device), self.offset_range[1].to(device)
        )
        return gain, offset

    def apply(self, gen: torch.Tensor) -> torch.Tensor:
        """[h, w, C] sRGB → the same with the shift undone (channels past 3 untouched)."""
        out = gen.clone()
        if self.model == "global":  # one curve per channel: read off a table (exact to ~1e-6, 4× faster)
            gain, offset = self.fields(1, 1)
            x = torch.linspace(0, 1, LUT_SIZE)[:, None]
            table = linear_to_srgb((srgb_to_linear(x) - offset[0, 0]) / gain[0, 0])  # [LUT_SIZE, 3]
            out[..., :3] = lookup(gen[..., :3], table.to(gen.device)).to(gen.dtype)
            return out
        gain, offset = self.fields(gen.shape[0], gen.shape[1], gen.device)
        out[..., :3] = linear_to_srgb((srgb_to_linear(gen[..., :3]) - offset) / gain).to(gen.dtype)
        return out

    @property
    def negligible(self) -> bool:
        """Whether undoing the fit would move no value by more than NEGLIGIBLE (a third of an 8-bit level)."""
        x = srgb_to_linear(torch.linspace(0, 1, 257))[:, None]
        worst = torch.zeros(())
        for gain in self.gain_range:
            for offset in self.offset_range:
                worst = torch.maximum(
                    worst, (linear_to_srgb((x - offset) / gain) - linear_to_srgb(x)).abs().max()
                )
        return bool(worst < NEGLIGIBLE)

    def summary(self) -> str:
        g, o = self.fields(9, 9)
        gains = " ".join(f"{c}×{v:.3f}" for c, v in zip("RGB", g.mean((0, 1)).tolist()))
        offsets = " ".join(f"{v:+.3f}" for v in o.mean((0, 1)).tolist())
        text = f"tone {self.model}: gain {gains}, offset {offsets} (linear; {self.pixels} context px)"
        return text + "".join(f"; {n}" for n in self.notes)


def lookup(x: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
    """[h, w, 3] in [0, 1] → each channel through its curve `table` [L, 3] (samples at 0 … 1), linearly
    interpolated (grid_sample along the table: the fastest gather for a few million pixels on a CPU)."""
    pos = x.float().clamp(0, 1) * 2 - 1
    grid = torch.stack([pos.movedim(-1, 0), torch.zeros_like(pos).movedim(-1, 0)], -1)  # [3, h, w, 2]
    tab = table.T[:, None, None, :].float()  # [3, 1, 1, L]
    out = torch.nn.functional.grid_sample(tab, grid, mode="bilinear", align_corners=True)  # [3, 1, h, w]
    return out[:, 0].movedim(0, -1)


def _solve(x: torch.Tensor, y: torch.Tensor, w: torch.Tensor, ridge: torch.Tensor) -> torch.Tensor:
    """Weighted ridge least squares per channel: x [n, P, 3], y [n, 3], w [n, 3] → [P, 3] (float64)."""
    xw = x * w[:, None, :]
    a = torch.einsum("npc,nqc->cpq", xw, x) + torch.diag_embed(ridge.T)
    b = torch.einsum("npc,nc->cp", xw, y)
    return torch.linalg.solve(a, b).T


def _irls(
    phi: torch.Tensor, o: torch.Tensor, g: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Robust fit of g − o ≈ (gain − 1)(x)·o + offset(x) over basis phi [n, K] → (coef [2K, 3], residuals [n, 3],
    final Tukey weights [n, 3]), by iteratively reweighted least squares: pixels the model changed get weight 0."""
    n, k = phi.shape
    x = torch.cat([phi[:, :, None] * o[:, None, :], phi[:, :, None].expand(-1, -1, 3)], 1)  # [n, 2K, 3]
    ridge = torch.full((2 * k, 3), RIDGE * n, dtype=torch.float64)
    w = torch.ones_like(g)
    for _ in range(IRLS_ITERATIONS):
        coef = _solve(x, g - o, w, ridge)  # deviation from identity: (gain − 1 terms, offset)
        r = g - o - torch.einsum("npc,pc->nc", x, coef)
        scale = 1.4826 * (r - r.median(0).values).abs().median(0).values
        c = TUKEY_C * scale.clamp_min(2e-4)
        w = ((1 - (r / c) ** 2).clamp_min(0)) ** 2
    return coef, r, w


def fit(gen: torch.Tensor, orig: torch.Tensor, context: torch.Tensor, model: str) -> ToneFit:
    """Fit the shift on `context` ([h, w] bool) of gen/orig ([h, w, ≥3] sRGB, same size) → `ToneFit`."""
    notes: list[str] = []
    h, w = gen.shape[:2]
    f = factor(h, w, FIT_SIDE)
    g_small = srgb_to_linear(block_mean(gen[..., :3], f))
    o_small = srgb_to_linear(block_mean(orig[..., :3], f))
    ctx = block_all(context, f)
    n = int(ctx.sum())
    if n < GLOBAL_MIN_PIXELS:
        raise FluxKitError(
            f"the crop has {n} context pixels outside the hole and its guard ring (at least {GLOBAL_MIN_PIXELS} "
            "needed to measure the tone shift): raise `context` in FluxKit Inpaint Crop, lower ring_px, or turn "
            "colour_match off"
        )
    if model == "smooth" and n < SMOOTH_MIN_PIXELS:
        notes.append(f"only {n} context px: a smooth field needs {SMOOTH_MIN_PIXELS}, fitted global")
        model = "global"
    o, g = o_small[ctx].double(), g_small[ctx].double()  # [n, 3]
    phis = {m: basis(coords(h, f), coords(w, f), m)[ctx].double() for m in ("global", model)}  # [n, K] each
    fits = {m: _irls(phi, o, g) for m, phi in phis.items()}
    inliers = fits["global"][2] > 0  # [n, 3] judged on the same pixels: those the global fit did not reject
    err = {m: (r.abs() * inliers).sum().item() for m, (_, r, _) in fits.items()}
    err["identity"] = ((g - o).abs() * inliers).sum().item()
    if err["global"] > (1 - IMPROVE_MIN) * err["identity"]:
        model = "identity"  # the shift explains nothing the context shows: leave the colours alone
    elif model == "smooth" and err["smooth"] > (1 - IMPROVE_MIN) * err["global"]:
        notes.append("no variation across the crop: fitted global")
        model = "global"
    if model == "identity":
        one = torch.ones(2, 3)
        return ToneFit("global", torch.ones(1, 3), torch.zeros(1, 3), one, one * 0, n, tuple(notes))
    phi, coef = phis[model], fits[model][0]
    k = phi.shape[1]
    gain, offset = coef[:k].clone(), coef[k:].clone()
    gain[0] += 1.0
    seen_gain = phi @ gain  # [n, 3] the fields on the context
    seen_offset = phi @ offset
    gain_range = torch.stack([seen_gain.min(0).values, seen_gain.max(0).values]).float()
    offset_range = torch.stack([seen_offset.min(0).values, seen_offset.max(0).values]).float()
    clamped_gain = gain_range.clamp(GAIN_MIN, GAIN_MAX)
    clamped_offset = offset_range.clamp(-OFFSET_MAX, OFFSET_MAX)
    if not (torch.equal(clamped_gain, gain_range) and torch.equal(clamped_offset, offset_range)):
        notes.append(f"clamped to gain {GAIN_MIN}…{GAIN_MAX}, offset ±{OFFSET_MAX}")
    return ToneFit(model, gain.float(), offset.float(), clamped_gain, clamped_offset, n, tuple(notes))
