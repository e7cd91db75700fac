"""The registry zip as a user gets it: `comfy node pack` (comfy-cli, the command `comfy node publish` packs with)
builds node.zip from the git-tracked files minus `.comfyignore`; unpacked into a real ComfyUI's `custom_nodes/`
(no link to this checkout), it loads with every FluxKit node registered and carries none of the development tree.

comfy-cli lives in a scratch virtualenv (scripts/env.sh: fluxkit_registry_tools; scripts/test.sh exports
$FLUXKIT_COMFY_CLI); without it the test skips (fails in CI)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.request
import zipfile
from pathlib import Path

import pytest
from conftest import prerequisite_missing

from fluxkit_comfy.server import PACK_DIR_NAME, ComfyServer

pytestmark = pytest.mark.comfyui
REPO = Path(__file__).resolve().parents[1]


def _comfy_cli() -> str:
    exe = os.environ.get("FLUXKIT_COMFY_CLI") or shutil.which("comfy")
    if not exe or not Path(exe).is_file():
        prerequisite_missing(
            "no comfy-cli: set FLUXKIT_COMFY_CLI (scripts/test.sh installs it in a scratch venv)"
        )
    return exe


@pytest.fixture(scope="module")
def node_zip(tmp_path_factory) -> Path:
    exe = _comfy_cli()
    out = tmp_path_factory.mktemp("pack") / "node.zip"
    made = REPO / "node.zip"  # comfy-cli writes it into the current folder (git-ignored)
    try:
        run = subprocess.run(
            [exe, "--skip-prompt", "--no-enable-telemetry", "node", "pack"],
            cwd=REPO, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert run.returncode == 0 and made.is_file(), run.stdout + run.stderr
        shutil.move(made, out)
    finally:
        made.unlink(missing_ok=True)
    return out


def test_zip_holds_the_pack_and_leaves_out_the_development_tree(node_zip):
    names = zipfile.ZipFile(node_zip).namelist()
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    assert {"__init__.py", "pyproject.toml", "requirements.txt", "LICENSE", "nodes/__init__.py"} <= set(names)
    assert any(n.startswith("js/docs/") for n in names) and any(
        n.startswith("example_workflows/") for n in names
    )
    left_out = ("tests/", ".ci/", "test-artifacts/", "bench/", "node.zip", "fluxkit_testmodels/", "scripts/",
                "notebooks/", "workflows/ui/", "DEVELOPERS.md")  # fmt: skip
    assert any(n.startswith("workflows/api/") for n in names)  # the client's workflows by name
    assert [n for n in names if n.startswith(left_out) or "__pycache__" in n] == []
    assert set(names) <= set(tracked.splitlines())  # only git-tracked files, never local caches or weights


def test_unpacked_zip_loads_in_comfyui_with_every_node(node_zip, comfyui_path, tmp_path):
    pack = tmp_path / "base" / "custom_nodes" / PACK_DIR_NAME
    zipfile.ZipFile(node_zip).extractall(pack)
    assert not pack.is_symlink()  # ComfyServer links this checkout only where nothing is there
    expected = set(json.loads((REPO / "fluxkit_workflows" / "fluxkit_object_info.json").read_text()))
    with ComfyServer(comfyui_path, tmp_path / "base") as server:
        with urllib.request.urlopen(f"{server.url}/object_info", timeout=60) as r:
            info = json.load(r)
        log = server.log_text()
    registered = {k for k, v in info.items() if str(v.get("python_module", "")).endswith(PACK_DIR_NAME)}
    assert registered == expected, log[-3000:]
    # Core's own extras may fail to import (0.3.64 without torchaudio prints "IMPORT FAILED: nodes_audio.py");
    # nothing in the pack may: no failed import, no traceback frame, no "Cannot import" naming its folder.
    marks = ("IMPORT FAILED", 'File "', "Cannot import")
    pack_errors = [
        line for line in log.splitlines() if PACK_DIR_NAME in line and any(m in line for m in marks)
    ]
    assert pack_errors == [], log[-3000:]
