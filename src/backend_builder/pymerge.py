"""A three-way merge of Python modules by definition, for generated files with hand edits.

A line-based merge conflicts whenever the user and the generator insert lines at
the same place: a validator written after the last field of a schema, and a new
field appended there by `generate field`. Python modules have a better unit than
the line: the definition. This merge pairs the top-level statements of the
three versions (and, inside classes, their members) by what they define (a
function, a class, an assignment's target), then takes each one from whichever
side changed it. The import blocks are merged as sets of imported names.

Only a definition that both sides changed is merged by lines, with
`git merge-file`; that is the only place a conflict can arise. A module that
does not parse is left to the line merge of the whole file.
"""

import io
import tokenize
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import libcst as cst

from backend_builder.resource.imports import Imports

# Merges the text of one definition: (base, current, generated) -> merged text.
LineMerge = Callable[[str, str, str], str]


class Unmergeable(Exception):
    """The module cannot be merged by definition (it does not parse, say)."""


@dataclass(frozen=True)
class _Element:
    key: tuple[str, ...]
    node: cst.BaseStatement | cst.BaseSmallStatement | cst.CSTNode
    code: str


def merge_modules(base: str, current: str, generated: str, line_merge: LineMerge) -> str:
    """Merge `generated`'s changes since `base` into `current`, definition by definition."""
    try:
        modules = [cst.parse_module(text) for text in (base, current, generated)]
    except cst.ParserSyntaxError as error:
        raise Unmergeable(str(error)) from error
    imports = _merge_imports(*(_imports(m) for m in modules))
    if imports is None:
        raise Unmergeable("the imports cannot be merged as names")
    body = _merge_body(*(_elements(m, m.body) for m in modules), line_merge, imports)
    current = modules[1]
    header = current.with_changes(body=[], footer=[]).code
    footer = current.with_changes(body=[], header=[]).code
    return header + body + footer


def _code(module: cst.Module, node: cst.CSTNode) -> str:
    return module.code_for_node(node)


def _target(node: cst.BaseSmallStatement) -> str | None:
    if isinstance(node, cst.Assign) and len(node.targets) == 1:
        target = node.targets[0].target
        return target.value if isinstance(target, cst.Name) else None
    if isinstance(node, cst.AnnAssign) and isinstance(node.target, cst.Name):
        return node.target.value
    return None


def _is_import(node: cst.CSTNode) -> bool:
    return (
        isinstance(node, cst.SimpleStatementLine)
        and len(node.body) == 1
        and isinstance(node.body[0], cst.Import | cst.ImportFrom)
        and not (isinstance(node.body[0], cst.ImportFrom) and node.body[0].relative)
    )


def _key(node: cst.CSTNode, index: int, module: cst.Module) -> tuple[str, ...]:
    if isinstance(node, cst.FunctionDef | cst.ClassDef):
        return ("def", node.name.value)
    if isinstance(node, cst.SimpleStatementLine) and len(node.body) == 1:
        small = node.body[0]
        if index == 0 and isinstance(small, cst.Expr) and isinstance(small.value, cst.SimpleString):
            return ("docstring",)
        if (name := _target(small)) is not None:
            return ("assign", name)
    if _is_import(node):
        return ("import",)
    return ("statement", _code(module, node).strip())


def _elements(module: cst.Module, body: Sequence[cst.CSTNode]) -> list[_Element]:
    """The statements of a body, keyed; a repeated key gets its occurrence number."""
    seen: Counter[tuple[str, ...]] = Counter()
    elements = []
    for index, node in enumerate(body):
        key = _key(node, index, module)
        seen[key] += 1
        if key != ("import",):
            key = (*key, str(seen[key]))
        elements.append(_Element(key, node, _code(module, node)))
    return elements


# --------------------------------------------------------------------------
# Imports, merged as sets of names
# --------------------------------------------------------------------------

_Name = tuple[str, str]  # (module, name or "" for `import module`), with " as alias"


def _dotted(node: cst.BaseExpression | None) -> str:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        return f"{_dotted(node.value)}.{node.attr.value}"
    return ""


def _imports(module: cst.Module) -> set[_Name] | None:
    """The names the module imports at top level, or None if they cannot be merged."""
    names: set[_Name] = set()
    for node in module.body:
        if not _is_import(node):
            continue
        assert isinstance(node, cst.SimpleStatementLine)
        if node.leading_lines and any(line.comment for line in node.leading_lines):
            return None  # a comment on an import would be lost
        statement = node.body[0]
        if isinstance(statement, cst.ImportFrom):
            if isinstance(statement.names, cst.ImportStar):
                return None
            source = _dotted(statement.module)
            for alias in statement.names:
                names.add((source, _alias(alias)))
        elif isinstance(statement, cst.Import):
            for alias in statement.names:
                names.add((_alias(alias), ""))
    return names


def _alias(alias: cst.ImportAlias) -> str:
    name = _dotted(alias.name)
    if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
        return f"{name} as {alias.asname.name.value}"
    return name


def _merge_imports(
    base: set[_Name] | None, current: set[_Name] | None, generated: set[_Name] | None
) -> str | None:
    """The merged import block: the user's imports, plus the generator's additions,
    minus what the generator dropped (None: merge the import lines as text)."""
    if base is None or current is None or generated is None:
        return None
    merged = (current - (base - generated)) | (generated - base)
    imports = Imports()
    for module, name in merged:
        if name:
            imports.add(module, name)
        else:
            imports.add(module)
    return imports.render() + "\n"


# --------------------------------------------------------------------------
# Bodies, merged by key
# --------------------------------------------------------------------------


def _merge_body(
    base: list[_Element],
    current: list[_Element],
    generated: list[_Element],
    line_merge: LineMerge,
    imports: str | None = None,
) -> str:
    if imports is not None:  # the import lines become one block, placed as generated
        base, current, generated = (
            _one_import_block(elements) for elements in (base, current, generated)
        )
    by_key = [{e.key: e for e in elements} for elements in (base, current, generated)]
    base_by, current_by, generated_by = by_key
    order = [e.key for e in generated]
    # What the user added (or kept while the generator dropped it) goes after what
    # precedes it in the user's version.
    for index, element in enumerate(current):
        if element.key in generated_by:
            continue
        previous = next((c.key for c in reversed(current[:index]) if c.key in order), None)
        order.insert(order.index(previous) + 1 if previous is not None else 0, element.key)
    pieces: list[str] = []
    for key in order:
        if key == ("import",) and imports is not None:
            pieces.append(_with_leading(generated_by.get(key) or current_by.get(key), imports))
            continue
        text = _merge_element(
            base_by.get(key), current_by.get(key), generated_by.get(key), line_merge
        )
        if text:
            pieces.append(text)
    return "".join(pieces)


def _one_import_block(elements: list[_Element]) -> list[_Element]:
    """The elements with their import lines replaced by one placeholder at the first."""
    result: list[_Element] = []
    for element in elements:
        if element.key == ("import",):
            if not any(e.key == ("import",) for e in result):
                result.append(element)
            continue
        result.append(element)
    return result


def _with_leading(element: _Element | None, imports: str) -> str:
    """The import block, with the blank lines the first import had above it."""
    if element is None or not isinstance(element.node, cst.SimpleStatementLine):
        return imports
    blank = "".join("\n" for line in element.node.leading_lines if not line.comment)
    return blank + imports


def _merge_element(
    base: _Element | None,
    current: _Element | None,
    generated: _Element | None,
    line_merge: LineMerge,
) -> str:
    if current is None:
        # Deleted by the user (kept deleted), or new in the generated version.
        return generated.code if generated is not None and base is None else ""
    if generated is None:
        if base is None:
            return current.code  # written by hand
        if current.code == base.code:
            return ""  # the generator dropped it, and the user had not touched it
        return line_merge(base.code, current.code, "")
    if current.code == generated.code or (base is not None and current.code == base.code):
        return generated.code
    if base is not None and generated.code == base.code:
        return current.code
    nodes = (base.node if base else None, current.node, generated.node)
    if all(isinstance(node, cst.ClassDef) for node in nodes):
        return _merge_class(base, current, generated, line_merge)
    return line_merge(base.code if base else "", current.code, generated.code)


def _merge_class(
    base: _Element | None, current: _Element, generated: _Element, line_merge: LineMerge
) -> str:
    """A class changed on both sides: its members merged by key, under the user's header."""
    assert base is not None
    classes = [e.node for e in (base, current, generated)]
    assert all(isinstance(node, cst.ClassDef) for node in classes)
    headers = [_class_header(e) for e in (base, current, generated)]
    header = line_merge(*headers) if len(set(headers)) > 1 else headers[1]
    members = [_members(e) for e in (base, current, generated)]
    body = _merge_body(*members, line_merge)
    return header + _indent(body)


def _class_header(element: _Element) -> str:
    """The class's code up to its body (decorators, `class X(...):`, leading lines)."""
    node = element.node
    assert isinstance(node, cst.ClassDef)
    empty = node.with_changes(body=cst.IndentedBlock(body=[cst.SimpleStatementLine([cst.Pass()])]))
    code = cst.Module(body=[empty]).code
    return code[: code.rindex("pass")].rstrip(" ").removesuffix("\n") + "\n"


def _members(element: _Element) -> list[_Element]:
    node = element.node
    assert isinstance(node, cst.ClassDef)
    body = node.body.body if isinstance(node.body, cst.IndentedBlock) else []
    module = cst.Module(body=[])
    return _elements(module, body)


def _indent(code: str) -> str:
    """Indent a class member's code one level, except inside multi-line strings."""
    inside = _string_continuations(code)
    return "".join(
        ("    " + line) if line.strip() and not _is_marker(line) and n not in inside else line
        for n, line in enumerate(code.splitlines(keepends=True), start=1)
    )


def _string_continuations(code: str) -> set[int]:
    """The line numbers that continue a multi-line string (their indentation is content)."""
    lines: set[int] = set()
    try:
        for token in tokenize.generate_tokens(io.StringIO(code).readline):
            if token.type == tokenize.STRING:
                lines.update(range(token.start[0] + 1, token.end[0] + 1))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        pass  # conflict markers: the string lines are not told apart
    return lines


def _is_marker(line: str) -> bool:
    return line.startswith(("<<<<<<< ", "||||||| ", ">>>>>>> ")) or line.rstrip("\n") == "======="
