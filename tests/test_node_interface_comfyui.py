"""The released node interface against the live FluxKit nodes of this ComfyUI: ids, input names, types and output
slots unchanged, and every value a released workflow may store still accepted (as an option, or by the node's
validate_inputs, as the labels 0.1.0 stored are)."""

from __future__ import annotations

import inspect
import json

import pytest

from fluxkit_tools.dump_schemas import live_schemas
from fluxkit_workflows import interface

pytestmark = pytest.mark.comfyui


def test_live_nodes_keep_the_released_interface(live_comfy):
    classes = live_comfy.nodes.NODE_CLASS_MAPPINGS

    def accepts(node_id: str, name: str, value: str) -> bool:
        validate = getattr(classes[node_id], "validate_inputs", None)
        if validate is None or name not in inspect.signature(validate).parameters:
            return False
        return validate(**{name: value}) is True

    lock = json.loads(interface.LOCK.read_text(encoding="utf-8"))
    assert interface.breaks(lock, live_schemas(live_comfy), accepts) == []
    assert accepts("FluxKitInpaintControlNetApply", "mask_mode", "binary (alimama training)")
    assert not accepts("FluxKitInpaintControlNetApply", "mask_mode", "binary (typo)")
