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
        plain, best = rows["0.1 stitch (no correction)"], rows["default: smooth + align + multiband"]
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


@pytest.mark.comfyui
def test_gpu_run_script_runs_tiny_on_cpu(comfyui_path, thin_models, tmp_path):
    """bench.gpu_run, the lent-GPU command, at tiny size on the CPU: its models, a real ComfyUI server with the probe
    node, FluxKit's and core's graphs, the JSON and the table (the step stage is test_gpu_step_script_runs_tiny_on_cpu)."""
    import subprocess
    import sys
    from pathlib import Path

    from fluxkit_comfy.inprocess import REPO_ROOT

    work = (
        Path(thin_models["flux"]).parent.parent / "gpu-run-tiny"
    )  # reused across runs: the models are cached
    runs = "inpainting_turbo_8step:fluxkit:default,inpainting_turbo_8step:core:default,fill_inpaint_turbo_8step:fluxkit:default"
    cmd = [sys.executable, "-m", "bench.gpu_run", "--tiny", "--device", "cpu", "--comfyui", str(comfyui_path),
           "--repeats", "1", "--skip-step", "--runs", runs, "--work", str(work), "--out", str(tmp_path)]  # fmt: skip
    done = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    r = json.loads((tmp_path / "gpu_run_tiny.json").read_text())
    assert r["env"]["device"] == "cpu" and r["env"]["comfyui"] and r["models"]["gb"] > 1
    assert set(r["runs"]) == {k.replace(":", "|") for k in runs.split(",")}
    for key, row in r["runs"].items():
        assert row["s_per_step"] > 0 and row["s_per_prompt"] > row["s_per_step"] and row["steps"] == 2, (
            key,
            row,
        )
        assert row["peak_alloc_gb"] is None and row["server_peak_rss_gb"] > 0.5  # no CUDA: the probe says so
    ratio = r["ratios"]["inpainting_turbo_8step|default"]
    assert ratio["per_step"] > 0 and r["goals"]["fluxkit_vs_core_per_step"] == ratio["per_step"]
    assert "FluxKit/core inpainting_turbo_8step|default" in done.stdout


def test_gpu_run_fp8_ratio_compares_like_with_like_and_the_memory_goal_reads_the_fp8_controlnet():
    """Core's ControlNetLoader has no weight dtype: the FluxKit/core fp8 pair keeps both ControlNets as loaded, and only
    the `fluxkit_cn_fp8` run (read for the peak-memory goal, left out of the ratios) stores FluxKit's in fp8."""
    from bench.gpu_run import RUNS, goals, prompt_for, ratios

    def dtypes(variant: str) -> dict:
        api = prompt_for("inpainting_turbo_8step", variant, "fp8_e4m3fn", 128, 2)
        return {
            n["class_type"]: n["inputs"].get("weight_dtype")
            for n in api.values()
            if "Loader" in n["class_type"]
        }

    assert dtypes("fluxkit")["UNETLoader"] == dtypes("core")["UNETLoader"] == "fp8_e4m3fn"
    assert dtypes("fluxkit")["FluxKitInpaintControlNetLoader"] == "default"
    assert dtypes("core")["ControlNetLoader"] is None  # core's loader: no such input
    assert dtypes("fluxkit_cn_fp8")["FluxKitInpaintControlNetLoader"] == "fp8_e4m3fn"
    assert ("inpainting_turbo_8step", "fluxkit_cn_fp8", "fp8_e4m3fn") in RUNS

    def row(step: float, peak: float) -> dict:
        return {"s_per_step": step, "s_per_prompt": 4 * step, "peak_alloc_gb": peak}

    runs = {"inpainting_turbo_8step|fluxkit|fp8_e4m3fn": row(0.2, 19.0),
            "inpainting_turbo_8step|core|fp8_e4m3fn": row(0.25, 19.5),
            "inpainting_turbo_8step|fluxkit_cn_fp8|fp8_e4m3fn": row(0.3, 17.0)}  # fmt: skip
    assert ratios(runs) == {"inpainting_turbo_8step|fp8_e4m3fn": {"per_step": 0.8, "per_prompt": 0.8}}
    assert goals({"runs": runs})["peak_fp8_gb"] == 17.0


def test_gpu_carry_folder_is_the_pruned_checkout_and_trimmed_stubbed_wheels(tmp_path):
    """bench.gpu_pack's pieces, offline: the ComfyUI copy leaves out tests and tokenizer vocabularies, a trimmed wheel
    loses only the named members (and their RECORD lines), a stub imports and answers any name."""
    import subprocess
    import sys
    import tarfile
    import zipfile

    from bench import gpu_pack

    comfy = tmp_path / "ComfyUI"
    for rel in ("main.py", "comfy/sd.py", "comfy/text_encoders/t5_tokenizer/tokenizer.json", "tests/test_x.py",
                "comfy/text_encoders/llama.py", "requirements.txt"):  # fmt: skip
        (comfy / rel).parent.mkdir(parents=True, exist_ok=True)
        (comfy / rel).write_text("x = 1\n")
    gpu_pack.copy_comfyui(comfy, tmp_path / "copy")
    gpu_pack.compress(tmp_path / "copy", tmp_path / "c.tar.xz")
    names = tarfile.open(tmp_path / "c.tar.xz").getnames()
    assert "copy/main.py" in names and "copy/comfy/text_encoders/llama.py" in names
    assert not any("tests" in n or n.endswith("tokenizer.json") for n in names)
    wheel = tmp_path / "k-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr("k/backends/hip/_C.abi3.so", b"0" * 1000)
        z.writestr("k/__init__.py", "")
        z.writestr("k-1.0.dist-info/RECORD", "k/backends/hip/_C.abi3.so,,\nk/__init__.py,,\n")
    gpu_pack.trim(wheel, "k/backends/hip/_C")
    with zipfile.ZipFile(wheel) as z:
        assert z.namelist() == ["k/__init__.py", "k-1.0.dist-info/RECORD"]
        assert z.read("k-1.0.dist-info/RECORD") == b"k/__init__.py,,\n"
    gpu_pack.write_stub(tmp_path / "stubs", "av")
    code = ("import av; from av.container import InputContainer; from av.video.reformatter import ColorRange; "
            "print(isinstance(av.open('x'), type), isinstance(1, InputContainer))")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], env={"PYTHONPATH": str(tmp_path / "stubs")}, capture_output=True,
                         text=True, timeout=60)  # fmt: skip
    assert out.stdout.split() == ["True", "False"], out.stderr
    assert gpu_pack.requirement_names("torch\nav>=16  # video\nfoo; extra == 'x'\ncomfy_kitchen==0.2") == [
        "torch", "av", "comfy-kitchen"]  # fmt: skip
