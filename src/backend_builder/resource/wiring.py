"""Wiring a resource into the shared modules, and out of them again.

A resource's model is registered in `app/models/__init__.py` and its router in
`app/api/v1/api.py`. One table holds each registration with its inverse, so that
`generate` and `destroy` make the same edits in both directions. An edit is
applied to the module as it is on disk (keeping hand edits) and, for the record,
to its base copy: the recorded base stays the generator's output.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from backend_builder.errors import BuilderError
from backend_builder.manifest import MANIFEST, FileRecord, Manifest, base_path
from backend_builder.render import format_python
from backend_builder.resource.inject import (
    Edit,
    Outcome,
    register_model,
    register_router,
    unregister_model,
    unregister_router,
)
from backend_builder.resource.layers import MODELS_MODULE, ROUTER_MODULE, WIRING, url_prefix
from backend_builder.resource.rewrite import stored_base
from backend_builder.resource.spec import Names

Change = Callable[[str], Edit]


@dataclass(frozen=True)
class Wiring:
    """The edits of the shared modules: new contents (base copies too), records, outcomes."""

    modified: dict[str, str]
    records: tuple[FileRecord, ...]
    outcomes: dict[str, Outcome]


def _changes(names: Names) -> dict[str, tuple[Change, Change]]:
    """For each shared module: how to wire the resource in, and how to wire it out."""
    model, router = names.snake, names.plural_snake
    return {
        MODELS_MODULE: (
            lambda s: register_model(s, model, [names.class_name], MODELS_MODULE),
            lambda s: unregister_model(s, model, [names.class_name], MODELS_MODULE),
        ),
        ROUTER_MODULE: (
            lambda s: register_router(
                s, router, url_prefix(names), names.kebab_plural, ROUTER_MODULE
            ),
            lambda s: unregister_router(s, router, ROUTER_MODULE),
        ),
    }


def register(path: str, names: Names, source: str) -> Edit:
    """The shared module `path`'s `source` with the resource `names` wired in (unformatted)."""
    return _changes(names)[path][0](source)


def wire_in(root: Path, manifest: Manifest, names: Names, layers: Iterable[str]) -> Wiring:
    """Register the resource `names` in the shared modules that `layers` are wired into."""
    changes = _changes(names)
    modules = [WIRING[layer] for layer in layers if layer in WIRING]
    return _apply(root, manifest, {path: changes[path][0] for path in modules})


def wire_out(root: Path, manifest: Manifest, names: Names, modules: Iterable[str]) -> Wiring:
    """Unregister the resource `names` from the shared `modules` it is wired into."""
    changes = _changes(names)
    unknown = [path for path in modules if path not in changes]
    if unknown:
        raise BuilderError(
            f"{MANIFEST}: resource {names.class_name} is recorded as wired into "
            f"{', '.join(unknown)}, a module that backend-builder does not wire",
            code="manifest_invalid",
            resource=names.class_name,
        )
    return _apply(root, manifest, {path: changes[path][1] for path in modules})


def _apply(root: Path, manifest: Manifest, changes: dict[str, Change]) -> Wiring:
    modified: dict[str, str] = {}
    records: list[FileRecord] = []
    outcomes: dict[str, Outcome] = {}
    for path, change in changes.items():
        try:
            source = (root / path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise BuilderError(
                f"cannot read {path} to change its wiring: {error}",
                code="cannot_wire",
                path=path,
            ) from error
        edit = _checked(change(source))
        modified[path] = format_python(edit.source)
        base = stored_base(root, manifest.file(path))
        wired_base = (
            format_python(_checked(change(base)).source) if base is not None else modified[path]
        )
        modified[base_path(path)] = wired_base
        records.append(FileRecord.of(path, wired_base))
        outcomes[path] = edit.outcome
    return Wiring(modified, tuple(records), outcomes)


def _checked(edit: Edit) -> Edit:
    """The edit, or the error saying what to do by hand when it cannot be made."""
    if edit.outcome is Outcome.CANNOT_INJECT:
        raise BuilderError(
            edit.message,
            code="cannot_wire",
            path=edit.path,
            details={"instruction": edit.instruction},
        )
    return edit
