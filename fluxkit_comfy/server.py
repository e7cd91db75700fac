"""Start a real ComfyUI as a headless server on a free loopback port, with FluxKit linked into its custom nodes and
its own models/input/output tree (`--base-directory`), and stop it again.

    with ComfyServer(comfyui_path, base_dir) as server:
        server.url  # http://127.0.0.1:<port>

The server's log goes to `<base_dir>/comfyui.log`; `log_text()` reads it back (tests scan it for FluxKit errors).
A port something already listens on is refused (never attach to a server this object did not start), and the
ComfyUI process dies with the process that started it (Linux: PR_SET_PDEATHSIG), so a killed test run or launcher
leaves no server behind.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from .inprocess import REPO_ROOT

PACK_DIR_NAME = "ComfyUI-FluxKit"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """True when something already listens on host:port (bound as a server would: SO_REUSEADDR, so a closed
    connection's TIME_WAIT does not count)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return True
    return False


def die_with_parent() -> None:
    """`preexec_fn` for child processes (ComfyUI, cloudflared): on Linux the kernel sends them SIGTERM when the
    process that started them dies, even by SIGKILL, so nothing outlives a killed launcher or test run."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def prepare_base_dir(base_dir: Path) -> None:
    """models/, input/, output/, custom_nodes/ComfyUI-FluxKit → this checkout."""
    for sub in ("models", "input", "output", "temp", "user", "custom_nodes"):
        (base_dir / sub).mkdir(parents=True, exist_ok=True)
    link = base_dir / "custom_nodes" / PACK_DIR_NAME
    if not link.exists():
        link.symlink_to(REPO_ROOT, target_is_directory=True)


class ComfyStartError(RuntimeError):
    """ComfyUI could not be started or did not come up (the message says why and where its log is)."""


class ComfyServer:
    def __init__(
        self,
        comfyui: Path,
        base_dir: Path | None,
        extra_args: list[str] | None = None,
        timeout_s: float = 180,
        cpu: bool = True,
        port: int | None = None,
        log_path: Path | None = None,
        env: dict[str, str] | None = None,
    ):
        """`base_dir`: a private models/input/output tree with FluxKit linked in (tests, demo), or None to use
        the ComfyUI checkout's own folders (launcher). `cpu`: pass --cpu (no GPU on test machines)."""
        self.comfyui = Path(comfyui)
        self.base_dir = Path(base_dir) if base_dir is not None else None
        self.extra_args = extra_args or []
        self.timeout_s = timeout_s
        self.cpu = cpu
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.log_path = Path(log_path) if log_path else (self.base_dir or self.comfyui) / "comfyui.log"
        self.env = env or {}  # added to this process's environment (e.g. OMP_NUM_THREADS)

    def start(self) -> ComfyServer:
        """Spawn ComfyUI and wait until it answers (`spawn` + `wait_ready`)."""
        self.spawn()
        return self.wait_ready()

    def spawn(self) -> ComfyServer:
        """Start the ComfyUI process (returns at once). Call it from the thread that lives as long as the server:
        on Linux the child gets SIGTERM when that thread ends."""
        if port_in_use(self.port):
            # Never attach to a server this object did not start (a ComfyUI left from an earlier launch would
            # answer the health check, with other folders, arguments and custom nodes).
            raise ComfyStartError(
                f"port {self.port} on 127.0.0.1 is already in use (a ComfyUI left running by an earlier launch?): "
                "stop that process, or choose another port"
            )
        cmd = [
            sys.executable,
            "main.py",
            "--listen",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--disable-auto-launch",
        ]
        if self.cpu:
            cmd.append("--cpu")
        if self.base_dir is not None:
            prepare_base_dir(self.base_dir)
            cmd += ["--base-directory", str(self.base_dir)]
        cmd += self.extra_args
        env = dict(os.environ, PYTHONUNBUFFERED="1", **self.env)
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            cmd, cwd=self.comfyui, stdout=self._log, stderr=subprocess.STDOUT, env=env,
            preexec_fn=die_with_parent,
        )  # fmt: skip
        return self

    def wait_ready(self) -> ComfyServer:
        """Block until the spawned ComfyUI answers `/system_stats` (or raise with its log's tail)."""
        deadline = time.monotonic() + self.timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ComfyStartError(
                    f"ComfyUI exited with {self.proc.returncode} while starting:\n{self.log_tail()}"
                )
            try:
                with urllib.request.urlopen(f"{self.url}/system_stats", timeout=2) as r:
                    if r.status == 200:
                        return self
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.5)
        self.stop()
        raise ComfyStartError(
            f"ComfyUI did not answer on {self.url} within {self.timeout_s:.0f} s:\n{self.log_tail()}"
        )

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_mark(self) -> int:
        """The log's current length in bytes: pass it to `log_text(since=…)` to read what came after."""
        return self.log_path.stat().st_size if self.log_path.is_file() else 0

    def log_text(self, since: int = 0) -> str:
        if not self.log_path.is_file():
            return ""
        with open(self.log_path, "rb") as f:
            f.seek(since)
            return f.read().decode(errors="replace")

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, "_log", None):
            self._log.close()

    def __enter__(self) -> ComfyServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
