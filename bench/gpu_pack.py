"""What a GPU run needs beyond the device image, packed here into one folder that travels with the device call.

The device (the `device` tool's H100/H200: Python 3.12, PyTorch with CUDA, no network) lacks ComfyUI and some of
what ComfyUI imports at start-up. `pack(dest, comfyui)` writes:
- `dest/comfyui.tar.xz`: the ComfyUI checkout without what a headless run never reads (tests, API nodes, tokenizer
  vocabularies: the bench feeds saved conditioning, never a text encoder), compressed (9 MB of source → ~2 MB);
- `dest/wheels/`: wheels (Python 3.12, manylinux x86_64) of ComfyUI's requirements that the image lacks
  (DEVICE_IMAGE, read off KINDS.md on 2026-11-17) and of what they require in turn, except the frontend, template
  and docs packages (the run serves an empty `--front-end-root`) and nodes the bench never loads;
- `dest/stubs/`: import stubs for the packages whose wheels do not fit the 64 MiB a call may carry and that the
  bench's graphs never use (STUBS says why each is safe), and wheels trimmed of what the device cannot use (TRIM:
  comfy-kitchen's ROCm backend);
and reports the size. `bench/gpu_run.sh` installs the wheels there and puts the stubs on the path.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

CARRY_LIMIT_MB = 64  # MiB a device call carries: the repository's files and this folder
REPO_MB = 2.5  # the repository's tracked files (1.9 MiB on 2026-12-07) with room to grow
# The device image's Python packages (normalised names), KINDS.md "Python packages already there", 2026-11-17.
DEVICE_IMAGE = set(
    """
absl-py accelerate aiofiles aiohappyeyeballs aiohttp aiosignal annotated-doc anyio attrs botorch build certifi
charset-normalizer click cloudpickle cmake colorama contourpy coverage cycler cython einops filelock fonttools fsspec
h11 hf-xet httpcore httpx huggingface-hub idna imageio jinja2 joblib lazy-loader markdown markdown-it-py markupsafe
mdurl mpmath msgpack multidict networkx ninja numpy opencv-python-headless packaging pandas pillow pip propcache
protobuf psutil pyarrow pygments pyparsing python-dateutil pyyaml regex requests rich safetensors scikit-image
scikit-learn scipy sentencepiece setuptools six sympy tifffile tokenizers torch torchaudio torchvision tqdm
transformers triton typing-extensions urllib3 uvloop wheel yarl zipp frozenlist
""".split()
)
# Start-up requirements a headless bench does without: the UI packages (an empty --front-end-root is served) and
# optional node dependencies (their nodes log an import error and are not used).
HEADLESS_SKIPS = {"comfyui-frontend-package", "comfyui-workflow-templates", "comfyui-embedded-docs", "kornia",
                  "spandrel", "pyopengl", "comfy-angle"}  # fmt: skip
# what a headless run never reads: tests, API nodes, the UI's blueprints, scratch folders, docs
LEAVE_OUT = ("tests", "tests-unit", "comfy_api_nodes", ".git", ".github", "notebooks", "output", "input", "models",
             "blueprints", "temp", "custom_nodes", "script_examples", "openapi.yaml", "comfyui.log")  # fmt: skip
TOKENIZER_DATA = re.compile(r".*\.(json|txt|model|tiktoken|gz)$")  # data files inside a *tokenizer* folder
# Packages imported at start-up whose wheels do not fit, replaced by a stub: (module, why it is safe)
STUBS = {
    "av": (
        "av",
        "PyAV (35 MB): ComfyUI's video types import it at start-up; the bench's graphs read and write no video",
    ),
}
# Wheels carried without members the device cannot use: name → (member prefix to drop, why)
TRIM = {
    "comfy-kitchen": (
        "comfy_kitchen/backends/hip/_C",
        "the ROCm backend (10 MB compressed): the device is NVIDIA",
    )
}
STUB_SOURCE = '''"""FluxKit GPU bench stub of {module}: {why}. Any name is a placeholder class; calling one gives it back."""


class _Placeholder(type):
    def __getattr__(cls, name):
        return _Placeholder(name, (), {{}})

    def __call__(cls, *args, **kwargs):
        return cls


def __getattr__(name):
    return _Placeholder(name, (), {{}})
'''
STUB_SUBMODULES = {
    "av": ("container", "subtitles", "subtitles/stream", "video", "video/reformatter", "codec", "audio")
}
PLATFORMS = [f"manylinux_2_{n}_x86_64" for n in (17, 24, 27, 28, 31, 34, 35)] + ["manylinux2014_x86_64",
                                                                                  "manylinux1_x86_64"]  # fmt: skip


def normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_names(text: str) -> list[str]:
    """Distribution names of a requirements file / Requires-Dist lines (markers with `extra` left out)."""
    out = []
    for line in text.splitlines():
        line = line.split("#")[0].strip()
        if not line or "extra ==" in line or "extra==" in line:
            continue
        m = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", line)
        if m:
            out.append(normal(m.group(0)))
    return out


def copy_comfyui(src: Path, dest: Path) -> None:
    def ignore(folder: str, names: list[str]) -> set[str]:
        top, vocab = Path(folder) == src, "tokenizer" in Path(folder).name
        return {
            n
            for n in names
            if (top and n in LEAVE_OUT) or (vocab and TOKENIZER_DATA.match(n)) or n == "__pycache__"
        }

    shutil.copytree(src, dest, ignore=ignore, dirs_exist_ok=True)


def compress(folder: Path, archive: Path) -> None:
    with tarfile.open(archive, "w:xz", preset=9) as tar:
        tar.add(folder, arcname=folder.name)


def write_stub(stubs: Path, name: str) -> None:
    module, why = STUBS[name]
    for sub in ("", *STUB_SUBMODULES.get(name, ())):
        path = stubs / module / sub / "__init__.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(STUB_SOURCE.format(module=module, why=why))


def trim(wheel: Path, prefix: str) -> None:
    """Rewrite `wheel` without the members starting with `prefix` (and their RECORD lines)."""
    tmp = wheel.with_suffix(".trimmed")
    with (
        zipfile.ZipFile(wheel) as src,
        zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as out,
    ):
        for item in src.infolist():
            if item.filename.startswith(prefix):
                continue
            data = src.read(item)
            if item.filename.endswith(".dist-info/RECORD"):
                data = b"\n".join(x for x in data.split(b"\n") if not x.startswith(prefix.encode()))
            out.writestr(item, data)
    tmp.replace(wheel)


def download(spec: str, folder: Path) -> Path:
    """One wheel for Python 3.12 on manylinux x86_64, no dependencies (pip download)."""
    folder.mkdir(parents=True, exist_ok=True)
    before = set(folder.glob("*.whl"))
    cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:", "--python-version",
           "3.12", "--implementation", "cp", "-d", str(folder), spec]  # fmt: skip
    for p in PLATFORMS:
        cmd[6:6] = ["--platform", p]
    subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=600)
    new = set(folder.glob("*.whl")) - before
    if new:
        return new.pop()
    name = requirement_names(spec)[0]  # already there from an earlier requirement
    return next(w for w in folder.glob("*.whl") if normal(w.name.split("-")[0]) == name)


def wheel_requires(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as z:
        meta = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        lines = [
            x[len("Requires-Dist:") :]
            for x in z.read(meta).decode().splitlines()
            if x.startswith("Requires-Dist:")
        ]
    return requirement_names("\n".join(lines))


def pack(dest: Path, comfyui: Path, wheels: bool = True, limit_mb: float = CARRY_LIMIT_MB) -> dict:
    """Build the carry folder; returns what went in (sizes in MiB)."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    with tempfile.TemporaryDirectory() as tmp:
        copy_comfyui(comfyui, Path(tmp) / "comfyui")
        compress(Path(tmp) / "comfyui", dest / "comfyui.tar.xz")
    report: dict = {"comfyui_mb": size_mb(dest), "wheels": {}, "stubs": {}, "trimmed": {},
                    "skipped": sorted(HEADLESS_SKIPS)}  # fmt: skip
    specs = {normal(n): line for n, line in _requirement_lines((comfyui / "requirements.txt").read_text())}
    todo = [n for n in specs if n not in DEVICE_IMAGE | HEADLESS_SKIPS]
    seen: set[str] = set()
    while wheels and todo:
        name = todo.pop(0)
        if name in seen:
            continue
        seen.add(name)
        if name in STUBS:
            write_stub(dest / "stubs", name)
            report["stubs"][name] = STUBS[name][1]
            continue
        wheel = download(specs.get(name, name), dest / "wheels")
        if name in TRIM:
            trim(wheel, TRIM[name][0])
            report["trimmed"][name] = TRIM[name][1]
        report["wheels"][wheel.name] = round(wheel.stat().st_size / 2**20, 2)
        todo += [r for r in wheel_requires(wheel) if r not in DEVICE_IMAGE | HEADLESS_SKIPS | seen]
    report["total_mb"] = size_mb(dest)
    report["fits"] = report["total_mb"] + REPO_MB <= limit_mb
    return report


def _requirement_lines(text: str) -> list[tuple[str, str]]:
    out = []
    for raw in text.splitlines():
        line = raw.split("#")[0].strip()
        names = requirement_names(line)
        if names:
            out.append((names[0], line))
    return out


def size_mb(folder: Path) -> float:
    return round(sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20, 2)
