"""Destinations (``config/destinations.yaml``): the ESP accounts segments are pushed to.

mailchimp-main:
  esp: mailchimp
  audience: a1b2c3d4e5
  plan_tier: essentials
  fields: {region: STATE}
  traits:
    CLVBAND: {bucket: {attribute: predicted_clv, edges: [100, 500], labels: [low, mid, high]}}
klaviyo-main:
  esp: klaviyo
  fields: {region: region}
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Annotated, Any, ClassVar, Literal, TypeAlias, Union, cast, get_args

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    TypeAdapter,
)
from pydantic_core import PydanticCustomError

from connector.definitions.traits import Trait, ValueKind
from connector.suggest import suggest

__all__ = [
    "Destination",
    "DestinationModels",
    "EspDestination",
    "GroupKind",
    "NewContacts",
]

NewContacts = Literal["consent_only", "never"]
#: what a materialised part becomes in the ESP
GroupKind = Literal["tag", "list"]


class EspDestination(BaseModel):
    """What every destination has; each ESP package subclasses it with its ``esp:`` value
    as a one-value ``Literal`` and its own settings (``connector/esp/<name>/destination.py``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: the ``esp:`` value; each ESP's model narrows it to its own name
    esp: str
    fields: dict[str, str] = Field(
        default_factory=dict,
        description="local profile attribute -> ESP field (merge tag / profile property)",
    )
    new_contacts: NewContacts = "consent_only"
    traits: dict[str, Trait] = Field(
        default_factory=dict,
        description="ESP field -> a value computed per profile (metric, attribute, "
        "top_value, bucket, map), pushed to every contact segsync manages there",
    )

    #: ESP field type (a trait's ``type:``) -> the value kinds it takes
    field_types: ClassVar[dict[str, frozenset[ValueKind]]] = {}
    #: value kind -> the field type a trait without ``type:`` is pushed as
    default_types: ClassVar[dict[ValueKind, str]] = {}
    #: field names whose type is fixed by the ESP -> that type
    fixed_types: ClassVar[dict[str, str]] = {}

    #: what a materialised part becomes in this ESP: declared once per ESP, here, and read
    #: by the planner, the adapters and every display
    group_kind: ClassVar[GroupKind]
    #: what the ESP calls a contact field, for messages
    field_noun: ClassVar[str] = "field"
    #: whether the ESP compares field names ignoring case
    field_names_ignore_case: ClassVar[bool] = False

    @classmethod
    def modes(cls) -> tuple[str, ...]:
        """The ``mode`` values a segment may use for this destination."""
        return ("auto", cls.group_kind, "segment")

    @classmethod
    def esp_name(cls) -> str:
        """The ``esp:`` value this model stands for (its ``Literal``)."""
        names = get_args(cls.model_fields["esp"].annotation)
        if len(names) != 1 or not isinstance(names[0], str):
            raise TypeError(f"{cls.__name__}.esp must be a Literal of one name")
        return names[0]


#: a destination as the code outside the ESP packages sees it: only what every ESP has
Destination: TypeAlias = EspDestination


class DestinationModels:
    """The destination model of each ESP, by ``esp:`` name: validates an entry of
    ``destinations.yaml`` as the model its ``esp:`` value names (a discriminated union, so
    an error names the fields of that ESP only), and describes it for the JSON Schema.

    Built from the ESP registry (``connector.esp.registry.destination_models()``) and handed to the
    loader, so the definitions name no ESP and a new ESP package needs no entry here.
    """

    def __init__(self, models: Iterable[type[EspDestination]]) -> None:
        self.models: Mapping[str, type[EspDestination]] = {m.esp_name(): m for m in models}
        if not self.models:
            raise ValueError("no destination models")
        self.names: tuple[str, ...] = tuple(self.models)
        tagged = tuple(Annotated[m, Tag(f"kind:{n}")] for n, m in self.models.items())
        # a union built at run time: pydantic reads it, mypy sees EspDestination
        union: Any = Union[tagged] if len(tagged) > 1 else tagged[0]  # noqa: UP007
        self._expected = f"esp must be {' or '.join(self.names)}"
        self.schema_type: Any = Annotated[
            union,
            Discriminator(
                self._tag,
                custom_error_type="destination_esp",
                custom_error_message=self._expected,
            ),
            BeforeValidator(self._known_esp),
        ]
        # typed alias: what it validates is always one of the models, an EspDestination
        self._adapter: TypeAdapter[EspDestination] = TypeAdapter(cast(Any, self.schema_type))

    def _tag(self, value: object) -> str | None:
        esp = value.get("esp") if isinstance(value, dict) else getattr(value, "esp", None)
        return f"kind:{esp}" if esp in self.models else None

    def _known_esp(self, value: Any) -> Any:
        esp = value.get("esp") if isinstance(value, dict) else None
        if isinstance(esp, str) and esp not in self.models:
            hint = suggest(esp, self.names)
            raise PydanticCustomError("destination_esp", f"{self._expected}{hint}")
        return value

    def validate(self, raw: Any) -> EspDestination:
        """One ``destinations.yaml`` entry as its ESP's model (pydantic's errors if not)."""
        return self._adapter.validate_python(raw)

    def field_names(self) -> set[str]:
        """Every key a destination of some ESP may have (for did-you-mean)."""
        return {name for model in self.models.values() for name in model.model_fields}
