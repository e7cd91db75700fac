"""Saved conditioning round-trips exactly and rejects files of another kind."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import save_file

from flux_core.conditioning_io import load_conditioning, save_conditioning
from flux_core.errors import CheckpointError


def test_round_trip_keeps_tensors_and_scalars(tmp_path):
    g = torch.Generator().manual_seed(0)
    entries = [
        (
            torch.randn(1, 7, 4096, generator=g),
            {"pooled_output": torch.randn(1, 768, generator=g), "guidance": 3.5},
        ),
        (torch.randn(1, 3, 4096, generator=g), {"guidance": 1.0, "control": object(), "strength": 0.5}),
    ]
    path = str(tmp_path / "c.safetensors")
    dropped = save_conditioning(path, entries)
    assert dropped == ["control"]  # reported, not silently lost
    back = load_conditioning(path)
    assert len(back) == 2
    assert torch.equal(back[0][0], entries[0][0]) and torch.equal(
        back[0][1]["pooled_output"], entries[0][1]["pooled_output"]
    )
    assert back[0][1]["guidance"] == 3.5
    assert back[1][1] == {"guidance": 1.0, "strength": 0.5}


def test_foreign_safetensors_is_rejected_with_file_name(tmp_path):
    path = str(tmp_path / "lora.safetensors")
    save_file({"transformer.x_embedder.lora_A.weight": torch.zeros(4, 64)}, path)
    with pytest.raises(CheckpointError, match="lora.safetensors.*FluxKit conditioning"):
        load_conditioning(path)


def test_nan_in_saved_conditioning_is_an_error_naming_file_and_tensor(tmp_path):
    path = str(tmp_path / "prompt.safetensors")
    pooled = torch.randn(1, 768)
    pooled[0, 5] = float("inf")
    cond = torch.randn(1, 4, 4096)
    cond[0, 1, 7] = float("nan")
    save_conditioning(path, [(cond, {"pooled_output": pooled, "guidance": 3.5})])
    with pytest.raises(CheckpointError) as err:
        load_conditioning(path)
    assert str(err.value) == (
        f"{path}: tensor '0.cond' (1, 4, 4096) has 1 NaN/inf value (the first non-finite tensor in the file) "
        "(expected a saved conditioning with finite values: the file is corrupt, re-download or re-create it)"
    )
