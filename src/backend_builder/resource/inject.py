"""Edits of existing Python modules, on a syntax tree (libcst), idempotent.

Each function takes a module's source and returns the new source. When the anchor
it needs is missing it raises `CannotInject` with the line to add by hand, so
nothing is ever skipped silently.
"""

from collections.abc import Sequence

import libcst as cst

_ACCOUNT_ROUTERS = {"auth.router", "users.router", "projects.router"}


class CannotInject(Exception):
    """The module does not have the shape the edit expects."""

    def __init__(self, path: str, instruction: str) -> None:
        super().__init__(f"cannot edit {path} automatically; add this yourself: {instruction}")
        self.instruction = instruction


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


def _with_name(node: cst.ImportFrom, name: str) -> cst.ImportFrom:
    if isinstance(node.names, cst.ImportStar):
        return node
    names = {alias.name.value for alias in node.names if isinstance(alias.name, cst.Name)}
    names.add(name)
    aliases = [cst.ImportAlias(cst.Name(n)) for n in sorted(names)]
    return node.with_changes(names=aliases, lpar=None, rpar=None)


def _call_of(statement: cst.BaseStatement) -> cst.Call | None:
    if isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1:
        expression = statement.body[0]
        if isinstance(expression, cst.Expr) and isinstance(expression.value, cst.Call):
            return expression.value
    return None


def register_router(source: str, module: str, prefix: str, tag: str, path: str) -> str:
    """Import `module` from `app.api.v1.endpoints` and include its router."""
    instruction = (
        f"`from app.api.v1.endpoints import {module}` and "
        f'`api_router.include_router({module}.router, prefix="{prefix}", tags=["{tag}"])`'
    )
    tree = cst.parse_module(source)
    body = list(tree.body)
    import_index = next(
        (
            i
            for i, statement in enumerate(body)
            if (node := _import_from(statement)) is not None
            and _dotted(node.module) == "app.api.v1.endpoints"
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
        raise CannotInject(path, instruction)
    node = _import_from(body[import_index])
    assert node is not None
    body[import_index] = body[import_index].with_changes(body=[_with_name(node, module)])
    already = any(
        _dotted(call.args[0].value) == f"{module}.router"
        for i in includes
        if (call := _call_of(body[i])) is not None and call.args
    )
    if not already:
        statement = cst.parse_statement(
            f'api_router.include_router({module}.router, prefix="{prefix}", tags=["{tag}"])\n'
        )
        body.insert(_router_position(body, includes), statement)
    return tree.with_changes(body=body).code


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


def register_model(source: str, module: str, names: Sequence[str], path: str) -> str:
    """Import `names` from `app.models.<module>` and list them in `__all__`."""
    full = f"app.models.{module}"
    instruction = f"`from {full} import {', '.join(names)}` and add them to `__all__`"
    tree = cst.parse_module(source)
    body = list(tree.body)
    model_imports = [
        (i, _dotted(node.module))
        for i, statement in enumerate(body)
        if (node := _import_from(statement)) is not None
        and _dotted(node.module).startswith("app.models.")
    ]
    all_index = next(
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
    if not model_imports or all_index is None:
        raise CannotInject(path, instruction)
    existing = next((i for i, name in model_imports if name == full), None)
    if existing is not None:
        node = _import_from(body[existing])
        assert node is not None
        for name in names:
            node = _with_name(node, name)
        body[existing] = body[existing].with_changes(body=[node])
    else:
        position = next((i for i, name in model_imports if name > full), None)
        if position is None:
            position = model_imports[-1][0] + 1
        statement = cst.parse_statement(f"from {full} import {', '.join(sorted(names))}\n")
        if position < len(body):
            # The new first line of the block takes over the blank lines above it.
            following = body[position]
            statement = statement.with_changes(leading_lines=following.leading_lines)
            body[position] = following.with_changes(leading_lines=[])
        body.insert(position, statement)
        if position <= all_index:
            all_index += 1
    assign = body[all_index].body[0]  # type: ignore[attr-defined]
    listed = {
        element.value.evaluated_value
        for element in assign.value.elements
        if isinstance(element.value, cst.SimpleString)
    }
    listed.update(names)
    new_list = cst.parse_expression("[" + ", ".join(f'"{n}"' for n in sorted(listed)) + ",]")
    body[all_index] = body[all_index].with_changes(body=[assign.with_changes(value=new_list)])
    return tree.with_changes(body=body).code
