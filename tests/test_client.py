"""The headless client: overrides, mask polarity, batch inputs and manifest (offline); the HTTP/websocket protocol
against the stand-in server (rejections, progress, hostile output names). Failures: test_batch_failures.py."""

from __future__ import annotations

import asyncio
import base64
import json

import numpy as np
import pytest
from comfy_standin import StandIn
from PIL import Image

from fluxkit_batch.items import BatchInputError, item_key
from fluxkit_batch.jobs import mask_as_alpha_png
from fluxkit_batch.manifest import ManifestError
from fluxkit_comfy.client import PromptRejected, fetch_outputs, run_prompt, safe_file_name
from fluxkit_tools import client


@pytest.fixture()
def api() -> dict:
    return client.load_workflow("inpainting_turbo_8step")


def test_overrides_by_short_name_title_and_id(api):
    assert client.apply_override(api, "prompt", "a cat") == ["6.text"]
    assert api["6"]["inputs"]["text"] == "a cat"
    assert client.apply_override(api, "seed", 7) == ["14.noise_seed"]
    assert client.apply_override(api, "steps", 4) == ["16.steps"]
    assert client.apply_override(api, "fluxguidance.guidance", 2.5) == ["7.guidance"]  # by title
    assert client.apply_override(api, "FluxKitInpaintCrop.feather_px", 4) == ["10.feather_px"]  # by type
    assert client.apply_override(api, "10.resolution", 768) == ["10.resolution"]  # by id
    assert api["7"]["inputs"]["guidance"] == 2.5 and api["10"]["inputs"]["resolution"] == 768


@pytest.mark.parametrize(
    "name, message",
    [
        ("nosuch", "matches no node input"),
        ("10.nosuch", "has no input 'nosuch'"),
        ("VAEDecode.vae", "is a link"),
    ],
)
def test_bad_overrides_are_clear_errors(api, name, message):
    with pytest.raises(client.OverrideError, match=message):
        client.apply_override(api, name, 1)


def test_unknown_workflow_lists_the_known_ones():
    with pytest.raises(client.OverrideError, match="inpainting_turbo_8step"):
        client.load_workflow("nope")


def test_mask_becomes_alpha_zero_where_white(tmp_path):
    grey = np.zeros((8, 10), np.uint8)
    grey[2:5, 3:7] = 255
    Image.fromarray(grey, "L").save(tmp_path / "m.png")
    import io

    rgba = np.asarray(Image.open(io.BytesIO(mask_as_alpha_png((tmp_path / "m.png").read_bytes()))))
    # ComfyUI's LoadImage makes MASK = 1 - alpha, so alpha 0 = repaint
    assert (rgba[..., 3] == 255 - grey).all()


def test_batch_items_from_folder_and_csv(tmp_path):
    (tmp_path / "masks").mkdir()
    for name in ("b.png", "a.png", "a.jpg", "a b.png", "notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "masks" / "a.png").write_bytes(b"x")
    items = client.batch_items(tmp_path)
    assert [i.key for i in items] == [f"a_b.png-{item_key('a b.png')[-8:]}", "a.jpg", "a.png", "b.png"]
    assert items[2].values == {"image": str(tmp_path / "a.png"), "mask": str(tmp_path / "masks" / "a.png")}
    assert items[1].values == {"image": str(tmp_path / "a.jpg")}  # masks/a.png is a.png's, not a.jpg's
    (tmp_path / "jobs.csv").write_text("image,prompt,seed\na.png,a cat,3\nb.png,,4\n")
    rows = client.batch_items(tmp_path / "jobs.csv")
    assert [(i.key, i.values) for i in rows] == [
        ("row00001", {"image": str(tmp_path / "a.png"), "prompt": "a cat", "seed": 3}),
        ("row00002", {"image": str(tmp_path / "b.png"), "seed": 4}),
    ]
    assert rows[0].digest != rows[1].digest and items[0].digest is None


def test_clashing_keys_are_an_error(tmp_path):
    for name in ("A.png", "a.png"):
        (tmp_path / name).write_bytes(b"x")
    with pytest.raises(BatchInputError, match="would share the output folder"):
        client.batch_items(tmp_path)


def test_manifest_needs_the_files_too(tmp_path):
    m = client.Manifest(tmp_path / "manifest.json")
    (tmp_path / "k").mkdir()
    (tmp_path / "k" / "o.png").write_bytes(b"png")
    m.record("k", [tmp_path / "k" / "o.png"])
    m.record("empty", [])
    again = client.Manifest(tmp_path / "manifest.json")
    assert again.finished("k") and not again.finished("other")
    assert not again.finished("empty")  # no output file: never done
    (tmp_path / "k" / "o.png").unlink()
    assert not again.finished("k")  # an output lost since: run it again


def test_a_manifest_from_before_file_name_keys_is_adopted(tmp_path):
    (tmp_path / "in").mkdir()
    for name in ("a.png", "b.png", "b.jpg"):
        (tmp_path / "in" / name).write_bytes(b"x")
    (tmp_path / "out" / "a").mkdir(parents=True)
    (tmp_path / "out" / "a" / "o.png").write_bytes(b"png")
    (tmp_path / "out" / "manifest.json").write_text(
        json.dumps({"a": {"files": ["a/o.png"]}, "b": {"files": []}})
    )
    m = client.Manifest(tmp_path / "out" / "manifest.json")
    assert m.adopt_legacy(client.batch_items(tmp_path / "in")) == 1  # "b" is ambiguous: b.png or b.jpg
    assert m.finished("a.png") and "b" in m.done and not m.finished("b.png")


def test_a_manifest_that_is_not_one_is_an_error(tmp_path):
    (tmp_path / "manifest.json").write_text("[1, 2]")
    with pytest.raises(ManifestError, match="not a FluxKit manifest"):
        client.Manifest(tmp_path / "manifest.json")


@pytest.mark.parametrize(
    "name, safe",
    [("../../etc/passwd", "passwd"), ("..\\..\\x.png", "x.png"), ("ok_00001_.png", "ok_00001_.png"), ("..", "output"),
     ("a b;c.png", "a_b_c.png"), (".hidden", "hidden")],
)  # fmt: skip
def test_safe_file_names(name, safe):
    assert safe_file_name(name) == safe


# --- protocol against a stand-in server --------------------------------------------------------------------


def test_protocol_progress_outputs_and_safe_names(tmp_path):
    images = [{"filename": "../../evil.png", "subfolder": "../../x"}]

    async def go():
        server = await StandIn(images=images).start()
        seen = []
        try:
            result = await run_prompt(
                server.url, {"1": {}}, on_progress=lambda n, v, m: seen.append((n, v, m))
            )
            files = await fetch_outputs(server.url, result, tmp_path / "out")
        finally:
            await server.stop()
        return result, files, seen

    result, files, seen = asyncio.run(go())
    assert seen == [("9", 1, 2), ("9", 2, 2)]
    assert files == [tmp_path / "out" / "x" / "evil.png"]
    assert files[0].read_bytes() == b"PNG:../../x/../../evil.png"  # asked for by the server's own names
    assert not (tmp_path / "evil.png").exists()
    assert list(result.node_seconds) == ["9"]


def test_rejected_prompt_exits_1_with_server_text(tmp_path, capsys):
    async def go():
        server = await StandIn("reject").start()
        try:
            with pytest.raises(PromptRejected) as info:
                await run_prompt(server.url, {"3": {}})
            return str(info.value)
        finally:
            await server.stop()

    text = asyncio.run(go())
    assert "node 3 (KSampler): Value 0 smaller than min of 1: steps" in text


def test_credentials_in_a_server_url_become_a_basic_header_and_leave_the_url(monkeypatch):
    from fluxkit_comfy.http import auth_headers, public_url

    monkeypatch.delenv("FLUXKIT_TOKEN", raising=False)
    monkeypatch.delenv("FLUXKIT_TOKEN_SERVER", raising=False)
    url = "https://fluxkit:t%40ken:x@abc.trycloudflare.com:8443/base"
    assert public_url(url) == "https://abc.trycloudflare.com:8443/base"
    header = auth_headers(url)["Authorization"]
    assert base64.b64decode(header.removeprefix("Basic ")).decode() == "fluxkit:t@ken:x"  # percent-decoded
    assert public_url("http://[::1]:8188") == "http://[::1]:8188" and auth_headers("http://[::1]:8188") == {}
    assert public_url("http://u:p@[::1]:8188") == "http://[::1]:8188"
    monkeypatch.setenv("FLUXKIT_TOKEN", "tok")
    assert auth_headers("http://127.0.0.1:8188") == {"Authorization": "Bearer tok"}
    assert auth_headers(url)["Authorization"] == header  # the URL's own credentials win
    assert (
        auth_headers("http://u:@127.0.0.1:8188")["Authorization"]
        == "Basic " + base64.b64encode(b"u:").decode()
    )


def test_the_env_token_goes_only_to_the_server_it_belongs_to(monkeypatch):
    """Unbound, only https and this machine get it (never plain http elsewhere); bound by FLUXKIT_TOKEN_SERVER, only
    that server; a user-only URL is explained without repeating it; several candidates are an error."""
    import argparse

    from fluxkit_comfy.http import CredentialError, auth_headers, with_credentials
    from fluxkit_tools.client import server_urls

    monkeypatch.setenv("FLUXKIT_TOKEN", "tok-123")
    monkeypatch.delenv("FLUXKIT_TOKEN_SERVER", raising=False)
    assert auth_headers("http://10.0.0.5:8188") == {} and auth_headers("http://gpu.example:8188") == {}
    assert (
        auth_headers("https://gpu.example")
        == auth_headers("http://localhost:8188")
        == {"Authorization": "Bearer tok-123"}
    )
    monkeypatch.setenv("FLUXKIT_TOKEN_SERVER", "https://abc.trycloudflare.com")
    assert auth_headers("https://abc.trycloudflare.com:443/x") == {"Authorization": "Bearer tok-123"}
    assert auth_headers("https://other.trycloudflare.com") == auth_headers("http://127.0.0.1:8188") == {}
    assert (
        with_credentials("https://abc.trycloudflare.com") == "https://fluxkit:tok-123@abc.trycloudflare.com"
    )
    assert with_credentials("https://other.trycloudflare.com") == "https://other.trycloudflare.com"
    with pytest.raises(CredentialError) as said:
        auth_headers("https://SECRET-TOKEN@abc.trycloudflare.com")
    assert "no password" in str(said.value) and "SECRET" not in str(said.value)
    monkeypatch.delenv("FLUXKIT_TOKEN_SERVER")
    args = argparse.Namespace(server=["https://a.example", "https://b.example"], server_file=None)
    with pytest.raises(CredentialError, match="2 servers could take it"):
        server_urls(args)


def test_server_file_keeps_credentials_off_the_command_line(tmp_path, monkeypatch, capsys):
    import argparse

    from fluxkit_tools.client import server_urls

    monkeypatch.delenv("FLUXKIT_TOKEN", raising=False)
    f = tmp_path / "servers.txt"
    f.write_text("# notebook\nhttps://fluxkit:s3cret@a.trycloudflare.com\n\nhttp://127.0.0.1:8188/\n")
    urls = server_urls(argparse.Namespace(server=None, server_file=f))
    assert urls == ["https://fluxkit:s3cret@a.trycloudflare.com", "http://127.0.0.1:8188"]
    assert capsys.readouterr().err == ""
    server_urls(argparse.Namespace(server=["https://u:pw@h.example"], server_file=None))
    assert "visible to every user" in capsys.readouterr().err
