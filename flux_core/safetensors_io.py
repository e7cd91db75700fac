"""Reading model files safely: safetensors first, never an unrestricted unpickle.

`load_state_dict` turns every low-level failure (truncated file, wrong format, pickled file where safetensors was
expected) into a `CheckpointError` that names the file, so a node can show it instead of a stack trace.
"""

from __future__ import annotations

import json
import os
import struct

import torch
from safetensors import safe_open
from safetensors.torch import load_file

from .errors import CheckpointError

PICKLE_SUFFIXES = (".pt", ".pth", ".bin", ".ckpt")


def read_safetensors_header(path: str) -> dict:
    """Return the JSON header of a safetensors file (tensor names → dtype/shape/offsets, plus `__metadata__`).

    Validates that the data section the header promises is really in the file, which is how a truncated download
    is caught before torch reads garbage.
    """
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            raw_len = f.read(8)
            if len(raw_len) != 8:
                raise CheckpointError(
                    path, "file is empty or shorter than a safetensors header", "a .safetensors file"
                )
            (header_len,) = struct.unpack("<Q", raw_len)
            if header_len <= 0 or 8 + header_len > size:
                raise CheckpointError(
                    path, "not a safetensors file, or truncated inside its header", "a .safetensors file"
                )
            header = json.loads(f.read(header_len))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(path, f"cannot read safetensors header: {e}", "a .safetensors file") from e
    data_end = max((v["data_offsets"][1] for k, v in header.items() if k != "__metadata__"), default=0)
    if 8 + header_len + data_end > size:
        raise CheckpointError(
            path,
            f"file is truncated: header promises {8 + header_len + data_end} bytes, file has {size}",
            "a complete download (re-download the file)",
        )
    return header


def load_state_dict(path: str, device: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
    """Load a checkpoint into a flat state dict.

    `.safetensors` files are read with safetensors; `.pt/.pth/.bin/.ckpt` with `torch.load(weights_only=True)`,
    which refuses arbitrary pickled objects. Any failure becomes a `CheckpointError` naming the file.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise CheckpointError(path, "file not found")
    if path.lower().endswith(PICKLE_SUFFIXES):
        return load_pickled_weights(path, device)
    read_safetensors_header(path)
    try:
        return load_file(path, device=str(device))
    except Exception as e:  # safetensors raises its own error types; name the file for the user
        raise CheckpointError(path, f"cannot load safetensors data: {e}", "a .safetensors file") from e


FINITE_CHECK_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def check_finite(sd: dict[str, torch.Tensor], path: str, what: str) -> None:
    """CheckpointError naming `path` and the first tensor (in file order) holding NaN or inf. One pass at load time
    (a sum per tensor); a NaN in a weight would otherwise turn every sampled latent into NaN without a word."""
    for name, t in sd.items():
        if not t.is_floating_point():
            continue
        values = t if t.dtype in FINITE_CHECK_DTYPES else t.to(torch.float16)  # fp8: widen (exact) to test
        # screen with a float32 sum (NaN/inf propagate, an overflow only sends the tensor to the exact check; no
        # tensor-sized temporary, ~3× faster than isfinite on a CPU without bf16), then count exactly
        if bool(torch.isfinite(values.sum(dtype=torch.float32))):
            continue
        finite = torch.isfinite(values)
        if not bool(finite.all()):
            bad = int(finite.numel() - finite.sum())
            raise CheckpointError(
                path,
                f"tensor {name!r} {tuple(t.shape)} has {bad} NaN/inf value{'s' if bad != 1 else ''} "
                "(the first non-finite tensor in the file)",
                f"{what} with finite values: the file is corrupt, re-download or re-create it",
            )


def load_pickled_weights(path: str, device: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
    """Load a pickled `.pt/.bin` state dict with `weights_only=True` (tensors and plain containers only)."""
    try:
        sd = torch.load(path, map_location=device, weights_only=True)
    except Exception as e:
        raise CheckpointError(
            path, f"cannot load as a weights-only torch file: {e}", "a state dict of tensors"
        ) from e
    if isinstance(sd, dict) and "state_dict" in sd and isinstance(sd["state_dict"], dict):
        sd = sd["state_dict"]
    if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise CheckpointError(path, "does not hold a flat dict of tensors", "a state dict of tensors")
    return sd


def safetensors_keys(path: str) -> list[str]:
    """Tensor names of a safetensors file without reading the tensors."""
    read_safetensors_header(path)
    with safe_open(path, framework="pt") as f:
        return list(f.keys())
