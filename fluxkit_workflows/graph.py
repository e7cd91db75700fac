"""A small builder for ComfyUI UI-format workflows (format version 0.4), so workflows are written once as code.

    g = Graph(schemas)
    unet = g.node("UNETLoader", 0, unet_name="flux1-dev.safetensors", weight_dtype="default")
    lora = g.node("FluxKitLoraLoader", 0, model=unet[0], lora_name="FLUX.1-Turbo-Alpha.safetensors", strength=1.0)
    g.note("How to use this workflow …")
    g.group("Models", [unet, lora])
    ui_json = g.to_ui("my_inpainting")  # the name fixes the workflow id (a stable uuid5)

The API form (`g.api`, what `POST /prompt` takes) is recorded directly from the same calls, independently of the
UI→API converter, so a test can check that converting the UI form reproduces it exactly.

Links are `Out(node, slot)` values from `node(...)[slot]`; widget values are keyword arguments, written into
`widgets_values` in the schema's input order (with the extra "fixed" value after control_after_generate seeds).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from .schemas import combo_choices, extra_widget_values, input_specs, is_widget, socket_type, widget_options

NODE_W = 320
COLUMN_W, NODE_GAP = 380, 40
TITLE_H, SLOT_H, WIDGET_H, TEXT_H = 30, 22, 24, 100


class WorkflowDefinitionError(ValueError):
    """A workflow definition that names an input the node lacks or restates a schema default."""


def node_height(n_sockets: int, widget_specs: list[list]) -> int:
    """Roughly what the graph editor draws: title, socket rows, one row per widget (multiline text is taller)."""
    widgets = sum(TEXT_H if (s[1] if len(s) > 1 else {}).get("multiline") else WIDGET_H for s in widget_specs)
    return TITLE_H + SLOT_H * n_sockets + widgets + 10


@dataclass(frozen=True)
class Out:
    node: int
    slot: int


@dataclass
class NodeRef:
    id: int
    type: str

    def __getitem__(self, slot: int) -> Out:
        return Out(self.id, slot)


@dataclass
class Graph:
    schemas: dict
    nodes: list[dict] = field(default_factory=list)
    links: list[list] = field(default_factory=list)
    groups: list[dict] = field(default_factory=list)
    api: dict[str, dict] = field(default_factory=dict)
    column_bottom: dict[int, float] = field(default_factory=dict)

    def node(self, type_: str, column: int, title: str | None = None, gap: float = 0, **values) -> NodeRef:
        """Add a node at the bottom of `column` (columns are COLUMN_W apart; `gap` adds extra space above it)."""
        schema = self.schemas[type_]
        nid = len(self.nodes) + 1
        inputs, widgets, api_inputs, widget_specs = self._inputs(type_, schema, nid, values)
        outputs = [
            {"name": name, "type": kind, "links": [], "slot_index": i}
            for i, (name, kind) in enumerate(zip(schema["output_name"], schema["output"]))
        ]
        y = self.column_bottom.get(column, 0) + gap
        height = node_height(max(len(inputs), len(outputs)), widget_specs)
        self.column_bottom[column] = y + height + NODE_GAP
        pos = (column * COLUMN_W, y)
        node = {
            "id": nid,
            "type": type_,
            "pos": list(pos),
            "size": [NODE_W, height],
            "flags": {},
            "order": nid - 1,
            "mode": 0,
            "inputs": inputs,
            "outputs": outputs,
            "properties": {"Node name for S&R": type_},
            "widgets_values": widgets,
        }
        if title:
            node["title"] = title
        self.nodes.append(node)
        self.api[str(nid)] = {
            "inputs": api_inputs,
            "class_type": type_,
            "_meta": {"title": title or schema.get("display_name") or type_},
        }
        for link in self.links:
            if link[3] == nid:
                self.nodes[link[1] - 1]["outputs"][link[2]]["links"].append(link[0])
        return NodeRef(nid, type_)

    def _inputs(self, type_: str, schema: dict, nid: int, values: dict) -> tuple[list, list, dict, list]:
        """(UI inputs, widgets_values, API inputs, widget specs) of a new node: links become sockets (and links),
        widget values follow the schema's input order; a value equal to the schema default is refused."""
        inputs, widgets, api_inputs, widget_specs = [], [], {}, []
        values = dict(values)
        for name, spec, _required in input_specs(schema):
            value = values.pop(name, None)
            if isinstance(value, Out):
                api_inputs[name] = [str(value.node), value.slot]
                link_id = self._link(value, nid, len(inputs), socket_type(spec))
                entry = {"name": name, "type": socket_type(spec), "link": link_id}
                if is_widget(spec):
                    entry["widget"] = {"name": name}
                    widgets.append(None)
                inputs.append(entry)
            elif is_widget(spec):
                default = widget_options(spec).get("default")
                if value is not None and type(value) is type(default) and value == default:
                    raise WorkflowDefinitionError(
                        f"{type_}.{name}: {value!r} is the schema default; leave it out"
                    )
                if value is None:
                    value = default
                if value is None and combo_choices(spec):
                    value = combo_choices(spec)[0]  # what the editor shows for a combo without a default
                widget_specs.append(spec)
                widgets.append(value)
                widgets += ["fixed"] * extra_widget_values(spec)
                if value is not None:
                    api_inputs[name] = value
            elif value is None and _required:
                inputs.append({"name": name, "type": socket_type(spec), "link": None})
        if values:
            raise WorkflowDefinitionError(f"{type_}: unknown inputs {sorted(values)}")
        return inputs, widgets, api_inputs, widget_specs

    def _link(self, src: Out, dst: int, dst_slot: int, kind: str) -> int:
        link_id = len(self.links) + 1
        self.links.append([link_id, src.node, src.slot, dst, dst_slot, kind])
        return link_id

    def note(self, text: str, size: tuple[int, int] = (760, 360)) -> None:
        """A note below everything else, at the left."""
        nid = len(self.nodes) + 1
        pos = (0, max(self.column_bottom.values(), default=0) + 60)
        self.nodes.append(
            {
                "id": nid,
                "type": "Note",
                "pos": list(pos),
                "size": list(size),
                "flags": {},
                "order": nid - 1,
                "mode": 0,
                "inputs": [],
                "outputs": [],
                "properties": {},
                "widgets_values": [text],
                "color": "#432",
                "bgcolor": "#653",
            }
        )

    def group(self, title: str, refs: list[NodeRef], color: str = "#3f789e") -> None:
        nodes = [self.nodes[r.id - 1] for r in refs]
        x0 = min(n["pos"][0] for n in nodes) - 20
        y0 = min(n["pos"][1] for n in nodes) - 60
        x1 = max(n["pos"][0] + n["size"][0] for n in nodes) + 20
        y1 = max(n["pos"][1] + n["size"][1] for n in nodes) + 20
        self.groups.append(
            {
                "id": len(self.groups) + 1,
                "title": title,
                "bounding": [x0, y0, x1 - x0, y1 - y0],
                "color": color,
                "font_size": 24,
                "flags": {},
            }
        )

    def to_ui(self, name: str) -> dict:
        return {
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"fluxkit/{name}")),
            "revision": 0,
            "last_node_id": len(self.nodes),
            "last_link_id": len(self.links),
            "nodes": self.nodes,
            "links": self.links,
            "groups": self.groups,
            "config": {},
            "extra": {"ds": {"scale": 0.8, "offset": [40, 110]}},
            "version": 0.4,
        }
