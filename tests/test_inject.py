"""Wiring edits and their inverses: outcomes as data, and unregister undoes register."""

import subprocess
import sys
from pathlib import Path

import pytest

from backend_builder.render import format_python, render
from backend_builder.resource.inject import (
    Outcome,
    register_model,
    register_router,
    unregister_model,
    unregister_router,
)

RUFF = Path(sys.executable).parent / "ruff"
MODELS = render("project/app/models/__init__.py.jinja", {})  # as `new` writes them
ROUTERS = render("project/app/api/v1/api.py.jinja", {})


def _model(source: str, module: str, name: str) -> str:
    edit = register_model(source, module, [name], "app/models/__init__.py")
    assert edit.outcome is Outcome.INJECTED
    return format_python(edit.source)


def _router(source: str, module: str) -> str:
    edit = register_router(source, module, f"/{module}", module, "app/api/v1/api.py")
    assert edit.outcome is Outcome.INJECTED
    return format_python(edit.source)


@pytest.mark.parametrize(("module", "name"), [("asset", "Asset"), ("zone", "Zone")])
def test_unregister_model_undoes_register_model(module: str, name: str) -> None:
    wired = _model(_model(MODELS, "customer", "Customer"), module, name)
    edit = unregister_model(wired, module, [name], "app/models/__init__.py")
    assert edit.outcome is Outcome.REMOVED
    assert format_python(edit.source) == _model(MODELS, "customer", "Customer")
    edit = unregister_model(format_python(edit.source), "customer", ["Customer"], "x")
    assert format_python(edit.source) == MODELS


@pytest.mark.parametrize("module", ["assets", "zones"])
def test_unregister_router_undoes_register_router(module: str) -> None:
    wired = _router(_router(ROUTERS, "customers"), module)
    edit = unregister_router(wired, module, "app/api/v1/api.py")
    assert edit.outcome is Outcome.REMOVED
    assert format_python(edit.source) == _router(ROUTERS, "customers")
    assert format_python(unregister_router(ROUTERS, "nothing", "x").source) == ROUTERS


def test_registering_twice_is_already_there() -> None:
    wired = _model(MODELS, "asset", "Asset")
    edit = register_model(wired, "asset", ["Asset"], "app/models/__init__.py")
    assert (edit.outcome, edit.source) == (Outcome.ALREADY_THERE, wired)
    wired = _router(ROUTERS, "assets")
    edit = register_router(wired, "assets", "/assets", "assets", "app/api/v1/api.py")
    assert (edit.outcome, edit.source) == (Outcome.ALREADY_THERE, wired)


def test_unregistering_what_is_not_there_is_already_absent() -> None:
    edit = unregister_model(MODELS, "asset", ["Asset"], "app/models/__init__.py")
    assert (edit.outcome, edit.source) == (Outcome.ALREADY_ABSENT, MODELS)
    edit = unregister_router(ROUTERS, "assets", "app/api/v1/api.py")
    assert (edit.outcome, edit.source) == (Outcome.ALREADY_ABSENT, ROUTERS)


def test_a_module_without_its_anchors_cannot_be_wired() -> None:
    edit = register_router("x = 1\n", "assets", "/assets", "assets", "app/api/v1/api.py")
    assert edit.outcome is Outcome.CANNOT_INJECT and edit.source == "x = 1\n"
    assert edit.message.startswith("cannot edit app/api/v1/api.py automatically; add this")
    assert "api_router.include_router(assets.router" in edit.instruction
    edit = register_model("x = 1\n", "asset", ["Asset"], "app/models/__init__.py")
    assert edit.outcome is Outcome.CANNOT_INJECT
    assert "from app.models.asset import Asset" in edit.instruction


def test_a_name_still_used_after_unwiring_cannot_be_unwired() -> None:
    wired = _router(ROUTERS, "assets") + "legacy = assets.router\n"
    edit = unregister_router(wired, "assets", "app/api/v1/api.py")
    assert (edit.outcome, edit.source) == (Outcome.CANNOT_INJECT, wired)
    assert edit.message.startswith("cannot edit app/api/v1/api.py automatically; remove")
    wired = _model(MODELS, "asset", "Asset").replace("import Asset\n", "import Asset, AssetKind\n")
    edit = unregister_model(wired, "asset", ["Asset"], "app/models/__init__.py")
    assert edit.outcome is Outcome.CANNOT_INJECT
    assert "from app.models.asset import Asset" in edit.instruction


def test_attributes_and_keywords_of_the_same_name_are_not_uses() -> None:
    wired = _router(ROUTERS, "assets") + "settings = dict(assets=api_router.assets)\n"
    edit = unregister_router(wired, "assets", "app/api/v1/api.py")
    assert edit.outcome is Outcome.REMOVED
    assert "settings = dict(assets=api_router.assets)" in edit.source


def test_wired_modules_keep_ruffs_import_order() -> None:
    """Each import goes where ruff's isort puts it, with no blank line in the block."""
    models, routers = MODELS, ROUTERS
    for module, name in (("zebra", "Zebra"), ("item10", "Item10"), ("item2", "Item2")):
        models = _model(models, module, name)
        routers = _router(routers, f"{module}s")
    for source in (models, routers):
        result = subprocess.run(
            [str(RUFF), "check", "--select", "I,RUF022", "--stdin-filename", "m.py", "-"],
            input=source,
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stdout + source
    assert "import User\nfrom app.models.zebra" in models
    assert models.index('"Item2"') < models.index('"Item10"') < models.index('"Zebra"')
