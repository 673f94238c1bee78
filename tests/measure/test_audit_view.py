"""``segsync audit``'s over-segmentation view: too small to measure, heavy overlaps,
profiles in no segment."""

from __future__ import annotations

import json
import math
from datetime import timedelta

from tests.cli.conftest import CliRunner
from tests.measure.conftest import StoreWriter, T, segment_yaml


def test_over_segmentation_view(workspace: StoreWriter, run_cli: CliRunner) -> None:
    profiles = [
        {"profile_id": f"p{i:04d}", "email": f"p{i}@x.io", "email_consent": True,
         "region": "CA" if i < 3000 else ("NY" if i < 3040 else "TX")}
        for i in range(3100)
    ]  # fmt: skip
    # a quarter of everyone ordered in the window before T
    events = [{"profile_id": f"p{i:04d}", "event": "order_completed",
               "ts": T - timedelta(days=3), "amount": 10.0} for i in range(0, 3100, 4)]  # fmt: skip
    files = {
        "segments/big.yaml": segment_yaml("big", "CA", 50),
        "segments/tiny.yaml": segment_yaml("tiny", "NY", 50),
        "segments/nocontrol.yaml": segment_yaml("nocontrol", "CA", 0),
        "metrics.yaml": "kpis: {max_mde: 0.05}\n",
    }
    workspace(profiles, events, files)
    code, out, err = run_cli(["audit", "--as-of", T.isoformat(), "--json"])
    assert code == 0, err
    view = json.loads(out)["over_segmentation"]
    assert view["too_small"] == ["nocontrol", "tiny"]
    sizes = {s["name"]: s for s in view["sizes"]}
    big = sizes["big"]
    assert big["held_out"] + big["members"] == 3000 and big["too_small"] is False
    assert big["mde"] < 0.05
    # tiny: 40 profiles split about in half, 10 converted: MDE far above 5 pp
    tiny = sizes["tiny"]
    assert tiny["mde"] > 0.3 and math.isfinite(tiny["mde"])
    assert sizes["nocontrol"]["held_out"] == 0 and sizes["nocontrol"]["mde"] is None
    assert [(o["first"], o["second"]) for o in view["overlapping"]] == [("big", "nocontrol")]
    assert view["in_no_segment"] == 60  # the TX profiles
    code, out, _ = run_cli(["audit", "--as-of", T.isoformat(), "--max-overlap", "1"])
    assert "in no segment: 60 profiles" in out and "overlapping above" not in out
    assert "tiny" in out.split("Too small to measure")[1]
