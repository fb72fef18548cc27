"""The layers of a resource: which file each one writes, from which template.

One table, shared by `generate` (to render), the manifest (to adopt manifests
written before file records existed) and `status`. The migration's path is not
in the table: it depends on the migration chain, and once written it is found
through the manifest.
"""

from dataclasses import dataclass

from backend_builder.resource.spec import Names

MODEL_LAYERS = ("model", "migration")
ENDPOINT_LAYERS = ("schemas", "repository", "service", "router", "tests")
ALL_LAYERS = MODEL_LAYERS + ENDPOINT_LAYERS

ROUTER_MODULE = "app/api/v1/api.py"
MODELS_MODULE = "app/models/__init__.py"
VERSIONS = "alembic/versions"


@dataclass(frozen=True)
class Layer:
    """One layer: its name, its output path (a format string over `Names`), its template."""

    name: str
    path: str
    template: str

    def output(self, names: Names) -> str:
        """The path of this layer's file for the resource `names`."""
        return self.path.format(**names.to_dict())


# The template of a migration that changes an existing table (`resource.alter`).
ALTER_MIGRATION = "resource/alter_migration.py.jinja"
# The template of the migration that drops a destroyed resource's table (`resource.destroy`).
DROP_MIGRATION = "resource/drop_migration.py.jinja"

LAYERS: dict[str, Layer] = {
    layer.name: layer
    for layer in (
        Layer("model", "app/models/{snake}.py", "resource/model.py.jinja"),
        Layer("migration", VERSIONS + "/{number}_create_{table}.py", "resource/migration.py.jinja"),
        Layer("schemas", "app/schemas/{snake}.py", "resource/schema.py.jinja"),
        Layer("repository", "app/repositories/{snake}_repo.py", "resource/repository.py.jinja"),
        Layer("service", "app/services/{snake}_service.py", "resource/service.py.jinja"),
        Layer("router", "app/api/v1/endpoints/{plural_snake}.py", "resource/router.py.jinja"),
        Layer("tests", "app/tests/test_{plural_snake}.py", "resource/tests.py.jinja"),
    )
}

# The shared modules that a layer wires the resource into (edited, not owned).
WIRING: dict[str, str] = {"model": MODELS_MODULE, "router": ROUTER_MODULE}


def url_prefix(names: Names) -> str:
    """The prefix the resource's router is included under (below /api/v1)."""
    return f"/{names.kebab_plural}"
