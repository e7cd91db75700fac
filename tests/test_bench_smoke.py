"""The benchmark command runs end to end on the smallest sizes (so it cannot rot); no timing assertions."""

from __future__ import annotations

import json

import pytest

from bench.__main__ import main


def test_bench_quick_writes_table_and_json(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert main(["--quick", "--repeats", "1", "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert {"torch", "threads", "machine"} <= set(data["header"])
    (row,) = data["controlnet_forward"]
    assert row["residuals_used"] == 5  # 6 ControlNet blocks on 19 FLUX blocks: the 6th is never used
    assert row["max_rel_err"] <= 1e-5  # FluxKit's residuals equal diffusers' while skipping work
    assert row["diffusers_s"] > 0 and row["fluxkit_s"] > 0
    assert "cn-quick" in capsys.readouterr().out


@pytest.mark.comfyui
def test_gpu_step_script_runs_tiny_on_cpu(comfyui_path, tmp_path):
    """The GPU script's code path (ComfyUI's FLUX + both ControlNets + FLOP floor) at tiny widths on the CPU."""
    import subprocess
    import sys

    from fluxkit_comfy.inprocess import REPO_ROOT

    out = tmp_path / "gpu.json"
    cmd = [
        sys.executable,
        "-m",
        "bench.gpu_step",
        "--tiny",
        "--device",
        "cpu",
        "--repeats",
        "1",
        "--json",
        str(out),
    ]
    subprocess.run(cmd, cwd=REPO_ROOT, check=True, capture_output=True, timeout=600)
    r = json.loads(out.read_text())
    for key in ("base_s", "fluxkit_cn_s", "core_cn_s", "fluxkit_step_s", "core_step_s", "floor_step_s"):
        assert r[key] > 0, key
    assert r["cn_blocks_run_fluxkit"] == 2 and r["img_tokens"] == 64
    assert r["floor_step_s"] > r["floor_base_s"]  # the ControlNet adds FLOPs
