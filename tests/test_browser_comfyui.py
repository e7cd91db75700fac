"""Drag-and-drop in a real browser: ComfyUI's own frontend (the comfyui-frontend-package it pins) served by a real
ComfyUI with FluxKit, driven by headless Chromium through Playwright. Each UI workflow is loaded as a drop would load
it (`app.loadGraphData`); no node may be missing and the node count must match. The template browser must list
FluxKit's workflows. Screenshots go to `test-artifacts/browser/` (CI artifacts, not committed).

Skipped, with the reason, without ComfyUI, without Chromium (Debian package `chromium`, or $CHROMIUM) or without the
`playwright` Python package (`pip install playwright`; its own browser download is not needed)."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from fluxkit_workflows import paths
from fluxkit_workflows.definitions import WORKFLOWS

pytestmark = pytest.mark.comfyui
ARTIFACTS = paths.REPO / "test-artifacts" / "browser"
# Flags for a closed network, as root, no GPU (without the networking ones Chromium keeps trying Google's hosts).
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
GRAPH_STATE = """() => {
  const nodes = window.app.graph._nodes ?? window.app.graph.nodes;
  const known = window.LiteGraph.registered_node_types;
  return {
    count: nodes.length,
    missing: nodes.filter((n) => !known[n.type]).map((n) => n.type),
    dialogs: Array.from(document.querySelectorAll('[role=dialog]')).map((d) => d.innerText),
  };
}"""


def _chromium() -> str | None:
    return os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def page(comfy_server):
    playwright_api = pytest.importorskip(
        "playwright.sync_api", reason="pip install playwright (no browser download)"
    )
    exe = _chromium()
    if exe is None:
        pytest.skip("no Chromium: apt-get install chromium, or set CHROMIUM to its path")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        page.console_errors = []
        page.on("console", lambda m: m.type == "error" and page.console_errors.append(m.text))
        page.failed_urls = []
        page.on("response", lambda r: r.status >= 400 and page.failed_urls.append(f"{r.status} {r.url}"))
        page.goto(comfy_server.url)
        page.wait_for_function("window.app && window.app.graph && window.LiteGraph", timeout=90_000)
        page.wait_for_timeout(1500)
        yield page
        browser.close()


def test_template_browser_lists_fluxkit_workflows(page):
    # A new user gets the template dialog on first start; open it explicitly otherwise.
    if not page.get_by_text("Get Started with a Template").is_visible():
        page.keyboard.press("Escape")
        page.get_by_text("Templates").first.click()
    page.get_by_text("ComfyUI-FluxKit").first.click()
    page.wait_for_timeout(1500)
    page.screenshot(path=str(ARTIFACTS / "template_browser.png"))
    # The grid renders only the cards in view (15 workflows do not fit), so look each one up as a user would:
    # through the dialog's search box.
    search = page.locator("[role=dialog]").get_by_placeholder("Search", exact=False).first
    shown = []
    for name in sorted(WORKFLOWS):
        search.fill(name)
        page.wait_for_timeout(600)
        if name in page.inner_text("[role=dialog]"):
            shown.append(name)
    assert shown == sorted(WORKFLOWS)
    page.keyboard.press("Escape")
    page.wait_for_timeout(500)


# Core nodes only ComfyUI 0.28+ has, which the FLUX.2 [klein] workflows use (their notes say they need 0.28+).
FLUX2_CORE_NODES = {"Flux2Scheduler", "EmptyFlux2LatentImage"}


@pytest.mark.parametrize("name", sorted(WORKFLOWS))
def test_drop_workflow_loads_with_no_missing_node(page, name):
    ui = json.loads((paths.UI_DIR / f"{name}.json").read_text())
    has_flux2 = page.evaluate("() => Boolean(window.LiteGraph.registered_node_types['Flux2Scheduler'])")
    page.evaluate("async (wf) => { await window.app.loadGraphData(wf); }", ui)
    page.wait_for_timeout(1000)
    state = page.evaluate(GRAPH_STATE)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))
    needs_flux2 = {n["type"] for n in ui["nodes"]} & FLUX2_CORE_NODES
    if needs_flux2 and not has_flux2:
        # an older ComfyUI: exactly the FLUX.2 core nodes are missing, and the frontend says so
        assert set(state["missing"]) == needs_flux2, state["missing"]
        assert [d for d in state["dialogs"] if "missing" in d.lower()], state["dialogs"]
        page.keyboard.press("Escape")  # close the dialog before the next workflow
        page.wait_for_timeout(500)
        assert not [d for d in page.evaluate(GRAPH_STATE)["dialogs"] if "missing" in d.lower()]
        return
    assert state["missing"] == []
    assert not [d for d in state["dialogs"] if "missing" in d.lower()], state["dialogs"]
    assert state["count"] == len(ui["nodes"])


def test_no_fluxkit_request_failed(page):
    # Core frontend requests for absent user settings 404 on a fresh server; none of FluxKit's own may.
    assert [u for u in page.failed_urls if "fluxkit" in u.lower()] == []


def test_extension_loads_and_plots_sigmas(page, comfy_server):
    from fluxkit_catalog import model_files
    from fluxkit_workflows.graph import Graph
    from fluxkit_workflows.schemas import load_schemas

    assert page.evaluate("() => window.app.extensions.some((e) => e.name === 'FluxKit.SigmaPlot')")
    g = Graph(load_schemas())
    unet = g.node("UNETLoader", 0, unet_name=model_files.FLUX_DEV, weight_dtype="default")
    g.node("FluxKitTurboScheduler", 1, model=unet[0])  # 8 steps at 1024², the defaults
    page.evaluate("async (wf) => { await window.app.loadGraphData(wf); }", g.to_ui("sigma_preview"))
    page.evaluate("async () => { await window.app.queuePrompt(0, 1); }")
    page.wait_for_selector("canvas.fluxkit-sigma-plot", timeout=120_000)
    sigmas = json.loads(page.get_attribute("canvas.fluxkit-sigma-plot", "data-sigmas"))
    page.screenshot(path=str(ARTIFACTS / "sigma_plot.png"))
    assert len(sigmas) == 9 and sigmas[0] == 1.0 and sigmas[-1] == 0.0
    assert all(a > b for a, b in zip(sigmas, sigmas[1:]))
    assert [e for e in page.console_errors if "fluxkit" in e.lower()] == []


def test_node_help_pages_are_served(comfy_server):
    import urllib.request

    schemas = json.loads((paths.REPO / "fluxkit_workflows" / "fluxkit_object_info.json").read_text())
    for node_id in schemas:
        url = f"{comfy_server.url}/extensions/ComfyUI-FluxKit/docs/{node_id}.md"
        with urllib.request.urlopen(url) as r:
            assert r.status == 200 and r.read().decode().startswith("# ")
