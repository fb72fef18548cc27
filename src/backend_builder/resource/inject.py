"""Edits of existing Python modules, on a syntax tree (libcst), idempotent.

Each function takes a module's source and returns an `Edit`: what it did
(injected or already there; removed or already absent) and the new source. When
the module does not have the shape the edit needs, the outcome is
`CANNOT_INJECT`, the source is unchanged and the edit carries the step to do by
hand, so nothing is ever skipped silently. Each `register_*` has its inverse
`unregister_*`: registering then unregistering gives back the module as it was.
"""

import enum
from collections.abc import Sequence
from dataclasses import dataclass

import libcst as cst

from backend_builder.resource.imports import module_key, name_key

_ACCOUNT_ROUTERS = {"auth.router", "users.router", "projects.router"}
_ENDPOINTS = "app.api.v1.endpoints"


class Outcome(enum.StrEnum):
    """What an edit did to a module."""

    INJECTED = "injected"
    ALREADY_THERE = "already_there"
    REMOVED = "removed"
    ALREADY_ABSENT = "already_absent"
    CANNOT_INJECT = "cannot_inject"


@dataclass(frozen=True)
class Edit:
    """The outcome of an edit of the module at `path`, and the module's new source.

    `instruction` is the step to do by hand when the outcome is `CANNOT_INJECT`.
    """

    outcome: Outcome
    source: str
    path: str
    instruction: str = ""

    @property
    def message(self) -> str:
        """Why the module was not edited, and what to do instead."""
        return f"cannot edit {self.path} automatically; {self.instruction}"


def _dotted(node: cst.BaseExpression | None) -> str:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        return f"{_dotted(node.value)}.{node.attr.value}"
    return ""


def _import_from(statement: cst.BaseStatement) -> cst.ImportFrom | None:
    if isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1:
        node = statement.body[0]
        if isinstance(node, cst.ImportFrom) and not node.relative:
            return node
    return None


def _imported(node: cst.ImportFrom) -> set[str]:
    """The names an import takes from its module (aliased or not)."""
    if isinstance(node.names, cst.ImportStar):
        return set()
    return {alias.name.value for alias in node.names if isinstance(alias.name, cst.Name)}


def _with_name(node: cst.ImportFrom, name: str) -> cst.ImportFrom:
    if isinstance(node.names, cst.ImportStar):
        return node
    names = sorted(_imported(node) | {name}, key=name_key)
    aliases = [cst.ImportAlias(cst.Name(n)) for n in names]
    return node.with_changes(names=aliases, lpar=None, rpar=None)


def _without_names(node: cst.ImportFrom, names: Sequence[str]) -> cst.ImportFrom | None:
    """The import without `names` (other aliases kept as they are); None if nothing is left."""
    if isinstance(node.names, cst.ImportStar):
        return node
    aliases = [
        cst.ImportAlias(alias.name, alias.asname)
        for alias in node.names
        if not (isinstance(alias.name, cst.Name) and alias.name.value in names)
    ]
    return node.with_changes(names=aliases, lpar=None, rpar=None) if aliases else None


def _call_of(statement: cst.BaseStatement) -> cst.Call | None:
    if isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1:
        expression = statement.body[0]
        if isinstance(expression, cst.Expr) and isinstance(expression.value, cst.Call):
            return expression.value
    return None


def _all_index(body: Sequence[cst.BaseStatement]) -> int | None:
    """The position of the `__all__ = [...]` statement, if any."""
    return next(
        (
            i
            for i, statement in enumerate(body)
            if isinstance(statement, cst.SimpleStatementLine)
            and isinstance(statement.body[0], cst.Assign)
            and _dotted(statement.body[0].targets[0].target) == "__all__"
            and isinstance(statement.body[0].value, cst.List)
        ),
        None,
    )


def _without(body: Sequence[cst.BaseStatement], dropped: set[int]) -> list[cst.BaseStatement]:
    """`body` without the statements at `dropped`.

    A dropped statement's blank lines go to the statement after it when that one
    has none, undoing what an insertion does (it takes over the lines above it).
    """
    kept: list[cst.BaseStatement] = []
    carried: Sequence[cst.EmptyLine] = ()
    for index, statement in enumerate(body):
        if index in dropped:
            carried = carried or statement.leading_lines  # type: ignore[attr-defined]
            continue
        if carried and not statement.leading_lines:  # type: ignore[attr-defined]
            statement = statement.with_changes(leading_lines=carried)
        carried = ()
        kept.append(statement)
    return kept


class _Refers(cst.CSTVisitor):
    """Whether a module still refers to a name or imports from a module."""

    def __init__(self, names: Sequence[str], module: str) -> None:
        super().__init__()
        self.names = set(names)
        self.module = module
        self.found = False

    def visit_Attribute(self, node: cst.Attribute) -> bool:
        node.value.visit(self)  # `x.name` is not a use of `name`
        return False

    def visit_Arg(self, node: cst.Arg) -> bool:
        node.value.visit(self)  # nor is `f(name=...)`
        return False

    def visit_Name(self, node: cst.Name) -> None:
        self.found = self.found or node.value in self.names

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        self.found = self.found or _dotted(node.module) == self.module

    def visit_Import(self, node: cst.Import) -> None:
        self.found = self.found or any(_dotted(a.name) == self.module for a in node.names)


def _refers(tree: cst.Module, names: Sequence[str], module: str) -> bool:
    visitor = _Refers(names, module)
    tree.visit(visitor)
    return visitor.found


def register_router(source: str, module: str, prefix: str, tag: str, path: str) -> Edit:
    """Import `module` from `app.api.v1.endpoints` and include its router."""
    instruction = (
        f"add this yourself: `from {_ENDPOINTS} import {module}` and "
        f'`api_router.include_router({module}.router, prefix="{prefix}", tags=["{tag}"])`'
    )
    tree = cst.parse_module(source)
    body = list(tree.body)
    import_index = next(
        (
            i
            for i, statement in enumerate(body)
            if (node := _import_from(statement)) is not None and _dotted(node.module) == _ENDPOINTS
        ),
        None,
    )
    includes = [
        i
        for i, statement in enumerate(body)
        if (call := _call_of(statement)) is not None
        and _dotted(call.func) == "api_router.include_router"
    ]
    if import_index is None or not includes:
        return Edit(Outcome.CANNOT_INJECT, source, path, instruction)
    node = _import_from(body[import_index])
    assert node is not None
    imported = module in _imported(node)
    body[import_index] = body[import_index].with_changes(body=[_with_name(node, module)])
    included = any(
        _dotted(call.args[0].value) == f"{module}.router"
        for i in includes
        if (call := _call_of(body[i])) is not None and call.args
    )
    if imported and included:
        return Edit(Outcome.ALREADY_THERE, source, path)
    if not included:
        statement = cst.parse_statement(
            f'api_router.include_router({module}.router, prefix="{prefix}", tags=["{tag}"])\n'
        )
        body.insert(_router_position(body, includes), statement)
    return Edit(Outcome.INJECTED, tree.with_changes(body=body).code, path)


def unregister_router(source: str, module: str, path: str) -> Edit:
    """The inverse of `register_router`: drop the include of `module`'s router and its import.

    Refused (`CANNOT_INJECT`) when the module would still refer to `module` afterwards.
    """
    instruction = (
        f"remove this yourself: `{module}` from `from {_ENDPOINTS} import ...`, "
        f"`api_router.include_router({module}.router, ...)` and any other use of it"
    )
    tree = cst.parse_module(source)
    body = list(tree.body)
    dropped: set[int] = set()
    for index, statement in enumerate(body):
        call = _call_of(statement)
        node = _import_from(statement)
        if (
            call is not None
            and _dotted(call.func) == "api_router.include_router"
            and call.args
            and _dotted(call.args[0].value) == f"{module}.router"
        ):
            dropped.add(index)
        elif node is not None and _dotted(node.module) == _ENDPOINTS and module in _imported(node):
            rest = _without_names(node, [module])
            if rest is None:
                dropped.add(index)
            else:
                body[index] = statement.with_changes(body=[rest])
    edited = tree.with_changes(body=_without(body, dropped))
    if _refers(edited, [module], f"{_ENDPOINTS}.{module}"):
        return Edit(Outcome.CANNOT_INJECT, source, path, instruction)
    if edited.code == source:
        return Edit(Outcome.ALREADY_ABSENT, source, path)
    return Edit(Outcome.REMOVED, edited.code, path)


def _router_position(body: Sequence[cst.BaseStatement], includes: Sequence[int]) -> int:
    """Resource routers go before the account routers (auth, users, projects).

    FastAPI tries routes in order, and the resources carry most of the traffic; a
    module without the account routers gets the new router after its last include.
    """
    for index in includes:
        call = _call_of(body[index])
        if call is not None and call.args and _dotted(call.args[0].value) in _ACCOUNT_ROUTERS:
            return index
    return includes[-1] + 1


def register_model(source: str, module: str, names: Sequence[str], path: str) -> Edit:
    """Import `names` from `app.models.<module>` and list them in `__all__`."""
    full = f"app.models.{module}"
    instruction = (
        f"add this yourself: `from {full} import {', '.join(names)}` and add them to `__all__`"
    )
    tree = cst.parse_module(source)
    body = list(tree.body)
    model_imports = [
        (i, _dotted(node.module))
        for i, statement in enumerate(body)
        if (node := _import_from(statement)) is not None
        and _dotted(node.module).startswith("app.models.")
    ]
    all_index = _all_index(body)
    if not model_imports or all_index is None:
        return Edit(Outcome.CANNOT_INJECT, source, path, instruction)
    assign = body[all_index].body[0]  # type: ignore[attr-defined]
    listed = {
        element.value.evaluated_value
        for element in assign.value.elements
        if isinstance(element.value, cst.SimpleString)
    }
    existing = next((i for i, name in model_imports if name == full), None)
    if existing is not None:
        node = _import_from(body[existing])
        assert node is not None
        if set(names) <= _imported(node) and set(names) <= listed:
            return Edit(Outcome.ALREADY_THERE, source, path)
        for name in names:
            node = _with_name(node, name)
        body[existing] = body[existing].with_changes(body=[node])
    else:
        position = next(
            (i for i, name in model_imports if module_key(name) > module_key(full)), None
        )
        if position is None:
            position = model_imports[-1][0] + 1
        imported = ", ".join(sorted(names, key=name_key))
        statement = cst.parse_statement(f"from {full} import {imported}\n")
        if position == model_imports[0][0]:
            # The new first line of the block takes over the blank lines above it.
            following = body[position]
            statement = statement.with_changes(leading_lines=following.leading_lines)
            body[position] = following.with_changes(leading_lines=[])
        body.insert(position, statement)
        if position <= all_index:
            all_index += 1
    listed.update(names)
    ordered = sorted(listed, key=name_key)
    new_list = cst.parse_expression("[" + ", ".join(f'"{n}"' for n in ordered) + ",]")
    body[all_index] = body[all_index].with_changes(body=[assign.with_changes(value=new_list)])
    return Edit(Outcome.INJECTED, tree.with_changes(body=body).code, path)


def unregister_model(source: str, module: str, names: Sequence[str], path: str) -> Edit:
    """The inverse of `register_model`: drop the import of `names` and their `__all__` entries.

    Refused (`CANNOT_INJECT`) when the module would still refer to `names` or to
    `app.models.<module>` afterwards (an import of another of its names, say).
    """
    full = f"app.models.{module}"
    instruction = (
        f"remove this yourself: `from {full} import {', '.join(names)}`, "
        "their names in `__all__` and any other use of them"
    )
    tree = cst.parse_module(source)
    body = list(tree.body)
    dropped: set[int] = set()
    for index, statement in enumerate(body):
        node = _import_from(statement)
        if node is not None and _dotted(node.module) == full:
            rest = _without_names(node, names)
            if rest is None:
                dropped.add(index)
            else:
                body[index] = statement.with_changes(body=[rest])
    all_index = _all_index(body)
    if all_index is not None:
        assign = body[all_index].body[0]  # type: ignore[attr-defined]
        elements = [
            element
            for element in assign.value.elements
            if not (
                isinstance(element.value, cst.SimpleString)
                and element.value.evaluated_value in names
            )
        ]
        new_list = assign.value.with_changes(elements=elements)
        body[all_index] = body[all_index].with_changes(body=[assign.with_changes(value=new_list)])
    edited = tree.with_changes(body=_without(body, dropped))
    if _refers(edited, names, full):
        return Edit(Outcome.CANNOT_INJECT, source, path, instruction)
    if edited.code == source:
        return Edit(Outcome.ALREADY_ABSENT, source, path)
    return Edit(Outcome.REMOVED, edited.code, path)
