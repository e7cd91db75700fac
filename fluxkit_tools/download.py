"""Download the model files a FluxKit workflow needs into a ComfyUI models folder, by preset.

    python -m fluxkit_tools.download inpainting-turbo --models ~/ComfyUI/models
    python -m fluxkit_tools.download --list
    python -m fluxkit_tools.download inpainting-turbo --source modelscope --models /mnt/workspace/ComfyUI/models

Files and presets are data (`fluxkit_catalog/models.json`); a model that is a folder (Depth-Anything-V2 in the HF
layout) lists its files as `<model folder>/<file>`. The transfer is the hub's own library's
(`fluxkit_tools.hubs`: `huggingface_hub`, or `modelscope` for `--source modelscope`; files that ModelScope does not
mirror come from Hugging Face, said on a line). FluxKit keeps what is its own: the target folder and file name (a
manifest name or folder that leaves `--models` is an error), never overwriting a file that differs without
`--force`, a bounded retry of transient failures (5xx, cut connections), and verification: every downloaded file's
size and sha256 are checked against what the hub reports for that file (and against the manifest's, where it has
them); a mismatch is refused and the bad file kept aside as `<name>.bad`. Each verdict goes to
`<models>/fluxkit_downloads.jsonl`, which also lets a rerun skip re-hashing a file it already verified.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import fluxkit_cli as cli
from fluxkit_catalog.model_files import MANIFEST

from .hubs import HUBS, HubError, RemoteFile

CHUNK = 1 << 22
LOG_NAME = "fluxkit_downloads.jsonl"
STAGING = (
    ".fluxkit-download"  # per target folder: where the hub library writes before FluxKit verifies and moves
)


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
    size_mb: int | None  # None: no published size
    gated: bool


def _check_relative(what: str, value: str, manifest: Path) -> None:
    parts = Path(value).parts
    if not value or Path(value).is_absolute() or ".." in parts or "\\" in value or value.startswith("~"):
        raise DownloadError(
            f"{manifest}: {what} {value!r} leaves the models folder; expected a plain relative name"
        )


def load_manifest(path: Path = MANIFEST) -> tuple[dict[str, ModelFile], dict[str, list[str]]]:
    raw = json.loads(path.read_text())
    files = {}
    for name, f in raw["files"].items():
        _check_relative("file name", name, path)
        if len(Path(name).parts) > 2:  # "file", or "model folder/file" for a model that is a folder
            raise DownloadError(
                f"{path}: file name {name!r} has more than a model folder in it; put the rest in 'folder'"
            )
        _check_relative(f"folder of {name}", f["folder"], path)
        files[name] = ModelFile(
            name, f["folder"], tuple(f["hf"]) if f.get("hf") else None, tuple(f["ms"]) if f.get("ms") else None,
            f.get("size"), f.get("sha256"), f.get("size_mb", 0), bool(f.get("gated")),
        )  # fmt: skip
    for preset, names in raw["presets"].items():
        unknown = [n for n in names if n not in files]
        if unknown:
            raise DownloadError(f"{path}: preset {preset!r} lists unknown files {unknown}")
    return files, raw["presets"]


def target_path(models_dir: Path, model: ModelFile) -> Path:
    """`models_dir/<folder>/<name>`, refused when it would resolve outside `models_dir`."""
    root = models_dir.resolve()
    target = (root / model.folder / model.name).resolve()
    if root not in target.parents:
        raise DownloadError(f"{model.name}: target {target} is outside the models folder {root}")
    return target


def hashes(path: Path, label: str) -> tuple[str, str]:
    """(sha256, git blob sha1) of a file, with a progress bar while it reads (models are GBs)."""
    from tqdm.auto import tqdm  # comes with huggingface_hub

    size = path.stat().st_size
    sha256, sha1 = hashlib.sha256(), hashlib.sha1(f"blob {size}\0".encode(), usedforsecurity=False)
    with (
        open(path, "rb") as f,
        tqdm(total=size, unit="B", unit_scale=True, desc=f"verify {label}", leave=False) as bar,
    ):
        while block := f.read(CHUNK):
            sha256.update(block)
            sha1.update(block)
            bar.update(len(block))
    return sha256.hexdigest(), sha1.hexdigest()


class DownloadLog:
    """`<models>/fluxkit_downloads.jsonl`: one JSON object a line per verdict (verified, kept, rejected)."""

    def __init__(self, models_dir: Path):
        self.path = models_dir / LOG_NAME

    def record(self, **entry) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps({"time": time.strftime("%Y-%m-%dT%H:%M:%S"), **entry}) + "\n")

    def verified_sha256(self, path: Path) -> str | None:
        """The sha256 this log verified for `path` as it is now (same size and mtime), else None."""
        if not self.path.is_file():
            return None
        st, found = path.stat(), None
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                e = json.loads(line)
            except ValueError:
                continue  # a line cut by a crash: ignore it, the others still hold
            if (
                e.get("path") == str(path)
                and e.get("size") == st.st_size
                and e.get("mtime_ns") == st.st_mtime_ns
            ):
                found = e.get("sha256") if e.get("result") in ("verified", "kept") else None
        return found


def mismatch(model: ModelFile, remote: RemoteFile, path: Path, log: DownloadLog) -> tuple[str | None, str]:
    """(why `path` is not the file the hub reports, or None; its sha256)."""
    size = path.stat().st_size
    if size != remote.size:
        return f"size {size} ≠ {remote.size} reported by the hub", ""
    sha256 = log.verified_sha256(path)
    if sha256 is None or remote.git_sha1 is not None:
        sha256, git_sha1 = hashes(path, model.name)
        if remote.git_sha1 is not None and git_sha1 != remote.git_sha1:
            return f"git blob id {git_sha1} ≠ {remote.git_sha1} reported by the hub", sha256
    if remote.sha256 is not None and sha256 != remote.sha256:
        return f"sha256 {sha256} ≠ {remote.sha256} reported by the hub", sha256
    if model.sha256 is not None and sha256 != model.sha256:
        return f"sha256 {sha256} ≠ {model.sha256} in FluxKit's manifest", sha256
    return None, sha256


def _hub_for(model: ModelFile, source: str):
    if source == "modelscope" and model.ms is None:
        print(
            f"note     {model.name}: not mirrored on ModelScope, fetching from Hugging Face", file=sys.stderr
        )
        source = "hf"
    where = model.ms if source == "modelscope" else model.hf
    if where is None:
        raise DownloadError(f"{model.name}: no {source} location is listed in the manifest")
    return HUBS[source](), where


def _with_retries(call, retries: int, backoff_s: float, label: str):
    for attempt in range(1, retries + 1):
        try:
            return call()
        except HubError as e:
            if not e.transient or attempt == retries:
                raise DownloadError(str(e)) from e
            wait = backoff_s * 2 ** (attempt - 1)
            print(f"retry    {label}: {e} (try {attempt + 1}/{retries} in {wait:.0f} s)", file=sys.stderr)
            time.sleep(wait)
    raise AssertionError("unreachable")


def check_remote(model: ModelFile, remote, where: str) -> None:
    """Refuse a hub file with no content hash or another size than the manifest's; warn when the approximate size
    (`size_mb`, for files whose exact size the manifest does not pin) is off by more than 10%."""
    if remote.sha256 is None and remote.git_sha1 is None:
        raise DownloadError(f"{model.name}: {where} reported no content hash; refusing it")
    if model.size is not None and model.size != remote.size:
        raise DownloadError(f"{model.name}: {where} has {remote.size} bytes, the manifest {model.size}")
    if model.sha256 is not None and remote.sha256 is not None and model.sha256 != remote.sha256:
        raise DownloadError(
            f"{model.name}: {where} reports sha256 {remote.sha256}, FluxKit's pin is {model.sha256} "
            "(another file under that name, or a changed upload): refusing it before downloading"
        )
    if model.size_mb and abs(remote.size / 1e6 - model.size_mb) > 0.1 * model.size_mb:
        print(
            f"warning  {model.name}: {remote.size / 1e6:.0f} MB on the hub, ~{model.size_mb} MB expected",
            file=sys.stderr,
        )


def download(
    model: ModelFile, models_dir: Path, source: str = "hf", force: bool = False, retries: int = 4,
    backoff_s: float = 2.0,
) -> Path:  # fmt: skip
    """Fetch `model` into `models_dir/<folder>/<name>` through the hub's library; verify; never silently overwrite."""
    target = target_path(models_dir, model)
    log = DownloadLog(models_dir)
    hub, (repo, file) = _hub_for(model, source)
    revision = hub.default_revision
    remote = _with_retries(lambda: hub.remote(repo, file, revision), retries, backoff_s, model.name)
    check_remote(model, remote, f"{hub.name}'s {repo}/{file}")
    entry = {
        "file": model.name,
        "source": hub.name,
        "repo": repo,
        "repo_file": file,
        "revision": remote.revision,
    }

    def record(path: Path, sha256: str, result: str, **more) -> os.stat_result:
        st = path.stat()
        log.record(**entry, path=str(path), size=st.st_size, mtime_ns=st.st_mtime_ns, sha256=sha256, result=result,
                   **more)  # fmt: skip
        return st

    if target.exists():
        problem, sha256 = mismatch(model, remote, target, log)
        if problem is None:
            record(target, sha256, "kept")
            print(f"ok       {model.folder}/{model.name} (already there, verified)")
            return target
        if not force:
            raise DownloadError(f"{target} exists and differs ({problem}); move it away or pass --force")
    staging = target.parent / STAGING / target.name
    staged = _with_retries(lambda: hub.fetch(repo, file, revision, staging), retries, backoff_s, model.name)
    problem, sha256 = mismatch(model, remote, staged, log)
    if problem is not None:
        bad = target.with_name(target.name + ".bad")
        os.replace(staged, bad)
        record(bad, sha256, "rejected", why=problem)
        raise DownloadError(f"{model.name}: downloaded file rejected ({problem}); kept aside as {bad}")
    os.replace(staged, target)
    shutil.rmtree(staging, ignore_errors=True)
    with contextlib.suppress(OSError):
        staging.parent.rmdir()  # only when no other download is staged there
    st = record(target, sha256, "verified")
    print(f"fetched  {model.folder}/{model.name} ({st.st_size:,} bytes, sha256 {sha256[:12]}…, verified)")
    return target


def build_parser() -> argparse.ArgumentParser:
    parser = cli.Parser(prog="python -m fluxkit_tools.download", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--manifest", type=Path, default=MANIFEST, help="files and presets (default: models.json)"
    )
    parser.add_argument("preset", nargs="?", help="a preset (see --list) or a file name from the manifest")
    parser.add_argument(
        "--models", type=Path, default=Path(os.environ.get("COMFYUI_PATH", "ComfyUI")) / "models"
    )
    parser.add_argument("--source", choices=sorted(HUBS), default="hf", help="hub to download from")
    parser.add_argument("--force", action="store_true", help="replace existing files that differ")
    parser.add_argument(
        "--retries", type=int, default=4, help="tries per file on transient errors (5xx, cuts)"
    )
    parser.add_argument("--list", action="store_true", help="list presets and files")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        files, presets = load_manifest(args.manifest)
    except DownloadError as e:
        print(f"FluxKit download: {e}", file=sys.stderr)
        return 2
    if args.list or not args.preset:
        for preset, names in presets.items():
            print(f"{preset}: {sum(files[n].size_mb or 0 for n in names) / 1000:.1f} GB")
            for n in names:
                pin = "" if files[n].sha256 else "  (no pin)"
                print(f"    {files[n].folder}/{n}{'  (gated: HF_TOKEN)' if files[n].gated else ''}{pin}")
        return 0
    names = presets.get(args.preset) or ([args.preset] if args.preset in files else None)
    if names is None:
        print(f"unknown preset or file {args.preset!r}; see --list", file=sys.stderr)
        return 2
    unpinned = [n for n in names if files[n].sha256 is None]
    if unpinned:
        print(
            f"no FluxKit pin (checked against the hub's own hash only): {', '.join(unpinned)}",
            file=sys.stderr,
        )
    failed = []
    for name in names:
        try:
            download(files[name], args.models, args.source, args.force, retries=max(1, args.retries))
        except DownloadError as e:
            print(f"FAILED   {name}: {e}", file=sys.stderr)
            failed.append(name)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(cli.run(main, "python -m fluxkit_tools.download"))
