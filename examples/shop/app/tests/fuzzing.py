"""schemathesis's command line, for a process that serves every run of a test session.

A run in a new interpreter would import schemathesis and hypothesis again and
describe their strategies again (most of a second a run); a run in the test process
would be traced by coverage, which slows hypothesis down several times. So the runs
go, one after another, to a process of their own (`test_schemathesis.py`'s `fuzzer`).
This module imports nothing of the application: that process does not load it.
"""

import traceback
from dataclasses import dataclass

from click.testing import CliRunner


@dataclass(frozen=True)
class Run:
    """How a run of schemathesis ended: its exit code and what it printed."""

    exit_code: int
    stdout: str
    stderr: str
    crash: str = ""
    """The traceback of an exception schemathesis did not handle, if any."""


def run(arguments: list[str]) -> Run:
    """Run schemathesis's command line with `arguments` in this process."""
    from schemathesis.cli import schemathesis  # imported by the fuzzing process only

    result = CliRunner().invoke(schemathesis, arguments, env={"NO_COLOR": "1"})
    error = result.exception
    crash = ""
    if error is not None and not isinstance(error, SystemExit):
        crash = "".join(traceback.format_exception(error))
    return Run(result.exit_code, result.stdout, result.stderr, crash)
