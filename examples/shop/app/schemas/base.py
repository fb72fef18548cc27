"""Base classes shared by every schema."""

import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from typing import Annotated, Any, ClassVar, Self

from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    StringConstraints,
    TypeAdapter,
    field_validator,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue, SkipJsonSchema, WithJsonSchema
from pydantic_core import CoreSchema

JSON_MAX_DEPTH = 32
"""How deeply the arrays and objects of a json field may nest."""
JSON_MAX_BYTES = 65_536
"""The largest json field, as compact UTF-8 JSON: a page of 200 stays under 13 MB."""

_INTEGER = re.compile(r"(-?[0-9]+)(?:\.0+)?")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _iso_text(value: Any) -> Any:
    """Dates and times are ISO 8601 text, never a number of seconds."""
    if not isinstance(value, str) or not _ISO_DATE.match(value):
        raise ValueError(
            "must be ISO 8601 text, e.g. 2030-01-31 or 2030-01-31T12:00:00Z"
        )
    return value


def _iso_date_text(value: Any) -> Any:
    """A date is ISO 8601 text of the day alone: no time, to be dropped unseen."""
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        raise ValueError("must be an ISO 8601 date, e.g. 2030-01-31")
    return value


def _storable_date(value: date) -> date:
    """Not the calendar's first or last day: PostgreSQL's driver writes those as
    -infinity and infinity, which are no dates at all."""
    if value in (date.min, date.max):
        raise ValueError(f"must be between {date.min} and {date.max}, not either")
    return value


def _storable_datetime(value: datetime) -> datetime:
    """Within the calendar once in UTC, as it is stored, and not its first or last
    instant (PostgreSQL's driver writes those as -infinity and infinity)."""
    try:
        utc = value.astimezone(UTC).replace(tzinfo=None)
    except OverflowError:
        utc = datetime.min  # before year 1 or after year 9999 in UTC
    if utc in (datetime.min, datetime.max):
        raise ValueError(
            f"must be between {datetime.min.isoformat()}Z and "
            f"{datetime.max.isoformat()}Z in UTC, not either"
        )
    return value


def _query_integer(value: Any) -> Any:
    """A query-string integer is digits, with a fraction of zeros at most (`1.0` is
    JSON Schema's integer 1); no `1.5`, no `1e3`, no spaces."""
    if isinstance(value, str):
        if not (digits := _INTEGER.fullmatch(value)):
            raise ValueError("must be an integer")
        return digits[1]
    return value


def _whole_number(value: Any) -> Any:
    """A number without a fraction is an integer in JSON Schema: `3.0` is 3."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _query_boolean(value: Any) -> Any:
    """A query-string boolean is `true` or `false`."""
    if isinstance(value, str):
        if value.lower() not in {"true", "false"}:
            raise ValueError("must be true or false")
        return value.lower() == "true"
    return value


def decimal_schema(max_digits: int, decimal_places: int) -> WithJsonSchema:
    """How OpenAPI shows a decimal input: a number or text, within its digits.

    Text (as responses write decimals) keeps every digit, where a float may not;
    its pattern says how many digits go before and after the point. A number says
    it with its bounds and `multipleOf` (0.01 for two decimal places).
    """
    whole = max_digits - decimal_places
    integer = rf"[0-9]{{1,{whole}}}" if whole else "0"
    fraction = rf"(\.[0-9]{{1,{decimal_places}}})?" if decimal_places else ""
    number = {
        "type": "number",
        "exclusiveMinimum": -(10**whole),
        "exclusiveMaximum": 10**whole,
        "multipleOf": float(f"1e-{decimal_places}"),
    }
    text = {"type": "string", "pattern": f"^-?{integer}{fraction}$"}
    return WithJsonSchema({"anyOf": [number, text]})


IsoDate = Annotated[
    date, BeforeValidator(_iso_date_text), AfterValidator(_storable_date)
]
IsoDateTime = Annotated[
    AwareDatetime, BeforeValidator(_iso_text), AfterValidator(_storable_datetime)
]
QueryDigits = BeforeValidator(_query_integer)
"""Put after an integer's bounds (`Annotated[int, Field(ge=0), QueryDigits]`), so that
OpenAPI shows them as `minimum` and `maximum`."""
QueryInt = Annotated[int, QueryDigits]
WholeNumber = BeforeValidator(_whole_number)
"""Put after a strict integer's bounds: JSON's `3.0` is the integer 3, `3.5` is refused."""
QueryBool = Annotated[bool, BeforeValidator(_query_boolean)]


def check_text(text: str) -> str:
    """Refuse text that a database cannot store: NUL characters, unpaired surrogates.

    JSON can carry a lone UTF-16 surrogate (`"\\ud800"`), which is no character at
    all: it cannot be encoded as UTF-8, so no driver can send it.
    """
    if "\x00" in text:
        raise ValueError("must not contain NUL characters")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode (no unpaired surrogates)") from None
    return text


NUL = r"\x00"
"""A NUL character, as a pattern: `check_text` refuses it in every string."""

Text = Annotated[str, Field(json_schema_extra={"not": {"pattern": NUL}})]
"""Text from a client. Every string of `ClientData` goes through `check_text`; this
says so in OpenAPI (text without NUL), so that what the schema admits, the API
accepts. `not` keeps the schema's `maxLength` cheap for tools, where a pattern of
the whole string would not."""


EMAIL_MAX_LENGTH = 254
"""The longest e-mail address that can be delivered (RFC 5321, with its erratum)."""


def _any_case(name: str) -> str:
    return "".join(f"[{c}{c.upper()}]" if c.isalpha() else re.escape(c) for c in name)


_EMAIL_SYNTAX = (
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"  # a name of 1 to 64 characters,
    r"(?:[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{0,62}[A-Za-z0-9!#$%&'*+/=?^_`{|}~-])?"  # no end dot
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+"  # domain labels
    r"[A-Za-z]{2,63}"  # and a top-level domain of letters
)
EMAIL_ADDRESS = rf"^{_EMAIL_SYNTAX}$"
"""The e-mail addresses a client may send: ASCII, `name@example.com`. No quoted name,
domain literal or domain without a dot, which `format: email` alone would admit and
email-validator refuses."""
NOT_EMAIL_ADDRESS = (
    r"\.\."  # two dots in a row (in the name: the domain's labels hold none),
    r"|@(?:[A-Za-z0-9-]*\.)*[A-Za-z0-9-]{2}--"  # a label with hyphens 3rd and 4th,
    rf"|[@.](?:{'|'.join(map(_any_case, SPECIAL_USE_DOMAIN_NAMES))})$"  # a reserved domain
)
"""What an address matching `EMAIL_ADDRESS` may not hold, as email-validator refuses it:
the schema's `not`. Two patterns without lookaheads, where one would need them, so that
tools that generate examples from the schema (schemathesis) find them quickly."""
_EMAIL_ADDRESS = re.compile(EMAIL_ADDRESS)
_NOT_EMAIL_ADDRESS = re.compile(NOT_EMAIL_ADDRESS)


def _email_address(value: str) -> str:
    """An e-mail address by its syntax, its domain in lowercase; not looked up."""
    try:
        address = validate_email(value, check_deliverability=False)
    except EmailNotValidError as error:
        raise ValueError(f"is not a valid e-mail address: {error}") from None
    if not _EMAIL_ADDRESS.fullmatch(value) or _NOT_EMAIL_ADDRESS.search(value):
        raise ValueError(
            "is not an e-mail address this API accepts: ASCII letters, digits and "
            "!#$%&'*+/=?^_`{|}~- in the name, a domain such as example.com"
        )
    return address.normalized


EmailAddress = Annotated[
    str,
    Field(
        max_length=EMAIL_MAX_LENGTH,
        json_schema_extra={
            "format": "email",
            "pattern": EMAIL_ADDRESS,
            "not": {"pattern": NOT_EMAIL_ADDRESS},
        },
    ),
    AfterValidator(_email_address),
]
"""An e-mail address from a client, as its schema says (`EMAIL_ADDRESS`, and not
`NOT_EMAIL_ADDRESS`)."""

WEB_ADDRESS_MAX_LENGTH = 2048
"""The longest URL a url field holds (what browsers and servers commonly accept)."""
WEB_ADDRESS = (
    r"^https?://"
    r"(?:[A-Za-z0-9._~!$&'()*+,;=:%-]*@)?"  # user information
    r"[A-Za-z0-9._~!$&'()*+,;=%-]+"  # host: a name (IDNs in punycode) or IPv4 address
    r"(?::(?:[0-9]{1,4}|[1-5][0-9]{4}|6[0-4][0-9]{3}"  # port: 0 to 65535
    r"|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?"
    r"(?:[/?#][^\x00-\x20\x7f-\xa0"  # path, query and fragment: no control nor space
    r"\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]*)?$"
)
"""An http or https URL (RFC 3986): its host is ASCII, without brackets, so that every
URL library can split it; its port is 0 to 65535; the path, query and fragment may hold
any visible character. The characters refused there (controls and white space) are
listed, not `\\s`, which means other characters in Python's regular expressions than
in JavaScript's, and so in clients that check the OpenAPI pattern."""

WebAddress = Annotated[
    str, StringConstraints(max_length=WEB_ADDRESS_MAX_LENGTH, pattern=WEB_ADDRESS)
]
"""A url field's value from a client; OpenAPI shows the pattern it must match."""


@dataclass(frozen=True)
class RefersTo:
    """Marks a reference field: the id of `noun` (`a customer`) in the current project.

    The schema cannot say which ids are in the project: another project's id, or
    one that does not exist, is refused with 422 `invalid_reference`. OpenAPI
    describes the field, and marks it with `x-reference` for tools that test the API.
    """

    noun: str

    def __get_pydantic_json_schema__(
        self, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        """The id's schema, described, with `x-reference`."""
        schema = handler(core_schema)
        schema["description"] = f"The id of {self.noun} in the current project"
        schema["x-reference"] = self.noun
        return schema


def _bounded_json(value: dict[str, Any]) -> dict[str, Any]:
    """A json field: at most `JSON_MAX_DEPTH` levels and `JSON_MAX_BYTES` bytes.

    Its strings (keys too) follow `check_text`, and its numbers are finite.
    """
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        node, depth = pending.pop()
        if depth > JSON_MAX_DEPTH:
            raise ValueError(f"must not nest more than {JSON_MAX_DEPTH} levels deep")
        children = list(node.values()) if isinstance(node, dict) else node
        if isinstance(node, dict):
            children.extend(node.keys())
        for child in children:
            if isinstance(child, dict | list):
                pending.append((child, depth + 1))
            elif isinstance(child, str):
                check_text(child)
            elif isinstance(child, float) and not math.isfinite(child):
                raise ValueError("must not contain NaN or Infinity")
    size = len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())
    if size > JSON_MAX_BYTES:
        raise ValueError(f"must be at most {JSON_MAX_BYTES} bytes as JSON")
    return value


JsonObject = Annotated[
    dict[str, Any],
    AfterValidator(_bounded_json),
    Field(
        description=f"A JSON object, nested at most {JSON_MAX_DEPTH} levels deep, "
        f"at most {JSON_MAX_BYTES:,} bytes as JSON, without NUL characters in its text",
    ),
]
"""A json field's value: an object, bounded in depth and size."""


class ClientData(BaseModel):
    """Data from a client: its text must be storable (see `check_text`)."""

    @field_validator("*", mode="after")
    @classmethod
    def reject_unstorable_text(cls, value: Any) -> Any:
        """Refuse a string with NUL characters or unpaired surrogates."""
        if isinstance(value, str):
            check_text(value)
        return value


class InputSchema(ClientData):
    """A request body: unknown fields are rejected, so nothing can be mass-assigned."""

    model_config = ConfigDict(extra="forbid")


class UpdateSchema(InputSchema):
    """A partial update: only the fields sent are applied.

    Fields named in `non_nullable` may be left out, but not set to null.
    """

    non_nullable: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="after")
    def refuse_null_for_required_fields(self) -> Self:
        """Reject `null` for a field that the database requires."""
        for name in sorted(self.non_nullable & self.model_fields_set):
            if getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


class OutputSchema(BaseModel):
    """A response body, read from ORM objects or database rows."""

    model_config = ConfigDict(from_attributes=True)

    @classmethod
    def from_rows(cls, rows: Iterable[Mapping[str, Any]]) -> list[Self]:
        """Validate many rows in one call (much faster than one call per row)."""
        rows_adapter: TypeAdapter[list[Self]] = list_adapter(cls)
        return rows_adapter.validate_python(rows)


@cache
def list_adapter(schema: type[BaseModel]) -> TypeAdapter[list[Any]]:
    """A validator and serializer of lists of `schema`, built once per schema."""
    return TypeAdapter(list[schema])  # type: ignore[valid-type]


def _name_sort_orders(schema: dict[str, Any]) -> None:
    """Name each sort order for client generators: `-created_at` is `CREATED_AT_DESC`."""
    schema["x-enum-varnames"] = [
        f"{value[1:].upper()}_DESC" if value.startswith("-") else value.upper()
        for value in schema["enum"]
    ]


def sort_order() -> Any:
    """The `sort` field of a resource's list parameters, whose type lists its orders."""
    return Field(
        default="id",
        description="A field to sort by; prefixed with - for descending order",
        json_schema_extra=_name_sort_orders,
    )


class ListParams(ClientData):
    """Query parameters of a list: a page size, a cursor, a sort order and filters.

    Unknown parameters are rejected, so a misspelt filter never silently lists all.
    """

    model_config = ConfigDict(extra="forbid")

    limit: QueryInt = Field(default=50, ge=1, le=200, description="Items per page")
    cursor: str | SkipJsonSchema[None] = Field(
        default=None,
        max_length=1024,
        json_schema_extra={"pattern": r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$"},
        description="Where the page starts: the `cursor` of the `Link` header of the "
        "page before (opaque, signed for the project and sort order)",
    )
    sort: str = Field(
        default="id", description="A field name; prefix with - to reverse"
    )

    def filters(self) -> dict[str, Any]:
        """The equality filters that were given."""
        return self.model_dump(exclude_none=True, exclude={"limit", "cursor", "sort"})
