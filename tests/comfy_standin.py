"""A stand-in ComfyUI on loopback for client tests: the parts of the protocol the client uses (/ws, /prompt,
/history, /view, /queue, /upload/*), with a failure mode chosen per test, and a record of what it was sent.

Modes (`StandIn(mode=…)`): "ok"; "reject" (a 400 with node errors); "interrupted" (execution_interrupted, history status error); "ws_close" (the
socket closes mid-prompt, nothing finishes); "prompt_html_502" (an HTML 502 from /prompt, `fail_times` times, as a
tunnel edge sends); "prompt_503" (the same as a 503); "history_html" / "history_list" (a /history answer that is not
ComfyUI's); "no_outputs" (success without output files). `images` sets the outputs' `{filename, subfolder}`s and
`view_bytes(params)` their bodies (a generator of chunks for big ones).
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Iterable

from aiohttp import web

from fluxkit_comfy.server import free_port


def _default_view(params) -> Iterable[bytes]:
    yield f"PNG:{params.get('subfolder', '')}/{params['filename']}".encode()


class StandIn:
    def __init__(
        self,
        mode: str = "ok",
        images: list[dict] | None = None,
        view_bytes: Callable[[dict], Iterable[bytes]] = _default_view,
        fail_times: int = 1,
        run_s: float = 0.02,
        bad_prompts: set[str] | None = None,
        load: int = 0,
    ):
        self.mode = mode
        self.images = images if images is not None else [{"filename": "ComfyUI_00001_.png", "subfolder": ""}]
        self.view_bytes = view_bytes
        self.fail_times = fail_times
        self.run_s = run_s
        self.bad_prompts = bad_prompts  # history modes hit only these prompt ids (None: all)
        self.load = load  # prompts reported pending by /queue besides our own
        self.prompts: list[dict] = []  # every prompt accepted
        self.uploads: list[str] = []
        self.history: dict[str, dict] = {}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._sockets: dict[str, web.WebSocketResponse] = {}
        self._failures = 0
        self._ready = threading.Event()

    # --- routes -----------------------------------------------------------------------------------------------
    async def ws(self, request):
        sock = web.WebSocketResponse()
        await sock.prepare(request)
        self._sockets[request.query.get("clientId", "")] = sock
        async for _ in sock:
            pass
        return sock

    async def prompt(self, request):
        body = await request.json()
        if self.mode == "reject":
            return web.json_response(
                {"error": {"message": "Prompt outputs failed validation", "details": ""},
                 "node_errors": {"3": {"class_type": "KSampler", "errors": [{"message": "Value 0 smaller than min of 1", "details": "steps"}]}}},
                status=400,
            )  # fmt: skip
        if self.mode in ("prompt_html_502", "prompt_503") and self._failures < self.fail_times:
            self._failures += 1
            if self.mode == "prompt_503":
                return web.Response(status=503, text="busy")
            return web.Response(
                status=502, text="<html><body>Bad gateway</body></html>", content_type="text/html"
            )
        pid = f"p{len(self.prompts) + 1}"
        self.prompts.append(body["prompt"])
        asyncio.get_running_loop().create_task(self._play(pid, self._sockets[body["client_id"]]))
        return web.json_response({"prompt_id": pid, "number": len(self.prompts)})

    async def _play(self, pid: str, sock: web.WebSocketResponse) -> None:
        async def send(kind, **data):
            await sock.send_str(json.dumps({"type": kind, "data": {"prompt_id": pid, **data}}))

        await asyncio.sleep(self.run_s)
        await send("execution_start")
        await send("executing", node="9")
        await send("progress", node="9", value=1, max=2)
        if self.mode == "ws_close":
            await sock.close()
            return
        if self.mode == "interrupted":
            await send("execution_interrupted", node_id="9", node_type="KSampler", executed=[])
            self.history[pid] = {"outputs": {}, "status": {"status_str": "error", "completed": False}}
        else:
            await send("progress", node="9", value=2, max=2)
            images = [] if self.mode == "no_outputs" else [{**i, "type": "output"} for i in self.images]
            self.history[pid] = {
                "outputs": {"9": {"images": images}},
                "status": {"status_str": "success", "completed": True},
            }
            await send("execution_success")
        await send("executing", node=None)

    async def history_route(self, request):
        pid = request.match_info["pid"]
        hit = self.bad_prompts is None or pid in self.bad_prompts
        if self.mode == "history_html" and hit:
            return web.Response(text="<html>oops</html>", content_type="text/html")
        if self.mode == "history_list" and hit:
            return web.json_response([])
        return web.json_response({pid: self.history[pid]} if pid in self.history else {})

    async def view(self, request):
        response = web.StreamResponse()
        await response.prepare(request)
        for chunk in self.view_bytes(dict(request.query)):
            await response.write(chunk)
        await response.write_eof()
        return response

    async def queue(self, request):
        return web.json_response({"queue_running": [], "queue_pending": [[n] for n in range(self.load)]})

    async def upload(self, request):
        form = await request.post()
        name = form["image"].filename
        self.uploads.append(name)
        return web.json_response({"name": name, "subfolder": "", "type": "input"})

    # --- lifecycle --------------------------------------------------------------------------------------------
    async def start(self) -> StandIn:
        app = web.Application(client_max_size=1 << 26)
        app.add_routes([
            web.get("/ws", self.ws), web.post("/prompt", self.prompt), web.get("/history/{pid}", self.history_route),
            web.get("/view", self.view), web.get("/queue", self.queue), web.post("/upload/image", self.upload),
            web.post("/upload/mask", self.upload),
        ])  # fmt: skip
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        return self

    async def stop(self) -> None:
        await self._runner.cleanup()

    def serve_in_thread(self) -> StandIn:
        """Run on a loop of its own (for a client in a subprocess or in `asyncio.run`); `close()` ends it."""
        self._loop = asyncio.new_event_loop()

        def go():
            asyncio.set_event_loop(self._loop)
            self._loop.run_until_complete(self.start())
            self._ready.set()
            self._loop.run_forever()
            self._loop.run_until_complete(self.stop())

        self._thread = threading.Thread(target=go, daemon=True)
        self._thread.start()
        assert self._ready.wait(10), "stand-in server did not start"
        return self

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
