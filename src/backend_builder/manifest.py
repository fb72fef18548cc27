"""The manifest `backend-builder.toml`: marks a backend's root and records provenance.

Format 2 (written since provenance was added) records:

- `[backend]`: name, database, `format = 2`, the generator and black versions of
  the last write, and `migrations`, the revisions `new` wrote; optionally
  `coverage`, the test coverage (percent) that `backend-builder check` requires
  (`DEFAULT_COVERAGE` when absent; written back only when set, so manifests
  without it stay as they are);
- `[[files]]`: every file `new` wrote (except `.env` and the manifest itself),
  with the sha256 of its content as generated. The shared modules that resources
  are wired into (`app/models/__init__.py`, `app/api/v1/api.py`) are recorded
  here too; their record is updated by each `generate` to the base content with
  the wiring applied, so that their base stays the generator's output even when
  the user edited them;
- `[resources.NAME]`: the field tokens, the layers, the migration revisions that
  created (and later changed) it, the shared modules it is wired into, its
  resolved names (`[resources.NAME.names]`), and `[[resources.NAME.files]]`, one
  record per generated file (path, layer, sha256, generator and black versions);
- `[[destroyed]]` (only once a resource was destroyed): per destroyed resource its
  name, table and field tokens, and `migrations`, the revisions that created (and
  changed) it followed by the one that dropped its table. Migrations are history:
  a destroyed resource's migrations stay in `alembic/versions`, and this record
  keeps them known to `status`. A destroyed resource has no files (its
  migrations' file records and base copies go with it); the same name can be
  generated again, and destroyed again (one record each time).

Each recorded file's content as generated (its *base*) is also stored in the
backend under `.backend-builder/base/<path>.base`, so that a later three-way merge
has its base even after backend-builder is upgraded and its old templates are
gone. The `.base` suffix keeps the copies out of the backend's own linters and
test collection.

Format 1 (no `format` key) saved only `fields` and `layers` per resource. It is
still read: `Manifest.loads` migrates it in memory (names re-derived from the
class name, file paths from the layer table, no hashes since the content as
generated is unknown), and `load` then adopts each resource's create migration
by the only naming rule format 1 ever used (`*_create_<table>.py`), and the base
migration as the chain's root. Nothing is written until a command writes the
manifest again, which then writes format 2 (old files keep no hash: `status`
reports them as untracked rather than guess; a shared module wired then has no
base copy, so its content as written becomes its first recorded base).
"""

import hashlib
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import black
import tomli_w

from backend_builder import __version__
from backend_builder.errors import BuilderError
from backend_builder.migrations import read_revisions
from backend_builder.resource.layers import LAYERS, WIRING, url_prefix
from backend_builder.resource.spec import Names, SpecError, parse_names

MANIFEST = "backend-builder.toml"
DATABASES = ("sqlite", "postgresql")
FORMAT = 2
BASE_DIR = ".backend-builder/base"
BASE_SUFFIX = ".base"
BLACK_VERSION = str(black.__version__)
NOT_RECORDED = (MANIFEST, ".env")  # the manifest itself, and a backend's own secrets
DEFAULT_COVERAGE = 90


def digest(content: str) -> str:
    """The sha256 (hex) of a file's text, as written (UTF-8)."""
    return hashlib.sha256(content.encode("utf-8")).hexdigest()


def base_path(path: str) -> str:
    """Where the base copy of the generated file `path` is stored, under the root."""
    return f"{BASE_DIR}/{path}{BASE_SUFFIX}"


@dataclass(frozen=True)
class FileRecord:
    """A generated file: its path, its layer, and the hash of its content as generated.

    `sha256` is None for files adopted from a format-1 manifest (content as
    generated unknown).
    """

    path: str
    sha256: str | None = None
    layer: str | None = None
    generator_version: str | None = None
    black_version: str | None = None

    @classmethod
    def of(cls, path: str, content: str, layer: str | None = None) -> "FileRecord":
        """The record of `content`, generated now at `path`."""
        return cls(path, digest(content), layer, __version__, BLACK_VERSION)

    def to_dict(self) -> dict[str, Any]:
        """A TOML/JSON-able form (keys with no value left out)."""
        document: dict[str, Any] = {"path": self.path}
        for key in ("layer", "sha256", "generator_version", "black_version"):
            value = getattr(self, key)
            if value is not None:
                document[key] = value
        return document

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "FileRecord":
        """Read a record written by `to_dict`."""
        values = {
            key: str(data[key]) if data.get(key) is not None else None
            for key in ("sha256", "layer", "generator_version", "black_version")
        }
        return cls(path=str(data["path"]), **values)


@dataclass(frozen=True)
class SavedResource:
    """A resource as generated: its spec, names, layers, migrations and files."""

    name: str
    fields: tuple[str, ...]
    layers: tuple[str, ...]
    names: Names | None = None
    migrations: tuple[str, ...] = ()
    files: tuple[FileRecord, ...] = ()
    wired_into: tuple[str, ...] = ()

    @property
    def resolved_names(self) -> Names:
        """The saved names, or those derived from the class name."""
        return self.names if self.names is not None else parse_names(self.name)

    def file(self, layer: str) -> FileRecord | None:
        """The record of this resource's `layer` file, if any."""
        return next((f for f in self.files if f.layer == layer), None)

    def to_dict(self) -> dict[str, Any]:
        """A TOML/JSON-able form."""
        names = self.resolved_names
        return {
            "fields": list(self.fields),
            "layers": list(self.layers),
            "migrations": list(self.migrations),
            "wired_into": list(self.wired_into),
            "names": {**names.to_dict(), "url_prefix": url_prefix(names)},
            "files": [record.to_dict() for record in self.files],
        }


@dataclass(frozen=True)
class DestroyedResource:
    """A resource that was destroyed: what it was, and the migrations that made and dropped it."""

    name: str
    table: str
    fields: tuple[str, ...]
    migrations: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """A TOML/JSON-able form."""
        return {
            "name": self.name,
            "table": self.table,
            "fields": list(self.fields),
            "migrations": list(self.migrations),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "DestroyedResource":
        """Read a record written by `to_dict`."""
        return cls(
            str(data["name"]),
            str(data["table"]),
            tuple(str(token) for token in data.get("fields", ())),
            tuple(str(revision) for revision in data["migrations"]),
        )


@dataclass(frozen=True)
class Manifest:
    """What backend-builder knows about a backend it made."""

    name: str
    database: str
    generator_version: str = __version__
    resources: tuple[SavedResource, ...] = field(default=())
    black_version: str | None = BLACK_VERSION
    migrations: tuple[str, ...] = ()
    files: tuple[FileRecord, ...] = ()
    source_format: int = FORMAT
    destroyed: tuple[DestroyedResource, ...] = ()
    coverage: float | None = None

    @property
    def coverage_threshold(self) -> float:
        """The test coverage (percent) that `check` requires of the backend."""
        return DEFAULT_COVERAGE if self.coverage is None else self.coverage

    def resource(self, name: str) -> SavedResource | None:
        """The saved resource of this class name, if any."""
        return next((r for r in self.resources if r.name == name), None)

    def with_resource(self, resource: SavedResource) -> "Manifest":
        """A copy with `resource` added or replaced."""
        others = tuple(r for r in self.resources if r.name != resource.name)
        return replace(self, resources=(*others, resource))

    def without_resource(self, name: str, drop_revision: str) -> "Manifest":
        """A copy with resource `name` removed, recorded as destroyed by `drop_revision`."""
        gone = self.resource(name)
        assert gone is not None, name
        record = DestroyedResource(
            gone.name,
            gone.resolved_names.table,
            gone.fields,
            (*gone.migrations, drop_revision),
        )
        return replace(
            self,
            resources=tuple(r for r in self.resources if r.name != name),
            destroyed=(*self.destroyed, record),
        )

    def with_files(self, records: Iterable[FileRecord]) -> "Manifest":
        """A copy with the backend-level `records` added or replaced (sorted by path)."""
        by_path = {record.path: record for record in self.files}
        by_path.update({record.path: record for record in records})
        return replace(self, files=tuple(by_path[path] for path in sorted(by_path)))

    def file(self, path: str) -> FileRecord | None:
        """The backend-level record of `path`, if any."""
        return next((f for f in self.files if f.path == path), None)

    def owner(self, path: str) -> str | None:
        """Who generated `path`: a resource's name, "backend", or None if nobody did."""
        if self.file(path) is not None:
            return "backend"
        for resource in self.resources:
            if any(record.path == path for record in resource.files):
                return resource.name
        return None

    def dumps(self) -> str:
        """The manifest as TOML, always in the current format."""
        backend: dict[str, Any] = {
            "name": self.name,
            "database": self.database,
            "format": FORMAT,
            "generator_version": __version__,
        }
        if self.black_version is not None:
            backend["black_version"] = BLACK_VERSION
        backend["migrations"] = list(self.migrations)
        if self.coverage is not None:
            backend["coverage"] = self.coverage
        document: dict[str, Any] = {
            "backend": backend,
            "files": [record.to_dict() for record in self.files],
            "resources": {r.name: r.to_dict() for r in self.resources},
        }
        if self.destroyed:
            document["destroyed"] = [record.to_dict() for record in self.destroyed]
        header = "# Written by backend-builder; it reads this file. Edit with care.\n"
        return header + tomli_w.dumps(document)

    @classmethod
    def loads(cls, text: str, source: str = MANIFEST) -> "Manifest":
        """Parse a manifest (format 1 or 2), with a clear error when it is not one."""
        try:
            document = tomllib.loads(text)
            backend = document["backend"]
            version = int(backend.get("format", 1))
            if version > FORMAT:
                raise BuilderError(
                    f"{source} has format {version}, newer than this backend-builder reads "
                    f"({FORMAT})",
                    hint="upgrade backend-builder",
                    code="manifest_too_new",
                    path=MANIFEST,
                )
            resources = tuple(
                _resource(name, spec, legacy=version < 2)
                for name, spec in document.get("resources", {}).items()
            )
            black_version = backend.get("black_version")
            return cls(
                name=str(backend["name"]),
                database=str(backend["database"]),
                generator_version=str(backend.get("generator_version", __version__)),
                resources=resources,
                black_version=str(black_version) if black_version is not None else None,
                migrations=tuple(str(r) for r in backend.get("migrations", ())),
                files=tuple(FileRecord.from_dict(f) for f in document.get("files", ())),
                source_format=version,
                destroyed=tuple(
                    DestroyedResource.from_dict(d) for d in document.get("destroyed", ())
                ),
                coverage=_coverage(backend.get("coverage")),
            )
        except (tomllib.TOMLDecodeError, KeyError, TypeError, ValueError, SpecError) as error:
            raise BuilderError(
                f"{source} is not a valid backend-builder manifest: {error}",
                code="manifest_invalid",
                path=MANIFEST,
            ) from error


def _coverage(value: Any) -> float | None:
    """The optional `[backend] coverage`: a percentage from 0 to 100."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 100:
        raise ValueError(f"[backend] coverage must be a percentage from 0 to 100, not {value!r}")
    return value


def _resource(name: str, spec: Mapping[str, Any], *, legacy: bool) -> SavedResource:
    """One `[resources.NAME]` table; a format-1 one gets its names and file paths derived."""
    fields = tuple(str(token) for token in spec["fields"])
    layers = tuple(str(layer) for layer in spec.get("layers", ()))
    if legacy:
        names = parse_names(name)
        files = tuple(
            FileRecord(LAYERS[layer].output(names), layer=layer)
            for layer in layers
            if layer in LAYERS and layer != "migration"  # found on disk by `load`
        )
        wired = tuple(WIRING[layer] for layer in layers if layer in WIRING)
        return SavedResource(name, fields, layers, names, (), files, wired)
    names_data = spec.get("names")
    return SavedResource(
        name,
        fields,
        layers,
        Names.from_dict(names_data) if names_data is not None else None,
        tuple(str(r) for r in spec.get("migrations", ())),
        tuple(FileRecord.from_dict(f) for f in spec.get("files", ())),
        tuple(str(p) for p in spec.get("wired_into", ())),
    )


def adopt_legacy(manifest: Manifest, root: Path) -> Manifest:
    """Complete a format-1 manifest from the disk: migration revisions and paths.

    Format 1 named each resource's create migration `NNNN_create_<table>.py` and
    recorded no revisions, so this is the one place where a migration is found by
    its file name; the base migration is the root of the chain (no parent).
    """
    if manifest.source_format >= 2:
        return manifest
    revisions = read_revisions(root)
    resources = []
    for resource in manifest.resources:
        if "migration" not in resource.layers:
            resources.append(resource)
            continue
        suffix = f"_create_{resource.resolved_names.table}.py"
        found = next((r for r in revisions.values() if r.path.endswith(suffix)), None)
        if found is None:
            resources.append(resource)  # status reports the missing migration
            continue
        record = FileRecord(found.path, layer="migration")
        files = (*resource.files[:1], record, *resource.files[1:])
        resources.append(replace(resource, migrations=(found.revision,), files=files))
    roots = tuple(r.revision for r in revisions.values() if not r.down_revisions)
    return replace(manifest, resources=tuple(resources), migrations=roots)


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
        code="not_a_backend",
        path=str(start),
    )


def load(root: Path) -> Manifest:
    """Read the manifest of the backend at `root` (an old format is migrated in memory)."""
    path = root / MANIFEST
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise BuilderError(f"cannot read {path}: {error}", code="manifest_unreadable") from error
    return adopt_legacy(Manifest.loads(text, str(path)), root)
