"""`backend-builder new`: what it writes, what it refuses, and how it reports."""

import json
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from backend_builder.cli import app

runner = CliRunner()


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_creates_the_seed_layout(tmp_path: Path) -> None:
    target = tmp_path / "my-api"
    result = runner.invoke(app, ["new", str(target)])
    assert result.exit_code == 0, result.output
    for path in (
        "app/api/v1/endpoints/auth.py",
        "app/api/deps.py",
        "app/core/auth.py",
        "app/models/base.py",
        "app/schemas/project.py",
        "app/services/project_service.py",
        "app/repositories/base.py",
        "app/tests/conftest.py",
        "alembic/env.py",
        "alembic.ini",
        "pyproject.toml",
        ".env.example",
        ".gitignore",
        "README.md",
        "AGENTS.md",
        "backend-builder.toml",
    ):
        assert (target / path).is_file(), path
    assert "create" in result.output and "app/main.py" in result.output
    assert 'name = "my-api"' in (target / "pyproject.toml").read_text()


def test_refuses_a_non_empty_directory_and_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    result = runner.invoke(app, ["new", str(tmp_path)])
    assert result.exit_code == 1
    assert "is not empty" in result.output and "--force" in result.output
    assert _tree(tmp_path) == {"notes.txt": b"mine"}


def test_force_writes_into_a_non_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    result = runner.invoke(app, ["new", str(tmp_path), "--force"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "app" / "main.py").is_file()
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_dry_run_writes_nothing(tmp_path: Path) -> None:
    result = runner.invoke(app, ["new", str(tmp_path / "x"), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "Dry run" in result.output and "app/main.py" in result.output
    assert not (tmp_path / "x").exists()


def test_json_output_lists_every_file(tmp_path: Path) -> None:
    result = runner.invoke(app, ["new", str(tmp_path / "x"), "--json", "--dry-run"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document["dry_run"] is True
    assert {"path": "app/main.py", "action": "create"} in document["files"]


def test_unknown_database_is_a_clear_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["new", str(tmp_path / "x"), "--database", "mysql"])
    assert result.exit_code == 1
    assert "unknown database 'mysql'" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "x").exists()


def test_postgresql_backend_documents_its_url(tmp_path: Path) -> None:
    result = runner.invoke(app, ["new", str(tmp_path / "pg"), "--database", "postgresql"])
    assert result.exit_code == 0, result.output
    assert "postgresql://pg_app:" in (tmp_path / "pg" / ".env.example").read_text()
    assert "NOBYPASSRLS" in (tmp_path / "pg" / "scripts" / "postgres_roles.sql").read_text()
    assert 'database = "postgresql"' in (tmp_path / "pg" / "backend-builder.toml").read_text()
    # .env names the database, so the app does not quietly use a SQLite file instead.
    url = "postgresql://pg_app:app-password@127.0.0.1:5432/pg"
    assert _dotenv(tmp_path / "pg")["DATABASE_URL"] == url


def test_help_has_examples() -> None:
    result = runner.invoke(app, ["new", "--help"], env={"COLUMNS": "250"})
    assert result.exit_code == 0
    assert "backend-builder new my-api --database postgresql" in result.output


def _dotenv(root: Path) -> dict[str, str]:
    lines = (root / ".env").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def test_each_backend_gets_its_own_secret_in_a_git_ignored_env(tmp_path: Path) -> None:
    secrets = set()
    for name in ("one", "two"):
        assert runner.invoke(app, ["new", str(tmp_path / name)]).exit_code == 0
        settings = _dotenv(tmp_path / name)
        assert settings["ENVIRONMENT"] == "development"
        assert len(settings["SECRET_KEY"]) >= 32
        assert "DATABASE_URL" not in settings  # SQLite: the file app.db by default
        assert ".env\n" in (tmp_path / name / ".gitignore").read_text()
        secrets.add(settings["SECRET_KEY"])
    assert len(secrets) == 2


def test_force_keeps_an_existing_env(tmp_path: Path) -> None:
    target = tmp_path / "my-api"
    target.mkdir()
    (target / ".env").write_text("SECRET_KEY=mine\n")
    assert runner.invoke(app, ["new", str(target), "--force"]).exit_code == 0
    assert (target / ".env").read_text() == "SECRET_KEY=mine\n"


def test_an_existing_backend_is_not_created_again_even_with_force(tmp_path: Path) -> None:
    target = tmp_path / "my-api"
    assert runner.invoke(app, ["new", str(target)]).exit_code == 0
    (target / "app" / "main.py").write_text("# edited by hand\n")
    before = _tree(target)
    result = runner.invoke(app, ["new", str(target), "--force", "--json"])
    assert result.exit_code == 1
    assert json.loads(result.output)["error"]["code"] == "backend_exists"
    assert _tree(target) == before


def test_a_backend_is_not_created_inside_another(tmp_path: Path) -> None:
    outer = tmp_path / "my-api"
    assert runner.invoke(app, ["new", str(outer)]).exit_code == 0
    before = _tree(outer)
    result = runner.invoke(app, ["new", str(outer / "tools" / "other-api"), "--json"])
    assert result.exit_code == 1
    error = json.loads(result.output)["error"]
    assert error["code"] == "inside_a_backend" and str(outer) in error["message"]
    assert _tree(outer) == before


def test_every_file_is_recorded_with_a_base_copy(tmp_path: Path) -> None:
    import tomllib

    from backend_builder.manifest import base_path, digest

    target = tmp_path / "my-api"
    assert runner.invoke(app, ["new", str(target)]).exit_code == 0
    document = tomllib.loads((target / "backend-builder.toml").read_text())
    assert document["backend"]["format"] == 2
    assert document["backend"]["migrations"] == ["0001_base"]
    records = {record["path"]: record for record in document["files"]}
    written = {
        path
        for path in _tree(target)
        if not path.startswith(".backend-builder/") and path not in {".env", "backend-builder.toml"}
    }
    assert set(records) == written
    for path, record in records.items():
        assert record["sha256"] == digest((target / path).read_text())
        assert (target / base_path(path)).read_text() == (target / path).read_text()


def test_make_serve_and_run_take_a_host_and_a_port(tmp_path: Path) -> None:
    target = tmp_path / "my-api"
    assert runner.invoke(app, ["new", str(target)]).exit_code == 0

    def planned(*arguments: str) -> str:
        result = subprocess.run(
            ["make", "--dry-run", *arguments],
            cwd=target,
            capture_output=True,
            text=True,
            check=True,
        )
        return result.stdout

    assert "--host 0.0.0.0 --port 8000 " in planned("serve")
    served = planned("serve", "HOST=127.0.0.1", "PORT=9001", "WORKERS=3")
    assert "--host 127.0.0.1 --port 9001 --workers 3 " in served
    assert "--reload --port 9002" in planned("run", "PORT=9002")


def test_a_working_directory_deleted_meanwhile_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gone = tmp_path / "gone"
    gone.mkdir()
    monkeypatch.chdir(gone)
    gone.rmdir()
    result = runner.invoke(app, ["new", "my-api"])
    assert result.exit_code == 1
    assert "the current directory no longer exists" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert not (tmp_path / "my-api").exists()
