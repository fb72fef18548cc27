"""Parse the command-line field language of ``generate resource``.

``backend-builder generate resource NAME FIELD...`` describes a resource with a
singular noun (``Invoice``, ``InvoiceLine``, ``invoice_line``) and zero or more
field tokens of the form ``name:type[:argument][:modifier...]``::

    title:str
    message:text:optional
    read:bool:default=false
    amount:decimal:10,2
    status:enum:draft,sent,paid:default=draft
    customer:ref                 # -> Customer, column customer_id
    owner:ref:users              # -> a user (member of the same project)

Everything is validated here; problems raise :class:`SpecError` with a single,
short message that quotes the offending token.  The module performs no I/O.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import decimal
import difflib
import hashlib
import keyword
import math
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

import inflection
from email_validator import EmailNotValidError, validate_email

__all__ = [
    "BUILTIN_RESOURCES",
    "DEFAULT_DECIMAL_PRECISION",
    "DEFAULT_DECIMAL_SCALE",
    "MODIFIERS",
    "RESERVED_FIELD_NAMES",
    "SQL_RESERVED_WORDS",
    "TYPE_NAMES",
    "USERS_TARGET",
    "FieldSpec",
    "FieldType",
    "Names",
    "ResourceSpec",
    "SpecError",
    "index_name",
    "parse_field",
    "parse_fields",
    "parse_names",
    "pluralize",
]


class SpecError(ValueError):
    """A resource name or field token is invalid; the message says why."""


class FieldType(StrEnum):
    """The field types understood by the field language."""

    STR = "str"
    TEXT = "text"
    INT = "int"
    BIGINT = "bigint"
    FLOAT = "float"
    DECIMAL = "decimal"
    BOOL = "bool"
    DATE = "date"
    DATETIME = "datetime"
    UUID = "uuid"
    JSON = "json"
    EMAIL = "email"
    URL = "url"
    ENUM = "enum"
    REF = "ref"


#: ``ref_target`` value meaning "a user who is a member of the same project".
USERS_TARGET = "users"

DEFAULT_DECIMAL_PRECISION = 12
DEFAULT_DECIMAL_SCALE = 2
MAX_DECIMAL_PRECISION = 38
STR_MAX_LENGTH = 255
TEXT_MAX_LENGTH = 65_535  # the generated schemas' max_length of a text field
EMAIL_MAX_LENGTH = 254  # the generated schemas' EMAIL_MAX_LENGTH
#: PostgreSQL truncates identifiers longer than this many bytes.
MAX_IDENTIFIER_LENGTH = 63

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

#: Modifiers, in canonical order; ``default`` is written ``default=VALUE``.
MODIFIERS: tuple[str, ...] = ("optional", "unique", "index", "default")
_FLAG_MODIFIERS = frozenset({"optional", "unique", "index"})

#: Resources the generated backend always has; their singular and plural
#: snake_case forms cannot be used as resource names.
BUILTIN_RESOURCES: frozenset[str] = frozenset(
    {
        "user",
        "users",
        "project",
        "projects",
        "membership",
        "memberships",
        "refresh_token",
        "refresh_tokens",
    }
)


def index_name(table: str, column: str) -> str:
    """The name of a resource's index on (project_id, `column`): 63 characters at most.

    A longer one is cut as SQLAlchemy cuts the names its naming convention makes for
    PostgreSQL (the foreign keys and unique constraints): its first 55 characters, `_`
    and the last 4 hex digits of the whole name's MD5. It is cut on every database,
    so that the name is the same on SQLite and PostgreSQL.
    """
    name = f"ix_{table}_project_id_{column}"
    if len(name) <= MAX_IDENTIFIER_LENGTH:
        return name
    digest = hashlib.md5(name.encode(), usedforsecurity=False).hexdigest()[-4:]
    return f"{name[: MAX_IDENTIFIER_LENGTH - 8]}_{digest}"


_AUTOMATIC_COLUMNS = ("id", "project_id", "created_at", "updated_at")

#: Field names the generated models, schemas or query parameters already use.
RESERVED_FIELD_NAMES: frozenset[str] = frozenset(
    {
        *_AUTOMATIC_COLUMNS,
        "project",
        "metadata",
        "registry",
        "query",
        "cursor",
        "limit",
        "sort",
    }
)

#: Names of the types in the generated annotations: a field of that name would hide
#: the type from the fields declared after it in the same class.
TYPE_NAMES: frozenset[str] = frozenset(
    {"str", "int", "float", "bool", "date", "datetime", "uuid", "dict", "list"}
)

#: Attributes of pydantic's BaseModel that a field would hide (besides `model_*`).
_PYDANTIC_ATTRIBUTES: frozenset[str] = frozenset(
    {
        "construct",
        "copy",
        "dict",
        "from_orm",
        "json",
        "parse_file",
        "parse_obj",
        "parse_raw",
        "schema",
        "schema_json",
        "update_forward_refs",
        "validate",
    }
)

#: SQL reserved words: PostgreSQL's reserved key words (including those that
#: may only be function or type names) plus the SQL:2016 reserved words for
#: common statements and clauses.  Identifiers matching one would need quoting.
_SQL_RESERVED_TEXT = """
    all alter analyse analyze and any array as asc asymmetric authorization
    between binary both by case cast check collate collation column
    concurrently constraint create cross current_catalog current_date
    current_role current_schema current_time current_timestamp current_user
    default deferrable delete desc distinct do drop else end except exists
    false fetch for foreign freeze from full grant group having ilike in
    initially inner insert intersect into is isnull join lateral leading left
    like limit localtime localtimestamp natural not notnull null offset on
    only or order outer overlaps placing primary references returning right
    select session_user similar some symmetric system_user table tablesample
    then to trailing true union unique update user using values variadic
    verbose when where window with
"""
SQL_RESERVED_WORDS: frozenset[str] = frozenset(_SQL_RESERVED_TEXT.split())

_TYPE_ALIASES: dict[str, FieldType] = {
    "string": FieldType.STR,
    "varchar": FieldType.STR,
    "char": FieldType.STR,
    "integer": FieldType.INT,
    "smallint": FieldType.INT,
    "long": FieldType.BIGINT,
    "double": FieldType.FLOAT,
    "real": FieldType.FLOAT,
    "numeric": FieldType.DECIMAL,
    "money": FieldType.DECIMAL,
    "boolean": FieldType.BOOL,
    "timestamp": FieldType.DATETIME,
    "timestamptz": FieldType.DATETIME,
    "jsonb": FieldType.JSON,
    "dict": FieldType.JSON,
    "choice": FieldType.ENUM,
    "choices": FieldType.ENUM,
    "fk": FieldType.REF,
    "foreign_key": FieldType.REF,
    "reference": FieldType.REF,
    "references": FieldType.REF,
}

_FIELD_NAME_RE = re.compile(r"[a-z][a-z0-9_]*")
_ENUM_VALUE_RE = re.compile(r"[a-z][a-z0-9_]*")
_RESOURCE_NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_SNAKE_RE = re.compile(r"[a-z][a-z0-9]*(?:_[a-z][a-z0-9]*)*")
_PRECISION_RE = re.compile(r"(\d+),(\d+)")
_PRECISION_LIKE_RE = re.compile(r"[\d,. ]+")
_INT_RE = re.compile(r"[+-]?\d+")
_FLOAT_RE = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_DECIMAL_RE = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
EMAIL_PATTERN = (
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
    r"(?:[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{0,62}[A-Za-z0-9!#$%&'*+/=?^_`{|}~-])?"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+"
    r"[A-Za-z]{2,63}"
)
"""What an email field holds: generated schemas' `_EMAIL_SYNTAX` (what their
`NOT_EMAIL_ADDRESS` refuses, email-validator refuses too)."""
_EMAIL_RE = re.compile(EMAIL_PATTERN)
URL_PATTERN = (
    r"https?://(?:[A-Za-z0-9._~!$&'()*+,;=:%-]*@)?[A-Za-z0-9._~!$&'()*+,;=%-]+"
    r"(?::(?:[0-9]{1,4}|[1-5][0-9]{4}|6[0-4][0-9]{3}"
    r"|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?"
    r"(?:[/?#][^\x00-\x20\x7f-\xa0"
    r"\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]*)?"
)
"""What a url field holds: generated schemas' `WEB_ADDRESS`, without its anchors."""
_URL_RE = re.compile(URL_PATTERN)


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------


def _suggest(word: str, candidates: Sequence[str]) -> str | None:
    """Return the candidate closest to ``word``, if any is reasonably close."""
    lowered = word.lower()
    if lowered in candidates:
        return lowered
    matches = difflib.get_close_matches(lowered, list(candidates), n=1, cutoff=0.6)
    return matches[0] if matches else None


def _did_you_mean(suggestion: str | None, valid: str) -> str:
    """Format the tail of an error: suggestion (if any) and the valid choices."""
    if suggestion:
        return f"; did you mean {suggestion!r}? Valid {valid}"
    return f"; valid {valid}"


def _to_snake(name: str) -> str:
    """Convert CamelCase (or snake_case) to snake_case: ``HTTPLog`` -> ``http_log``."""
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s)
    return s.lower()


def _to_pascal(snake: str) -> str:
    return "".join(word.capitalize() for word in snake.split("_"))


# --------------------------------------------------------------------------
# Plurals
# --------------------------------------------------------------------------


# Pinned plurals: the ones the generator promises (so table names never change
# with the library's version) plus words it gets wrong.
_PLURAL_OVERRIDES: dict[str, str] = {
    "address": "addresses",
    "analysis": "analyses",
    "bus": "buses",
    "cactus": "cacti",
    "category": "categories",
    "child": "children",
    "company": "companies",
    "person": "people",
    "quiz": "quizzes",
    "status": "statuses",
    # gaps of the rules
    "epoch": "epochs",
    "german": "germans",
    "grandchild": "grandchildren",
    "monarch": "monarchs",
    "stepchild": "stepchildren",
    "that": "those",
    "thief": "thieves",
    "this": "these",
    "todo": "todos",
    "waltz": "waltzes",
}


def pluralize(word: str) -> str:
    """Return the plural of a single lowercase word (``category`` -> ``categories``).

    Uses :mod:`inflection` (Rails' rules) with an override table for its known
    gaps; implausible results fall back to appending ``s``.
    """
    lowered = word.lower()
    if lowered in _PLURAL_OVERRIDES:
        return _PLURAL_OVERRIDES[lowered]
    plural = inflection.pluralize(lowered)
    if (
        not isinstance(plural, str)
        or not re.fullmatch(r"[a-z][a-z0-9]*", plural)
        or plural[0] != lowered[0]
    ):
        return lowered + "s"
    return plural


# --------------------------------------------------------------------------
# Names
# --------------------------------------------------------------------------

# Words spelled with a vowel but said with a consonant, and the other way round.
_SAID_WITH_A_CONSONANT = (
    "eu",
    "ewe",
    "one",
    "once",
    "ubi",
    "uni",
    "ura",
    "ure",
    "uri",
    "uro",
    "usa",
    "use",
    "usu",
    "uti",
)
_SAID_WITH_A_VOWEL = ("heir", "honest", "honor", "honour", "hour")


def indefinite_article(phrase: str) -> str:
    """`an` before a vowel sound (`an invoice`, `an hour`), else `a` (`a user`)."""
    word = phrase.lower()
    if word.startswith(_SAID_WITH_A_VOWEL):
        return "an"
    if word.startswith(_SAID_WITH_A_CONSONANT):
        return "a"
    return "an" if word[:1] in ("a", "e", "i", "o", "u") else "a"


@dataclass(frozen=True)
class Names:
    """All the spellings of a resource name the generator needs."""

    class_name: str  # InvoiceLine
    snake: str  # invoice_line
    plural_snake: str  # invoice_lines
    plural_class: str  # InvoiceLines
    kebab_plural: str  # invoice-lines (URLs)
    table: str  # invoice_lines
    human: str  # invoice line
    human_plural: str  # invoice lines

    @property
    def a_human(self) -> str:
        """The human name after its indefinite article: `an invoice line`, `a user`."""
        return f"{indefinite_article(self.human)} {self.human}"

    def to_dict(self) -> dict[str, str]:
        """Return the names as a JSON-able dict."""
        return {
            "class_name": self.class_name,
            "snake": self.snake,
            "plural_snake": self.plural_snake,
            "plural_class": self.plural_class,
            "kebab_plural": self.kebab_plural,
            "table": self.table,
            "human": self.human,
            "human_plural": self.human_plural,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Names:
        """Rebuild names saved with :meth:`to_dict`.

        The stored spellings are used as-is (not re-derived), so a saved
        resource keeps its table name even if pluralisation rules change.
        """
        if not isinstance(data, Mapping):
            raise SpecError(f"resource names must be a mapping, got {data!r}")
        values: dict[str, str] = {}
        for key in (
            "class_name",
            "snake",
            "plural_snake",
            "plural_class",
            "kebab_plural",
            "human",
            "human_plural",
        ):
            value = data.get(key)
            if not isinstance(value, str) or not value:
                raise SpecError(f"resource names: missing or invalid {key!r}")
            values[key] = value
        table = data.get("table", values["plural_snake"])
        if not isinstance(table, str) or not table:
            raise SpecError("resource names: invalid 'table'")
        if not _SNAKE_RE.fullmatch(values["snake"]) or not _SNAKE_RE.fullmatch(
            values["plural_snake"]
        ):
            raise SpecError(f"resource names: invalid snake_case names in {dict(data)!r}")
        return cls(table=table, **values)


def parse_names(name: str) -> Names:
    """Derive all spellings of a singular CamelCase or snake_case resource name.

    ``parse_names("InvoiceLine")`` and ``parse_names("invoice_line")`` both give
    class ``InvoiceLine``, table ``invoice_lines`` and URL ``invoice-lines``;
    only the last word is pluralised.  Acronyms are normalised
    (``HTTPLog`` -> ``HttpLog``).  Raises :class:`SpecError` for empty or
    non-identifier names, Python keywords, tables named by an SQL reserved word
    (`Order` is a name: its table is `orders`), names whose
    plural equals the singular, and names of built-in resources.
    """
    if not isinstance(name, str) or not name:
        raise SpecError("resource name is empty; use a singular noun such as 'Invoice'")
    if not _RESOURCE_NAME_RE.fullmatch(name):
        if name[0].isdigit():
            reason = "must not start with a digit"
        elif name[0] == "_":
            reason = "must not start with an underscore"
        else:
            reason = "must be a CamelCase or snake_case identifier (ASCII only)"
        raise SpecError(f"invalid resource name {name!r}: {reason}")
    snake = _to_snake(name)
    if not _SNAKE_RE.fullmatch(snake):
        raise SpecError(
            f"invalid resource name {name!r}: words must start with a letter and be "
            "separated by single underscores, e.g. 'InvoiceLine' or 'invoice_line'"
        )
    class_name = _to_pascal(snake)
    if _to_snake(class_name) != snake:
        raise SpecError(
            f"invalid resource name {name!r}: single-letter words are ambiguous "
            f"(class {class_name!r} would read back as {_to_snake(class_name)!r})"
        )
    words = snake.split("_")
    plural_snake = "_".join([*words[:-1], pluralize(words[-1])])
    for form in (snake, plural_snake):
        if form in BUILTIN_RESOURCES:
            raise SpecError(
                f"resource name {name!r} collides with a built-in resource "
                f"({form!r}); built-ins: users, projects, memberships, refresh_tokens"
            )
    if plural_snake == snake:
        raise SpecError(
            f"resource name {name!r} has the same singular and plural form "
            f"({snake!r}); use a countable noun, e.g. '{class_name}Item'"
        )
    if words[0] == "test":
        raise SpecError(
            f"resource name {name!r} begins with the word Test: pytest would collect its "
            f"classes and helpers ({class_name}Create, {snake}_payload) as tests; "
            "choose another name"
        )
    for form in (snake, plural_snake):
        if keyword.iskeyword(form):
            raise SpecError(f"resource name {name!r} is a Python keyword ({form!r})")
        if form == plural_snake and form in SQL_RESERVED_WORDS:
            raise SpecError(f"resource name {name!r} is an SQL reserved word ({form!r})")
    if len(plural_snake) > MAX_IDENTIFIER_LENGTH:
        raise SpecError(
            f"resource name {name!r} is too long: table {plural_snake!r} exceeds "
            f"{MAX_IDENTIFIER_LENGTH} characters"
        )
    return Names(
        class_name=class_name,
        snake=snake,
        plural_snake=plural_snake,
        plural_class=_to_pascal(plural_snake),
        kebab_plural=plural_snake.replace("_", "-"),
        table=plural_snake,
        human=snake.replace("_", " "),
        human_plural=plural_snake.replace("_", " "),
    )


# --------------------------------------------------------------------------
# Fields
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldSpec:
    """One parsed field token.

    ``default`` holds the parsed Python value (``int``, ``float``,
    ``decimal.Decimal``, ``bool``, ``str``, ``datetime.date``,
    ``datetime.datetime`` or ``uuid.UUID``); ``has_default`` distinguishes "no
    default" from a default of ``None``-like values.  ``token`` is the original
    text and is ignored when comparing specs.
    """

    name: str
    type: FieldType
    optional: bool = False
    unique: bool = False
    index: bool = False
    default: object | None = None
    has_default: bool = False
    enum_values: tuple[str, ...] = ()
    precision: int | None = None
    scale: int | None = None
    ref_target: str | None = None
    token: str = field(default="", compare=False)

    @property
    def column(self) -> str:
        """The database column name: ``<name>_id`` for refs, else the name."""
        return f"{self.name}_id" if self.type is FieldType.REF else self.name

    @property
    def is_ref(self) -> bool:
        """Whether this field references another resource (or a user)."""
        return self.type is FieldType.REF

    @property
    def targets_users(self) -> bool:
        """Whether this is a ref to a user (a member of the same project)."""
        return self.type is FieldType.REF and self.ref_target == USERS_TARGET

    def to_token(self) -> str:
        """Return a canonical token that :func:`parse_field` parses to an equal spec.

        Order: ``name:type[:argument][:optional][:unique][:index][:default=V]``;
        decimals always spell out ``precision,scale`` and refs their target.
        """
        parts = [self.name, self.type.value]
        if self.type is FieldType.DECIMAL:
            parts.append(f"{self.precision},{self.scale}")
        elif self.type is FieldType.ENUM:
            parts.append(",".join(self.enum_values))
        elif self.type is FieldType.REF and self.ref_target is not None:
            parts.append(self.ref_target)
        parts.extend(flag for flag in ("optional", "unique", "index") if getattr(self, flag))
        if self.has_default:
            parts.append(f"default={_format_default(self.default)}")
        return ":".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """Return the spec as a dict of plain JSON types."""
        return {
            "name": self.name,
            "type": self.type.value,
            "optional": self.optional,
            "unique": self.unique,
            "index": self.index,
            "has_default": self.has_default,
            "default": _default_to_json(self.default) if self.has_default else None,
            "enum_values": list(self.enum_values),
            "precision": self.precision,
            "scale": self.scale,
            "ref_target": self.ref_target,
            "column": self.column,
            "token": self.token,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FieldSpec:
        """Rebuild (and re-validate) a spec saved with :meth:`to_dict`."""
        if not isinstance(data, Mapping):
            raise SpecError(f"field spec must be a mapping, got {data!r}")
        name, type_ = data.get("name"), data.get("type")
        if not isinstance(name, str) or not isinstance(type_, str):
            raise SpecError(f"field spec needs string 'name' and 'type': {dict(data)!r}")
        parts = [name, type_]
        precision, scale = data.get("precision"), data.get("scale")
        if type_ == FieldType.DECIMAL and precision is not None and scale is not None:
            parts.append(f"{precision},{scale}")
        elif type_ == FieldType.ENUM:
            values = data.get("enum_values")
            if not isinstance(values, list | tuple) or not all(isinstance(v, str) for v in values):
                raise SpecError(f"field spec {name!r}: 'enum_values' must be a list of strings")
            parts.append(",".join(values))
        elif type_ == FieldType.REF and data.get("ref_target") is not None:
            parts.append(str(data["ref_target"]))
        parts.extend(flag for flag in ("optional", "unique", "index") if data.get(flag))
        if data.get("has_default"):
            parts.append(f"default={_format_default(data.get('default'))}")
        spec = parse_field(":".join(parts))
        token = data.get("token")
        if isinstance(token, str) and token:
            spec = replace(spec, token=token)
        return spec


def _format_default(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return str(value)


def _default_to_json(value: object) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return _format_default(value)


def _is_modifier_part(part: str) -> bool:
    return part in _FLAG_MODIFIERS or part == "default" or part.startswith("default=")


def _valid_types() -> str:
    return ", ".join(t.value for t in FieldType)


def _parse_type(type_str: str, token: str) -> FieldType:
    try:
        return FieldType(type_str)
    except ValueError:
        pass
    if not type_str:
        raise SpecError(f"missing type in {token!r}; valid types: {_valid_types()}")
    alias = _TYPE_ALIASES.get(type_str.lower())
    suggestion = alias.value if alias else _suggest(type_str, [t.value for t in FieldType])
    raise SpecError(
        f"unknown type {type_str!r} in {token!r}"
        + _did_you_mean(suggestion, f"types: {_valid_types()}")
    )


def _check_field_name(name: str, ftype: FieldType, token: str) -> None:
    if not name:
        raise SpecError(f"missing field name in {token!r}; write it as 'name:type'")
    if not _FIELD_NAME_RE.fullmatch(name):
        if name.startswith("_"):
            reason = "must not start with an underscore"
        elif re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", name):
            reason = f"must be snake_case, e.g. {_to_snake(name)!r}"
        else:
            reason = "must be a snake_case identifier ([a-z][a-z0-9_]*)"
        raise SpecError(f"invalid field name {name!r} in {token!r}: {reason}")
    if keyword.iskeyword(name):
        raise SpecError(f"field name {name!r} in {token!r} is a Python keyword")
    column = f"{name}_id" if ftype is FieldType.REF else name
    for candidate in dict.fromkeys((name, column)):
        if candidate in _AUTOMATIC_COLUMNS:
            raise SpecError(
                f"field name {candidate!r} in {token!r} is reserved: every resource "
                f"already has {', '.join(_AUTOMATIC_COLUMNS)}"
            )
        if candidate in RESERVED_FIELD_NAMES:
            raise SpecError(f"field name {candidate!r} in {token!r} is reserved by generated code")
    if ftype is FieldType.REF and name.endswith("_id"):
        raise SpecError(
            f"ref field {name!r} in {token!r} must not end in '_id' (the column is "
            f"named <name>_id): name it {name[:-3]!r} ({name[:-3]}:ref)"
        )
    if column in SQL_RESERVED_WORDS:
        raise SpecError(f"field name {column!r} in {token!r} is an SQL reserved word")
    if len(column) > MAX_IDENTIFIER_LENGTH:
        raise SpecError(
            f"field name {name!r} in {token!r} is too long "
            f"(column names are limited to {MAX_IDENTIFIER_LENGTH} characters)"
        )


def _check_new_field_name(name: str, ftype: FieldType, token: str) -> None:
    """Refuse a name that the generated code would trip over.

    Backends made before these were refused keep their fields (`saved`).
    """
    column = f"{name}_id" if ftype is FieldType.REF else name
    for candidate in dict.fromkeys((name, column)):
        if candidate in TYPE_NAMES:
            raise SpecError(
                f"field name {candidate!r} in {token!r} would hide the type {candidate!r} "
                "from the generated models and schemas; name it for what it holds, "
                "e.g. 'due_date' or 'external_id'"
            )
        if candidate.startswith("model_"):
            raise SpecError(
                f"field name {candidate!r} in {token!r} starts with 'model_', which "
                "pydantic keeps for its own attributes; choose another name"
            )
        if candidate in _PYDANTIC_ATTRIBUTES:
            raise SpecError(
                f"field name {candidate!r} in {token!r} would hide pydantic's "
                f"BaseModel.{candidate} in the generated schemas; choose another name"
            )
    if name == "self":
        raise SpecError(
            f"field name 'self' in {token!r} would clash with the generated methods' "
            "`self`; choose another name"
        )


def _parse_enum_values(name: str, raw: str | None, token: str) -> tuple[str, ...]:
    if raw is None or _is_modifier_part(raw) or not raw:
        raise SpecError(
            f"enum field {name!r} needs values, e.g. {name}:enum:draft,sent,paid " f"(in {token!r})"
        )
    values = raw.split(",")
    seen: set[str] = set()
    for value in values:
        if not value:
            raise SpecError(f"empty enum value in {raw!r} of {token!r}")
        if not _ENUM_VALUE_RE.fullmatch(value):
            raise SpecError(
                f"invalid enum value {value!r} in {token!r}: use lowercase "
                "identifiers ([a-z][a-z0-9_]*)"
            )
        if keyword.iskeyword(value):
            raise SpecError(f"enum value {value!r} in {token!r} is a Python keyword")
        if len(value) > MAX_IDENTIFIER_LENGTH:
            raise SpecError(
                f"enum value {value!r} in {token!r} is longer than "
                f"{MAX_IDENTIFIER_LENGTH} characters"
            )
        if value in seen:
            raise SpecError(f"duplicate enum value {value!r} in {token!r}")
        seen.add(value)
    return tuple(values)


def _parse_precision(raw: str, token: str) -> tuple[int, int]:
    match = _PRECISION_RE.fullmatch(raw)
    if not match:
        raise SpecError(
            f"invalid decimal precision {raw!r} in {token!r}; expected "
            "PRECISION,SCALE, e.g. decimal:10,2"
        )
    precision, scale = int(match.group(1)), int(match.group(2))
    if not 1 <= precision <= MAX_DECIMAL_PRECISION:
        raise SpecError(
            f"decimal precision {precision} in {token!r} must be between 1 and "
            f"{MAX_DECIMAL_PRECISION}"
        )
    if not 0 <= scale <= precision:
        raise SpecError(
            f"decimal scale {scale} in {token!r} must be between 0 and the "
            f"precision ({precision})"
        )
    return precision, scale


def _parse_ref_target(name: str, raw: str | None, token: str) -> str:
    target = name if raw is None else raw
    if target.lower() in ("user", "users"):
        return USERS_TARGET
    if _to_snake(target) in BUILTIN_RESOURCES:
        raise SpecError(
            f"ref {token!r} cannot target built-in resource {target!r}; only "
            "'users' (project members) and generated resources can be referenced"
        )
    try:
        return parse_names(target).class_name
    except SpecError as exc:
        snake = _to_snake(target)
        singular = inflection.singularize(snake)
        if singular != snake and pluralize(singular) == snake:  # a table: ref:categories
            with contextlib.suppress(SpecError):
                return parse_names(singular).class_name
        hint = "" if raw is not None else f"; name the target explicitly, e.g. '{name}:ref:Target'"
        raise SpecError(f"invalid ref target {target!r} in {token!r}: {exc}{hint}") from None


def _split_modifiers(parts: Sequence[str]) -> list[str]:
    """Group modifier parts; a ``default=`` value absorbs following non-modifier parts.

    This lets default values contain colons (URLs, times, ``urn:uuid:``).
    """
    grouped: list[str] = []
    absorbing = False
    for part in parts:
        if absorbing and not _is_modifier_part(part):
            grouped[-1] = f"{grouped[-1]}:{part}"
            continue
        grouped.append(part)
        absorbing = part.startswith("default=")
    return grouped


def _parse_default(
    ftype: FieldType,
    raw: str,
    token: str,
    *,
    enum_values: tuple[str, ...],
    precision: int | None,
    scale: int | None,
    saved: bool = False,
) -> object:
    """The default's value; `saved`: a text default of a manifest is taken as it was."""

    def bad(expected: str) -> SpecError:
        return SpecError(f"invalid default {raw!r} in {token!r}: expected {expected}")

    if saved and ftype in (FieldType.STR, FieldType.TEXT, FieldType.EMAIL, FieldType.URL):
        return raw

    if ftype in (FieldType.INT, FieldType.BIGINT):
        if not _INT_RE.fullmatch(raw):
            raise bad("an integer")
        value = int(raw)
        lo, hi = (INT32_MIN, INT32_MAX) if ftype is FieldType.INT else (INT64_MIN, INT64_MAX)
        if not lo <= value <= hi:
            kind = "32" if ftype is FieldType.INT else "64"
            raise bad(f"a {kind}-bit integer between {lo} and {hi}")
        return value
    if ftype is FieldType.FLOAT:
        if not _FLOAT_RE.fullmatch(raw) or not math.isfinite(float(raw)):
            raise bad("a finite number")
        return float(raw)
    if ftype is FieldType.DECIMAL:
        assert precision is not None and scale is not None
        if not _DECIMAL_RE.fullmatch(raw):
            raise bad("a decimal number such as 9.99")
        # Enough precision that quantize() never overflows, however long raw is.
        ctx = decimal.Context(prec=len(raw) + scale + 2)
        number = decimal.Decimal(raw)
        quantized = number.quantize(decimal.Decimal(1).scaleb(-scale), context=ctx)
        if quantized != number or len(quantized.as_tuple().digits) > precision:
            raise bad(f"a number that fits decimal({precision},{scale})")
        return quantized
    if ftype is FieldType.BOOL:
        lowered = raw.lower()
        if lowered not in ("true", "false"):
            raise bad("true or false")
        return lowered == "true"
    if ftype is FieldType.STR:
        if not 1 <= len(raw) <= STR_MAX_LENGTH:
            raise bad(f"1 to {STR_MAX_LENGTH} characters")
        return raw
    if ftype is FieldType.TEXT:
        if len(raw) > TEXT_MAX_LENGTH:
            raise bad(f"at most {TEXT_MAX_LENGTH:,} characters")
        return raw
    if ftype is FieldType.EMAIL:
        if not _EMAIL_RE.fullmatch(raw) or len(raw) > EMAIL_MAX_LENGTH:
            raise bad("an email address such as someone@example.com")
        try:  # as the generated schemas check it: no reserved domain (.test, .invalid)
            return validate_email(raw, check_deliverability=False).normalized
        except EmailNotValidError as error:
            raise bad(f"an email address a client may send ({error})") from None
    if ftype is FieldType.URL:
        if not _URL_RE.fullmatch(raw):
            raise bad("an http or https URL with an ASCII host, such as https://example.com/a")
        return raw
    if ftype is FieldType.ENUM:
        if raw not in enum_values:
            suggestion = _suggest(raw, enum_values)
            hint = f"; did you mean {suggestion!r}?" if suggestion else ""
            raise SpecError(
                f"invalid default {raw!r} in {token!r}: must be one of "
                f"{', '.join(enum_values)}{hint}"
            )
        return raw
    if ftype is FieldType.DATE:
        try:
            if not _DATE_RE.fullmatch(raw):
                raise ValueError(raw)
            day = dt.date.fromisoformat(raw)
        except ValueError:
            raise bad("an ISO date (YYYY-MM-DD)") from None
        if day in (dt.date.min, dt.date.max) and not saved:
            raise bad(f"a date between {dt.date.min} and {dt.date.max}, not either")
        return day
    if ftype is FieldType.DATETIME:
        try:
            if not _DATE_RE.match(raw):
                raise ValueError(raw)
            value = dt.datetime.fromisoformat(raw)
            # The API's datetimes are aware: one without an offset is UTC, as stored.
            value = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
            utc = value.astimezone(dt.UTC).replace(tzinfo=None)
        except ValueError:
            raise bad("an ISO datetime such as 2024-01-31T09:30:00") from None
        except OverflowError:
            utc = dt.datetime.min
        if utc in (dt.datetime.min, dt.datetime.max) and not saved:
            raise bad("a datetime after the calendar's first instant and before its last, in UTC")
        return value
    if ftype is FieldType.UUID:
        try:
            return uuid.UUID(raw)
        except ValueError:
            raise bad("a UUID") from None
    raise SpecError(f"{ftype.value} fields cannot have a default (in {token!r})")


def parse_field(token: str, *, saved: bool = False) -> FieldSpec:
    """Parse one ``name:type[:argument][:modifier...]`` token into a :class:`FieldSpec`.

    Arguments: ``decimal:P,S`` (optional, default 12,2), ``enum:a,b,c``
    (required) and ``ref:Target`` (optional; defaults to the field name,
    ``user``/``users`` mean project members).  Modifiers, in any order:
    ``optional``, ``unique``, ``index``, ``default=VALUE``.  Raises
    :class:`SpecError` naming the offending token.

    ``saved``: the token was read from a backend's manifest, where a field may have
    a name refused since (`_check_new_field_name`): it still loads.
    """
    if not isinstance(token, str):
        raise SpecError(f"field token must be a string, got {token!r}")
    if not token.strip():
        raise SpecError(f"empty field token {token!r}")
    parts = token.split(":")
    if len(parts) == 1:
        example = f"'{token}:str'" if _FIELD_NAME_RE.fullmatch(token) else "'title:str'"
        raise SpecError(f"field {token!r} has no type; write it as name:type, e.g. {example}")
    name, type_str, rest = parts[0], parts[1], parts[2:]
    ftype = _parse_type(type_str, token)
    _check_field_name(name, ftype, token)
    if not saved:
        _check_new_field_name(name, ftype, token)

    enum_values: tuple[str, ...] = ()
    precision: int | None = None
    scale: int | None = None
    ref_target: str | None = None
    if ftype is FieldType.ENUM:
        enum_values = _parse_enum_values(name, rest[0] if rest else None, token)
        rest = rest[1:]
    elif ftype is FieldType.DECIMAL:
        precision, scale = DEFAULT_DECIMAL_PRECISION, DEFAULT_DECIMAL_SCALE
        if rest and rest[0] and _PRECISION_LIKE_RE.fullmatch(rest[0]):
            precision, scale = _parse_precision(rest[0], token)
            rest = rest[1:]
    elif ftype is FieldType.REF:
        explicit = None
        if rest and rest[0] and not _is_modifier_part(rest[0]):
            explicit, rest = rest[0], rest[1:]
        ref_target = _parse_ref_target(name, explicit, token)

    flags: set[str] = set()
    raw_default: str | None = None
    for part in _split_modifiers(rest):
        if not part:
            raise SpecError(f"empty modifier in {token!r} (stray ':')")
        key = part.split("=", 1)[0]
        if key in flags or (key == "default" and raw_default is not None):
            raise SpecError(f"repeated modifier {key!r} in {token!r}")
        if part in _FLAG_MODIFIERS:
            flags.add(part)
        elif part.startswith("default="):
            raw_default = part[len("default=") :]
        elif part == "default":
            raise SpecError(f"modifier 'default' in {token!r} needs a value: default=VALUE")
        else:
            suggestion = _suggest(key, MODIFIERS)
            if suggestion == "default":
                suggestion = "default=VALUE"
            raise SpecError(
                f"unknown modifier {part!r} in {token!r}"
                + _did_you_mean(suggestion, "modifiers: optional, unique, index, default=VALUE")
            )

    if "unique" in flags and ftype in (FieldType.JSON, FieldType.BOOL):
        raise SpecError(f"modifier 'unique' is not allowed on {ftype.value} fields ({token!r})")
    if "index" in flags and ftype is FieldType.JSON:
        raise SpecError(f"modifier 'index' is not allowed on json fields ({token!r})")

    default: object | None = None
    if raw_default is not None:
        if ftype in (FieldType.JSON, FieldType.REF):
            raise SpecError(f"{ftype.value} fields cannot have a default ({token!r})")
        default = _parse_default(
            ftype,
            raw_default,
            token,
            enum_values=enum_values,
            precision=precision,
            scale=scale,
            saved=saved,
        )

    return FieldSpec(
        name=name,
        type=ftype,
        optional="optional" in flags,
        unique="unique" in flags,
        index="index" in flags,
        default=default,
        has_default=raw_default is not None,
        enum_values=enum_values,
        precision=precision,
        scale=scale,
        ref_target=ref_target,
        token=token,
    )


def _check_duplicates(fields: Sequence[FieldSpec]) -> None:
    seen: dict[str, FieldSpec] = {}
    for spec in fields:
        for ident in dict.fromkeys((spec.name, spec.column)):
            other = seen.get(ident)
            if other is not None:
                raise SpecError(
                    f"duplicate field {ident!r}: {spec.token or spec.to_token()!r} "
                    f"conflicts with {other.token or other.to_token()!r}"
                )
        for ident in (spec.name, spec.column):
            seen[ident] = spec


def parse_fields(tokens: Sequence[str], *, saved: bool = False) -> tuple[FieldSpec, ...]:
    """Parse field tokens (possibly none), rejecting duplicate names and columns.

    A ref ``customer:ref`` (column ``customer_id``) conflicts with a field
    named ``customer`` or ``customer_id``. ``saved``: as for :func:`parse_field`.
    """
    if isinstance(tokens, str):
        raise TypeError("parse_fields() expects a sequence of tokens, not a single string")
    fields = tuple(parse_field(token, saved=saved) for token in tokens)
    _check_duplicates(fields)
    return fields


# --------------------------------------------------------------------------
# Resource
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class ResourceSpec:
    """A parsed ``generate resource NAME FIELD...`` command."""

    names: Names
    fields: tuple[FieldSpec, ...] = ()

    @classmethod
    def parse(cls, name: str, tokens: Sequence[str], *, saved: bool = False) -> ResourceSpec:
        """Parse a resource name and its field tokens (``saved``: see :func:`parse_field`)."""
        return cls(names=parse_names(name), fields=parse_fields(tokens, saved=saved))

    @property
    def refs(self) -> tuple[FieldSpec, ...]:
        """The fields of type ``ref``."""
        return tuple(f for f in self.fields if f.type is FieldType.REF)

    def to_dict(self) -> dict[str, Any]:
        """Return the spec as a dict of plain JSON types."""
        return {
            "names": self.names.to_dict(),
            "fields": [f.to_dict() for f in self.fields],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ResourceSpec:
        """Rebuild (and re-validate the fields of) a spec saved with :meth:`to_dict`."""
        if not isinstance(data, Mapping):
            raise SpecError(f"resource spec must be a mapping, got {data!r}")
        raw_fields = data.get("fields", [])
        if not isinstance(raw_fields, list | tuple):
            raise SpecError("resource spec: 'fields' must be a list")
        fields = tuple(FieldSpec.from_dict(f) for f in raw_fields)
        _check_duplicates(fields)
        return cls(names=Names.from_dict(data.get("names", {})), fields=fields)
