"""backend-builder's own code passes its linters (`make lint`), so that make test, which
CI runs, fails when a change leaves a file unformatted."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def test_ruff_and_black_find_nothing() -> None:
    for command in (
        [str(BIN / "ruff"), "check", "src", "tests", "examples/build.py", "bench"],
        [sys.executable, "-m", "black", "--check", "src", "tests", "bench"],
    ):
        result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
        assert result.returncode == 0, result.stdout + result.stderr
