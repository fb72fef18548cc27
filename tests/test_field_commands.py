"""The field commands: what they write, and every refusal (with nothing written)."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from backend_builder.cli import app
from backend_builder.errors import BuilderError
from backend_builder.manifest import load
from backend_builder.mcp_server import Change, plan_change
from backend_builder.plan import apply_plan
from backend_builder.project import plan_new
from backend_builder.render import format_python
from backend_builder.resource.evolve import plan_add_fields
from backend_builder.status import backend_status

runner = CliRunner()


def _tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


def _run(backend: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, [*args, "--path", str(backend)])
    return result.exit_code, result.output


def _error(backend: Path, *args: str) -> dict[str, object]:
    code, output = _run(backend, *args, "--json")
    assert code == 1, output
    error = json.loads(output)["error"]
    assert isinstance(error, dict)
    return error


@pytest.fixture(scope="module")
def shop_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A backend with Customer and Invoice, generated once for this module."""
    backend = tmp_path_factory.mktemp("template") / "shop-api"
    apply_plan(plan_new(backend))
    for command in (
        "Customer name:str",
        "Invoice number:str:unique status:enum:draft,sent:default=draft note:text:optional "
        "customer:ref",
    ):
        name, *fields = command.split()
        assert _run(backend, "generate", "resource", name, *fields)[0] == 0
    return backend


@pytest.fixture
def shop(shop_template: Path, tmp_path: Path) -> Path:
    """A fresh copy of the template backend."""
    return Path(shutil.copytree(shop_template, tmp_path / "shop-api", symlinks=True))


def test_generate_field_writes_a_migration_and_every_layer(shop: Path) -> None:
    code, output = _run(shop, "generate", "field", "Invoice", "paid_on:date:optional:index")
    assert code == 0, output
    migration = shop / "alembic/versions/0004_add_paid_on_to_invoices.py"
    source = migration.read_text()
    assert 'down_revision: str | None = "0003_invoices"' in source
    assert 'batch.add_column(sa.Column("paid_on", sa.Date(), nullable=True))' in source
    assert 'batch.create_index("ix_invoices_project_id_paid_on"' in source
    base = shop / ".backend-builder/base/alembic/versions/0004_add_paid_on_to_invoices.py.base"
    assert base.read_text() == source  # the base copy, as for every generated file
    assert "paid_on: Mapped[date | None]" in (shop / "app/models/invoice.py").read_text()
    assert "paid_on: IsoDate | None" in (shop / "app/schemas/invoice.py").read_text()
    saved = load(shop).resource("Invoice")
    assert saved is not None
    assert saved.fields[-1] == "paid_on:date:optional:index"
    assert saved.migrations == ("0003_invoices", "0004_add_paid_on_to_invoices")
    assert backend_status(shop).consistent
    assert all(f.state == "generated" for r in backend_status(shop).resources for f in r.files)


def test_the_create_migration_is_never_rewritten(shop: Path) -> None:
    create = shop / "alembic/versions/0003_create_invoices.py"
    before = create.read_bytes()
    for args in (
        ("generate", "field", "Invoice", "priority:int:default=1"),
        ("rename", "field", "Invoice", "number", "reference"),
        ("change", "field", "Invoice", "status:enum:draft,sent,void:default=draft"),
        ("remove", "field", "Invoice", "note", "--yes"),
    ):
        code, output = _run(shop, *args)
        assert code == 0, output
    assert create.read_bytes() == before
    assert len(list((shop / "alembic/versions").glob("*.py"))) == 7


def test_a_required_value_for_existing_rows_is_written_as_a_server_default(shop: Path) -> None:
    assert _run(shop, "generate", "field", "Invoice", "priority:int:default=3")[0] == 0
    source = next((shop / "alembic/versions").glob("0004_*.py")).read_text()
    assert 'server_default=sa.text("3")' in source and "nullable=False" in source


def test_dry_run_and_json_write_nothing(shop: Path) -> None:
    before = _tree(shop)
    code, output = _run(shop, "rename", "field", "Invoice", "number", "reference", "--dry-run")
    assert code == 0 and "Dry run" in output and "+    reference:" in output
    code, output = _run(shop, "rename", "field", "Invoice", "number", "reference", "--json", "-n")
    assert code == 0
    summary = json.loads(output)
    assert summary["dry_run"] is True
    assert summary["operations"] == [
        {
            "kind": "rename_column",
            "column": "reference",
            "summary": "rename column invoices.number to reference",
            "undo": "rename column invoices.reference back to number",
        }
    ]
    assert _tree(shop) == before


def test_a_unique_field_is_made_required_without_a_default(shop: Path) -> None:
    """Its rows hold values of their own by then: the migration only sets NOT NULL."""
    code, output = _run(shop, "change", "field", "Invoice", "note:text:unique")
    assert code == 0, output
    (migration,) = shop.glob("alembic/versions/*_change_invoices_note.py")
    upgrade = migration.read_text().split("def downgrade")[0]
    assert "nullable=False" in upgrade and "update()" not in upgrade


def test_a_fill_lifts_row_level_security_in_a_migration_of_its_own(shop: Path) -> None:
    """The owner sees no project's rows under forced RLS: the fill lifts it for itself,
    with nothing imported from the app (a backend not yet updated has no such helper)."""
    code, output = _run(shop, "change", "field", "Invoice", "note:text:default=none")
    assert code == 0, output
    (migration,) = shop.glob("alembic/versions/*_change_invoices_note.py")
    text = migration.read_text()
    assert 'with every_project("invoices"):' in text
    assert "NO FORCE ROW LEVEL SECURITY" in text and "from app" not in text


def test_an_enum_value_dropped_is_replaced_in_its_rows(shop: Path) -> None:
    token = "status:enum:draft,closed:default=draft"
    error = _error(shop, "change", "field", "Invoice", token)
    assert error["code"] == "change_loses_data"
    assert error["hint"] == (
        f"give their rows another value: backend-builder change field Invoice {token} "
        "--replace sent=VALUE (VALUE one of draft, closed)"
    )
    code, output = _run(shop, "change", "field", "Invoice", token, "--replace", "sent=closed")
    assert code == 0, output
    migration = next((shop / "alembic/versions").glob("*_change_invoices_status.py")).read_text()
    assert "Rows holding sent get closed." in migration
    upgrade, downgrade = migration.split("def downgrade")
    assert '.where(sa.column("status") == "sent")\n            .values(status="closed")' in upgrade
    # `closed` is new: the downgrade gives its rows `sent` back.
    assert (
        '.where(sa.column("status") == "closed")\n            .values(status="sent")' in downgrade
    )


def test_the_agent_tool_replaces_an_enum_value_and_names_its_argument(shop: Path) -> None:
    change = Change(kind="change_field", resource="Invoice", fields=["status:enum:draft"])
    with pytest.raises(BuilderError) as raised:
        plan_change(shop, change)
    assert "--replace sent=VALUE" in str(raised.value.hint)
    planned = plan_change(shop, change.model_copy(update={"replace": {"sent": "draft"}}))
    assert planned.refusal is None
    assert planned.summary["operations"][0]["summary"] == (
        "alter column invoices.status (sent becomes draft)"
    )


def test_a_misspelt_resource_is_met_with_the_name_it_resembles(shop: Path) -> None:
    error = _error(shop, "generate", "field", "Invoce", "x:int:optional")
    assert error["code"] == "unknown_resource" and error["hint"] == "did you mean Invoice?"
    error = _error(shop, "destroy", "resource", "Custmer", "--yes")
    assert error["code"] == "unknown_resource" and error["hint"] == "did you mean Customer?"


def test_a_piped_dry_run_is_a_patch_that_applies(shop: Path) -> None:
    """Lines past 80 columns are neither cut nor wrapped when the output is not a terminal."""
    long_name = "a_field_whose_name_alone_takes_most_of_a_line_of_eighty_columns"
    code, output = _run(shop, "generate", "field", "Invoice", f"{long_name}:str:optional", "-n")
    assert code == 0, output
    assert any(len(line) > 100 and long_name in line for line in output.splitlines())
    subprocess.run(["git", "init", "-q"], cwd=shop, check=True)
    (shop / "dry-run.patch").write_text(output)
    applied = subprocess.run(
        ["git", "apply", "--check", "dry-run.patch"], cwd=shop, capture_output=True, text=True
    )
    assert applied.returncode == 0, applied.stderr


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("generate", "field", "Nope", "a:str"), "unknown_resource"),
        (("generate", "field", "Invoice", "number:str:optional"), "field_exists"),
        (("generate", "field", "Invoice", "customer_id:uuid:optional"), "field_exists"),
        (("generate", "field", "Invoice", "total:int"), "needs_default"),
        (("generate", "field", "Invoice", "payer:ref:customer"), "needs_default"),
        (("generate", "field", "Invoice", "bad:nope"), "invalid_spec"),
        (("remove", "field", "Invoice", "nope", "--yes"), "unknown_field"),
        (("remove", "field", "Customer", "name", "--yes"), "last_field"),
        (("remove", "field", "Invoice", "note"), "confirmation_needed"),
        (("rename", "field", "Invoice", "number", "note"), "field_exists"),
        (("rename", "field", "Invoice", "number", "limit"), "invalid_spec"),
        (("rename", "field", "Invoice", "number", "select"), "invalid_spec"),
        (("rename", "field", "Invoice", "number", "model_config"), "invalid_spec"),
        (("rename", "field", "Invoice", "nope", "other"), "unknown_field"),
        (("change", "field", "Invoice", "number:int:unique"), "change_loses_data"),
        (("change", "field", "Invoice", "status:enum:draft:default=draft"), "change_loses_data"),
        (
            ("change", "field", "Invoice", "status:enum:draft:default=draft", "--replace", "sent"),
            "invalid_replace",
        ),
        (
            (
                "change",
                "field",
                "Invoice",
                "status:enum:draft:default=draft",
                "--replace",
                "sent=x",
            ),
            "invalid_replace",
        ),
        (
            (
                "change",
                "field",
                "Invoice",
                "status:enum:draft:default=draft",
                "--replace",
                "x=draft",
            ),
            "invalid_replace",
        ),
        (
            ("change", "field", "Invoice", "number:str:unique", "--replace", "a=b"),
            "invalid_replace",
        ),
        (  # unique: the rows given `draft` could meet rows that hold it already
            (
                "change",
                "field",
                "Invoice",
                "status:enum:draft:optional:unique",
                "--replace",
                "sent=draft",
            ),
            "invalid_replace",
        ),
        (
            (
                "change",
                "field",
                "Invoice",
                "status:enum:draft,paid:default=draft",
                "--replace",
                "sent=paid",
                "--replace",
                "sent=draft",
            ),
            "invalid_replace",
        ),
        (("change", "field", "Invoice", "note:text"), "needs_default"),
        (("change", "field", "Invoice", "note:text:unique:default=x"), "unique_needs_optional"),
        (("change", "field", "Invoice", "customer:ref:invoice"), "change_loses_data"),
        (("change", "field", "Invoice", "number:str:unique"), "no_change"),
    ],
)
def test_bad_input_is_refused_by_name_and_nothing_is_written(
    shop: Path, args: tuple[str, ...], code: str
) -> None:
    before = _tree(shop)
    error = _error(shop, *args)
    assert error["code"] == code, error
    assert _tree(shop) == before
    _, text = _run(shop, *args)
    assert "Traceback" not in text and "error:" in text
    if code == "confirmation_needed":
        assert "--yes" in error["hint"]


def test_removing_a_field_asks_on_a_terminal(shop: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("backend_builder.cli._interactive", lambda: True)
    before = _tree(shop)
    result = runner.invoke(app, ["remove", "field", "Invoice", "note", "--path", str(shop)], "n\n")
    assert result.exit_code == 1 and "invoices.note" in result.output
    assert _tree(shop) == before
    result = runner.invoke(app, ["remove", "field", "Invoice", "note", "--path", str(shop)], "y\n")
    assert result.exit_code == 0, result.output
    assert "note" not in (shop / "app/models/invoice.py").read_text()


def test_a_manifest_that_does_not_match_the_code_is_refused(shop: Path) -> None:
    (shop / "app/services/invoice_service.py").unlink()
    before = _tree(shop)
    error = _error(shop, "generate", "field", "Invoice", "paid_on:date:optional")
    assert error["code"] == "file_missing"
    assert error["path"] == "app/services/invoice_service.py"
    assert _tree(shop) == before


def test_a_missing_migration_is_refused(shop: Path) -> None:
    (shop / "alembic/versions/0003_create_invoices.py").unlink()
    error = _error(shop, "generate", "field", "Invoice", "paid_on:date:optional")
    assert error["code"] == "migration_missing"


def test_a_conflict_writes_nothing_unless_markers_are_asked_for(shop: Path) -> None:
    schema = shop / "app/schemas/invoice.py"
    edited = schema.read_text().replace(
        'non_nullable = frozenset({"number", "status", "customer_id"})',
        'non_nullable = frozenset({"number", "status", "customer_id", "extra"})',
    )
    assert edited != schema.read_text()
    schema.write_text(edited)
    before = _tree(shop)
    error = _error(shop, "generate", "field", "Invoice", "priority:int:default=3")
    assert error["code"] == "merge_conflict"
    assert error["hint"].startswith("rerun with --conflict-markers")
    files = error["details"]["files"]  # type: ignore[index]
    assert [f["path"] for f in files] == ["app/schemas/invoice.py"]
    assert '"extra"' in files[0]["hunks"][0]["yours"]
    assert '"priority"' in files[0]["hunks"][0]["generated"]
    assert _tree(shop) == before

    code, output = _run(
        shop, "generate", "field", "Invoice", "priority:int:default=3", "--conflict-markers"
    )
    assert code == 1 and "conflict" in output and "app/schemas/invoice.py" in output
    text = schema.read_text()
    assert "<<<<<<< yours" in text and '"extra"' in text and '"priority"' in text
    assert "priority" in (shop / "app/models/invoice.py").read_text()
    # The rest is formatted as generated files are: once a side is chosen, black and
    # ruff find nothing, and the lines reported are those of the written file.
    assert (
        f"app/schemas/invoice.py (lines {text.splitlines().index('<<<<<<< yours') + 1}-" in output
    )
    chosen = re.sub(
        r"<<<<<<< yours\n.*?\n=======\n(.*?)>>>>>>> generated now\n", r"\1", text, flags=re.S
    )
    assert chosen.startswith('"""') and format_python(chosen) == chosen


def test_the_agent_tools_write_conflict_markers_when_asked(shop: Path) -> None:
    """The MCP tools' core (`plan_change`): a conflict is refused, or written with markers."""
    schema = shop / "app/schemas/invoice.py"
    edited = schema.read_text().replace(
        'non_nullable = frozenset({"number", "status", "customer_id"})',
        'non_nullable = frozenset({"number", "status", "customer_id", "extra"})',
    )
    schema.write_text(edited)
    change = Change(kind="add_field", resource="Invoice", fields=["priority:int:default=3"])
    with pytest.raises(BuilderError) as refused:
        plan_change(shop, change)
    assert refused.value.code == "merge_conflict"
    planned = plan_change(shop, change.model_copy(update={"conflict_markers": True}))
    assert [c["path"] for c in planned.summary["conflicts"]] == ["app/schemas/invoice.py"]
    assert schema.read_text() == edited  # planned, not written
    apply_plan(planned.plan)
    text = schema.read_text()
    assert "<<<<<<< yours" in text and '"extra"' in text and '"priority"' in text
    assert "priority" in (shop / "app/models/invoice.py").read_text()


def test_a_plan_that_went_stale_is_not_written(shop: Path) -> None:
    evolution = plan_add_fields(shop, "Invoice", ["paid_on:date:optional"])
    schema = shop / "app/schemas/invoice.py"  # a file the plan changes
    schema.write_text(schema.read_text() + "\n# edited meanwhile\n")
    before = _tree(shop)
    with pytest.raises(BuilderError) as error:
        apply_plan(evolution.plan)
    assert error.value.code == "stale_plan"
    assert _tree(shop) == before


def test_generate_resource_again_names_the_field_commands(shop: Path) -> None:
    before = _tree(shop)
    error = _error(
        shop,
        "generate",
        "resource",
        "Invoice",
        "number:str:unique",
        "status:enum:draft,sent,void:default=draft",
        "customer:ref",
        "total:int:default=0",
        "--force",
    )
    assert error["code"] == "resource_exists"
    assert error["details"]["commands"] == [  # type: ignore[index]
        "backend-builder generate field Invoice total:int:default=0",
        "backend-builder change field Invoice status:enum:draft,sent,void:default=draft",
        "backend-builder remove field Invoice note",
        "(if a field was renamed, `backend-builder rename field Invoice OLD NEW` instead "
        "keeps its data)",
    ]
    assert _tree(shop) == before


def test_hand_written_code_that_names_a_renamed_field_is_pointed_out(shop: Path) -> None:
    service = shop / "app/services/invoice_service.py"
    service.write_text(
        service.read_text()
        + '\n\ndef label(invoice: InvoiceResponse) -> str:\n    """By hand."""\n'
        "    return invoice.number\n"
    )
    code, output = _run(shop, "rename", "field", "Invoice", "number", "reference", "--json")
    assert code == 0, output
    mentions = json.loads(output)["mentions"]
    assert [(m["path"], m["name"], m["text"]) for m in mentions] == [
        ("app/services/invoice_service.py", "number", "return invoice.number")
    ]
    assert "return invoice.number" in service.read_text()  # kept, for its author to fix
