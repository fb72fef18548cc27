"""Migration operations on an existing table, as data: add, drop, rename and alter a column.

Each operation knows its upgrade and its downgrade (its inverse) as Alembic
calls in four phases, so that one migration can hold several operations:

1. drop the constraints and indexes that are about to change;
2. change the columns (add, drop, rename, alter), and fill values where needed;
3. check the data against a unique constraint about to be created (a project that
   holds a value twice), an enum about to lose values (a row that holds one) or a type
   about to narrow (a value it would not take): each stops the migration with a
   message naming the column;
4. create the constraints and indexes of the new columns.

Each phase is one `op.batch_alter_table` block (the check has none), followed by the
statements that must run between blocks (`after_batch`: fills, replaced enum values,
checks). On SQLite, Alembic recreates the table in each block and copies its rows; on
PostgreSQL a block is a plain `ALTER TABLE`. A statement that must run before a
column narrows (an enum's replaced values, its check, a narrower type's check) runs
after the first phase.
Constraint and index names follow the backend's naming convention, exactly as the
create-table migration and the models name them, so `alembic check` sees no drift.

Enum columns are a `VARCHAR` with a named `CHECK`; here the `CHECK` is managed
explicitly (dropped and created by name), which works the same on both databases.
"""

import datetime as dt
import decimal
import enum
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from backend_builder.resource.context import EMAIL_LENGTH, STR_LENGTH, URL_LENGTH, FieldView
from backend_builder.resource.spec import FieldSpec, FieldType, index_name


class Phase(enum.IntEnum):
    """The order of the phases of a migration."""

    DROP = 0
    COLUMNS = 1
    CHECK = 2  # statements only: what must hold before the constraints are created
    CREATE = 3


@dataclass(frozen=True)
class Step:
    """One Alembic call inside a phase's batch block (or a statement after it)."""

    phase: Phase
    line: str
    after_batch: bool = False  # op.execute(...) runs between the batch blocks


def _column_type(view: FieldView) -> str:
    """The column's type without its CHECK: enums are a VARCHAR of their longest value."""
    if view.is_enum:
        return f"sa.String(length={view.enum_length})"
    return view.migration_type


def sql_literal(field: FieldSpec) -> str:
    """A Python expression for the field's default as a SQL literal, portable to both databases.

    Values are written as the application stores them: UUIDs as 32 hex digits,
    datetimes in UTC, booleans with `sa.true()` / `sa.false()`.
    """
    value: Any = field.default
    if field.type is FieldType.BOOL:
        return "sa.true()" if value else "sa.false()"
    if isinstance(value, uuid.UUID):
        text = value.hex
    elif isinstance(value, dt.datetime):
        utc = value.astimezone(dt.UTC) if value.tzinfo else value
        text = utc.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds") + "+00:00"
    elif isinstance(value, dt.date):
        text = value.isoformat()
    elif isinstance(value, decimal.Decimal | int | float):
        return f'sa.text("{value}")'
    else:
        text = str(value)
    quoted = "'" + text.replace("'", "''") + "'"
    return f"sa.text({quoted!r})"


def _constraints(view: FieldView, table: str) -> list[tuple[str, str]]:
    """(drop, create) calls of every constraint and index that involves the column."""
    column = view.column
    found: list[tuple[str, str]] = []
    if view.is_enum:
        name = f"ck_{table}_{view.name}"
        values = ", ".join(f"'{value}'" for _, value in view.enum_members)
        found.append(
            (
                f'batch.drop_constraint(op.f("{name}"), type_="check")',
                f'batch.create_check_constraint(op.f("{name}"), "{column} IN ({values})")',
            )
        )
    if view.unique:
        name = f"uq_{table}_project_id_{column}"
        found.append(
            (
                f'batch.drop_constraint(op.f("{name}"), type_="unique")',
                f'batch.create_unique_constraint(op.f("{name}"), ["project_id", "{column}"])',
            )
        )
    elif view.indexed or view.is_ref:
        name = index_name(table, column)
        found.append(
            (
                f'batch.drop_index("{name}")',
                f'batch.create_index("{name}", ["project_id", "{column}"])',
            )
        )
    if view.ref is not None:
        ref = view.ref
        name = f"fk_{table}_project_id_{column}_{ref.table}"
        found.append(
            (
                f'batch.drop_constraint(op.f("{name}"), type_="foreignkey")',
                f'batch.create_foreign_key(op.f("{name}"), "{ref.table}", '
                f'["project_id", "{column}"], ["project_id", "{ref.key_column}"])',
            )
        )
    return found


def _drops(view: FieldView, table: str) -> list[Step]:
    return [Step(Phase.DROP, drop) for drop, _ in _constraints(view, table)]


def _creates(view: FieldView, table: str) -> list[Step]:
    return [Step(Phase.CREATE, create) for _, create in _constraints(view, table)]


def _unique_check(view: FieldView, table: str) -> list[Step]:
    """Before the unique constraint of `view` is created: no project holds a value twice."""
    if not view.unique:
        return []
    return [Step(Phase.CHECK, f'refuse_duplicates("{table}", "{view.column}")', after_batch=True)]


def _fill(table: str, view: FieldView, literal: str) -> Step:
    """Set the column to `literal` where it is null (existing rows of every project)."""
    return Step(
        Phase.COLUMNS,
        f'with every_project("{table}"):\n'
        f'        op.execute(sa.table("{table}", sa.column("{view.column}")).update()'
        f'.where(sa.column("{view.column}").is_(None)).values({view.column}={literal}))',
        after_batch=True,
    )


@dataclass(frozen=True)
class Operation:
    """One change of one column, with its upgrade and downgrade steps."""

    kind: str  # add_column, drop_column, rename_column, alter_column
    column: str
    summary: str
    upgrade: tuple[Step, ...]
    downgrade: tuple[Step, ...]
    undo: str  # what the downgrade does

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form."""
        return {
            "kind": self.kind,
            "column": self.column,
            "summary": self.summary,
            "undo": self.undo,
        }


def _add_steps(table: str, view: FieldView, fill: str | None, *, keep_default: bool) -> list[Step]:
    """Add the column (and its constraints); a required one gets `fill` in existing rows."""
    steps: list[Step] = []
    column_type = _column_type(view)
    if view.optional or fill is None:
        steps.append(
            Step(
                Phase.COLUMNS,
                f'batch.add_column(sa.Column("{view.column}", {column_type}, '
                f"nullable={view.optional}))",
            )
        )
    elif keep_default:
        steps.append(
            Step(
                Phase.COLUMNS,
                f'batch.add_column(sa.Column("{view.column}", {column_type}, '
                f"nullable=False, server_default={fill}))",
            )
        )
    else:  # filled once, then required, with no default left behind
        steps.append(
            Step(
                Phase.COLUMNS,
                f'batch.add_column(sa.Column("{view.column}", {column_type}, nullable=True))',
            )
        )
        steps.append(_fill(table, view, fill))
        steps.append(_not_null(view, nullable=False, after=True))
    return steps + _unique_check(view, table) + _creates(view, table)


def _not_null(view: FieldView, *, nullable: bool, after: bool = False) -> Step:
    """A step setting the column's nullability (a new batch block when `after` a fill)."""
    return Step(
        Phase.CREATE if after else Phase.COLUMNS,
        f'batch.alter_column("{view.column}", existing_type={_column_type(view)}, '
        f"nullable={nullable})",
    )


def _drop_steps(table: str, view: FieldView) -> list[Step]:
    return [*_drops(view, table), Step(Phase.COLUMNS, f'batch.drop_column("{view.column}")')]


def add_column(table: str, field: FieldSpec, view: FieldView) -> Operation:
    """Add `field`; existing rows of a required one get its default (kept as server default)."""
    fill = sql_literal(field) if field.has_default else None
    return Operation(
        "add_column",
        view.column,
        f"add column {table}.{view.column}",
        tuple(_add_steps(table, view, fill, keep_default=True)),
        tuple(_drop_steps(table, view)),
        f"drop column {table}.{view.column}",
    )


def placeholder(field: FieldSpec) -> str | None:
    """A value to put back in a required column that a downgrade re-creates."""
    if field.has_default:
        return sql_literal(field)
    match field.type:
        case FieldType.BOOL:
            return "sa.false()"
        case FieldType.INT | FieldType.BIGINT | FieldType.FLOAT | FieldType.DECIMAL:
            return 'sa.text("0")'
        case FieldType.STR | FieldType.TEXT | FieldType.EMAIL | FieldType.URL:
            return "sa.text(\"''\")"
        case FieldType.ENUM:
            return f"sa.text(\"'{field.enum_values[0]}'\")"
        case FieldType.DATE:
            return "sa.text(\"'1970-01-01'\")"
        case FieldType.DATETIME:
            return "sa.text(\"'1970-01-01 00:00:00.000000+00:00'\")"
        case FieldType.UUID:
            return "sa.text(\"'" + "0" * 32 + "'\")"
        case FieldType.JSON:
            return "sa.text(\"'{}'\")"
    return None  # a ref: no placeholder refers to a real row


def drop_column(table: str, field: FieldSpec, view: FieldView) -> Operation:
    """Drop `field`; the downgrade adds it back (a required one filled with a placeholder)."""
    fill = None if view.optional else placeholder(field)
    return Operation(
        "drop_column",
        view.column,
        f"drop column {table}.{view.column} (its data is lost)",
        tuple(_drop_steps(table, view)),
        tuple(_add_steps(table, view, fill, keep_default=False)),
        f"add column {table}.{view.column} back, "
        + ("empty" if fill is None else "filled with a placeholder"),
    )


def _rename_steps(table: str, old: FieldView, new: FieldView) -> list[Step]:
    return [
        *_drops(old, table),
        Step(
            Phase.COLUMNS,
            f'batch.alter_column("{old.column}", new_column_name="{new.column}", '
            f"existing_type={_column_type(old)}, existing_nullable={old.optional})",
        ),
        *_creates(new, table),
    ]


def rename_column(table: str, old: FieldView, new: FieldView) -> Operation:
    """Rename a column, its constraints and its indexes; the data is kept."""
    return Operation(
        "rename_column",
        new.column,
        f"rename column {table}.{old.column} to {new.column}",
        tuple(_rename_steps(table, old, new)),
        tuple(_rename_steps(table, new, old)),
        f"rename column {table}.{new.column} back to {old.column}",
    )


def _replace_values(
    table: str, old: FieldView, new: FieldView, replace: Mapping[str, str]
) -> list[Step]:
    """Give the rows holding each enum value in `replace` its replacement (every project's).

    The values are written where the column can hold both the old and the new ones:
    after it widens, or before it narrows.
    """
    if not replace:
        return []
    column = new.column
    rows = f'sa.table("{table}", sa.column("{column}"))'
    updates = "".join(
        f"\n        op.execute({rows}.update()"
        f'.where(sa.column("{column}") == "{value}").values({column}="{replacement}"))'
        for value, replacement in replace.items()
    )
    phase = Phase.COLUMNS if new.enum_length >= old.enum_length else Phase.DROP
    return [Step(phase, f'with every_project("{table}"):{updates}', after_batch=True)]


def _enum_check(table: str, old: FieldView, new: FieldView) -> list[Step]:
    """Before an enum loses values: every row holds one it keeps (or nothing).

    It runs where the values that rows hold must already be the kept ones: after any
    replacement, and before the column narrows to the kept values' length.
    """
    if not (old.is_enum and new.is_enum):
        return []
    kept = tuple(value for _, value in new.enum_members)
    if all(value in kept for _, value in old.enum_members):
        return []
    phase = Phase.CHECK if new.enum_length >= old.enum_length else Phase.DROP
    line = f'refuse_values("{table}", "{new.column}", {kept!r})'
    return [Step(phase, line, after_batch=True)]


def _alter_steps(
    table: str,
    old: FieldView,
    new: FieldView,
    fill: str | None,
    replace: Mapping[str, str] | None = None,
) -> list[Step]:
    old_constraints = dict(_constraints(old, table))
    new_constraints = dict(_constraints(new, table))
    steps = [  # removed or changed: dropped first
        Step(Phase.DROP, drop)
        for drop, create in old_constraints.items()
        if new_constraints.get(drop) != create
    ]
    if _column_type(old) != _column_type(new):
        steps.append(
            Step(
                Phase.COLUMNS,
                f'batch.alter_column("{old.column}", type_={_column_type(new)}, '
                f"existing_type={_column_type(old)}, existing_nullable={old.optional})",
            )
        )
    steps += _replace_values(table, old, new, replace or {})
    steps += _enum_check(table, old, new)
    if old.optional and not new.optional:
        if fill is not None:
            steps.append(_fill(table, new, fill))
        steps.append(_not_null(new, nullable=False, after=fill is not None))
    elif new.optional and not old.optional:
        steps.append(_not_null(new, nullable=True))
    created = [
        Step(Phase.CREATE, create)
        for drop, create in new_constraints.items()
        if old_constraints.get(drop) != create
    ]
    if new.unique and not old.unique:
        steps += _unique_check(new, table)
    return steps + created


_COLUMN_LENGTHS = {
    FieldType.STR: STR_LENGTH,
    FieldType.EMAIL: EMAIL_LENGTH,
    FieldType.URL: URL_LENGTH,
}
_INT32 = (-(2**31), 2**31 - 1)


def _fits(table: str, now: FieldView, source: FieldSpec, target: FieldSpec) -> list[Step]:
    """Before a column narrows from `source`'s type to `target`'s (a downgrade of a
    widening): no row holds a value that the narrower type would not take."""
    column = now.column
    if target.type in _COLUMN_LENGTHS and source.type is FieldType.TEXT:
        limit = _COLUMN_LENGTHS[target.type]
        condition, what = f"length({column}) > {limit}", f"longer than {limit} characters"
    elif target.type is FieldType.INT and source.type is FieldType.BIGINT:
        low, high = _INT32
        condition, what = f"{column} NOT BETWEEN {low} AND {high}", "beyond a 32-bit integer"
    elif target.type is FieldType.DECIMAL and source.type is FieldType.DECIMAL:
        digits = (target.precision or 0) - (target.scale or 0)
        if digits >= (source.precision or 0) - (source.scale or 0):
            return []
        condition = f"abs({column}) >= 1{'0' * digits}"
        what = f"of more than {digits} digit(s) before the point"
    else:
        return []
    line = f'refuse_rows("{table}", "{column}", "{condition}", "{what}")'
    return [Step(Phase.DROP, line, after_batch=True)]


def _server_default(now: FieldView, field: FieldSpec) -> Step:
    """Set the column's server default to `field`'s default (none if it has none),
    with the constraints dropped, before the column's type changes (`now` is the column
    as it is then)."""
    default = sql_literal(field) if field.has_default else "None"
    return Step(
        Phase.DROP,
        f'batch.alter_column("{now.column}", existing_type={_column_type(now)}, '
        f"server_default={default})",
    )


def alter_column(
    table: str,
    old_field: FieldSpec,
    old: FieldView,
    new_field: FieldSpec,
    new: FieldView,
    replace: Mapping[str, str] | None = None,
) -> Operation | None:
    """Change a column's type, nullability, enum values, uniqueness or index; None if the
    database does not change (a new default, say). The data is kept, but for the enum
    values that `replace` maps to others: the rows holding them get their replacement.
    The downgrade gives a replacement that only the new values have its first value back.
    """
    replace = dict(replace or {})
    fill_up = sql_literal(new_field) if new_field.has_default else None
    fill_down = placeholder(old_field) if new.optional and not old.optional else None
    restore: dict[str, str] = {}
    for value, replacement in replace.items():
        if replacement not in old_field.enum_values:
            restore.setdefault(replacement, value)
    upgrade = _alter_steps(table, old, new, fill_up, replace)
    if not upgrade:
        return None
    upgrade += _fits(table, old, old_field, new_field)
    downgrade = _alter_steps(table, new, old, fill_down, restore)
    downgrade += _fits(table, new, new_field, old_field)
    if old_field.has_default and old_field.default in replace:
        # A server default (a column added with its default keeps one) must not stay on
        # a value the new check refuses: it follows the field's default, both ways.
        upgrade.insert(0, _server_default(old, new_field))
        downgrade.insert(0, _server_default(new, old_field))
    replaced = "; ".join(f"{value} becomes {to}" for value, to in replace.items())
    restored = "; ".join(f"{value} becomes {to} again" for value, to in restore.items())
    return Operation(
        "alter_column",
        new.column,
        f"alter column {table}.{new.column}" + (f" ({replaced})" if replaced else ""),
        tuple(upgrade),
        tuple(downgrade),
        f"alter column {table}.{new.column} back" + (f" ({restored})" if restored else ""),
    )


@dataclass(frozen=True)
class Block:
    """One batch block of a migration (or, with `execute`, statements between blocks)."""

    lines: tuple[str, ...]
    execute: bool = False


def blocks(steps: list[Step]) -> list[Block]:
    """Group steps into batch blocks by phase, keeping `op.execute` fills between them."""
    result: list[Block] = []
    for phase in Phase:
        in_batch = [s.line for s in steps if s.phase is phase and not s.after_batch]
        after = [s.line for s in steps if s.phase is phase and s.after_batch]
        if in_batch:
            result.append(Block(tuple(in_batch)))
        if after:
            result.append(Block(tuple(after), execute=True))
    return result
