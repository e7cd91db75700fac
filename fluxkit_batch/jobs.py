"""One item as a self-contained job (picklable, so a Ray actor on another node can run it) and running a job on
one ComfyUI: upload its image (+ mask), queue the prompt, follow it, stream its outputs to a folder.

Uploads are content-addressed (`fluxkit-<sha256>.png`): two items whose images share a file name in different
folders never overwrite each other's upload on the server, and the same image on two servers gives the same prompt
(so outputs, whose PNG metadata holds the prompt, are bit-identical wherever the item ran).
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from fluxkit_comfy.client import fetch_outputs, run_prompt
from fluxkit_comfy.http import ProtocolError, open_session, public_url, read_json, with_retries

from .items import Item
from .prompt import OverrideError, apply_override, with_overrides


@dataclass
class Job:
    key: str
    prompt: dict  # API format, overrides applied, LoadImage not yet pointed at the upload
    image: bytes | None = None
    image_suffix: str = ".png"
    mask: bytes | None = None  # greyscale picture, white = repaint


@dataclass
class RunSettings:
    timeout_s: float = 1800  # one prompt, from queueing to its last event
    retries: int = 3  # more tries of each request on a transient error


def make_job(api: dict, item: Item, common: dict) -> Job:
    """`item` as a job: the overrides (common ones first, the item's own win) applied to a copy of `api`, its
    input files read. OverrideError / OSError name the item."""
    values = {**common, **item.values}
    image, mask = values.pop("image", None), values.pop("mask", None)
    if mask is not None and image is None:
        raise OverrideError(f"{item.source}: a mask needs an image")
    prompt = with_overrides(api, values)
    if image is not None and not any(v["class_type"] == "LoadImage" for v in prompt.values()):
        raise OverrideError(f"{item.source}: the workflow has no LoadImage node to take the image")
    image_path = Path(image) if image is not None else None
    return Job(
        key=item.key,
        prompt=prompt,
        image=image_path.read_bytes() if image_path else None,
        image_suffix=image_path.suffix.lower() if image_path else ".png",
        mask=Path(mask).read_bytes() if mask is not None else None,
    )


def mask_as_alpha_png(mask: bytes) -> bytes:
    """A greyscale mask (white = repaint) as an RGBA PNG whose alpha is 0 where to repaint (mask-editor layout)."""
    from PIL import Image, ImageOps

    grey = Image.open(io.BytesIO(mask)).convert("L")
    rgba = Image.new("RGBA", grey.size, (0, 0, 0, 255))
    rgba.putalpha(ImageOps.invert(grey))
    out = io.BytesIO()
    rgba.save(out, format="PNG")
    return out.getvalue()


async def _upload(session, url: str, route: str, fields: dict, retries: int) -> str:
    async def attempt() -> str:
        form = aiohttp.FormData()
        for name, value in fields.items():
            if isinstance(value, tuple):
                form.add_field(name, value[1], filename=value[0], content_type="image/png")
            else:
                form.add_field(name, value)
        async with session.post(f"{url}{route}", data=form) as r:
            body = await read_json(r, f"POST {route}")
            if r.status != 200 or not isinstance(body.get("name"), str):
                raise ProtocolError(f"POST {route}: HTTP {r.status} {str(body)[:120]}")
            sub = body.get("subfolder") or ""
            return f"{sub}/{body['name']}" if sub else body["name"]

    return await with_retries(f"POST {url}{route}", attempt, retries)


async def upload_inputs(session, url: str, job: Job, retries: int = 3) -> str | None:
    """Upload the job's image (+ mask as the image's alpha, as ComfyUI's mask editor does); returns the name
    LoadImage should read, or None without an image."""
    if job.image is None:
        return None
    digest = hashlib.sha256(job.image).hexdigest()[:20]
    name = f"fluxkit-{digest}{job.image_suffix}"
    fields = {"image": (name, job.image), "overwrite": "true"}
    uploaded = await _upload(session, url, "/upload/image", fields, retries)
    if job.mask is None:
        return uploaded
    alpha = mask_as_alpha_png(job.mask)
    masked = f"fluxkit-{hashlib.sha256(job.image + alpha).hexdigest()[:20]}.png"
    fields = {
        "image": (masked, alpha),
        "original_ref": json.dumps({"filename": uploaded, "subfolder": "", "type": "input"}),
        "overwrite": "true",
    }
    return await _upload(session, url, "/upload/mask", fields, retries)


async def execute(url: str, job: Job, out_dir: Path, settings: RunSettings, on_progress=None) -> list[Path]:
    """Run `job` on the ComfyUI at `url`; its outputs are streamed into `out_dir`. Returns the written paths (at
    least one: a prompt that reports success without an output file is a failure)."""
    async with open_session(url) as session:
        name = await upload_inputs(session, public_url(url), job, settings.retries)
    prompt = job.prompt
    if name is not None:
        prompt = json.loads(json.dumps(prompt))
        apply_override(prompt, "image", name)
    result = await run_prompt(url, prompt, settings.timeout_s, on_progress, settings.retries)
    files = await fetch_outputs(url, result, out_dir, settings.retries)
    if not files:
        raise ProtocolError(
            f"prompt {result.prompt_id} succeeded but listed no output file (does the workflow save one?)"
        )
    return files
