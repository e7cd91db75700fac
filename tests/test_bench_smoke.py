"""The benchmark command runs end to end on the smallest sizes (so it cannot rot); no timing assertions."""

from __future__ import annotations

import json

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
