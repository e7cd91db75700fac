"""UI-format workflow (what the graph editor saves) → API format (what `POST /prompt` takes), offline.

The UI form stores widget values positionally in `widgets_values`, in the node schema's `input_order`, with one extra
value after every widget that has `control_after_generate` (e.g. a seed's "fixed"/"randomize"). Linked inputs are
listed in `inputs` with a link id; links are `[id, src_node, src_slot, dst_node, dst_slot, type]`. Note nodes and
muted/bypassed nodes (mode 2/4) are not part of the prompt.
"""

from __future__ import annotations

from .schemas import extra_widget_values, input_specs, is_widget

VIRTUAL_NODES = {"Note", "MarkdownNote", "Reroute", "PrimitiveNode"}


class WorkflowError(ValueError):
    """A workflow that cannot be converted or does not validate; the message names the node."""


def node_label(node: dict) -> str:
    return f"node {node['id']} ({node.get('title') or node['type']})"


def ui_to_api(ui: dict, schemas: dict[str, dict]) -> dict[str, dict]:
    """Convert a UI-format workflow to the API prompt dict keyed by node id strings."""
    links = {link[0]: link for link in ui.get("links", [])}
    api: dict[str, dict] = {}
    for node in ui["nodes"]:
        if node["type"] in VIRTUAL_NODES or node.get("mode", 0) in (2, 4):
            continue
        schema = schemas.get(node["type"])
        if schema is None:
            raise WorkflowError(f"{node_label(node)}: unknown node type {node['type']!r}")
        linked = {i["name"]: i.get("link") for i in node.get("inputs", []) if i.get("link") is not None}
        values = list(node.get("widgets_values") or [])
        inputs: dict = {}
        pos = 0
        for name, spec, _required in input_specs(schema):
            if is_widget(spec):
                value = values[pos] if pos < len(values) else None
                pos += 1 + extra_widget_values(spec)
            else:
                value = None
            if name in linked:
                link = links.get(linked[name])
                if link is None:
                    raise WorkflowError(
                        f"{node_label(node)}: input {name!r} points at missing link {linked[name]}"
                    )
                inputs[name] = [str(link[1]), link[2]]
            elif value is not None:
                inputs[name] = value
        title = node.get("title") or schema.get("display_name") or node["type"]
        api[str(node["id"])] = {"inputs": inputs, "class_type": node["type"], "_meta": {"title": title}}
    return api
