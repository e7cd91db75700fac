"""Read a FLUX LoRA in any common format and place every low-rank pair on a BFL weight (with a row slice).

Formats (key prefix → how the rest of the key is read):
- diffusers / PEFT: `transformer.<module>.lora_A|lora_B.weight`, also `base_model.model.` and bare module paths
  (FLUX.1-Turbo-Alpha, Hyper-FLUX);
- kohya sd-scripts: `lora_unet_<bfl_module_with_underscores>.lora_down|lora_up.weight` + `.alpha`;
- OneTrainer `lora_transformer_…` and SimpleTuner LyCORIS `lycoris_…`: diffusers module paths with underscores;
- BFL / ComfyUI: `diffusion_model.<bfl_module>.lora_A|lora_B|lora_down|lora_up.weight`;
- XLabs: `double_blocks.N.processor.{qkv,proj}_lora{1,2}.down|up.weight` (image stream 1, text stream 2).

Scaling follows diffusers and ComfyUI: delta = strength · (alpha / rank if `.alpha` is stored else 1) · up @ down.
Nothing is dropped silently: every key that does not become part of a patch is returned in `unplaced` with a reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import torch

from .errors import FluxKitError
from .lora_keymap import XLABS_DOUBLE, FluxShape, Target, diffusers_targets, underscored

# (up suffix, down suffix) pairs, most specific first.
PAIR_SUFFIXES: list[tuple[str, str]] = [
    (".lora_B.weight", ".lora_A.weight"),
    (".lora_up.weight", ".lora_down.weight"),
    (".lora.up.weight", ".lora.down.weight"),
    (".up.weight", ".down.weight"),
]
# Key fragments of things this loader does not apply, with the reason reported to the user.
UNSUPPORTED: list[tuple[str, str]] = [
    (".dora_scale", "DoRA magnitude vectors are not supported"),
    ("hada_", "LoHa (hadamard) weights are not supported"),
    ("lokr_", "LoKr weights are not supported"),
    (".diff_b", "full bias diffs are not supported"),
    (".diff", "full weight diffs are not supported"),
    (".lora_A.bias", "LoRA biases are not supported"),
    (".lora_B.bias", "LoRA biases are not supported"),
]
TEXT_ENCODER_PREFIXES = (
    "text_encoder.",
    "text_encoder_2.",
    "lora_te_",
    "lora_te1_",
    "lora_te2_",
    "te1.",
    "te2.",
)
SDXL_HINTS = (
    "lora_unet_down_blocks_",
    "lora_unet_up_blocks_",
    "lora_unet_mid_block_",
    "lora_unet_input_blocks_",
)
XLABS_RE = re.compile(r"^double_blocks\.(\d+)\.processor\.((?:qkv|proj)_lora[12])$")


@dataclass(frozen=True)
class LoraPatch:
    """One low-rank update: rows `rows` (start, length) of BFL weight `target` (or all rows) += scale · up @ down."""

    target: str  # BFL key including ".weight", without "diffusion_model."
    rows: tuple[int, int] | None
    up: torch.Tensor  # [out_rows, r]
    down: torch.Tensor  # [r, in]
    alpha: float | None  # None → scale 1; else scale = alpha / r (ComfyUI and diffusers semantics)
    source: str  # the LoRA key stem it came from
    cols: tuple[int, int] | None = (
        None  # (start, length) of the input columns patched (None: all); see LEADING_INPUTS
    )

    @property
    def scale(self) -> float:
        return 1.0 if self.alpha is None else self.alpha / self.down.shape[0]

    def delta(self) -> torch.Tensor:
        """Dense update [out_rows, in] in fp32 (for tests and reports; patching passes the factors)."""
        return self.scale * (self.up.float() @ self.down.float())


# Weights whose first input columns are FLUX.1-dev's whole input in the wider variants: img_in takes the packed noisy
# latent (64 = 16 channels × 2×2) first, and FLUX.1 Fill (384: + masked image 64 + mask 256), Canny/Depth (128: +
# control image 64) append their conditioning after it. A FLUX.1-dev LoRA (FLUX.1-Turbo-Alpha has an img_in /
# x_embedder pair, 64 inputs) is placed on those first columns; the conditioning columns keep the model's own weights.
# diffusers does the same (`_maybe_expand_lora_state_dict` zero-pads lora_A to the model's in_features), ComfyUI core
# refuses it (0.3.64 and 0.28.2: calculate_weight's reshape fails, it logs "ERROR lora diffusion_model.img_in.weight"
# and leaves img_in unpatched).
# (the weight, the only pair width placed on its first columns, what those columns are)
LEADING_INPUTS = {"img_in": (64, "FLUX.1-dev's latent input, the first columns of this model's wider img_in")}
IMG_IN_WIDTHS = {
    64: "FLUX.1-dev / schnell",
    128: "FLUX.1 Canny or Depth",
    384: "FLUX.1 Fill",
}  # what a width is


@dataclass
class LoraReadResult:
    patches: list[LoraPatch] = field(default_factory=list)
    unplaced: list[tuple[str, str]] = field(default_factory=list)  # (key, reason)
    formats: set[str] = field(default_factory=set)
    narrowed: list[tuple[str, str]] = field(
        default_factory=list
    )  # (key, how it was placed on a wider weight)


def flux_shape_from_weights(model_shapes: dict[str, tuple[int, ...]]) -> FluxShape:
    """Hidden size and block counts from a BFL state dict's shapes (keys without 'diffusion_model.')."""
    if "img_in.weight" not in model_shapes:
        raise FluxKitError(
            "the model is not a FLUX transformer (no img_in.weight); FluxKit's LoRA loader is for FLUX"
        )

    def count(prefix):
        return len({k.split(".")[1] for k in model_shapes if k.startswith(prefix)})

    return FluxShape(model_shapes["img_in.weight"][0], count("double_blocks."), count("single_blocks."))


class _Resolver:
    """LoRA key stem → (Target, format name), built once per model shape."""

    def __init__(self, shape: FluxShape):
        self.diffusers = diffusers_targets(shape)
        self.bfl = {t.key: Target(t.key) for t in self.diffusers.values()}
        self.diffusers_underscored = {underscored(p): t for p, t in self.diffusers.items()}
        self.bfl_underscored = {underscored(k): t for k, t in self.bfl.items()}
        self.prefixes: list[tuple[str, list[tuple[dict, str]]]] = [
            ("transformer.", [(self.diffusers, "diffusers")]),
            ("base_model.model.", [(self.diffusers, "peft")]),
            ("model.diffusion_model.", [(self.bfl, "bfl")]),
            ("diffusion_model.", [(self.bfl, "bfl")]),
            (
                "lora_unet_",
                [(self.bfl_underscored, "kohya"), (self.diffusers_underscored, "kohya-diffusers")],
            ),
            ("lora_transformer_", [(self.diffusers_underscored, "onetrainer")]),
            ("lycoris_", [(self.diffusers_underscored, "lycoris")]),
            ("", [(self.diffusers, "diffusers"), (self.bfl, "bfl")]),
        ]

    def resolve(self, stem: str) -> tuple[Target, str] | None:
        m = XLABS_RE.match(stem)
        if m:
            t = XLABS_DOUBLE[m.group(2)]
            return Target(f"double_blocks.{m.group(1)}.{t.key}"), "xlabs"
        for prefix, tables in self.prefixes:
            if stem.startswith(prefix):
                rest = stem[len(prefix) :]
                for table, fmt in tables:
                    if rest in table:
                        return table[rest], fmt
        return None


def _pairs(sd: dict[str, torch.Tensor]) -> tuple[list[tuple[str, str, str]], set[str]]:
    """(stem, up_key, down_key) for each low-rank pair, and the set of keys used by them (incl. alphas)."""
    pairs, used = [], set()
    for key in sd:
        for up_suffix, down_suffix in PAIR_SUFFIXES:
            if key.endswith(up_suffix):
                stem = key[: -len(up_suffix)]
                down = stem + down_suffix
                if down in sd:
                    pairs.append((stem, key, down))
                    used |= {key, down} | ({stem + ".alpha"} & sd.keys())
                break
    return pairs, used


def _place(stem, up, down, alpha, target, model_shapes, result: LoraReadResult) -> LoraPatch | None:
    """The patch for one pair on `target`, or None with the reason added to `result.unplaced` when its shape does
    not fit (a LoRA for another model size); a FLUX.1-dev img_in pair on a wider img_in is narrowed to its columns."""
    rows = target.rows(model_shapes["img_in.weight"][0])
    expected_out = rows[1] if rows else model_shapes[target.key + ".weight"][0]
    expected_in = model_shapes[target.key + ".weight"][1]
    cols = None
    width, meaning = LEADING_INPUTS.get(target.key, (None, ""))
    if width is not None and up.shape[0] == expected_out and down.shape[1] != expected_in:
        if down.shape[1] != width:  # e.g. a Canny/Depth control LoRA (128) on Fill (384): no columns match
            made_for = IMG_IN_WIDTHS.get(down.shape[1], f"a model with {down.shape[1]} input columns")
            result.unplaced.append(
                (stem, f"{target.key} pair with {down.shape[1]} inputs (made for {made_for}) on this model's "
                       f"{expected_in} ({IMG_IN_WIDTHS.get(expected_in, 'another FLUX variant')}): only a {width}-input "
                       f"pair ({meaning}) can be placed on part of it")
            )  # fmt: skip
            return None
        cols = (0, width)
        result.narrowed.append(
            (stem, f"{width} inputs on {target.key}'s {expected_in}: applied to columns 0..{width - 1} ({meaning}), "
                   "the rest unchanged")
        )  # fmt: skip
    elif up.shape[0] != expected_out or down.shape[1] != expected_in:
        shape = tuple(up.shape[:1]) + tuple(down.shape[1:])
        result.unplaced.append(
            (stem, f"shape {shape} does not fit {target.key} rows {expected_out}×{expected_in} (a LoRA for "
                   "another model size?)")
        )  # fmt: skip
        return None
    if target.swap_halves:
        half = up.shape[0] // 2
        up = torch.cat([up[half:], up[:half]], dim=0)
    return LoraPatch(
        target.key + ".weight", rows, up, down, None if alpha is None else float(alpha), stem, cols
    )


def read_flux_lora(
    sd: dict[str, torch.Tensor], model_shapes: dict[str, tuple[int, ...]], path: str
) -> LoraReadResult:
    """Place every LoRA pair of `sd` onto the FLUX model whose BFL weight shapes are `model_shapes`.

    Raises FluxKitError (naming `path`) for a file with no LoRA pairs, a LoRA with no FLUX key at all (e.g. SDXL),
    inconsistent rank shapes or NaN/inf values. Keys that are well-formed but have no place in this model are
    returned in `unplaced` with the reason.
    """
    resolver = _Resolver(flux_shape_from_weights(model_shapes))
    pairs, used = _pairs(sd)
    result = LoraReadResult()
    if not pairs:
        raise FluxKitError(
            f"{path}: not a LoRA (no lora_A/lora_B or lora_down/lora_up pairs; first keys: {sorted(sd)[:3]}); "
            "a ControlNet or full checkpoint goes into its own loader"
        )
    for stem, up_key, down_key in pairs:
        up, down = sd[up_key], sd[down_key]
        _check_pair(path, stem, up, down, sd.get(stem + ".alpha"))
        if stem.startswith(TEXT_ENCODER_PREFIXES):
            result.unplaced.append((stem, "text-encoder LoRA: this loader patches the FLUX model only"))
            continue
        found = resolver.resolve(stem)
        if found is None:
            result.unplaced.append((stem, "no FLUX module with this name in the model"))
            continue
        target, fmt = found
        patch = _place(stem, up, down, sd.get(stem + ".alpha"), target, model_shapes, result)
        if patch is not None:
            result.patches.append(patch)
            result.formats.add(fmt)
    for key in sorted(set(sd) - used):
        reason = next((why for frag, why in UNSUPPORTED if frag in key), "not part of a LoRA pair")
        result.unplaced.append((key, reason))
    if not result.patches:
        kind = " (it looks like an SD1.5/SDXL LoRA)" if any(k.startswith(SDXL_HINTS) for k in sd) else ""
        raise FluxKitError(
            f"{path}: no key of this LoRA targets FLUX{kind}; unplaced e.g. {result.unplaced[:3]}"
        )
    return result


def _check_pair(path: str, stem: str, up: torch.Tensor, down: torch.Tensor, alpha) -> None:
    if up.ndim != 2 or down.ndim != 2 or up.shape[1] != down.shape[0]:
        raise FluxKitError(
            f"{path}: {stem}: up {tuple(up.shape)} and down {tuple(down.shape)} do not share a rank (corrupt LoRA?)"
        )
    for name, t in (("up", up), ("down", down)):
        if not torch.isfinite(t.float()).all():
            raise FluxKitError(f"{path}: {stem}: {name} weight contains NaN or inf")
    if alpha is not None and not torch.isfinite(torch.as_tensor(alpha).float()).all():
        raise FluxKitError(f"{path}: {stem}: alpha is NaN or inf")
