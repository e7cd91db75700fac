"""Qwen2VL-Flux's connector: Qwen2-VL image-token states → FLUX text conditioning (erwold/qwen2vl-flux).

Data flow of the reference, and how FluxKit turns it into ordinary FLUX conditioning:
- Qwen2-VL-7B's last hidden states (after the final RMSNorm) at the image-token positions, [B, N, 3584], optionally
  weighted by GridDot (`griddot_weights`), go through the connector, Linear 3584 → 4096 with bias (`connector.pt`:
  `linear.weight` [4096, 3584], `linear.bias` [4096]; a `module.` prefix may be present). The result is FLUX text
  context, [B, N, 4096], which FLUX's own `context_embedder` (ComfyUI: `txt_in`, 4096 → 3072) embeds as usual.
- With a prompt, T5-XXL states of the prompt [B, T, 4096] go through the T5 embedder, Linear 4096 → 3072
  (`t5_embedder.pt`: `weight` [3072, 4096], `bias` [3072]), and are appended *after* the embedded Qwen tokens.
  Those 3072-d tokens bypass `context_embedder`; to express them as ordinary 4096-d conditioning FluxKit solves
  `txt_in(u) = t5_embedder(t5)` for u with the pseudo-inverse of `txt_in`'s weight (3072 × 4096, full row rank), so
  `txt_in(u)` reproduces the T5 embedder's output up to floating-point rounding and any FLUX loader works unchanged.
- The pooled vector is CLIP-L of the empty string, whatever the prompt (the reference never shows CLIP the prompt).
"""

from __future__ import annotations

import torch

from .errors import CheckpointError, FluxKitError
from .safetensors_io import load_state_dict

QWEN_HIDDEN = 3584
FLUX_CONTEXT = 4096
FLUX_HIDDEN = 3072


def _load_linear_state(path: str) -> dict[str, torch.Tensor]:
    """State dict of a `.pt` (weights_only, never unpickling code) or `.safetensors` file, without the
    `module.` prefix a DataParallel save adds (Qwen2VL-Flux's connector.pt has it)."""
    return {k.removeprefix("module."): v for k, v in load_state_dict(path).items()}


def load_linear(path: str, prefix: str, in_features: int | None, out_features: int) -> torch.nn.Linear:
    """A Linear from `path` whose keys are `<prefix>weight`/`<prefix>bias` (prefix '' or 'linear.')."""
    sd = _load_linear_state(path)
    weight, bias = sd.get(f"{prefix}weight"), sd.get(f"{prefix}bias")
    if weight is None or bias is None or weight.ndim != 2:
        raise CheckpointError(
            path, f"has keys {sorted(sd)[:6]}", f"'{prefix}weight' [out, in] and '{prefix}bias'"
        )
    if weight.shape[0] != out_features or (in_features is not None and weight.shape[1] != in_features):
        want = f"[{out_features}, {in_features if in_features is not None else 'any'}]"
        raise CheckpointError(path, f"weight is {list(weight.shape)}", f"{want} (wrong file?)")
    linear = torch.nn.Linear(weight.shape[1], weight.shape[0])
    with torch.no_grad():
        linear.weight.copy_(weight.float())
        linear.bias.copy_(bias.float())
    return linear.eval()


def load_connector(path: str) -> torch.nn.Linear:
    """connector.pt: Linear(3584 → 4096) (input width taken from the file, so smaller test models load too)."""
    return load_linear(path, "linear.", None, FLUX_CONTEXT)


def load_t5_embedder(path: str) -> torch.nn.Linear:
    """t5_embedder.pt: Linear(4096 → 3072)."""
    return load_linear(path, "", FLUX_CONTEXT, FLUX_HIDDEN)


def griddot_weights(
    grid_hw: tuple[int, int], center_x: float, center_y: float, radius: float
) -> torch.Tensor:
    """GridDot attention over the merged Qwen token grid (h, w), row-major like the image tokens: [h·w] weights
    w = clip(1 − dist / (radius · min(h, w)), 0, 1), dist measured in tokens from (center_x·w, center_y·h).
    radius ≤ 0 means no weighting (all ones)."""
    h, w = grid_hw
    if radius <= 0:
        return torch.ones(h * w)
    ys, xs = torch.meshgrid(
        torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij"
    )
    dist = torch.sqrt((xs - center_x * w) ** 2 + (ys - center_y * h) ** 2)
    return (1 - dist / (radius * min(h, w))).clamp(0, 1).reshape(-1)


def embedded_to_context(
    embedded: torch.Tensor, txt_in_weight: torch.Tensor, txt_in_bias: torch.Tensor
) -> torch.Tensor:
    """4096-d context u with txt_in(u) = `embedded` ([B, T, 3072]): the minimum-norm solution u = W⁺(embedded − b)
    = Wᵀ(WWᵀ)⁻¹(embedded − b), through a Cholesky factor of WWᵀ in float64 (10× cheaper than an SVD pseudo-
    inverse; W is 3072 × 4096 with full row rank, so WWᵀ is positive definite)."""
    w = txt_in_weight.double()
    chol = torch.linalg.cholesky(w @ w.T)
    rhs = (embedded.double() - txt_in_bias.double()).reshape(-1, w.shape[0]).T  # [3072, B·T]
    u = (w.T @ torch.cholesky_solve(rhs, chol)).T
    return u.reshape(*embedded.shape[:-1], w.shape[1]).float()


def _apply(linear: torch.nn.Linear, x: torch.Tensor) -> torch.Tensor:
    """`linear(x)` on x's device and dtype without moving the module (it is a node output, shared and cached)."""
    bias = None if linear.bias is None else linear.bias.to(x)
    return torch.nn.functional.linear(x, linear.weight.to(x), bias)


def assemble_context(
    qwen_states: torch.Tensor,
    connector: torch.nn.Linear,
    t5_states: torch.Tensor | None = None,
    t5_embedder: torch.nn.Linear | None = None,
    txt_in: tuple[torch.Tensor, torch.Tensor] | None = None,
    token_weights: torch.Tensor | None = None,
) -> torch.Tensor:
    """FLUX text context [B, N (+T), 4096] from Qwen image-token states [B, N, Dq] (+ T5 prompt states [B, T, 4096]).

    `token_weights` [N] (GridDot) scale the Qwen states before the connector. The T5 part needs the T5 embedder and
    FLUX's `txt_in` (weight [3072, 4096], bias [3072]) to be expressed in the 4096-d input space."""
    if qwen_states.shape[-1] != connector.in_features:
        raise FluxKitError(
            f"Qwen hidden size {qwen_states.shape[-1]} does not match the connector's input {connector.in_features} "
            "(Qwen2VL-Flux's connector is for Qwen2-VL-7B, hidden 3584)"
        )
    x = qwen_states.float()
    if token_weights is not None:
        if token_weights.shape[0] != x.shape[1]:
            raise FluxKitError(
                f"GridDot weights for {token_weights.shape[0]} tokens, but Qwen gave {x.shape[1]}"
            )
        x = x * token_weights.to(x)[None, :, None]
    with torch.no_grad():
        context = _apply(connector, x)
        if t5_states is None:
            return context
        if t5_embedder is None or txt_in is None:
            raise FluxKitError("a prompt needs the T5 embedder (t5_embedder.pt) and the FLUX model's txt_in")
        embedded = _apply(t5_embedder, t5_states.float().to(x.device))
    t5_context = embedded_to_context(embedded, *(t.to(x.device) for t in txt_in))
    if t5_context.shape[0] != context.shape[0]:
        t5_context = t5_context.expand(context.shape[0], -1, -1)
    return torch.cat([context, t5_context], dim=1)
