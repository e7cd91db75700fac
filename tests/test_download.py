"""The model downloader against a stand-in Hugging Face hub on 127.0.0.1 that speaks the resolve protocol
`huggingface_hub` uses (HEAD with X-Repo-Commit / X-Linked-Etag / X-Linked-Size, redirects to a CDN host, Range
requests), reached through HF_ENDPOINT, never the internet; each defect of the old urllib downloader is a case
here. And the manifest against the workflows."""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import sys
import threading

import pytest

from fluxkit_catalog import model_files
from fluxkit_tools import download as dl
from fluxkit_workflows.definitions import WORKFLOWS

# huggingface_hub's line goes with transformers' (0.x beside 4.x, 1.x/2.x beside 5.x): run in every version's venv
pytestmark = pytest.mark.transformers

PAYLOAD = os.urandom(3 * (1 << 20) + 12345)
SHA = hashlib.sha256(PAYLOAD).hexdigest()
COMMIT = "0123456789abcdef0123456789abcdef01234567"
FILE = "/org/repo/resolve/main/weights.safetensors"


class Hub(http.server.ThreadingHTTPServer):
    """A stand-in hub. `cdn`: another Hub (another origin) to redirect downloads to, as huggingface.co does for LFS
    files. Knobs for the failure cases: `fail_first` statuses to answer before working, `cut_after` bytes to send
    on the next GET before dropping it, `wrong_offset` to answer a Range request from offset 0,
    `no_length` to send half a body without Content-Length, `bad_length` for `Content-Length: abc`."""

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server_address[1]}"
        self.files = {FILE: PAYLOAD}
        self.sha = {FILE: SHA}
        self.requests: list[dict] = []
        self.token: str | None = None
        self.cdn: Hub | None = None
        self.redirect_to: str | None = None
        self.fail_first: list[int] = []
        self.cut_after: int | None = None
        self.wrong_offset = self.no_length = self.bad_length = False
        self.dropped_by_client = 0

    def handle_error(self, request, client_address):
        """A client that stops reading (the downloader refusing a pin mismatch, say) is counted, not printed."""
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            self.dropped_by_client += 1
            return
        super().handle_error(request, client_address)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _head_fields(self, hub: Hub, data: bytes) -> None:
        self.send_header("X-Repo-Commit", COMMIT)
        self.send_header("X-Linked-Etag", f'"{hub.sha[self.path.split("?")[0]]}"')
        self.send_header("X-Linked-Size", str(len(data)))
        self.send_header("ETag", f'"{hub.sha[self.path.split("?")[0]]}"')

    def _answer(self, head: bool):
        hub: Hub = self.server
        path = self.path.split("?")[0]
        hub.requests.append({"method": self.command, "path": path, "range": self.headers.get("Range"),
                             "auth": self.headers.get("Authorization")})  # fmt: skip
        if hub.fail_first:
            self.send_error(hub.fail_first.pop(0))
            return
        if hub.token and self.headers.get("Authorization") != f"Bearer {hub.token}":
            self.send_error(401)
            return
        data = hub.files.get(path)
        if data is None:
            self.send_error(404)
            return
        if hub.cdn is not None or hub.redirect_to:
            self.send_response(302)
            self._head_fields(hub, data)
            self.send_header("Location", hub.redirect_to or f"{hub.cdn.url}{path}?signed=1")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        start = int(self.headers["Range"].split("=")[1].split("-")[0]) if self.headers.get("Range") else 0
        if head:
            self.send_response(200)
            self._head_fields(hub, data)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            return
        if hub.wrong_offset and start:
            start, hub.wrong_offset = 0, False  # a 206 whose bytes start elsewhere than asked
        body = data[start:]
        self.send_response(206 if start or self.headers.get("Range") else 200)
        if hub.no_length:
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.close_connection = True
            return
        self.send_header("Content-Length", "abc" if hub.bad_length else str(len(body)))
        self.end_headers()
        if hub.cut_after is not None:
            self.wfile.write(body[: hub.cut_after])
            hub.cut_after = None
            self.wfile.flush()
            self.connection.shutdown(2)
            self.close_connection = True
            return
        self.wfile.write(body)

    def do_HEAD(self):
        self._answer(head=True)

    def do_GET(self):
        self._answer(head=False)


def serve(hub: Hub) -> Hub:
    threading.Thread(target=hub.serve_forever, daemon=True).start()
    return hub


@pytest.fixture()
def hub(monkeypatch):
    server = serve(Hub())
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    yield server
    server.shutdown()
    if server.cdn is not None:
        server.cdn.shutdown()


def model(sha256=None, size=None, name="Weights.safetensors", folder="loras", size_mb=3) -> dl.ModelFile:
    return dl.ModelFile(name, folder, ("org/repo", "weights.safetensors"), None, size, sha256, size_mb, False)


def fetch(tmp_path, m=None, **kw):
    return dl.download(m or model(), tmp_path, backoff_s=0.01, **kw)


def target(tmp_path):
    return tmp_path / "loras" / "Weights.safetensors"


def test_fresh_download_verified_and_logged(hub, tmp_path):
    path = fetch(tmp_path)
    assert path == target(tmp_path) and path.read_bytes() == PAYLOAD
    assert not (tmp_path / "loras" / dl.STAGING).exists()
    (entry,) = [json.loads(line) for line in (tmp_path / dl.LOG_NAME).read_text().splitlines()]
    assert entry["result"] == "verified" and entry["sha256"] == SHA and entry["size"] == len(PAYLOAD)
    assert entry["revision"] == COMMIT and entry["repo"] == "org/repo"


def test_token_stays_on_the_hub_when_it_redirects_to_a_cdn(hub, tmp_path, monkeypatch):
    hub.cdn = serve(Hub())
    hub.token = "secret"
    monkeypatch.setenv("HF_TOKEN", "secret")
    assert fetch(tmp_path).read_bytes() == PAYLOAD
    assert hub.requests and all(r["auth"] == "Bearer secret" for r in hub.requests)
    assert hub.cdn.requests and all(r["auth"] is None for r in hub.cdn.requests)  # the old one sent it along


def test_redirect_to_another_scheme_is_refused(hub, tmp_path):
    hub.redirect_to = "ftp://127.0.0.1:1/weights.safetensors"
    with pytest.raises(dl.DownloadError, match="refusing a non-HTTP"):
        fetch(tmp_path)
    assert not target(tmp_path).exists()


@pytest.mark.parametrize("leftover", [b"someone else's bytes", PAYLOAD + b"x" * 100])
def test_a_leftover_partial_file_is_never_resumed(hub, tmp_path, leftover):
    # the old downloader appended to any <name>.partial (a foreign one → corrupt file; an over-long one → 416 → "ok")
    partial = target(tmp_path).with_name("Weights.safetensors.partial")
    partial.parent.mkdir(parents=True)
    partial.write_bytes(leftover)
    assert fetch(tmp_path).read_bytes() == PAYLOAD


def test_cut_connection_never_leaves_a_corrupt_file(hub, tmp_path):
    # cut mid-body, then a 206 whose bytes start at 0 instead of the offset asked for (if the library resumes with
    # a Range request; huggingface_hub 1.x/2.x starts over): the old downloader appended them and said "ok"
    hub.cut_after, hub.wrong_offset = 1_500_000, True
    try:
        path = fetch(tmp_path)
    except dl.DownloadError as e:
        assert "rejected" in str(e) and not target(tmp_path).exists()
    else:
        assert path.read_bytes() == PAYLOAD
    assert [r["method"] for r in hub.requests].count("GET") == 2


def test_body_without_length_that_ends_early_is_not_ok(hub, tmp_path):
    hub.no_length = True
    with pytest.raises(dl.DownloadError):
        fetch(tmp_path, retries=1)
    assert not target(tmp_path).exists()


def test_bad_content_length_is_a_failure_not_a_crash(hub, tmp_path, capsys):
    hub.bad_length = True
    manifest = tmp_path / "models.json"
    entry = {"folder": "loras", "hf": ["org/repo", "weights.safetensors"], "ms": None, "size_mb": 3}
    manifest.write_text(json.dumps({"files": {"A.safetensors": entry}, "presets": {"p": ["A.safetensors"]}}))
    assert dl.main(["p", "--models", str(tmp_path / "m"), "--manifest", str(manifest), "--retries", "1"]) == 1
    assert "FAILED   A.safetensors" in capsys.readouterr().err
    assert not (tmp_path / "m" / "loras" / "A.safetensors").exists()


def test_transient_503_is_retried(hub, tmp_path):
    hub.fail_first = [503, 503]
    assert fetch(tmp_path).read_bytes() == PAYLOAD


def test_hash_differing_from_the_hubs_is_refused(hub, tmp_path):
    hub.sha[FILE] = "0" * 64  # the hub reports another file than the bytes that arrive
    with pytest.raises(dl.DownloadError, match="sha256 .* reported by the hub"):
        fetch(tmp_path)
    assert not target(tmp_path).exists()
    assert target(tmp_path).with_name("Weights.safetensors.bad").read_bytes() == PAYLOAD


def test_a_pin_the_hub_contradicts_is_refused_before_downloading(hub, tmp_path):
    """The hub reports the file's sha256 up front: a FluxKit pin that differs stops it before a byte is fetched."""
    with pytest.raises(dl.DownloadError, match="FluxKit's pin is f{64}.*before downloading"):
        fetch(tmp_path, model(sha256="f" * 64))
    assert not (tmp_path / "loras").exists() or not any((tmp_path / "loras").rglob("*"))


def test_the_downloader_names_the_files_without_a_pin(hub, tmp_path, capsys):
    manifest = tmp_path / "models.json"
    pinned = {
        "folder": "loras",
        "hf": ["org/repo", "weights.safetensors"],
        "ms": None,
        "size_mb": 3,
        "sha256": SHA,
    }
    loose = {**pinned, "sha256": None}
    manifest.write_text(json.dumps(
        {"files": {"A.safetensors": pinned, "B.safetensors": loose}, "presets": {"p": ["A.safetensors", "B.safetensors"]}}
    ))  # fmt: skip
    assert dl.main(["p", "--models", str(tmp_path / "m"), "--manifest", str(manifest)]) == 0
    (line,) = [x for x in capsys.readouterr().err.splitlines() if x.startswith("no FluxKit pin")]
    assert line == "no FluxKit pin (checked against the hub's own hash only): B.safetensors"


def test_existing_different_file_is_not_overwritten(hub, tmp_path):
    target(tmp_path).parent.mkdir(parents=True)
    target(tmp_path).write_bytes(b"someone else's file")
    with pytest.raises(dl.DownloadError, match="exists and differs"):
        fetch(tmp_path)
    assert target(tmp_path).read_bytes() == b"someone else's file"
    assert [r["method"] for r in hub.requests] == ["HEAD"]
    fetch(tmp_path, force=True)
    assert target(tmp_path).read_bytes() == PAYLOAD


def test_existing_matching_file_is_kept_and_not_rehashed_twice(hub, tmp_path, monkeypatch):
    target(tmp_path).parent.mkdir(parents=True)
    target(tmp_path).write_bytes(PAYLOAD)
    fetch(tmp_path)
    assert [r["method"] for r in hub.requests] == ["HEAD"]  # no download
    monkeypatch.setattr(dl, "hashes", lambda *a: pytest.fail("re-hashed a file the log verified"))
    fetch(tmp_path)
    kinds = [json.loads(line)["result"] for line in (tmp_path / dl.LOG_NAME).read_text().splitlines()]
    assert kinds == ["kept", "kept"]


def test_gated_repo_needs_the_token(hub, tmp_path, monkeypatch):
    hub.token = "secret"
    with pytest.raises(dl.DownloadError, match="HTTP 401; gated"):
        fetch(tmp_path / "a")
    monkeypatch.setenv("HF_TOKEN", "secret")
    assert fetch(tmp_path / "b").read_bytes() == PAYLOAD


def test_missing_file_is_a_clear_error(hub, tmp_path):
    broken = dl.ModelFile(
        "x.safetensors", "vae", ("org/repo", "nope.safetensors"), None, None, None, 1, False
    )
    with pytest.raises(dl.DownloadError, match="HTTP 404"):
        fetch(tmp_path, broken)


@pytest.mark.parametrize(
    ("name", "folder"),
    [("../../x.safetensors", "loras"), ("x.safetensors", "../.."), ("x.safetensors", "/tmp")],
)
def test_manifest_names_that_leave_the_models_folder_are_an_error(tmp_path, name, folder):
    manifest = tmp_path / "models.json"
    entry = {"folder": folder, "hf": ["org/repo", "weights.safetensors"], "ms": None, "size_mb": 3}
    manifest.write_text(json.dumps({"files": {name: entry}, "presets": {"p": [name]}}))
    with pytest.raises(dl.DownloadError, match="leaves the models folder"):
        dl.load_manifest(manifest)
    assert dl.main(["p", "--models", str(tmp_path / "m"), "--manifest", str(manifest)]) == 2
    with pytest.raises(dl.DownloadError, match="outside the models folder"):
        dl.target_path(tmp_path / "m", model(name=name, folder=folder))


def test_cli_preset_downloads_every_file(hub, tmp_path):
    manifest = tmp_path / "models.json"
    entry = {"folder": "loras", "hf": ["org/repo", "weights.safetensors"], "ms": None, "size_mb": 3}
    manifest.write_text(json.dumps(
        {"files": {"A.safetensors": entry, "B.safetensors": entry}, "presets": {"p": ["A.safetensors", "B.safetensors"]}}
    ))  # fmt: skip
    assert dl.main(["p", "--models", str(tmp_path / "m"), "--manifest", str(manifest)]) == 0
    assert (tmp_path / "m" / "loras" / "A.safetensors").read_bytes() == PAYLOAD
    assert (tmp_path / "m" / "loras" / "B.safetensors").read_bytes() == PAYLOAD


def test_a_model_folder_preset_lands_in_its_folder(hub, tmp_path):
    manifest = tmp_path / "models.json"
    entry = {
        "folder": "depth_anything",
        "hf": ["org/repo", "weights.safetensors"],
        "ms": None,
        "size_mb": None,
    }
    names = ["Depth-X/config.json", "Depth-X/model.safetensors"]
    manifest.write_text(json.dumps({"files": dict.fromkeys(names, entry), "presets": {"p": names}}))
    assert dl.main(["p", "--models", str(tmp_path / "m"), "--manifest", str(manifest)]) == 0
    folder = tmp_path / "m" / "depth_anything" / "Depth-X"
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors"]  # no staging left
    assert (folder / "config.json").read_bytes() == PAYLOAD
    manifest.write_text(json.dumps({"files": {"a/b/c.json": entry}, "presets": {"p": ["a/b/c.json"]}}))
    with pytest.raises(dl.DownloadError, match="more than a model folder"):
        dl.load_manifest(manifest)


def test_manifest_covers_every_workflow_file():
    files, presets = dl.load_manifest()
    for name, folder in model_files.FOLDERS.items():
        assert files[name].folder == folder, name
    assert all((f.size_mb is None or f.size_mb > 0) and f.hf is not None for f in files.values())
    assert [n for n, f in files.items() if f.size_mb is None] == [
        "Qwen2vl-Flux-ControlNet.safetensors", "Depth-Anything-V2-Large-hf/config.json",
        "Depth-Anything-V2-Large-hf/preprocessor_config.json", "flux-2-klein-9b.safetensors", "qwen_3_8b_fp8mixed.safetensors", "flux-2-klein-4B-outpaint-lora.safetensors",
    ]  # fmt: skip  # no published size
    assert {
        model_files.KLEIN_4B,
        model_files.QWEN3_4B,
        model_files.FLUX2_VAE,
        model_files.KLEIN_OUTPAINT_LORA,
    } == set(presets["klein"])
    assert set(presets["inpainting-turbo"]) >= {
        model_files.FLUX_DEV, model_files.FLUX_VAE, model_files.T5XXL, model_files.CLIP_L,
        model_files.INPAINT_CN_BETA, model_files.TURBO_LORA,
    }  # fmt: skip
    assert "inpainting_turbo_8step" in WORKFLOWS
    pinned = {n for n, f in files.items() if f.sha256}
    assert pinned >= {model_files.FLUX_DEV, model_files.FLUX_VAE, model_files.T5XXL, model_files.CLIP_L,
                      model_files.INPAINT_CN_BETA, model_files.TURBO_LORA, model_files.FLUX_FILL, model_files.FLUX_KONTEXT}  # fmt: skip
    raw = json.loads(dl.MANIFEST.read_text())["files"]
    assert all(
        len(raw[n]["sha256"]) == 64 and raw[n].get("pin_source") for n in pinned
    )  # every pin says its source
