"""Nodes: save encoded FLUX conditioning to a file and load it back, so later runs need no T5 at all."""

from __future__ import annotations

import logging
import os
import re

import folder_paths
from comfy_api.latest import io

from ..flux_core.conditioning_io import load_conditioning, save_conditioning
from ..flux_core.errors import FluxKitError
from . import comfy_types as t
from .names import LOAD_CONDITIONING, SAVE_CONDITIONING, named_errors
from .paths import CONDITIONING_FOLDER, first_folder

log = logging.getLogger(__name__)
CATEGORY = "FluxKit/conditioning"
FOLDER = CONDITIONING_FOLDER
SAFE_NAME = re.compile(r"^[A-Za-z0-9._-]{1,120}$")


class FluxKitSaveConditioning(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="FluxKitSaveConditioning",
            display_name=SAVE_CONDITIONING,
            category=CATEGORY,
            description="Saves encoded conditioning (text embedding, pooled vector, guidance) to "
            "models/fluxkit_conditioning/<name>.safetensors. Load it later with FluxKit Load Conditioning to skip "
            "loading the text encoders (T5-XXL fp16 alone is 9.3 GB).",
            inputs=[
                t.Conditioning.Input(
                    "conditioning", tooltip="Conditioning to store, e.g. from CLIPTextEncodeFlux."
                ),
                io.String.Input(
                    "name",
                    default="prompt",
                    tooltip="File name (letters, digits, . _ -); overwritten if it exists.",
                ),
            ],
            outputs=[t.Conditioning.Output(tooltip="The same conditioning, passed through.")],
            is_output_node=True,
        )

    @classmethod
    def execute(cls, conditioning, name: str) -> io.NodeOutput:
        with named_errors(SAVE_CONDITIONING):
            if not SAFE_NAME.match(name) or name in (".", ".."):
                raise FluxKitError(
                    f"{SAVE_CONDITIONING}: name {name!r} must be 1-120 of letters, digits, '.', '_', '-'"
                )
            path = os.path.join(
                first_folder(FOLDER), name if name.endswith(".safetensors") else f"{name}.safetensors"
            )
            dropped = save_conditioning(path, [(c[0], c[1]) for c in conditioning])
            if dropped:
                log.warning("%s: options not stored in %s: %s", SAVE_CONDITIONING, path, ", ".join(dropped))
            return io.NodeOutput(conditioning)


class FluxKitLoadConditioning(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="FluxKitLoadConditioning",
            display_name=LOAD_CONDITIONING,
            category=CATEGORY,
            description="Loads conditioning saved by FluxKit Save Conditioning from models/fluxkit_conditioning.",
            inputs=[
                io.Combo.Input(
                    "conditioning_name",
                    options=folder_paths.get_filename_list(FOLDER),
                    tooltip="A .safetensors file in models/fluxkit_conditioning.",
                )
            ],
            outputs=[t.Conditioning.Output()],
        )

    @classmethod
    def execute(cls, conditioning_name: str) -> io.NodeOutput:
        with named_errors(LOAD_CONDITIONING):
            path = folder_paths.get_full_path_or_raise(FOLDER, conditioning_name)
            return io.NodeOutput([[cond, options] for cond, options in load_conditioning(path)])


NODES = [FluxKitSaveConditioning, FluxKitLoadConditioning]
