"""The notebook is valid nbformat, and its shell lines only install ComfyUI/FluxKit/cloudflared and call FluxKit's
documented commands with arguments those commands accept."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from fluxkit_comfy.inprocess import REPO_ROOT
from fluxkit_tools import download

NOTEBOOK = REPO_ROOT / "notebooks" / "fluxkit_modelscope.ipynb"
ALLOWED = [
    re.compile(
        r"^test -d \$COMFY \|\| git clone --depth 1 https://github\.com/comfyanonymous/ComfyUI \$COMFY$"
    ),
    re.compile(
        r"^test -d \$FLUXKIT \|\| git clone --depth 1 https://github\.com/fluxkit/ComfyUI-FluxKit \$FLUXKIT$"
    ),
    re.compile(r"^pip install -q -r \$(COMFY|FLUXKIT)/requirements\.txt$"),
    re.compile(r"^pip install -q modelscope$"),  # ModelScope's SDK, for --source modelscope
    re.compile(
        r"^test -x /usr/local/bin/cloudflared \|\| \(wget -q -O /usr/local/bin/cloudflared "
        r"https://github\.com/cloudflare/cloudflared/releases/latest/download/cloudflared-linux-amd64 "
        r"&& chmod \+x /usr/local/bin/cloudflared\)$"
    ),  # fmt: skip
    re.compile(r"^cd \$FLUXKIT && python -m fluxkit_tools\.(download|launch) (.*)$"),
]


def shell_lines() -> list[str]:
    nb = json.loads(NOTEBOOK.read_text())
    return [
        line.strip()[1:]
        for cell in nb["cells"]
        if cell["cell_type"] == "code"
        for line in "".join(cell["source"]).splitlines()
        if line.strip().startswith("!")
    ]


def notebook_source(work: str) -> str:
    """What the models cell sets SOURCE to when the notebook's WORK folder is `work` (its own line, evaluated)."""
    nb = json.loads(NOTEBOOK.read_text())
    (line,) = [
        line
        for cell in nb["cells"]
        for line in "".join(cell["source"]).splitlines()
        if line.startswith("SOURCE =")
    ]
    scope = {"WORK": work}
    exec(line, {}, scope)  # noqa: S102 - one assignment from the repo's own notebook
    return scope["SOURCE"]


def test_notebook_is_valid_nbformat():
    nbformat = pytest.importorskip("nbformat")
    nbformat.validate(nbformat.read(str(NOTEBOOK), as_version=4))


def test_shell_lines_are_only_installs_and_documented_commands():
    lines = shell_lines()
    assert len(lines) == 8
    for line in lines:
        assert any(p.match(line) for p in ALLOWED), line


def test_commands_parse_and_preset_exists():
    from fluxkit_tools import launch

    _, presets = download.load_manifest()
    for line in shell_lines():
        m = ALLOWED[-1].match(line)
        if not m:
            continue
        args = m.group(2).replace("$COMFY", "/nb/ComfyUI").split()
        if m.group(1) == "download":
            assert args[0] in presets
            assert args[1:] == ["--models", "/nb/ComfyUI/models", "--source", "$SOURCE"]
            for source, work in (("modelscope", "/mnt/workspace"), ("hf", "/root")):  # the cell's own rule
                assert notebook_source(work) == source
                parsed = download.build_parser().parse_args([*args[:-1], source])
                assert parsed.source == source and parsed.models == Path("/nb/ComfyUI/models")
        else:
            assert args == ["--comfyui", "/nb/ComfyUI"]
            parser_ok = launch.build_parser().parse_args(args)
            assert parser_ok.comfyui == "/nb/ComfyUI" and not parser_ok.no_tunnel
