"""The released node interface, and the check that keeps saved workflows loading.

`node_interface.json` records what saved workflows depend on, for every FluxKit node ever released: the node id,
each input's name and type, the fixed combo values a workflow may store, and the output types in slot order
(links store slots by position). Entries are only ever added:

    python -m fluxkit_workflows.interface --update   # add new nodes / inputs / values from fluxkit_object_info.json

`breaks(lock, schemas, accepts)` lists every way the current nodes break it; a value that is no longer an option
still counts as kept when the node accepts it (`accepts(node_id, input, value)`: its validate_inputs), which is how
labels stored by 0.1.0 keep working after the switch to short ids. CI runs it against the live nodes of each
ComfyUI version (tests/test_node_interface_comfyui.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import fluxkit_cli as cli

from .schemas import FLUXKIT_SCHEMAS, input_specs, socket_type

LOCK = Path(__file__).with_name("node_interface.json")
Accepts = Callable[[str, str, str], bool]


def combo_values(spec: list) -> list[str] | None:
    if isinstance(spec[0], list):
        return list(spec[0])
    if spec[0] == "COMBO":
        return list(spec[1].get("options", []))
    return None


def interface(schemas: dict[str, dict]) -> dict[str, dict]:
    """The saved-workflow-relevant part of `/object_info` schemas (file lists already emptied by the dump)."""
    out = {}
    for node_id, schema in sorted(schemas.items()):
        inputs = {}
        for name, spec, _required in input_specs(schema):
            entry = {"type": socket_type(spec)}
            values = combo_values(spec)
            if values is not None:
                entry["type"], entry["values"] = "COMBO", values
            inputs[name] = entry
        out[node_id] = {"inputs": inputs, "outputs": list(schema.get("output", []))}
    return out


def merged(lock: dict, current: dict) -> dict:
    """`lock` with everything new in `current` added and nothing removed."""
    out = json.loads(json.dumps(lock))
    for node_id, node in current.items():
        have = out.setdefault(node_id, {"inputs": {}, "outputs": []})
        for name, entry in node["inputs"].items():
            old = have["inputs"].setdefault(name, {k: v for k, v in entry.items() if k != "values"})
            if "values" in entry:
                old["values"] = old.get("values", []) + [
                    v for v in entry["values"] if v not in old.get("values", [])
                ]
        have["outputs"] += node["outputs"][len(have["outputs"]) :]
    return out


def breaks(lock: dict, schemas: dict[str, dict], accepts: Accepts | None = None) -> list[str]:
    """Every released id, input, stored value or output slot the current `schemas` no longer honour."""
    current = interface(schemas)
    problems = []
    for node_id, node in lock.items():
        if node_id not in current:
            problems.append(f"{node_id}: node id removed")
            continue
        now = current[node_id]
        for name, entry in node["inputs"].items():
            if name not in now["inputs"]:
                problems.append(f"{node_id}.{name}: input removed or renamed")
                continue
            if now["inputs"][name]["type"] != entry["type"]:
                problems.append(
                    f"{node_id}.{name}: type {entry['type']} became {now['inputs'][name]['type']}"
                )
            options = now["inputs"][name].get("values", [])
            for value in entry.get("values", []):
                if value not in options and not (accepts and accepts(node_id, name, value)):
                    problems.append(f"{node_id}.{name}: stored value {value!r} no longer accepted")
        if now["outputs"][: len(node["outputs"])] != node["outputs"]:
            problems.append(f"{node_id}: output slots {node['outputs']} became {now['outputs']}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = cli.Parser(prog="python -m fluxkit_workflows.interface", description=__doc__.split("\n\n")[0])
    parser.add_argument("--update", action="store_true", help="add the current nodes' interface to the lock")
    args = parser.parse_args(argv)
    lock = json.loads(LOCK.read_text(encoding="utf-8")) if LOCK.is_file() else {}
    current = interface(json.loads(FLUXKIT_SCHEMAS.read_text(encoding="utf-8")))
    if args.update:
        LOCK.write_text(
            json.dumps(merged(lock, current), indent=1, ensure_ascii=False, sort_keys=True) + "\n"
        )
        print(f"wrote {LOCK.name}: {len(merged(lock, current))} nodes")
        return 0
    new = [k for k in current if k not in lock]
    print(f"{len(lock)} released nodes; not yet in the lock: {new or 'none'} (add them with --update)")
    return 0


if __name__ == "__main__":
    raise SystemExit(cli.run(main, "python -m fluxkit_workflows.interface"))
