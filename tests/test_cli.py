"""Every command-line entry point at its edges: a bad argument is one line on stderr and exit 2, a failure FluxKit
can explain is one line and exit 1; no traceback reaches the user (real subprocesses, `python -m ...`)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ENTRY_POINTS = (
    "fluxkit_tools.client", "fluxkit_tools.demo", "fluxkit_tools.download", "fluxkit_tools.dump_schemas",
    "fluxkit_tools.launch", "bench", "bench.bench_batch", "bench.bench_proxy", "bench.bench_lora_patch", "bench.bench_models",
    "bench.bench_workflow", "bench.gpu_step", "bench.bench_seams", "bench.gpu_run", "fluxkit_workflows.build",
    "fluxkit_workflows.interface",
)  # fmt: skip


def _run(args: list[str], timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "COMFYUI_PATH": os.environ.get("COMFYUI_PATH", "")}
    return subprocess.run(
        [sys.executable, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout
    )


def _one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


def test_every_entry_point_is_listed():
    """A new `python -m` module must join ENTRY_POINTS (and so the bad-argument test)."""
    found = {
        ".".join(p.relative_to(REPO).with_suffix("").parts).removesuffix(".__main__")
        for pkg in ("fluxkit_tools", "bench", "fluxkit_workflows")
        for p in (REPO / pkg).glob("*.py")
        if 'if __name__ == "__main__":' in p.read_text()
    } - {"fluxkit_workflows.run_demo"}  # 0.1.0's command, kept only to say where the demo went (tested below)
    assert found == set(ENTRY_POINTS)


@pytest.mark.parametrize("module", ENTRY_POINTS)
def test_a_bad_argument_is_one_line_and_exit_2(module):
    done = _run(["-m", module, "--no-such-option"])
    assert done.returncode == 2, done.stderr
    line = _one_line(done.stderr)
    assert line.startswith(f"python -m {module}: ") and ("--no-such-option" in line or "required" in line), (
        line
    )


@pytest.mark.parametrize(
    "args, words",
    [
        (["-m", "bench", "--only", "cn,nope"], "--only: unknown nope"),
        (["-m", "fluxkit_tools.demo", "--workflow", "nope"], "no workflow 'nope'"),
        (["-m", "fluxkit_tools.download", "no-such-preset", "--models", "/tmp/x"], "unknown preset or file"),
        (["-m", "fluxkit_workflows.run_demo"], "python -m fluxkit_tools.demo"),
        (["-m", "bench.bench_seams", "--photos", "astronaut,nope"], "unknown photo(s) ['nope']"),
    ],
)
def test_bad_values_are_usage_errors(args, words):
    done = _run(args)
    assert done.returncode == 2 and words in _one_line(done.stderr), done.stderr


def test_ray_missing_is_one_line_saying_what_to_install(tmp_path):
    """`--ray` without Ray installed (ray hidden from this process as if never installed) used to print a traceback."""
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.png").write_bytes(b"")
    code = (
        "import sys; sys.modules['ray'] = None\n"  # `import ray` raises ImportError, as on a machine without it
        "import fluxkit_cli as cli\nfrom fluxkit_tools import client\n"
        "raise SystemExit(cli.run(client.main, 'python -m fluxkit_tools.client', sys.argv[1:]))"
    )
    args = ["batch", "inpainting_turbo_8step", "--inputs", str(tmp_path / "in"), "--out", str(tmp_path / "out"),
            "--ray", "local"]  # fmt: skip
    done = _run(["-c", code, *args])
    line = _one_line(done.stderr)
    assert done.returncode == 1 and "--ray needs Ray: pip install ray" in line, done.stderr


def test_an_unreachable_server_is_one_line_and_exit_1(tmp_path):
    done = _run(["-m", "fluxkit_tools.client", "run", "inpainting_turbo_8step", "--server", "http://127.0.0.1:9",
                 "--retries", "0", "--timeout", "5", "--out", str(tmp_path)])  # fmt: skip
    assert done.returncode == 1 and "127.0.0.1:9" in _one_line(done.stderr), done.stderr


def test_an_unexplained_error_keeps_its_traceback_and_debug_shows_every_one():
    """Only FluxKit's own errors, OS refusals and missing optional packages are one line: a plain ValueError or
    ModuleNotFoundError from a bug prints its traceback; FLUXKIT_DEBUG=1 shows the traceback of explained ones too."""
    import fluxkit_cli as cli
    from flux_core.errors import FluxKitError

    def failing(exc):
        def main(argv):
            raise exc

        return main

    assert cli.run(failing(FluxKitError("bad input")), "prog") == cli.FAILED
    assert cli.run(failing(FileNotFoundError(2, "No such file", "x.png")), "prog") == cli.FAILED
    missing_ray = ModuleNotFoundError("No module named 'ray'", name="ray")
    assert cli.run(failing(missing_ray), "prog") == cli.FAILED
    for bug in (ValueError("invalid literal for int()"), ModuleNotFoundError("No module named 'x'", name="x"),
                KeyError("k")):  # fmt: skip
        with pytest.raises(type(bug)):
            cli.run(failing(bug), "prog")
    os.environ["FLUXKIT_DEBUG"] = "1"
    try:
        with pytest.raises(FluxKitError):
            cli.run(failing(FluxKitError("bad input")), "prog")
    finally:
        del os.environ["FLUXKIT_DEBUG"]
