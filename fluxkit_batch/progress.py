"""One progress display for a whole batch: a status line (done / failed / in flight per server, the running
prompts' steps, ETA), redrawn in place on a terminal at most 5× a second, plus one permanent line per item that
finishes, fails or moves and per server that goes down or comes back. Without a terminal only the permanent lines
are written, so logs stay readable.

    batch 4/10 done · 1 failed · 127.0.0.1:8188 2 (img3 5/8) · 127.0.0.1:8189 down · ETA 1m12s
"""

from __future__ import annotations

import sys
import time
from urllib.parse import urlsplit


def short(name: str | None) -> str:
    """A worker's URL as host:port (what fits in a status line)."""
    if not name:
        return "-"
    parts = urlsplit(name)
    return parts.netloc or name


def eta_text(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


class BatchProgress:
    def __init__(self, total: int, workers: list[str], stream=None, clock=time.monotonic):
        self.total = total
        self.stream = stream if stream is not None else sys.stderr
        self.live = bool(getattr(self.stream, "isatty", lambda: False)())
        self.clock = clock
        self.t0 = clock()
        self.done = 0
        self.failed = 0
        self.down: set[str] = set()
        self.where: dict[str, str] = {}  # key → worker name, for items in flight
        self.steps: dict[str, tuple[int, int]] = {}
        self.workers = list(workers)
        self._drawn = 0.0

    # --- events -----------------------------------------------------------------------------------------------
    def start(self, key: str, worker: str) -> None:
        self.where[key] = worker
        self._draw()

    def step(self, key: str, value: int, maximum: int) -> None:
        self.steps[key] = (value, maximum)
        self._draw()

    def end(self, key: str, worker: str | None, error: str | None) -> None:
        self.where.pop(key, None)
        self.steps.pop(key, None)
        if error is None:
            self.done += 1
            self.line(f"{key}: done on {short(worker)} ({self.done}/{self.total})")
        else:
            self.failed += 1
            self.line(f"{key}: FAILED{f' on {short(worker)}' if worker else ''}: {error}")

    def moved(self, key: str, worker: str) -> None:
        self.where.pop(key, None)
        self.steps.pop(key, None)
        self.line(f"{key}: {short(worker)} went away; the item goes to another server")

    def worker_down(self, worker: str, reason: str) -> None:
        if worker not in self.down:
            self.down.add(worker)
            self.line(f"server {short(worker)} is not answering ({reason}); its items go elsewhere")

    def worker_up(self, worker: str) -> None:
        if worker in self.down:
            self.down.discard(worker)
            self.line(f"server {short(worker)} answers again")

    # --- output -----------------------------------------------------------------------------------------------
    def status(self) -> str:
        parts = [f"batch {self.done}/{self.total} done"]
        if self.failed:
            parts.append(f"{self.failed} failed")
        for w in self.workers:
            if w in self.down:
                parts.append(f"{short(w)} down")
                continue
            keys = [k for k, on in self.where.items() if on == w]
            running = [f"{k} {self.steps[k][0]}/{self.steps[k][1]}" for k in keys if k in self.steps]
            parts.append(f"{short(w)} {len(keys)}" + (f" ({', '.join(running)})" if running else ""))
        left = self.total - self.done - self.failed
        if self.done and left:
            parts.append(f"ETA {eta_text((self.clock() - self.t0) / self.done * left)}")
        return " · ".join(parts)

    def line(self, text: str) -> None:
        clear = "\r\x1b[2K" if self.live else ""
        print(f"{clear}{text}", file=self.stream, flush=True)
        self._draw(force=True)

    def _draw(self, force: bool = False) -> None:
        now = self.clock()
        if self.live and (force or now - self._drawn >= 0.2):
            self._drawn = now
            print(f"\r\x1b[2K{self.status()}", end="", file=self.stream, flush=True)

    def close(self) -> None:
        if self.live:
            print(file=self.stream, flush=True)
