"""The cloud-notebook path in a real browser: ComfyUI's own frontend served by a real ComfyUI with FluxKit, reached
only through the launcher's token proxy, driven by headless Chromium (Playwright). With the token the frontend
loads a FluxKit workflow, saves it under a new name in the workflow browser (the frontend sends
`/api/userdata/workflows%2F<name>.json`, which a proxy that decodes paths breaks), reloads, reopens it from the
workflow browser, queues it on the thin set and shows the output image; without the token every request is 401.
Screenshots go to `test-artifacts/browser/`.

Skipped, with the reason, without ComfyUI, Chromium or the `playwright` package (see test_browser_comfyui.py)."""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from urllib.parse import quote

import pytest
from conftest import PROXY_TOKEN as TOKEN
from test_browser_comfyui import ARTIFACTS, CHROMIUM_ARGS, _chromium

from fluxkit_catalog import model_files
from fluxkit_workflows.graph import Graph
from fluxkit_workflows.schemas import load_schemas

pytestmark = pytest.mark.comfyui
SAVED_AS = "fluxkit proxy check"
SAVED_PATH = "/api/userdata/workflows%2F" + quote(SAVED_AS) + ".json"  # as the frontend sends it
SIZE = 64  # pixels: a 2-step run on the thin set takes seconds on a CPU


def thin_workflow() -> dict:
    """A FluxKit text-to-image graph the thin set runs in seconds (saved conditioning instead of T5/CLIP)."""
    g = Graph(load_schemas())
    unet = g.node("UNETLoader", 0, unet_name=model_files.FLUX_DEV, weight_dtype="default")
    cond = g.node("FluxKitLoadConditioning", 0, conditioning_name="fluxkit-thin-prompt.safetensors")
    vae = g.node("VAELoader", 0, vae_name=model_files.FLUX_VAE)
    sigmas = g.node("FluxKitTurboScheduler", 1, model=unet[0], steps=2, width=SIZE, height=SIZE)
    guider = g.node("BasicGuider", 1, model=unet[0], conditioning=cond[0])
    noise = g.node("RandomNoise", 1, noise_seed=7)
    sampler = g.node("KSamplerSelect", 1, sampler_name="euler")
    latent = g.node("EmptySD3LatentImage", 1, width=SIZE, height=SIZE)
    out = g.node("SamplerCustomAdvanced", 2, noise=noise[0], guider=guider[0], sampler=sampler[0],
                 sigmas=sigmas[0], latent_image=latent[0])  # fmt: skip
    image = g.node("VAEDecode", 2, samples=out[0], vae=vae[0])
    g.node("SaveImage", 2, images=image[0], filename_prefix="fluxkit_proxy")
    return g.to_ui("fluxkit_proxy_check")


def test_without_token_everything_is_401(proxy_url):
    for path in ("/", "/system_stats", "/api/userdata?dir=workflows", "/view?filename=x.png", "/object_info"):
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(proxy_url + path, timeout=30)
        assert refused.value.code == 401, path


def test_frontend_saves_reopens_and_runs_a_workflow_through_the_proxy(proxy_url):
    playwright_api = pytest.importorskip(
        "playwright.sync_api", reason="pip install playwright (no browser download)"
    )
    exe = _chromium()
    if exe is None:
        pytest.skip("no Chromium: apt-get install chromium, or set CHROMIUM to its path")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    ui = thin_workflow()
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        page.set_default_timeout(60_000)  # every wait is bounded (evaluate included)
        failed = []
        page.on(
            "response",
            lambda r: r.status >= 400 and SAVED_PATH in r.url and failed.append(f"{r.status} {r.url}"),
        )
        page.goto(
            f"{proxy_url}/?token={TOKEN}"
        )  # token → cookie → the frontend, every request through the proxy
        page.wait_for_function("window.app && window.app.graph && window.LiteGraph", timeout=90_000)
        page.wait_for_timeout(1500)
        page.keyboard.press("Escape")  # the first-start template dialog
        page.evaluate("async (wf) => { await window.app.loadGraphData(wf); }", ui)

        # Save as a new name: the frontend's own command and its name prompt
        with page.expect_response(lambda r: SAVED_PATH in r.url and r.request.method == "POST") as saved:
            # not awaited: the command's promise waits for the name prompt answered below
            page.evaluate("() => { window.app.extensionManager.command.execute('Comfy.SaveWorkflowAs'); }")
            prompt = page.locator(
                "[role=dialog] input[type=text]"
            ).last  # PrimeVue (older) or reka (newer) dialog
            prompt.wait_for(timeout=15_000)
            prompt.fill(SAVED_AS)
            prompt.press("Enter")
        assert saved.value.status == 200, saved.value.url
        listing = page.evaluate(
            "async () => (await window.app.api.fetchApi('/userdata?dir=workflows')).json()"
        )
        assert f"{SAVED_AS}.json" in listing

        # Reload (without the tabs the frontend restores from browser storage), reopen it from the workflow browser
        page.evaluate("() => { localStorage.clear(); sessionStorage.clear(); }")
        page.reload()
        page.wait_for_function("window.app && window.app.graph && window.LiteGraph", timeout=90_000)
        page.wait_for_timeout(1500)
        page.keyboard.press("Escape")
        page.screenshot(path=str(ARTIFACTS / "through_proxy_reloaded.png"))
        assert page.evaluate("() => (window.app.graph._nodes ?? window.app.graph.nodes).length") != len(
            ui["nodes"]
        )
        page.evaluate(
            "() => { window.app.extensionManager.command.execute('Workspace.ToggleSidebarTab.workflows'); }"
        )
        page.wait_for_timeout(1500)
        with page.expect_response(lambda r: SAVED_PATH in r.url and r.request.method == "GET") as opened:
            # the workflow browser lists "name" (newer frontends) or "name.json" (0.3.64's)
            page.get_by_text(re.compile(rf"^{re.escape(SAVED_AS)}(\.json)?$")).first.click()
        assert opened.value.status == 200
        page.wait_for_function(
            f"(window.app.graph._nodes ?? window.app.graph.nodes).length === {len(ui['nodes'])}"
        )
        types = page.evaluate(
            "() => (window.app.graph._nodes ?? window.app.graph.nodes).map((n) => n.type).sort()"
        )
        assert types == sorted(n["type"] for n in ui["nodes"])

        # Queue it; the output image comes back through /view
        with page.expect_response(
            lambda r: "/view?" in r.url and "fluxkit_proxy" in r.url, timeout=240_000
        ) as shown:
            page.evaluate("async () => { await window.app.queuePrompt(0, 1); }")
        assert shown.value.status == 200 and shown.value.headers["content-type"] == "image/png"
        assert shown.value.body()[:8] == b"\x89PNG\r\n\x1a\n"
        page.wait_for_timeout(1000)
        page.screenshot(path=str(ARTIFACTS / "through_proxy.png"))
        assert failed == []
        browser.close()
