"""`backend-builder status` and the provenance manifest behind it."""

import json
import shutil
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from backend_builder.cli import app
from backend_builder.manifest import MANIFEST, Manifest, base_path, digest, load
from backend_builder.plan import apply_plan
from backend_builder.project import plan_new
from backend_builder.status import FileState, backend_status

runner = CliRunner()
FIXTURES = Path(__file__).parent / "fixtures"
CUSTOMER = ["name:str", "email:email:optional"]
INVOICE = ["number:str:unique", "customer:ref"]


def _invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env={"COLUMNS": "200"})
    return result.exit_code, result.output


def _generate(backend: Path, name: str, *fields: str) -> None:
    code, output = _invoke("generate", "resource", name, *fields, "--path", str(backend))
    assert code == 0, output


def _status(backend: Path) -> tuple[int, dict]:
    code, output = _invoke("status", "--path", str(backend), "--json")
    return code, json.loads(output)


@pytest.fixture(scope="module")
def shop_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A backend with Customer and Invoice (which refers to Customer), built once."""
    root = tmp_path_factory.mktemp("template") / "shop-api"
    apply_plan(plan_new(root))
    _generate(root, "Customer", *CUSTOMER)
    _generate(root, "Invoice", *INVOICE)
    return root


@pytest.fixture
def shop(shop_template: Path, tmp_path: Path) -> Path:
    """A fresh copy of the template backend, for one test to change."""
    return Path(shutil.copytree(shop_template, tmp_path / "shop-api"))


def _files(document: dict) -> dict[str, str]:
    """path -> state, for every recorded file."""
    files = {f["path"]: f["state"] for f in document["files"]}
    for resource in document["resources"]:
        files.update({f["path"]: f["state"] for f in resource["files"]})
    return files


def test_fresh_backend_is_consistent(shop: Path) -> None:
    code, document = _status(shop)
    assert code == 0
    assert document["consistent"] is True and document["problems"] == []
    assert document["manifest_format"] == 2
    files = _files(document)
    assert set(files.values()) == {"generated"}
    assert "app/main.py" in files and "app/models/__init__.py" in files
    assert ".env" not in files and MANIFEST not in files
    customer, invoice = document["resources"]
    assert customer["name"] == "Customer" and customer["table"] == "customers"
    assert customer["url_prefix"] == "/customers"
    assert customer["fields"] == CUSTOMER
    assert customer["migrations"] == ["0002_customers"]
    assert invoice["fields"] == ["number:str:unique", "customer:ref:Customer"]
    assert {f["layer"]: f["path"] for f in customer["files"]}["migration"] == (
        "alembic/versions/0002_create_customers.py"
    )
    chain = [r["revision"] for r in document["migrations"]["chain"]]
    assert chain == ["0001_base", "0002_customers", "0003_invoices"]
    assert document["migrations"]["heads"] == ["0003_invoices"]
    assert document["counts"] == {
        "generated": len(files),
        "edited": 0,
        "missing": 0,
        "untracked": 0,
    }


def test_every_record_has_a_base_copy_with_its_hash_and_versions(shop: Path) -> None:
    manifest = load(shop)
    records = [*manifest.files, *(f for r in manifest.resources for f in r.files)]
    assert len(records) > 60
    for record in records:
        assert record.generator_version and record.black_version, record
        assert (shop / record.path).read_text() == (shop / base_path(record.path)).read_text()
        assert digest((shop / base_path(record.path)).read_text()) == record.sha256


def test_status_text_on_a_fresh_backend(shop: Path) -> None:
    code, output = _invoke("status", "--path", str(shop))
    assert code == 0, output
    assert "Customer" in output and "invoices" in output and "email:email:optional" in output
    assert "0001_base -> 0002_customers -> 0003_invoices" in output
    assert "Consistent" in output and "0 edited, 0 missing" in output


def test_a_hand_edit_is_listed_and_is_not_a_problem(shop: Path) -> None:
    service = shop / "app/services/customer_service.py"
    service.write_text(service.read_text() + "\n\ndef mine() -> int:\n    return 1\n")
    code, document = _status(shop)
    assert code == 0
    assert document["consistent"] is True
    assert _files(document)["app/services/customer_service.py"] == "edited"
    assert document["counts"]["edited"] == 1
    code, output = _invoke("status", "--path", str(shop))
    assert code == 0
    assert "app/services/customer_service.py" in output and "edited" in output


def test_a_deleted_generated_file_is_a_problem(shop: Path) -> None:
    (shop / "app/models/invoice.py").unlink()
    code, document = _status(shop)
    assert code == 1
    assert document["consistent"] is False
    assert _files(document)["app/models/invoice.py"] == "missing"
    assert [(p["code"], p["path"], p["resource"]) for p in document["problems"]] == [
        ("file_missing", "app/models/invoice.py", "Invoice")
    ]
    code, output = _invoke("status", "--path", str(shop))
    assert code == 1 and "app/models/invoice.py" in output and "missing" in output


def test_a_deleted_migration_is_reported_with_the_broken_chain(shop: Path) -> None:
    (shop / "alembic/versions/0002_create_customers.py").unlink()
    code, document = _status(shop)
    assert code == 1
    problems = {p["code"]: p for p in document["problems"]}
    assert set(problems) == {"file_missing", "migration_missing", "migration_chain_broken"}
    assert problems["migration_missing"]["revision"] == "0002_customers"
    assert problems["migration_missing"]["resource"] == "Customer"
    assert problems["migration_chain_broken"]["revision"] == "0003_invoices"
    assert "0002_customers" in problems["migration_chain_broken"]["message"]
    code, output = _invoke("status", "--path", str(shop))
    assert code == 1
    assert "migration 0002_customers, which created Customer, is missing" in output


def test_a_deleted_migration_of_a_field_change_is_named_for_what_it_did(shop: Path) -> None:
    code, output = _invoke(
        "generate", "field", "Customer", "note:text:optional", "--path", str(shop)
    )
    assert code == 0, output
    (added,) = shop.glob("alembic/versions/0004_*.py")
    added.unlink()
    code, output = _invoke("status", "--path", str(shop))
    assert code == 1
    assert f"migration {added.stem}, which changed Customer, is missing" in output


def test_branched_migrations_are_a_problem(shop: Path) -> None:
    (shop / "alembic/versions/0004_branch.py").write_text(
        'revision = "0004_branch"\ndown_revision = "0002_customers"\n'
    )
    code, document = _status(shop)
    assert code == 1
    assert [p["code"] for p in document["problems"]] == ["migration_heads"]
    assert document["migrations"]["heads"] == ["0003_invoices", "0004_branch"]


def test_a_hand_written_migration_is_fine_and_new_migrations_follow_it(shop: Path) -> None:
    (shop / "alembic/versions/0004_by_hand.py").write_text(
        'revision: str = "by_hand"\ndown_revision: str | None = "0003_invoices"\n'
    )
    code, document = _status(shop)
    assert code == 0
    assert document["migrations"]["unrecorded"] == ["by_hand"]
    _generate(shop, "Asset", "name:str")
    asset = next(r for r in load(shop).resources if r.name == "Asset")
    migration = asset.file("migration")
    assert migration is not None
    source = (shop / migration.path).read_text()
    assert 'down_revision: str | None = "by_hand"' in source
    assert f'revision: str = "{asset.migrations[0]}"' in source
    assert _status(shop)[0] == 0


def test_an_edited_shared_module_keeps_its_edit_and_a_pure_base(shop: Path) -> None:
    api = shop / "app/api/v1/api.py"
    api.write_text(api.read_text() + "# my note\n")
    _generate(shop, "Asset", "name:str")
    assert "# my note" in api.read_text() and "assets.router" in api.read_text()
    base = (shop / base_path("app/api/v1/api.py")).read_text()
    assert "assets.router" in base and "# my note" not in base
    record = load(shop).file("app/api/v1/api.py")
    assert record is not None and record.sha256 == digest(base)
    code, document = _status(shop)
    assert code == 0
    assert _files(document)["app/api/v1/api.py"] == "edited"
    assert _files(document)["app/models/__init__.py"] == "generated"


def test_json_output_shape(shop: Path) -> None:
    code, document = _status(shop)
    assert code == 0
    assert set(document) == {
        "root",
        "name",
        "database",
        "manifest_format",
        "generator_version",
        "consistent",
        "counts",
        "resources",
        "files",
        "migrations",
        "problems",
        "notes",
    }
    assert set(document["resources"][0]) == {
        "name",
        "table",
        "url_prefix",
        "fields",
        "layers",
        "migrations",
        "files",
    }
    assert set(document["resources"][0]["files"][0]) == {"path", "owner", "layer", "state"}
    assert set(document["migrations"]) == {"chain", "heads", "unrecorded"}
    assert set(document["migrations"]["chain"][0]) == {"revision", "down_revisions", "path"}


def test_outside_a_backend_is_a_json_error(tmp_path: Path) -> None:
    code, output = _invoke("status", "--path", str(tmp_path), "--json")
    assert code == 1
    error = json.loads(output)["error"]
    assert error["code"] == "not_a_backend"
    assert MANIFEST in error["message"] and error["hint"]


def test_help_has_examples() -> None:
    code, output = _invoke("status", "--help")
    assert code == 0
    assert "backend-builder status --path my-api" in output and "--json" in output
    assert "Exit code 0" in output


# Manifests written before provenance (format 1) ------------------------------------


def test_a_format_1_manifest_is_migrated_in_memory() -> None:
    manifest = Manifest.loads((FIXTURES / "manifest_format1.toml").read_text())
    assert manifest.source_format == 1
    invoice = manifest.resource("Invoice")
    assert invoice is not None
    assert invoice.resolved_names.table == "invoices"
    assert invoice.fields[-1] == "customer:ref:Customer"
    assert {f.layer: f.path for f in invoice.files}["service"] == "app/services/invoice_service.py"
    assert all(f.sha256 is None for f in invoice.files)
    assert invoice.wired_into == ("app/models/__init__.py", "app/api/v1/api.py")
    rewritten = Manifest.loads(manifest.dumps())
    assert rewritten.source_format == 2
    assert rewritten.resource("Invoice") == invoice


def test_the_current_format_round_trips(shop: Path) -> None:
    manifest = load(shop)
    assert Manifest.loads(manifest.dumps()) == manifest
    document = tomllib.loads((shop / MANIFEST).read_text())
    assert document["backend"]["format"] == 2
    assert document["resources"]["Customer"]["names"]["url_prefix"] == "/customers"


def _make_format_1(backend: Path) -> None:
    """Turn a backend into one written before provenance: old manifest, no base copies."""
    document = tomllib.loads((backend / MANIFEST).read_text())
    lines = [
        "[backend]",
        f'name = "{document["backend"]["name"]}"',
        'database = "sqlite"',
        'generator_version = "0.1.0"',
    ]
    for name, resource in document["resources"].items():
        lines += [
            f"[resources.{name}]",
            f"fields = {json.dumps(resource['fields'])}",
            f"layers = {json.dumps(resource['layers'])}",
        ]
    (backend / MANIFEST).write_text("\n".join(lines) + "\n")
    shutil.rmtree(backend / ".backend-builder")


def test_status_reads_a_format_1_backend(shop: Path) -> None:
    _make_format_1(shop)
    code, document = _status(shop)
    assert code == 0, document
    assert document["manifest_format"] == 1
    assert document["notes"] and "format 1" in document["notes"][0]
    customer = document["resources"][0]
    assert customer["migrations"] == ["0002_customers"]
    assert {f["state"] for f in customer["files"]} == {"untracked"}
    assert [r["revision"] for r in document["migrations"]["chain"]] == [
        "0001_base",
        "0002_customers",
        "0003_invoices",
    ]
    assert document["migrations"]["unrecorded"] == []
    (shop / "app/models/customer.py").unlink()
    code, document = _status(shop)
    assert code == 1
    assert [p["code"] for p in document["problems"]] == ["file_missing"]


def test_a_format_1_backend_without_its_migration_is_reported(shop: Path) -> None:
    _make_format_1(shop)
    (shop / "alembic/versions/0003_create_invoices.py").unlink()
    code, document = _status(shop)
    assert code == 1
    codes = {p["code"] for p in document["problems"]}
    assert "migration_unknown" in codes


def test_generating_in_a_format_1_backend_writes_format_2(shop: Path) -> None:
    _make_format_1(shop)
    _generate(shop, "Asset", "name:str")
    manifest = load(shop)
    assert manifest.source_format == 2
    customer, asset = manifest.resource("Customer"), manifest.resource("Asset")
    assert customer is not None and asset is not None
    assert customer.migrations == ("0002_customers",)
    assert asset.migrations == ("0004_assets",)
    code, document = _status(shop)
    assert code == 0
    states = {f["path"]: f["state"] for r in document["resources"] for f in r["files"]}
    assert states["app/models/asset.py"] == "generated"
    assert states["app/models/customer.py"] == "untracked"


def test_a_newer_manifest_format_is_refused(backend: Path) -> None:
    text = (backend / MANIFEST).read_text().replace("format = 2", "format = 99")
    (backend / MANIFEST).write_text(text)
    code, output = _invoke("status", "--path", str(backend), "--json")
    assert code == 1
    assert json.loads(output)["error"]["code"] == "manifest_too_new"


def test_status_core_returns_data(shop: Path) -> None:
    report = backend_status(shop / "app")  # found from below the root, too
    assert report.root == shop.resolve()
    assert report.consistent
    assert {f.state for f in report.all_files()} == {FileState.GENERATED}
