"""Node: set the mode of a FLUX union ControlNet by the ids it was trained with.

FLUX union ControlNets in the InstantX style (Qwen2VL-Flux's `controlnet/` among them) read a learned mode
embedding, `controlnet_mode_embedder` [modes, 3072], whose row is prepended to the text tokens. Their ids are
InstantX's: 0 canny (line), 1 tile, 2 depth, 3 blur, 4 pose, 5 gray, 6 low quality. Core's `SetUnionControlNetType`
maps its names to xinsir's SDXL union ids instead (comfy/cldm/control_types.py: "depth" → 1, "canny/lineart/…" → 3),
so on these models "depth" silently selects tile, and without any mode node the embedding is left out. Qwen2VL-Flux
uses depth (2, strength 0.2) and line (0, strength 0.4).

Core's ControlNet loader reads these files as published (diffusers `FluxControlNetModel` keys; the mode count from
the embedder's rows) and feeds them the same conditioning as the model, so this node only sets the id.
"""

from __future__ import annotations

from comfy_api.latest import io

from ..flux_core.errors import FluxKitError
from . import comfy_types as t
from .choices import Choice, Choices
from .names import UNION_CN_MODE, named_errors

CATEGORY = "FluxKit/controlnet"
MODE_IDS = {"depth": 2, "line": 0, "canny": 0, "tile": 1, "blur": 3, "pose": 4, "gray": 5, "low_quality": 6}
MODES = Choices(
    UNION_CN_MODE,
    "mode",
    (
        Choice("depth", "id 2: a depth map (Depth-Anything-V2); Qwen2VL-Flux's strength 0.2"),
        Choice("line", "id 0: a line map (Anyline/MTEED, or core's Canny); Qwen2VL-Flux's strength 0.4"),
        Choice("canny", "id 0: InstantX's name for the line mode"),
        Choice("tile", "id 1"),
        Choice("blur", "id 3"),
        Choice("pose", "id 4"),
        Choice("gray", "id 5"),
        Choice("low_quality", "id 6"),
    ),
)


def mode_embedder_rows(control_net) -> int:
    """How many modes a loaded ControlNet's embedder has, or FluxKitError when it has none."""
    model = getattr(control_net, "control_model", None)
    embedder = getattr(model, "controlnet_mode_embedder", None)
    if embedder is None:
        raise FluxKitError(
            f"{UNION_CN_MODE}: this ControlNet has no mode embedder (controlnet_mode_embedder), so it is not a union "
            "ControlNet; connect it to Apply ControlNet without this node"
        )
    return int(embedder.num_embeddings)


class FluxKitUnionControlNetMode(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="FluxKitUnionControlNetMode",
            display_name=UNION_CN_MODE,
            category=CATEGORY,
            description=(
                "Sets a FLUX union ControlNet's mode by InstantX's ids (Qwen2VL-Flux's ControlNet: depth = 2, "
                "line = 0). Use it instead of core's SetUnionControlNetType, whose 'depth' is xinsir's SDXL id 1 "
                "(= tile on these models). Then Apply ControlNet with strength 0.2 (depth) or 0.4 (line), as "
                "Qwen2VL-Flux does; the control image is resized to the latent's size by core."
            ),
            inputs=[
                t.ControlNet.Input(
                    "control_net",
                    tooltip="A union ControlNet from Load ControlNet Model (has a mode embedder).",
                ),
                io.Combo.Input(
                    "mode",
                    options=MODES.ids(),
                    default=MODES.default,
                    tooltip=MODES.tooltip("What the control image is:"),
                ),
            ],
            outputs=[t.ControlNet.Output(display_name="control_net")],
        )

    @classmethod
    def validate_inputs(cls, mode: str | None = None) -> bool | str:
        return MODES.accepts(mode)

    @classmethod
    def execute(cls, control_net, mode: str) -> io.NodeOutput:
        with named_errors(UNION_CN_MODE):
            mode = MODES.resolve(mode)
            rows = mode_embedder_rows(control_net)
            if MODE_IDS[mode] >= rows:
                raise FluxKitError(
                    f"{UNION_CN_MODE}: mode {mode!r} is id {MODE_IDS[mode]}, but this ControlNet's embedder has "
                    f"{rows} modes"
                )
            out = control_net.copy()  # never change the loader's output: it is cached and shared
            out.set_extra_arg("control_type", [MODE_IDS[mode]])
            return io.NodeOutput(out)


NODES = [FluxKitUnionControlNetMode]
