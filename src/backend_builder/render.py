"""Rendering of template trees with Jinja2 (StrictUndefined: a missing name is an error)."""

from collections import OrderedDict
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import black
import jinja2

TEMPLATES = Path(__file__).parent / "templates"
SUFFIX = ".jinja"
_RENAMES = {"gitignore": ".gitignore"}
_BLACK_MODE = black.Mode(target_versions={black.TargetVersion.PY311}, line_length=88)


def _compiled_templates() -> jinja2.BytecodeCache | None:
    """Templates compiled once, kept between runs (in the user's temp directory).

    Compiling the templates costs a command more than reading them back; Jinja
    checks each entry against its template's source. Without a safe directory,
    every run compiles.
    """
    try:
        return jinja2.FileSystemBytecodeCache()
    except (OSError, RuntimeError):
        return None


@cache
def environment() -> jinja2.Environment:
    """The Jinja2 environment of every template."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
        bytecode_cache=_compiled_templates(),
    )


def render(template: str, context: Mapping[str, Any]) -> str:
    """Render one template (a path under `templates/`) and format it if it is Python."""
    content = environment().get_template(template).render(**context)
    return format_python(content) if template.endswith(".py" + SUFFIX) else content


_FORMATTED: OrderedDict[str, str] = OrderedDict()
_FORMATTED_KEPT = 1024
"""Black results remembered, the least recently used forgotten first: a new backend
formats about 100 files (each remembered as given and as formatted), and a process
that generates many (the MCP server, the tests) keeps those of its recent ones; about
10 MB of text at most."""


def format_python(source: str) -> str:
    """Format Python source as black would.

    Black costs most of a generation, and a file is often formatted twice (a wired
    file and its base copy, a file formatted once more after an edit): each result
    is remembered, and so is the fact that it is formatted already.
    """
    formatted = _FORMATTED.get(source)
    if formatted is not None:
        _FORMATTED.move_to_end(source)
        return formatted
    try:
        formatted = black.format_str(source, mode=_BLACK_MODE)
    except black.NothingChanged:
        formatted = source
    _FORMATTED[source] = _FORMATTED[formatted] = formatted
    while len(_FORMATTED) > _FORMATTED_KEPT:
        _FORMATTED.popitem(last=False)
    return formatted


def forget_formatted() -> None:
    """Forget every remembered black result (a benchmark times a cold generation)."""
    _FORMATTED.clear()


def render_tree(folder: str, context: Mapping[str, Any]) -> dict[str, str]:
    """Render every template under `templates/<folder>`, keyed by output path."""
    base = TEMPLATES / folder
    files: dict[str, str] = {}
    for path in sorted(base.rglob(f"*{SUFFIX}")):
        relative = path.relative_to(base)
        name = relative.name.removesuffix(SUFFIX)
        output = relative.with_name(_RENAMES.get(name, name)).as_posix()
        files[output] = render(path.relative_to(TEMPLATES).as_posix(), context)
    return files
