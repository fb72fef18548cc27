"""`backend-builder update`: a new version's templates reach a backend that exists.

A new version of backend-builder is simulated by pointing the renderer at a copy of
the templates with changes in it (a resource template, project templates, the
migration templates); the backend was generated with the current ones.
"""

import json
import shutil
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from backend_builder import __version__, render
from backend_builder.cli import app
from backend_builder.errors import BuilderError
from backend_builder.manifest import BASE_DIR, MANIFEST, base_path, digest, load
from backend_builder.plan import Action, apply_plan
from backend_builder.project import plan_new
from backend_builder.resource.generate import ALL_LAYERS, plan_generate
from backend_builder.update import plan_update
from tests.backend_checks import lint, run, run_some_tests

runner = CliRunner()

CUSTOMER = ["name:str", "email:email:optional"]
TICKET = ["title:str", "number:str:unique", "status:enum:open,closed:default=open", "customer:ref"]
SERVICE = "app/services/ticket_service.py"
SCHEMA = "app/schemas/ticket.py"
CONFIG = "app/core/config.py"
ROUTER = "app/api/v1/api.py"

# Hand edits: a method in the service, a validator in the schema.
SERVICE_EDIT = '''
    async def titles(self) -> list[str]:
        """The titles of the project's tickets (written by hand)."""
        page = await self.list_page(TicketListParams(limit=100))
        return [ticket.title for ticket in page.items]
'''
SCHEMA_EDIT = '''
    @field_validator("title")
    @classmethod
    def strip_title(cls, value: str) -> str:
        """Titles are stored without surrounding spaces (written by hand)."""
        return value.strip()
'''

# The new version's template changes.
EXISTS_METHOD = '''        if not await self.repository.delete({{ names.snake }}_id):
            raise {{ names.class_name }}NotFound()

    async def exists(self, {{ names.snake }}_id: uuid.UUID) -> bool:
        """Whether a {{ names.human }} with this id exists (new template)."""
        return await self.repository.exists({{ names.snake }}_id)
'''
GET_DOCSTRING = '"""The {{ names.human }} with this id, or 404."""'
NEW_GET_DOCSTRING = '"""The {{ names.human }} with this id, or 404 (new template)."""'
ROUTER_DOCSTRING = '"""The version 1 router: every resource router is included here.'
NEW_ROUTER_DOCSTRING = '"""The version 1 router (new template): every resource router is here.'


def _invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env={"COLUMNS": "200"})
    return result.exit_code, result.output


def _update(backend: Path, *args: str) -> tuple[int, str]:
    return _invoke("update", "--path", str(backend), *args)


def _build(root: Path) -> None:
    """A backend with Customer and Ticket (which refers to Customer)."""
    apply_plan(plan_new(root))
    apply_plan(plan_generate(root, "Customer", CUSTOMER, layers=ALL_LAYERS).plan)
    apply_plan(plan_generate(root, "Ticket", TICKET, layers=ALL_LAYERS).plan)


@pytest.fixture(scope="module")
def shop_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The backend, generated once with the current templates."""
    root = tmp_path_factory.mktemp("template") / "shop-api"
    _build(root)
    return root


@pytest.fixture
def shop(shop_template: Path, tmp_path: Path) -> Path:
    """A fresh copy of the backend, for one test to change."""
    return Path(shutil.copytree(shop_template, tmp_path / "shop-api"))


@pytest.fixture
def templates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A copy of the templates that the renderer uses: the "new version" to edit."""
    copy = Path(shutil.copytree(render.TEMPLATES, tmp_path / "templates"))
    monkeypatch.setattr(render, "TEMPLATES", copy)
    render.environment.cache_clear()
    yield copy
    monkeypatch.undo()
    render.environment.cache_clear()


def _change(templates: Path, template: str, old: str, new: str) -> None:
    path = templates / template
    source = path.read_text()
    assert old in source, f"{old!r} not in {template}"
    path.write_text(source.replace(old, new, 1))


def _new_version(templates: Path) -> None:
    """Changes in a resource template, project templates and both migration templates."""
    _change(
        templates,
        "resource/service.py.jinja",
        EXISTS_METHOD.split("\n\n", 1)[0] + "\n",
        EXISTS_METHOD,
    )
    _change(
        templates,
        "project/app/core/config.py.jinja",
        "MIN_SECRET_LENGTH = 32",
        "MIN_SECRET_LENGTH = 48",
    )
    _change(templates, "project/app/api/v1/api.py.jinja", ROUTER_DOCSTRING, NEW_ROUTER_DOCSTRING)
    _change(
        templates,
        "resource/migration.py.jinja",
        '"""Create the {{ names.table }} table.',
        '"""Create the {{ names.table }} table (new template).',
    )
    _change(
        templates,
        "project/alembic/versions/0001_base.py.jinja",
        '"""Users, projects',
        '"""(new template) Users, projects',
    )


def _hand_edits(backend: Path) -> None:
    service = backend / SERVICE
    service.write_text(service.read_text().rstrip("\n") + "\n" + SERVICE_EDIT)
    schema = backend / SCHEMA
    source = schema.read_text()
    imports = "from pydantic import StringConstraints\n"
    assert imports in source
    source = source.replace(imports, "from pydantic import StringConstraints, field_validator\n")
    anchor = "class TicketCreate(TicketBase):"
    head, tail = source.split(anchor)
    schema.write_text(head.rstrip("\n") + "\n" + SCHEMA_EDIT + "\n\n" + anchor + tail)


def _tree(root: Path) -> dict[str, str]:
    """Every file of a backend, by path."""
    return {
        path.relative_to(root).as_posix(): path.read_text(encoding="utf-8")
        for path in sorted(root.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }


def _migration(path: str) -> bool:
    """Whether `path` is a migration or the base copy of one."""
    return path.removeprefix(BASE_DIR + "/").startswith("alembic/versions/")


def _without_migrations(manifest: str) -> dict:
    """A manifest's content, its migrations' records aside."""
    document = tomllib.loads(manifest)
    document["files"] = [f for f in document["files"] if not _migration(f["path"])]
    for resource in document["resources"].values():
        resource["files"] = [f for f in resource["files"] if not _migration(f["path"])]
    return document


def _status(backend: Path) -> tuple[int, dict]:
    code, output = _invoke("status", "--path", str(backend), "--json")
    return code, json.loads(output)


def _states(document: dict) -> dict[str, str]:
    states = {f["path"]: f["state"] for f in document["files"]}
    for resource in document["resources"]:
        states.update({f["path"]: f["state"] for f in resource["files"]})
    return states


# (1) The upgrade ---------------------------------------------------------------------


def test_an_upgrade_reaches_the_backend_and_keeps_the_hand_edits(
    shop: Path, templates: Path, tmp_path: Path
) -> None:
    _hand_edits(shop)
    before = _tree(shop)
    _new_version(templates)

    code, output = _update(shop)
    assert code == 0, output
    assert f"merged  {SERVICE}: your edits are kept" in output
    assert f"Updated to backend-builder {__version__}'s templates" in output

    # The template's changes and the hand edits, together.
    service = (shop / SERVICE).read_text()
    assert "async def exists(self, ticket_id: uuid.UUID) -> bool:" in service
    assert SERVICE_EDIT.strip() in service
    schema = (shop / SCHEMA).read_text()
    assert SCHEMA_EDIT.strip() in schema
    assert "field_validator" in schema.split("class ", 1)[0]
    assert "MIN_SECRET_LENGTH = 48" in (shop / CONFIG).read_text()
    router = (shop / ROUTER).read_text()
    assert "(new template)" in router and "customers.router" in router

    # Everything else is exactly what the new version generates for these commands.
    fresh = tmp_path / "fresh" / "shop-api"
    _build(fresh)
    expected, actual = _tree(fresh), _tree(shop)
    assert sorted(actual) == sorted(expected)
    for path, content in expected.items():
        if path in (SERVICE, SCHEMA, ".env", MANIFEST):
            continue
        if _migration(path):  # history: never rendered again
            assert actual[path] == before[path], path
            assert "(new template)" not in actual[path]
            continue
        assert actual[path] == content, f"{path} is not the new rendering"
    assert _without_migrations(actual[MANIFEST]) == _without_migrations(expected[MANIFEST])
    assert actual[".env"] == before[".env"]
    # The base copies of the edited files are the new rendering, too.
    assert actual[base_path(SERVICE)] == expected[SERVICE]

    code, document = _status(shop)
    assert code == 0, document
    edited = {path for path, state in _states(document).items() if state != "generated"}
    assert edited == {SERVICE, SCHEMA}


# (2) A conflict ------------------------------------------------------------------------


def _conflicting_edit(backend: Path, templates: Path) -> None:
    """The user rewrote the docstring of `get` that the new template changes too."""
    service = backend / SERVICE
    source = service.read_text()
    old = '"""The ticket with this id, or 404."""'
    assert old in source
    service.write_text(source.replace(old, '"""The ticket with this id (edited by hand)."""'))
    _change(templates, "resource/service.py.jinja", GET_DOCSTRING, NEW_GET_DOCSTRING)
    _change(
        templates,
        "project/app/core/config.py.jinja",
        "MIN_SECRET_LENGTH = 32",
        "MIN_SECRET_LENGTH = 48",
    )


def test_a_conflict_writes_nothing_and_lists_the_hunks(shop: Path, templates: Path) -> None:
    _conflicting_edit(shop, templates)
    before = _tree(shop)

    code, output = _update(shop)
    assert code == 1
    assert "merge_conflict" not in output  # the message, not the code, in text
    assert SERVICE in output and "lines" in output and "nothing was written" in output
    assert _tree(shop) == before

    code, output = _update(shop, "--json")
    assert code == 1
    error = json.loads(output)["error"]
    assert error["code"] == "merge_conflict"
    (conflict,) = error["details"]["files"]
    assert conflict["path"] == SERVICE
    (hunk,) = conflict["hunks"]
    assert "(edited by hand)" in hunk["yours"]
    assert "(new template)" in hunk["generated"]
    assert _tree(shop) == before


def test_conflict_markers_are_written_on_request(shop: Path, templates: Path) -> None:
    _conflicting_edit(shop, templates)

    before = _tree(shop)
    code, output = _update(shop, "--conflict-markers", "--dry-run")
    assert code == 1, output  # as when they are written
    assert "would write conflict markers" in output
    assert _tree(shop) == before
    code, output = _update(shop, "--conflict-markers")
    assert code == 1, output
    assert f"conflict  {SERVICE}" in output and "wrote conflict markers" in output
    service = (shop / SERVICE).read_text()
    for marker in ("<<<<<<< yours", "||||||| generated before", "=======", ">>>>>>> generated now"):
        assert marker in service
    assert "MIN_SECRET_LENGTH = 48" in (shop / CONFIG).read_text()

    # The manifest records the new rendering as the base: the next merge starts from it.
    base = (shop / base_path(SERVICE)).read_text()
    assert "or 404 (new template)" in base and "<<<<<<<" not in base
    record = next(r for r in load(shop).resource("Ticket").files if r.path == SERVICE)
    assert record.sha256 == digest(base)
    # Until they are resolved, status says so and nothing merges into them.
    code, document = _status(shop)
    assert code == 1
    assert _states(document)[SERVICE] == "edited"
    (problem,) = document["problems"]
    assert problem["code"] == "conflict_markers_left" and problem["path"] == SERVICE
    marked = _tree(shop)
    code, output = _update(shop, "--json")
    assert code == 1
    error = json.loads(output)["error"]
    assert error["code"] == "conflict_markers_left" and error["details"]["paths"] == [SERVICE]
    assert _tree(shop) == marked
    # Resolved (the generated side kept): consistent again.
    (shop / SERVICE).write_text(base)
    assert _status(shop)[0] == 0


# (3) A no-op -------------------------------------------------------------------------


def test_an_update_with_the_same_templates_changes_nothing(shop: Path) -> None:
    before = _tree(shop)
    result = plan_update(shop)
    assert {op.action for op in result.plan.ops} == {Action.IDENTICAL}
    assert not (result.updated or result.merged or result.created or result.obsolete)
    assert SERVICE in result.unchanged and ROUTER in result.unchanged

    code, output = _update(shop)
    assert code == 0, output
    assert "Up to date" in output
    assert _tree(shop) == before


def test_a_no_op_keeps_the_router_order_after_a_field_change(shop: Path) -> None:
    # A field change moves Customer to the end of the manifest; its router stays first.
    code, output = _invoke(
        "generate", "field", "Customer", "phone:str:optional", "--path", str(shop)
    )
    assert code == 0, output
    _hand_edits(shop)
    assert [r.name for r in load(shop).resources] == ["Ticket", "Customer"]
    result = plan_update(shop)
    assert {op.action for op in result.plan.ops} == {Action.IDENTICAL}


def test_the_example_backend_is_up_to_date(tmp_path: Path) -> None:
    # Four resources, five field changes and a hand-written method: nothing to update.
    example = Path(__file__).resolve().parents[1] / "examples" / "shop"
    shop = Path(shutil.copytree(example, tmp_path / "shop"))
    result = plan_update(shop)
    assert {op.action for op in result.plan.ops} == {Action.IDENTICAL}


# (4) --dry-run and --json -------------------------------------------------------------


def test_dry_run_writes_nothing_and_shows_the_diffs(shop: Path, templates: Path) -> None:
    _hand_edits(shop)
    _new_version(templates)
    before = _tree(shop)

    code, output = _update(shop, "--dry-run")
    assert code == 0, output
    assert "Dry run" in output
    assert "+MIN_SECRET_LENGTH = 48" in output
    assert f"merged  {SERVICE}" in output
    assert _tree(shop) == before


def test_json_output_shape(shop: Path, templates: Path) -> None:
    _hand_edits(shop)
    _new_version(templates)
    before = _tree(shop)

    code, output = _update(shop, "--dry-run", "--json")
    assert code == 0, output
    document = json.loads(output)
    assert set(document) == {
        "root",
        "plan_hash",
        "files",
        "from_version",
        "to_version",
        "updated",
        "merged",
        "created",
        "unchanged",
        "conflicts",
        "obsolete",
        "next_steps",
        "dry_run",
    }
    assert document["next_steps"] == ["git diff", "make test"]
    assert document["dry_run"] is True
    assert document["merged"] == [SERVICE]
    assert CONFIG in document["updated"] and ROUTER in document["updated"]
    assert "app/services/customer_service.py" in document["updated"]
    assert SCHEMA in document["unchanged"]  # edited, and its template did not change
    assert document["created"] == [] and document["conflicts"] == []
    assert document["obsolete"] == []
    assert not any(p.startswith("alembic/versions/") for p in document["unchanged"])
    actions = {f["path"]: f["action"] for f in document["files"]}
    assert actions[CONFIG] == "modify" and actions[MANIFEST] == "modify"
    assert actions[base_path(SERVICE)] == "modify"
    assert _tree(shop) == before

    code, output = _update(shop, "--json")
    assert code == 0, output
    assert json.loads(output)["dry_run"] is False
    assert _tree(shop) != before


def test_an_update_of_the_dependencies_asks_for_a_reinstall(shop: Path, templates: Path) -> None:
    """New tests may need a new test tool: `make test` would fail until it is installed."""
    _change(templates, "project/pyproject.toml.jinja", '    "httpx>=0.28",\n', "")
    code, output = _update(shop, "--json")
    assert code == 0, output
    document = json.loads(output)
    assert "pyproject.toml" in document["updated"]
    assert document["next_steps"] == ["git diff", "pip install -e '.[dev]'", "make test"]
    code, output = _update(shop, "--json")
    assert code == 0 and json.loads(output)["next_steps"] == [], output


# (5) Templates that appear and disappear -------------------------------------------------


def test_a_new_template_file_is_created_and_recorded(shop: Path, templates: Path) -> None:
    (templates / "project/app/core/audit.py.jinja").write_text(
        '"""Audit log of {{ project_title }} (new in this version)."""\n\nEVENTS: list[str] = []\n'
    )
    code, output = _update(shop)
    assert code == 0, output
    assert "create  app/core/audit.py" in output
    content = (shop / "app/core/audit.py").read_text()
    assert content.startswith('"""Audit log of Shop Api (new in this version)."""')
    assert (shop / base_path("app/core/audit.py")).read_text() == content
    manifest = load(shop)
    record = manifest.file("app/core/audit.py")
    assert record is not None and record.sha256 == digest(content)
    code, document = _status(shop)
    assert code == 0
    assert _states(document)["app/core/audit.py"] == "generated"


def test_a_template_gone_from_this_version_leaves_its_file_in_place(
    shop: Path, templates: Path
) -> None:
    gone = "app/core/outages.py"
    content = (shop / gone).read_text()
    (templates / "project" / (gone + ".jinja")).unlink()
    code, output = _update(shop)
    assert code == 0, output
    assert f"obsolete  {gone}: no longer generated; left in place" in output
    assert (shop / gone).read_text() == content
    assert load(shop).file(gone) is None  # the user's file from now on
    code, _ = _status(shop)
    assert code == 0


# Refusals ----------------------------------------------------------------------------


def test_a_missing_generated_file_is_refused(shop: Path, templates: Path) -> None:
    _new_version(templates)
    (shop / "app/repositories/customer_repo.py").unlink()
    before = _tree(shop)
    code, output = _update(shop, "--json")
    assert code == 1
    error = json.loads(output)["error"]
    assert error["code"] == "file_missing"
    assert error["path"] == "app/repositories/customer_repo.py"
    assert _tree(shop) == before


def test_a_stale_plan_is_not_written(shop: Path, templates: Path) -> None:
    _new_version(templates)
    result = plan_update(shop)
    (shop / CONFIG).write_text((shop / CONFIG).read_text() + "# edited meanwhile\n")
    before = _tree(shop)
    with pytest.raises(BuilderError) as raised:
        apply_plan(result.plan)
    assert raised.value.code == "stale_plan"
    assert _tree(shop) == before


def test_a_backend_written_by_a_newer_version_is_refused(shop: Path) -> None:
    manifest = shop / MANIFEST
    text = manifest.read_text()
    manifest.write_text(text.replace('generator_version = "', 'generator_version = "99.', 1))
    code, output = _update(shop, "--json")
    assert code == 1
    assert json.loads(output)["error"]["code"] == "backend_newer"


# A backend from before provenance (format 1) ----------------------------------------------


def _make_format_1(backend: Path) -> None:
    """An old manifest: fields and layers only, no hashes, no base copies."""
    document = tomllib.loads((backend / MANIFEST).read_text())
    lines = ["[backend]", f'name = "{document["backend"]["name"]}"', 'database = "sqlite"']
    for name, resource in document["resources"].items():
        lines += [
            f"[resources.{name}]",
            f"fields = {json.dumps(resource['fields'])}",
            f"layers = {json.dumps(resource['layers'])}",
        ]
    (backend / MANIFEST).write_text("\n".join(lines) + "\n")
    shutil.rmtree(backend / BASE_DIR.split("/")[0])


def test_a_format_1_backend_is_merged_against_an_empty_base(shop: Path, templates: Path) -> None:
    _make_format_1(shop)
    _change(templates, "resource/service.py.jinja", GET_DOCSTRING, NEW_GET_DOCSTRING)
    _change(
        templates,
        "project/app/core/config.py.jinja",
        "MIN_SECRET_LENGTH = 32",
        "MIN_SECRET_LENGTH = 48",
    )
    before = _tree(shop)
    # No base: a difference could be a hand edit, so it is a conflict, never overwritten.
    code, output = _update(shop, "--json")
    assert code == 1
    conflicts = {f["path"] for f in json.loads(output)["error"]["details"]["files"]}
    assert {CONFIG, SERVICE, "app/services/customer_service.py"} <= conflicts
    assert _tree(shop) == before

    # Resolved with markers, the backend has format 2 with every file recorded.
    code, output = _update(shop, "--conflict-markers")
    assert code == 1
    assert "<<<<<<< yours" in (shop / CONFIG).read_text()
    manifest = load(shop)
    assert manifest.source_format == 2
    assert all(r.sha256 for r in manifest.files if not r.path.startswith("alembic/"))
    assert (shop / base_path(CONFIG)).read_text().count("MIN_SECRET_LENGTH = 48") == 1


def test_a_format_1_backend_with_unchanged_templates_gets_its_records(shop: Path) -> None:
    _make_format_1(shop)
    before = {path: text for path, text in _tree(shop).items() if path != MANIFEST}
    code, output = _update(shop)
    assert code == 0, output
    after = _tree(shop)
    assert {path: after[path] for path in before} == before  # no file changed
    code, document = _status(shop)
    assert code == 0
    states = _states(document)
    assert states[SERVICE] == "generated" and states[CONFIG] == "generated"


def test_help_documents_the_policy() -> None:
    code, output = _invoke("update", "--help")
    assert code == 0
    text = " ".join(output.split())
    for phrase in ("--conflict-markers", "format 1", "empty base", "Migrations and .env"):
        assert phrase in text


# End to end --------------------------------------------------------------------------


@pytest.mark.slow
def test_the_backend_is_green_after_an_update(shop: Path, templates: Path) -> None:
    """An update that changes nothing semantic: linters and the resource's tests pass."""
    _hand_edits(shop)
    _change(templates, "resource/service.py.jinja", GET_DOCSTRING, NEW_GET_DOCSTRING)
    _change(templates, "project/app/api/v1/api.py.jinja", ROUTER_DOCSTRING, NEW_ROUTER_DOCSTRING)
    code, output = _update(shop)
    assert code == 0, output
    assert "(new template)" in (shop / SERVICE).read_text()
    lint(shop)
    database = f"sqlite:///{shop / 'update.db'}"
    run(shop, sys.executable, "-m", "alembic", "upgrade", "head", DATABASE_URL=database)
    run(shop, sys.executable, "-m", "alembic", "check", DATABASE_URL=database)
    run_some_tests(shop, "app/tests/test_tickets.py", "app/tests/test_customers.py")
