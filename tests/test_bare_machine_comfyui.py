"""The README's main command on a machine with no ComfyUI: `bash scripts/demo.sh` in an empty HOME clones the pinned
ComfyUI itself (`git clone --depth 1 --branch <tag>` of $FLUXKIT_COMFYUI_URL into ~/.cache/fluxkit/comfyui/<tag>,
checked against the pinned commit), then runs the demo workflow and writes an image. The "official repository" here is a local git repository made
from the checkout the suite already uses, tagged with its release, so the test needs no network. Virtualenvs and
the thin set are shared with the suite through their documented variables (creating them is tested by every CI run).

A fetch that fails says what was tried and how to point FluxKit at an existing checkout, and exits 1."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fluxkit_comfy.inprocess import comfyui_version

REPO = Path(__file__).resolve().parents[1]
CLEARED = ("COMFYUI_PATH", "COMFYUI_PATHS", "COMFYUI_GGUF_PATH", "FLUXKIT_FETCH_ROOT", "VIRTUAL_ENV", "CI")


def bare_env(home: Path, **extra: str) -> dict[str, str]:
    """This process's environment with HOME empty and every 'where is ComfyUI' variable removed."""
    env = {k: v for k, v in os.environ.items() if k not in CLEARED}
    env.update(HOME=str(home), **extra)
    return env


def git(*args: str, cwd: Path) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t.invalid", *args], cwd=cwd, check=True,
                   capture_output=True, timeout=300)  # fmt: skip


def mirror_of(checkout: Path, tag: str, folder: Path) -> tuple[str, str]:
    """A git repository holding `checkout`'s files (its own .gitignore applies) as one commit tagged `tag`: its URL
    and that commit (the pin)."""
    folder.mkdir(parents=True)
    git("init", "-q", cwd=folder)
    git("--work-tree", str(checkout), "add", "-A", ".", cwd=folder)
    git("commit", "-qm", f"ComfyUI {tag}", cwd=folder)
    git("tag", tag, cwd=folder)
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True, check=True
    )
    return folder.as_uri(), commit.stdout.strip()


def shared_venv_root() -> str:
    """Where scripts/env.sh keeps the per-version virtualenvs for the real HOME (the one running this suite)."""
    return os.environ.get("FLUXKIT_VENV_ROOT", str(Path.home() / ".cache" / "fluxkit" / "venvs"))


@pytest.mark.comfyui
def test_demo_on_a_bare_machine_clones_the_pinned_comfyui_and_writes_an_image(
    comfyui_path, thin_models, tmp_path
):
    tag = f"v{comfyui_version(comfyui_path)}"
    url, commit = mirror_of(comfyui_path, tag, tmp_path / "mirror")
    home = tmp_path / "home"
    home.mkdir()
    env = bare_env(
        home, FLUXKIT_COMFYUI_URL=url, FLUXKIT_COMFYUI_TAG=tag, FLUXKIT_COMFYUI_COMMIT=commit,
        FLUXKIT_VENV_ROOT=shared_venv_root(),
        FLUXKIT_THIN_DIR=str(Path(thin_models["flux"]).parent),
    )  # fmt: skip
    run = subprocess.run(["bash", "scripts/demo.sh", "--out", str(tmp_path / "out")], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=1200)  # fmt: skip
    said = run.stdout + run.stderr
    assert run.returncode == 0, said[-4000:]
    clone = home / ".cache" / "fluxkit" / "comfyui" / tag
    assert f"no ComfyUI found; cloning {url} ({tag}) into {clone}" in said
    assert f"ComfyUI {tag[1:]} at {clone}" in said
    assert (clone / "comfy" / "model_management.py").is_file() and not list(clone.parent.glob("*.partial-*"))
    (image,) = (tmp_path / "out").rglob("*.png")
    pixels = np.asarray(Image.open(image).convert("RGB"))
    assert pixels.shape == (152, 200, 3) and pixels.std() > 1  # the demo's 200×152 picture, not a blank one


def test_failed_fetch_says_what_was_tried_and_how_to_use_a_checkout(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    missing = (tmp_path / "no-such-repo").as_uri()
    env = bare_env(home, FLUXKIT_COMFYUI_URL=missing)  # the default pin: the newest tested release
    # demo.sh stops; test.sh in CI stops too (a run without integration tests must not pass), before any install
    for script, extra in (("scripts/demo.sh", {}), ("scripts/test.sh", {"CI": "true"})):
        run = subprocess.run(["bash", script], cwd=REPO, env=dict(env, **extra), capture_output=True, text=True,
                             timeout=600)  # fmt: skip
        said = run.stdout + run.stderr
        assert f"could not fetch ComfyUI: tried `git clone --depth 1 --branch v0.33.0 {missing}" in said, said
        assert "COMFYUI_PATH=/path/to/ComfyUI" in said
        assert run.returncode == 1, (script, said[-2000:])
    assert "a run without integration tests FAILS" in said
    assert not (home / ".cache" / "fluxkit").exists() or not any(
        (home / ".cache" / "fluxkit").rglob("python")
    )
    assert not (home / ".cache" / "fluxkit" / "comfyui" / "v0.33.0").exists()
