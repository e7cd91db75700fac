"""Local file names for a prompt's outputs: ComfyUI's `{filename, subfolder}` pairs as relative paths that are safe
(no separators or `..` from the server), unique within the prompt (`a/ComfyUI_00001_.png` and
`b/ComfyUI_00001_.png` stay two files, subfolders kept), deterministic (same outputs → same names, so a rerun
overwrites instead of adding) and short enough for any file system (each component ≤ `MAX_COMPONENT` bytes).
"""

from __future__ import annotations

import hashlib
import re
from pathlib import PurePosixPath

SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
MAX_COMPONENT = 120  # bytes; ext4/NTFS/APFS allow 255, leave room for FluxKit's temporary suffix


def _cap(name: str, limit: int = MAX_COMPONENT) -> str:
    """`name` cut to `limit` characters, the cut replaced by a hash of the whole name so distinct long names stay
    distinct; the extension is kept."""
    if len(name) <= limit:
        return name
    stem, dot, ext = name.rpartition(".")
    if not dot or len(ext) > 16:
        stem, ext = name, ""
    digest = hashlib.sha256(name.encode()).hexdigest()[:10]
    tail = f"-{digest}" + (f".{ext}" if ext else "")
    return stem[: limit - len(tail)] + tail


def safe_component(name: str) -> str:
    """One path component from a server-supplied name: ASCII letters, digits, `._-`, no leading dots, capped."""
    base = SAFE_NAME.sub("_", name).lstrip(".")
    return _cap(base or "output")


def safe_file_name(name: str) -> str:
    """A server-supplied file name reduced to one safe path component (the last one; no separators, no '..')."""
    return safe_component(name.replace("\\", "/").split("/")[-1])


def safe_subfolder(subfolder: str) -> PurePosixPath:
    """ComfyUI's `subfolder` ("a/b", "a\\b", "../x") as safe relative components; '.', '..' and empty ones drop."""
    parts = [p for p in subfolder.replace("\\", "/").split("/") if p not in ("", ".", "..")]
    return PurePosixPath(*(safe_component(p) for p in parts))


def output_paths(images: list[dict]) -> list[tuple[dict, PurePosixPath]]:
    """(image entry, relative path) for each distinct `{filename, subfolder}`, in order; a repeat of one entry is
    dropped (one file), two entries that sanitise to one path get `-2`, `-3`… before the extension."""
    seen: dict[tuple[str, str], PurePosixPath] = {}
    taken: set[str] = set()
    out = []
    for image in images:
        ident = (str(image.get("subfolder", "")), str(image["filename"]))
        if ident in seen:
            continue
        first = rel = safe_subfolder(ident[0]) / safe_file_name(ident[1])
        stem, dot, ext = first.name.rpartition(".")
        n = 1
        while str(rel).lower() in taken:  # case-insensitive: macOS/Windows would merge them
            n += 1
            rel = first.with_name(_cap(f"{stem}-{n}.{ext}" if dot else f"{first.name}-{n}"))
        taken.add(str(rel).lower())
        seen[ident] = rel
        out.append((image, rel))
    return out
