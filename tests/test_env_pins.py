"""scripts/env.sh's fetches on a bare machine: pinned by commit and checked after the clone and on reuse, refs that
git could read as options refused, an interrupted clone never taken for a checkout, and an explicit COMFYUI_PATH
used as given. Fake ComfyUI checkouts (the three files env.sh looks at) in local git repositories: no network."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CLEARED = (
    "COMFYUI_PATH",
    "COMFYUI_PATHS",
    "COMFYUI_GGUF_PATH",
    "FLUXKIT_COMFYUI_TAG",
    "FLUXKIT_COMFYUI_COMMIT",
    "CI",
)


def fake_comfyui(folder: Path, version: str) -> Path:
    (folder / "comfy").mkdir(parents=True)
    (folder / "comfy" / "model_management.py").write_text("")
    (folder / "requirements.txt").write_text("")
    (folder / "comfyui_version.py").write_text(f'__version__ = "{version}"\n')
    return folder


def git(*args: str, cwd: Path) -> str:
    done = subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t.invalid", *args], cwd=cwd, check=True,
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    return done.stdout.strip()


def tagged_repo(folder: Path, version: str, tag: str) -> tuple[str, str]:
    """A git repository holding a fake ComfyUI `version`, tagged `tag`: (its URL, the tagged commit)."""
    fake_comfyui(folder, version)
    git("init", "-q", cwd=folder)
    git("add", "-A", cwd=folder)
    git("commit", "-qm", version, cwd=folder)
    git("tag", tag, cwd=folder)
    return folder.as_uri(), git("rev-parse", "HEAD", cwd=folder)


def env_sh(script: str, home: Path, **extra: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in CLEARED}
    env.update(HOME=str(home), **extra)
    return subprocess.run(["bash", "-c", f". scripts/env.sh; {script}"], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=120)  # fmt: skip


@pytest.fixture
def home(tmp_path) -> Path:
    (tmp_path / "home").mkdir()
    return tmp_path / "home"


def test_a_pinned_fetch_is_checked_after_the_clone_and_on_reuse(tmp_path, home):
    url, commit = tagged_repo(tmp_path / "mirror", "0.33.0", "v0.33.0")
    pins = {"FLUXKIT_COMFYUI_URL": url, "FLUXKIT_COMFYUI_TAG": "v0.33.0", "FLUXKIT_COMFYUI_COMMIT": commit}
    first = env_sh("fluxkit_fetch_comfyui", home, **pins)
    dest = home / ".cache" / "fluxkit" / "comfyui" / "v0.33.0"
    assert first.returncode == 0 and first.stdout.strip() == str(dest), first.stderr
    again = env_sh("fluxkit_fetch_comfyui", home, **pins)
    assert again.returncode == 0 and "cloning" not in again.stderr  # reused: still the pinned commit
    # the tag moves upstream to another commit: the pin refuses it, and the cache is not reused for a new pin
    (tmp_path / "mirror" / "extra.py").write_text("")
    git("add", "-A", cwd=tmp_path / "mirror")
    git("commit", "-qm", "moved", cwd=tmp_path / "mirror")
    git("tag", "-f", "v0.33.0", cwd=tmp_path / "mirror")
    moved = git("rev-parse", "HEAD", cwd=tmp_path / "mirror")
    refused = env_sh("fluxkit_fetch_comfyui", home, **{**pins, "FLUXKIT_COMFYUI_COMMIT": "0" * 40})
    assert refused.returncode == 1 and "is not the pinned v0.33.0" in refused.stderr
    assert f"is commit {moved}, not the pinned {'0' * 40}" in refused.stderr
    assert not dest.exists() and not list(dest.parent.glob("*.partial-*"))
    without = env_sh("fluxkit_fetch_comfyui", home, FLUXKIT_COMFYUI_URL=url, FLUXKIT_COMFYUI_TAG="v0.33.0")
    assert without.returncode == 1 and "needs FLUXKIT_COMFYUI_COMMIT too" in without.stderr


@pytest.mark.parametrize("tag", ["--upload-pack=touch /tmp/x", "-b", "v0.33.0/../../escape", "v1..2", "a b"])
def test_refs_that_git_could_misread_are_refused_before_git_runs(home, tag):
    done = env_sh("fluxkit_fetch_comfyui", home, FLUXKIT_COMFYUI_URL="file:///nowhere", FLUXKIT_COMFYUI_TAG=tag,
                  FLUXKIT_COMFYUI_COMMIT="a" * 40)  # fmt: skip
    assert done.returncode == 1 and "refusing ComfyUI tag" in done.stderr
    assert not (home / ".cache").exists() or not any((home / ".cache").rglob("*"))
    gguf = env_sh("fluxkit_gguf_pack", home, FLUXKIT_GGUF_REF="--upload-pack=x")
    assert gguf.returncode == 1 and "refusing FLUXKIT_GGUF_REF" in gguf.stderr


def test_an_interrupted_clone_is_never_taken_for_a_checkout(home):
    root = home / ".cache" / "fluxkit" / "comfyui"
    fake_comfyui(root / "v0.33.0.partial-999999", "0.33.0")  # a clone cut short (its process long gone)
    fake_comfyui(root / "v0.3.64", "0.3.64")
    found = env_sh("fluxkit_find_comfyuis", home)
    assert found.stdout.split() == [str(root / "v0.3.64")]


def test_an_explicit_comfyui_path_is_used_as_given(tmp_path, home):
    fake_comfyui(home / "ComfyUI-0.33", "0.33.0")  # newer, found by the usual search
    mine = fake_comfyui(tmp_path / "mine", "0.3.64")
    assert env_sh("fluxkit_find_comfyuis", home, COMFYUI_PATH=str(mine)).stdout.split() == [str(mine)]
    gone = env_sh("fluxkit_find_comfyuis; fluxkit_comfyuis_to_test; fluxkit_fetch_comfyui", home,
                  COMFYUI_PATH=str(tmp_path / "typo"))  # fmt: skip
    assert gone.stdout.strip() == "" and "not fetching another in its place" in gone.stderr


def test_ci_tests_the_pinned_releases_and_leaves_other_checkouts_alone(home):
    for folder, version in (("ComfyUI", "0.3.64"), ("ComfyUI-0.28", "0.28.2"), ("ComfyUI-0.33", "0.33.0")):
        fake_comfyui(home / folder, version)
    ci = env_sh("fluxkit_comfyuis_to_test", home, CI="true")
    assert ci.stdout.split() == [str(home / "ComfyUI-0.33"), str(home / "ComfyUI")]
    assert env_sh("fluxkit_comfyuis_to_test", home).stdout.split() == [
        str(home / "ComfyUI-0.33"), str(home / "ComfyUI-0.28"), str(home / "ComfyUI")]  # fmt: skip
    pins = env_sh('echo "$FLUXKIT_TESTED_COMFYUI"', home).stdout.split("\n")
    assert pins[0].split()[:2] == ["0.33.0", "v0.33.0"] and pins[1].split()[:2] == ["0.3.64", "v0.3.64"]
