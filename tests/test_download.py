"""The model downloader against a fake hub on 127.0.0.1 (HF-style resolve URLs, Range requests, a connection that
is cut mid-file, bearer tokens), never the internet; and the manifest against the workflows."""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import threading

import pytest

from fluxkit_tools import download as dl
from fluxkit_workflows import model_files
from fluxkit_workflows.definitions import WORKFLOWS

PAYLOAD = os.urandom(3 * (1 << 20) + 12345)  # > 3 chunks


class FakeHub(http.server.ThreadingHTTPServer):
    def __init__(self):
        super().__init__(("127.0.0.1", 0), HubHandler)
        self.files = {"/org/repo/resolve/main/weights.safetensors": PAYLOAD}
        self.cut_after: int | None = None  # bytes to send on the next request before dropping the connection
        self.requests: list[dict] = []
        self.token: str | None = None


class HubHandler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        hub: FakeHub = self.server
        hub.requests.append(
            {"path": self.path, "range": self.headers.get("Range"), "auth": self.headers.get("Authorization")}
        )
        if hub.token and self.headers.get("Authorization") != f"Bearer {hub.token}":
            self.send_error(401)
            return
        data = hub.files.get(self.path)
        if data is None:
            self.send_error(404)
            return
        start = int(self.headers["Range"].split("=")[1].split("-")[0]) if self.headers.get("Range") else 0
        if start >= len(data):
            self.send_error(416)
            return
        body = data[start:]
        self.send_response(206 if start else 200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if hub.cut_after is not None:
            self.wfile.write(body[: hub.cut_after])
            hub.cut_after = None
            self.wfile.flush()
            self.connection.shutdown(2)  # drop it mid-body
            return
        self.wfile.write(body)


@pytest.fixture()
def hub(monkeypatch):
    server = FakeHub()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.server_address[1]}")
    yield server
    server.shutdown()


def model(sha256: str | None = None, size: int | None = None) -> dl.ModelFile:
    return dl.ModelFile(
        "Weights.safetensors", "loras", ("org/repo", "weights.safetensors"), None, size, sha256, 3, False
    )


def test_fresh_download_verified(hub, tmp_path):
    good = hashlib.sha256(PAYLOAD).hexdigest()
    path = dl.download(model(good, len(PAYLOAD)), tmp_path)
    assert path == tmp_path / "loras" / "Weights.safetensors"
    assert path.read_bytes() == PAYLOAD
    assert not list(tmp_path.rglob("*.partial"))


def test_resume_after_cut_connection(hub, tmp_path):
    hub.cut_after = 1_500_000
    path = dl.download(model(hashlib.sha256(PAYLOAD).hexdigest()), tmp_path)
    assert path.read_bytes() == PAYLOAD
    assert [r["range"] for r in hub.requests] == [None, "bytes=1500000-"]


def test_checksum_mismatch_refused(hub, tmp_path):
    with pytest.raises(dl.DownloadError, match="sha256 differs"):
        dl.download(model("0" * 64), tmp_path)
    assert not (tmp_path / "loras" / "Weights.safetensors").exists()
    assert (tmp_path / "loras" / "Weights.safetensors.partial.bad").read_bytes() == PAYLOAD


def test_existing_different_file_is_not_overwritten(hub, tmp_path):
    target = tmp_path / "loras" / "Weights.safetensors"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"someone else's file")
    with pytest.raises(dl.DownloadError, match="exists and differs"):
        dl.download(model(size=len(PAYLOAD)), tmp_path)
    assert target.read_bytes() == b"someone else's file" and hub.requests == []
    dl.download(model(size=len(PAYLOAD)), tmp_path, force=True)
    assert target.read_bytes() == PAYLOAD


def test_existing_matching_file_is_kept_without_a_request(hub, tmp_path):
    target = tmp_path / "loras" / "Weights.safetensors"
    target.parent.mkdir(parents=True)
    target.write_bytes(PAYLOAD)
    dl.download(model(hashlib.sha256(PAYLOAD).hexdigest(), len(PAYLOAD)), tmp_path)
    assert hub.requests == []


def test_gated_repo_token(hub, tmp_path, monkeypatch):
    hub.token = "secret"
    with pytest.raises(dl.DownloadError, match="HTTP 401; gated"):
        dl.download(model(), tmp_path / "a")
    monkeypatch.setenv("HF_TOKEN", "secret")
    assert dl.download(model(), tmp_path / "b").read_bytes() == PAYLOAD
    assert hub.requests[-1]["auth"] == "Bearer secret"


def test_missing_file_is_a_clear_error(hub, tmp_path):
    broken = dl.ModelFile(
        "x.safetensors", "vae", ("org/repo", "nope.safetensors"), None, None, None, 1, False
    )
    with pytest.raises(dl.DownloadError, match="HTTP 404"):
        dl.download(broken, tmp_path)


def test_cli_preset_downloads_every_file(hub, tmp_path, monkeypatch):
    manifest = tmp_path / "models.json"
    entry = {"folder": "loras", "hf": ["org/repo", "weights.safetensors"], "ms": None, "size_mb": 3}
    manifest.write_text(
        json.dumps(
            {
                "files": {"A.safetensors": entry, "B.safetensors": entry},
                "presets": {"p": ["A.safetensors", "B.safetensors"]},
            }
        )
    )
    assert dl.main(["p", "--models", str(tmp_path / "m"), "--manifest", str(manifest)]) == 0
    assert (tmp_path / "m" / "loras" / "A.safetensors").read_bytes() == PAYLOAD
    assert (tmp_path / "m" / "loras" / "B.safetensors").read_bytes() == PAYLOAD


def test_manifest_covers_every_workflow_file():
    files, presets = dl.load_manifest()
    for name, folder in model_files.FOLDERS.items():
        assert files[name].folder == folder, name
    assert set(presets["inpainting-turbo"]) >= {
        model_files.FLUX_DEV, model_files.FLUX_VAE, model_files.T5XXL, model_files.CLIP_L,
        model_files.INPAINT_CN_BETA, model_files.TURBO_LORA,
    }  # fmt: skip
    assert "inpainting_turbo_8step" in WORKFLOWS
