"""`backend-builder generate`: plans, wiring, and clear errors that change nothing."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from backend_builder.cli import app

runner = CliRunner()
NOTIFICATION = ["title:str", "message:text:optional", "read:bool:default=false", "user:ref"]


def _tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


def _generate(backend: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["generate", *args, "--path", str(backend)])
    return result.exit_code, result.output


def test_resource_writes_every_layer_and_wires_it(backend: Path) -> None:
    code, output = _generate(backend, "resource", "Notification", *NOTIFICATION)
    assert code == 0, output
    for path in (
        "app/models/notification.py",
        "app/schemas/notification.py",
        "app/repositories/notification_repo.py",
        "app/services/notification_service.py",
        "app/api/v1/endpoints/notifications.py",
        "app/tests/test_notifications.py",
        "alembic/versions/0002_create_notifications.py",
    ):
        assert (backend / path).is_file(), path
    assert "notifications.router" in (backend / "app/api/v1/api.py").read_text()
    assert "Notification" in (backend / "app/models/__init__.py").read_text()
    manifest = (backend / "backend-builder.toml").read_text()
    assert "user:ref:users" in manifest and "read:bool:default=false" in manifest
    assert "alembic upgrade head" in output


def test_resource_routers_come_before_the_account_routers(backend: Path) -> None:
    for name, fields in (("Notification", NOTIFICATION), ("Asset", ["name:str"])):
        code, output = _generate(backend, "resource", name, *fields)
        assert code == 0, output
    source = (backend / "app/api/v1/api.py").read_text()
    order = [source.index(f"{module}.router,") for module in ("notifications", "assets", "auth")]
    assert order == sorted(order)
    assert source.count("assets.router") == 1


def test_model_then_endpoint(backend: Path) -> None:
    code, output = _generate(backend, "model", "Asset", "name:str", "serial:str:unique")
    assert code == 0, output
    assert (backend / "app/models/asset.py").is_file()
    assert not (backend / "app/api/v1/endpoints/assets.py").exists()
    code, output = _generate(backend, "endpoint", "Asset")
    assert code == 0, output
    assert (backend / "app/api/v1/endpoints/assets.py").is_file()
    manifest = (backend / "backend-builder.toml").read_text()
    assert '"migration",\n    "schemas",' in manifest


def test_dry_run_shows_diffs_and_writes_nothing(backend: Path) -> None:
    before = _tree(backend)
    code, output = _generate(backend, "resource", "Asset", "name:str", "--dry-run")
    assert code == 0, output
    assert "Dry run" in output and "+from app.models.asset import Asset" in output
    assert _tree(backend) == before


def test_json_output(backend: Path) -> None:
    code, output = _generate(backend, "resource", "Asset", "name:str", "--json", "--dry-run")
    assert code == 0, output
    document = json.loads(output)
    assert document["resource"]["names"]["table"] == "assets"
    assert {"path": "app/models/asset.py", "action": "create"} in document["files"]


def test_the_clients_a_backend_has_are_next_steps(backend: Path) -> None:
    def steps(kind: str = "resource") -> list[str]:
        code, output = _generate(backend, kind, "Asset", "name:str", "--json", "--dry-run")
        assert code == 0, output
        return [s for s in json.loads(output)["next_steps"] if s.startswith("make")]

    assert steps() == []
    (backend / "clients" / "typescript").mkdir(parents=True)
    assert steps() == ["make client-ts"]
    (backend / "clients" / "python").mkdir()
    assert steps() == ["make client", "make client-ts"]
    assert steps("model") == []  # no endpoint, no change to the API


@pytest.mark.parametrize("force", [[], ["--force"]])
def test_an_existing_resource_is_never_regenerated(backend: Path, force: list[str]) -> None:
    assert _generate(backend, "resource", "Asset", "name:str")[0] == 0
    service = backend / "app/services/asset_service.py"
    service.write_text(service.read_text() + "\n\ndef mine() -> None:\n    pass\n")
    before = _tree(backend)
    code, output = _generate(backend, "resource", "Asset", "name:str", "size:int", *force)
    assert code == 1
    assert "resource 'Asset' already exists" in output
    assert "0002_assets" in output and "will not be rewritten" in output
    assert "backend-builder generate field Asset size:int" in output
    assert "Traceback" not in output
    assert _tree(backend) == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("field", "Asset"), "Missing argument 'fields'."),
        (("field", "Asset", "size:int", "--bogus"), "No such option: --bogus"),
    ],
)
def test_a_mistake_in_the_command_line_is_a_json_error_too(
    backend: Path, args: tuple[str, ...], message: str
) -> None:
    result = runner.invoke(app, ["generate", *args, "--json", "--path", str(backend)])
    assert result.exit_code == 2
    error = json.loads(result.stdout)["error"]
    assert error["code"] == "usage_error" and error["message"] == message
    assert error["hint"].endswith("generate field --help lists its arguments and options")


def test_force_refusal_is_structured_json(backend: Path) -> None:
    assert _generate(backend, "resource", "Asset", "name:str")[0] == 0
    before = _tree(backend)
    code, output = _generate(backend, "resource", "Asset", "size:int", "--force", "--json")
    assert code == 1
    error = json.loads(output)["error"]
    assert error["code"] == "resource_exists"
    assert error["resource"] == "Asset"
    assert error["details"]["migrations"] == ["0002_assets"]
    assert error["details"]["requested_fields"] == ["size:int"]
    assert "generate field" in error["details"]["field_commands"]
    assert "--force" not in error["message"]
    assert _tree(backend) == before


def test_a_model_is_not_regenerated_and_endpoints_are_not_generated_twice(
    backend: Path,
) -> None:
    assert _generate(backend, "model", "Asset", "name:str")[0] == 0
    before = _tree(backend)
    code, output = _generate(backend, "model", "Asset", "name:str", "size:int", "--force")
    assert code == 1 and "already exists" in output and "generate endpoint Asset" in output
    assert _tree(backend) == before
    assert _generate(backend, "endpoint", "Asset")[0] == 0
    router = backend / "app/api/v1/endpoints/assets.py"
    router.write_text(router.read_text() + "# mine\n")
    before = _tree(backend)
    code, output = _generate(backend, "endpoint", "Asset", "--force", "--json")
    assert code == 1
    error = json.loads(output)["error"]
    assert error["code"] == "layers_exist" and error["resource"] == "Asset"
    assert _tree(backend) == before


def test_force_still_replaces_a_file_nobody_generated(backend: Path) -> None:
    (backend / "app/models/asset.py").write_text("# an old file, not generated\n")
    code, output = _generate(backend, "resource", "Asset", "name:str", "--force")
    assert code == 0, output
    assert "class Asset" in (backend / "app/models/asset.py").read_text()


def test_bad_field_is_a_json_error_naming_the_token(backend: Path) -> None:
    code, output = _generate(backend, "resource", "Asset", "name:strng", "--json")
    assert code == 1
    error = json.loads(output)["error"]
    assert error["code"] == "invalid_spec"
    assert error["token"] == "name:strng"
    assert "did you mean 'str'" in error["message"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["resource", "Asset", "name:strng"], "did you mean 'str'"),
        (["resource", "Asset", "name:str:optinal"], "optinal"),
        (["resource", "Asset", "size:int:default=abc"], "abc"),
        (["resource", "Asset", "name:str", "name:text"], "name"),
        (["resource", "Asset", "class:str"], "class"),
        (["resource", "Asset", "order:str"], "order"),
        (["resource", "User", "name:str"], "user"),
        (["resource", "Project", "name:str"], "project"),
        (["resource", "Invoice", "customer:ref"], "Customer"),
        (["resource", "Asset", "status:enum"], "needs values"),
        (["resource", "Asset"], "at least one field"),
        (["endpoint", "Ghost"], "no model 'Ghost'"),
        (["resource", "Person", "name:str", "boss:ref:person"], "make it optional"),
    ],
)
def test_bad_input_is_one_clear_error_and_changes_nothing(
    backend: Path, args: list[str], message: str
) -> None:
    before = _tree(backend)
    code, output = _generate(backend, *args)
    assert code == 1
    assert message in output
    assert "Traceback" not in output
    assert _tree(backend) == before


def test_outside_a_backend(tmp_path: Path) -> None:
    code, output = _generate(tmp_path, "resource", "Asset", "name:str")
    assert code == 1
    assert "backend-builder.toml" in output and "--path" in output
    assert list(tmp_path.iterdir()) == []


def test_conflicting_file_is_reported_before_writing(backend: Path) -> None:
    (backend / "app/models/asset.py").write_text("# mine\n")
    before = _tree(backend)
    code, output = _generate(backend, "resource", "Asset", "name:str")
    assert code == 1
    assert "app/models/asset.py" in output and "--force" in output
    assert _tree(backend) == before


def test_help_shows_the_field_language_and_examples() -> None:
    result = runner.invoke(app, ["generate", "resource", "--help"], env={"COLUMNS": "250"})
    assert result.exit_code == 0
    assert "enum:a,b,c" in result.output
    assert "status:enum:draft,sent,paid:default=draft" in result.output
    # Examples read as typed: no `:email:` or `:date:` turned into an emoji.
    assert "email:email:optional" in result.output
    assert "due_on:date:optional" in result.output
    assert "\u2709" not in result.output and "\U0001f4c5" not in result.output


@pytest.mark.parametrize(
    "command", [["generate", "resource"], ["destroy", "resource"], ["demo"], ["update"]]
)
def test_flags_show_no_value_type_in_help(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    assert "--help" in result.output
    assert "<bool>" not in result.output
    if command == ["demo"]:
        assert "<int>" in result.output  # options that take a value keep their type


def test_endpoints_need_no_migration_chain(backend: Path) -> None:
    assert _generate(backend, "model", "Asset", "name:str")[0] == 0
    (backend / "alembic/versions/0003_branch.py").write_text(
        'revision = "branch"\ndown_revision = "0001_base"\n'
    )
    code, output = _generate(backend, "resource", "Tag", "label:str")
    assert code == 1 and "2 heads" in output
    code, output = _generate(backend, "endpoint", "Asset")
    assert code == 0, output
    assert (backend / "app/api/v1/endpoints/assets.py").is_file()


def test_a_shared_module_without_its_anchors_is_refused_with_the_step_to_do(
    backend: Path,
) -> None:
    (backend / "app/api/v1/api.py").write_text("from fastapi import APIRouter\n")
    before = _tree(backend)
    code, output = _generate(backend, "resource", "Asset", "name:str", "--json")
    assert code == 1
    error = json.loads(output)["error"]
    assert error["code"] == "cannot_wire" and error["path"] == "app/api/v1/api.py"
    assert "add this yourself" in error["message"]
    assert "api_router.include_router(assets.router" in error["details"]["instruction"]
    assert _tree(backend) == before


# Names that sort before, between and after the base modules (apple < base,
# refresh_token < user_group < widget, user < zebra), digits that sort naturally
# (item2 < item10), and references between them: each new import lands where
# ruff's isort puts it.
LINT_NAMES = [
    ("Zebra", ["name:str"]),
    ("Item2", ["name:str"]),
    ("Item10", ["name:str"]),
    ("UserGroup", ["name:str", "owner:ref:users"]),
    ("Widget", ["name:str", "a:ref:item10", "b:ref:item2", "z:ref:zebra", "g:ref:user_group"]),
    ("Apple", ["name:str", "w:ref:widget"]),
]


def test_generated_code_is_lint_clean_for_any_resource_name(backend: Path) -> None:
    from tests.backend_checks import lint

    for name, fields in LINT_NAMES:
        code, output = _generate(backend, "resource", name, *fields)
        assert code == 0, output
    lint(backend)
    for name in ("Apple", "Widget", "Zebra"):
        result = runner.invoke(app, ["destroy", "resource", name, "--yes", "--path", str(backend)])
        assert result.exit_code == 0, result.output
    lint(backend)


def test_a_reader_that_stops_early_does_not_stop_the_work(backend: Path) -> None:
    """`generate ... | head -1`: the files are written and the exit code says so."""
    command = [str(Path(sys.executable).parent / "backend-builder"), "generate", "resource"]
    for name, expected in (("Asset", 0), ("Asset", 1)):
        with subprocess.Popen(
            [*command, name, "name:str", "--path", str(backend)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        ) as process:
            assert process.stdout is not None and process.stderr is not None
            process.stdout.close()  # the reader has gone before the first line
            errors = process.stderr.read()
            assert process.wait(timeout=60) == expected, errors
        assert (backend / "app/models/asset.py").is_file()
    # The second run was refused (the resource exists), and said why on stderr.
    assert "error:" in errors and "Traceback" not in errors
