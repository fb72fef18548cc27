"""Benchmark: how long generating a resource takes, formatting included.

Run with `make bench-generate`; writes bench/GENERATE.md. A benchmark, not a test:
the numbers are for people to read, the suite never fails on them.
"""

import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

from backend_builder import __version__
from backend_builder.plan import apply_plan
from backend_builder.project import plan_new
from backend_builder.resource.generate import ALL_LAYERS, plan_generate

RUNS = 20
FIELDS = [
    "number:str:unique",
    "amount:decimal",
    "status:enum:draft,sent,paid:default=draft",
    "due_on:date:optional",
    "customer:ref",
]


def _once(scratch: Path, index: int) -> float:
    root = scratch / f"backend-{index}"
    apply_plan(plan_new(root))
    apply_plan(plan_generate(root, "Customer", ["name:str"], layers=ALL_LAYERS).plan)
    started = time.perf_counter()
    apply_plan(plan_generate(root, "Invoice", FIELDS, layers=ALL_LAYERS).plan)
    return time.perf_counter() - started


def measure(runs: int = RUNS) -> list[float]:
    """Seconds taken by `runs` generations of the Invoice resource, after a warm-up."""
    with tempfile.TemporaryDirectory() as scratch:
        _once(Path(scratch), -1)  # warm-up: imports, template compilation
        return [_once(Path(scratch), index) for index in range(runs)]


def main() -> None:
    """Time RUNS generations of the Invoice resource and write the results file."""
    timings = measure()
    median, worst = statistics.median(timings), max(timings)
    report = f"""# Generating a resource

`generate resource Invoice {' '.join(FIELDS)}` in a backend that has Customer:
seven files rendered and formatted with black, two modules edited through libcst,
the manifest updated, everything written atomically. In-process, after one warm-up.

| runs | median | worst |
|---|---|---|
| {RUNS} | {median * 1000:.0f} ms | {worst * 1000:.0f} ms |

A cold `backend-builder generate resource ...` command adds the interpreter start
and imports (about 1 s more on this machine).

Machine: {platform.machine()}, {platform.system()}, Python {platform.python_version()},
backend-builder {__version__}.
"""
    (Path(__file__).parent / "GENERATE.md").write_text(report, encoding="utf-8")
    print(report, file=sys.stderr)


if __name__ == "__main__":
    main()
