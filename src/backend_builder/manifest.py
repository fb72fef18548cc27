"""The manifest `backend-builder.toml`: marks a backend's root and saves its specs.

Every generated resource is saved there as the field tokens it was made from, so
that later commands can extend, regenerate or remove it exactly.
"""

import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import tomli_w

from backend_builder import __version__
from backend_builder.errors import BuilderError

MANIFEST = "backend-builder.toml"
DATABASES = ("sqlite", "postgresql")


@dataclass(frozen=True)
class SavedResource:
    """A resource as generated: its name, field tokens, and which layers exist."""

    name: str
    fields: tuple[str, ...]
    layers: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """A TOML/JSON-able form."""
        return {"fields": list(self.fields), "layers": list(self.layers)}


@dataclass(frozen=True)
class Manifest:
    """What backend-builder knows about a backend it made."""

    name: str
    database: str
    generator_version: str = __version__
    resources: tuple[SavedResource, ...] = field(default=())

    def resource(self, name: str) -> SavedResource | None:
        """The saved resource of this class name, if any."""
        return next((r for r in self.resources if r.name == name), None)

    def with_resource(self, resource: SavedResource) -> "Manifest":
        """A copy with `resource` added or replaced."""
        others = tuple(r for r in self.resources if r.name != resource.name)
        return replace(self, resources=(*others, resource))

    def dumps(self) -> str:
        """The manifest as TOML."""
        document: dict[str, Any] = {
            "backend": {
                "name": self.name,
                "database": self.database,
                "generator_version": self.generator_version,
            },
            "resources": {r.name: r.to_dict() for r in self.resources},
        }
        header = "# Written by backend-builder; it reads this file. Edit with care.\n"
        return header + tomli_w.dumps(document)

    @classmethod
    def loads(cls, text: str, source: str = MANIFEST) -> "Manifest":
        """Parse a manifest, with a clear error when it is not one."""
        try:
            document = tomllib.loads(text)
            backend = document["backend"]
            resources = tuple(
                SavedResource(name, tuple(spec["fields"]), tuple(spec.get("layers", ())))
                for name, spec in document.get("resources", {}).items()
            )
            return cls(
                name=str(backend["name"]),
                database=str(backend["database"]),
                generator_version=str(backend.get("generator_version", __version__)),
                resources=resources,
            )
        except (tomllib.TOMLDecodeError, KeyError, TypeError) as error:
            raise BuilderError(
                f"{source} is not a valid backend-builder manifest: {error}"
            ) from error


def find_root(start: Path) -> Path:
    """The nearest directory at or above `start` that holds a manifest."""
    start = start.resolve()
    for directory in (start, *start.parents):
        if (directory / MANIFEST).is_file():
            return directory
    raise BuilderError(
        f"no {MANIFEST} found in {start} or any parent: this is not a backend made by "
        "backend-builder",
        hint="run inside a backend, pass --path, or create one with `backend-builder new PATH`",
    )


def load(root: Path) -> Manifest:
    """Read the manifest of the backend at `root`."""
    path = root / MANIFEST
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise BuilderError(f"cannot read {path}: {error}") from error
    return Manifest.loads(text, str(path))
