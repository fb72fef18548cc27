"""Plans of file operations: built first, checked for conflicts, then written all at once.

Nothing touches the disk until the whole plan is known and conflict-free, and a
failure half-way through writing (or deleting) restores every file to what it was.
"""

import difflib
import enum
import functools
import gc
import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from backend_builder.errors import BuilderError

P = ParamSpec("P")
R = TypeVar("R")


def collector_paused(function: Callable[P, R]) -> Callable[P, R]:
    """Run `function` with Python's cyclic garbage collector paused.

    Planning allocates many short-lived objects (rendered templates, black's and
    libcst's syntax trees), freed by reference counting as it goes; the collector's
    passes over the caller's whole heap meanwhile cost about a sixth of generating a
    resource into a 40-resource backend. Collection resumes afterwards, unless the
    caller had paused it already.
    """

    @functools.wraps(function)
    def paused(*args: P.args, **kwargs: P.kwargs) -> R:
        enabled = gc.isenabled()
        gc.disable()
        try:
            return function(*args, **kwargs)
        finally:
            if enabled:
                gc.enable()

    return paused


class Action(enum.StrEnum):
    """What an operation does to its file."""

    CREATE = "create"
    OVERWRITE = "overwrite"
    MODIFY = "modify"
    IDENTICAL = "identical"
    CONFLICT = "conflict"
    DELETE = "delete"


@dataclass(frozen=True, slots=True)
class FileOp:
    """One file to write or delete: its path relative to the root, new content, and what it was.

    A deletion has no new content (`content` is empty) and always a `previous`.
    """

    path: str
    content: str
    action: Action
    previous: str | None = None

    def diff(self) -> str:
        """A unified diff from the previous content to the new one."""
        return "".join(
            difflib.unified_diff(
                (self.previous or "").splitlines(keepends=True),
                self.content.splitlines(keepends=True),
                fromfile=f"a/{self.path}",
                tofile=f"b/{self.path}",
            )
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able description of the operation; a change of a file has its diff."""
        document: dict[str, Any] = {"path": self.path, "action": str(self.action)}
        if self.previous is not None and self.action is not Action.IDENTICAL:
            document["diff"] = self.diff()
        return document


@dataclass(frozen=True, slots=True)
class Plan:
    """Every file operation of one command, rooted at a directory.

    `prune` lists directories (relative to the root) to remove when the plan's
    deletions leave them empty.
    """

    root: Path
    ops: tuple[FileOp, ...]
    prune: tuple[str, ...] = ()

    @property
    def conflicts(self) -> tuple[FileOp, ...]:
        """Operations that would overwrite a file the user may have changed."""
        return tuple(op for op in self.ops if op.action is Action.CONFLICT)

    @property
    def changes(self) -> tuple[FileOp, ...]:
        """Operations that change the disk."""
        return tuple(op for op in self.ops if op.action is not Action.IDENTICAL)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able description of the plan, with its hash (`plan_hash`)."""
        return {
            "root": str(self.root),
            "plan_hash": plan_hash(self),
            "files": [op.to_dict() for op in self.ops],
        }


def plan_files(
    root: Path,
    created: dict[str, str],
    modified: dict[str, str] | None = None,
    *,
    deleted: Iterable[str] = (),
    prune: Iterable[str] = (),
    force: bool = False,
) -> Plan:
    """Plan writing `created` (new files) and `modified` (edits of existing files).

    A new file that already exists with other content is a conflict, unless
    `force` turns it into an overwrite. A modified file that does not exist yet
    (such as a base copy) is created. Each file of `deleted` that exists is
    deleted (one that is already gone needs nothing); the directories of `prune`
    are removed if the deletions leave them empty.
    """
    ops: list[FileOp] = []
    for path, content in created.items():
        target = root / path
        if not target.exists():
            ops.append(FileOp(path, content, Action.CREATE))
            continue
        previous = _read(target)
        if previous == content:
            ops.append(FileOp(path, content, Action.IDENTICAL, previous))
        else:
            action = Action.OVERWRITE if force else Action.CONFLICT
            ops.append(FileOp(path, content, action, previous))
    for path, content in (modified or {}).items():
        if not (root / path).exists():
            ops.append(FileOp(path, content, Action.CREATE))
            continue
        previous = _read(root / path)
        action = Action.IDENTICAL if previous == content else Action.MODIFY
        ops.append(FileOp(path, content, action, previous))
    for path in deleted:
        if (root / path).exists():
            ops.append(FileOp(path, "", Action.DELETE, _read(root / path)))
    return Plan(root, tuple(ops), tuple(prune))


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise BuilderError(f"cannot read {path}: {error}") from error


def apply_plan(plan: Plan) -> None:
    """Write (and delete) every change of the plan, or none of them.

    The plan is applied only if every file it changes is still as it was when the
    plan was made; otherwise nothing is written. Each file is written to a
    temporary file beside it and renamed into place. Directories to prune are
    removed last, if empty. If anything fails, files written or deleted so far
    are restored (or removed, with the directories the plan created), and the
    error is raised.
    """
    if plan.conflicts:
        names = ", ".join(op.path for op in plan.conflicts)
        raise BuilderError(
            f"would overwrite existing files: {names}",
            hint="review them, then overwrite them explicitly",
            code="conflict",
            details={"paths": [op.path for op in plan.conflicts]},
        )
    _check_fresh(plan)
    done: list[FileOp] = []
    created_dirs: list[Path] = []
    verb, path = "write", ""
    try:
        for op in plan.changes:
            path = op.path
            target = plan.root / path
            if op.action is Action.DELETE:
                verb = "delete"
                target.unlink()
            else:
                verb = "write"
                created_dirs.extend(_make_parents(target.parent))
                _atomic_write(target, op.content)
            done.append(op)
        verb = "remove the empty directory"
        for path in _deepest_first(plan.prune):
            directory = plan.root / path
            if directory.is_dir() and not any(directory.iterdir()):
                directory.rmdir()
    except OSError as error:
        _rollback(plan.root, done, created_dirs)
        raise BuilderError(
            f"could not {verb} {plan.root / path}: {error.strerror or error}; "
            "nothing was changed",
            code="write_failed",
            path=path,
        ) from error


def _check_fresh(plan: Plan) -> None:
    """Refuse a plan whose files changed on disk after it was made."""
    stale = []
    for op in plan.changes:
        target = plan.root / op.path
        current = _read(target) if target.exists() else None
        if current != op.previous:
            stale.append(op.path)
    if stale:
        raise BuilderError(
            f"{len(stale)} file(s) changed since the plan was made: {', '.join(stale)}; "
            "nothing was written",
            hint="run the command again",
            code="stale_plan",
            details={"paths": stale},
        )


def _make_parents(directory: Path) -> Iterable[Path]:
    missing = []
    while not directory.exists():
        missing.append(directory)
        directory = directory.parent
    for path in reversed(missing):
        path.mkdir()
    return reversed(missing)


def _atomic_write(target: Path, content: str) -> None:
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as stream:
            stream.write(content)
        if target.exists():
            os.chmod(temporary, target.stat().st_mode)
        else:
            os.chmod(temporary, 0o644)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _deepest_first(paths: Iterable[str]) -> list[str]:
    return sorted(set(paths), key=lambda path: len(Path(path).parts), reverse=True)


def _rollback(root: Path, done: list[FileOp], created_dirs: list[Path]) -> None:
    for op in reversed(done):
        target = root / op.path
        if op.previous is None:
            target.unlink(missing_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)  # a pruned directory comes back
            target.write_text(op.previous, encoding="utf-8")
    for directory in sorted(created_dirs, key=lambda path: len(path.parts), reverse=True):
        if directory.exists() and not any(directory.iterdir()):
            directory.rmdir()


def plan_hash(plan: Plan) -> str:
    """A hash of the plan: every operation, what it writes and the file it read.

    Two plans with the same hash write the same content over the same files as they
    were; a plan applied by its hash is still refused if a file changed since.
    """
    entries = [
        [
            op.path,
            str(op.action),
            _sha(op.previous) if op.previous is not None else None,
            _sha(op.content),
        ]
        for op in plan.ops
    ]
    document = json.dumps({"root": str(plan.root), "ops": entries}, sort_keys=True)
    return hashlib.sha256(document.encode("utf-8")).hexdigest()[:16]


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
