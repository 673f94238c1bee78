"""Loading config/: every bad input gets one located message (file, line, field)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from connector.definitions.conditions import AttributeCondition, EventCondition
from connector.definitions.loader import load_definitions
from connector.errors import ConfigError
from connector.esp.registry import destination_models

GOOD = """\
name: vip
description: Big spenders
rule:
  all:
    - {attribute: region, op: eq, value: CA}
    - event: order_completed
      where: [{property: category, op: eq, value: electronics}]
      within: 30d
      count: {gte: 4}
"""


def errors_of(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_definitions(path, destination_models())
    return [str(issue) for issue in info.value.issues]


def test_valid_config_loads(config_dir: Callable[..., Path]) -> None:
    defs = load_definitions(config_dir({"vip": GOOD}), destination_models())
    rule = defs.segments["vip"].rule
    first, second = rule.all  # type: ignore[union-attr]
    assert isinstance(first, AttributeCondition) and first.value == "CA"
    assert isinstance(second, EventCondition) and second.within is not None
    assert second.within.delta.days == 30
    assert second.aggregate()[1].comparisons() == [("gte", 4)]


def test_yaml_12_keeps_norway_as_text(config_dir: Callable[..., Path]) -> None:
    seg = "name: no\nrule: {attribute: region, op: in, value: [NO, on, yes]}\n"
    rule = load_definitions(config_dir({"no": seg}), destination_models()).segments["no"].rule
    assert isinstance(rule, AttributeCondition)
    assert rule.value == ("NO", "on", "yes")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "name: x\nrule: {attribute: region, op: eq, value: CA\n",
            "segments/x.yaml line 3: invalid YAML",
            id="malformed-yaml",
        ),
        pytest.param(
            "name: x\nrule: {attribute: region, op: eq, value: CA}\nregoin: 1\n",
            "segments/x.yaml line 3: regoin: unknown key 'regoin'",
            id="unknown-top-level-key",
        ),
        pytest.param(
            "name: x\nrule:\n  all:\n    - {attribute: region, op: eq, value: CA, cse: 1}\n",
            "segments/x.yaml line 4: rule.all[0].cse: unknown key 'cse'",
            id="unknown-condition-key",
        ),
        pytest.param(
            "name: x\nrule:\n  all:\n    - {atribute: region, op: eq, value: CA}\n",
            "did you mean 'attribute'?",
            id="misspelt-kind",
        ),
        pytest.param(
            "name: x\nrule: {all: []}\n",
            "segments/x.yaml line 2: rule.all: needs at least one condition",
            id="empty-all",
        ),
        pytest.param(
            "name: x\nrule: {any: []}\n",
            "rule.any: needs at least one condition",
            id="empty-any",
        ),
        pytest.param(
            "name: x\nholdout: -1\nrule: {attribute: region, op: exists}\n",
            "segments/x.yaml line 2: holdout: Input should be greater than or equal to 0 (got -1)",
            id="negative-holdout",
        ),
        pytest.param(
            "name: x\nholdout: 51\nrule: {attribute: region, op: exists}\n",
            "segments/x.yaml line 2: holdout: Input should be less than or equal to 50 (got 51)",
            id="holdout-over-50",
        ),
        pytest.param(
            "name: x\nrule:\n  event: order_completed\n  within: 30days\n",
            "segments/x.yaml line 4: rule.within: invalid duration '30days'",
            id="bad-duration",
        ),
        pytest.param(
            "name: x\nrule: {attribute: signup_at, op: before, value: 2024-02-30}\n",
            "segments/x.yaml line 2: rule: invalid date or instant '2024-02-30'",
            id="bad-date",
        ),
        pytest.param(
            "name: x\nschedule: every day\nrule: {attribute: region, op: exists}\n",
            "segments/x.yaml line 2: schedule: invalid schedule 'every day'",
            id="bad-schedule",
        ),
        pytest.param(
            "name: x\nrule: {attribute: region, op: equals, value: CA}\n",
            "segments/x.yaml line 2: rule.op: Input should be",
            id="unknown-op",
        ),
        pytest.param(
            "name: x\nrule: {attribute: region, op: in, value: CA}\n",
            "op in needs a non-empty list of values",
            id="in-needs-list",
        ),
        pytest.param(
            "name: x\nrule: {attribute: region, op: exists, value: CA}\n",
            "op exists takes no value",
            id="exists-takes-no-value",
        ),
        pytest.param(
            "name: x\nrule: {event: order_completed, count: {gte: four}}\n",
            "rule.count.gte",
            id="wrong-type-in-aggregate",
        ),
        pytest.param(
            "name: x\nrule: {event: order_completed, sum: {gte: 4}}\n",
            "sum needs a property",
            id="sum-without-property",
        ),
        pytest.param(
            "name: x\nrule: {event: a, count: {gte: 1}, sum: {property: b, gte: 1}}\n",
            "use one aggregate per condition, not count and sum",
            id="two-aggregates",
        ),
        pytest.param(
            "name: x\nrule:\n  event: added_to_cart\n  count: {gte: 1}\n"
            "  not_followed_by: {event: order_completed}\n",
            "not_followed_by cannot be combined with an aggregate",
            id="nfb-with-aggregate",
        ),
        pytest.param(
            "name: x\nrule: {metric: m, top_percent: 10, gte: 3}\n",
            "use either comparisons or one of top_percent / bottom_percent",
            id="metric-two-forms",
        ),
        pytest.param(
            "name: x\nrule: {near: {lat: 91, lon: 0, radius_km: 5}}\n",
            "rule.near.lat: Input should be less than or equal to 90 (got 91)",
            id="latitude-out-of-range",
        ),
        pytest.param(
            "name: Bad_Name\nrule: {attribute: region, op: exists}\n",
            "name: use lower-case letters, digits and dashes",
            id="bad-name",
        ),
        pytest.param(
            "name: other\nrule: {attribute: region, op: exists}\n",
            "segments/x.yaml line 1: name: name 'other' must equal the file name 'x'",
            id="name-not-file-name",
        ),
        pytest.param(
            "- just\n- a list\n",
            "segments/x.yaml line 1: a segment file must be a mapping",
            id="not-a-mapping",
        ),
        pytest.param(
            "name: x\nname: y\nrule: {attribute: region, op: exists}\n",
            "segments/x.yaml line 2: invalid YAML",
            id="duplicate-key",
        ),
    ],
)
def test_bad_segment_file(config_dir: Callable[..., Path], text: str, expected: str) -> None:
    messages = errors_of(config_dir({"x": text}))
    assert len(messages) == 1, messages
    assert expected in messages[0]


def test_every_error_is_reported_at_once(config_dir: Callable[..., Path]) -> None:
    root = config_dir(
        {
            "a": "name: a\nholdout: 60\nrule: {all: []}\n",
            "b": "name: b\nrule: {in_segment: nope}\n",
        }
    )
    messages = errors_of(root)
    assert any("a.yaml line 2: holdout" in m for m in messages)
    assert any("a.yaml line 3: rule.all" in m for m in messages)
    assert any("b.yaml line 2: rule.in_segment: unknown segment 'nope'" in m for m in messages)


def test_unknown_metric_suggests_closest(config_dir: Callable[..., Path]) -> None:
    root = config_dir(
        {"x": "name: x\nrule: {metric: order_90d, gte: 3}\n"},
        metrics="orders_90d: {event: order_completed, aggregate: count, within: 90d}\n",
    )
    (message,) = errors_of(root)
    assert "x.yaml line 2: rule.metric: unknown metric 'order_90d'" in message
    assert "did you mean 'orders_90d'?" in message


def test_unknown_segment_suggests_closest(config_dir: Callable[..., Path]) -> None:
    root = config_dir(
        {
            "churn-risk": "name: churn-risk\nrule: {attribute: region, op: exists}\n",
            "x": "name: x\nrule: {not: {in_segment: churn-risks}}\n",
        }
    )
    (message,) = errors_of(root)
    assert "x.yaml line 2: rule.not.in_segment: unknown segment 'churn-risks'" in message
    assert "did you mean 'churn-risk'?" in message


def test_in_segment_cycle_is_an_error(config_dir: Callable[..., Path]) -> None:
    root = config_dir(
        {
            "a": "name: a\nrule: {in_segment: b}\n",
            "b": "name: b\nrule: {all: [{in_segment: c}]}\n",
            "c": "name: c\nrule: {not: {in_segment: a}}\n",
        }
    )
    (message,) = errors_of(root)
    assert "in_segment cycle: a -> b -> c -> a" in message


def test_self_reference_is_a_cycle(config_dir: Callable[..., Path]) -> None:
    (message,) = errors_of(config_dir({"a": "name: a\nrule: {in_segment: a}\n"}))
    assert "a.yaml line 2: rule.in_segment: in_segment cycle: a -> a" in message


DESTINATIONS = """\
mailchimp-main: {esp: mailchimp, audience: abc, fields: {region: STATE}}
klaviyo-main: {esp: klaviyo}
"""


def test_destination_checks(config_dir: Callable[..., Path]) -> None:
    root = config_dir(
        {
            "x": """\
            name: x
            rule: {attribute: region, op: exists}
            destinations:
              - {to: mailchimp-main, mode: list}
              - {to: klaviyo-mian}
              - {to: klaviyo-main, mode: tag}
            """
        },
        destinations=DESTINATIONS,
    )
    messages = errors_of(root)
    assert len(messages) == 3
    assert "line 4: destinations[0].mode: mode 'list' is not available for mailchimp" in messages[0]
    assert "unknown destination 'klaviyo-mian' — did you mean 'klaviyo-main'?" in messages[1]
    assert "mode 'tag' is not available for klaviyo (use auto, list, segment)" in messages[2]


def test_bad_destination_file(config_dir: Callable[..., Path]) -> None:
    root = config_dir(
        {"x": "name: x\nrule: {attribute: region, op: exists}\n"},
        destinations="mc: {esp: sendgrid, audience: a}\nk: {esp: klaviyo, audince: x}\n",
    )
    messages = errors_of(root)
    assert any(
        "destinations.yaml line 1: mc: esp must be mailchimp or klaviyo" in m for m in messages
    )
    assert any("destinations.yaml line 2: k.audince: unknown key 'audince'" in m for m in messages)


def test_exclusive_group_members_must_be_local(config_dir: Callable[..., Path]) -> None:
    root = config_dir(
        {
            "x": """\
            name: x
            exclusive_group: spring
            rule:
              all:
                - {attribute: region, op: exists}
                - {esp: {mailchimp: {condition_type: Aim, field: aim, op: open, value: any}}}
            """
        }
    )
    (message,) = errors_of(root)
    assert "x.yaml line 6: rule.all[1]: segment is in exclusive group 'spring'" in message


def test_in_segment_cannot_use_esp_only_segment(config_dir: Callable[..., Path]) -> None:
    root = config_dir(
        {
            "openers": "name: openers\nrule: {esp: {klaviyo: {type: profile-metric}}}\n",
            "x": "name: x\nrule: {in_segment: openers}\n",
        }
    )
    (message,) = errors_of(root)
    assert "segment 'openers' has esp conditions" in message


def test_bad_metric_file(config_dir: Callable[..., Path]) -> None:
    root = config_dir(
        {"x": "name: x\nrule: {attribute: region, op: exists}\n"},
        metrics=(
            "aov: {event: order_completed, aggregate: avg}\n"
            "n: {event: order_completed, aggregate: median}\n"
        ),
    )
    messages = errors_of(root)
    assert any("metrics.yaml line 1: aov: aggregate avg needs a property" in m for m in messages)
    assert any("metrics.yaml line 2: n.aggregate: Input should be" in m for m in messages)


def test_missing_config_dir(tmp_path: Path) -> None:
    (message,) = errors_of(tmp_path / "nope")
    assert "config directory" in message and "not found" in message


def test_missing_segments_dir(tmp_path: Path) -> None:
    (message,) = errors_of(tmp_path)
    assert "segments directory not found" in message


METRIC = "m: {event: order_completed, aggregate: count}\n"


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        pytest.param(
            "{metric: m, top_percent: 10, hysteresis: -2}",
            "x.yaml line 3: rule: hysteresis must be 0 or more percentage points, not -2",
            id="negative",
        ),
        pytest.param(
            "{metric: m, top_percent: 10, hysteresis: two}",
            "x.yaml line 3: rule.hysteresis: expected a number, got 'two'",
            id="not-a-number",
        ),
        pytest.param(
            "{metric: m, top_percent: 10, hysteresis: true}",
            "x.yaml line 3: rule.hysteresis: expected a number, got True",
            id="boolean",
        ),
        pytest.param(
            "{metric: m, gte: 3, hysteresis: 2}",
            "x.yaml line 3: rule: hysteresis applies only to top_percent / bottom_percent",
            id="not-a-percent-condition",
        ),
        pytest.param(
            "{not: {metric: m, bottom_percent: 10, hysteresis: 2}}",
            "x.yaml line 3: rule.not.hysteresis: hysteresis cannot be used under 'not'",
            id="under-not",
        ),
        pytest.param(
            "{all: [{metric: m, top_percent: 5, hysteresis: 1}, "
            "{esp: {klaviyo: {type: profile-metric}}}]}",
            "x.yaml line 3: rule.all[0].hysteresis: hysteresis needs the segment's members",
            id="with-esp-conditions",
        ),
    ],
)
def test_bad_hysteresis(config_dir: Callable[..., Path], rule: str, expected: str) -> None:
    root = config_dir({"x": f"name: x\n\nrule: {rule}\n"}, metrics=METRIC)
    (message,) = errors_of(root)
    assert expected in message


def test_hysteresis_loads(config_dir: Callable[..., Path]) -> None:
    rule = "{not: {not: {metric: m, top_percent: 10, hysteresis: 2.5}}}"
    root = config_dir({"x": f"name: x\nrule: {rule}\n"}, metrics=METRIC)
    node = load_definitions(root, destination_models()).segments["x"].rule.not_.not_  # type: ignore[union-attr]
    assert node.loose_percent() == 12.5
