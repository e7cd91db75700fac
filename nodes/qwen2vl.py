"""Nodes: Qwen2VL-Flux as ordinary FLUX conditioning (works with any FLUX loader: bf16, fp8, GGUF; ComfyUI offloading).

Qwen2-VL-7B reads a reference image; the Qwen2VL-Flux connector maps its image-token states into FLUX's text space;
with a prompt, T5 tokens go through the T5 embedder and are appended. See flux_core/qwen_connector.py.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import comfy.model_management as mm
import comfy.model_patcher
import folder_paths
import torch
from comfy_api.latest import io

from ..flux_core.errors import FluxKitError
from ..flux_core.qwen2vl_encoder import Qwen2VL, image_token_states, load_qwen2vl
from ..flux_core.qwen_connector import assemble_context, griddot_weights, load_connector, load_t5_embedder
from . import comfy_types as t
from .choices import Choice, Choices
from .comfy_compat import ManagedModule, flux1_config
from .names import QWEN2VL_CONNECTOR_LOADER, QWEN2VL_ENCODE, QWEN2VL_LOADER, named_errors
from .paths import QWEN2VL_FLUX_FOLDER, QWEN2VL_FOLDER, config_folders, find_config_folder

log = logging.getLogger(__name__)
CATEGORY = "FluxKit/qwen2vl"
DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}
NO_T5 = Choices(  # the fixed choice ahead of the file list of t5_embedder_name
    QWEN2VL_CONNECTOR_LOADER,
    "t5_embedder_name",
    (Choice("none", "no T5 embedder: image-only variation", ("none (image only)",)),),
)
Qwen2VLType = io.Custom("FLUXKIT_QWEN2VL")
ConnectorType = io.Custom("FLUXKIT_QWEN2VL_CONNECTOR")


@dataclass(frozen=True)
class LoadedQwen2VL:
    """The loader's output: Qwen2-VL and the ModelPatcher through which ComfyUI moves it (to the GPU for encoding,
    evicted like any other model when FLUX needs the room). A plain ModelPatcher: its layers are transformers'
    torch.nn ones, not comfy.ops, so it is loaded whole (ComfyUI's dynamic patcher streams only comfy.ops layers)."""

    qwen: Qwen2VL
    patcher: comfy.model_patcher.ModelPatcher


@dataclass(frozen=True)
class Connector:
    connector: torch.nn.Linear
    t5_embedder: torch.nn.Linear | None


def model_folders() -> list[str]:
    """Sub-folders of models/qwen2vl that hold a config.json."""
    return config_folders(QWEN2VL_FOLDER)


class FluxKitQwen2VLLoader(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="FluxKitQwen2VLLoader",
            display_name=QWEN2VL_LOADER,
            category=CATEGORY,
            description=(
                "Loads Qwen2-VL (Qwen/Qwen2-VL-7B-Instruct, ~15 GB in bf16) from a folder in models/qwen2vl onto the "
                "offload device. ComfyUI's model management moves it to the GPU to encode and evicts it (or FLUX) "
                "when another model needs the memory."
            ),
            inputs=[
                io.Combo.Input(
                    "model_folder",
                    options=model_folders(),
                    tooltip="Folder in models/qwen2vl holding config.json, the safetensors shards, tokenizer and "
                    "preprocessor files (e.g. a download of Qwen/Qwen2-VL-7B-Instruct).",
                ),  # fmt: skip
                io.Combo.Input(
                    "dtype",
                    options=list(DTYPES),
                    default="bf16",
                    tooltip="bf16 on recent GPUs; fp16 on older ones; fp32 on the CPU.",
                ),  # fmt: skip
            ],
            outputs=[Qwen2VLType.Output(display_name="QWEN2VL")],
        )

    @classmethod
    def execute(cls, model_folder: str, dtype: str) -> io.NodeOutput:
        with named_errors(QWEN2VL_LOADER):
            path = find_config_folder(QWEN2VL_FOLDER, model_folder)
            offload = mm.unet_offload_device()
            qwen = load_qwen2vl(path, DTYPES[dtype], device=offload)
            patcher = comfy.model_patcher.ModelPatcher(
                ManagedModule(qwen.model, "qwen"), load_device=mm.get_torch_device(), offload_device=offload
            )
            return io.NodeOutput(LoadedQwen2VL(qwen, patcher))


class FluxKitQwen2VLConnectorLoader(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        files = folder_paths.get_filename_list(QWEN2VL_FLUX_FOLDER)
        return io.Schema(
            node_id="FluxKitQwen2VLConnectorLoader",
            display_name=QWEN2VL_CONNECTOR_LOADER,
            category=CATEGORY,
            description=(
                "Loads Qwen2VL-Flux's connector (connector.pt, Qwen 3584 → FLUX text 4096) and optionally its T5 "
                "embedder (t5_embedder.pt, 4096 → 3072, needed for image + text) from models/qwen2vl_flux. .pt files "
                "are read with weights_only=True (no code is unpickled); .safetensors work too."
            ),
            inputs=[
                io.Combo.Input(
                    "connector_name", options=files, tooltip="connector.pt from Djrango/Qwen2vl-Flux."
                ),
                io.Combo.Input(
                    "t5_embedder_name",
                    options=[*NO_T5.ids(), *files],
                    default=NO_T5.default,
                    tooltip=NO_T5.tooltip("t5_embedder.pt, for prompts, or:"),
                ),  # fmt: skip
            ],
            outputs=[ConnectorType.Output(display_name="CONNECTOR")],
        )

    @classmethod
    def validate_inputs(cls, t5_embedder_name: str | None = None) -> bool | str:
        if t5_embedder_name in folder_paths.get_filename_list(QWEN2VL_FLUX_FOLDER):
            return True
        ok = NO_T5.accepts(t5_embedder_name)  # "none" and what earlier releases saved for it
        return ok if ok is True else f"{ok} or a file in models/{QWEN2VL_FLUX_FOLDER}"

    @classmethod
    def execute(cls, connector_name: str, t5_embedder_name: str) -> io.NodeOutput:
        with named_errors(QWEN2VL_CONNECTOR_LOADER):
            connector = load_connector(
                folder_paths.get_full_path_or_raise(QWEN2VL_FLUX_FOLDER, connector_name)
            )
            t5 = None
            if t5_embedder_name not in NO_T5.accepted():
                t5 = load_t5_embedder(
                    folder_paths.get_full_path_or_raise(QWEN2VL_FLUX_FOLDER, t5_embedder_name)
                )
            return io.NodeOutput(Connector(connector, t5))


def txt_in_weights(model) -> tuple[torch.Tensor, torch.Tensor]:
    """FLUX's context embedder (`txt_in`) weight and bias as the sampler will see them: dequantised, with any
    LoRA patches on it (FLUX.1-Turbo-Alpha patches it) applied. Reads only; the model is not modified."""
    import comfy.lora

    module = model.get_model_object("diffusion_model.txt_in")
    out = []
    for name in ("weight", "bias"):
        w = getattr(module, name)
        w = w.dequantize() if hasattr(w, "dequantize") else w
        w = w.detach().to(torch.float32).clone()
        key = f"diffusion_model.txt_in.{name}"
        if key in model.patches:
            w = comfy.lora.calculate_weight(model.patches[key], w, key)
        out.append(w)
    return out[0], out[1]


class FluxKitQwen2VLEncode(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="FluxKitQwen2VLEncode",
            display_name=QWEN2VL_ENCODE,
            category=CATEGORY,
            description=(
                "Reference image (+ optional prompt) → FLUX conditioning, as Qwen2VL-Flux builds it: Qwen2-VL image-"
                "token states through the connector, then the prompt's T5 tokens through the T5 embedder appended. "
                "Pooled vector from the empty-prompt conditioning. Add FluxGuidance 3.5 after it."
            ),
            inputs=[
                Qwen2VLType.Input("qwen2vl"),
                ConnectorType.Input("connector"),
                t.Model.Input(
                    "model",
                    tooltip="The FLUX model you sample with (its text embedder is read, not changed).",
                ),
                t.Image.Input("image", tooltip="Reference image(s); aspect ratio is kept."),
                t.Conditioning.Input(
                    "empty_conditioning",
                    tooltip="CLIPTextEncode of an empty prompt: its CLIP-L pooled vector is used.",
                ),
                t.Conditioning.Input(
                    "prompt_conditioning",
                    optional=True,
                    tooltip="Optional: CLIPTextEncode of your prompt; its T5 tokens are appended (needs the T5 embedder).",
                ),  # fmt: skip
                io.Float.Input(
                    "center_x", default=0.5, min=0.0, max=1.0, step=0.01, tooltip="GridDot focus, 0 = left."
                ),
                io.Float.Input(
                    "center_y", default=0.5, min=0.0, max=1.0, step=0.01, tooltip="GridDot focus, 0 = top."
                ),
                io.Float.Input(
                    "radius",
                    default=0.0,
                    min=0.0,
                    max=2.0,
                    step=0.01,
                    tooltip="GridDot radius as a fraction of the token grid's short side; 0 = whole image.",
                ),
                io.Float.Input(
                    "strength",
                    default=1.0,
                    min=0.0,
                    max=2.0,
                    step=0.01,
                    optional=True,
                    tooltip="Scales the image tokens after the connector (1.0 = as Qwen2VL-Flux does); lower lets a "
                    "prompt steer more.",
                ),
            ],
            outputs=[t.Conditioning.Output()],
        )

    @classmethod
    def execute(
        cls, qwen2vl: LoadedQwen2VL, connector: Connector, model, image, empty_conditioning, center_x, center_y, radius,
        prompt_conditioning=None, strength: float = 1.0,
    ) -> io.NodeOutput:  # fmt: skip
        with named_errors(QWEN2VL_ENCODE):
            with_prompt = prompt_conditioning is not None
            if with_prompt:
                flux1_config(model, QWEN2VL_ENCODE)  # its txt_in is read: FLUX.1's 4096 → 3072
            if with_prompt and connector.t5_embedder is None:
                raise FluxKitError(
                    f"{QWEN2VL_ENCODE}: a prompt needs the T5 embedder; pick t5_embedder.pt in the connector loader"
                )
            # through ComfyUI's model management: it frees room (unloading FLUX if need be) and keeps Qwen2-VL loaded
            # until something else needs the memory; whole, because transformers' layers cannot run partly offloaded
            mm.load_models_gpu([qwen2vl.patcher], force_full_load=True)
            device = qwen2vl.patcher.load_device
            encoded = [image_token_states(qwen2vl.qwen, img, with_prompt, device) for img in image]
            pooled = empty_conditioning[0][1].get("pooled_output")
            t5 = prompt_conditioning[0][0] if with_prompt else None
            txt_in = txt_in_weights(model) if with_prompt else None
            contexts = []
            for states, grid in encoded:  # one image batch has one size, so one grid
                weights = griddot_weights(grid, center_x, center_y, radius) if radius > 0 else None
                context = assemble_context(
                    states, connector.connector, t5, connector.t5_embedder, txt_in, weights
                )
                context[:, : states.shape[1]] *= strength  # the image tokens; T5 tokens keep their scale
                contexts.append(context)
            context = torch.cat(contexts, dim=0).cpu()  # [B, N (+T), 4096]
            opts = {}
            if pooled is not None:
                opts["pooled_output"] = pooled[:1].expand(context.shape[0], -1).clone()
            log.info("%s: %d images, %d Qwen tokens (%d×%d grid)%s", QWEN2VL_ENCODE, len(encoded),
                     encoded[0][0].shape[1], *encoded[0][1], f" + {t5.shape[1]} T5 tokens" if with_prompt else "")  # fmt: skip
            return io.NodeOutput([[context, opts]])


NODES = [FluxKitQwen2VLLoader, FluxKitQwen2VLConnectorLoader, FluxKitQwen2VLEncode]
