"""Rendering of template trees with Jinja2 (StrictUndefined: a missing name is an error)."""

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


@cache
def environment() -> jinja2.Environment:
    """The Jinja2 environment of every template."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )


def render(template: str, context: Mapping[str, Any]) -> str:
    """Render one template (a path under `templates/`) and format it if it is Python."""
    content = environment().get_template(template).render(**context)
    return format_python(content) if template.endswith(".py" + SUFFIX) else content


def format_python(source: str) -> str:
    """Format Python source as black would."""
    try:
        return black.format_str(source, mode=_BLACK_MODE)
    except black.NothingChanged:
        return source


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
