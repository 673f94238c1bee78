"""``traits:`` of destinations.yaml: shapes, names and types, each error located."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest

from connector.definitions.checks import check_against_schema
from connector.definitions.loader import load_definitions
from connector.errors import ConfigError
from connector.esp.registry import destination_models
from connector.source import Store

PROFILES = [("p1", "a@x.com", True, "CA", 30, 10.0, True, datetime(2026, 1, 1), 37.7, -122.4)]
EVENTS = [("p1", "order_completed", datetime(2026, 11, 1), "electronics", 10.0, None)]
SEGMENT = {"x": "name: x\nrule: {attribute: region, op: eq, value: CA}\n"}
METRICS = "orders: {event: order_completed, aggregate: count}\n"


def load_errors(config_dir: Callable[..., Path], destinations: str) -> list[str]:
    root = config_dir(SEGMENT, metrics=METRICS, destinations=destinations)
    with pytest.raises(ConfigError) as caught:
        load_definitions(root, destination_models())
    return [str(i) for i in caught.value.issues]


@pytest.mark.parametrize(
    ("traits", "expected"),
    [
        (
            "    N: {metric: ordrs}",
            "destinations.yaml line 5: mc.traits.N.metric: unknown metric 'ordrs' — did you "
            "mean 'orders'?",
        ),
        (
            "    N: {metric: orders, type: text}\n    M: {metric: orders, type: numbr}",
            "line 6: mc.traits.M.type: unknown mailchimp field type 'numbr'",
        ),
        (
            "    BAND: {bucket: {attribute: clv, edges: [1], labels: [a, b]}, type: number}",
            "line 5: mc.traits.BAND.type: trait BAND: its values are text, which a number "
            "merge field cannot hold",
        ),
        (
            "    BAND: {bucket: {attribute: clv, edges: [5, 1], labels: [a, b, c]}}",
            "mc.traits.BAND.bucket: edges must be strictly increasing",
        ),
        (
            "    BAND: {bucket: {attribute: clv, edges: [1, 5], labels: [a, b]}}",
            "2 edges make 3 buckets, so 3 labels are needed (got 2)",
        ),
        (
            "    BAND: {bucket: {attribute: clv, metric: orders, edges: [1], labels: [a, b]}}",
            "bucket needs exactly one of attribute or metric",
        ),
        ("    STATE: {attribute: region}", "mc.traits.STATE: field STATE is written by `fields`"),
        ("    X: {metric: orders, top_value: {event: e, property: p}}", "a trait is exactly one"),
        ("    T: {map: {attribute: region, values: {CA: a, ' ca': b}}}", "are the same text"),
    ],
)
def test_trait_errors_without_the_store(
    config_dir: Callable[..., Path], traits: str, expected: str
) -> None:
    # line 1 mc, 2 esp, 3 audience, 4 traits, 5 the first trait (fields last)
    destinations = (
        f"mc:\n  esp: mailchimp\n  audience: a1\n  traits:\n{traits}\n  fields: {{region: STATE}}\n"
    )
    errors = load_errors(config_dir, destinations)
    assert any(expected in e for e in errors), errors


def test_klaviyo_fixed_attribute_types(config_dir: Callable[..., Path]) -> None:
    errors = load_errors(
        config_dir,
        "kl:\n  esp: klaviyo\n  traits:\n    first_name: {metric: orders, type: number}\n",
    )
    assert any(
        "line 4: kl.traits.first_name.type: first_name is a klaviyo profile attribute of type "
        "text" in e
        for e in errors
    ), errors


@pytest.mark.parametrize(
    ("traits", "expected"),
    [
        ("    A: {attribute: regoin}", "mc.traits.A.attribute: unknown attribute 'regoin'"),
        (
            "    A: {attribute: region, type: number}",
            "line 5: mc.traits.A.type: trait A: its values are text, which a number merge field",
        ),
        (
            "    A: {attribute: signup_at, type: number}",
            "its values are date, which a number merge field cannot hold",
        ),
        (
            "    F: {top_value: {event: order_complete, property: category}}",
            "mc.traits.F.top_value.event: unknown event 'order_complete'",
        ),
        (
            "    F: {top_value: {event: order_completed, property: categroy}}",
            "mc.traits.F.top_value.property: unknown property 'categroy'",
        ),
        (
            "    B: {bucket: {attribute: region, edges: [1], labels: [a, b]}}",
            "mc.traits.B.bucket.attribute: bucket needs a number attribute; 'region' is text",
        ),
        (
            "    M: {map: {attribute: age, values: {'1': a}}}",
            "mc.traits.M.map.attribute: map needs a text attribute; 'age' is number",
        ),
    ],
)
def test_trait_errors_against_the_store(
    config_dir: Callable[..., Path],
    store_factory: Callable[..., Store],
    traits: str,
    expected: str,
) -> None:
    root = config_dir(
        SEGMENT,
        metrics=METRICS,
        destinations=f"mc:\n  esp: mailchimp\n  audience: a1\n  traits:\n{traits}\n",
    )
    defs = load_definitions(root, destination_models())
    schema = store_factory(PROFILES, EVENTS).discover()
    issues = [str(i) for i in check_against_schema(defs, schema)]
    assert len(issues) == 1, issues
    assert expected in issues[0]


def test_valid_traits(config_dir: Callable[..., Path], store_factory: Callable[..., Store]) -> None:
    root = config_dir(
        SEGMENT,
        metrics=METRICS,
        destinations=(
            "mc:\n  esp: mailchimp\n  audience: a1\n  traits:\n"
            "    N: {metric: orders}\n    S: {attribute: signup_at}\n    T: {attribute: age}\n"
            "    F: {top_value: {event: Order_Completed, property: category, within: 365d,"
            " where: [{property: amount, op: gt, value: 1}]}}\n"
            "    B: {bucket: {attribute: clv, edges: [100, 500], labels: [low, mid, high]}}\n"
            "    M: {map: {attribute: region, values: {CA: premium}, default: standard},"
            " type: dropdown}\n"
            "kl:\n  esp: klaviyo\n  traits:\n    vip: {attribute: vip}\n"
        ),
    )
    defs = load_definitions(root, destination_models())
    assert check_against_schema(defs, store_factory(PROFILES, EVENTS).discover()) == []
