"""Offline workflow checks (no ComfyUI needed): generated files are current, the UI form converts to exactly its API
twin, every node and input validates against real ComfyUI 0.3.64 schemas plus FluxKit's, model names are the
published ones, and the validator itself catches each kind of mistake."""

from __future__ import annotations

import copy
import json

import pytest

from fluxkit_catalog import model_files
from fluxkit_workflows import build
from fluxkit_workflows.convert import WorkflowError, ui_to_api
from fluxkit_workflows.definitions import WORKFLOWS
from fluxkit_workflows.schemas import MODEL_FILE_INPUTS, core_schema_path, load_schemas
from fluxkit_workflows.validate import problems, validate

NAMES = sorted(WORKFLOWS)


@pytest.fixture(scope="module")
def schemas() -> dict:
    return load_schemas()


def test_core_subset_matches_the_comfyui_dump():
    from fluxkit_tools.dump_schemas import core_subset
    from fluxkit_workflows.schemas import CORE_SUBSET

    source = core_schema_path()
    if source is None:
        pytest.skip("no ComfyUI 0.3.64 object_info.json here (../shared/comfyui or $FLUXKIT_OBJECT_INFO)")
    committed = json.loads(CORE_SUBSET.read_text())
    assert committed == core_subset(json.loads(source.read_text())), "run dump_schemas --core"


def test_core_subset_has_every_core_node_the_workflows_use():
    from fluxkit_workflows.schemas import CORE_NEWER, CORE_SUBSET

    subset = json.loads(CORE_SUBSET.read_text()) | json.loads(CORE_NEWER.read_text())
    used = {n["class_type"] for name in NAMES for n in _load("api", name).values()}
    assert {t for t in used if not t.startswith("FluxKit")} <= set(subset)


def _load(kind: str, name: str) -> dict:
    return json.loads((build.REPO / "workflows" / kind / f"{name}.json").read_text())


def test_generated_files_are_current():
    stale = [
        str(p.relative_to(build.REPO))
        for p, content in build.outputs().items()
        if p.suffix == ".json" and (not p.is_file() or p.read_bytes() != content)
    ]
    assert stale == [], "run `python -m fluxkit_workflows.build`"


def test_no_json_directly_in_workflows_folder():
    # ComfyUI lists <pack>/workflows/*.json as templates too: API files there would show up as broken templates.
    assert sorted(p.name for p in (build.REPO / "workflows").glob("*.json")) == []


@pytest.mark.parametrize("name", NAMES)
def test_template_copy_and_thumbnail(name):
    from PIL import Image

    assert (build.TEMPLATE_DIR / f"{name}.json").read_bytes() == (build.UI_DIR / f"{name}.json").read_bytes()
    with Image.open(build.TEMPLATE_DIR / f"{name}.jpg") as img:
        assert img.format == "JPEG" and img.size == (512, 384)


@pytest.mark.parametrize("name", NAMES)
def test_ui_converts_to_api_twin(name, schemas):
    assert ui_to_api(_load("ui", name), schemas) == _load("api", name)


@pytest.mark.parametrize("name", NAMES)
def test_workflow_validates(name, schemas):
    assert problems(_load("api", name), schemas) == []


@pytest.mark.parametrize("name", NAMES)
def test_model_names_are_published_ones(name):
    used = {
        v for node in _load("api", name).values() for k, v in node["inputs"].items() if k in MODEL_FILE_INPUTS
    }
    assert used and used <= set(model_files.FOLDERS), used - set(model_files.FOLDERS)


@pytest.mark.parametrize("name", NAMES)
def test_ui_has_note_and_groups(name):
    ui = _load("ui", name)
    notes = [n for n in ui["nodes"] if n["type"] == "Note"]
    assert len(notes) == 1 and len(notes[0]["widgets_values"][0]) > 200
    assert ui["groups"] and ui["version"] == 0.4
    # every link is listed on both ends
    for link_id, src, slot, dst, dst_slot, _ in ui["links"]:
        nodes = {n["id"]: n for n in ui["nodes"]}
        assert link_id in nodes[src]["outputs"][slot]["links"]
        assert nodes[dst]["inputs"][dst_slot]["link"] == link_id


def test_inpainting_settings_are_the_published_ones():
    api = _load("api", "inpainting_turbo_8step")
    by_type = {n["class_type"]: n["inputs"] for n in api.values()}
    assert by_type["FluxKitTurboScheduler"]["steps"] == 8
    assert by_type["KSamplerSelect"]["sampler_name"] == "euler"
    assert by_type["FluxGuidance"]["guidance"] == 3.5
    assert by_type["FluxKitLoraLoader"]["strength"] == 1.0
    assert "CFGGuider" not in by_type  # Turbo: no CFG
    assert by_type["FluxKitInpaintCrop"]["resolution"] == 1024  # Beta's training size
    reference = _load("api", "inpainting_28step")
    assert _first(reference, "FluxKitTurboScheduler")["inputs"]["steps"] == 28
    assert _first(reference, "CFGGuider")["inputs"]["cfg"] == 1.0  # Beta: true CFG off


def _first(api: dict, class_type: str) -> dict:
    return next(n for n in api.values() if n["class_type"] == class_type)


@pytest.mark.parametrize(
    "breakage, expected",
    [
        (lambda api: _first(api, "FluxGuidance")["inputs"].update(guidance=1000.0), "above the maximum"),
        (lambda api: _first(api, "KSamplerSelect")["inputs"].update(sampler_name="nope"), "is not one of"),
        (lambda api: _first(api, "VAEDecode")["inputs"].pop("vae"), "neither linked nor set"),
        (
            lambda api: _first(api, "VAEDecode")["inputs"].update(vae=["1", 0]),
            "expects VAE but is linked to MODEL",
        ),
        (lambda api: _first(api, "SaveImage").update(class_type="SaveImageX"), "unknown node type"),
        (lambda api: _first(api, "FluxKitInpaintCrop")["inputs"].update(resolution="big"), "is not a INT"),
        (lambda api: _first(api, "FluxKitInpaintCrop")["inputs"].update(typo=1), "unknown input 'typo'"),
    ],
)
def test_validator_catches(breakage, expected, schemas):
    api = copy.deepcopy(_load("api", "inpainting_turbo_8step"))
    breakage(api)
    with pytest.raises(WorkflowError, match=expected):
        validate(api, schemas, "broken")


def test_converter_reads_seed_control_value(schemas):
    ui = copy.deepcopy(_load("ui", "inpainting_turbo_8step"))
    noise = next(n for n in ui["nodes"] if n["type"] == "RandomNoise")
    noise["widgets_values"] = [1234, "randomize"]
    api = ui_to_api(ui, schemas)
    assert api[str(noise["id"])]["inputs"] == {"noise_seed": 1234}


@pytest.mark.comfyui
def test_committed_fluxkit_schemas_match_live_ones(live_comfy):
    from fluxkit_tools.dump_schemas import live_schemas
    from fluxkit_workflows.schemas import FLUXKIT_SCHEMAS

    committed = json.loads(FLUXKIT_SCHEMAS.read_text())
    assert live_schemas(live_comfy) == committed, "run `python -m fluxkit_tools.dump_schemas`"


@pytest.mark.parametrize(
    "name", ["fill_inpaint_turbo_8step", "fill_outpaint_turbo_8step", "kontext_edit_masked"]
)
def test_crop_workflows_give_the_scheduler_the_crops_own_size(name):
    """A non-square crop at a fixed 1024×1024 got μ 1.15 where its own size gives ≈ 0.8: the scheduler's width and
    height are GetImageSize of the crop the model samples."""
    api = json.loads((build.API_DIR / f"{name}.json").read_text())
    (sched,) = [n for n in api.values() if n["class_type"] == "FluxKitTurboScheduler"]
    width, height = sched["inputs"]["width"], sched["inputs"]["height"]
    assert width[0] == height[0] and (width[1], height[1]) == (0, 1)
    size = api[width[0]]
    assert size["class_type"] == "GetImageSize"
    assert (
        api[size["inputs"]["image"][0]]["class_type"] == "FluxKitInpaintCrop"
        and size["inputs"]["image"][1] == 0
    )


@pytest.mark.comfyui
def test_committed_newer_core_schemas_match_the_live_server(comfy_server):
    """core_schemas_newer.json (FLUX.2 [klein]'s core nodes) is what a current ComfyUI answers; ComfyUI 0.3.64 has
    no Flux2Scheduler, so there the file cannot be checked (its klein workflows cannot run there either)."""
    import urllib.request

    from fluxkit_tools.dump_schemas import NEWER_CORE_NODES, newer_core_schemas
    from fluxkit_workflows.schemas import CORE_NEWER

    with urllib.request.urlopen(f"{comfy_server.url}/object_info/{NEWER_CORE_NODES[-1]}", timeout=60) as r:
        if not json.loads(r.read()):
            pytest.skip(f"this ComfyUI has no {NEWER_CORE_NODES[-1]} (0.28+ has): nothing to compare with")
    committed = json.loads(CORE_NEWER.read_text())
    assert newer_core_schemas(comfy_server.url) == committed, (
        "run `python -m fluxkit_tools.dump_schemas --core-newer`"
    )
