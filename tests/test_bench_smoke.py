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


def test_seam_bench_runs_and_its_numbers_mean_what_they_say():
    """bench.bench_seams on one photo and two scenes (no CropAndStitch: that needs a ComfyUI boot): the table holds
    every mode and the oracle, nothing beyond the blend changes, and the default correction is between the oracle
    and no correction, as the full run (docs/QUALITY.md) shows."""
    pytest.importorskip("skimage", reason="scikit-image (requirements-test.txt) is not installed")
    from bench import bench_seams, seams_scenes

    scenes = [seams_scenes.Scene("typical", 1.0, 0.0), seams_scenes.Scene("2 px", 1.0, 2.0)]
    r = bench_seams.quality(("astronaut",), scenes, with_cropandstitch=False)
    for name in ("typical", "2 px"):
        rows = r["table"][name]
        assert set(rows) == {*bench_seams.MODES, bench_seams.ORACLE}
        assert all(m["far_max_levels"] == 0 for m in rows.values())
        plain, best = rows["0.1 stitch (no correction)"], rows["default: global + align + multiband"]
        oracle = rows[bench_seams.ORACLE]
        assert (
            best["core"] <= 1.25 * oracle["core"] and best["core"] < 0.5 * plain["core"]
        )  # the goal (issue 32)
        assert best["seam"] < plain["seam"]


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
