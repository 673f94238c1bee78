"""Why is a profile in or out of a segment: every condition's value and result for it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlglot import exp

from connector.definitions.checks import raise_for_schema
from connector.definitions.conditions import Condition
from connector.definitions.describe import describe
from connector.definitions.loader import Definitions
from connector.definitions.walk import Path, children, has_esp_conditions, iter_nodes
from connector.errors import ConfigError
from connector.evaluate.compile import RuleCompiler, Trace
from connector.evaluate.identity import is_held_out, normalise_email
from connector.evaluate.sql import col, lit
from connector.source.schema import ColumnType
from connector.source.store import Store

__all__ = ["Explanation", "NodeResult", "explain_profile"]


@dataclass(frozen=True)
class NodeResult:
    path: Path
    depth: int
    text: str
    result: bool | None  # None: decided by the ESP
    value: Any = None
    has_value: bool = False
    extra: dict[str, Any] | None = None


@dataclass(frozen=True)
class Explanation:
    segment: str
    profile_id: Any
    as_of: datetime
    nodes: list[NodeResult]
    qualifies: bool | None
    member: bool | None  # after exclusive groups
    excluded_by: str | None
    held_out: bool
    email: str | None
    raw_email: Any
    consent: bool


def _collect(compiler: RuleCompiler, node: Condition, path: Path, trace: Trace) -> None:
    """Compile every ESP-free subtree with tracing; ESP-dependent nodes stay undecided."""
    if not has_esp_conditions(node):
        compiler.compile(node, path, trace)
        return
    for child, child_path in children(node, path):
        _collect(compiler, child, child_path, trace)


def _profile_key(raw: str, kind: ColumnType) -> Any:
    if kind is ColumnType.NUMBER:
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"profile id '{raw}' is not a number", file="PROFILE_ID") from None
    return raw


def explain_profile(
    store: Store, defs: Definitions, name: str, profile_id: str, *, as_of: datetime
) -> Explanation:
    """Evaluate segment ``name`` for one profile, node by node."""
    segment = defs.segments[name]
    group = segment.exclusive_group
    rivals = sorted(
        (n for n, s in defs.segments.items() if group and s.exclusive_group == group and n != name),
    )
    schema = store.discover()
    raise_for_schema(defs, schema, [name, *rivals])
    compiler = RuleCompiler(defs, schema, as_of)
    trace = Trace()
    _collect(compiler, segment.rule, ("rule",), trace)
    outputs: list[tuple[str, exp.Expr]] = []
    labels: list[tuple[str, Path]] = []
    for index, (path, expr) in enumerate(trace.results.items()):
        outputs.append((f"__res{index}", expr))
        labels.append(("result", path))
    for index, (path, expr) in enumerate(trace.values.items()):
        outputs.append((f"__val{index}", expr))
        labels.append(("value", path))
    for index, rival in enumerate(rivals):
        outputs.append((f"__rival{index}", compiler.segment(rival)))
        labels.append(("rival", (rival,)))
    key = _profile_key(profile_id, schema.profile_id_type)
    query = compiler.query(
        outputs, where=exp.EQ(this=col(schema.layout.profile_id), expression=lit(key))
    )
    rows = store.rows(query)
    if not rows:
        raise ConfigError(
            f"profile '{profile_id}' not found in the customer store", file="PROFILE_ID"
        )
    row = rows[0]
    results: dict[Path, bool] = {}
    values: dict[Path, Any] = {}
    rival_in: dict[str, bool] = {}
    # after profile_id, email, email_key and consent
    for (kind, path), value in zip(labels, row[4:], strict=True):
        if kind == "result":
            results[path] = bool(value)
        elif kind == "value":
            values[path] = value
        else:
            rival_in[str(path[0])] = bool(value)
    nodes = []
    for node, path in iter_nodes(segment.rule):
        extra = (
            {"cume_dist": values[(*path, "cume_dist")]} if (*path, "cume_dist") in values else None
        )
        nodes.append(
            NodeResult(
                path=path,
                depth=sum(1 for p in path if isinstance(p, int) or p == "not"),
                text=describe(node),
                result=results.get(path),
                value=values.get(path),
                has_value=path in values,
                extra=extra,
            )
        )
    qualifies = results.get(("rule",))
    excluded_by = None
    if qualifies and group:
        order = sorted([name, *rivals], key=lambda n: (-defs.segments[n].priority, n))
        for other in order:
            if other == name:
                break
            if rival_in.get(other):
                excluded_by = other
                break
    member = None if qualifies is None else bool(qualifies and excluded_by is None)
    return Explanation(
        segment=name,
        profile_id=row[0],
        as_of=as_of,
        nodes=nodes,
        qualifies=qualifies,
        member=member,
        excluded_by=excluded_by,
        held_out=bool(member) and is_held_out(name, row[0], segment.holdout),
        email=normalise_email(row[1]),
        raw_email=row[1],
        consent=bool(row[2]),
    )
