"""Offline validation of API-format workflows against node schemas (ComfyUI's `/object_info` format).

Checks what ComfyUI's own `validate_prompt` would reject before running, plus link types:
- every node type exists;
- every required input is linked or set;
- widget values have the right kind and lie within min/max or among the choices (model-file choice lists are empty in
  an offline dump, so file names are only checked to be non-empty strings);
- a link's source output type matches the input's type (`*` matches anything; comma lists allowed).
"""

from __future__ import annotations

from .convert import WorkflowError
from .schemas import FILE_INPUTS, combo_choices, input_specs, is_widget, socket_type, widget_options

SCALAR_KINDS = {"INT": (int,), "FLOAT": (int, float), "STRING": (str,), "BOOLEAN": (bool,)}


def _types_match(out_type: str, in_type: str) -> bool:
    if "*" in (out_type, in_type):
        return True
    return bool(set(out_type.split(",")) & set(in_type.split(",")))


def _check_widget(label: str, name: str, spec: list, value) -> list[str]:
    kind = socket_type(spec)
    opts = widget_options(spec)
    if kind == "COMBO":
        choices = combo_choices(spec)
        if name in FILE_INPUTS:
            return (
                []
                if isinstance(value, str) and value
                else [f"{label}: {name} needs a file name, got {value!r}"]
            )
        if choices:
            return [] if value in choices else [f"{label}: {name}={value!r} is not one of {choices}"]
        return (
            [] if isinstance(value, str) and value else [f"{label}: {name} needs a file name, got {value!r}"]
        )
    expected = SCALAR_KINDS.get(kind)
    if expected is None:
        return []
    if isinstance(value, bool) and kind != "BOOLEAN" or not isinstance(value, expected):
        return [f"{label}: {name}={value!r} is not a {kind}"]
    problems = []
    if "min" in opts and value < opts["min"]:
        problems.append(f"{label}: {name}={value!r} is below the minimum {opts['min']}")
    if "max" in opts and value > opts["max"]:
        problems.append(f"{label}: {name}={value!r} is above the maximum {opts['max']}")
    return problems


def problems(api: dict[str, dict], schemas: dict[str, dict]) -> list[str]:
    """Every problem found in an API-format workflow (empty list when it is valid)."""
    found: list[str] = []
    for node_id, node in api.items():
        label = f"node {node_id} ({node.get('_meta', {}).get('title') or node['class_type']})"
        schema = schemas.get(node["class_type"])
        if schema is None:
            found.append(f"{label}: unknown node type {node['class_type']!r}")
            continue
        known = set()
        for name, spec, required in input_specs(schema):
            known.add(name)
            value = node["inputs"].get(name)
            if value is None:
                if required:
                    found.append(f"{label}: required input {name!r} is neither linked nor set")
                continue
            if isinstance(value, list):
                src = api.get(value[0])
                if src is None or src["class_type"] not in schemas:
                    found.append(f"{label}: {name} is linked to missing node {value[0]}")
                    continue
                outputs = schemas[src["class_type"]]["output"]
                if value[1] >= len(outputs):
                    found.append(
                        f"{label}: {name} is linked to output {value[1]} of node {value[0]}, which has none"
                    )
                elif not _types_match(outputs[value[1]], socket_type(spec)):
                    found.append(
                        f"{label}: {name} expects {socket_type(spec)} but is linked to {outputs[value[1]]} "
                        f"from node {value[0]}"
                    )
            elif is_widget(spec):
                found += _check_widget(label, name, spec, value)
            else:
                found.append(f"{label}: {name} expects a {socket_type(spec)} link, got the value {value!r}")
        for extra in sorted(set(node["inputs"]) - known):
            found.append(f"{label}: unknown input {extra!r}")
    return found


def validate(api: dict[str, dict], schemas: dict[str, dict], name: str = "workflow") -> None:
    """Raise WorkflowError listing every problem in `api`."""
    found = problems(api, schemas)
    if found:
        raise WorkflowError(f"{name}: " + "; ".join(found))
