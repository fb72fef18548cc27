"""`backend-builder destroy resource`: the inverse of `generate resource`."""

import json
import shutil
import tomllib
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from backend_builder.cli import app
from backend_builder.manifest import MANIFEST, base_path, digest, load
from backend_builder.plan import apply_plan
from backend_builder.project import plan_new

runner = CliRunner()
CUSTOMER = ["name:str", "email:email:optional"]
INVOICE = [
    "number:str:unique",
    "amount:decimal",
    "status:enum:draft,sent,paid:default=draft",
    "note:str:index",
    "customer:ref",
    "owner:ref:users:optional",
]
VERSIONS = "alembic/versions/"


def _invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env={"COLUMNS": "200"})
    return result.exit_code, result.output


def _generate(backend: Path, command: str, name: str, *fields: str) -> None:
    code, output = _invoke("generate", command, name, *fields, "--path", str(backend))
    assert code == 0, output


def _destroy(backend: Path, name: str, *options: str) -> tuple[int, str]:
    """Destroy, confirmed (--yes) as a script does."""
    return _invoke("destroy", "resource", name, "--path", str(backend), "--yes", *options)


def _tree(root: Path) -> dict[str, bytes]:
    """Every file of the backend, base copies included, but caches."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


@pytest.fixture(scope="module")
def shop_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A backend with Customer, built once."""
    root = tmp_path_factory.mktemp("template") / "shop-api"
    apply_plan(plan_new(root))
    _generate(root, "resource", "Customer", *CUSTOMER)
    return root


@pytest.fixture
def shop(shop_template: Path, tmp_path: Path) -> Path:
    """A fresh copy of the template backend, for one test to change."""
    return Path(shutil.copytree(shop_template, tmp_path / "shop-api"))


@pytest.mark.parametrize(
    ("command", "name", "fields"),
    [
        ("resource", "Invoice", INVOICE),  # refs, unique, index, enum: wired mid-list
        ("resource", "Asset", ["name:str"]),  # first in the shared modules' lists
        ("resource", "Zone", ["label:str", "parent:ref:zone:optional"]),  # last; refers to itself
        ("model", "Gadget", ["serial:str:unique"]),  # a model without endpoints
    ],
)
def test_destroy_gives_back_the_backend_as_it_was_before_generate(
    shop: Path, command: str, name: str, fields: list[str]
) -> None:
    before = _tree(shop)
    manifest_before = (shop / MANIFEST).read_text()
    _generate(shop, command, name, *fields)
    generated = _tree(shop)
    code, output = _destroy(shop, name)
    assert code == 0, output
    after = _tree(shop)
    changed = sorted(p for p in set(before) | set(after) if before.get(p) != after.get(p))
    # Only the migration history differs: the create migration stays, a drop one is new.
    create = next(p for p in generated if p not in before and p.startswith(VERSIONS))
    drop = next(p for p in after if p not in generated)
    assert changed == sorted([MANIFEST, create, drop])
    assert after[create] == generated[create]
    assert drop.startswith(VERSIONS) and drop.endswith(f"_drop_{load(shop).destroyed[0].table}.py")
    # ... and the manifest differs only by the record of the destroyed resource.
    manifest = load(shop)
    assert replace(manifest, destroyed=()).dumps() == manifest_before
    (gone,) = manifest.destroyed
    assert gone.name == name and gone.fields[0] == fields[0]
    create_revision, drop_revision = gone.migrations
    assert f'revision: str = "{create_revision}"' in after[create].decode()
    assert f'revision: str = "{drop_revision}"' in after[drop].decode()
    assert f'down_revision: str | None = "{create_revision}"' in after[drop].decode()


def test_status_stays_consistent_after_destroy(shop: Path) -> None:
    _generate(shop, "resource", "Invoice", *INVOICE)
    assert _destroy(shop, "Invoice")[0] == 0
    code, output = _invoke("status", "--path", str(shop), "--json")
    assert code == 0, output
    document = json.loads(output)
    assert document["consistent"] is True and document["problems"] == []
    assert [r["name"] for r in document["resources"]] == ["Customer"]
    assert [r["revision"] for r in document["migrations"]["chain"]] == [
        "0001_base",
        "0002_customers",
        "0003_invoices",
        "0004_drop_invoices",
    ]
    assert document["migrations"]["unrecorded"] == []
    (shop / "alembic/versions/0004_drop_invoices.py").unlink()
    code, output = _invoke("status", "--path", str(shop), "--json")
    assert code == 1
    (problem,) = json.loads(output)["problems"]
    assert problem["code"] == "migration_missing" and problem["resource"] == "Invoice"
    assert "of the destroyed resource Invoice" in problem["message"]


def test_a_resource_can_be_generated_again_and_destroyed_again(shop: Path) -> None:
    before = _tree(shop)
    for fields in (["name:str"], ["name:str", "size:int"]):
        _generate(shop, "resource", "Asset", *fields)
        code, output = _destroy(shop, "Asset")
        assert code == 0, output
    assert [(d.name, d.migrations) for d in load(shop).destroyed] == [
        ("Asset", ("0003_assets", "0004_drop_assets")),
        ("Asset", ("0005_assets", "0006_drop_assets")),
    ]
    after = _tree(shop)
    changed = {p for p in set(before) | set(after) if before.get(p) != after.get(p)}
    assert {p for p in changed if not p.startswith(VERSIONS)} == {MANIFEST}
    assert _invoke("status", "--path", str(shop))[0] == 0


def test_a_referenced_resource_is_not_destroyed(shop: Path) -> None:
    _generate(shop, "resource", "Invoice", *INVOICE)
    _generate(shop, "resource", "Visit", "guest:ref:Customer")
    before = _tree(shop)
    code, output = _destroy(shop, "Customer", "--force", "--json")
    assert code == 1
    error = json.loads(output)["error"]
    assert error["code"] == "has_dependants"
    assert error["resource"] == "Customer" and error["field"] == "customer"
    assert error["details"]["dependants"] == [
        {"resource": "Invoice", "field": "customer"},
        {"resource": "Visit", "field": "guest"},
    ]
    assert "Invoice.customer, Visit.guest" in error["message"]
    assert "remove field Invoice customer; backend-builder remove field Visit guest" in (
        error["hint"]
    )
    code, output = _destroy(shop, "customer")
    assert code == 1 and "referred to by Invoice.customer" in output
    assert _tree(shop) == before


def test_the_loss_of_the_table_is_confirmed_first(shop: Path) -> None:
    """Without --yes and off a terminal it is refused, naming the table; nothing is written."""
    _generate(shop, "resource", "Invoice", *INVOICE)
    before = _tree(shop)
    command = ("destroy", "resource", "Invoice", "--path", str(shop))
    code, output = _invoke(*command, "--json")
    assert code == 1
    error = json.loads(output)["error"]
    assert error["code"] == "confirmation_needed" and error["resource"] == "Invoice"
    assert error["details"] == {"tables": ["invoices"]}
    assert "the table invoices" in error["message"] and "--yes" in error["hint"]
    code, output = _invoke(*command)
    assert code == 1 and "Traceback" not in output
    assert "the table invoices" in output and "--yes" in output
    assert _tree(shop) == before
    code, output = _invoke(*command, "--dry-run", "--json")
    assert code == 0, output
    assert json.loads(output)["data_loss"] == ["invoices"]
    assert _tree(shop) == before


def test_destroying_asks_on_a_terminal(shop: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("backend_builder.cli._interactive", lambda: True)
    _generate(shop, "resource", "Invoice", *INVOICE)
    before = _tree(shop)
    command = ["destroy", "resource", "Invoice", "--path", str(shop)]
    result = runner.invoke(app, command, "n\n", env={"COLUMNS": "200"})
    assert result.exit_code == 1
    assert "Drop the table invoices and its rows?" in result.output
    assert "app/models/invoice.py" in result.output  # the plan, shown before the question
    assert _tree(shop) == before
    result = runner.invoke(app, command, "y\n", env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "Destroyed Invoice" in result.output
    assert not (shop / "app/models/invoice.py").exists()


def test_an_edited_file_is_only_deleted_with_force(shop: Path) -> None:
    _generate(shop, "resource", "Invoice", *INVOICE)
    service = shop / "app/services/invoice_service.py"
    service.write_text(service.read_text() + "\n\ndef mine() -> int:\n    return 1\n")
    before = _tree(shop)
    code, output = _destroy(shop, "Invoice", "--json")
    assert code == 1
    error = json.loads(output)["error"]
    assert error["code"] == "files_edited" and error["resource"] == "Invoice"
    assert error["details"]["paths"] == ["app/services/invoice_service.py"]
    assert "--force" in error["hint"] and "--force" not in error["message"]
    code, output = _destroy(shop, "Invoice")
    assert code == 1 and "app/services/invoice_service.py (edited)" in output
    assert "nothing was deleted" in output
    assert _tree(shop) == before

    code, output = _destroy(shop, "Invoice", "--force")
    assert code == 0, output
    assert "delete  app/services/invoice_service.py" in output
    assert "edited  app/services/invoice_service.py: deleted with its edits" in output
    assert not service.exists()


def test_force_lists_what_it_removed_as_json(shop: Path) -> None:
    _generate(shop, "resource", "Invoice", *INVOICE)
    router = shop / "app/api/v1/endpoints/invoices.py"
    router.write_text(router.read_text() + "# mine\n")
    (shop / "app/tests/test_invoices.py").unlink()
    code, output = _destroy(shop, "Invoice", "--force", "--json")
    assert code == 0, output
    document = json.loads(output)
    states = {f["path"]: f["state"] for f in document["removed"]}
    assert states == {
        "app/models/invoice.py": "generated",
        "app/schemas/invoice.py": "generated",
        "app/repositories/invoice_repo.py": "generated",
        "app/services/invoice_service.py": "generated",
        "app/api/v1/endpoints/invoices.py": "edited",
        "app/tests/test_invoices.py": "missing",
    }
    actions = {f["path"]: f["action"] for f in document["files"]}
    assert actions["app/api/v1/endpoints/invoices.py"] == "delete"
    assert actions[base_path("app/tests/test_invoices.py")] == "delete"
    assert actions["alembic/versions/0004_drop_invoices.py"] == "create"
    assert actions["app/api/v1/api.py"] == "modify"
    assert "app/tests/test_invoices.py" not in actions  # already gone: nothing to delete
    assert "alembic/versions/0003_create_invoices.py" not in actions  # history: kept
    assert document["migrations"] == {
        "kept": ["0003_invoices"],
        "drop": {
            "revision": "0004_drop_invoices",
            "down_revisions": ["0003_invoices"],
            "path": "alembic/versions/0004_drop_invoices.py",
        },
    }
    assert document["wiring"] == {
        "app/models/__init__.py": "removed",
        "app/api/v1/api.py": "removed",
    }
    assert document["dry_run"] is False
    assert not router.exists() and (shop / "alembic/versions/0003_create_invoices.py").exists()


def test_a_missing_file_is_reported_not_an_error(shop: Path) -> None:
    _generate(shop, "resource", "Invoice", *INVOICE)
    (shop / "app/tests/test_invoices.py").unlink()
    code, output = _destroy(shop, "Invoice")
    assert code == 0, output
    assert "missing  app/tests/test_invoices.py: already gone" in output
    assert "Destroyed Invoice" in output and "alembic upgrade head" in output


def test_an_unknown_resource_names_the_known_ones(shop: Path) -> None:
    before = _tree(shop)
    code, output = _destroy(shop, "Ghost", "--json")
    assert code == 1
    error = json.loads(output)["error"]
    assert error["code"] == "unknown_resource" and error["resource"] == "Ghost"
    assert "resources: Customer" in error["message"]
    assert error["details"]["resources"] == ["Customer"]
    _generate(shop, "resource", "Asset", "name:str")
    assert _destroy(shop, "Asset")[0] == 0
    code, output = _destroy(shop, "Asset")
    assert code == 1 and "destroyed already" in output and "0004_drop_assets" in output
    code, output = _destroy(shop, "9lives")
    assert code == 1 and "Traceback" not in output
    assert {p for p in _tree(shop) if p not in before} == {
        "alembic/versions/0003_create_assets.py",
        "alembic/versions/0004_drop_assets.py",
    }


def test_dry_run_writes_nothing_and_shows_the_unwiring(shop: Path) -> None:
    _generate(shop, "resource", "Invoice", *INVOICE)
    before = _tree(shop)
    code, output = _destroy(shop, "Invoice", "--dry-run")
    assert code == 0, output
    assert "Dry run" in output
    assert "-api_router.include_router(invoices.router" in output
    assert "-from app.models.invoice import Invoice" in output
    assert "delete  app/models/invoice.py" in output
    assert "-class Invoice" not in output  # a deleted file is listed, not shown whole
    assert "create  alembic/versions/0004_drop_invoices.py" in output
    assert "Destroyed" not in output
    assert _tree(shop) == before


def test_an_edited_shared_module_keeps_its_edits_and_a_pure_base(shop: Path) -> None:
    api = shop / "app/api/v1/api.py"
    base_before = (shop / base_path("app/api/v1/api.py")).read_text()
    _generate(shop, "resource", "Invoice", *INVOICE)
    api.write_text(api.read_text() + "# my note\n")
    assert _destroy(shop, "Invoice")[0] == 0
    assert "# my note" in api.read_text() and "invoices" not in api.read_text()
    assert (shop / base_path("app/api/v1/api.py")).read_text() == base_before
    record = load(shop).file("app/api/v1/api.py")
    assert record is not None and record.sha256 == digest(base_before)


def test_wiring_that_cannot_be_removed_is_refused_with_the_step_to_do(shop: Path) -> None:
    _generate(shop, "resource", "Invoice", *INVOICE)
    api = shop / "app/api/v1/api.py"
    api.write_text(api.read_text() + "LEGACY = invoices.router\n")
    before = _tree(shop)
    code, output = _destroy(shop, "Invoice", "--force", "--json")
    assert code == 1
    error = json.loads(output)["error"]
    assert error["code"] == "cannot_wire" and error["path"] == "app/api/v1/api.py"
    assert "remove this yourself" in error["message"]
    assert "invoices.router" in error["details"]["instruction"]
    assert _tree(shop) == before


def test_a_second_migration_head_is_refused(shop: Path) -> None:
    _generate(shop, "resource", "Invoice", *INVOICE)
    (shop / "alembic/versions/0009_branch.py").write_text(
        'revision = "branch"\ndown_revision = "0002_customers"\n'
    )
    before = _tree(shop)
    code, output = _destroy(shop, "Invoice", "--json")
    assert code == 1
    assert json.loads(output)["error"]["code"] == "migration_heads"
    assert _tree(shop) == before


def test_help_has_examples() -> None:
    code, output = _invoke("destroy", "resource", "--help")
    assert code == 0
    assert "backend-builder destroy resource Invoice --dry-run" in output
    assert "--force" in output and "--json" in output and "--path" in output


def test_a_recorded_wiring_that_is_not_known_is_a_manifest_error(shop: Path) -> None:
    _generate(shop, "resource", "Asset", "name:str")
    text = (shop / MANIFEST).read_text()
    (shop / MANIFEST).write_text(text.replace('"app/api/v1/api.py",\n]', '"app/mine.py",\n]'))
    code, output = _destroy(shop, "Asset", "--json")
    assert code == 1
    error = json.loads(output)["error"]
    assert error["code"] == "manifest_invalid" and "app/mine.py" in error["message"]


def test_in_a_backend_from_before_provenance_only_the_directories_it_made_go(
    shop: Path,
) -> None:
    """A format-1 backend has no base copies: `generate` makes their directories, and
    `destroy` removes those it empties, never a standard one like app/schemas."""
    document = tomllib.loads((shop / MANIFEST).read_text())
    (shop / MANIFEST).write_text(
        "[backend]\n"
        f'name = "{document["backend"]["name"]}"\n'
        'database = "sqlite"\n'
        "[resources.Customer]\n"
        f"fields = {json.dumps(document['resources']['Customer']['fields'])}\n"
        f"layers = {json.dumps(document['resources']['Customer']['layers'])}\n"
    )
    shutil.rmtree(shop / ".backend-builder")
    _generate(shop, "resource", "Asset", "name:str")
    assert (shop / base_path("app/schemas/asset.py")).is_file()
    code, output = _destroy(shop, "Asset")
    assert code == 0, output
    bases = shop / ".backend-builder"
    folders = {p.relative_to(bases).as_posix() for p in bases.rglob("*") if p.is_dir()}
    assert folders == {"base", "base/app", "base/app/models", "base/app/api", "base/app/api/v1"}
    assert (shop / "app/schemas/base.py").is_file() and not (shop / "app/schemas/asset.py").exists()
    # Files recorded without a hash may hold edits: Customer goes only when forced.
    code, output = _destroy(shop, "Customer", "--json")
    assert code == 1
    assert json.loads(output)["error"]["code"] == "files_edited"
    assert "app/models/customer.py (untracked)" in json.loads(output)["error"]["message"]
    code, output = _destroy(shop, "Customer", "--force")
    assert code == 0, output
    assert "untracked  app/models/customer.py: deleted with its edits" in output
    assert _invoke("status", "--path", str(shop))[0] == 0


def test_destroy_after_field_changes_keeps_every_migration_and_drops_the_table_as_it_is(
    shop: Path,
) -> None:
    before = _tree(shop)
    manifest_before = (shop / MANIFEST).read_text()
    _generate(shop, "resource", "Invoice", *INVOICE)
    for command in (
        ["generate", "field", "Invoice", "due_on:date:optional"],
        ["rename", "field", "Invoice", "note", "memo"],
    ):
        code, output = _invoke(*command, "--path", str(shop))
        assert code == 0, output
    code, output = _destroy(shop, "Invoice")
    assert code == 0, output
    after = _tree(shop)
    changed = sorted(p for p in set(before) | set(after) if before.get(p) != after.get(p))
    assert changed == [
        "alembic/versions/0003_create_invoices.py",
        "alembic/versions/0004_add_due_on_to_invoices.py",
        "alembic/versions/0005_rename_invoices_note_to_memo.py",
        "alembic/versions/0006_drop_invoices.py",
        MANIFEST,
    ]
    manifest = load(shop)
    assert replace(manifest, destroyed=()).dumps() == manifest_before
    (gone,) = manifest.destroyed
    assert len(gone.migrations) == 4 and gone.migrations[-1] == "0006_drop_invoices"
    assert "memo:str:index" in gone.fields and "due_on:date:optional" in gone.fields
    drop = after["alembic/versions/0006_drop_invoices.py"].decode()
    assert f'down_revision: str | None = "{gone.migrations[2]}"' in drop
    assert '"memo"' in drop and '"due_on"' in drop and '"note"' not in drop
    assert _invoke("status", "--path", str(shop))[0] == 0
