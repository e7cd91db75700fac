"""API-format prompts from FluxKit's workflows, and the overrides a command line or CSV row applies to them.

`NODE.INPUT=VALUE` sets an input with NODE a node id, title or type (case-insensitive); the short names are prompt
(the node titled "Prompt"), seed, steps, image and mask (the LoadImage nodes).
"""

from __future__ import annotations

import json
from pathlib import Path

from fluxkit_workflows.paths import API_DIR

SEED_INPUTS = ("noise_seed", "seed")
STEP_INPUTS = ("steps",)


class OverrideError(ValueError):
    pass


def load_workflow(name_or_path: str) -> dict:
    """A workflow by name (`workflows/api/<name>.json`) or path, as an API-format dict."""
    path = Path(name_or_path)
    if not path.is_file():
        path = API_DIR / f"{name_or_path}.json"
    if not path.is_file():
        names = sorted(p.stem for p in API_DIR.glob("*.json"))
        raise OverrideError(f"no workflow {name_or_path!r}: give a path or one of {names}")
    try:
        api = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise OverrideError(f"{path}: not JSON ({e})") from e
    if not isinstance(api, dict) or not all(isinstance(v, dict) and "class_type" in v for v in api.values()):
        raise OverrideError(f"{path}: not an API-format workflow (export it with 'Export (API)')")
    return api


def _nodes_named(api: dict, node: str) -> list[str]:
    if node in api:
        return [node]
    by_title = [k for k, v in api.items() if v.get("_meta", {}).get("title", "").lower() == node.lower()]
    return by_title or [k for k, v in api.items() if v["class_type"].lower() == node.lower()]


def apply_override(api: dict, name: str, value) -> list[str]:
    """Set `name` (short name or NODE.INPUT) to `value` in `api` (in place); returns 'id.input' of what changed."""
    targets: list[tuple[str, str]] = []
    if name == "prompt":
        targets = [(k, "text") for k in _nodes_named(api, "Prompt") if "text" in api[k]["inputs"]]
    elif name in ("seed", "steps"):
        keys = SEED_INPUTS if name == "seed" else STEP_INPUTS
        targets = [(k, i) for k, v in api.items() for i in keys if i in v["inputs"]]
    elif name in ("image", "mask"):
        targets = [(k, "image") for k, v in api.items() if v["class_type"] == "LoadImage"]
    elif "." in name:
        node, _, inp = name.rpartition(".")
        targets = [(k, inp) for k in _nodes_named(api, node)]
        unknown = [k for k, i in targets if i not in api[k]["inputs"]]
        if unknown:
            raise OverrideError(
                f"{name}: node {unknown[0]} ({api[unknown[0]]['class_type']}) has no input {inp!r}"
            )
    if not targets:
        raise OverrideError(f"{name}: matches no node input (use NODE.INPUT with a node id or title)")
    for k, i in targets:
        if isinstance(api[k]["inputs"].get(i), list):
            raise OverrideError(f"{name}: node {k} input {i!r} is a link, not a value")
        api[k]["inputs"][i] = value
    return [f"{k}.{i}" for k, i in targets]


def with_overrides(api: dict, overrides: dict) -> dict:
    """A copy of `api` with `overrides` applied (the caller's dict is left alone)."""
    api = json.loads(json.dumps(api))
    for name, value in overrides.items():
        apply_override(api, name, value)
    return api
