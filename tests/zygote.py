"""Run Python commands in generated backends without paying for imports every time.

The tests run a generated backend's tools hundreds of times (alembic, pytest, black,
scripts), each as a new interpreter that spends most of its start importing the same
libraries: SQLAlchemy, alembic, Pydantic, pytest. This process imports them once,
then forks a child for each command it is sent. A child is a new process, run as
`python -m module ...`, `python -c code ...` or `python script ...` would run: its own
working directory, environment, arguments, `sys.path[0]`, standard streams, random
seed and exit status; nothing of the backend (`app.*`) is imported before it starts.
Only the seed of str hashing is this process's, the same for every child.

Protocol, one JSON object per line: the test process writes
`{"args": [...], "cwd": ..., "env": {...}, "stdout": path, "stderr": path}` on this
process's standard input; it answers `{"returncode": n}` once the child has ended.
"""

import gc
import importlib
import json
import os
import random
import runpy
import sys
import types
from typing import Any, BinaryIO

# What a generated backend's tools import before its own code. Not the packages of
# pytest plugins (anyio, which FastAPI imports, is one): pytest rewrites their asserts
# as it loads them, and warns when it finds one already imported.
PRELOADED = (
    "alembic.autogenerate",
    "alembic.command",
    "alembic.config",
    "alembic.runtime.migration",
    "sqlalchemy",
    "sqlalchemy.dialects.postgresql",
    "sqlalchemy.dialects.sqlite",
    "sqlalchemy.ext.asyncio",
    "sqlalchemy.orm",
    "asyncpg",
    "aiosqlite",
    "pydantic",
    "pydantic_settings",
    "email_validator",
    "jwt",
    "pwdlib",
    "limits",
    "coredis",
    "orjson",
    "openapi_spec_validator",
    "pytest",
    "_pytest.config",
    "coverage",
    "black",
)


def _preload() -> None:
    for name in PRELOADED:
        try:
            importlib.import_module(name)
        except ImportError:
            continue
    # Out of the collector's sight: a child's collections would otherwise walk (and so
    # copy) every page of them.
    gc.freeze()


def _serve(requests: BinaryIO, replies: BinaryIO) -> dict[str, Any] | None:
    """Fork a child per request; return the request in the child, None at the end."""
    for line in requests:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            return request
        _, status = os.waitpid(pid, 0)
        replies.write(b'{"returncode": %d}\n' % os.waitstatus_to_exitcode(status))
        replies.flush()
    return None


def _become(request: dict[str, Any]) -> None:
    """Set this child up as a new interpreter started with the request's arguments."""
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    for fd, path, mode in (
        (0, os.devnull, os.O_RDONLY),
        (1, request["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
        (2, request["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
    ):
        opened = os.open(path, mode)
        os.dup2(opened, fd)
        os.close(opened)
    # The random module was seeded once, in this process: each command seeds its own.
    random.seed()


def _run(args: list[str]) -> None:
    """Run the command as the interpreter would; SystemExit and errors go up as theirs."""
    if args[0] == "-m":
        sys.argv = ["-m", *args[2:]]
        sys.path[0] = os.getcwd()
        runpy.run_module(args[1], run_name="__main__", alter_sys=True)
    elif args[0] == "-c":
        sys.argv = ["-c", *args[2:]]
        sys.path[0] = ""
        main = types.ModuleType("__main__")
        sys.modules["__main__"] = main
        exec(compile(args[1], "<string>", "exec"), main.__dict__)
    else:
        sys.argv = list(args)
        sys.path[0] = os.path.dirname(os.path.abspath(args[0]))
        runpy.run_path(args[0], run_name="__main__")


def main() -> None:
    _preload()
    request = _serve(sys.stdin.buffer, sys.stdout.buffer)
    if request is not None:
        _become(request)
        _run(request["args"])


if __name__ == "__main__":
    main()
