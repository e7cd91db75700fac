"""A batch's items: one per image of a folder (a mask for `photo.png` is `masks/photo.png` beside it, optional) or
one per row of a CSV (columns are short names or NODE.INPUT; `image` / `mask` hold paths relative to the CSV).

Each item has a key, unique within the batch and stable across runs: the input's file name made safe (`a.png` and
`a.jpg` are two items, `a.png` and `a_png` too), or `row00001`… for CSV rows. Its outputs go to `OUT/<key>/`.
The digest of its values lets the manifest notice a CSV row that changed since it was finished.
"""

from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from fluxkit_comfy.output_names import safe_component

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp"}
PATH_COLUMNS = ("image", "mask")


class BatchInputError(ValueError):
    """The batch's inputs cannot be turned into items (no such folder, clashing names, a bad CSV)."""


def parse_value(text: str):
    """A CSV cell or `--set` value: JSON when it parses as JSON, else the string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


@dataclass(frozen=True)
class Item:
    key: str  # unique, safe as one path component
    values: dict  # overrides, with "image" / "mask" as paths
    source: str  # what the user calls it: "photos/a.png", "jobs.csv row 3"
    digest: str | None = None  # CSV rows: hash of the row's cells as written


def row_digest(row: dict) -> str:
    return hashlib.sha256(json.dumps(row, sort_keys=True).encode()).hexdigest()[:16]


def item_key(file_name: str) -> str:
    """The key of a folder input: its name when already safe, else the safe form plus a hash of the real name (so
    `a b.png` and `a_b.png` cannot share a key)."""
    safe = safe_component(file_name)
    if safe == file_name:
        return safe
    return f"{safe}-{hashlib.sha256(file_name.encode()).hexdigest()[:8]}"


def _unique(items: list[Item]) -> list[Item]:
    seen: dict[str, str] = {}
    for item in items:
        other = seen.setdefault(item.key.lower(), item.source)
        if other != item.source:  # case-insensitive file systems would merge their output folders
            raise BatchInputError(f"{other} and {item.source} would share the output folder {item.key!r}")
    return items


def _csv_items(path: Path) -> list[Item]:
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise BatchInputError(f"{path}: cannot read the CSV: {e}") from e
    items = []
    for n, row in enumerate(rows):
        if None in row:
            raise BatchInputError(f"{path} row {n + 1}: more cells than the header has columns")
        values = {
            k: (str(path.parent / v) if k in PATH_COLUMNS else parse_value(v)) for k, v in row.items() if v
        }
        items.append(Item(f"row{n + 1:05d}", values, f"{path.name} row {n + 1}", row_digest(row)))
    return items


def batch_items(inputs: Path) -> list[Item]:
    """The items of a folder of images or a CSV, in a stable order."""
    if inputs.suffix.lower() == ".csv":
        return _unique(_csv_items(inputs))
    if not inputs.is_dir():
        raise BatchInputError(f"--inputs {inputs}: not a folder of images or a .csv file")
    items = []
    for p in sorted(p for p in inputs.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()):
        values = {"image": str(p)}
        if (inputs / "masks" / p.name).is_file():
            values["mask"] = str(inputs / "masks" / p.name)
        items.append(Item(item_key(p.name), values, str(p)))
    return _unique(items)
