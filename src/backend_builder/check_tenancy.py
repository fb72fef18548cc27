"""The tenancy check of `backend-builder check`: a backend's code read as syntax trees.

Nothing is imported or run: each module under `app/` (its tests excepted) and each
migration is parsed with `ast`, and four rules are checked, each failure a
`Finding` with its file and line:

1. **models**: every model with a `project_id` column inherits `ProjectScoped`
   (the membership table, which links users to projects and is read before a
   project is chosen, is global by design); every tenant table is distributable by
   `project_id`: its primary key and each unique constraint or unique index include
   it, and a foreign key into a tenant table, from any table, includes it.
2. **routes**: every route of a tenant resource (a router the manifest records, or
   an endpoint module that reaches a tenant model or repository) depends on the
   caller's project scope: a parameter typed with a scope alias of `app/api/deps.py`
   (`ReaderScope`, `WriterScope`, `AdminScope`), or `Depends(require_role(...))` on
   the route or its router.
3. **queries**: every SQLAlchemy statement (`select`, `update`, `delete`, `insert`,
   `text`) on a tenant table is confined to the project: a comparison of the
   table's `project_id`, a helper whose result compares it (`in_project(table)`,
   or one of the application's own, such as the repositories' `_one_row(table)`,
   found by reading what it returns), or the statement handed to a scoping helper
   (`scoped_query`, `scope_statement`, or a function that hands its argument to
   one). A statement
   built step by step in a variable counts as one; statements built inside
   `with unscoped():` (the explicit escape hatch) are left alone. Inside
   `app/repositories/`, a table that comes in as a parameter or as `self.table` is
   a tenant table (the repositories are the one place that builds tenant queries).
4. **row-level security**: replaying the migrations' upgrades in chain order (their
   `create_table`, `drop_table`, `rename_table` and the SQL they execute, including
   `rls_statements(...)`), every tenant table ends with row-level security enabled,
   forced, and a policy. This is what runs on PostgreSQL, so it is checked on every
   backend; `check` also reads the catalog of a PostgreSQL database when it has one.
   In a backend whose migrations distribute its tables on Citus (`distribute`,
   `replicate` or `distribute_existing_tables` of `app.core.distribution`), every
   tenant table is also distributed by `project_id`: a table left on the
   coordinator cannot be joined with its project's shards.
"""

import ast
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from backend_builder.errors import BuilderError
from backend_builder.manifest import Manifest
from backend_builder.migrations import DISTRIBUTION_HELPERS, Revision, read_revisions

APP = "app"
SKIPPED_DIRS = ("app/tests/",)
REPOSITORIES = "app/repositories/"
API = "app/api/"
SCOPED_BASE = "ProjectScoped"
REPOSITORY_BASE = "ProjectRepository"
SCOPE_TYPE = "ProjectScope"
ROLE_DEPENDENCY = "require_role"
ESCAPE_HATCH = "unscoped"
GLOBAL_TABLES = frozenset({"memberships"})
SCOPING_WRAPPERS = ("scoped_query", "scope_statement")  # the one to suggest first
FILTER_HELPERS = ("in_project",)
RLS_HELPER = "rls_statements"
DISTRIBUTE = "distribute"
DISTRIBUTE_ALL = "distribute_existing_tables"
STATEMENTS = frozenset({"select", "update", "delete", "insert"})
JOINS = {"join": 1, "outerjoin": 1, "join_from": 2, "outerjoin_from": 2}
CONDITIONS = {"where": 0, "filter": 0, **JOINS}  # where each method's conditions start
ROUTE_METHODS = frozenset(
    {"get", "post", "put", "patch", "delete", "head", "options", "trace", "api_route", "websocket"}
)


@dataclass(frozen=True)
class Finding:
    """One problem a check found, and where: a file under the backend and a line."""

    message: str
    path: str | None = None
    line: int | None = None
    code: str | None = None

    @property
    def location(self) -> str | None:
        """`path:line`, `path`, or None."""
        if self.path is None:
            return None
        return self.path if self.line is None else f"{self.path}:{self.line}"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form (keys with no value left out)."""
        document: dict[str, Any] = {"message": self.message}
        for key in ("path", "line", "code"):
            value = getattr(self, key)
            if value is not None:
                document[key] = value
        return document


@dataclass(frozen=True)
class Place:
    """Where something is defined: a file under the backend and a line."""

    path: str
    line: int


@dataclass(frozen=True)
class Tenancy:
    """What the tenancy check found, and the tenant tables with their models' places."""

    findings: tuple[Finding, ...]
    tenant_tables: Mapping[str, Place]


def analyze(root: Path, manifest: Manifest) -> Tenancy:
    """Read the backend at `root` and check the four tenancy rules."""
    code = _Code.read(root)
    findings = list(code.findings)
    models = _Models(code)
    findings += models.check()
    findings += _Routes(code, models, _manifest_routers(manifest)).check()
    findings += _Queries(code, models).check()
    findings += _rls(root, models)
    findings.sort(key=lambda f: (f.path or "", f.line or 0))
    return Tenancy(tuple(findings), models.tenant_places())


@dataclass(frozen=True)
class Schema:
    """Where the backend's models define each table and column."""

    tables: Mapping[str, Place]
    columns: Mapping[tuple[str, str], Place]  # (table, column)


def read_schema(root: Path) -> Schema:
    """Every table and column of the backend's models, and where it is defined."""
    models = _Models(_Code.read(root))
    tables = {table: Place(model.path, model.line) for table, model in models.tables.items()}
    columns = {
        (table, column.name): Place(column.path, column.line)
        for table, model in models.tables.items()
        for column in models.columns(model).values()
    }
    return Schema(tables, columns)


def _manifest_routers(manifest: Manifest) -> frozenset[str]:
    """The router files the manifest records for its resources."""
    return frozenset(
        record.path
        for resource in manifest.resources
        for record in resource.files
        if record.layer == "router"
    )


# --------------------------------------------------------------------------
# Reading the code
# --------------------------------------------------------------------------


@dataclass
class _Module:
    """One parsed module: its path, tree, parent links, functions and SQLAlchemy imports."""

    path: str
    tree: ast.Module
    parents: dict[ast.AST, ast.AST] = field(default_factory=dict)
    imported: dict[str, str] = field(default_factory=dict)  # local name -> module
    renamed: dict[str, str] = field(default_factory=dict)  # `import x as y`: y -> x
    sqlalchemy: dict[str, str] = field(default_factory=dict)  # local name -> original
    sqlalchemy_modules: set[str] = field(default_factory=set)
    functions: list[ast.FunctionDef | ast.AsyncFunctionDef] = field(default_factory=list)
    _assignments: dict[ast.AST, list[ast.Assign | ast.AnnAssign]] = field(
        default_factory=dict, repr=False
    )

    @property
    def dotted(self) -> str:
        """The module's import name: `app.api.v1.endpoints.assets`."""
        return _dotted(self.path)

    def assignments(
        self, scope: ast.Module | ast.FunctionDef | ast.AsyncFunctionDef
    ) -> list[ast.Assign | ast.AnnAssign]:
        """The assignments of the module or of one of its functions, in source order.

        Not those of nested functions or classes. Read once per scope: every function's
        names are resolved with the module's assignments, several times over.
        """
        found = self._assignments.get(scope)
        if found is None:
            found = self._assignments[scope] = sorted(
                (n for n in _scope_nodes(scope.body) if isinstance(n, ast.Assign | ast.AnnAssign)),
                key=lambda n: (n.lineno, n.col_offset),
            )
        return found

    def index(self) -> None:
        """Link every node to its parent; note the functions and what is imported from where."""
        for node in ast.walk(self.tree):
            for child in ast.iter_child_nodes(node):
                self.parents[child] = node
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                self.functions.append(node)
            elif isinstance(node, ast.ImportFrom) and node.module is not None:
                for alias in node.names:
                    local = alias.asname or alias.name
                    self.imported[local] = node.module
                    if alias.asname is not None:
                        self.renamed[alias.asname] = alias.name
                    if node.module.split(".")[0] == "sqlalchemy":
                        self.sqlalchemy[local] = alias.name
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] == "sqlalchemy":
                        self.sqlalchemy_modules.add(alias.asname or alias.name)


@dataclass
class _Code:
    """Every module of the application (tests excepted), parsed."""

    modules: list[_Module]
    findings: list[Finding]

    @classmethod
    def read(cls, root: Path) -> "_Code":
        """Parse `app/**/*.py`; a module that does not parse is a finding."""
        if not (root / APP).is_dir():
            raise BuilderError(
                f"{root} has no {APP}/ package: the tenancy check reads a generated "
                "backend's code",
                code="not_a_backend",
                path=APP,
            )
        modules: list[_Module] = []
        findings: list[Finding] = []
        for file in sorted((root / APP).rglob("*.py")):
            path = file.relative_to(root).as_posix()
            if path.startswith(SKIPPED_DIRS):
                continue
            try:
                tree = ast.parse(file.read_text(encoding="utf-8"), filename=path)
            except (SyntaxError, UnicodeDecodeError, OSError) as error:
                line = getattr(error, "lineno", None)
                findings.append(Finding(f"cannot read it: {error}", path, line, "unreadable"))
                continue
            module = _Module(path, tree)
            module.index()
            modules.append(module)
        return cls(modules, findings)

    def functions(self) -> Iterator[tuple[_Module, ast.FunctionDef | ast.AsyncFunctionDef]]:
        """Every function and method of every module."""
        for module in self.modules:
            for function in module.functions:
                yield module, function


def _dotted(path: str) -> str:
    """The import name of the module at `path`: `app/models/asset.py` -> `app.models.asset`."""
    return path.removesuffix(".py").removesuffix("/__init__").replace("/", ".")


def _name(node: ast.AST | None) -> str | None:
    """The last name of `x`, `a.b.x` or `x[...]`; of the callee for a call."""
    if isinstance(node, ast.Call):
        return _name(node.func)
    if isinstance(node, ast.Subscript):
        return _name(node.value)
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _string(node: ast.AST | None) -> str | None:
    """The value of a string literal, else None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    """The value of keyword argument `name`, if given."""
    return next((k.value for k in call.keywords if k.arg == name), None)


def _true(node: ast.AST | None) -> bool:
    """Whether `node` is the literal `True`."""
    return isinstance(node, ast.Constant) and node.value is True


def _scope_nodes(body: Iterable[ast.AST]) -> Iterator[ast.AST]:
    """Every node under `body`, not entering nested functions or classes."""
    pending = list(body)
    while pending:
        node = pending.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if not isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                pending.append(child)


# --------------------------------------------------------------------------
# Models: project-scoped, distributable by project_id
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Column:
    """A mapped column of a class: its name, where it is, and its `mapped_column` call."""

    name: str
    line: int
    path: str
    call: ast.Call | None


@dataclass
class _Class:
    """A class of the application: its bases, and for a model its table and columns."""

    name: str
    path: str
    line: int
    bases: tuple[str, ...]
    table: str | None
    columns: dict[str, _Column]
    table_args: list[ast.Call]


class _Models:
    """Every class of the application: models, their mixins, and repositories."""

    def __init__(self, code: _Code) -> None:
        self.classes: dict[str, _Class] = {}
        for module in code.modules:
            for node in module.tree.body:
                if isinstance(node, ast.ClassDef):
                    self.classes.setdefault(node.name, _read_class(module.path, node))
        self.tables = {c.table: c for c in self.classes.values() if c.table is not None}
        self.tenants = {
            table: model
            for table, model in self.tables.items()
            if table not in GLOBAL_TABLES
            and (self.inherits(model.name, SCOPED_BASE) or "project_id" in self.columns(model))
        }

    def inherits(self, name: str, base: str, seen: frozenset[str] = frozenset()) -> bool:
        """Whether class `name` is `base` or inherits it (as far as the app defines it)."""
        if name == base:
            return True
        known = self.classes.get(name)
        if known is None or name in seen:
            return False
        return any(self.inherits(parent, base, seen | {name}) for parent in known.bases)

    def columns(self, model: _Class, seen: frozenset[str] = frozenset()) -> dict[str, _Column]:
        """The columns of `model`, its own and inherited (the first base wins)."""
        found: dict[str, _Column] = {}
        for parent in reversed(model.bases):
            known = self.classes.get(parent)
            if known is not None and parent not in seen:
                found.update(self.columns(known, seen | {model.name}))
        found.update(model.columns)
        return found

    def table_of(self, node: ast.AST | None) -> str | None:
        """The table a foreign key names: `"customers.id"` or `Customer.id`."""
        text = _string(node)
        if text is not None:
            return text.rsplit(".", 1)[0] if "." in text else None
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            model = self.classes.get(node.value.id)
            return model.table if model is not None else None
        return None

    def tenant_places(self) -> dict[str, Place]:
        """Each tenant table and where its model is defined."""
        return {table: Place(m.path, m.line) for table, m in sorted(self.tenants.items())}

    def check(self) -> list[Finding]:
        """Models with project_id are project-scoped; tenant tables are distributable."""
        findings: list[Finding] = []
        for table, model in sorted(self.tables.items()):
            tenant = table in self.tenants
            if tenant and not self.inherits(model.name, SCOPED_BASE):
                findings.append(
                    Finding(
                        f"model {model.name} (table {table}) has a project_id column but "
                        f"does not inherit {SCOPED_BASE}: the ORM guard and the "
                        "project-scoped repository do not apply to it",
                        model.path,
                        model.line,
                        "model_not_scoped",
                    )
                )
            if tenant:
                findings += self._distributable(table, model)
            findings += self._foreign_keys(table, model)
        return findings

    def _distributable(self, table: str, model: _Class) -> list[Finding]:
        """The key and unique constraints of a tenant table include project_id."""
        columns = self.columns(model)
        findings: list[Finding] = []
        keys = [c for c in model.table_args if _name(c) == "PrimaryKeyConstraint"]
        if keys:
            primary = [_column_name(a) for a in keys[-1].args]
        else:
            primary = [c.name for c in columns.values() if c.call and _true(_kw(c, "primary_key"))]
        if "project_id" not in primary:
            findings.append(
                Finding(
                    f"the primary key of {table} ({', '.join(filter(None, primary)) or 'none'}) "
                    "does not include project_id: the table cannot be distributed by project",
                    model.path,
                    model.line,
                    "key_without_project",
                )
            )
        for column in columns.values():
            if column.name != "project_id" and column.call and _true(_kw(column, "unique")):
                findings.append(
                    Finding(
                        f"{table}.{column.name} is unique across all projects: make it unique "
                        f'within a project, UniqueConstraint("project_id", "{column.name}")',
                        column.path,
                        column.line,
                        "unique_without_project",
                    )
                )
        for call in model.table_args:
            kind = _name(call)
            if kind == "UniqueConstraint":
                names = [_column_name(a) for a in call.args]
            elif kind == "Index" and _true(_keyword(call, "unique")):
                names = [_column_name(a) for a in call.args[1:]]
            else:
                continue
            if "project_id" not in names:
                findings.append(
                    Finding(
                        f"a unique {'index' if kind == 'Index' else 'constraint'} of {table} "
                        f"({', '.join(filter(None, names))}) does not include project_id",
                        model.path,
                        call.lineno,
                        "unique_without_project",
                    )
                )
        return findings

    def _foreign_keys(self, table: str, model: _Class) -> list[Finding]:
        """Foreign keys into tenant tables include project_id."""
        findings: list[Finding] = []
        for column in self.columns(model).values():
            for argument in column.call.args if column.call else ():
                if not (isinstance(argument, ast.Call) and _name(argument) == "ForeignKey"):
                    continue
                target = self.table_of(argument.args[0] if argument.args else None)
                if target in self.tenants and column.name != "project_id":
                    findings.append(
                        Finding(
                            f"{table}.{column.name} refers to the tenant table {target} by "
                            "its id alone: refer to (project_id, id) with a "
                            "ForeignKeyConstraint, so that a row cannot point into another "
                            "project",
                            column.path,
                            column.line,
                            "foreign_key_without_project",
                        )
                    )
        for call in model.table_args:
            if _name(call) != "ForeignKeyConstraint" or len(call.args) < 2:
                continue
            local, remote = (
                [_column_name(e) for e in a.elts] if isinstance(a, ast.List | ast.Tuple) else []
                for a in call.args[:2]
            )
            targets = {self.table_of(e) for e in getattr(call.args[1], "elts", [])}
            target = next((t for t in targets if t in self.tenants), None)
            if target is None:
                continue
            if "project_id" not in local or f"{target}.project_id" not in remote:
                findings.append(
                    Finding(
                        f"a foreign key of {table} into the tenant table {target} "
                        f"({', '.join(filter(None, local))}) does not include project_id",
                        model.path,
                        call.lineno,
                        "foreign_key_without_project",
                    )
                )
        return findings


def _kw(column: _Column, name: str) -> ast.expr | None:
    """A keyword argument of the column's `mapped_column(...)`, if any."""
    return _keyword(column.call, name) if column.call is not None else None


def _column_name(node: ast.AST) -> str | None:
    """A column named in a constraint: `"name"`, `"table.name"` or `Model.name`."""
    text = _string(node)
    if text is not None:
        return text
    return node.attr if isinstance(node, ast.Attribute) else None


def _read_class(path: str, node: ast.ClassDef) -> _Class:
    """A class's bases, table name, columns and table arguments."""
    table: str | None = None
    columns: dict[str, _Column] = {}
    table_args: list[ast.Call] = []
    for statement in node.body:
        target: ast.expr | None = None
        value: ast.expr | None = None
        mapped = False
        if isinstance(statement, ast.AnnAssign):
            target, value = statement.target, statement.value
            mapped = "Mapped" in {_name(n) for n in ast.walk(statement.annotation)}
        elif isinstance(statement, ast.Assign) and len(statement.targets) == 1:
            target, value = statement.targets[0], statement.value
        if not isinstance(target, ast.Name):
            continue
        if target.id == "__tablename__":
            table = _string(value)
        elif target.id == "__table_args__" and isinstance(value, ast.Tuple | ast.List):
            table_args = [e for e in value.elts if isinstance(e, ast.Call)]
        elif isinstance(value, ast.Call) and _name(value) in ("mapped_column", "Column"):
            name = _string(value.args[0]) if value.args else None
            columns[name or target.id] = _Column(name or target.id, statement.lineno, path, value)
        elif mapped and value is None:
            columns[target.id] = _Column(target.id, statement.lineno, path, None)
    bases = tuple(name for base in node.bases if (name := _name(base)) is not None)
    return _Class(node.name, path, node.lineno, bases, table, columns, table_args)


# --------------------------------------------------------------------------
# Routes: every route of a tenant resource depends on the project scope
# --------------------------------------------------------------------------


class _Routes:
    """The endpoint modules of tenant resources and the dependencies of their routes."""

    def __init__(self, code: _Code, models: _Models, routers: frozenset[str]) -> None:
        self.code = code
        self.routers = routers
        self.aliases: set[str] = set()  # Annotated[ProjectScope, Depends(require_role(...))]
        self.dependencies: set[str] = set()  # reader = require_role(Role.VIEWER)
        for module in code.modules:
            for node in module.tree.body:
                target, value = _assignment(node)
                if target is None or value is None:
                    continue
                if isinstance(value, ast.Call) and _name(value) == ROLE_DEPENDENCY:
                    self.dependencies.add(target)
                elif self._annotated_scope(value):
                    self.aliases.add(target)
        repositories = {
            c.name
            for c in models.classes.values()
            if c.name != REPOSITORY_BASE and models.inherits(c.name, REPOSITORY_BASE)
        }
        tenant_names = repositories | {m.name for m in models.tenants.values()}
        defining = {  # the modules that define tenant models and repositories
            _dotted(c.path) for c in models.classes.values() if c.name in tenant_names
        }
        self.direct = {  # the modules that import them
            m.dotted
            for m in code.modules
            if any(
                name in tenant_names or source in defining for name, source in m.imported.items()
            )
        }

    def _tenant_module(self, module: _Module) -> bool:
        """A router recorded by the manifest, or one that reaches tenant code."""
        if module.path in self.routers:
            return True
        if any(source in self.direct for source in module.imported.values()):
            return True  # through a service
        return module.dotted in self.direct

    def _annotated_scope(self, node: ast.AST | None) -> bool:
        """`Annotated[ProjectScope, ...]` or `Annotated[..., Depends(require_role(...))]`."""
        if not (isinstance(node, ast.Subscript) and _name(node.value) == "Annotated"):
            return False
        parts = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        return _name(parts[0]) == SCOPE_TYPE or any(self._depends(p) for p in parts[1:])

    def _depends(self, node: ast.AST | None) -> bool:
        """`Depends(require_role(...))`, `Security(...)`, or a dependency defined so."""
        if not (isinstance(node, ast.Call) and _name(node) in ("Depends", "Security")):
            return False
        target = node.args[0] if node.args else _keyword(node, "dependency")
        if isinstance(target, ast.Call):
            return _name(target) == ROLE_DEPENDENCY
        return _name(target) in self.dependencies

    def _parameter_scope(
        self, module: _Module, annotation: ast.expr | None, default: ast.expr | None
    ) -> bool:
        """Whether a parameter brings the scope: `scope: ReaderScope`, or its long forms."""
        name = _name(annotation) or ""
        if module.renamed.get(name, name) in self.aliases or self._annotated_scope(annotation):
            return True
        return self._depends(default) or (name == SCOPE_TYPE and isinstance(default, ast.Call))

    def _router_scoped(self, module: _Module) -> set[str]:
        """Routers of the module built with `dependencies=[Depends(require_role(...))]`."""
        scoped: set[str] = set()
        for node in module.tree.body:
            target, value = _assignment(node)
            if target is not None and isinstance(value, ast.Call):
                dependencies = _keyword(value, "dependencies")
                if isinstance(dependencies, ast.List | ast.Tuple) and any(
                    self._depends(d) for d in dependencies.elts
                ):
                    scoped.add(target)
        return scoped

    def check(self) -> list[Finding]:
        """Each route of a tenant module that does not depend on the project scope."""
        findings: list[Finding] = []
        for module in self.code.modules:
            if not module.path.startswith(API) or not self._tenant_module(module):
                continue
            scoped_routers = self._router_scoped(module)
            for node in ast.walk(module.tree):
                if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    continue
                for decorator in node.decorator_list:
                    route = _route(decorator)
                    if route is None:
                        continue
                    router, method, path = route
                    if router in scoped_routers or self._route_scoped(module, node, decorator):
                        continue
                    findings.append(
                        Finding(
                            f"route {method.upper()} {path} ({node.name}) of a tenant "
                            "resource does not depend on the project scope: anyone "
                            f"could call it; take a `scope: {_example(self.aliases)}` "
                            "parameter (the caller's project and role)",
                            module.path,
                            node.lineno,
                            "route_without_scope",
                        )
                    )
        return findings

    def _route_scoped(
        self, module: _Module, function: ast.FunctionDef | ast.AsyncFunctionDef, decorator: ast.Call
    ) -> bool:
        arguments = function.args
        positional = [*arguments.posonlyargs, *arguments.args]
        defaults: list[ast.expr | None] = [None] * (len(positional) - len(arguments.defaults))
        pairs = list(zip(positional, [*defaults, *arguments.defaults], strict=True))
        pairs += list(zip(arguments.kwonlyargs, arguments.kw_defaults, strict=True))
        if any(self._parameter_scope(module, a.annotation, d) for a, d in pairs):
            return True
        dependencies = _keyword(decorator, "dependencies")
        return isinstance(dependencies, ast.List | ast.Tuple) and any(
            self._depends(d) for d in dependencies.elts
        )


def _example(aliases: set[str]) -> str:
    """A scope alias to suggest."""
    return "ReaderScope" if "ReaderScope" in aliases or not aliases else sorted(aliases)[0]


def _assignment(node: ast.stmt) -> tuple[str | None, ast.expr | None]:
    """`name = value` or `name: T = value` at the top of a module."""
    if isinstance(node, ast.Assign) and len(node.targets) == 1:
        target = node.targets[0]
        return (target.id if isinstance(target, ast.Name) else None), node.value
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return node.target.id, node.value
    return None, None


def _route(decorator: ast.expr) -> tuple[str, str, str] | None:
    """`@router.get("/x")` as (router, method, path); None for other decorators."""
    if not (isinstance(decorator, ast.Call) and isinstance(decorator.func, ast.Attribute)):
        return None
    if decorator.func.attr not in ROUTE_METHODS:
        return None
    router = _name(decorator.func.value)
    if router is None:
        return None
    path = _string(decorator.args[0]) if decorator.args else _string(_keyword(decorator, "path"))
    return router, decorator.func.attr, path if path is not None else "?"


# --------------------------------------------------------------------------
# Queries: every statement on a tenant table is confined to the project
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Target:
    """A table a statement reads or writes, as the code names it."""

    key: str  # what filters are matched against
    code: str  # how the code names it
    tenant: bool
    description: str = ""  # how a finding names it; the tenant table `code` by default

    def describe(self) -> str:
        """The table, for a finding."""
        return self.description or f"the tenant table {self.code}"


@dataclass
class _Statement:
    """A statement: its constructor, the calls that build it further, and its tables."""

    module: _Module
    kind: str
    constructor: ast.Call
    parts: list[ast.Call]  # the constructor and every method called on the statement
    targets: list[_Target]
    scoped: bool = False


class _Queries:
    """Statements on tenant tables, and whether each is confined to the project."""

    def __init__(self, code: _Code, models: _Models) -> None:
        self.code = code
        self.models = models
        self.repositories = {
            c.name for c in models.classes.values() if models.inherits(c.name, REPOSITORY_BASE)
        }
        self.filters: dict[str, set[int]] = {name: {0} for name in FILTER_HELPERS}
        self.wrappers: dict[str, set[int]] = {name: {0} for name in SCOPING_WRAPPERS}
        self._discover_helpers()

    # Helpers -----------------------------------------------------------------

    def _discover_helpers(self) -> None:
        """Functions whose result filters, or scopes, one of their parameters.

        `_in_project(table)` returns `table.c.project_id == ...`: a call of it
        filters `table`; `scoped_query(statement)` returns
        `Query(scope_statement(statement))`: a call of it scopes `statement`.
        """
        changed = True
        while changed:
            changed = False
            for module, function in self.code.functions():
                names = [a.arg for a in (*function.args.posonlyargs, *function.args.args)]
                if names and names[0] in ("self", "cls"):
                    names = names[1:]
                if not names:
                    continue
                returned = _returned(function)
                context = _Context(self, module, function, None)
                filtered = self._filtered(context, returned)
                wrapped = set().union(*(self._wrapped_names(r) for r in returned))
                for registry, found in ((self.filters, filtered), (self.wrappers, wrapped)):
                    indexes = {
                        i for i, n in enumerate(names) if f"param:{n}" in found or n in found
                    }
                    if indexes - registry.get(function.name, set()):
                        registry[function.name] = registry.get(function.name, set()) | indexes
                        changed = True

    def _wrapped_names(self, node: ast.AST) -> set[str]:
        """The names handed to a scoping helper somewhere in `node`."""
        names: set[str] = set()
        for call in ast.walk(node):
            if isinstance(call, ast.Call) and _name(call) in self.wrappers:
                for index in self.wrappers[_name(call) or ""]:
                    if index < len(call.args) and isinstance(call.args[index], ast.Name):
                        names.add(call.args[index].id)
        return names

    def _filtered(self, context: "_Context", conditions: Iterable[ast.expr]) -> set[str]:
        """The keys of the tables that `conditions` (ANDed) confine to the project.

        `t.project_id == value` confines `t`; `a.project_id == b.project_id` (a join)
        confines each of `a` and `b` when the other is confined.
        """
        keys: set[str] = set()
        pairs: list[tuple[str, str]] = []
        for term in (t for condition in conditions for t in _terms(condition)):
            if isinstance(term, ast.Compare) and len(term.ops) == 1:
                if not isinstance(term.ops[0], ast.Eq | ast.Is):
                    continue
                sides = (term.left, term.comparators[0])
                left, right = (context.project_column(side) for side in sides)
                if left is not None and right is not None:
                    pairs.append((left.key, right.key))
                elif left is not None or right is not None:
                    # `t.project_id == value`; not `t.project_id == other.id` (a join)
                    column, value = (left, sides[1]) if left is not None else (right, sides[0])
                    if not context.is_column(value):
                        keys.add(column.key)
            elif isinstance(term, ast.Call) and _name(term) in self.filters:
                for index in self.filters[_name(term) or ""]:
                    argument = term.args[index] if index < len(term.args) else None
                    target = context.target(argument)
                    if target is not None:
                        keys.add(target.key)
        changed = True
        while changed:
            changed = False
            for left_key, right_key in pairs:
                if (left_key in keys) != (right_key in keys):
                    keys |= {left_key, right_key}
                    changed = True
        return keys

    # Statements ----------------------------------------------------------------

    def check(self) -> list[Finding]:
        """A finding for each statement on a tenant table that is not confined."""
        findings: list[Finding] = []
        statements: list[tuple[_Statement, set[str], str | None]] = []
        for module in self.code.modules:
            for body, function, owner in _scopes(module):
                context = _Context(self, module, function, owner)
                statements += self._statements(context, body)
                findings += self._texts(context, body)
        factories = {factory for _, _, factory in statements if factory is not None}
        wrapped_factories = self._wrapped_factories(factories)
        for statement, filtered, factory in statements:
            if statement.scoped or factory in wrapped_factories:
                continue
            missing = [t for t in statement.targets if t.tenant and t.key not in filtered]
            if statement.kind == "insert":
                missing = [] if _inserts_project(statement) is not False else missing
            for target in missing:
                problem = (
                    "does not set project_id: add .values(project_id=...)"
                    if statement.kind == "insert"
                    else f"is not confined to the project: {self._hint(target)}"
                )
                findings.append(
                    Finding(
                        f"{statement.kind.upper()} on {target.describe()} {problem}",
                        statement.module.path,
                        statement.constructor.lineno,
                        "query_without_project",
                    )
                )
        return findings

    def _hint(self, target: _Target) -> str:
        """What to write instead: the backend's own scoping helper, or a filter."""
        defined = {f.name for _, f in self.code.functions()}
        wrapper = next((w for w in self.wrappers if w in defined), None)  # known ones first
        if wrapper is not None:
            return f"build it with {wrapper}(...) (or, for an admin job, inside unscoped())"
        helper = next((f for f in self.filters if f in defined), None)
        if helper is None or target.key.startswith("model:"):
            condition = f"{target.code}.project_id == ..."
        else:
            condition = f"{helper}({target.code})"
        return f"add .where({condition}) (or, for an admin job, build it inside unscoped())"

    def _wrapped_factories(self, factories: set[str]) -> set[str]:
        """Functions returning a statement whose every call is handed to a scoping helper."""
        calls: dict[str, list[bool]] = {}
        for module in self.code.modules:
            for node in ast.walk(module.tree):
                if isinstance(node, ast.Call) and _name(node) in factories:
                    calls.setdefault(_name(node) or "", []).append(
                        self._inside_wrapper(module, node)
                    )
        return {name for name, wrapped in calls.items() if wrapped and all(wrapped)}

    def _inside_wrapper(self, module: _Module, node: ast.AST) -> bool:
        """Whether `node` is an argument (at any depth) of a scoping helper's call."""
        current = module.parents.get(node)
        while current is not None and not isinstance(current, ast.stmt):
            if isinstance(current, ast.Call) and _name(current) in self.wrappers:
                return True
            current = module.parents.get(current)
        return False

    def _statements(
        self, context: "_Context", body: list[ast.stmt]
    ) -> Iterator[tuple[_Statement, set[str], str | None]]:
        """The statements built in one scope, with the tables each one confines."""
        module = context.module
        nodes = list(_scope_nodes(body))
        for node in nodes:
            if not isinstance(node, ast.Call):
                continue
            kind = context.constructor(node)
            if kind is None or _in_escape_hatch(module, node):
                continue
            top, parts = _chain(module, node)
            statement = _Statement(module, kind, node, parts, context.targets(kind, node, parts))
            if not any(t.tenant for t in statement.targets):
                continue
            variable = _assigned_to(module, top)
            factory: str | None = None
            if variable is not None:
                for other in nodes:
                    if isinstance(other, ast.Name) and other.id == variable:
                        other_top, other_parts = _chain(module, other)
                        statement.parts += other_parts
                        statement.scoped |= self._inside_wrapper(module, other_top)
                        if isinstance(module.parents.get(other_top), ast.Return):
                            factory = context.function_name
            else:
                statement.scoped = self._inside_wrapper(module, top)
                if isinstance(module.parents.get(top), ast.Return):
                    factory = context.function_name
            filtered = self._filtered(context, [c for p in statement.parts for c in _conditions(p)])
            if any(
                _name(part) == "filter_by" and _keyword(part, "project_id") is not None
                for part in statement.parts
            ):
                filtered |= {t.key for t in statement.targets}
            yield statement, filtered, factory

    def _texts(self, context: "_Context", body: list[ast.stmt]) -> list[Finding]:
        """SQL text (`text("...")`) that names a tenant table: it cannot be confined."""
        tenants = sorted(self.models.tenants)
        if not tenants:
            return []
        pattern = re.compile(rf"\b({'|'.join(map(re.escape, tenants))})\b", re.IGNORECASE)
        findings = []
        for node in _scope_nodes(body):
            if not (isinstance(node, ast.Call) and context.sqlalchemy_call(node) == "text"):
                continue
            if _in_escape_hatch(context.module, node) or not node.args:
                continue
            text = "".join(
                part.value
                for part in ast.walk(node.args[0])
                if isinstance(part, ast.Constant) and isinstance(part.value, str)
            )
            found = pattern.search(text)
            if found:
                findings.append(
                    Finding(
                        f"SQL text names the tenant table {found.group(1)}, and text cannot "
                        "be confined to the project: write the statement with SQLAlchemy "
                        "Core on the table, confined to the project",
                        context.module.path,
                        node.lineno,
                        "query_without_project",
                    )
                )
        return findings


def _scopes(
    module: _Module,
) -> Iterator[tuple[list[ast.stmt], ast.FunctionDef | ast.AsyncFunctionDef | None, str | None]]:
    """The module's top level (and class bodies), then each function, with its class."""
    top: list[ast.stmt] = []
    for node in module.tree.body:
        if isinstance(node, ast.ClassDef):
            top += [
                n for n in node.body if not isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
            ]
        elif not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            top.append(node)
    yield top, None, None
    for node in ast.walk(module.tree):
        if isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                    yield item.body, item, node.name
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and not isinstance(
            module.parents.get(node), ast.ClassDef
        ):
            yield node.body, node, None


class _Context:
    """Names as one scope sees them: models, tables in variables, parameters, self."""

    def __init__(
        self,
        queries: _Queries,
        module: _Module,
        function: ast.FunctionDef | ast.AsyncFunctionDef | None,
        owner: str | None,
    ) -> None:
        self.queries = queries
        self.module = module
        self.function_name = function.name if function is not None else None
        self.repository = owner in queries.repositories
        args = function.args if function is not None else None
        self.parameters = (
            {a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)} - {"self", "cls"}
            if args is not None
            else set()
        )
        self.variables: dict[str, _Target] = {}
        scopes = (module.tree,) if function is None else (module.tree, function)
        for scope in scopes:
            for node in module.assignments(scope):
                if isinstance(node, ast.Assign):
                    self._bind(node.targets[0], node.value)
                elif isinstance(node, ast.AnnAssign) and node.value is not None:
                    self._bind(node.target, node.value)

    def _bind(self, target: ast.expr, value: ast.expr) -> None:
        """Remember `x = Model.__table__`, `x = aliased(Model)` and tuples of them."""
        if isinstance(target, ast.Tuple) and isinstance(value, ast.Tuple):
            for one, other in zip(target.elts, value.elts, strict=False):
                self._bind(one, other)
            return
        if not isinstance(target, ast.Name):
            return
        alias = isinstance(value, ast.Call) and _name(value) in ("aliased", "alias")
        if alias and isinstance(value, ast.Call):
            inner = value.args[0] if _name(value) == "aliased" and value.args else None
            if isinstance(value.func, ast.Attribute) and _name(value) == "alias":
                inner = value.func.value
            found = self.target(inner) if inner is not None else None
            if found is not None:
                self.variables[target.id] = _Target(
                    f"alias:{target.id}", target.id, found.tenant, f"{target.id} (an alias)"
                )
            return
        found = self.target(value)
        if found is not None and found.key.startswith("model:"):
            self.variables[target.id] = replace(found, code=target.id)

    def sqlalchemy_call(self, node: ast.Call) -> str | None:
        """The SQLAlchemy function a call makes (`select`, `sa.text`), if it is one."""
        if isinstance(node.func, ast.Name):
            return self.module.sqlalchemy.get(node.func.id)
        if (
            isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id in self.module.sqlalchemy_modules
        ):
            return node.func.attr
        return None

    def constructor(self, node: ast.Call) -> str | None:
        """`select`, `update`, `delete` or `insert` if the call builds such a statement."""
        kind = self.sqlalchemy_call(node)
        if kind in STATEMENTS:
            return kind
        if isinstance(node.func, ast.Attribute) and node.func.attr in STATEMENTS:
            found = self.target(node.func.value)  # invoices.select(), Model.__table__.update()
            if found is not None and not found.key.startswith("param:"):
                return node.func.attr
        return None

    def targets(self, kind: str, constructor: ast.Call, parts: list[ast.Call]) -> list[_Target]:
        """The tables a statement reads or writes, as far as they are known."""
        if kind == "select":
            sources: list[ast.expr] = list(constructor.args)
        elif constructor.args:
            sources = [constructor.args[0]]
        elif isinstance(constructor.func, ast.Attribute):
            sources = [constructor.func.value]
        else:
            sources = []
        for part in parts[1:]:
            method = _name(part)
            if method == "select_from":
                sources += part.args
            elif method in JOINS:
                sources += part.args[: JOINS[method]]
        found: dict[str, _Target] = {}
        for source in sources:
            target = self.target(source)
            if target is not None:
                found.setdefault(target.key, target)
        return list(found.values())

    def target(self, node: ast.AST | None) -> _Target | None:
        """The table `node` names (a model, a column of it, a table variable, self.table)."""
        if isinstance(node, ast.Subscript):
            node = node.value
            if isinstance(node, ast.Attribute) and node.attr in ("c", "columns"):
                return self.target(node.value)
            return None
        if isinstance(node, ast.Name):
            return self._named(node.id)
        if not isinstance(node, ast.Attribute):
            return None
        value = node.value
        if node.attr in ("__table__", "c", "columns"):
            return self.target(value)
        if isinstance(value, ast.Attribute) and value.attr in ("c", "columns"):
            return self.target(value.value)  # table.c.name
        if isinstance(value, ast.Name) and value.id in ("self", "cls"):
            if node.attr in ("table", "model") and self.repository:
                return _Target("repo:model", "self.table", True, "the repository's table")
            return None
        if isinstance(value, ast.Attribute) and _name(value) == "model" and self.repository:
            return _Target("repo:model", "self.table", True, "the repository's table")
        found = self.target(value)
        return found if found is not None and found.key.startswith("model:") else None

    def _named(self, name: str) -> _Target | None:
        models = self.queries.models
        model = models.classes.get(name)
        if model is not None and model.table is not None:
            return _Target(
                f"model:{name}",
                name,
                model.table in models.tenants,
                f"the tenant table {model.table}",
            )
        if name in self.variables:
            return self.variables[name]
        if name in self.parameters:
            tenant = self.module.path.startswith(REPOSITORIES)
            return _Target(f"param:{name}", name, tenant, f"the table `{name}` (in a repository)")
        return None

    def is_column(self, node: ast.AST) -> bool:
        """Whether `node` is a table's column (`Project.id`, `t.c.id`), not a value."""
        if isinstance(node, ast.Name):
            found = self._named(node.id)
            return found is not None and not found.key.startswith("param:")
        return isinstance(node, ast.Attribute | ast.Subscript) and self.target(node) is not None

    def project_column(self, node: ast.AST) -> _Target | None:
        """The table whose project_id `node` is: `t.project_id`, `t.c.project_id`, ..."""
        if isinstance(node, ast.Attribute) and node.attr == "project_id":
            return self.target(node.value)
        if isinstance(node, ast.Subscript) and _string(node.slice) == "project_id":
            return self.target(node.value)
        return None


def _conditions(part: ast.Call) -> list[ast.expr]:
    """The conditions a statement's method adds: WHERE terms, or a join's ON clause."""
    start = CONDITIONS.get(_name(part) or "")
    if start is None:
        return []
    onclause = _keyword(part, "onclause")
    return [*part.args[start:], *([onclause] if onclause is not None else [])]


def _terms(condition: ast.expr) -> Iterator[ast.expr]:
    """The terms that `condition` ANDs together: `and_(a, b)`, `a & b`, `a and b`."""
    if isinstance(condition, ast.Call) and _name(condition) == "and_":
        for argument in condition.args:
            yield from _terms(argument)
    elif isinstance(condition, ast.BoolOp) and isinstance(condition.op, ast.And):
        for value in condition.values:
            yield from _terms(value)
    elif isinstance(condition, ast.BinOp) and isinstance(condition.op, ast.BitAnd):
        yield from _terms(condition.left)
        yield from _terms(condition.right)
    else:
        yield condition


def _returned(function: ast.FunctionDef | ast.AsyncFunctionDef) -> list[ast.expr]:
    """What a function returns, with a local variable returned replaced by its values."""
    assigned: dict[str, list[ast.expr]] = {}
    returned: list[ast.expr] = []
    for node in _scope_nodes(function.body):
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            assigned.setdefault(node.targets[0].id, []).append(node.value)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value:
            assigned.setdefault(node.target.id, []).append(node.value)
        elif isinstance(node, ast.Return) and node.value is not None:
            returned.append(node.value)
    expanded: list[ast.expr] = []
    for value in returned:
        expanded.append(value)
        if isinstance(value, ast.Name):
            expanded += assigned.get(value.id, [])
    return expanded


def _chain(module: _Module, node: ast.expr) -> tuple[ast.expr, list[ast.Call]]:
    """The outermost call of `node.where(...).order_by(...)`, and every call in it."""
    parts = [node] if isinstance(node, ast.Call) else []
    current: ast.expr = node
    while True:
        attribute = module.parents.get(current)
        call = module.parents.get(attribute) if attribute is not None else None
        if not (
            isinstance(attribute, ast.Attribute)
            and attribute.value is current
            and isinstance(call, ast.Call)
            and call.func is attribute
        ):
            return current, parts
        parts.append(call)
        current = call


def _assigned_to(module: _Module, node: ast.expr) -> str | None:
    """The variable `node` is assigned to, if it is the value of `name = node`."""
    parent = module.parents.get(node)
    if isinstance(parent, ast.Assign) and len(parent.targets) == 1:
        target = parent.targets[0]
        return target.id if isinstance(target, ast.Name) else None
    if isinstance(parent, ast.AnnAssign) and isinstance(parent.target, ast.Name):
        return parent.target.id
    return None


def _in_escape_hatch(module: _Module, node: ast.AST) -> bool:
    """Whether `node` is inside `with unscoped():`."""
    current = module.parents.get(node)
    while current is not None:
        if isinstance(current, ast.With | ast.AsyncWith) and any(
            _name(item.context_expr) == ESCAPE_HATCH for item in current.items
        ):
            return True
        current = module.parents.get(current)
    return False


def _inserts_project(statement: _Statement) -> bool | None:
    """Whether an INSERT writes project_id: None when its values are only known at run time."""
    values = [p for p in statement.parts if _name(p) == "values"]
    if not values:
        return None
    for call in values:
        if any(k.arg is None for k in call.keywords):
            return None
        if any(k.arg == "project_id" for k in call.keywords):
            return True
        for argument in call.args:
            if not isinstance(argument, ast.Dict) or None in argument.keys:
                return None
            if "project_id" in {_string(k) for k in argument.keys}:
                return True
    return False


# --------------------------------------------------------------------------
# Row-level security in the migrations
# --------------------------------------------------------------------------

_NAME = r"(?P<{}>(?:\"?\w+\"?\.)?\"?\w+\"?)"
_RLS = re.compile(
    r"ALTER\s+TABLE\s+(?:IF\s+EXISTS\s+)?(?:ONLY\s+)?"
    + _NAME.format("table")
    + r"\s+(?P<action>ENABLE|DISABLE|FORCE|NO\s+FORCE)\s+ROW\s+LEVEL\s+SECURITY",
    re.IGNORECASE,
)
REPLICATED = "replicated"
"""`_Security.distributed_by` of a reference table (a copy on every node)."""
_CITUS_TABLE = re.compile(
    r"create_(?:distributed_table\s*\(\s*'(?P<table>[^']+)'\s*,\s*'(?P<column>[^']+)'"
    r"|reference_table\s*\(\s*'(?P<reference>[^']+)')",
    re.IGNORECASE,
)
_CREATE_POLICY = re.compile(
    r"CREATE\s+POLICY\s+" + _NAME.format("policy") + r"\s+ON\s+" + _NAME.format("table"),
    re.IGNORECASE,
)
_DROP_POLICY = re.compile(
    r"DROP\s+POLICY\s+(?:IF\s+EXISTS\s+)?"
    + _NAME.format("policy")
    + r"\s+ON\s+"
    + _NAME.format("table"),
    re.IGNORECASE,
)


def _bare(name: str) -> str:
    """A table or policy name without its schema or quotes."""
    return name.rsplit(".", 1)[-1].strip('"').lower()


@dataclass
class _Security:
    """What the migrations did to one table's row-level security, and where."""

    created: Place
    enabled: Place | None = None
    forced: Place | None = None
    disabled: Place | None = None  # the last statement that turned it off
    unforced: Place | None = None
    dropped_policy: Place | None = None
    policies: set[str] = field(default_factory=set)
    distributed_by: str | None = None  # the column, once a migration distributes it


@dataclass
class _Replay:
    """The tables the migrations' upgrades leave, and whether they distribute tables."""

    tables: dict[str, _Security] = field(default_factory=dict)
    distributes: bool = False


def _rls(root: Path, models: _Models) -> list[Finding]:
    """Replay the migrations' upgrades: every tenant table ends with RLS forced."""
    try:
        revisions = read_revisions(root)
    except BuilderError as error:
        return [Finding(error.message, error.path, None, "migration_unreadable")]
    replay = _Replay()
    findings: list[Finding] = []
    for revision in _in_order(revisions):
        try:
            tree = ast.parse((root / revision.path).read_text(encoding="utf-8"))
        except (SyntaxError, OSError, UnicodeDecodeError) as error:
            findings.append(Finding(f"cannot read it: {error}", revision.path, None, "unreadable"))
            continue
        upgrade = next(
            (n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "upgrade"), None
        )
        if upgrade is not None:
            _replay(revision.path, upgrade, replay)
    for table, model in sorted(models.tenants.items()):
        state = replay.tables.get(table)
        if state is None:
            findings.append(
                Finding(
                    f"no migration creates the tenant table {table} (op.create_table), so "
                    "its row-level security cannot be checked",
                    model.path,
                    model.line,
                    "rls_missing",
                )
            )
            continue
        findings += _security_findings(table, state)
        if replay.distributes:
            findings += _distribution_findings(table, state)
    return findings


def _distribution_findings(table: str, state: _Security) -> list[Finding]:
    """A tenant table the migrations leave undistributed, or not by project_id."""
    where = state.created
    if state.distributed_by is None:
        message = (
            f'the tenant table {table} is created without `distribute("{table}")` '
            "(app.core.distribution), while other tables are distributed: on Citus it "
            "stays on the coordinator, and a query joining it with its project's shards "
            "fails; call it after create_table, or, if this migration may have run, "
            "`distribute_existing_tables()` in a new one"
        )
        return [Finding(message, where.path, where.line, "not_distributed")]
    if state.distributed_by != "project_id":
        how = (
            "replicated to every node"
            if state.distributed_by == REPLICATED
            else f"distributed by {state.distributed_by}"
        )
        message = (
            f"the tenant table {table} is {how}, not distributed by project_id: its "
            "rows are not placed with their project's shards"
        )
        return [Finding(message, where.path, where.line, "not_distributed")]
    return []


def _security_findings(table: str, state: _Security) -> list[Finding]:
    findings = []
    where = state.created
    for place, off, what, statement in (
        (state.enabled, state.disabled, "enabled", "ENABLE"),
        (state.forced, state.unforced, "forced", "FORCE"),
    ):
        if place is not None:
            continue
        if off is not None:
            message = (
                f"row-level security is no longer {what} on the tenant table {table} after "
                f"this migration: on PostgreSQL its rows are not confined to a project"
            )
            findings.append(Finding(message, off.path, off.line, "rls_disabled"))
        else:
            message = (
                f"the tenant table {table} is created without `ALTER TABLE {table} "
                f"{statement} ROW LEVEL SECURITY` (app.core.tenancy.rls_statements): on "
                "PostgreSQL its rows are not confined to a project"
            )
            findings.append(Finding(message, where.path, where.line, "rls_missing"))
    if not state.policies:
        place = state.dropped_policy or where
        findings.append(
            Finding(
                f"the tenant table {table} has no row-level security policy "
                f"(CREATE POLICY {table}_project_isolation ON {table} ...)",
                place.path,
                place.line,
                "rls_missing",
            )
        )
    return findings


def _in_order(revisions: dict[str, Revision]) -> list[Revision]:
    """The revisions, each after its parents (roots first, ties by id)."""
    done: set[str] = set()
    ordered: list[Revision] = []
    pending = sorted(revisions)
    while pending:
        ready = [
            r
            for r in pending
            if all(p in done or p not in revisions for p in revisions[r].down_revisions)
        ]
        if not ready:  # a cycle: `status` reports it; take the rest as they come
            ready = pending
        for name in ready:
            ordered.append(revisions[name])
            done.add(name)
        pending = [r for r in pending if r not in done]
    return ordered


def _replay(path: str, upgrade: ast.FunctionDef, replay: _Replay) -> None:
    """Apply what one migration's upgrade does to the tables' security and placement."""
    tables = replay.tables
    calls = sorted(
        (n for n in ast.walk(upgrade) if isinstance(n, ast.Call)),
        key=lambda n: (n.lineno, n.col_offset),
    )
    for call in calls:
        place = Place(path, call.lineno)
        name = _name(call)
        first = _string(call.args[0]) if call.args else None
        if name == "create_table" and first is not None:
            tables[first.lower()] = _Security(place)
        elif name == "drop_table" and first is not None:
            tables.pop(first.lower(), None)
        elif name == "rename_table" and first is not None and len(call.args) > 1:
            new = _string(call.args[1])
            if new is not None and first.lower() in tables:
                tables[new.lower()] = tables.pop(first.lower())
        elif name == RLS_HELPER and first is not None and first.lower() in tables:
            state = tables[first.lower()]
            state.enabled = state.forced = place
            state.policies.add(f"{first.lower()}_project_isolation")
        elif name in DISTRIBUTION_HELPERS:
            replay.distributes = True
            _distribute(call, first, tables)
        elif name in ("execute", "exec_driver_sql") and call.args:
            argument = call.args[0]
            if isinstance(argument, ast.Call) and _name(argument) == "text" and argument.args:
                argument = argument.args[0]
            sql = _string(argument)
            if sql is not None:
                _apply_sql(sql, place, replay)


def _distribute(call: ast.Call, table: str | None, tables: dict[str, _Security]) -> None:
    """Apply one call of `app.core.distribution` to the tables' placement."""
    name = _name(call)
    if name == DISTRIBUTE_ALL:  # every table with a project_id, by project_id
        for state in tables.values():
            state.distributed_by = state.distributed_by or "project_id"
        return
    table = table or _string(_keyword(call, "table"))
    if table is None or table.lower() not in tables:
        return
    if name == DISTRIBUTE:
        column = call.args[1] if len(call.args) > 1 else _keyword(call, "column")
        by = "project_id" if column is None else _string(column)
        tables[table.lower()].distributed_by = by or "project_id"  # not a literal: trusted
    else:
        tables[table.lower()].distributed_by = REPLICATED


def _apply_sql(sql: str, place: Place, replay: _Replay) -> None:
    """Apply the row-level security and Citus statements in `sql` (one or several)."""
    tables = replay.tables
    for part in sql.split(";"):
        found = _CITUS_TABLE.search(part)
        if found is not None:
            replay.distributes = True
            table = _bare(found["table"] or found["reference"])
            if table in tables:
                column = found["column"]
                tables[table].distributed_by = REPLICATED if column is None else _bare(column)
        found = _RLS.search(part)
        if found is not None and _bare(found["table"]) in tables:
            state = tables[_bare(found["table"])]
            action = " ".join(found["action"].upper().split())
            if action == "ENABLE":
                state.enabled = place
            elif action == "DISABLE":
                state.enabled, state.disabled = None, place
            elif action == "FORCE":
                state.forced = place
            else:
                state.forced, state.unforced = None, place
        found = _CREATE_POLICY.search(part)
        if found is not None and _bare(found["table"]) in tables:
            tables[_bare(found["table"])].policies.add(_bare(found["policy"]))
        found = _DROP_POLICY.search(part)
        if found is not None and _bare(found["table"]) in tables:
            state = tables[_bare(found["table"])]
            state.policies.discard(_bare(found["policy"]))
            state.dropped_policy = place
