"""Tests for the resource field language (backend_builder.resource.spec)."""

from __future__ import annotations

import ast
import datetime as dt
import hashlib
import json
import re
import uuid
from decimal import Decimal
from functools import cache
from typing import Any

import pytest
from email_validator import validate_email
from hypothesis import assume, given, settings
from hypothesis.strategies import from_regex
from pydantic import TypeAdapter

from backend_builder.render import render
from backend_builder.resource.spec import (
    EMAIL_PATTERN,
    URL_PATTERN,
    USERS_TARGET,
    FieldSpec,
    FieldType,
    Names,
    ResourceSpec,
    SpecError,
    indefinite_article,
    index_name,
    parse_field,
    parse_fields,
    parse_names,
    pluralize,
)

NOTIFICATION = [
    "title:str",
    "message:text:optional",
    "read:bool:default=false",
    "user:ref",
]
INVOICE = [
    "number:str:unique",
    "amount:decimal",
    "status:enum:draft,sent,paid:default=draft",
    "due_on:date:optional",
    "customer:ref",
]


def error_of(token: str) -> str:
    """Return the SpecError message parse_field raises for ``token``."""
    with pytest.raises(SpecError) as info:
        parse_field(token)
    return str(info.value)


# --------------------------------------------------------------------------
# The two seed examples
# --------------------------------------------------------------------------


def test_notification_example() -> None:
    spec = ResourceSpec.parse("Notification", NOTIFICATION)
    assert spec.names.class_name == "Notification"
    assert spec.names.table == "notifications"
    assert spec.fields == (
        FieldSpec(name="title", type=FieldType.STR),
        FieldSpec(name="message", type=FieldType.TEXT, optional=True),
        FieldSpec(name="read", type=FieldType.BOOL, default=False, has_default=True),
        FieldSpec(name="user", type=FieldType.REF, ref_target=USERS_TARGET),
    )
    assert [f.column for f in spec.fields] == ["title", "message", "read", "user_id"]
    assert spec.fields[2].default is False
    assert spec.refs == (spec.fields[3],)
    assert spec.fields[3].targets_users
    assert [f.token for f in spec.fields] == NOTIFICATION


def test_invoice_example() -> None:
    spec = ResourceSpec.parse("Invoice", INVOICE)
    assert spec.names.plural_snake == "invoices"
    assert spec.fields == (
        FieldSpec(name="number", type=FieldType.STR, unique=True),
        FieldSpec(name="amount", type=FieldType.DECIMAL, precision=12, scale=2),
        FieldSpec(
            name="status",
            type=FieldType.ENUM,
            enum_values=("draft", "sent", "paid"),
            default="draft",
            has_default=True,
        ),
        FieldSpec(name="due_on", type=FieldType.DATE, optional=True),
        FieldSpec(name="customer", type=FieldType.REF, ref_target="Customer"),
    )
    assert spec.fields[-1].column == "customer_id"
    assert not spec.fields[-1].targets_users
    assert [f.name for f in spec.refs] == ["customer"]


# --------------------------------------------------------------------------
# Every type
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        ("a:str", {"type": FieldType.STR}),
        ("a:text", {"type": FieldType.TEXT}),
        ("a:int", {"type": FieldType.INT}),
        ("a:bigint", {"type": FieldType.BIGINT}),
        ("a:float", {"type": FieldType.FLOAT}),
        ("a:decimal", {"type": FieldType.DECIMAL, "precision": 12, "scale": 2}),
        ("a:decimal:10,4", {"precision": 10, "scale": 4}),
        ("a:decimal:38,0", {"precision": 38, "scale": 0}),
        ("a:decimal:1,1", {"precision": 1, "scale": 1}),
        ("a:bool", {"type": FieldType.BOOL}),
        ("a:date", {"type": FieldType.DATE}),
        ("a:datetime", {"type": FieldType.DATETIME}),
        ("a:uuid", {"type": FieldType.UUID}),
        ("a:json", {"type": FieldType.JSON}),
        ("a:email", {"type": FieldType.EMAIL}),
        ("a:url", {"type": FieldType.URL}),
        ("a:enum:x", {"type": FieldType.ENUM, "enum_values": ("x",)}),
        ("a:enum:low,mid_2,high", {"enum_values": ("low", "mid_2", "high")}),
        ("customer:ref", {"type": FieldType.REF, "ref_target": "Customer"}),
        ("invoice_line:ref", {"ref_target": "InvoiceLine"}),
        ("user:ref", {"ref_target": "users"}),
        ("owner:ref:users", {"ref_target": "users"}),
        ("owner:ref:user", {"ref_target": "users"}),
        ("owner:ref:User", {"ref_target": "users"}),
        ("author:ref:person", {"ref_target": "Person"}),
        ("author:ref:Person", {"ref_target": "Person"}),
        ("line:ref:invoice_line", {"ref_target": "InvoiceLine"}),
        ("user:ref:customer", {"ref_target": "Customer"}),
        ("owner:ref:users:optional", {"ref_target": "users", "optional": True}),
        ("a:str:optional:unique:index", {"optional": True, "unique": True}),
        ("a:str:index:unique:optional", {"optional": True, "index": True}),
        ("a:text:unique", {"unique": True}),
        ("a:bool:index", {"index": True}),
        ("read:bool", {"name": "read"}),
        ("type:str", {"name": "type"}),
        ("external_id:str", {"column": "external_id"}),
    ],
)
def test_parse_field_types(token: str, expected: dict[str, object]) -> None:
    spec = parse_field(token)
    for attr, value in expected.items():
        assert getattr(spec, attr) == value, attr
    assert spec.token == token
    if spec.type is not FieldType.DECIMAL:
        assert spec.precision is None and spec.scale is None


def test_non_ref_has_no_target_and_column_is_name() -> None:
    spec = parse_field("title:str")
    assert spec.ref_target is None
    assert spec.column == "title"
    assert not spec.is_ref


# --------------------------------------------------------------------------
# Defaults
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "value"),
    [
        ("a:int:default=42", 42),
        ("a:int:default=-2147483648", -(2**31)),
        ("a:int:default=+7", 7),
        ("a:bigint:default=9223372036854775807", 2**63 - 1),
        ("a:float:default=1.5", 1.5),
        ("a:float:default=-2", -2.0),
        ("a:float:default=1e3", 1000.0),
        ("a:decimal:default=9.99", Decimal("9.99")),
        ("a:decimal:4,2:default=-99.99", Decimal("-99.99")),
        ("a:decimal:5,0:default=12345", Decimal("12345")),
        ("a:decimal:default=1.50", Decimal("1.5")),
        ("a:bool:default=TRUE", True),
        ("a:bool:default=False", False),
        ("a:str:default=hello world", "hello world"),
        ("a:str:default= ", " "),
        ("a:str:default=" + "x" * 255, "x" * 255),
        ("a:text:default=" + "x" * 1000, "x" * 1000),
        ("a:email:default=team@example.com", "team@example.com"),
        ("a:email:default=Team@EXAMPLE.com", "Team@example.com"),  # as the schema keeps it
        ("a:url:default=https://example.com/x?y=1", "https://example.com/x?y=1"),
        ("a:url:default=http://localhost:8000/a", "http://localhost:8000/a"),
        ("a:url:default=http://localhost:65535/a", "http://localhost:65535/a"),
        ("a:enum:x,y:default=y", "y"),
        ("a:date:default=2024-02-29", dt.date(2024, 2, 29)),
        (  # without an offset: UTC, as the API's datetimes are aware
            "a:datetime:default=2024-01-31T09:30:00",
            dt.datetime(2024, 1, 31, 9, 30, tzinfo=dt.UTC),
        ),
        (
            "a:datetime:default=2024-01-31T09:30:00+00:00",
            dt.datetime(2024, 1, 31, 9, 30, tzinfo=dt.UTC),
        ),
        (
            "a:uuid:default=12345678-1234-5678-1234-567812345678",
            uuid.UUID("12345678-1234-5678-1234-567812345678"),
        ),
        (
            "a:uuid:default=urn:uuid:12345678-1234-5678-1234-567812345678",
            uuid.UUID("12345678-1234-5678-1234-567812345678"),
        ),
    ],
)
def test_valid_defaults(token: str, value: object) -> None:
    spec = parse_field(token)
    assert spec.has_default
    assert spec.default == value
    assert type(spec.default) is type(value)


def test_a_saved_text_default_is_taken_as_it_was() -> None:
    """A manifest's default that an earlier version allowed still loads."""
    assert parse_field("a:str:default=", saved=True).default == ""
    assert parse_field("a:email:default=x@example.invalid", saved=True).has_default


def test_no_default() -> None:
    spec = parse_field("a:int")
    assert not spec.has_default
    assert spec.default is None


def test_optional_with_default_and_colons_in_default() -> None:
    spec = parse_field("site:url:default=https://x.io:8080/p:optional:index")
    assert spec.default == "https://x.io:8080/p"
    assert spec.optional and spec.index


def test_decimal_default_is_quantized_to_scale() -> None:
    assert str(parse_field("a:decimal:6,3:default=2").default) == "2.000"


@pytest.mark.parametrize(
    ("token", "fragment"),
    [
        ("a:int:default=1.5", "expected an integer"),
        ("a:int:default=abc", "expected an integer"),
        ("a:int:default=2147483648", "32-bit"),
        ("a:bigint:default=9223372036854775808", "64-bit"),
        ("a:float:default=nan", "finite number"),
        ("a:float:default=inf", "finite number"),
        ("a:float:default=1e999", "finite number"),
        ("a:float:default=x", "finite number"),
        ("a:decimal:4,2:default=100", "fits decimal(4,2)"),
        ("a:decimal:4,2:default=0.001", "fits decimal(4,2)"),
        ("a:decimal:default=1e3", "decimal number"),
        ("a:decimal:default=" + "1" * 80, "fits decimal(12,2)"),
        ("a:bool:default=yes", "true or false"),
        ("a:bool:default=1", "true or false"),
        ("a:str:default=" + "x" * 256, "1 to 255 characters"),
        ("a:str:default=", "1 to 255 characters"),
        ("a:text:default=" + "x" * 65_536, "at most 65,535 characters"),
        ("a:email:default=nobody", "email address"),
        ("a:email:default=someone@example.invalid", "special-use or reserved"),
        ("a:email:default=" + "x" * 250 + "@example.com", "email address"),
        ("a:url:default=example.com", "an http or https URL"),
        ("a:url:default=ftp://example.com", "an http or https URL"),
        ("a:url:default=http://[::1]/", "with an ASCII host"),
        ("a:url:default=https://bücher.de", "with an ASCII host"),
        ("a:url:default=https://example.com:123456", "an http or https URL"),
        ("a:url:default=https://example.com:65536/a", "an http or https URL"),
        ("a:enum:x,y:default=z", "must be one of x, y"),
        ("a:date:default=2024-02-30", "ISO date"),
        ("a:date:default=20240101", "ISO date"),
        ("a:date:default=yesterday", "ISO date"),
        ("a:datetime:default=now", "ISO datetime"),
        ("a:datetime:default=2024-01-01T25:00", "ISO datetime"),
        # stored as -infinity and infinity on PostgreSQL, or outside the calendar in UTC
        ("a:date:default=0001-01-01", "not either"),
        ("a:date:default=9999-12-31", "not either"),
        ("a:datetime:default=0001-01-01T00:00:00", "calendar's first instant"),
        ("a:datetime:default=0001-01-01T00:00:00+01:00", "calendar's first instant"),
        ("a:datetime:default=9999-12-31T23:59:59.999999", "calendar's first instant"),
        ("a:uuid:default=not-a-uuid", "UUID"),
        ("a:json:default={}", "json fields cannot have a default"),
        ("owner:ref:default=1", "ref fields cannot have a default"),
    ],
)
def test_invalid_defaults(token: str, fragment: str) -> None:
    message = error_of(token)
    assert fragment in message
    assert repr(token) in message


def test_url_and_email_defaults_are_what_the_generated_schemas_accept() -> None:
    base = render("project/app/schemas/base.py.jinja", {})
    assigned = {
        target.id: node.value
        for node in ast.parse(base).body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    assert ast.literal_eval(assigned["WEB_ADDRESS"]) == f"^{URL_PATTERN}$"
    assert ast.literal_eval(assigned["_EMAIL_SYNTAX"]) == EMAIL_PATTERN


# Addresses of the pattern's shape, from few letters and every other character, so
# that hyphens and dots often meet (email-validator refuses a label such as "ab--cd",
# and two dots in a row), and names around 64 characters long.
_EMAIL_LIKE = r"[aZ0.!#$%&'*+/=?^_`{|}~-]{1,70}" r"@(?:[aZ0][aZ0-]{0,6}[aZ0]\.){1,3}[A-Za-z]{2,5}"


@cache
def _email_schema() -> tuple[re.Pattern[str], re.Pattern[str], TypeAdapter[str]]:
    """The generated schemas' e-mail patterns (`pattern` and `not`) and their type."""
    namespace: dict[str, Any] = {}
    exec(render("project/app/schemas/base.py.jinja", {}), namespace)
    return (
        re.compile(namespace["EMAIL_ADDRESS"]),
        re.compile(namespace["NOT_EMAIL_ADDRESS"]),
        TypeAdapter(namespace["EmailAddress"]),
    )


@settings(max_examples=1500, derandomize=True, deadline=None, database=None)
@given(from_regex(_EMAIL_LIKE, fullmatch=True))
def test_every_address_the_email_schema_admits_is_accepted(address: str) -> None:
    """What the generated schemas admit, their validation (email-validator) accepts, and
    so does a field's default."""
    pattern, excluded, email = _email_schema()
    assume(pattern.fullmatch(address) and not excluded.search(address))
    email.validate_python(address)
    validate_email(address, check_deliverability=False)
    assert parse_field(f"a:email:default={address}").has_default


def test_enum_default_suggests_closest_value() -> None:
    assert "did you mean 'draft'?" in error_of("s:enum:draft,sent:default=drafr")


# --------------------------------------------------------------------------
# Field errors
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "fragments"),
    [
        # structure
        ("", ["empty field token"]),
        ("title", ["'title' has no type", "'title:str'"]),
        (":str", ["missing field name", "':str'"]),
        ("title::str", ["missing type", "'title::str'"]),
        ("title:str:", ["empty modifier", "'title:str:'"]),
        # types
        (
            "title:strng",
            ["unknown type 'strng'", "did you mean 'str'?", "Valid types:"],
        ),
        ("title:string", ["did you mean 'str'?"]),
        ("n:integer", ["did you mean 'int'?"]),
        ("flag:boolean", ["did you mean 'bool'?"]),
        ("at:timestamp", ["did you mean 'datetime'?"]),
        ("title:STR", ["did you mean 'str'?"]),
        ("x:qqqq", ["unknown type 'qqqq'", "valid types: str, text, int"]),
        # names
        ("Title:str", ["invalid field name 'Title'", "snake_case"]),
        ("dueOn:date", ["snake_case, e.g. 'due_on'"]),
        ("_secret:str", ["'_secret'", "underscore"]),
        ("2fa:bool", ["invalid field name '2fa'"]),
        ("tit-le:str", ["invalid field name 'tit-le'"]),
        ("class:str", ["'class'", "Python keyword"]),
        ("from:ref", ["'from'", "Python keyword"]),
        ("order:str", ["'order'", "SQL reserved word"]),
        ("user:str", ["'user'", "SQL reserved word"]),
        ("select:int", ["'select'", "SQL reserved word"]),
        ("current_date:date", ["'current_date'", "SQL reserved word"]),
        ("id:int", ["'id'", "reserved"]),
        ("project_id:int", ["'project_id'", "reserved"]),
        ("created_at:datetime", ["'created_at'", "reserved"]),
        ("updated_at:datetime", ["'updated_at'", "reserved"]),
        ("project:ref", ["'project'", "reserved"]),
        ("project:str", ["'project'", "reserved"]),
        ("metadata:json", ["'metadata'", "reserved"]),
        ("registry:str", ["'registry'", "reserved"]),
        ("query:str", ["'query'", "reserved"]),
        ("cursor:str", ["'cursor'", "reserved"]),
        ("limit:int", ["'limit'", "reserved"]),
        ("sort:str", ["'sort'", "reserved"]),
        ("x" * 64 + ":str", ["too long"]),
        # names the generated code would trip over
        ("date:date", ["'date'", "would hide the type 'date'"]),
        ("uuid:str", ["'uuid'", "would hide the type 'uuid'"]),
        ("str:int", ["'str'", "would hide the type"]),
        ("dict:ref", ["'dict'", "would hide the type"]),
        ("model_config:str", ["'model_config'", "starts with 'model_'"]),
        ("model_dump:int", ["starts with 'model_'"]),
        ("json:json", ["'json'", "BaseModel.json"]),
        ("copy:text", ["'copy'", "BaseModel.copy"]),
        ("self:str", ["'self'", "generated methods"]),
        # refs
        ("customer_id:ref", ["'customer_id'", "name it 'customer' (customer:ref)"]),
        ("owner:ref:project", ["cannot target built-in resource 'project'"]),
        ("owner:ref:memberships", ["cannot target built-in resource"]),
        ("owner:ref:RefreshToken", ["cannot target built-in resource"]),
        ("owner:ref:Bad-Name", ["invalid ref target 'Bad-Name'"]),
        # enums
        ("status:enum", ["enum field 'status' needs values", "status:enum:draft,sent"]),
        ("status:enum:optional", ["enum field 'status' needs values"]),
        ("status:enum:default=a", ["enum field 'status' needs values"]),
        ("status:enum:a,,b", ["empty enum value"]),
        ("status:enum:a,b,", ["empty enum value"]),
        ("status:enum:Draft", ["invalid enum value 'Draft'"]),
        ("status:enum:1st", ["invalid enum value '1st'"]),
        ("status:enum:in,out", ["enum value 'in'", "Python keyword"]),
        ("status:enum:a,b,a", ["duplicate enum value 'a'"]),
        # decimals
        ("a:decimal:10", ["invalid decimal precision '10'", "decimal:10,2"]),
        ("a:decimal:10.2", ["invalid decimal precision '10.2'"]),
        ("a:decimal:10,2,1", ["invalid decimal precision '10,2,1'"]),
        ("a:decimal:0,0", ["precision 0", "between 1 and 38"]),
        ("a:decimal:39,2", ["precision 39", "between 1 and 38"]),
        ("a:decimal:5,6", ["scale 6", "precision (5)"]),
        # modifiers
        ("a:str:optinal", ["unknown modifier 'optinal'", "did you mean 'optional'?"]),
        ("a:str:uniq", ["did you mean 'unique'?", "Valid modifiers: optional"]),
        ("a:str:defualt=x", ["did you mean 'default=VALUE'?"]),
        ("a:str:zzz", ["unknown modifier 'zzz'", "valid modifiers: optional, unique"]),
        ("a:str:100", ["unknown modifier '100'"]),
        ("a:str:default", ["'default'", "needs a value: default=VALUE"]),
        ("a:str:optional:optional", ["repeated modifier 'optional'"]),
        ("a:str:unique:index:unique", ["repeated modifier 'unique'"]),
        ("a:int:default=1:default=2", ["repeated modifier 'default'"]),
        ("a:json:unique", ["'unique' is not allowed on json"]),
        ("a:bool:unique", ["'unique' is not allowed on bool"]),
        ("a:json:index", ["'index' is not allowed on json"]),
    ],
)
def test_field_errors(token: str, fragments: list[str]) -> None:
    message = error_of(token)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message
    if token:
        assert repr(token) in message


def test_spec_error_is_value_error() -> None:
    assert issubclass(SpecError, ValueError)


# --------------------------------------------------------------------------
# parse_fields
# --------------------------------------------------------------------------


def test_parse_fields_empty_is_allowed() -> None:
    assert parse_fields([]) == ()


def test_parse_fields_rejects_single_string() -> None:
    with pytest.raises(TypeError):
        parse_fields("title:str")


@pytest.mark.parametrize(
    "tokens",
    [
        ["title:str", "title:text"],
        ["customer:ref", "customer:str"],
        ["customer:ref", "customer_id:int"],
        ["customer_id:uuid", "customer:ref"],
        ["customer:ref", "customer:ref:person"],
    ],
)
def test_parse_fields_rejects_duplicates(tokens: list[str]) -> None:
    with pytest.raises(SpecError) as info:
        parse_fields(tokens)
    message = str(info.value)
    assert "duplicate field" in message
    assert repr(tokens[1]) in message and repr(tokens[0]) in message


def test_parse_fields_keeps_order() -> None:
    assert [f.name for f in parse_fields(INVOICE)] == [
        "number",
        "amount",
        "status",
        "due_on",
        "customer",
    ]


# --------------------------------------------------------------------------
# Names and plurals
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("singular", "plural"),
    [
        ("Category", "categories"),
        ("Person", "people"),
        ("Status", "statuses"),
        ("Address", "addresses"),
        ("Notification", "notifications"),
        ("Asset", "assets"),
        ("Invoice", "invoices"),
        ("Customer", "customers"),
        ("Child", "children"),
        ("Box", "boxes"),
        ("Company", "companies"),
        ("Quiz", "quizzes"),
        ("Bus", "buses"),
        ("Analysis", "analyses"),
        ("InvoiceLine", "invoice_lines"),
        ("invoice_line", "invoice_lines"),
        ("ProductCategory", "product_categories"),
        ("SalesPerson", "sales_people"),
        ("Epoch", "epochs"),
        ("Todo", "todos"),
        ("Item2", "item2s"),
    ],
)
def test_plurals(singular: str, plural: str) -> None:
    assert parse_names(singular).plural_snake == plural


@pytest.mark.parametrize(
    ("word", "plural"),
    [("category", "categories"), ("Category", "categories"), ("it", "its")],
)
def test_pluralize_word(word: str, plural: str) -> None:
    assert pluralize(word) == plural


@pytest.mark.parametrize("name", ["InvoiceLine", "invoice_line", "invoiceLine"])
def test_names_all_forms(name: str) -> None:
    assert parse_names(name) == Names(
        class_name="InvoiceLine",
        snake="invoice_line",
        plural_snake="invoice_lines",
        plural_class="InvoiceLines",
        kebab_plural="invoice-lines",
        table="invoice_lines",
        human="invoice line",
        human_plural="invoice lines",
    )


def test_names_irregular_plural_class() -> None:
    names = parse_names("Person")
    assert (names.class_name, names.plural_class) == ("Person", "People")
    assert names.kebab_plural == "people"


@pytest.mark.parametrize(("name", "table"), [("Order", "orders"), ("Group", "groups")])
def test_a_reserved_word_is_a_name_when_its_table_is_not(name: str, table: str) -> None:
    """Only the table (the plural) is an SQL identifier; `order` is a module and a ref's
    field (`order_id`), never a bare identifier in SQL."""
    assert parse_names(name).table == table
    assert parse_field("order:ref").ref_target == "Order"


@pytest.mark.parametrize(
    ("token", "target"),
    [
        ("parent:ref:categories:optional", "Category"),
        ("buyer:ref:customers", "Customer"),
        ("line:ref:invoice_lines", "InvoiceLine"),
        ("owner:ref:users", USERS_TARGET),
    ],
)
def test_a_ref_target_may_be_named_by_its_table(token: str, target: str) -> None:
    assert parse_field(token).ref_target == target


def test_names_acronyms_are_normalised() -> None:
    names = parse_names("HTTPLog")
    assert (names.class_name, names.snake, names.table) == (
        "HttpLog",
        "http_log",
        "http_logs",
    )


@pytest.mark.parametrize(
    ("name", "fragments"),
    [
        ("", ["resource name is empty"]),
        ("2Fast", ["'2Fast'", "must not start with a digit"]),
        ("_Hidden", ["'_Hidden'", "must not start with an underscore"]),
        ("Invoice-Line", ["'Invoice-Line'", "identifier"]),
        ("Café", ["'Café'"]),
        ("invoice__line", ["'invoice__line'", "single underscores"]),
        ("invoice_", ["'invoice_'"]),
        ("line_2", ["'line_2'"]),
        ("a_b", ["'a_b'", "ambiguous"]),
        ("Class", ["'Class'", "Python keyword"]),
        ("Value", ["'Value'", "SQL reserved word", "'values'"]),
        ("User", ["'User'", "collides with a built-in resource"]),
        ("users", ["'users'", "collides with a built-in resource"]),
        ("Project", ["collides with a built-in resource"]),
        ("Projects", ["collides with a built-in resource"]),
        ("Membership", ["collides with a built-in resource"]),
        ("memberships", ["collides with a built-in resource"]),
        ("RefreshToken", ["collides with a built-in resource"]),
        ("refresh_tokens", ["collides with a built-in resource"]),
        ("Sheep", ["same singular and plural"]),
        ("Test", ["begins with the word Test", "TestCreate", "test_payload"]),
        ("TestRun", ["begins with the word Test", "TestRunCreate", "test_run_payload"]),
        ("Thing" * 13, ["too long"]),
    ],
)
def test_name_errors(name: str, fragments: list[str]) -> None:
    with pytest.raises(SpecError) as info:
        parse_names(name)
    for fragment in fragments:
        assert fragment in str(info.value)


def test_plural_looking_names_are_accepted() -> None:
    assert parse_names("News_item").table == "news_items"
    assert parse_names("Bus").table == "buses"


def test_names_dict_round_trip() -> None:
    names = parse_names("InvoiceLine")
    data = json.loads(json.dumps(names.to_dict()))
    assert Names.from_dict(data) == names


def test_names_from_dict_keeps_stored_spellings() -> None:
    data = parse_names("Cactus").to_dict() | {"plural_snake": "cacti", "table": "cacti"}
    assert Names.from_dict(data).table == "cacti"


def test_names_from_dict_rejects_garbage() -> None:
    with pytest.raises(SpecError, match="class_name"):
        Names.from_dict({"snake": "x"})


# --------------------------------------------------------------------------
# Round trips
# --------------------------------------------------------------------------

ROUND_TRIP_TOKENS = [
    *NOTIFICATION,
    *INVOICE,
    "a:str:unique:index:optional:default=x y",
    "a:str:default= ",
    "a:text:optional",
    "a:int:default=-5",
    "a:bigint:index:default=9223372036854775807",
    "a:float:default=0.1",
    "a:float:default=1e300",
    "a:decimal:10,4:default=3.14",
    "a:decimal:3,0:default=-999",
    "a:bool:default=TRUE",
    "a:date:optional:default=2024-01-31",
    "a:datetime:default=2024-01-31T09:30:00.123456+05:30",
    "a:datetime:default=2024-01-31 09:30",
    "a:uuid:unique:default=12345678-1234-5678-1234-567812345678",
    "a:json:optional",
    "a:email:unique:default=x@example.org",
    "a:url:default=https://example.com:8443/path?q=1",
    "a:enum:x,y,z:index:default=z",
    "owner:ref:users:optional",
    "author:ref:person:index",
    "line:ref:invoice_line:unique",
]


@pytest.mark.parametrize("token", ROUND_TRIP_TOKENS)
def test_to_token_round_trip(token: str) -> None:
    spec = parse_field(token)
    canonical = spec.to_token()
    again = parse_field(canonical)
    assert again == spec
    assert again.to_token() == canonical
    assert type(again.default) is type(spec.default)


@pytest.mark.parametrize("token", ROUND_TRIP_TOKENS)
def test_dict_round_trip(token: str) -> None:
    spec = parse_field(token)
    data = json.loads(json.dumps(spec.to_dict()))
    assert data["column"] == spec.column
    restored = FieldSpec.from_dict(data)
    assert restored == spec
    assert restored.token == token
    assert type(restored.default) is type(spec.default)


def test_canonical_tokens() -> None:
    assert parse_field("amount:decimal").to_token() == "amount:decimal:12,2"
    assert parse_field("user:ref").to_token() == "user:ref:users"
    assert parse_field("customer:ref").to_token() == "customer:ref:Customer"
    assert (
        parse_field("a:str:default=b:index:optional").to_token() == "a:str:optional:index:default=b"
    )
    assert parse_field("a:bool:default=True").to_token() == "a:bool:default=true"


def test_field_from_dict_validates() -> None:
    data = parse_field("a:int:default=1").to_dict() | {"default": "many"}
    with pytest.raises(SpecError, match="invalid default"):
        FieldSpec.from_dict(data)
    with pytest.raises(SpecError, match="unknown type"):
        FieldSpec.from_dict({"name": "a", "type": "nope"})


def test_field_to_dict_is_plain_json() -> None:
    data = parse_field("a:decimal:default=1.5").to_dict()
    assert data["default"] == "1.50"
    assert data["type"] == "decimal"
    assert type(data["type"]) is str
    assert json.loads(json.dumps(data)) == data


@pytest.mark.parametrize(
    ("name", "tokens"),
    [("Notification", NOTIFICATION), ("Invoice", INVOICE), ("Category", [])],
)
def test_resource_round_trip(name: str, tokens: list[str]) -> None:
    spec = ResourceSpec.parse(name, tokens)
    data = json.loads(json.dumps(spec.to_dict()))
    assert ResourceSpec.from_dict(data) == spec


def test_resource_from_dict_rejects_duplicates() -> None:
    data = ResourceSpec.parse("Invoice", ["a:str", "b:int"]).to_dict()
    data["fields"][1]["name"] = "a"
    with pytest.raises(SpecError, match="duplicate field 'a'"):
        ResourceSpec.from_dict(data)


def test_resource_parse_reports_name_errors_first() -> None:
    with pytest.raises(SpecError, match="built-in"):
        ResourceSpec.parse("User", ["title:str"])


def test_specs_are_frozen_and_hashable() -> None:
    spec = ResourceSpec.parse("Invoice", INVOICE)
    with pytest.raises(AttributeError):
        spec.names = parse_names("Person")  # type: ignore[misc]
    assert hash(spec) == hash(ResourceSpec.parse("Invoice", INVOICE))


@pytest.mark.parametrize(
    ("human", "expected"),
    [
        ("asset", "an asset"),
        ("invoice line", "an invoice line"),
        ("order", "an order"),
        ("upload", "an upload"),
        ("hour log", "an hour log"),
        ("user", "a user"),
        ("unit", "a unit"),
        ("euro rate", "a euro rate"),
        ("customer", "a customer"),
        ("hotel", "a hotel"),
    ],
)
def test_docstrings_name_a_resource_with_the_right_article(human: str, expected: str) -> None:
    assert f"{indefinite_article(human)} {human}" == expected
    names = Names.from_dict(
        {
            "class_name": "X",
            "snake": "x",
            "plural_snake": "xs",
            "plural_class": "Xs",
            "kebab_plural": "xs",
            "human": human,
            "human_plural": human + "s",
        }
    )
    assert names.a_human == expected


def test_index_names_are_cut_to_63_characters_as_sqlalchemy_cuts_convention_names() -> None:
    assert index_name("invoices", "customer_id") == "ix_invoices_project_id_customer_id"
    long = index_name("subscription_plan_price_tiers", "subscription_plan_id")
    whole = "ix_subscription_plan_price_tiers_project_id_subscription_plan_id"
    assert long == f"{whole[:55]}_{hashlib.md5(whole.encode()).hexdigest()[-4:]}"
    assert len(long) == 60 and long != index_name("subscription_plan_price_tiers", "other_id")


def test_a_saved_field_with_a_name_refused_since_still_loads() -> None:
    """A backend's manifest may hold a name refused since (it worked, with warnings)."""
    with pytest.raises(SpecError):
        parse_fields(["copy:text"])
    (field,) = parse_fields(["copy:text"], saved=True)
    assert field.name == "copy"
    assert ResourceSpec.parse("Advert", ["json:json"], saved=True).fields[0].name == "json"
