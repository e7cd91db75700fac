"""Queue FluxKit workflows on ComfyUI from scripts: one prompt, or a batch that never loses a job, on one server,
many, or a Ray cluster.

    python -m fluxkit_tools.client run inpainting_turbo_8step --image in.png --mask m.png \\
        --set prompt="a red chair" --set seed=7 --steps 8 --out out/
    python -m fluxkit_tools.client batch inpainting_turbo_8step --inputs photos/ --out out/ \\
        --server http://gpu1:8188 --server http://gpu2:8188
    python -m fluxkit_tools.client batch inpainting_turbo_8step --inputs photos/ --out out/ --ray auto \\
        --ray-comfyui /opt/ComfyUI

WORKFLOW is a name in `workflows/api/` or a path to an API-format JSON. `--set NAME=VALUE` changes an input:
`NODE.INPUT=VALUE` with NODE a node id, title or type (case-insensitive), or one of the short names: prompt (the node
titled "Prompt"), seed, steps, image, mask. VALUE is JSON when it parses as JSON, else a string.
`--mask` is a greyscale picture, white = repaint; it is uploaded through /upload/mask as the image's alpha, exactly
as ComfyUI's mask editor does. Outputs are written under safe names, subfolders kept. A rejected prompt exits 1 with
ComfyUI's own validation text.

A guarded ComfyUI (`fluxkit_tools.launch`'s proxy): `$FLUXKIT_TOKEN` is sent as a bearer token to the server
`$FLUXKIT_TOKEN_SERVER` names (what the launcher prints), or without that to an https or loopback server only, never
over plain http to another host. Credentials in a URL (`https://fluxkit:TOKEN@host`) work too, but a command line
is visible to every user of the machine (`ps`): put such URLs in a file, one per line, and give `--server-file`.

Batch: `--inputs` is a folder of images (a mask for `photo.png` is `masks/photo.png` beside them, optional) or a
CSV whose columns are short names or NODE.INPUT (an `image` and optional `mask` column hold paths). Each item's
outputs go to `OUT/<key>/`; `OUT/manifest.json` records an item only once its files are on disk, so a rerun after a
crash, a server restart or a killed client submits only what is missing. `--server` given several times spreads the
items over those ComfyUIs (least busy first; a dead one's items move to the others); `--ray [ADDRESS]` runs them
through Ray actors (see `fluxkit_batch.ray_workers`).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import fluxkit_cli as cli
from fluxkit_batch.items import BatchInputError, Item, batch_items, parse_value
from fluxkit_batch.jobs import RunSettings, execute, make_job
from fluxkit_batch.manifest import Manifest, ManifestError
from fluxkit_batch.prompt import OverrideError, apply_override, load_workflow
from fluxkit_batch.run import run_batch
from fluxkit_batch.workers import HttpWorker
from fluxkit_comfy.client import PromptFailed, PromptRejected, ProtocolError, ServerUnavailable, progress_bar
from fluxkit_comfy.http import TOKEN_SERVER_ENV, CredentialError, auth_headers, env_token_for, public_url

__all__ = ["Manifest", "OverrideError", "apply_override", "batch_items", "load_workflow", "main", "run_batch"]


class RayUnavailable(RuntimeError):
    """`--ray` could not give the batch its workers (Ray missing, no cluster, actors failing to start)."""


DEFAULT_SERVER = os.environ.get("COMFYUI_URL", "http://127.0.0.1:8188")
USER_ERRORS = (
    PromptRejected,
    PromptFailed,
    ProtocolError,
    OverrideError,
    BatchInputError,
    ManifestError,
    CredentialError,
)


def parse_overrides(args: argparse.Namespace) -> dict:
    overrides = {}
    for item in args.set:
        name, sep, value = item.partition("=")
        if not sep:
            raise OverrideError(f"--set {item!r}: expected NAME=VALUE")
        overrides[name] = parse_value(value)
    overrides.update({k: v for k, v in (("steps", args.steps), ("seed", args.seed)) if v is not None})
    return overrides


async def run_one(url: str, api: dict, overrides: dict, image, mask, out_dir: Path, settings: RunSettings):
    """`run`: one prompt, with a progress bar; outputs under `out_dir`."""
    values = {
        **overrides,
        **({"image": str(image)} if image else {}),
        **({"mask": str(mask)} if mask else {}),
    }
    job = make_job(api, Item("run", values, "--image"), {})
    files = await execute(url, job, out_dir, settings, progress_bar)
    print("done: " + ", ".join(str(f) for f in files))
    return files


def server_urls(args: argparse.Namespace) -> list[str]:
    """`--server` URLs, then those of `--server-file` (one a line; blank lines and `#` comments skipped); the
    default server when neither is given. A password on the command line gets a warning; an env token that could
    belong to several of them is an error (which one was it issued for?)."""
    given = args.server if isinstance(args.server, list) else [args.server] if args.server else []
    if any(urlsplit(u).password for u in given):
        print(
            "warning: credentials in --server are visible to every user of this machine (ps); "
            "use --server-file or FLUXKIT_TOKEN + FLUXKIT_TOKEN_SERVER",
            file=sys.stderr,
        )
    if args.server_file:
        lines = Path(args.server_file).read_text().splitlines()
        given += [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]
    urls = list(dict.fromkeys(u.rstrip("/") for u in (given or [DEFAULT_SERVER])))
    for u in urls:
        auth_headers(u)  # a user without a password: said now, before anything runs
    takers = [u for u in urls if urlsplit(u).username is None and env_token_for(u)]
    if len(takers) > 1 and not os.environ.get(TOKEN_SERVER_ENV):
        raise CredentialError(
            f"FLUXKIT_TOKEN is set and {len(takers)} servers could take it ({', '.join(public_url(u) for u in takers)}): "
            "set FLUXKIT_TOKEN_SERVER to the one it was issued for (the launcher prints it), or give each server "
            "its credentials in --server-file"
        )
    return urls


def _workers(args: argparse.Namespace, settings: RunSettings) -> tuple[list, Callable[[], None]]:
    """The batch's workers and what stops them afterwards."""
    urls = server_urls(args)
    if args.ray is None:
        return [HttpWorker(u, settings) for u in urls], lambda: None
    from fluxkit_batch.ray_workers import ray_workers, stop_ray_workers

    attach = urls if (args.server or args.ray_comfyui is None) else []
    try:
        workers = ray_workers(
            None if args.ray == "local" else args.ray, attach, args.ray_comfyui, args.ray_workers,
            args.ray_gpus, args.ray_comfyui_arg, settings,
        )  # fmt: skip
    except ImportError as e:
        raise RayUnavailable(f"--ray needs Ray: pip install ray ({e})") from e
    except Exception as e:  # noqa: BLE001 - Ray's own errors (no cluster, an actor that cannot start) end here
        raise RayUnavailable(
            f"Ray could not start the FluxKit workers: {str(e).splitlines()[0][:300]}"
        ) from e
    return workers, lambda: stop_ray_workers(workers)


def build_parser() -> argparse.ArgumentParser:
    parser = cli.Parser(prog="python -m fluxkit_tools.client", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("run", "batch"):
        p = sub.add_parser(name)
        p.add_argument("workflow", help="name in workflows/api/ or a path to an API-format JSON")
        p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="override an input")
        p.add_argument("--steps", type=int)
        p.add_argument("--seed", type=int)
        p.add_argument("--out", type=Path, default=Path("out"))
        p.add_argument(
            "--timeout", type=float, default=1800, help="seconds one prompt may take (default 1800)"
        )
        p.add_argument(
            "--retries", type=int, default=3, help="more tries of a request on 502/503/504 or a reset"
        )
        p.add_argument("--server-file", type=Path, metavar="FILE",
                       help="ComfyUI URLs, one a line, credentials allowed (kept out of `ps`)")  # fmt: skip
        if name == "run":
            p.add_argument("--server", help="ComfyUI URL (default $COMFYUI_URL or http://127.0.0.1:8188)")
            p.add_argument("--image", type=Path)
            p.add_argument("--mask", type=Path, help="greyscale, white = repaint")
            continue
        p.add_argument("--server", action="append", metavar="URL", help="a ComfyUI; repeat for several")
        p.add_argument("--inputs", type=Path, required=True, help="folder of images, or a CSV")
        p.add_argument("--concurrency", type=int, default=2, help="items in flight per server (default 2)")
        p.add_argument("--wait-for-server", type=float, default=60, metavar="S",
                       help="when no server answers, wait this long before giving up the rest (default 60)")  # fmt: skip
        p.add_argument("--ray", nargs="?", const="local", metavar="ADDRESS",
                       help="run through Ray actors; ADDRESS of a cluster ('auto', 'ray://host:10001'), "
                            "none = the local instance")  # fmt: skip
        p.add_argument("--ray-comfyui", metavar="PATH", help="start ComfyUI from PATH on the Ray nodes")
        p.add_argument("--ray-workers", type=int, help="ComfyUIs to start (default: one per GPU)")
        p.add_argument("--ray-gpus", type=float, default=1, help="GPUs per started ComfyUI (0 = CPU)")
        p.add_argument("--ray-comfyui-arg", action="append", default=[], metavar="ARG",
                       help="extra argument for the started ComfyUIs (repeat)")  # fmt: skip
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = RunSettings(timeout_s=args.timeout, retries=args.retries)
    try:
        api = load_workflow(args.workflow)
        overrides = parse_overrides(args)
        if args.command == "run":
            urls = server_urls(args)
            if len(urls) != 1:
                raise CredentialError(f"run takes one server; --server/--server-file gave {len(urls)}")
            asyncio.run(run_one(urls[0], api, overrides, args.image, args.mask, args.out, settings))
            return 0
        workers, stop = _workers(args, settings)
        try:
            unfinished = asyncio.run(
                run_batch(
                    workers, api, args.inputs, args.out, overrides, args.concurrency, args.wait_for_server
                )
            )
        finally:
            stop()
        return 1 if unfinished else 0
    except USER_ERRORS as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except (ServerUnavailable, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(cli.run(main, "python -m fluxkit_tools.client"))
