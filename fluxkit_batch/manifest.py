"""`OUT/manifest.json`: what a batch has finished, so a rerun submits only the rest.

    {"a.png": {"files": ["a.png/ComfyUI_00001_.png"], "source": "photos/a.png", "server": "http://…",
               "seconds": 12.3, "digest": null}, …}

An entry is written only after every output file of the item is on disk under its final name; it counts as finished
only while all those files (at least one) still exist and, for a CSV row, while the row is unchanged. Every write
is a new file fsynced and renamed over the old one, so a `kill -9` at any moment leaves the previous or the new
manifest, never a torn one. One batch at a time may write a folder (`OUT/.manifest.lock`, released by the kernel
when the process dies). Only the driving process writes it, however many servers or Ray workers run the items.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

from fluxkit_comfy.output_names import safe_file_name

from .items import Item


class ManifestError(RuntimeError):
    pass


def _legacy_key(item: Item) -> str | None:
    """Before keys were file names, a folder item's key was its stem (`a` for `a.png`)."""
    return safe_file_name(Path(item.source).stem) if item.digest is None else None


class Manifest:
    def __init__(self, path: Path):
        self.path = path
        self.done: dict[str, dict] = {}
        if path.is_file():
            try:
                self.done = json.loads(path.read_text())
            except (json.JSONDecodeError, UnicodeDecodeError) as e:
                raise ManifestError(
                    f"{path} is not a FluxKit manifest ({e}): move it away to start over"
                ) from e
            if not isinstance(self.done, dict) or not all(isinstance(v, dict) for v in self.done.values()):
                raise ManifestError(f"{path} is not a FluxKit manifest (expected an object of objects)")
        self._lock = None

    def lock(self) -> None:
        """Take the folder's lock, or ManifestError when another batch holds it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = open(self.path.parent / ".manifest.lock", "w")  # noqa: SIM115 - held for the process
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock.close()
            self._lock = None
            raise ManifestError(
                f"another batch is writing to {self.path.parent} (wait for it, or use another --out)"
            ) from None

    def unlock(self) -> None:
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def finished(self, key: str, digest: str | None = None) -> bool:
        entry = self.done.get(key)
        if entry is None:
            return False
        files = entry.get("files")
        if not isinstance(files, list) or not files:
            return False  # an item with no output is not done (an interrupted prompt once recorded this way)
        if digest is not None and entry.get("digest") not in (None, digest):
            return False  # the CSV row changed since
        return all((self.path.parent / f).is_file() for f in files)

    def adopt_legacy(self, items: list[Item]) -> int:
        """Rename entries keyed by a file's stem (FluxKit before keys were file names) to the item's key, when
        exactly one input has that stem; returns how many were adopted."""
        stems: dict[str, list[Item]] = {}
        for item in items:
            if (old := _legacy_key(item)) is not None:
                stems.setdefault(old, []).append(item)
        n = 0
        for old, matches in stems.items():
            if len(matches) == 1 and old in self.done and matches[0].key not in self.done:
                self.done[matches[0].key] = self.done.pop(old)
                n += 1
        if n:
            self._write()
        return n

    def record(self, key: str, files: list[Path], **info) -> None:
        self.done[key] = {"files": [str(f.relative_to(self.path.parent)) for f in files], **info}
        self._write()

    def _write(self) -> None:
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        with open(tmp, "w") as f:
            f.write(json.dumps(self.done, indent=1, sort_keys=True))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)  # the rename itself survives a power cut
        finally:
            os.close(dir_fd)
