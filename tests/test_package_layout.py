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


PACKAGES = (
    "flux_core",
    "fluxkit_cli",
    "nodes",
    "fluxkit_catalog",
    "fluxkit_workflows",
    "fluxkit_comfy",
    "fluxkit_batch",
    "fluxkit_testmodels",
    "fluxkit_tools",
    "bench",
)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _module_level_imports(path: Path) -> set[str]:
    """Modules this file imports when it is imported (not inside functions), relative imports resolved."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    body = list(ast.parse(path.read_text()).body)
    while body:
        node = body.pop()
        if isinstance(node, (ast.If, ast.Try)):
            body += node.body + node.orelse + getattr(node, "finalbody", [])
            body += [s for h in getattr(node, "handlers", []) for s in h.body]
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if not name.startswith(mod + "."):  # `from . import x` imports x, not a cycle with the parent
                out.add(mod)
            out |= {f"{mod}.{a.name}" for a in node.names}
    return out


def test_every_package_says_its_job_in_one_docstring():
    for pkg in PACKAGES:
        init = REPO / pkg / "__init__.py"
        assert init.is_file(), f"{pkg} has no __init__.py"
        doc = ast.get_docstring(ast.parse(init.read_text()))
        assert doc and len(doc) > 40, f"{pkg}/__init__.py has no docstring saying what the package does"


def test_no_import_cycle_between_modules():
    files = [p for pkg in PACKAGES for p in (REPO / pkg).rglob("*.py")]
    modules = {_module_name(p): p for p in files}
    graph = {m: {i for i in _module_level_imports(p) if i in modules and i != m} for m, p in modules.items()}
    state: dict[str, int] = {}
    cycles = []

    def visit(m: str, stack: list[str]) -> None:
        state[m] = 1
        for dep in sorted(graph[m]):
            if state.get(dep) == 1:
                cycles.append(stack[stack.index(dep) :] + [dep] if dep in stack else [m, dep])
            elif dep not in state:
                visit(dep, [*stack, dep])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    assert len(graph) > 60 and cycles == [], cycles


def test_flux_core_is_model_maths_only():
    """Test/demo model generators live in fluxkit_testmodels, not in the pure core."""
    names = {p.stem for p in (REPO / "flux_core").glob("*.py")}
    assert "thin_models" not in names and not any(n.startswith("thin") for n in names), names


def _package_imports(pkg: str) -> set[str]:
    """Other top-level FluxKit packages that any file of `pkg` imports, at module level or inside functions.

    An absolute `import nodes` is ComfyUI's nodes.py (FluxKit's own `nodes/` is reached only relatively, from the pack
    root: `from ..flux_core import x` inside nodes/ is flux_core)."""
    out: set[str] = set()
    for path in (REPO / pkg).rglob("*.py"):
        depth = len(path.relative_to(REPO).parts) - 1  # folders between the pack root and this file
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                out |= {a.name.split(".")[0] for a in node.names} - {"nodes"}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                out |= {node.module.split(".")[0]} - {"nodes"}
            elif (
                isinstance(node, ast.ImportFrom) and node.level > depth
            ):  # relative, above the package: the pack root
                names = [node.module] if node.module else [a.name for a in node.names]
                out |= {n.split(".")[0] for n in names}
    return (out & set(PACKAGES)) - {pkg}


def test_no_import_cycle_between_packages():
    """Packages point one way (catalog and core lowest, tools and bench highest), counting imports inside functions
    too: a cycle between packages makes every package in it load, test and ship with all the others."""
    graph = {pkg: _package_imports(pkg) for pkg in PACKAGES}
    assert "fluxkit_tools" in graph["bench"] and "fluxkit_catalog" in graph["fluxkit_workflows"], (
        graph
    )  # it sees edges
    assert (
        graph["fluxkit_catalog"] == set() and graph["flux_core"] == set() and graph["fluxkit_cli"] == set()
    ), graph
    reach = _reach(graph)
    assert {pkg: sorted(deps) for pkg, deps in reach.items() if pkg in deps} == {}


def _reach(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    reach = {pkg: set(deps) for pkg, deps in graph.items()}
    for _ in PACKAGES:  # transitive closure, bounded by the number of packages
        reach = {pkg: deps.union(*(reach[d] for d in deps)) for pkg, deps in reach.items()}
    return reach


def test_ray_actors_get_every_package_the_batch_code_imports():
    from fluxkit_batch.ray_workers import runtime_env

    shipped = {Path(p).name for p in runtime_env()["py_modules"]}
    needed = {"fluxkit_batch"} | _reach({pkg: _package_imports(pkg) for pkg in PACKAGES})["fluxkit_batch"]
    assert shipped == needed


def test_no_function_outside_tests_is_long():
    """A function a reader must follow in one go stays within 60 lines (tests excepted)."""
    long = {
        f"{p.relative_to(REPO)}:{n.lineno} {n.name}": n.end_lineno - n.lineno + 1
        for pkg in (*PACKAGES, "scripts")
        for p in (REPO / pkg).rglob("*.py")
        for n in ast.walk(ast.parse(p.read_text()))
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.end_lineno - n.lineno >= 60
    }
    assert long == {}
