"""Three-way merges of generated files with the user's edits (`git merge-file`).

Python modules are merged definition by definition (`pymerge`); only what both
sides changed is merged by lines, as other files are, with `git merge-file`.

A generated file has three versions: its *base* (the content as last generated,
stored under `.backend-builder/base/`), the user's *current* file, and what the
generator would write *now*. The merge keeps every change of the user and of the
generator; where both changed the same lines, it reports a conflict, as data, and
the caller decides (by default nothing is written).
"""

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backend_builder.errors import BuilderError
from backend_builder.pymerge import Unmergeable, merge_modules
from backend_builder.render import format_python

# Labels of the conflict markers: `<<<<<<< yours`, `||||||| generated before`, ...
OURS = "yours"
BASE = "generated before"
THEIRS = "generated now"


@dataclass(frozen=True)
class Hunk:
    """One conflicting region of a merged file (1-based lines in the merged text)."""

    start: int
    end: int
    yours: str
    generated: str

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form."""
        return {
            "start": self.start,
            "end": self.end,
            "yours": self.yours,
            "generated": self.generated,
        }


@dataclass(frozen=True)
class Merge:
    """The result of merging one file: its text (with markers if it conflicts)."""

    path: str
    content: str
    hunks: tuple[Hunk, ...] = ()

    @property
    def clean(self) -> bool:
        """Whether the merge has no conflict."""
        return not self.hunks

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form (the hunks, not the whole text)."""
        return {"path": self.path, "hunks": [hunk.to_dict() for hunk in self.hunks]}


_MARKED = re.compile(r"^<<<<<<< .*?^=======$.*?^>>>>>>> ", re.MULTILINE | re.DOTALL)


def has_conflict_markers(text: str) -> bool:
    """Whether `text` holds a conflict that a merge left marked (`--conflict-markers`)."""
    return bool(_MARKED.search(text))


def conflict_markers_error(paths: list[str]) -> BuilderError:
    """The refusal to change files whose marked conflicts are not resolved yet."""
    return BuilderError(
        f"{len(paths)} file(s) still hold conflict markers: {', '.join(paths)}; "
        "nothing was written",
        hint="resolve each marked hunk (keep yours or the generated one), then run it again",
        code="conflict_markers_left",
        details={"paths": paths},
    )


def merge(path: str, base: str, current: str, generated: str) -> Merge:
    """Merge the generator's change (base -> generated) into the user's `current` file.

    An untouched file (current == base) simply becomes `generated`; a file the
    generator does not change (generated == base) stays as the user has it.
    """
    if current in (base, generated):
        return Merge(path, generated)
    if generated == base:
        return Merge(path, current)
    if path.endswith(".py"):
        try:
            content = merge_modules(
                base, current, generated, lambda b, c, g: _merge_text(path, b, c, g)
            )
        except Unmergeable:
            pass
        else:
            hunks = _hunks(content)
            if not hunks:
                return Merge(path, _format(content))
            content = _format_around(content, hunks)
            return Merge(path, content, _hunks(content))
    content = _merge_text(path, base, current, generated)
    return Merge(path, content, _hunks(content))


def _format(source: str) -> str:
    """Black-format a clean merge of Python modules (as generated files are)."""
    try:
        return format_python(source)
    except ValueError:  # black's InvalidInput: the user's code is left as merged
        return source


_PLACEHOLDER = "__backend_builder_conflict_{}__ = None"


def _format_around(source: str, hunks: tuple[Hunk, ...]) -> str:
    """Black-format a merge of Python modules around its conflict markers (`hunks`).

    Each conflict region stands aside as a placeholder statement, indented as its
    first line, while black formats the rest; so that once the user has chosen a
    side, the module is formatted as generated files are. Left as merged if black
    cannot read it so (a conflict inside an expression).
    """
    lines = source.splitlines(keepends=True)
    kept: list[str] = []
    regions: list[str] = []
    done = 0
    for hunk in hunks:
        region = lines[hunk.start - 1 : hunk.end]
        first = next((line for line in region[1:] if line.strip() and line[0] in " \t"), "")
        indent = first[: len(first) - len(first.lstrip())]
        kept += lines[done : hunk.start - 1]
        kept.append(f"{indent}{_PLACEHOLDER.format(len(regions))}\n")
        regions.append("".join(region))
        done = hunk.end
    formatted = _format("".join(kept + lines[done:]))
    for number, region in enumerate(regions):
        placeholder = _PLACEHOLDER.format(number)
        start = formatted.find(placeholder)
        if start < 0:
            return source
        start = formatted.rfind("\n", 0, start) + 1
        end = formatted.index("\n", start) + 1
        formatted = formatted[:start] + region + formatted[end:]
    return formatted


def _merge_text(path: str, base: str, current: str, generated: str) -> str:
    """`git merge-file` of three texts: the merged text, with diff3 markers on conflict."""
    if current in (base, generated):
        return generated
    if generated == base:
        return current
    git = shutil.which("git")
    if git is None:
        raise BuilderError(
            f"merging {path} with your edits needs git (git merge-file), which is not installed",
            hint="install git, then run the command again",
            code="git_missing",
            path=path,
        )
    with tempfile.TemporaryDirectory(prefix="backend-builder-merge-") as folder:
        files = []
        for name, text in (("current", current), ("base", base), ("generated", generated)):
            file = Path(folder) / name
            file.write_text(text, encoding="utf-8", newline="\n")
            files.append(os.fspath(file))
        result = subprocess.run(
            [git, "merge-file", "-p", "--diff3", "-L", OURS, "-L", BASE, "-L", THEIRS, *files],
            capture_output=True,
            check=False,
        )
    if result.returncode < 0 or result.returncode > 127:
        raise BuilderError(
            f"git merge-file failed on {path}: {result.stderr.decode(errors='replace').strip()}",
            code="merge_failed",
            path=path,
        )
    return result.stdout.decode("utf-8")


def _hunks(content: str) -> tuple[Hunk, ...]:
    """The conflict regions of a merged text with diff3 markers."""
    hunks: list[Hunk] = []
    lines = content.splitlines()
    index = 0
    while index < len(lines):
        if not lines[index].startswith(f"<<<<<<< {OURS}"):
            index += 1
            continue
        start = index
        yours: list[str] = []
        generated: list[str] = []
        section = yours
        index += 1
        while index < len(lines) and not lines[index].startswith(f">>>>>>> {THEIRS}"):
            line = lines[index]
            if line.startswith(f"||||||| {BASE}"):
                section = []  # the base lines are not reported
            elif line == "=======":
                section = generated
            else:
                section.append(line)
            index += 1
        hunks.append(Hunk(start + 1, index + 1, "\n".join(yours), "\n".join(generated)))
        index += 1
    return tuple(hunks)
