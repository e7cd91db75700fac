"""Encoded prompt conditioning saved to / loaded from safetensors.

Lets a workflow skip loading T5-XXL (9.3 GB fp16) once a prompt has been encoded: encode once, save, then load the
few-hundred-KB file in later runs. Layout (one entry per conditioning item, index k):

- ``{k}.cond``: text embedding [B, T, D] (FLUX: D = 4096, T5 tokens)
- ``{k}.pooled_output``: pooled vector [B, P] (FLUX: P = 768, CLIP-L), optional
- metadata ``fluxkit.conditioning`` = JSON ``{"version": 1, "entries": [{scalar options}, …]}`` for numeric options
  such as ``guidance``. Tensor-valued options other than the pooled vector are not stored (they are model patches
  or references that do not survive a file).
"""

from __future__ import annotations

import json
import numbers

import torch
from safetensors.torch import save_file

from .errors import CheckpointError
from .safetensors_io import check_finite, load_state_dict, read_safetensors_header

META_KEY = "fluxkit.conditioning"
FORMAT_VERSION = 1


def save_conditioning(path: str, entries: list[tuple[torch.Tensor, dict]]) -> list[str]:
    """Write `entries` ([(cond [B,T,D], options), …]); returns the option names that were not stored."""
    tensors: dict[str, torch.Tensor] = {}
    meta_entries, dropped = [], []
    for k, (cond, options) in enumerate(entries):
        tensors[f"{k}.cond"] = cond.detach().to("cpu").contiguous()
        scalars = {}
        for name, value in options.items():
            if name == "pooled_output" and isinstance(value, torch.Tensor):
                tensors[f"{k}.pooled_output"] = value.detach().to("cpu").contiguous()
            elif isinstance(value, numbers.Real) and not isinstance(value, bool):
                scalars[name] = float(value)
            elif value is not None:
                dropped.append(name)
        meta_entries.append(scalars)
    meta = json.dumps({"version": FORMAT_VERSION, "entries": meta_entries})
    save_file(tensors, path, metadata={META_KEY: meta})
    return sorted(set(dropped))


def load_conditioning(path: str) -> list[tuple[torch.Tensor, dict]]:
    """Read a file written by `save_conditioning` back into [(cond, options), …]."""
    header = read_safetensors_header(path)
    raw = header.get("__metadata__", {}).get(META_KEY)
    if raw is None:
        raise CheckpointError(
            path, "has no FluxKit conditioning metadata", "a file saved by FluxKit Save Conditioning"
        )
    meta = json.loads(raw)
    if meta.get("version") != FORMAT_VERSION:
        raise CheckpointError(
            path, f"conditioning format version {meta.get('version')}", f"version {FORMAT_VERSION}"
        )
    sd = load_state_dict(path)
    check_finite(sd, path, "a saved conditioning")
    out = []
    for k, scalars in enumerate(meta["entries"]):
        if f"{k}.cond" not in sd:
            raise CheckpointError(path, f"entry {k} has no tensor '{k}.cond'", "one '.cond' tensor per entry")
        options = dict(scalars)
        if f"{k}.pooled_output" in sd:
            options["pooled_output"] = sd[f"{k}.pooled_output"]
        out.append((sd[f"{k}.cond"], options))
    return out
