"""From a parsed spec to everything templates print: names, types and sample values.

All the decisions about how a field looks in a model, a schema, a migration or a
test are taken here, so that the templates only place precomputed strings.
"""

import uuid
from collections import Counter
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from backend_builder.resource.spec import (
    FieldSpec,
    FieldType,
    Names,
    ResourceSpec,
    indefinite_article,
    index_name,
)

STR_LENGTH = 255
EMAIL_LENGTH = 320
URL_LENGTH = 2048

# type -> (python annotation, model column type or "", migration type)
_TYPES: dict[FieldType, tuple[str, str, str]] = {
    FieldType.STR: ("str", f"String({STR_LENGTH})", f"sa.String(length={STR_LENGTH})"),
    FieldType.TEXT: ("str", "Text", "sa.Text()"),
    FieldType.INT: ("int", "", "sa.Integer()"),
    FieldType.BIGINT: ("int", "BigInteger", "sa.BigInteger()"),
    FieldType.FLOAT: ("float", "Float", "sa.Float()"),
    FieldType.BOOL: ("bool", "", "sa.Boolean()"),
    FieldType.DATE: ("date", "", "sa.Date()"),
    FieldType.DATETIME: ("datetime", "", "sa.DateTime(timezone=True)"),
    FieldType.UUID: ("uuid.UUID", "", "sa.Uuid()"),
    FieldType.JSON: ("dict[str, Any]", "JSON", "sa.JSON()"),
    FieldType.EMAIL: ("str", f"String({EMAIL_LENGTH})", f"sa.String(length={EMAIL_LENGTH})"),
    FieldType.URL: ("str", f"String({URL_LENGTH})", f"sa.String(length={URL_LENGTH})"),
    FieldType.REF: ("uuid.UUID", "", "sa.Uuid()"),
}
_NOT_FILTERABLE = {FieldType.JSON, FieldType.TEXT, FieldType.FLOAT}
# Filters whose equality is exact on every database, used by the generated filter test.
_EXACT_FILTERS = {
    FieldType.STR,
    FieldType.INT,
    FieldType.BIGINT,
    FieldType.BOOL,
    FieldType.DATE,
    FieldType.UUID,
    FieldType.EMAIL,
    FieldType.URL,
    FieldType.ENUM,
}
_NOT_SORTABLE = {FieldType.JSON, FieldType.TEXT}
_TEXT_TYPES = {FieldType.STR, FieldType.TEXT, FieldType.EMAIL, FieldType.URL}

Import = tuple[str, str]  # (module, name); name "" for `import module`


@dataclass(frozen=True)
class RefTarget:
    """What a ref points at: a resource of the project, or a member of the project."""

    class_name: str  # Customer, or "" for users
    snake: str  # customer
    table: str  # customers, or memberships
    key_column: str  # id, or user_id
    human: str  # customer, or member
    module: str  # customer (model module), or "" for users
    tests_module: str  # test_customers, or "" for users
    url: str = ""  # /api/v1/customers/, or "" for users
    is_self: bool = False  # a resource that refers to itself (a tree)
    constant: str = ""  # CUSTOMERS: the tests' `Resource`, or "" for users

    @property
    def repository_attribute(self) -> str:
        """The service attribute holding the target's repository."""
        return "repository" if self.is_self else f"{self.snake}_repository"


USERS = RefTarget("", "user", "memberships", "user_id", "member", "", "")


def ref_target_of(names: Names, *, is_self: bool = False) -> RefTarget:
    """The ref target for a generated resource."""
    return RefTarget(
        names.class_name,
        names.snake,
        names.table,
        "id",
        names.human,
        names.snake,
        f"test_{names.plural_snake}",
        f"/api/v1/{names.kebab_plural}/",
        is_self,
        names.plural_snake.upper(),
    )


def _pascal(snake: str) -> str:
    return "".join(part.capitalize() for part in snake.split("_"))


def _python_literal(value: Any, field: FieldSpec, enum_class: str) -> str:
    if field.type is FieldType.ENUM:
        return f"{enum_class}.{str(value).upper()}"
    if isinstance(value, bool | int | float):
        return repr(value)
    if isinstance(value, Decimal):
        return f'Decimal("{value}")'
    if isinstance(value, datetime):
        return f'datetime.fromisoformat("{value.isoformat()}")'
    if isinstance(value, date):
        return f'date.fromisoformat("{value.isoformat()}")'
    if isinstance(value, uuid.UUID):
        return f'uuid.UUID("{value}")'
    return repr(str(value))


def _decimal_sample(field: FieldSpec, *, alternative: bool) -> str:
    """A decimal that a binary float holds exactly (SQLite stores decimals as floats)."""
    scale = field.scale or 0
    digit = "7" if alternative else "1"
    whole = digit if (field.precision or 1) > scale else "0"
    fraction = {0: "", 1: ".5"}.get(scale, ".75" if alternative else ".25")
    return f'"{whole}{fraction}"'


def _sample(field: FieldSpec, *, alternative: bool) -> str:
    """A Python expression for a valid JSON value of the field, unique if needed."""
    unique = "uuid.uuid4().hex[:12]"
    match field.type:
        case FieldType.STR:
            return (
                f'f"{field.name} {{{unique}}}"'
                if field.unique
                else repr(f"{field.name} {'two' if alternative else 'one'}")
            )
        case FieldType.TEXT:
            if field.unique:
                return f'f"Some {field.name}, {{{unique}}}."'
            return repr(f"Some {field.name}, {'edited' if alternative else 'first draft'}.")
        case FieldType.INT:
            return (
                "uuid.uuid4().int % 2_000_000_000"
                if field.unique
                else ("7" if alternative else "42")
            )
        case FieldType.BIGINT:
            return (
                "uuid.uuid4().int % 9_000_000_000_000_000"
                if field.unique
                else ("7_000_000_000" if alternative else "9_000_000_000")
            )
        case FieldType.FLOAT:
            if field.unique:  # quarters: exact in binary, so they read back as sent
                return "uuid.uuid4().int % 4_000_000 / 4"
            return "2.25" if alternative else "1.5"
        case FieldType.DECIMAL:
            if field.unique:
                digits = max((field.precision or 1) - (field.scale or 0), 1)
                return f"str(uuid.uuid4().int % {10 ** min(digits, 15)})"
            return _decimal_sample(field, alternative=alternative)
        case FieldType.BOOL:
            return "False" if alternative else "True"
        case FieldType.DATE:
            if field.unique:  # any day of about 5,000 years
                return (
                    "(date(2030, 1, 31) "
                    "+ timedelta(days=uuid.uuid4().int % 2_000_000)).isoformat()"
                )
            return '"2031-12-24"' if alternative else '"2030-01-31"'
        case FieldType.DATETIME:
            if field.unique:  # any second of about 3,000 years
                return (
                    "(datetime(2030, 1, 31, 12, tzinfo=UTC) "
                    "+ timedelta(seconds=uuid.uuid4().int % 100_000_000_000)).isoformat()"
                )
            return '"2031-12-24T08:30:00Z"' if alternative else '"2030-01-31T12:00:00Z"'
        case FieldType.UUID:
            return "str(uuid.uuid4())"
        case FieldType.JSON:
            return '{"edited": True}' if alternative else '{"key": "value", "n": [1, 2]}'
        case FieldType.EMAIL:
            if field.unique or alternative:
                return f'f"{{{unique}}}@example.com"'
            return '"someone@example.com"'
        case FieldType.URL:
            if field.unique:
                return f'f"https://example.com/{{{unique}}}"'
            return '"https://example.com/b"' if alternative else '"https://example.com/a"'
        case FieldType.ENUM:
            return repr(field.enum_values[-1] if alternative else field.enum_values[0])
        case FieldType.REF:
            return ""  # refs are filled in by the test module's factory
    raise AssertionError(field.type)  # pragma: no cover


@dataclass(frozen=True)
class FieldView:
    """One field, as every template prints it."""

    name: str
    column: str
    type: str
    optional: bool
    unique: bool
    indexed: bool
    is_ref: bool
    is_enum: bool
    is_json: bool
    annotation: str  # python type in models and responses (without None)
    mapped_annotation: str  # Mapped[...]
    column_args: str  # mapped_column(...) arguments, or ""
    schema_annotation: str  # the type in Create/Update schemas
    filter_annotation: str  # the type of its filter in ListParams
    schema_default: str  # " = <default>" or ""
    migration_type: str
    enum_class: str
    enum_members: tuple[tuple[str, str], ...]
    enum_length: int
    filterable: bool
    sortable: bool
    sample_expr: str  # a valid value, in a test where `user` is the creator
    alternative_expr: str  # another valid value, where `owner` is the creator
    foreign_expr: str  # for refs: an object of `outsider`'s project
    ref: RefTarget | None
    model_imports: tuple[Import, ...]  # what its model lines import
    schema_imports: tuple[Import, ...]  # what its schema and filter lines import
    ref_test: str = ""  # a ref's test of deleting its target: the name after `test_`


def _schema_annotation(field: FieldSpec, annotation: str) -> str:
    match field.type:
        case FieldType.STR:
            return f"Annotated[Text, StringConstraints(min_length=1, max_length={STR_LENGTH})]"
        case FieldType.TEXT:
            return "Annotated[Text, StringConstraints(max_length=65_535)]"
        case FieldType.INT:
            return "Annotated[int, Strict(), Field(ge=-(2**31), lt=2**31), WholeNumber]"
        case FieldType.BIGINT:
            return "Annotated[int, Strict(), Field(ge=-(2**63), lt=2**63), WholeNumber]"
        case FieldType.FLOAT:
            return "Annotated[float, Strict(), Field(allow_inf_nan=False)]"
        case FieldType.BOOL:
            return "StrictBool"
        case FieldType.DATE:
            return "IsoDate"
        case FieldType.DECIMAL:
            # Without whole digits, pydantic's max_digits would count the 0 of "0" as
            # one: the bounds say the same, and let 0 through.
            digits = (
                "gt=-1, lt=1" if field.precision == field.scale else f"max_digits={field.precision}"
            )
            return (
                f"Annotated[Decimal, Field({digits}, "
                f"decimal_places={field.scale}, allow_inf_nan=False), "
                f"decimal_schema({field.precision}, {field.scale})]"
            )
        case FieldType.EMAIL:
            return "EmailAddress"
        case FieldType.URL:
            return "WebAddress"
        case FieldType.DATETIME:
            return "IsoDateTime"
        case FieldType.JSON:
            return "JsonObject"
    return annotation


_FILTER_ANNOTATIONS = {
    FieldType.INT: "Annotated[int, Field(ge=-(2**31), lt=2**31), QueryDigits]",
    FieldType.BIGINT: "Annotated[int, Field(ge=-(2**63), lt=2**63), QueryDigits]",
    FieldType.BOOL: "QueryBool",
    FieldType.DATE: "IsoDate",
    FieldType.DATETIME: "IsoDateTime",
    FieldType.STR: "Text",
    FieldType.TEXT: "Text",
    FieldType.EMAIL: "Text",
    FieldType.URL: "Text",
}


_ANNOTATED: tuple[Import, ...] = (("typing", "Annotated"),)
_WHOLE: Import = ("app.schemas.base", "WholeNumber")
# What each type's schema annotation (`_schema_annotation`) imports.
_SCHEMA_IMPORTS: dict[FieldType, tuple[Import, ...]] = {
    FieldType.STR: (*_ANNOTATED, ("pydantic", "StringConstraints"), ("app.schemas.base", "Text")),
    FieldType.TEXT: (*_ANNOTATED, ("pydantic", "StringConstraints"), ("app.schemas.base", "Text")),
    FieldType.URL: (("app.schemas.base", "WebAddress"),),
    FieldType.INT: (*_ANNOTATED, ("pydantic", "Strict"), ("pydantic", "Field"), _WHOLE),
    FieldType.BIGINT: (*_ANNOTATED, ("pydantic", "Strict"), ("pydantic", "Field"), _WHOLE),
    FieldType.FLOAT: (*_ANNOTATED, ("pydantic", "Strict"), ("pydantic", "Field")),
    FieldType.BOOL: (("pydantic", "StrictBool"),),
    FieldType.DATE: (("app.schemas.base", "IsoDate"), ("datetime", "date")),
    FieldType.DATETIME: (("app.schemas.base", "IsoDateTime"),),
    FieldType.DECIMAL: (
        *_ANNOTATED,
        ("pydantic", "Field"),
        ("decimal", "Decimal"),
        ("app.schemas.base", "decimal_schema"),
    ),
    FieldType.EMAIL: (("app.schemas.base", "EmailAddress"),),
    FieldType.JSON: (("app.schemas.base", "JsonObject"), ("typing", "Any")),
}
# What each filterable type's filter annotation (`_FILTER_ANNOTATIONS`) imports.
_FILTER_IMPORTS: dict[FieldType, tuple[Import, ...]] = {
    FieldType.INT: (*_ANNOTATED, ("app.schemas.base", "QueryDigits"), ("pydantic", "Field")),
    FieldType.BIGINT: (*_ANNOTATED, ("app.schemas.base", "QueryDigits"), ("pydantic", "Field")),
    FieldType.BOOL: (("app.schemas.base", "QueryBool"),),
    FieldType.DATE: (("app.schemas.base", "IsoDate"),),
    FieldType.DATETIME: (("app.schemas.base", "IsoDateTime"),),
    FieldType.DECIMAL: _SCHEMA_IMPORTS[FieldType.DECIMAL],
    FieldType.STR: (("app.schemas.base", "Text"),),
    FieldType.TEXT: (("app.schemas.base", "Text"),),
    FieldType.EMAIL: (("app.schemas.base", "Text"),),
    FieldType.URL: (("app.schemas.base", "Text"),),
}
# What each type's model column imports.
_MODEL_IMPORTS: dict[FieldType, tuple[Import, ...]] = {
    FieldType.STR: (("sqlalchemy", "String"),),
    FieldType.EMAIL: (("sqlalchemy", "String"),),
    FieldType.URL: (("sqlalchemy", "String"),),
    FieldType.TEXT: (("sqlalchemy", "Text"),),
    FieldType.BIGINT: (("sqlalchemy", "BigInteger"),),
    FieldType.FLOAT: (("sqlalchemy", "Float"),),
    FieldType.DATE: (("datetime", "date"),),
    FieldType.DATETIME: (("datetime", "datetime"),),
    FieldType.UUID: (("uuid", ""),),
    FieldType.REF: (("uuid", ""),),
    FieldType.DECIMAL: (("decimal", "Decimal"), ("sqlalchemy", "Numeric")),
    FieldType.JSON: (("typing", "Any"), ("sqlalchemy", "JSON")),
    FieldType.ENUM: (("enum", ""), ("app.models.base", "enum_values"), ("sqlalchemy", "Enum")),
}


def _field_imports(field: FieldSpec, names: Names) -> tuple[tuple[Import, ...], tuple[Import, ...]]:
    """What the field's lines import: in the model, and in the schemas."""
    model = list(_MODEL_IMPORTS.get(field.type, ()))
    schema = list(_SCHEMA_IMPORTS.get(field.type, ()))
    if field.type not in _NOT_FILTERABLE:
        schema += _FILTER_IMPORTS.get(field.type, ())
    if field.type is FieldType.ENUM:
        schema.append((f"app.models.{names.snake}", f"{names.class_name}{_pascal(field.name)}"))
    if field.is_ref:
        schema += [("typing", "Annotated"), ("app.schemas.base", "RefersTo")]
    if (
        field.has_default
        or field.type in (FieldType.DECIMAL, FieldType.ENUM)
        or _TYPES[field.type][1]
    ):
        model.append(("sqlalchemy.orm", "mapped_column"))
    if field.has_default and isinstance(field.default, datetime):
        model.append(("datetime", "datetime"))
    elif field.has_default and isinstance(field.default, date):
        model.append(("datetime", "date"))
    return tuple(model), tuple(schema)


def _ref_sample(ref: RefTarget, user: str, *, first: bool = False, shared: bool = False) -> str:
    """A test's value of a ref: `first` in payloads, `shared` where any object will do."""
    if ref.is_self and first:
        return "None"  # the first of a tree has no parent
    if not ref.class_name:
        return f"str({user}.id)"
    if first or (shared and not ref.is_self):  # one object per user, inserted
        return f"{ref.constant}.referenced(client, {user})"
    return f'create_{ref.snake}(client, {user})["id"]'


def field_view(field: FieldSpec, names: Names, ref: RefTarget | None) -> FieldView:
    """Precompute how `field` of resource `names` is printed everywhere."""
    enum_class = f"{names.class_name}{_pascal(field.name)}" if field.type is FieldType.ENUM else ""
    if field.type is FieldType.DECIMAL:
        annotation, column_type = "Decimal", f"Numeric({field.precision}, {field.scale})"
        migration_type = f"sa.Numeric(precision={field.precision}, scale={field.scale})"
    elif field.type is FieldType.ENUM:
        length = max(len(value) for value in field.enum_values)
        annotation = enum_class
        column_type = (
            f'Enum({enum_class}, name="{field.name}", native_enum=False, '
            f"create_constraint=True, length={length}, values_callable=enum_values)"
        )
        values = ", ".join(f'"{value}"' for value in field.enum_values)
        migration_type = (
            f'sa.Enum({values}, name="{field.name}", native_enum=False, '
            f"create_constraint=True, length={length})"
        )
    else:
        annotation, column_type, migration_type = _TYPES[field.type]
    model_imports, schema_imports = _field_imports(field, names)
    column_args = [column_type] if column_type else []
    if field.has_default:
        column_args.append(f"default={_python_literal(field.default, field, enum_class)}")
    nullable = " | None" if field.optional else ""
    schema_annotation = _schema_annotation(field, annotation)
    if ref:
        noun = f"{indefinite_article(ref.human)} {ref.human}"
        schema_annotation = f'Annotated[{annotation}, RefersTo("{noun}")]'
    if field.has_default:
        schema_default = f" = {_python_literal(field.default, field, enum_class)}"
    elif field.optional:
        schema_default = " = None"
    else:
        schema_default = ""
    return FieldView(
        name=field.name,
        column=field.column,
        type=field.type.value,
        optional=field.optional,
        unique=field.unique,
        indexed=field.index,
        is_ref=field.is_ref,
        is_enum=field.type is FieldType.ENUM,
        is_json=field.type is FieldType.JSON,
        annotation=annotation,
        mapped_annotation=f"Mapped[{annotation}{nullable}]",
        column_args=", ".join(column_args),
        schema_annotation=schema_annotation + nullable,
        filter_annotation=_FILTER_ANNOTATIONS.get(
            field.type,
            schema_annotation if field.type is FieldType.DECIMAL else annotation,
        ),
        schema_default=schema_default,
        migration_type=migration_type,
        enum_class=enum_class,
        enum_members=tuple((value.upper(), value) for value in field.enum_values),
        enum_length=max((len(v) for v in field.enum_values), default=0),
        filterable=field.type not in _NOT_FILTERABLE,
        sortable=field.type not in _NOT_SORTABLE and not field.optional,
        sample_expr=(
            _ref_sample(ref, "user", first=True) if ref else _sample(field, alternative=False)
        ),
        alternative_expr=_ref_sample(ref, "owner") if ref else _sample(field, alternative=True),
        foreign_expr=_ref_sample(ref, "outsider", shared=True) if ref else "",
        ref=ref,
        model_imports=model_imports,
        schema_imports=schema_imports,
    )


def _with_ref_tests(fields: list[FieldView]) -> list[FieldView]:
    """Name each ref's test of deleting its target; by the field where two refs share one."""
    targets = Counter(f.ref.class_name for f in fields if f.ref is not None)
    named = []
    for field in fields:
        if field.ref is not None:
            noun = field.ref.snake if field.ref.class_name else "member"
            shared = targets[field.ref.class_name] > 1
            subject = f"{noun}_referenced_as_{field.name}" if shared else f"referenced_{noun}"
            outcome = "is_kept" if field.ref.class_name else "stays_in_the_project"
            field = replace(field, ref_test=f"a_{subject}_{outcome}")
        named.append(field)
    return named


def route_errors(names: Names, *, unique: bool, refs: bool) -> dict[str, tuple[str, ...]]:
    """The errors that each endpoint of a resource documents, by endpoint (and so imports).

    Reads need a token and a current project; writes also a role. Every create may
    meet a deleted project (a foreign key); an update, a deleted reference.
    """
    not_found = f"{names.class_name}NotFound"
    reading = ("NotAuthenticated", "NoCurrentProject")
    writing = ("NotAuthenticated", "PermissionDenied", "NoCurrentProject")
    taken = ("AlreadyExists",) if unique else ()
    return {
        "list": (*reading, "InvalidCursor"),
        "get": (*reading, not_found),
        "create": (*writing, *taken, "MissingReference"),
        "update": (*writing, not_found, *taken, *(("MissingReference",) if refs else ())),
        "delete": (*writing, not_found, "StillReferenced"),
    }


def rls_statements(table: str) -> list[str]:
    """PostgreSQL row-level security for a tenant table, as `app.core.tenancy` writes it."""
    current = "NULLIF(current_setting('app.project_id', true), '')::uuid"
    return [
        f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
        f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY",
        f"CREATE POLICY {table}_project_isolation ON {table} "
        f"USING (project_id = {current}) WITH CHECK (project_id = {current})",
    ]


def resource_context(
    spec: ResourceSpec,
    refs: dict[str, RefTarget],
    *,
    revision: str,
    down_revision: str,
    distribute_existing: bool = False,
) -> dict[str, Any]:
    """Everything the resource templates need, precomputed.

    `distribute_existing`: the create migration first distributes the tables of
    earlier migrations, which did not (a backend generated before distribution).
    """
    names = spec.names
    fields = _with_ref_tests([field_view(f, names, refs.get(f.name)) for f in spec.fields])
    ref_fields = [f for f in fields if f.ref is not None]
    required = [f for f in fields if not f.optional and not f.schema_default]
    sortable = ["id", "created_at", *(f.column for f in fields if f.sortable)]
    wrong_type = next((f for f in fields if not f.is_json), None)
    indexes = [
        {"name": index_name(names.table, f.column), "column": f.column}
        for f in fields
        if (f.indexed or f.is_ref) and not f.unique
    ]
    table_args = [f'UniqueConstraint("project_id", "{f.column}")' for f in fields if f.unique]
    table_args += [
        f'ForeignKeyConstraint(["project_id", "{f.column}"], '
        f'["{f.ref.table}.project_id", "{f.ref.table}.{f.ref.key_column}"])'
        for f in fields
        if f.ref is not None
    ]
    table_args += [
        f'Index("{index["name"]}", "project_id", "{index["column"]}")' for index in indexes
    ]
    return {
        "names": names,
        "fields": fields,
        "enum_fields": [f for f in fields if f.is_enum],
        "ref_fields": ref_fields,
        "resource_refs": [f for f in ref_fields if f.ref and f.ref.class_name],
        "user_refs": [f for f in ref_fields if f.ref and not f.ref.class_name],
        "ref_targets": sorted(
            {
                f.ref.class_name: f.ref
                for f in ref_fields
                if f.ref and f.ref.class_name and not f.ref.is_self
            }.values(),
            key=lambda target: target.class_name,
        ),
        "unique_fields": [f for f in fields if f.unique],
        "errors": route_errors(names, unique=any(f.unique for f in fields), refs=bool(ref_fields)),
        "indexed_fields": [f for f in fields if f.indexed and not f.unique],
        "filter_fields": [f for f in fields if f.filterable],
        "sort_values": [f"{prefix}{name}" for name in sortable for prefix in ("", "-")],
        "sort_field": next((f for f in fields if f.sortable), None),
        "sort_fields": [f for f in fields if f.sortable],
        "sortable_columns": sortable,
        "resource_constant": names.plural_snake.upper(),
        "an_object": names.a_human[:1].upper() + names.a_human[1:],
        "text_fields": [f for f in fields if f.type in _TEXT_TYPES],
        "json_fields": [f for f in fields if f.is_json],
        "filter_field": next(
            (
                view
                for view, field in zip(fields, spec.fields, strict=True)
                if field.type in _EXACT_FILTERS and len(field.enum_values) != 1
            ),
            None,
        ),
        "update_field": fields[0],
        "table_args": table_args,
        "indexes": indexes,
        "required_fields": required,
        "non_nullable": [f.column for f in fields if not f.optional],
        "wrong_type_field": wrong_type,
        "rls_statements": rls_statements(names.table),
        "revision": revision,
        "down_revision": down_revision,
        "distribute_existing": distribute_existing,
    }
