"""The released node interface (`fluxkit_workflows/node_interface.json`) against the committed schema dump, offline:
the lock is complete, nothing structural broke, and the check itself catches each kind of break."""

from __future__ import annotations

import json

from fluxkit_workflows import interface
from fluxkit_workflows.schemas import FLUXKIT_SCHEMAS


def schemas() -> dict:
    return json.loads(FLUXKIT_SCHEMAS.read_text(encoding="utf-8"))


def lock() -> dict:
    return json.loads(interface.LOCK.read_text(encoding="utf-8"))


def test_lock_holds_every_current_node_input_and_value():
    assert interface.merged(lock(), interface.interface(schemas())) == lock(), (
        "run `python -m fluxkit_workflows.interface --update` and commit node_interface.json"
    )
    assert len(lock()) == len(schemas()) == 17


def test_no_id_input_type_or_output_slot_changed():
    structural = [p for p in interface.breaks(lock(), schemas()) if "stored value" not in p]
    assert structural == []


def test_the_check_catches_each_kind_of_break():
    s = schemas()
    s["FluxKitTurboScheduler"]["input"]["required"]["n_steps"] = s["FluxKitTurboScheduler"]["input"][
        "required"
    ].pop("steps")
    s["FluxKitTurboScheduler"]["input_order"]["required"] = [
        "n_steps" if n == "steps" else n for n in s["FluxKitTurboScheduler"]["input_order"]["required"]
    ]
    del s["FluxKitSaveConditioning"]
    s["FluxKitDMD2Sampler"]["input"]["required"]["first_step_noise"][1]["options"] = ["comfyui"]
    s["FluxKitInpaintControlNetApply"]["output"] = ["CONDITIONING"]
    accept_labels = {"unit (DMD2)", "ComfyUI default"}
    found = interface.breaks(lock(), s, accepts=lambda node, name, value: value in accept_labels)
    assert "FluxKitTurboScheduler.steps: input removed or renamed" in found
    assert "FluxKitSaveConditioning: node id removed" in found
    assert "FluxKitDMD2Sampler.first_step_noise: stored value 'unit' no longer accepted" in found
    assert not any("'unit (DMD2)'" in p for p in found)  # accepted by the node though not an option
    assert any(p.startswith("FluxKitInpaintControlNetApply: output slots") for p in found)
