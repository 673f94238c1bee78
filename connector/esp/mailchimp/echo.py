"""Were the merge fields segsync sent stored? Told by Mailchimp's answers, not asked first.

A member object Mailchimp answers with (batch subscribe's ``new_members`` /
``updated_members``, a PATCH's body, each PATCH result in a ``POST /batches`` archive)
carries ``merge_fields``: every merge field of the audience, by tag. A tag segsync sent that
is not there was not stored: the audience has no such field (deleted, or never created).
Whether Mailchimp drops an unknown tag silently or refuses the member for it, the
reference does not say (EMULATOR_GAPS.md): a tag missing from an answer, or sent for a
member that was refused, is only a suspect, which one read of the audience's merge fields
settles (``MailchimpAdapter.missing_fields``), so that read is made only when something
looks wrong, never on a sync that goes well.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from typing import Any

from connector.esp.base import Contact

__all__ = ["ECHO_FIELDS", "EchoCheck", "sent_tags"]

#: what batch subscribe is asked for, beside its usual fields, while a tag is unconfirmed
ECHO_FIELDS = ("new_members.merge_fields", "updated_members.merge_fields")


def sent_tags(contact: Contact) -> set[str]:
    """The merge tags sent for ``contact`` (values and fields to clear), upper-cased."""
    return {str(tag).upper() for tag in (*contact.fields, *contact.cleared)}


class EchoCheck:
    """Per adapter (one run): the tags some answer confirmed, and per push the suspects."""

    def __init__(self) -> None:
        self._confirmed: set[str] = set()
        self._lock = threading.Lock()

    def wanted(self, contacts: Iterable[Contact]) -> bool:
        """Whether an answer must echo merge fields: some tag sent is not confirmed yet
        (once one answer showed a tag, the audience has that field for the run)."""
        with self._lock:
            confirmed = set(self._confirmed)
        return any(sent_tags(c) - confirmed for c in contacts)

    def answered(self, contact: Contact, echo: Any, suspects: set[str]) -> None:
        """A member answered for ``contact`` with ``echo`` (its ``merge_fields``): the tags
        sent that it lacks are suspects (all of them when it has none)."""
        sent = sent_tags(contact)
        if not sent:
            return
        have = {str(tag).upper() for tag in echo} if isinstance(echo, Mapping) else set()
        with self._lock:
            self._confirmed |= sent & have
        suspects.update(sent - have)

    def refused(self, contact: Contact, suspects: set[str]) -> None:
        """``contact`` was refused: any unconfirmed tag sent for it may be why."""
        with self._lock:
            suspects.update(sent_tags(contact) - self._confirmed)
