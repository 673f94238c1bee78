"""Traits against the ESP's real fields, for ``validate``: each destination whose ESP types
its fields (``EspSpec.typed_fields``) is read as ``doctor`` reads it, and every trait's values
must fit its field's actual type (``check_traits_against_esp``), with a located error.

A destination that cannot be read (no key set, ESP unreachable) is not a config error: it is
listed as unchecked, and ``doctor`` says why.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from connector.definitions.loader import Definitions
from connector.definitions.trait_checks import check_traits_against_esp
from connector.errors import ConnectorError, Issue
from connector.esp.registry import adapter_for, spec_for
from connector.settings import RetrySettings, Settings
from connector.source.schema import StoreSchema

__all__ = ["FieldCheck", "check_trait_fields"]


@dataclass
class FieldCheck:
    issues: list[Issue] = field(default_factory=list)
    #: "destination: why" for destinations whose fields could not be read
    unchecked: list[str] = field(default_factory=list)


def check_trait_fields(
    defs: Definitions, settings: Settings, schema: StoreSchema | None
) -> FieldCheck:
    """Read the field types of every destination with traits on a typed-field ESP."""
    result = FieldCheck()
    # validate must not wait minutes for an ESP that is away: two tries
    settings = settings.model_copy(
        update={
            "retry": RetrySettings(max_attempts=2, max_seconds=20.0, initial_backoff_seconds=0.5)
        }
    )
    for name, destination in sorted(defs.destinations.items()):
        if not destination.traits or not spec_for(destination).typed_fields:
            continue
        try:
            adapter = adapter_for(destination, settings)
            try:
                actual = adapter.field_types(sorted(destination.traits))
            finally:
                adapter.close()
        except ConnectorError as exc:  # no key, unreachable: `doctor` is the place for it
            result.unchecked.append(f"{name}: {exc}")
            continue
        result.issues += check_traits_against_esp(defs, name, actual, schema)
    return result
