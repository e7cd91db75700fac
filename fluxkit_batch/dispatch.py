"""Spread a batch's items over its workers (ComfyUIs): the least busy first, a dead one's items moved to the others.

Each worker takes up to `slots` items at a time (2: the next item uploads while one runs). When an item is to be
placed, every worker is asked for its ComfyUI queue (`GET /queue`, other users' prompts included) and the item goes
to the shortest one with a free slot; when the shortest queue has no free slot (it holds our items), the item waits
for it rather than queueing behind other users' prompts elsewhere. A worker whose request fails with `ServerUnavailable` is marked down, the item it
held goes back to the front of the line for another worker (at most `max_moves` times per item), and the down
worker is probed again every `probe_s` seconds (a restarted ComfyUI rejoins). When no worker has answered for
`wait_s` seconds the items still waiting fail ("rerun to resume"). Any other error fails only its item.
Every loop here is bounded by the items' count and those timeouts.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from fluxkit_comfy.http import ServerUnavailable

from .items import Item
from .progress import BatchProgress
from .workers import Worker


@dataclass
class WorkerState:
    up: bool = True
    in_flight: int = 0
    next_probe: float = 0.0


def _reason(e: BaseException) -> str:
    return f"{type(e).__name__}: {e}" if str(e) else type(e).__name__


@dataclass
class _Dispatch:
    """One batch's dispatch state: the workers' health, the line of waiting items and the running ones."""

    workers: list[Worker]
    run: Callable[[Item, Worker], Awaitable[None]]
    progress: BatchProgress
    slots: int
    wait_s: float
    probe_s: float
    max_moves: int
    pending: deque[Item]
    state: dict = field(default_factory=dict)
    tasks: dict[asyncio.Task, tuple[Item, Worker]] = field(default_factory=dict)
    moves: dict[str, int] = field(default_factory=dict)
    failed: list[str] = field(default_factory=list)
    stalled_since: float | None = None
    order: dict = field(default_factory=dict)

    def __post_init__(self):
        self.state = {w: WorkerState() for w in self.workers}
        self.order = {w: n for n, w in enumerate(self.workers)}  # ties go to the worker listed first

    def mark_down(self, w: Worker, error: BaseException) -> None:
        self.state[w].up, self.state[w].next_probe = False, time.monotonic() + self.probe_s
        self.progress.worker_down(w.name, _reason(error))

    async def loads(self, workers: list[Worker]) -> dict[Worker, int]:
        """{worker: its queue length} for the workers that answer; the others are marked down."""
        answers = await asyncio.gather(*(w.load() for w in workers), return_exceptions=True)
        loads = {}
        for w, answer in zip(workers, answers):
            if isinstance(answer, BaseException):
                self.mark_down(w, answer)
            else:
                loads[w] = max(
                    answer, self.state[w].in_flight
                )  # an item still uploading is not in its queue yet
        return loads

    async def probe_down_workers(self) -> None:
        """Ask the down workers whose probe time has come; those that answer rejoin."""
        now = time.monotonic()
        due = [w for w in self.workers if not self.state[w].up and now >= self.state[w].next_probe]
        for w in (await self.loads(due)) if due else ():
            self.state[w].up = True
            self.progress.worker_up(w.name)

    async def place_one(self) -> bool:
        """Start the next item on the least busy worker with a free slot; False when none takes it now (the
        shortest queue is full of our own items: wait for it rather than queue behind other users elsewhere)."""
        if not self.pending or not any(s.up and s.in_flight < self.slots for s in self.state.values()):
            return False
        loads = await self.loads([w for w in self.workers if self.state[w].up])
        least = min(loads.values(), default=0)
        free = [w for w in loads if self.state[w].in_flight < self.slots and loads[w] <= least]
        if not free:
            return False
        w = min(free, key=lambda w: (loads[w], self.state[w].in_flight, self.order[w]))
        item = self.pending.popleft()
        self.state[w].in_flight += 1
        self.progress.start(item.key, w.name)
        self.tasks[asyncio.ensure_future(self.run(item, w))] = (item, w)
        return True

    def stalled_out(self) -> bool:
        """True (and the waiting items failed) once no worker has answered for `wait_s` with nothing running."""
        if not (self.pending and not self.tasks and not any(s.up for s in self.state.values())):
            self.stalled_since = None
            return False
        now = time.monotonic()
        self.stalled_since = self.stalled_since or now
        if now - self.stalled_since <= self.wait_s:
            return False
        for item in self.pending:
            self.failed.append(item.key)
            self.progress.end(item.key, None, f"no server answered for {self.wait_s:.0f} s")
        self.pending.clear()
        return True

    def finish(self, task: asyncio.Task) -> None:
        """Record one ended item: done, moved to another worker (its server went away), or failed."""
        item, w = self.tasks.pop(task)
        self.state[w].in_flight -= 1
        error = task.exception()
        if error is None:
            self.progress.end(item.key, w.name, None)
        elif not isinstance(error, ServerUnavailable):
            self.failed.append(item.key)
            self.progress.end(item.key, w.name, _reason(error))
        else:
            self.mark_down(w, error)
            self.moves[item.key] = self.moves.get(item.key, 0) + 1
            if self.moves[item.key] <= self.max_moves:
                self.pending.appendleft(item)
                self.progress.moved(item.key, w.name)
            else:
                self.failed.append(item.key)
                self.progress.end(item.key, w.name, f"{_reason(error)} (moved {self.max_moves}×, giving up)")


async def dispatch(
    workers: list[Worker],
    items: list[Item],
    run: Callable[[Item, Worker], Awaitable[None]],
    progress: BatchProgress,
    slots: int = 2,
    wait_s: float = 30,
    probe_s: float = 2,
    max_moves: int | None = None,
) -> list[str]:
    """Run `run(item, worker)` for every item; returns the keys of the items that did not finish."""
    moves = len(workers) if max_moves is None else max_moves
    d = _Dispatch(workers, run, progress, slots, wait_s, probe_s, moves, deque(items))
    while d.pending or d.tasks:
        await d.probe_down_workers()
        if await d.place_one():
            continue
        if d.stalled_out():
            break
        if not d.tasks:
            await asyncio.sleep(min(probe_s, 0.5))
            continue
        done, _ = await asyncio.wait(d.tasks, timeout=probe_s, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            d.finish(task)
    return d.failed
