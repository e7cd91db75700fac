"""What the Comfy Registry and ComfyUI-Manager read from the pack (pyproject.toml `[project]` and `[tool.comfy]`,
`.comfyignore`), checked without ComfyUI. `comfy node validate` itself runs in scripts/registry_check.sh (CI)."""

from __future__ import annotations

import re
from pathlib import Path

import tomllib
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
# comfy-cli's rule for requires-comfyui (config_parser.validate_version): [operator]major.minor.patch[-suffix], comma-separated
COMFY_CLI_VERSION = re.compile(r"^(==|>=|<=|!=|~=|>|<|<>|=)?\d+\.\d+\.\d+(-[A-Za-z0-9.]+)?$")


def _requirements(path: Path) -> list[str]:
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [str(Requirement(line)) for line in lines if line]


def test_project_dependencies_are_requirements_txt():
    declared = [str(Requirement(d)) for d in PYPROJECT["project"]["dependencies"]]
    assert declared == _requirements(REPO / "requirements.txt")


def test_requires_comfyui_is_in_the_registry_format_and_admits_every_supported_release():
    spec = PYPROJECT["tool"]["comfy"]["requires-comfyui"]
    assert all(COMFY_CLI_VERSION.match(part.strip()) for part in spec.split(",")), spec
    admitted = SpecifierSet(spec)
    # the tested minimum, the tested newer line, and the newest release read (docs/COMPAT.md)
    for version in ("0.3.64", "0.28.2", "0.38.1"):
        assert version in admitted, (spec, version)
    assert "0.3.63" not in admitted
    compat = (REPO / "docs" / "COMPAT.md").read_text()
    assert f'`requires-comfyui = "{spec}"`' in compat  # COMPAT says what the range means


def test_icon_is_a_square_png_in_the_repository():
    icon = PYPROJECT["tool"]["comfy"]["Icon"]
    prefix = PYPROJECT["project"]["urls"]["Repository"].replace(
        "https://github.com/", "https://raw.githubusercontent.com/"
    )
    assert icon.startswith(prefix + "/main/"), icon  # the registry shows the file from the default branch
    path = REPO / icon.removeprefix(prefix + "/main/")
    with Image.open(path) as image:
        assert image.format == "PNG" and image.width == image.height >= 128


def test_comfyignore_leaves_out_tests_ci_and_outputs_but_not_the_pack():
    patterns = [p.strip() for p in (REPO / ".comfyignore").read_text().splitlines()]
    patterns = [p for p in patterns if p and not p.startswith("#")]
    for dropped in ("tests/", ".ci/", "test-artifacts/", "bench/results/", "__pycache__/"):
        assert any(dropped.startswith(p) for p in patterns), dropped  # listed, or under a listed folder
    for kept in ("nodes", "flux_core", "js", "workflows", "example_workflows", "fluxkit_workflows"):
        assert not any(p.rstrip("/") == kept for p in patterns), kept
