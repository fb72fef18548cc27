"""Profiling a server under load with py-spy, and reading the samples.

py-spy records collapsed stacks (`--format raw`): one line per distinct stack,
`frame;frame;...;frame count`, each frame `function (file:line)`. Idle samples are
left out by py-spy, so shares are of the time the process was running Python.
"""

import re
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

_FRAME = re.compile(r"^(?P<function>.*) \((?P<file>.*?)(?::(?P<line>\d+))?\)$")

CATEGORIES = [
    ("sqlalchemy/orm/", "SQLAlchemy ORM"),
    ("sqlalchemy/sql/", "SQLAlchemy SQL (statements, compiling, cache keys)"),
    ("sqlalchemy/engine/", "SQLAlchemy engine (execution, results)"),
    ("sqlalchemy/", "SQLAlchemy other (asyncio adapter, pool, util)"),
    ("asyncpg/", "asyncpg"),
    ("pydantic", "pydantic"),
    ("fastapi/", "FastAPI"),
    ("starlette/", "Starlette"),
    ("uvicorn/", "uvicorn and h11 (HTTP)"),
    ("h11/", "uvicorn and h11 (HTTP)"),
    ("jwt/", "PyJWT"),
    ("greenlet", "greenlet"),
    ("asyncio/", "asyncio event loop"),
]
# (label, function names, end of the file path): library frames worth knowing about. A
# name matches a frame's function with or without its class (`AsyncSession.get`, `get`).
LIBRARY_FRAMES = [
    (
        "FastAPI: solve_dependencies (auth, scope, params)",
        ("solve_dependencies",),
        "fastapi/dependencies/utils.py",
    ),
    ("FastAPI: serialize_response (response_model)", ("serialize_response",), "fastapi/routing.py"),
    ("SQLAlchemy: AsyncSession.get", ("AsyncSession.get",), "sqlalchemy/ext/asyncio/session.py"),
    (
        "SQLAlchemy: AsyncSession.execute and .scalars",
        ("AsyncSession.execute", "AsyncSession.scalars"),
        "sqlalchemy/ext/asyncio/session.py",
    ),
    (
        "SQLAlchemy: AsyncSession.flush",
        ("AsyncSession.flush",),
        "sqlalchemy/ext/asyncio/session.py",
    ),
    (
        "SQLAlchemy: AsyncSession.commit",
        ("AsyncSession.commit",),
        "sqlalchemy/ext/asyncio/session.py",
    ),
    (
        "SQLAlchemy: pool checkout",
        ("_ConnectionFairy._checkout",),
        "sqlalchemy/pool/base.py",
    ),
    (
        "SQLAlchemy: compiling, through the cache",
        ("_compile_w_cache",),
        "sqlalchemy/sql/elements.py",
    ),
    ("SQLAlchemy: cache keys", ("_generate_cache_key",), "sqlalchemy/sql/cache_key.py"),
    (
        "SQLAlchemy: with_loader_criteria options",
        ("LoaderCriteriaOption.__init__",),
        "sqlalchemy/orm/util.py",
    ),
    ("SQLAlchemy: ORM rows to objects", ("instances",), "sqlalchemy/orm/loading.py"),
    ("PyJWT: decode", ("PyJWT.decode",), "jwt/api_jwt.py"),
]


@dataclass(frozen=True)
class Frame:
    """One frame of a sampled stack."""

    function: str
    file: str

    @property
    def name(self) -> str:
        """The function's own name, without its class (`AsyncSession.get` -> `get`)."""
        return self.function.rsplit(".", 1)[-1]

    @classmethod
    def parse(cls, text: str) -> "Frame":
        """Read `function (file:line)`."""
        match = _FRAME.match(text)
        if match is None:
            return cls(text, "")
        return cls(match.group("function"), match.group("file"))


def py_spy_path() -> str | None:
    """The py-spy executable: next to this Python, or on PATH."""
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


def start_recording(pid: int, seconds: float, output: Path) -> subprocess.Popen[bytes]:
    """Start sampling `pid` for `seconds` into `output` (collapsed stacks)."""
    command = [
        str(py_spy_path()),
        "record",
        "--pid",
        str(pid),
        "--duration",
        str(max(1, round(seconds))),
        "--rate",
        "250",
        "--format",
        "raw",
        "--full-filenames",
        "--nonblocking",
        "--output",
        str(output),
    ]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def read_stacks(path: Path) -> list[tuple[list[Frame], int]]:
    """The sampled stacks and their counts, outermost frame first."""
    stacks = []
    for line in path.read_text().splitlines():
        text, _, count = line.rpartition(" ")
        if text and count.isdigit():
            stacks.append(([Frame.parse(part) for part in text.split(";")], int(count)))
    return stacks


def category(frame: Frame, app_dir: Path) -> str:
    """The library a frame belongs to, by its file path."""
    if frame.file.startswith(str(app_dir)):
        return "the generated app's own code"
    for marker, name in CATEGORIES:
        if marker in frame.file:
            return name
    return "other (standard library, etc.)"


@dataclass(frozen=True)
class SpySummary:
    """Shares of the samples: self time by library and by function, inclusive time."""

    samples: int
    by_category: list[tuple[str, float]]
    top_self: list[tuple[str, float]]
    app_inclusive: list[tuple[str, float]]
    library_inclusive: list[tuple[str, float]]


def summarize(path: Path, app_dir: Path, top: int = 15) -> SpySummary:
    """Read a recording of the generated app (whose code is under `app_dir`)."""
    stacks = read_stacks(path)
    total = sum(count for _, count in stacks) or 1
    by_category: Counter[str] = Counter()
    by_function: Counter[str] = Counter()
    app: Counter[str] = Counter()
    library: Counter[str] = Counter()
    for frames, count in stacks:
        leaf = frames[-1]
        by_category[category(leaf, app_dir)] += count
        by_function[f"{leaf.function} ({_short(leaf.file, app_dir)})"] += count
        seen_app = {
            f"{_short(f.file, app_dir)}:{f.function}"
            for f in frames
            if f.file.startswith(str(app_dir))
        }
        for name in seen_app:
            app[name] += count
        for label, names, suffix in LIBRARY_FRAMES:
            if any(
                (f.function in names or f.name in names) and f.file.endswith(suffix) for f in frames
            ):
                library[label] += count
    return SpySummary(
        total,
        [(name, count / total) for name, count in by_category.most_common()],
        [(name, count / total) for name, count in by_function.most_common(top)],
        [(name, count / total) for name, count in app.most_common(top)],
        [(label, library[label] / total) for label, _, _ in LIBRARY_FRAMES if library[label]],
    )


def _short(file: str, app_dir: Path) -> str:
    """A file path without the site-packages or generated-app prefix."""
    if file.startswith(str(app_dir)):
        return file[len(str(app_dir)) + 1 :]
    marker = "site-packages/"
    return file.split(marker, 1)[1] if marker in file else Path(file).name
