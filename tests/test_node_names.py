"""One display name per node: written once in nodes/names.py, read by the node's schema and by every message it
raises (static checks over nodes/; the live check of the messages is in test_node_names_comfyui.py)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NODE_FILES = sorted(p for p in (REPO / "nodes").glob("*.py") if p.name != "names.py")
NAMES = {
    m.group(1): m.group(2)
    for m in re.finditer(r'^([A-Z0-9_]+) = "(.+)"$', (REPO / "nodes" / "names.py").read_text(), re.M)
}


def _node_classes():
    for path in NODE_FILES:
        for cls in ast.parse(path.read_text()).body:
            if isinstance(cls, ast.ClassDef) and any(
                isinstance(f, ast.FunctionDef) and f.name == "define_schema" for f in cls.body
            ):
                yield path, cls


def _schema_keyword(cls: ast.ClassDef, name: str):
    calls = [n for n in ast.walk(cls) if isinstance(n, ast.Call) and getattr(n.func, "attr", "") == "Schema"]
    assert len(calls) == 1, cls.name
    return next(k.value for k in calls[0].keywords if k.arg == name)


def test_every_node_takes_its_display_name_from_one_constant():
    used = {}
    for path, cls in _node_classes():
        value = _schema_keyword(cls, "display_name")
        assert isinstance(value, ast.Name) and value.id in NAMES, (
            f"{path.name} {cls.name}: display_name literal"
        )
        assert value.id not in used, f"{cls.name} and {used[value.id]} share {value.id}"
        used[value.id] = cls.name
    assert len(used) == 17 and set(used) == set(NAMES)  # every constant names exactly one node


def test_every_execute_runs_inside_named_errors_with_its_own_name():
    for path, cls in _node_classes():
        display = _schema_keyword(cls, "display_name").id
        execute = next(f for f in cls.body if isinstance(f, ast.FunctionDef) and f.name == "execute")
        (stmt,) = execute.body
        assert isinstance(stmt, ast.With), (
            f"{path.name} {cls.name}.execute is not one `with named_errors(...)`"
        )
        call = stmt.items[0].context_expr
        assert call.func.id == "named_errors" and call.args[0].id == display, (path.name, cls.name)


def test_no_node_message_spells_a_name_by_hand():
    """Messages start with a names constant (`f"{INPAINT_CN_APPLY}: …"`) or with none (named_errors adds it); no
    string in nodes/ begins with a typed 'FluxKit …' name that could drift from the schema's."""
    typed = [
        f"{path.name}:{n.lineno} {n.value[:40]!r}"
        for path in NODE_FILES
        for n in ast.walk(ast.parse(path.read_text()))
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and n.value.startswith("FluxKit ")
    ]
    assert typed == []
