"""Shared fixtures: the repo on sys.path, a real ComfyUI when one is found, generated thin models."""

from __future__ import annotations

import asyncio
import ctypes
import gc
import json
import os
import sys
import threading
import urllib.request
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))
TESTS_DIR = Path(__file__).resolve().parent
if str(TESTS_DIR) not in sys.path:
    sys.path.insert(0, str(TESTS_DIR))

import comfy_harness  # noqa: E402

_COMFY_STATE: dict = {"ran": 0, "skipped": 0}
_SESSION_SERVERS: list = []  # the session-scoped ComfyUI server, once started (for the per-module memory release)


NO_COMFYUI = "no ComfyUI checkout: set COMFYUI_PATH or put one at ~/ComfyUI (see README, 'Tests')"


def prerequisite_missing(reason: str) -> None:
    """A checkout the integration tests need is absent: skip with the reason, but fail in CI (CI=true), where a
    green run must mean the integration tests ran (scripts/test.sh fetches the pinned checkouts first)."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true and {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def comfyui_path() -> Path:
    """The ComfyUI checkout to test against; skips the test (with the reason) when none is found (fails in CI)."""
    path = comfy_harness.find_comfyui()
    if path is None:
        prerequisite_missing(NO_COMFYUI)
    return path


@pytest.fixture(scope="session")
def live_comfy(comfyui_path):
    """A real ComfyUI booted in-process on the CPU with FluxKit loaded; skips the test when none is found."""
    return comfy_harness.boot(comfyui_path)


def pytest_runtest_logreport(report):
    if report.when == "call" and "live_comfy" in getattr(
        report, "fixturenames", ()
    ):  # pragma: no cover - reporting
        _COMFY_STATE["ran"] += 1


def pytest_terminal_summary(terminalreporter):
    path = comfy_harness.find_comfyui()
    stats = terminalreporter.stats
    comfy_tests = [
        r
        for key in ("passed", "failed", "skipped", "error")
        for r in stats.get(key, [])
        if getattr(r, "when", "") in ("call", "setup") and "comfyui" in r.keywords
    ]
    ran = [r for r in comfy_tests if r.outcome in ("passed", "failed") and r.when == "call"]
    skipped = [r for r in comfy_tests if r.outcome == "skipped"]
    where = f"ComfyUI {comfy_harness.comfyui_version(path)} at {path}" if path else "no ComfyUI found"
    terminalreporter.write_line(
        f"FluxKit integration tests (real ComfyUI): {len(ran)} ran, {len(skipped)} skipped; {where}"
    )


@pytest.fixture(scope="session")
def thin_models() -> dict[str, str]:
    """Thin FLUX / FLUX VAE / inpainting ControlNet files (real width, one block), generated once and cached.

    Cached under $FLUXKIT_THIN_DIR or ~/.cache/fluxkit/thin (never in the repo); keyed by the generator version.
    """
    import subprocess

    from fluxkit_testmodels.thin_set import ensure_thin_set

    # Generate in a child process: the generators' peak memory (GBs of full-width tensors) is returned to the
    # machine when it exits instead of staying in this process's heap for the whole suite (2 ComfyUIs share 24 GB).
    code = "from fluxkit_testmodels.thin_set import ensure_thin_set; ensure_thin_set()"
    subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, check=True, timeout=1800)
    return ensure_thin_set()  # all present now: only the paths


E2E_SIZE = (200, 152)  # the e2e test image: deliberately not multiples of 16


@pytest.fixture(scope="session")
def comfy_server(comfyui_path, thin_models, tmp_path_factory):
    """A real ComfyUI started as a headless server on a free 127.0.0.1 port, FluxKit linked into its custom_nodes,
    the thin set under the published file names, test images in its input folder. Skips where no ComfyUI is found."""
    from fluxkit_comfy.server import ComfyServer
    from fluxkit_testmodels.thin_inputs import demo_image
    from fluxkit_testmodels.thin_set import link_into_models

    base = tmp_path_factory.mktemp("comfy-base")
    link_into_models(base / "models", thin_models)
    # a file in the wrong folder, for the bad-prompt tests: a LoRA is not an inpainting ControlNet
    (base / "models" / "controlnet" / "not-a-controlnet.safetensors").symlink_to(thin_models["lora"])
    (base / "input").mkdir(parents=True, exist_ok=True)
    demo_image(base / "input" / "fluxkit_e2e.png", *E2E_SIZE)
    demo_image(base / "input" / "fluxkit_other_size.png", 96, 64)
    with ComfyServer(comfyui_path, base) as server:
        _SESSION_SERVERS.append(server)
        yield server
        _SESSION_SERVERS.remove(server)


PROXY_TOKEN = "proxy-test-token-0123456789"


@pytest.fixture(scope="session")
def proxy_url(comfy_server):
    """FluxKit's token proxy (token PROXY_TOKEN) in front of the session ComfyUI server, on its own event loop in a
    thread; its base URL."""
    from fluxkit_comfy.server import free_port
    from fluxkit_tools import proxy

    loop, port, ready = asyncio.new_event_loop(), free_port(), threading.Event()
    runner = {}

    def run():
        asyncio.set_event_loop(loop)
        runner["r"] = loop.run_until_complete(proxy.start(comfy_server.url, PROXY_TOKEN, port))
        ready.set()
        loop.run_forever()
        loop.run_until_complete(runner["r"].cleanup())

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(30), "proxy did not start"
    yield f"http://127.0.0.1:{port}"
    loop.call_soon_threadsafe(loop.stop)
    thread.join(30)


def _malloc_trim() -> None:
    """Hand freed heap pages back to the OS (glibc keeps them otherwise); a no-op where libc has no malloc_trim."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


@pytest.fixture(scope="module", autouse=True)
def _release_models_after_each_module():
    """After each test module: unload the models the in-process ComfyUI and the session server hold.

    Both keep every model they loaded (ComfyUI's node cache, model management's loaded list): a 1 GB thin FLUX
    plus ControlNets each, module after module. The suite's peak memory (one in-process ComfyUI + one server + a
    test's own copies of weights) was ~20 GB of a 24 GB CI machine and got the suite OOM-killed; releasing between
    modules keeps it near what a single module needs. The server is asked through ComfyUI's own `POST /free`.
    """
    yield
    for server in _SESSION_SERVERS:
        if server.proc is not None and server.proc.poll() is None:
            body = json.dumps({"unload_models": True, "free_memory": True}).encode()
            request = urllib.request.Request(
                f"{server.url}/free", data=body, headers={"Content-Type": "application/json"}
            )
            with urllib.request.urlopen(request, timeout=30) as response:
                assert response.status == 200, response.status
    mm = sys.modules.get("comfy.model_management")  # only once a test booted ComfyUI in-process
    if mm is not None:
        mm.unload_all_models()
    gc.collect()
    if mm is not None:
        mm.soft_empty_cache()
    _malloc_trim()
