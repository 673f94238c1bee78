"""``segsync report`` end to end against an independent plain-Python computation, on
generated data with empty holdouts, zero conversions, NULL revenue and profiles without
email; and its config errors, provisional figures and output formats."""

from __future__ import annotations

import csv
import io
import json
import random
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import CliRunner
from tests.measure import oracle
from tests.measure.conftest import StoreWriter, T, segment_yaml

WINDOW = timedelta(days=14)
SEGMENTS = {  # name -> (region, holdout percent)
    "ca": ("CA", 30),
    "ny": ("NY", 0),  # empty holdout
    "tx": ("TX", 25),  # nobody converts in the window
    "wa": ("WA", 50),
}


def generate(seed: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    rng = random.Random(seed)
    profiles, events = [], []
    for index in range(rng.randint(300, 700)):
        pid = f"p{index:05d}"
        quirk = rng.random()
        email = None if quirk < 0.1 else ("not-an-email" if quirk < 0.15 else f"{pid}@x.io")
        region = rng.choices(["CA", "NY", "TX", "WA", "OR"], [4, 3, 2, 2, 1])[0]
        profiles.append({"profile_id": pid, "email": email, "email_consent": rng.random() < 0.7,
                         "region": region})  # fmt: skip
        for _ in range(rng.choice([0, 0, 1, 1, 2, 3, 5])):
            ts = T + timedelta(seconds=rng.randint(-20 * 86400, 20 * 86400))
            if rng.random() < 0.05:  # on the window's edges: T is out, T + window is in
                ts = rng.choice([T, T + WINDOW])
            if region == "TX" and T < ts <= T + WINDOW:
                continue
            name = rng.choice(["order_completed", "order_completed", " Order_Completed "])
            amount = None if rng.random() < 0.15 else round(rng.lognormvariate(4, 0.6), 2)
            events.append({"profile_id": pid, "event": name, "ts": ts, "amount": amount,
                           "category": "books"})  # fmt: skip
        if rng.random() < 0.5:
            events.append({"profile_id": pid, "event": "page_view",
                           "ts": T + timedelta(days=rng.uniform(-5, 5))})  # fmt: skip
    events.append({"profile_id": "p00000", "event": "page_view", "ts": T + timedelta(days=40)})
    return profiles, events


#: an exclusive group: g-low qualifies CA and NY, but g-high takes the CA profiles first
GROUP = {
    "segments/g-high.yaml": segment_yaml("g-high", "CA", 20) + "exclusive_group: g\npriority: 10\n",
    "segments/g-low.yaml": segment_yaml("g-low", "CA", 20).replace(
        "op: eq, value: CA", "op: in, value: [CA, NY]"
    )
    + "exclusive_group: g\npriority: 1\n",
}


def config_files() -> dict[str, str]:
    files = {f"segments/{n}.yaml": segment_yaml(n, r, h) for n, (r, h) in SEGMENTS.items()}
    files |= GROUP
    files["metrics.yaml"] = "kpis: {conversion_event: order_completed, window: 14d}\n"
    return files


def assert_close(actual: Any, expected: Any, path: str = "") -> None:
    if isinstance(expected, dict):
        assert isinstance(actual, dict) and set(actual) >= set(expected), path
        for key, value in expected.items():
            assert_close(actual[key], value, f"{path}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), path
        for index, (a, e) in enumerate(zip(actual, expected, strict=True)):
            assert_close(a, e, f"{path}[{index}]")
    elif isinstance(expected, float):
        assert actual == pytest.approx(expected, rel=1e-7, abs=1e-10), path
    else:
        assert actual == expected, path


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_report_json_matches_a_plain_python_computation(
    seed: int, workspace: StoreWriter, run_cli: CliRunner
) -> None:
    profiles, events = generate(seed)
    workspace(profiles, events, config_files())
    code, out, err = run_cli(["report", "--as-of", T.isoformat(), "--json"])
    assert code == 0, err
    payload = json.loads(out)
    assert payload["as_of"] == "2026-06-01T12:00:00Z" and payload["window"] == "14d"
    assert payload["provisional"] is False
    rules = {n: ((lambda p, r=r: p["region"] == r), h) for n, (r, h) in SEGMENTS.items()}
    rules["g-high"] = (lambda p: p["region"] == "CA", 20)
    rules["g-low"] = (lambda p: p["region"] == "NY", 20)  # after the exclusive group
    expected = oracle.report(profiles, events, rules, T, WINDOW)
    assert_close(payload["segments"], expected)
    by_name = {s["name"]: s for s in payload["segments"]}
    assert by_name["ny"]["held_out"]["n"] == 0 and by_name["ny"]["too_small"] is True
    assert by_name["ny"]["lift"]["conversion_rate"] == {"abs": None, "rel": None, "ci": None,
                                                        "p": None}  # fmt: skip
    assert by_name["tx"]["members"]["conversion_rate"] == 0
    assert by_name["tx"]["members"]["aov"] is None and by_name["tx"]["mde"] is None


def test_default_instant_is_the_last_event_minus_the_window(
    workspace: StoreWriter, run_cli: CliRunner
) -> None:
    profiles, events = generate(4)
    workspace(profiles, events, config_files())
    code, out, _ = run_cli(["report", "ca", "--json"])
    assert code == 0
    payload = json.loads(out)
    assert payload["as_of"] == "2026-06-27T12:00:00Z"  # T + 40 days − 14 days
    assert payload["provisional"] is False and [s["name"] for s in payload["segments"]] == ["ca"]


def test_a_window_past_the_last_event_is_provisional(
    workspace: StoreWriter, run_cli: CliRunner
) -> None:
    profiles, events = generate(5)
    workspace(profiles, events, config_files())
    late = (T + timedelta(days=30)).isoformat()
    code, out, _ = run_cli(["report", "--as-of", late, "--json"])
    assert code == 0 and json.loads(out)["provisional"] is True
    code, out, err = run_cli(["report", "--as-of", late])
    assert code == 0 and "provisional" in err
    code, out, _ = run_cli(["report", "--as-of", T.isoformat(), "--window", "30d", "--json"])
    assert json.loads(out)["window"] == "30d" and json.loads(out)["provisional"] is False


@pytest.mark.parametrize(
    ("metrics", "message"),
    [
        ("kpis:\n  conversion_event: order_complete\n", "line 2"),
        ("kpis:\n  revenue_property: category\n", "revenue_property needs a number property"),
        ("kpis:\n  revenue_property: amuont\n", "did you mean 'amount'"),
        ("kpis:\n  window: 2 weeks\n", "invalid duration"),
        ("kpis:\n  max_mde: lots\n", "max_mde"),
        ("kpis:\n  conversion_evnt: order_completed\n", "conversion_evnt"),
    ],
)
def test_bad_kpis_are_located_config_errors(
    metrics: str, message: str, workspace: StoreWriter, run_cli: CliRunner
) -> None:
    profiles, events = generate(6)
    files = config_files() | {"metrics.yaml": metrics}
    root = workspace(profiles, events, files)
    code, out, err = run_cli(["report", "--as-of", T.isoformat()])
    assert code == 1 and out == ""
    assert str(root / "config" / "metrics.yaml") in err and message in err
    assert "Traceback" not in err


def test_defaults_that_do_not_fit_the_store_are_reported(
    workspace: StoreWriter, run_cli: CliRunner
) -> None:
    profiles, events = generate(7)
    for event in events:
        event["event"] = "purchase" if event["event"] != "page_view" else "page_view"
    files = config_files()
    del files["metrics.yaml"]
    workspace(profiles, events, files)
    code, _, err = run_cli(["report", "--as-of", T.isoformat()])
    assert code == 1 and "no kpis: block" in err and "unknown event 'order_completed'" in err
    files["metrics.yaml"] = "kpis: {conversion_event: purchase}\n"
    workspace(profiles, events, files)
    assert run_cli(["report", "--as-of", T.isoformat()])[0] == 0


def test_bad_options(workspace: StoreWriter, run_cli: CliRunner) -> None:
    profiles, events = generate(8)
    workspace(profiles, events, config_files())
    assert "unknown segment 'cx'" in run_cli(["report", "cx"])[2]
    assert run_cli(["report", "--window", "soon"])[0] == 1
    assert run_cli(["report", "--json", "--csv"])[0] == 1
    code, _, err = run_cli(["report", "--run", "nope"])
    assert code == 1 and "--run" in err


def test_csv_and_html(workspace: StoreWriter, run_cli: CliRunner, tmp_path: Path) -> None:
    profiles, events = generate(9)
    workspace(profiles, events, config_files())
    code, out, _ = run_cli(["report", "--as-of", T.isoformat(), "--json"])
    payload = json.loads(out)
    code, out, _ = run_cli(["report", "--as-of", T.isoformat(), "--csv"])
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["segment"] for r in rows] == ["ca", "g-high", "g-low", "ny", "tx", "wa"]
    for row, seg in zip(rows, payload["segments"], strict=True):
        assert int(row["members_n"]) == seg["members"]["n"]
        ci = seg["lift"]["conversion_rate"]["ci"]
        assert (float(row["lift_conversion_rate_ci_low"]) if ci else None) == (
            ci[0] if ci else None
        )
        assert row["too_small"] == str(seg["too_small"]).lower()
    page = tmp_path / "out" / "report.html"
    code, out, err = run_cli(["report", "--as-of", T.isoformat(), "--html", str(page)])
    assert code == 0 and out == "" and str(page) in err
    html = page.read_text()
    assert "<script" not in html and 'id="forest-conversion"' in html
    assert html.count('class="estimate"') >= 5 * 3  # all but ny, in three forest plots
