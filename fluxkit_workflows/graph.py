"""A small builder for ComfyUI UI-format workflows (format version 0.4), so workflows are written once as code.

    g = Graph(schemas)
    unet = g.node("UNETLoader", (0, 0), unet_name="flux1-dev.safetensors", weight_dtype="default")
    lora = g.node("FluxKitLoraLoader", (300, 0), model=unet[0], lora_name="FLUX.1-Turbo-Alpha.safetensors", strength=1.0)
    g.note((0, -200), "How to use this workflow …")
    g.group("Models", [unet, lora])
    ui_json = g.to_ui()

The API form (`g.api`, what `POST /prompt` takes) is recorded directly from the same calls, independently of the
UI→API converter, so a test can check that converting the UI form reproduces it exactly.

Links are `Out(node, slot)` values from `node(...)[slot]`; widget values are keyword arguments, written into
`widgets_values` in the schema's input order (with the extra "fixed" value after control_after_generate seeds).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from .schemas import extra_widget_values, input_specs, is_widget, socket_type

NODE_W, NODE_H = 320, 130


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

    def node(self, type_: str, pos: tuple[float, float], title: str | None = None, **values) -> NodeRef:
        schema = self.schemas[type_]
        nid = len(self.nodes) + 1
        inputs, widgets, api_inputs = [], [], {}
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
                if value is None:
                    value = spec[1].get("default") if len(spec) > 1 and isinstance(spec[1], dict) else None
                widgets.append(value)
                widgets += ["fixed"] * extra_widget_values(spec)
                if value is not None:
                    api_inputs[name] = value
            elif value is None and _required:
                inputs.append({"name": name, "type": socket_type(spec), "link": None})
        if values:
            raise ValueError(f"{type_}: unknown inputs {sorted(values)}")
        outputs = [
            {"name": name, "type": kind, "links": [], "slot_index": i}
            for i, (name, kind) in enumerate(zip(schema["output_name"], schema["output"]))
        ]
        node = {
            "id": nid,
            "type": type_,
            "pos": list(pos),
            "size": [NODE_W, NODE_H],
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

    def _link(self, src: Out, dst: int, dst_slot: int, kind: str) -> int:
        link_id = len(self.links) + 1
        self.links.append([link_id, src.node, src.slot, dst, dst_slot, kind])
        return link_id

    def note(self, pos: tuple[float, float], text: str, size: tuple[int, int] = (520, 360)) -> None:
        nid = len(self.nodes) + 1
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
            "extra": {"ds": {"scale": 0.8, "offset": [40, 40]}},
            "version": 0.4,
        }
