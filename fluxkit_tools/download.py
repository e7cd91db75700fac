"""Download the model files a FluxKit workflow needs into a ComfyUI models folder, by preset.

    python -m fluxkit_tools.download inpainting-turbo --models ~/ComfyUI/models
    python -m fluxkit_tools.download --list
    python -m fluxkit_tools.download inpainting-turbo --source modelscope --models /mnt/workspace/ComfyUI/models

Files and presets are data (`fluxkit_workflows/models.json`). Each file is fetched over HTTP from the hub's resolve URL
(`<endpoint>/<repo>/resolve/<revision>/<file>`; `$HF_ENDPOINT` and `$HF_TOKEN`, or `$MODELSCOPE_ENDPOINT` and
`$MODELSCOPE_TOKEN`, are honoured) into `<name>.partial`, resumed with a Range request after a cut connection,
checked against the published size and sha256 where the manifest has them, then renamed into place. A file that is
already there is kept when it matches; one that differs is never overwritten unless `--force` is given.
Standard library only, so it runs before anything else is installed (e.g. first cell of a notebook).
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from fluxkit_workflows.model_files import MANIFEST

CHUNK = 1 << 20
SOURCES = {
    "hf": ("HF_ENDPOINT", "https://huggingface.co", "main", "HF_TOKEN"),
    "modelscope": ("MODELSCOPE_ENDPOINT", "https://modelscope.cn/models", "master", "MODELSCOPE_TOKEN"),
}


class DownloadError(RuntimeError):
    pass


@dataclass(frozen=True)
class ModelFile:
    name: str
    folder: str
    hf: tuple[str, str] | None
    ms: tuple[str, str] | None
    size: int | None
    sha256: str | None
    size_mb: int
    gated: bool


def load_manifest(path: Path = MANIFEST) -> tuple[dict[str, ModelFile], dict[str, list[str]]]:
    raw = json.loads(path.read_text())
    files = {
        name: ModelFile(
            name,
            f["folder"],
            tuple(f["hf"]) if f.get("hf") else None,
            tuple(f["ms"]) if f.get("ms") else None,
            f.get("size"),
            f.get("sha256"),
            f.get("size_mb", 0),
            bool(f.get("gated")),
        )  # fmt: skip
        for name, f in raw["files"].items()
    }
    for preset, names in raw["presets"].items():
        unknown = [n for n in names if n not in files]
        if unknown:
            raise DownloadError(f"{path}: preset {preset!r} lists unknown files {unknown}")
    return files, raw["presets"]


def resolve_url(model: ModelFile, source: str) -> tuple[str, dict[str, str]]:
    """The download URL and headers (auth) for `model` from `source` ('hf' or 'modelscope')."""
    env_endpoint, default_endpoint, revision, token_env = SOURCES[source]
    where = model.hf if source == "hf" else model.ms
    if where is None:
        raise DownloadError(f"{model.name}: no {source} location is listed; try --source hf")
    endpoint = os.environ.get(env_endpoint, default_endpoint).rstrip("/")
    headers = {"User-Agent": "fluxkit-download/1"}
    if os.environ.get(token_env):
        headers["Authorization"] = f"Bearer {os.environ[token_env]}"
    return f"{endpoint}/{where[0]}/resolve/{revision}/{where[1]}", headers


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(CHUNK):
            h.update(block)
    return h.hexdigest()


def verify(model: ModelFile, path: Path) -> str | None:
    """Why `path` is not the published file, or None when it matches everything the manifest knows."""
    if model.size is not None and path.stat().st_size != model.size:
        return f"size {path.stat().st_size} ≠ published {model.size}"
    if model.sha256 is not None and sha256_of(path) != model.sha256:
        return "sha256 differs from the published one"
    return None


def _fetch_once(url: str, headers: dict[str, str], partial: Path, progress) -> bool:
    """Append to `partial` from where it stops; True when the server says the file is complete."""
    have = partial.stat().st_size if partial.exists() else 0
    req = urllib.request.Request(url, headers={**headers, **({"Range": f"bytes={have}-"} if have else {})})
    try:
        resp = urllib.request.urlopen(req, timeout=60)
    except urllib.error.HTTPError as e:
        if e.code == 416 and have:  # nothing left to fetch
            return True
        if e.code in (401, 403):
            raise DownloadError(
                f"{url}: HTTP {e.code}; gated repo? accept its licence and set the token"
            ) from e
        raise DownloadError(f"{url}: HTTP {e.code} {e.reason}") from e
    with resp:
        if have and resp.status != 206:  # server ignored Range: start again
            partial.unlink()
            have = 0
        total = have + int(resp.headers.get("Content-Length", 0) or 0)
        with open(partial, "ab") as f:
            while block := resp.read(CHUNK):
                f.write(block)
                have += len(block)
                progress(have, total)
    return total == 0 or have >= total


def download(
    model: ModelFile, models_dir: Path, source: str = "hf", force: bool = False, retries: int = 5
) -> Path:
    """Fetch `model` into `models_dir/<folder>/<name>`; resumes, verifies, never silently overwrites."""
    target = models_dir / model.folder / model.name
    if target.exists():
        problem = verify(model, target)
        if problem is None:
            print(f"ok       {model.folder}/{model.name} (already there)")
            return target
        if not force:
            raise DownloadError(f"{target} exists and differs ({problem}); move it away or pass --force")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    url, headers = resolve_url(model, source)
    last = [0.0]

    def progress(done: int, total: int) -> None:
        if time.monotonic() - last[0] > 1 or done == total:
            last[0] = time.monotonic()
            pct = f"{100 * done / total:5.1f}%" if total else ""
            print(f"\r{model.name}: {done / 2**20:,.0f} MiB {pct}", end="", file=sys.stderr, flush=True)

    complete = False
    for attempt in range(1, retries + 1):
        try:
            complete = _fetch_once(url, headers, partial, progress)
        except (urllib.error.URLError, http.client.HTTPException, ConnectionError, TimeoutError) as e:
            print(f"\n{model.name}: connection lost ({e!r}); resuming", file=sys.stderr)
        if complete:
            break
        time.sleep(min(2**attempt, 30) / 10)
    print(file=sys.stderr)
    if not complete:
        raise DownloadError(f"{url}: still incomplete after {retries} tries; rerun to resume from {partial}")
    problem = verify(model, partial)
    if problem is not None:
        bad = partial.with_name(partial.name + ".bad")
        partial.replace(bad)
        raise DownloadError(f"{model.name}: downloaded file rejected ({problem}); kept as {bad}")
    partial.replace(target)
    print(f"fetched  {model.folder}/{model.name}")
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--manifest", type=Path, default=MANIFEST, help="files and presets (default: models.json)"
    )
    parser.add_argument("preset", nargs="?", help="a preset (see --list) or a file name from the manifest")
    parser.add_argument(
        "--models", type=Path, default=Path(os.environ.get("COMFYUI_PATH", "ComfyUI")) / "models"
    )
    parser.add_argument("--source", choices=sorted(SOURCES), default="hf")
    parser.add_argument("--force", action="store_true", help="replace existing files that differ")
    parser.add_argument("--list", action="store_true", help="list presets and files")
    args = parser.parse_args(argv)
    files, presets = load_manifest(args.manifest)
    if args.list or not args.preset:
        for preset, names in presets.items():
            print(f"{preset}: {sum(files[n].size_mb for n in names) / 1000:.1f} GB")
            for n in names:
                print(f"    {files[n].folder}/{n}{'  (gated: HF_TOKEN)' if files[n].gated else ''}")
        return 0
    names = presets.get(args.preset) or ([args.preset] if args.preset in files else None)
    if names is None:
        print(f"unknown preset or file {args.preset!r}; see --list", file=sys.stderr)
        return 2
    failed = []
    for name in names:
        try:
            download(files[name], args.models, args.source, args.force)
        except DownloadError as e:
            print(f"FAILED   {name}: {e}", file=sys.stderr)
            failed.append(name)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
