"""The model hubs FluxKit downloads from, each through its own library: Hugging Face through `huggingface_hub`
(resolve protocol, `$HF_ENDPOINT`, `$HF_TOKEN` sent to the hub only, never to a CDN it redirects to; resume after
a cut connection and ETag checks as the library does them) and ModelScope through the `modelscope` SDK (imported
only when used). Each backend answers two questions: what the hub says a file is (`RemoteFile`: size and content
hash, which FluxKit then checks the downloaded bytes against) and where the library put the downloaded file.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

SHA256 = re.compile(r"^[0-9a-f]{64}$")
GIT_SHA1 = re.compile(r"^[0-9a-f]{40}$")


class HubError(RuntimeError):
    """A hub refused or failed a request; `transient` when trying again later may work (5xx, cut connection)."""

    def __init__(self, message: str, transient: bool = False):
        super().__init__(message)
        self.transient = transient


@dataclass(frozen=True)
class RemoteFile:
    """What the hub reports for one file: `size` in bytes and its content hash, `sha256` (LFS files: every model
    file) or `git_sha1` (the git blob id of a small file kept in git), and the commit it was resolved at."""

    size: int
    sha256: str | None
    git_sha1: str | None
    revision: str


class HuggingFace:
    name = "hf"
    default_revision = "main"

    def __init__(self):
        try:
            import huggingface_hub
        except ImportError as e:  # ComfyUI's transformers brings it; a bare Python may not have it
            raise HubError(
                "downloads from Hugging Face need huggingface_hub: pip install huggingface_hub"
            ) from e
        self.hf = huggingface_hub
        # read at call time (the library reads HF_ENDPOINT once, at its import)
        self.endpoint = os.environ.get("HF_ENDPOINT") or None
        self.token = os.environ.get("HF_TOKEN") or None

    def _errors(self, repo: str, file: str, error: Exception) -> HubError:
        response = getattr(error, "response", None)
        status = getattr(response, "status_code", None)
        where = f"{repo}/{file} on {self.endpoint or 'huggingface.co'}"
        if status in (401, 403):
            return HubError(
                f"{where}: HTTP {status}; gated repo? accept its licence on the model page and set HF_TOKEN"
            )
        if status == 404:
            return HubError(f"{where}: HTTP 404, no such repo or file")
        if status is not None:
            return HubError(f"{where}: HTTP {status}", transient=status >= 500 or status == 429)
        text = str(error).splitlines()[0] if str(error) else type(error).__name__
        return HubError(f"{where}: {text}", transient=True)

    def remote(self, repo: str, file: str, revision: str) -> RemoteFile:
        url = self.hf.hf_hub_url(repo, file, revision=revision, endpoint=self.endpoint)
        try:
            meta = self.hf.get_hf_file_metadata(url, token=self.token)
        except Exception as e:  # noqa: BLE001 - the library raises its own, httpx's or requests' errors
            raise self._errors(repo, file, e) from e
        scheme = urlparse(meta.location or url).scheme
        if scheme not in ("http", "https"):
            raise HubError(
                f"{repo}/{file}: the hub redirects to {meta.location!r}; refusing a non-HTTP(S) download"
            )
        etag = (meta.etag or "").strip('"').removeprefix("W/").strip('"')
        if meta.size is None:
            raise HubError(
                f"{repo}/{file}: the hub reported no size; refusing a file that cannot be verified"
            )
        return RemoteFile(
            meta.size, etag if SHA256.match(etag) else None, etag if GIT_SHA1.match(etag) else None,
            meta.commit_hash or revision,
        )  # fmt: skip

    def fetch(self, repo: str, file: str, revision: str, staging: Path) -> Path:
        try:
            return Path(
                self.hf.hf_hub_download(
                    repo, file, revision=revision, local_dir=staging, token=self.token, endpoint=self.endpoint
                )
            )
        except Exception as e:  # noqa: BLE001
            raise self._errors(repo, file, e) from e


class ModelScope:
    name = "modelscope"
    default_revision = "master"

    def __init__(self):
        try:
            from modelscope.hub.api import HubApi
            from modelscope.hub.file_download import model_file_download
        except ImportError as e:
            raise HubError("--source modelscope needs ModelScope's SDK: pip install modelscope") from e
        self.endpoint = os.environ.get("MODELSCOPE_ENDPOINT") or None
        self.token = os.environ.get("MODELSCOPE_TOKEN") or os.environ.get("MODELSCOPE_API_TOKEN") or None
        self.api = HubApi(endpoint=self.endpoint, token=self.token)
        self.download = model_file_download

    def remote(self, repo: str, file: str, revision: str) -> RemoteFile:
        try:
            entries = self.api.get_model_files(repo, revision=revision, recursive=True)
        except Exception as e:  # noqa: BLE001 - the SDK raises requests' and its own errors
            raise HubError(
                f"{repo} on ModelScope: {str(e).splitlines()[0] if str(e) else e!r}", transient=True
            ) from e
        entry = next((f for f in entries if f.get("Path") == file), None)
        if entry is None:
            raise HubError(f"{repo} on ModelScope has no file {file!r} at {revision}")
        sha = str(entry.get("Sha256") or "").lower()
        return RemoteFile(int(entry["Size"]), sha if SHA256.match(sha) else None, None, revision)

    def fetch(self, repo: str, file: str, revision: str, staging: Path) -> Path:
        try:
            kwargs = {"endpoint": self.endpoint} if self.endpoint else {}
            return Path(
                self.download(
                    repo, file, revision=revision, local_dir=str(staging), token=self.token, **kwargs
                )
            )
        except Exception as e:  # noqa: BLE001
            raise HubError(
                f"{repo}/{file} on ModelScope: {str(e).splitlines()[0] if str(e) else e!r}", transient=True
            ) from e


HUBS = {"hf": HuggingFace, "modelscope": ModelScope}
