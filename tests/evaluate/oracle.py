"""A plain-Python evaluator of segment rules: the independent check of ``connector.evaluate``.

Written from the semantics in docs/design.md and the README's
"Exact semantics", never from the SQL compiler. It reads the rules as the raw mappings of the
YAML files (not the pydantic models), the store as lists of dicts, and computes, for every
profile, who qualifies for each rule, who stays a member after exclusive groups, and who is
held out. It is slow and obvious on purpose: one function per rule of the language.

Column types are given explicitly (``"text" | "number" | "boolean" | "timestamp" | "date"``)
because a column of NULLs has no Python type to infer one from.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

__all__ = [
    "EARTH_RADIUS_KM",
    "SUM_SCALE",
    "Oracle",
    "OracleResult",
    "OracleStore",
    "exact_amount",
    "haversine_km",
    "held_out",
    "normalise_email",
    "parse_duration",
    "parse_instant",
]

Row = dict[str, Any]
Rule = Mapping[str, Any]

EARTH_RADIUS_KM = 6371.0
TIME_KINDS = ("timestamp", "date")
#: each negative operator is ``not`` of its positive twin (docs/design.md: two values)
NEGATIVE_OPS = {
    "neq": "eq",
    "not_in": "in",
    "not_contains": "contains",
    "not_exists": "exists",
    "not_within_last": "within_last",
}
COMPARATORS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda a, b: a == b,
    "neq": lambda a, b: a != b,
    "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "lte": lambda a, b: a <= b,
}
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


# -- values -------------------------------------------------------------------------------
#: sums add each value rounded to this many decimal places (half away from zero), exactly
SUM_SCALE = 6


def exact_amount(value: Any) -> Decimal:
    """A number as ``sum`` adds it: its decimal value rounded to ``SUM_SCALE`` places."""
    return Decimal(repr(value)).quantize(Decimal(1).scaleb(-SUM_SCALE), ROUND_HALF_UP)


def parse_duration(text: str) -> timedelta:
    """``30d`` → 30 days (integer + m/h/d/w)."""
    match = re.fullmatch(r"\s*(\d+)\s*([mhdw])\s*", text)
    assert match, f"not a duration: {text!r}"
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def parse_instant(value: Any) -> datetime:
    """An ISO date (00:00 UTC that day) or instant, as a naive UTC datetime."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    else:
        text = str(value).strip()
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            return datetime.combine(date.fromisoformat(text), datetime.min.time())
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def text_key(value: str, case_sensitive: bool = False) -> str:
    """How text compares: trimmed of spaces, and lower-cased unless case-sensitive."""
    trimmed = value.strip(" ")
    return trimmed if case_sensitive else trimmed.lower()


def group_key(value: Any) -> Any:
    """``per`` groups (and event names) compare like text: trimmed, lower-cased."""
    return text_key(value) if isinstance(value, str) else value


def normalise_email(raw: Any) -> str | None:
    """Trimmed, lower-cased; ``None`` unless it looks like ``local@domain.tld``."""
    if not isinstance(raw, str):
        return None
    email = raw.strip().lower()
    local, at, domain = email.partition("@")
    labels = domain.split(".")
    valid = (
        at == "@"
        and local
        and "@" not in domain
        and len(labels) >= 2
        and all(labels[1:])
        and labels[0]
        and not any(c.isspace() for c in email)
    )
    return email if valid else None


def held_out(segment: str, profile_id: Any, holdout: float) -> bool:
    """The holdout of docs/design.md with ``holdout * 100`` taken exactly (0.07 % is 7 of 10000)."""
    digest = hashlib.sha256(f"{segment}:{profile_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 10000 < Fraction(str(holdout)) * 100


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance on a sphere of radius 6371 km."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def comparisons_hold(value: Any, spec: Mapping[str, Any]) -> bool:
    """All of ``{gte: 2, lte: 5}`` hold; any comparison on NULL (``neq`` too) is false."""
    given = [(op, spec[op]) for op in COMPARATORS if op in spec]
    if value is None:
        return False
    return all(COMPARATORS[op](value, bound) for op, bound in given)


# -- the store ----------------------------------------------------------------------------
@dataclass
class OracleStore:
    """Profiles and events as rows, with each column's type."""

    profiles: list[Row]
    events: list[Row]
    profile_types: dict[str, str]
    event_types: dict[str, str]
    profile_id: str = "profile_id"
    email: str = "email"
    consent: str = "email_consent"
    event: str = "event"
    ts: str = "ts"
    latitude: str = "latitude"
    longitude: str = "longitude"


def resolve(name: str, columns: Iterable[str]) -> str:
    """The store's spelling of a column name: exact, else case-insensitive."""
    columns = list(columns)
    if name in columns:
        return name
    lowered = {c.lower(): c for c in columns}
    return lowered[name.lower()]


@dataclass
class OracleResult:
    """Per segment, per profile id: qualified (the rule), member, held out."""

    qualified: dict[str, dict[Any, bool]] = field(default_factory=dict)
    members: dict[str, dict[Any, bool]] = field(default_factory=dict)
    held_out: dict[str, dict[Any, bool]] = field(default_factory=dict)
    emails: dict[Any, str | None] = field(default_factory=dict)
    consent: dict[Any, bool] = field(default_factory=dict)  # NULL consent is no consent

    def parts(self) -> tuple[dict[str, dict[Any, bool]], ...]:
        return self.qualified, self.members, self.held_out


# -- the evaluator ------------------------------------------------------------------------
class Oracle:
    """Evaluate raw segment mappings (``{"name", "rule", ...}``) and metrics over a store."""

    def __init__(
        self,
        store: OracleStore,
        segments: Mapping[str, Mapping[str, Any]],
        metrics: Mapping[str, Mapping[str, Any]],
        as_of: datetime,
        previous: Mapping[str, Iterable[Any]] | None = None,
    ) -> None:
        self.store = store
        self.segments = segments
        self.metrics = metrics
        self.as_of = as_of
        #: per segment, who qualified at its last run (``hysteresis`` keeps them longer)
        self.previous = {name: set(ids) for name, ids in (previous or {}).items()}
        self._owner: str | None = None  # the segment whose rule is being evaluated
        # events after as_of do not exist
        self.events_of: dict[Any, list[Row]] = {}
        for ev in store.events:
            ts = ev[store.ts]
            if ts is not None and parse_instant(ts) <= as_of:
                self.events_of.setdefault(ev[store.profile_id], []).append(ev)
        self._metric_cache: dict[tuple[str, Any], Any] = {}
        self._rule_cache: dict[tuple[str, Any], bool] = {}

    # -- comparisons ------------------------------------------------------------------
    def compare(self, cond: Rule, row: Row, types: Mapping[str, str], column: str) -> bool:
        """An attribute or property condition ``{op, value, case_sensitive?}`` on ``row``."""
        op = cond["op"]
        if op in NEGATIVE_OPS:
            return not self.compare({**cond, "op": NEGATIVE_OPS[op]}, row, types, column)
        real = resolve(column, types)
        kind = types[real]
        value = row[real]
        if op == "exists":
            return value is not None and not (kind == "text" and text_key(value) == "")
        if value is None:
            return False
        case_sensitive = bool(cond.get("case_sensitive", False))
        if kind == "text":
            value = text_key(value, case_sensitive)

        def coerce(raw: Any) -> Any:
            if kind == "text":
                return text_key(raw if isinstance(raw, str) else str(raw), case_sensitive)
            if kind in TIME_KINDS:
                return parse_instant(raw)
            return raw

        if kind in TIME_KINDS:
            value = parse_instant(value)
        rule_value = cond.get("value")
        if op == "within_last":
            return self.as_of - parse_duration(rule_value) <= value <= self.as_of
        if op == "before":
            return bool(value < parse_instant(rule_value))
        if op == "after":
            return bool(value > parse_instant(rule_value))
        if op == "in":
            return value in [coerce(v) for v in rule_value]
        if op == "between":
            low, high = (coerce(v) for v in rule_value)
            return bool(low <= value <= high)
        if op == "contains":
            return coerce(rule_value) in value
        if op == "starts_with":
            return bool(value.startswith(coerce(rule_value)))
        if op == "ends_with":
            return bool(value.endswith(coerce(rule_value)))
        return COMPARATORS[op](value, coerce(rule_value))

    # -- events -----------------------------------------------------------------------
    def matching(
        self,
        profile_id: Any,
        event: str,
        where: Sequence[Rule] = (),
        within: str | None = None,
    ) -> list[Row]:
        """The profile's events (up to as_of) of that name, passing ``where`` and ``within``."""
        st = self.store
        start = self.as_of - parse_duration(within) if within else None
        found = []
        for ev in self.events_of.get(profile_id, []):
            name = ev[st.event]
            if name is None or text_key(name) != text_key(event):
                continue
            if start is not None and parse_instant(ev[st.ts]) < start:
                continue
            if all(self.compare(w, ev, st.event_types, w["property"]) for w in where):
                found.append(ev)
        return found

    def aggregate(self, kind: str, events: Sequence[Row], prop: str | None) -> Any:
        """count (0 when none) or sum/avg/min/max over non-NULL values (NULL when none)."""
        if kind == "count":
            return len(events)
        assert prop is not None
        real = resolve(prop, self.store.event_types)
        values = [ev[real] for ev in events if ev[real] is not None]
        if not values:
            return None
        # exact decimal sums, then the nearest double (compared with the rule's numbers);
        # avg is the exact quotient rounded to 6 places (half away from zero)
        if kind == "sum":
            return float(sum(exact_amount(v) for v in values))
        if kind == "avg":
            quotient = sum(exact_amount(v) for v in values) / len(values)
            return float(quotient.quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP))
        return min(values) if kind == "min" else max(values)

    def event_condition(self, cond: Rule, profile_id: Any) -> bool:
        events = self.matching(profile_id, cond["event"], cond.get("where", ()), cond.get("within"))
        if "not_followed_by" in cond:
            return self.not_followed_by(cond["not_followed_by"], profile_id, events)
        kind, spec = "count", {"gte": 1}
        for name in ("count", "sum", "avg", "min", "max"):
            if name in cond:
                kind, spec = name, cond[name]
        prop = spec.get("property")
        per = cond.get("per")
        if per is None:
            return comparisons_hold(self.aggregate(kind, events, prop), spec)
        real = resolve(per, self.store.event_types)
        groups: dict[Any, list[Row]] = {}
        for ev in events:
            if ev[real] is not None:  # NULL belongs to no group
                groups.setdefault(group_key(ev[real]), []).append(ev)
        return any(comparisons_hold(self.aggregate(kind, g, prop), spec) for g in groups.values())

    def not_followed_by(self, follow: Rule, profile_id: Any, events: Sequence[Row]) -> bool:
        if not events:
            return False
        ts = self.store.ts
        latest = max(parse_instant(ev[ts]) for ev in events)
        limit = latest + parse_duration(follow["within"]) if follow.get("within") else None
        for ev in self.matching(profile_id, follow["event"], follow.get("where", ())):
            moment = parse_instant(ev[ts])
            if latest < moment <= self.as_of and (limit is None or moment <= limit):
                return False
        return True

    # -- metrics ----------------------------------------------------------------------
    def metric_value(self, name: str, profile: Row) -> Any:
        key = (name, profile[self.store.profile_id])
        if key not in self._metric_cache:
            self._metric_cache[key] = self._metric_value(self.metrics[name], profile)
        return self._metric_cache[key]

    def _metric_value(self, metric: Mapping[str, Any], profile: Row) -> Any:
        if "attribute" in metric:
            return profile[resolve(metric["attribute"], self.store.profile_types)]
        pid = profile[self.store.profile_id]
        events = self.matching(pid, metric["event"], metric.get("where", ()), metric.get("within"))
        kind = metric["aggregate"]
        if kind == "days_since_last":
            if not events:
                return None
            latest = max(parse_instant(ev[self.store.ts]) for ev in events)
            return (self.as_of - latest) // timedelta(days=1)
        if kind == "distinct_count":
            real = resolve(metric["property"], self.store.event_types)
            return len({group_key(ev[real]) for ev in events if ev[real] is not None})
        return self.aggregate(kind, events, metric.get("property"))

    def metric_condition(self, cond: Rule, profile: Row) -> bool:
        name = cond["metric"]
        value = self.metric_value(name, profile)
        if "top_percent" not in cond and "bottom_percent" not in cond:
            return comparisons_hold(value, cond)
        if value is None:
            return False
        population = [
            v for p in self.store.profiles if (v := self.metric_value(name, p)) is not None
        ]
        if "top_percent" in cond:
            share = Fraction(sum(1 for v in population if v >= value), len(population))
            percent = Fraction(str(cond["top_percent"]))
        else:
            share = Fraction(sum(1 for v in population if v <= value), len(population))
            percent = Fraction(str(cond["bottom_percent"]))
        # hysteresis: a profile the owning segment held at its last run stays within P + N %
        kept = profile[self.store.profile_id] in self.previous.get(self._owner or "", set())
        if kept and cond.get("hysteresis"):
            percent = min(Fraction(100), percent + Fraction(str(cond["hysteresis"])))
        return share <= percent / 100

    # -- rules ------------------------------------------------------------------------
    def rule(self, node: Rule, profile: Row) -> bool:
        """Whether ``profile`` satisfies the condition ``node``."""
        st = self.store
        if "all" in node:
            return all(self.rule(child, profile) for child in node["all"])
        if "any" in node:
            return any(self.rule(child, profile) for child in node["any"])
        if "not" in node:
            return not self.rule(node["not"], profile)
        if "attribute" in node:
            return self.compare(node, profile, st.profile_types, node["attribute"])
        if "event" in node:
            return self.event_condition(node, profile[st.profile_id])
        if "metric" in node:
            return self.metric_condition(node, profile)
        if "near" in node:
            lat, lon = profile[st.latitude], profile[st.longitude]
            if lat is None or lon is None:
                return False
            near = node["near"]
            return haversine_km(lat, lon, near["lat"], near["lon"]) <= near["radius_km"]
        if "in_segment" in node:
            return self.qualifies(node["in_segment"], profile)
        raise AssertionError(f"the oracle cannot evaluate {dict(node)!r}")

    def qualifies(self, segment: str, profile: Row) -> bool:
        key = (segment, profile[self.store.profile_id])
        if key not in self._rule_cache:
            outer, self._owner = self._owner, segment
            try:
                self._rule_cache[key] = self.rule(self.segments[segment]["rule"], profile)
            finally:
                self._owner = outer
        return self._rule_cache[key]

    def run(self) -> OracleResult:
        """qualify → exclusive groups → holdout, for every segment and profile."""
        st = self.store
        result = OracleResult()
        profiles = st.profiles
        ids = [p[st.profile_id] for p in profiles]
        for name in self.segments:
            result.qualified[name] = {
                pid: self.qualifies(name, p) for pid, p in zip(ids, profiles, strict=True)
            }
            result.members[name] = dict(result.qualified[name])
        groups = {s.get("exclusive_group") for s in self.segments.values()} - {None}
        for group in groups:
            # higher priority first; equal priorities: the name that sorts first wins
            ranked = sorted(
                (n for n, s in self.segments.items() if s.get("exclusive_group") == group),
                key=lambda n: (-self.segments[n].get("priority", 0), n),
            )
            for pid in ids:
                winner = next((n for n in ranked if result.qualified[n][pid]), None)
                for n in ranked:
                    result.members[n][pid] = n == winner
        for name, segment in self.segments.items():
            holdout = segment.get("holdout", 0)
            result.held_out[name] = {
                pid: bool(result.members[name][pid] and holdout and held_out(name, pid, holdout))
                for pid in ids
            }
        result.emails = {p[st.profile_id]: normalise_email(p[st.email]) for p in st.profiles}
        result.consent = {p[st.profile_id]: p.get(st.consent) is True for p in st.profiles}
        return result
