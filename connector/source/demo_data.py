"""The demo store's synthetic customers, generated with numpy (vectorised, deterministic).

Each chunk of profiles has its own random generator (``default_rng([seed, chunk])``), so a
chunk's data depends only on the seed, ``as_of`` and its position — never on how many
chunks follow. Text is generated as small integer codes; ``demo.py`` turns the codes into
text inside DuckDB, which is much faster than building Python strings.

Behaviour is shaped so the demo segments have sensible sizes: a cohort of frequent
electronics buyers, carts added (and sometimes abandoned) in the last 24 hours, lapsed
customers with a high average order value, expats who fly home several times a year, new
subscribers, and people living near the stores.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

__all__ = [
    "CATEGORIES",
    "CHUNK_PROFILES",
    "CITIES",
    "DESTINATIONS",
    "DOMAINS",
    "EVENT_NAMES",
    "FIRST_NAMES",
    "INTERESTS",
    "LAST_NAMES",
    "STAGES",
    "Chunk",
    "generate_chunk",
]

CHUNK_PROFILES = 50_000
HISTORY_DAYS = 400.0
DAY = 86_400
#: the background event rates below give about this many events per profile
BASE_EVENTS_PER_PROFILE = 14.0

# state, city, latitude, longitude, airport, share of customers (weights)
CITIES: tuple[tuple[str, str, float, float, str, float], ...] = (
    ("CA", "Los Angeles", 34.0522, -118.2437, "LAX", 5.5),
    ("CA", "San Francisco", 37.7749, -122.4194, "SFO", 3.5),
    ("CA", "San Diego", 32.7157, -117.1611, "SAN", 2.5),
    ("CA", "San Jose", 37.3382, -121.8863, "SJC", 2.0),
    ("CA", "Sacramento", 38.5816, -121.4944, "SMF", 1.5),
    ("NY", "New York", 40.7128, -74.0060, "JFK", 7.0),
    ("NY", "Buffalo", 42.8864, -78.8784, "BUF", 1.0),
    ("NY", "Rochester", 43.1566, -77.6088, "ROC", 0.8),
    ("TX", "Houston", 29.7604, -95.3698, "IAH", 3.0),
    ("TX", "Dallas", 32.7767, -96.7970, "DFW", 2.8),
    ("TX", "Austin", 30.2672, -97.7431, "AUS", 1.8),
    ("TX", "San Antonio", 29.4241, -98.4936, "SAT", 1.4),
    ("FL", "Miami", 25.7617, -80.1918, "MIA", 2.8),
    ("FL", "Orlando", 28.5383, -81.3792, "MCO", 1.8),
    ("FL", "Tampa", 27.9506, -82.4572, "TPA", 1.6),
    ("IL", "Chicago", 41.8781, -87.6298, "ORD", 4.5),
    ("WA", "Seattle", 47.6062, -122.3321, "SEA", 3.2),
    ("WA", "Spokane", 47.6588, -117.4260, "GEG", 0.6),
    ("MA", "Boston", 42.3601, -71.0589, "BOS", 3.0),
    ("GA", "Atlanta", 33.7490, -84.3880, "ATL", 3.0),
    ("CO", "Denver", 39.7392, -104.9903, "DEN", 2.6),
    ("AZ", "Phoenix", 33.4484, -112.0740, "PHX", 2.6),
    ("PA", "Philadelphia", 39.9526, -75.1652, "PHL", 2.4),
    ("PA", "Pittsburgh", 40.4406, -79.9959, "PIT", 1.2),
    ("OR", "Portland", 45.5152, -122.6784, "PDX", 2.0),
    ("NV", "Las Vegas", 36.1699, -115.1398, "LAS", 1.8),
    ("NC", "Charlotte", 35.2271, -80.8431, "CLT", 1.8),
    ("NC", "Raleigh", 35.7796, -78.6382, "RDU", 1.2),
    ("MI", "Detroit", 42.3314, -83.0458, "DTW", 2.0),
    ("MN", "Minneapolis", 44.9778, -93.2650, "MSP", 1.8),
    ("NJ", "Newark", 40.7357, -74.1724, "EWR", 1.6),
    ("OH", "Columbus", 39.9612, -82.9988, "CMH", 1.5),
    ("OH", "Cleveland", 41.4993, -81.6944, "CLE", 1.0),
    ("DC", "Washington", 38.9072, -77.0369, "DCA", 1.5),
    ("VA", "Richmond", 37.5407, -77.4360, "RIC", 1.0),
    ("TN", "Nashville", 36.1627, -86.7816, "BNA", 1.4),
    ("UT", "Salt Lake City", 40.7608, -111.8910, "SLC", 1.0),
    ("MO", "St. Louis", 38.6270, -90.1994, "STL", 1.0),
    ("HI", "Honolulu", 21.3069, -157.8583, "HNL", 0.6),
)
STAGES = ("new", "active", "at_risk", "lapsed", "vip")
_STAGE_SHARE = (0.12, 0.38, 0.15, 0.27, 0.08)
NEW, ACTIVE, AT_RISK, LAPSED, VIP = range(5)

FIRST_NAMES = (
    # 0-19 female, 20-39 male
    "Emma", "Olivia", "Ava", "Sophia", "Isabella", "Mia", "Amelia", "Harper", "Evelyn",
    "Abigail", "Maria", "Camila", "Priya", "Mei", "Aisha", "Grace", "Chloe", "Lucia",
    "Hannah", "Zoe",
    "Liam", "Noah", "Oliver", "Elijah", "James", "William", "Benjamin", "Lucas", "Henry",
    "Mateo", "Jose", "Wei", "Arjun", "Omar", "Daniel", "Samuel", "David", "Ethan",
    "Kenji", "Jack",
)  # fmt: skip
LAST_NAMES = (
    "smith", "johnson", "williams", "brown", "jones", "garcia", "miller", "davis",
    "rodriguez", "martinez", "hernandez", "lopez", "gonzalez", "wilson", "anderson",
    "thomas", "taylor", "moore", "jackson", "martin", "lee", "perez", "thompson", "white",
    "harris", "sanchez", "clark", "ramirez", "lewis", "robinson", "nguyen", "kim", "patel",
    "chen", "singh",
)  # fmt: skip
DOMAINS = ("gmail.com", "yahoo.com", "outlook.com", "icloud.com", "hotmail.com", "aol.com",
           "proton.me", "comcast.net")  # fmt: skip
_DOMAIN_SHARE = (0.42, 0.14, 0.12, 0.12, 0.08, 0.04, 0.04, 0.04)
GENDERS = ("female", "male", "non_binary")

CATEGORIES = ("electronics", "fashion", "home", "beauty", "books", "sports", "toys", "grocery")
_CATEGORY_SHARE = (0.16, 0.22, 0.14, 0.12, 0.08, 0.1, 0.06, 0.12)
_PRICE_MEDIAN = (190.0, 55.0, 85.0, 28.0, 16.0, 65.0, 32.0, 38.0)
INTERESTS = (*CATEGORIES, "travel", "outdoors")
_INTEREST_SHARE = (0.25, 0.3, 0.22, 0.2, 0.15, 0.18, 0.1, 0.12, 0.2, 0.15)
ELECTRONICS = 0
TRAVEL_INTEREST = 8

DESTINATIONS = (
    "MEX", "MNL", "DEL", "LHR", "DUB", "LIS", "ICN", "YYZ", "SJU", "BOG",  # expats' homes
    "GRU", "CDG", "CUN", "NRT", "HNL", "JFK", "LAS", "MCO", "FRA", "FCO",
    "MAD", "BCN", "AMS", "SYD", "MIA", "LAX", "ORD", "SFO", "SEA", "DEN",
)  # fmt: skip
_EXPAT_SHARE = (0.22, 0.13, 0.12, 0.1, 0.08, 0.07, 0.08, 0.08, 0.07, 0.05)

EVENT_NAMES = (
    "page_view", "product_view", "added_to_cart", "order_completed", "flight_booked",
    "email_open",
)  # fmt: skip
PAGE, PRODUCT, CART, ORDER, FLIGHT, OPEN = range(6)

# background events per active day, by lifecycle stage (new, active, at_risk, lapsed, vip)
_RATES = {
    PAGE: (0.3, 0.024, 0.019, 0.016, 0.036),
    PRODUCT: (0.16, 0.012, 0.01, 0.008, 0.02),
    CART: (0.035, 0.003, 0.0025, 0.0022, 0.006),
    ORDER: (0.014, 0.0055, 0.0045, 0.0045, 0.016),
    OPEN: (0.05, 0.007, 0.005, 0.003, 0.012),  # people with consent only
    FLIGHT: (0.004, 0.004, 0.004, 0.004, 0.005),  # travellers only
}


@dataclass
class Chunk:
    """One chunk of profiles and their events, as numeric arrays (codes for text).

    Missing values: ``-1`` in code arrays, ``NaN`` in float arrays.
    """

    profiles: dict[str, np.ndarray]
    events: dict[str, np.ndarray]


def _pick(rng: np.random.Generator, shares: tuple[float, ...], size: int) -> np.ndarray:
    weights = np.asarray(shares, dtype=float)
    return rng.choice(len(weights), size=size, p=weights / weights.sum())


def _epoch_us(moment: datetime) -> int:
    return int(moment.replace(tzinfo=UTC).timestamp()) * 1_000_000


@dataclass
class _People:
    """Per-profile hidden traits that drive behaviour."""

    stage: np.ndarray
    lo: np.ndarray  # days before as_of of the latest activity
    hi: np.ndarray  # days before as_of of the earliest activity
    engagement: np.ndarray
    spend: np.ndarray
    favourite: np.ndarray
    interests: np.ndarray  # bit mask over INTERESTS
    consent: np.ndarray
    traveller: np.ndarray


def _profiles(
    rng: np.random.Generator, first_id: int, n: int, as_of_us: int
) -> tuple[dict[str, np.ndarray], _People]:
    stage = _pick(rng, _STAGE_SHARE, n)
    city = _pick(rng, tuple(c[5] for c in CITIES), n)
    lat0 = np.array([c[2] for c in CITIES])[city]
    lon0 = np.array([c[3] for c in CITIES])[city]
    no_location = rng.random(n) < 0.03
    latitude = np.where(no_location, np.nan, np.round(lat0 + rng.normal(0, 0.12, n), 5))
    longitude = np.where(no_location, np.nan, np.round(lon0 + rng.normal(0, 0.15, n), 5))

    # activity window, in days before as_of: latest (lo) and earliest (hi) activity
    lo = np.zeros(n)
    lo = np.where(stage == AT_RISK, rng.uniform(45, 120, n), lo)
    lo = np.where(stage == LAPSED, rng.uniform(100, 380, n), lo)
    signup_days = np.where(stage == NEW, rng.uniform(0.2, 30, n), lo + rng.uniform(40, 2000, n))
    hi = np.minimum(signup_days, HISTORY_DAYS)

    gender = _pick(rng, (0.49, 0.47, 0.02, 0.02), n)  # the last one: unknown (NULL)
    first = np.where(
        gender == 0,
        rng.integers(0, 20, n),
        np.where(gender == 1, rng.integers(20, 40, n), rng.integers(0, 40, n)),
    )
    last = rng.integers(0, len(LAST_NAMES), n)
    domain = _pick(rng, _DOMAIN_SHARE, n)
    email_number = rng.integers(1, 100, n) * 10_000 + (first_id + np.arange(n)) % 10_000
    # a few people share one address (a couple, a shared family inbox)
    shared = np.flatnonzero(rng.random(n) < 0.01)
    shared = shared[shared > 0]
    for array in (first, last, domain, email_number):
        array[shared] = array[shared - 1]
    # 0 fine, 1 missing, 2 invalid, 3 upper case, 4 padded with spaces
    email_quirk = _pick(rng, (0.915, 0.025, 0.02, 0.025, 0.015), n)

    bits = rng.random((n, len(INTERESTS))) < np.asarray(_INTEREST_SHARE)
    interests = (bits * (1 << np.arange(len(INTERESTS)))).sum(axis=1)
    liked = bits[:, : len(CATEGORIES)] * rng.random((n, len(CATEGORIES)))
    favourite = np.where(
        liked.max(axis=1) > 0, liked.argmax(axis=1), _pick(rng, _CATEGORY_SHARE, n)
    )
    consent = rng.random(n) < np.where(stage == VIP, 0.85, 0.69)
    age = np.clip(np.round(rng.normal(41, 14, n)), 18, 90)
    age = np.where(rng.random(n) < 0.04, np.nan, age)
    spend = rng.lognormal(0.0, 0.45, n)
    clv_median = np.array([60.0, 320.0, 180.0, 70.0, 1400.0])[stage]
    clv = np.round(clv_median * spend * rng.lognormal(0, 0.35, n), 2)
    unknown_clv = ((stage == NEW) & (rng.random(n) < 0.8)) | (rng.random(n) < 0.05)
    clv = np.where(unknown_clv, np.nan, clv)
    signup_us = as_of_us - np.round(signup_days * DAY).astype(np.int64) * 1_000_000

    profiles = {
        "pid": first_id + np.arange(n, dtype=np.int64),
        "first": first.astype(np.int16),
        "last": last.astype(np.int16),
        "domain": domain.astype(np.int8),
        "email_number": email_number.astype(np.int64),
        "email_quirk": email_quirk.astype(np.int8),
        "consent": consent,
        "gender": np.where(gender == 3, -1, gender).astype(np.int8),
        "age": age,
        "city": city.astype(np.int16),
        "latitude": latitude,
        "longitude": longitude,
        "stage": stage.astype(np.int8),
        "signup_at": signup_us.astype("datetime64[us]"),
        "interests": interests.astype(np.int16),
        "clv": clv,
    }
    traveller = ((interests >> TRAVEL_INTEREST) & 1).astype(bool) | (rng.random(n) < 0.08)
    people = _People(
        stage=stage,
        lo=lo,
        hi=hi,
        engagement=rng.lognormal(-0.1, 0.5, n),
        spend=spend,
        favourite=favourite,
        interests=interests,
        consent=consent,
        traveller=traveller,
    )
    return profiles, people


class _Events:
    """Accumulates event arrays (owner row, kind, days before as_of, properties)."""

    def __init__(self) -> None:
        self.parts: list[dict[str, np.ndarray]] = []

    def add(
        self,
        owner: np.ndarray,
        kind: int,
        days: np.ndarray,
        *,
        category: np.ndarray | None = None,
        product: np.ndarray | None = None,
        amount: np.ndarray | None = None,
        destination: np.ndarray | None = None,
    ) -> None:
        m = len(owner)
        missing = np.full(m, -1, dtype=np.int16)
        self.parts.append(
            {
                "owner": owner.astype(np.int32),
                "kind": np.full(m, kind, dtype=np.int8),
                "days": days,
                "category": missing if category is None else category.astype(np.int16),
                "product": missing.astype(np.int32) if product is None else product,
                "amount": np.full(m, np.nan) if amount is None else amount,
                "destination": missing if destination is None else destination.astype(np.int16),
            }
        )

    def arrays(self) -> dict[str, np.ndarray]:
        return {key: np.concatenate([p[key] for p in self.parts]) for key in self.parts[0]}


def _shop(
    rng: np.random.Generator, people: _People, owner: np.ndarray, favourite_share: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Category, product and price of shopping events of ``owner`` rows."""
    m = len(owner)
    category = np.where(
        rng.random(m) < favourite_share, people.favourite[owner], _pick(rng, _CATEGORY_SHARE, m)
    )
    return category, *_item(rng, people, owner, category)


def _item(
    rng: np.random.Generator, people: _People, owner: np.ndarray, category: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    m = len(owner)
    # popular products are bought more: a Zipf-like rank within the category
    rank = np.minimum(np.floor(rng.pareto(1.2, m) * 8), 399).astype(np.int32)
    product = category.astype(np.int32) * 1000 + rank
    median = np.asarray(_PRICE_MEDIAN)[category]
    price = np.round(median * people.spend[owner] * rng.lognormal(0, 0.35, m), 2)
    return product, np.maximum(price, 1.0)


def _background(rng: np.random.Generator, people: _People, scale: float, out: _Events) -> None:
    span = people.hi - people.lo
    for kind, rates in _RATES.items():
        lam = np.asarray(rates)[people.stage] * span * people.engagement * scale
        if kind == OPEN:
            lam = lam * people.consent
        elif kind == FLIGHT:
            lam = lam * people.traveller
        owner = np.repeat(np.arange(len(span)), rng.poisson(lam))
        days = people.lo[owner] + span[owner] * rng.random(len(owner))
        if kind in (PRODUCT, CART, ORDER):
            category, product, price = _shop(rng, people, owner, 0.55)
            amount = price if kind != PRODUCT else None
            out.add(owner, kind, days, category=category, product=product, amount=amount)
        elif kind == FLIGHT:
            dest = rng.integers(0, len(DESTINATIONS), len(owner))
            fare = np.round(rng.lognormal(np.log(420), 0.5, len(owner)), 2)
            out.add(owner, kind, days, destination=dest, amount=fare)
        else:
            out.add(owner, kind, days)


def _cohorts(rng: np.random.Generator, people: _People, out: _Events) -> None:
    n = len(people.stage)
    stage = people.stage
    engaged = np.isin(stage, (ACTIVE, VIP, AT_RISK))
    likes_electronics = ((people.interests >> ELECTRONICS) & 1).astype(bool)

    # frequent electronics buyers: four or more electronics orders in the last 30 days
    fans = np.flatnonzero(engaged & likes_electronics & (rng.random(n) < 0.3))
    owner = np.repeat(fans, 4 + rng.poisson(1.5, len(fans)))
    category = np.full(len(owner), ELECTRONICS)
    product, price = _item(rng, people, owner, category)
    out.add(owner, ORDER, rng.uniform(0.05, 29.5, len(owner)), category=category,
            product=product, amount=price)  # fmt: skip

    # carts added in the last 24 hours; a bit under half end in an order shortly after
    shoppers = np.flatnonzero(np.isin(stage, (NEW, ACTIVE, VIP)) & (rng.random(n) < 0.02))
    cart_days = rng.uniform(0.25, 23.5, len(shoppers)) / 24
    category, product, price = _shop(rng, people, shoppers, 0.7)
    out.add(shoppers, CART, cart_days, category=category, product=product, amount=price)
    bought = rng.random(len(shoppers)) < 0.45
    order_days = cart_days[bought] * rng.uniform(0.02, 0.9, int(bought.sum()))
    out.add(shoppers[bought], ORDER, order_days, category=category[bought],
            product=product[bought], amount=price[bought])  # fmt: skip

    # expats: three or more flights a year to the same (home) destination
    expats = np.flatnonzero((stage != NEW) & (rng.random(n) < 0.008))
    home = _pick(rng, _EXPAT_SHARE, len(expats))
    flights = 3 + rng.poisson(1.2, len(expats))
    owner = np.repeat(expats, flights)
    dest = np.repeat(home, flights)
    fare = np.round(rng.lognormal(np.log(650), 0.35, len(owner)), 2)
    out.add(owner, FLIGHT, rng.uniform(2, 360, len(owner)), destination=dest, amount=fare)


def generate_chunk(
    seed: int, index: int, first_id: int, n: int, as_of: datetime, scale: float = 1.0
) -> Chunk:
    """Profiles ``first_id .. first_id + n - 1`` and their events, sorted by time.

    ``scale`` multiplies the background event rates (1.0 ≈ 14 events per profile).
    """
    rng = np.random.default_rng([seed, index])
    as_of_us = _epoch_us(as_of)
    profiles, people = _profiles(rng, first_id, n, as_of_us)
    out = _Events()
    _background(rng, people, scale, out)
    _cohorts(rng, people, out)
    events = out.arrays()
    seconds = np.maximum(np.round(events.pop("days") * DAY).astype(np.int64), 1)
    ts = as_of_us - seconds * 1_000_000
    # grouped by profile, each profile's events in time order (an event table clustered by
    # customer); a stable sort keeps ties in generation order on every machine
    key = events["owner"].astype(np.int64) * (1 << 27) - seconds
    order = np.argsort(key, kind="stable")
    events = {name: values[order] for name, values in events.items()}
    events["pid"] = first_id + events.pop("owner").astype(np.int64)
    events["ts"] = ts[order].astype("datetime64[us]")
    return Chunk(profiles=profiles, events=events)
