"""The layering rule: flux_core never imports ComfyUI, so it is testable alone."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FORBIDDEN = {
    "comfy",
    "comfy_api",
    "comfy_extras",
    "folder_paths",
    "server",
    "nodes",
    "node_helpers",
    "latent_preview",
}


def _imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_flux_core_imports_no_comfyui_module():
    files = sorted((REPO / "flux_core").rglob("*.py"))
    assert files, "flux_core has no python files"
    offenders = {str(f.relative_to(REPO)): sorted(_imported_roots(f) & FORBIDDEN) for f in files}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_no_python_file_is_huge():
    sizes = {
        str(p.relative_to(REPO)): len(p.read_text().splitlines())
        for p in REPO.rglob("*.py")
        if ".venv" not in p.parts
    }
    assert {k: n for k, n in sizes.items() if n > 450} == {}
