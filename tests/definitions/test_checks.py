"""Definitions checked against a real store's schema: names, types, suggestions."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest

from connector.definitions.checks import check_against_schema
from connector.definitions.loader import load_definitions
from connector.esp.registry import destination_models
from connector.source import Store

PROFILES = [("p1", "a@x.com", True, "CA", 30, 10.0, True, datetime(2026, 1, 1), 37.7, -122.4)]
EVENTS = [("p1", "Order_Completed", datetime(2026, 11, 1), "electronics", 10.0, None)]


def issues_for(
    config_dir: Callable[..., Path],
    store_factory: Callable[..., Store],
    rule: str,
    metrics: str | None = None,
) -> list[str]:
    root = config_dir({"x": f"name: x\nrule: {rule}\n"}, metrics=metrics)
    defs = load_definitions(root, destination_models())
    store = store_factory(PROFILES, EVENTS)
    return [str(i) for i in check_against_schema(defs, store.discover())]


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        (
            "{attribute: regoin, op: eq, value: CA}",
            "x.yaml line 2: rule.attribute: unknown attribute 'regoin' (not a column of "
            "'profiles') — did you mean 'region'?",
        ),
        (
            "{event: order_complete}",
            "x.yaml line 2: rule.event: unknown event 'order_complete' — did you mean "
            "'order_completed'?",
        ),
        (
            "{event: order_completed, where: [{property: categroy, op: eq, value: tv}]}",
            "rule.where[0].property: unknown property 'categroy' (not a column of 'events') — "
            "did you mean 'category'?",
        ),
        (
            "{event: order_completed, sum: {property: category, gte: 1}}",
            "rule.sum.property: sum needs a number property; 'category' is text",
        ),
        (
            "{event: order_completed, per: destinaton, count: {gte: 3}}",
            "rule.per: unknown property 'destinaton'",
        ),
        (
            "{attribute: age, op: contains, value: '3'}",
            "rule.op: attribute 'age' is number: op contains does not apply to a number column",
        ),
        (
            "{attribute: region, op: within_last, value: 30d}",
            "attribute 'region' is text: op within_last does not apply to a text column",
        ),
        (
            "{attribute: age, op: gt, value: thirty}",
            "rule.value: attribute 'age' is number: expected a number, got 'thirty'",
        ),
        (
            "{attribute: vip, op: eq, value: 'yes'}",
            "attribute 'vip' is boolean: expected true or false, got 'yes'",
        ),
        (
            "{attribute: signup_at, op: gt, value: soon}",
            "attribute 'signup_at' is timestamp: invalid date or instant 'soon'",
        ),
        (
            "{attribute: age, op: between, value: [40, 20]}",
            "between needs [low, high], got [40, 20]",
        ),
    ],
)
def test_schema_errors(
    config_dir: Callable[..., Path],
    store_factory: Callable[..., Store],
    rule: str,
    expected: str,
) -> None:
    issues = issues_for(config_dir, store_factory, rule)
    assert len(issues) == 1, issues
    assert expected in issues[0]


def test_valid_rule_has_no_issues(
    config_dir: Callable[..., Path], store_factory: Callable[..., Store]
) -> None:
    rule = (
        "{all: [{attribute: REGION, op: eq, value: CA}, {event: ' order_completed ', "
        "where: [{property: category, op: in, value: [electronics]}], sum: {property: amount, "
        "gte: 5}}, {near: {lat: 1, lon: 2, radius_km: 3}}, {attribute: age, op: eq, value: 30}]}"
    )
    assert issues_for(config_dir, store_factory, rule) == []


def test_metric_definitions_are_checked(
    config_dir: Callable[..., Path], store_factory: Callable[..., Store]
) -> None:
    metrics = (
        "aov: {event: order_completed, aggregate: avg, property: amont}\n"
        "clv: {attribute: region}\n"
        "n: {event: purchase, aggregate: count}\n"
    )
    issues = issues_for(config_dir, store_factory, "{metric: aov, gte: 1}", metrics)
    assert any(
        "metrics.yaml line 1: aov.property: unknown property 'amont'" in i
        and "did you mean 'amount'?" in i
        for i in issues
    )
    assert any(
        "metrics.yaml line 2: clv.attribute: a metric needs a number attribute" in i for i in issues
    )
    assert any("metrics.yaml line 3: n.event: unknown event 'purchase'" in i for i in issues)


def test_near_needs_coordinates(
    config_dir: Callable[..., Path], store_factory: Callable[..., Store]
) -> None:
    root = config_dir({"x": "name: x\nrule: {near: {lat: 1, lon: 2, radius_km: 3}}\n"})
    store = store_factory(
        [("p1", "a@x.com")],
        profile_columns="profile_id VARCHAR, email VARCHAR",
    )
    issues = [
        str(i)
        for i in check_against_schema(
            load_definitions(root, destination_models()), store.discover()
        )
    ]
    assert any("unknown attribute 'latitude'" in i for i in issues)
    assert any("unknown attribute 'longitude'" in i for i in issues)
