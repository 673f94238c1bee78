"""dedupe_contacts: one contact per normalised email, consent only if every copy has it."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from connector.esp.base import Contact, dedupe_contacts

_emails = st.sampled_from(["a@x.com", "A@x.com ", "b@x.com", " b@X.com"])
_fields = st.dictionaries(st.sampled_from(["F", "G"]), st.none() | st.integers(0, 3), max_size=2)
_contacts = st.builds(
    Contact,
    _emails,
    st.booleans(),
    _fields,
    st.frozensets(st.sampled_from(["F", "H"]), max_size=2),
)


@given(st.lists(_contacts, max_size=6))
def test_dedupe_merges_copies_like_the_definition(contacts: list[Contact]) -> None:
    expected: dict[str, tuple[bool, dict[str, object], frozenset[str]]] = {}
    for c in contacts:
        email = c.email.strip().lower()
        fields = {k: v for k, v in c.fields.items() if v is not None}
        if email in expected:
            consent, before, cleared = expected[email]
            merged = {**before, **fields}
            expected[email] = (consent and c.consent, merged, (cleared | c.cleared) - merged.keys())
        else:
            expected[email] = (c.consent, fields, c.cleared)
    got = {c.email: (c.consent, dict(c.fields), c.cleared) for c in dedupe_contacts(contacts)}
    assert got == expected
