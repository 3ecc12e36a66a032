"""The string types every request field and parameter is made of, each stated in the
OpenAPI document exactly as it is enforced (so a generated client, or a fuzzer, knows).

Text never carries a NUL (PostgreSQL cannot store one) or a lone surrogate (it is no
Unicode at all); ids are ours or refused before any query; currencies are ISO-4217 codes
in capitals; an Idempotency-Key is visible ASCII.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import AfterValidator, Field, GetJsonSchemaHandler, StringConstraints
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from app.core.ids import ID_BODY_PATTERN
from app.core.money import CURRENCIES

# Any character but NUL, as the OpenAPI document states it (ECMA-262). Lone surrogates
# are refused too, in Python: no regex dialect a generator reads can name them, and no
# text holds them.
TEXT_CHARACTERS = r"[^\x00]"
TEXT_PATTERN = rf"^{TEXT_CHARACTERS}*$"
IDEMPOTENCY_KEY_PATTERN = r"^[\x21-\x7e]{1,255}$"


def _clean(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be Unicode text (it holds a lone surrogate)") from None
    return value


def _metadata_key(value: str) -> str:
    if value.startswith("payments_"):
        raise ValueError("metadata keys starting with payments_ are reserved")
    return _clean(value)


@dataclass(frozen=True, slots=True)
class Documented:
    """States `pattern` in the JSON schema for a rule checked in Python (NUL and lone
    surrogates; a lookahead pydantic's regex engine cannot run)."""

    pattern: str

    def __get_pydantic_json_schema__(
        self, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        schema = handler(core_schema)
        schema["pattern"] = self.pattern
        return schema


def id_pattern(prefix: str) -> str:
    return rf"^{prefix}_{ID_BODY_PATTERN}$"


_TEXT = Documented(TEXT_PATTERN)
OrderId = Annotated[
    str, StringConstraints(min_length=1, max_length=255), AfterValidator(_clean), _TEXT
]
Description = Annotated[str, StringConstraints(max_length=1000), AfterValidator(_clean), _TEXT]
MetadataKey = Annotated[
    str,
    StringConstraints(min_length=1, max_length=40),
    AfterValidator(_metadata_key),
    Documented(rf"^(?!payments_){TEXT_CHARACTERS}+$"),
]
MetadataValue = Annotated[str, StringConstraints(max_length=500), AfterValidator(_clean), _TEXT]
Metadata = Annotated[
    dict[MetadataKey, MetadataValue],
    Field(max_length=40, description="string to string; keys must not start with `payments_`"),
]
ExtraKey = Annotated[str, StringConstraints(min_length=1, max_length=40, pattern=r"^[a-z_]+$")]
ChannelExtra = Annotated[
    dict[ExtraKey, MetadataValue],
    Field(max_length=20, description="string to string, passed to the channel"),
]
Url = Annotated[
    str,
    StringConstraints(max_length=2048, pattern=r"^https?://."),
    AfterValidator(_clean),
    Documented(rf"^https?://{TEXT_CHARACTERS}+$"),
]
IdempotencyKeyValue = Annotated[str, StringConstraints(pattern=IDEMPOTENCY_KEY_PATTERN)]

if TYPE_CHECKING:
    CurrencyCode = str
else:
    # Capitals only: str.upper() would turn the long s and the dotless i into S and I.
    CurrencyCode = Literal[tuple(sorted(CURRENCIES))]
