"""Bench phases for a backend that grows (issue #12): what they measured and the report.

The phases themselves run in bench/run.py, on backends built by bench/things.py:

  scale     list and get on Thing00, Thing01 and Thing39 of a 40-resource backend and
            on Thing00 of a 1-resource one, same rows, same serving settings
  memory    resident memory of the worker, idle and under load, 1 and 40 resources
  suite     the generated backends' own test suites (1, 10, 40 resources) on SQLite
            and PostgreSQL, with the time of each test file
  generate  generating the 41st resource, as a command and in-process

Everything here is pure: the results, their targets (PASS/FAIL) and their sections of
RESULTS.md, and reading per-file times out of pytest's JUnit XML.
"""

import math
import statistics
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from load import LoadResult

SCALE_FLOOR = 0.95  # Thing39 of 40 resources against Thing00 (same backend, and 1 resource)
SUITE_PER_FILE_S = {"SQLite": 2.0, "PostgreSQL": 3.0}
SUITE_BASE_S = 30.0
COMMAND_S = 1.0  # generating the 41st resource as a command
IN_PROCESS_S = 0.4  # ... and in-process

Row = tuple[str, str, str]  # a target: name, what was measured, PASS/FAIL/n/a


@dataclass(frozen=True)
class Point:
    """One resource of one backend: what a scale measurement is about."""

    resources: int  # in the backend
    resource: str  # e.g. "Thing39"

    @property
    def label(self) -> str:
        """E.g. `Thing39 of 40`."""
        return f"{self.resource} of {self.resources}"


@dataclass(frozen=True)
class Median:
    """Medians over the rounds of one measurement (as report.Summary, for these phases)."""

    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    rounds: tuple[float, ...]
    cpu_ms: float | None

    @classmethod
    def of(cls, runs: Sequence[LoadResult]) -> "Median":
        """Summarize the rounds of one measurement."""
        cpu = [run.server_cpu_ms for run in runs if run.server_cpu_ms is not None]
        return cls(
            rps=statistics.median(run.rps for run in runs),
            p50_ms=statistics.median(run.p50_ms for run in runs),
            p99_ms=statistics.median(run.p99_ms for run in runs),
            errors=sum(run.errors for run in runs),
            rounds=tuple(run.rps for run in runs),
            cpu_ms=statistics.median(cpu) if cpu else None,
        )


def ratio(numerator: Median | None, denominator: Median | None) -> float | None:
    """req/s of one over the other (None if either is missing)."""
    if numerator is None or denominator is None or not denominator.rps:
        return None
    return numerator.rps / denominator.rps


def cpu_ratio(numerator: Median | None, denominator: Median | None) -> float | None:
    """The other's CPU time per request over this one's: above 1 means cheaper than it."""
    if numerator is None or denominator is None or not numerator.cpu_ms or not denominator.cpu_ms:
        return None
    return denominator.cpu_ms / numerator.cpu_ms


def x(value: float | None) -> str:
    """A ratio as `0.97x`."""
    return "n/a" if value is None else f"{value:.2f}x"


def verdict(name: str, value: float | None, passes: Callable[[float], bool], shown: str) -> Row:
    """A target row: `not measured`/n/a without a value, else PASS or FAIL."""
    if value is None:
        return name, "not measured", "n/a"
    return name, shown, "PASS" if passes(value) else "FAIL"


# -- scale ------------------------------------------------------------------------------


@dataclass
class Scale:
    """List and get on resources of backends of different sizes, the same rows in each."""

    small: int  # resources of the small backend (1)
    large: int  # ... and of the large one (40)
    rows: int  # rows of each measured resource in the benchmark project
    limit: int  # page size of the list
    connections: int
    duration: float
    rounds: int
    options: str  # uvicorn settings, the same for both servers
    role: str  # the database role the servers connect as
    fields: tuple[str, ...]  # of every resource (Thing01 on also has a ref)
    reads: dict[Point, dict[str, list[LoadResult]]] = field(default_factory=dict)
    columns: dict[Point, int] = field(default_factory=dict)  # keys per row in the answers
    checks: list[str] = field(default_factory=list)

    @property
    def base(self) -> Point:
        """What everything is compared with: Thing00 of the small backend."""
        return Point(self.small, "Thing00")

    @property
    def last(self) -> Point:
        """The large backend's last resource, routed last."""
        return Point(self.large, f"Thing{self.large - 1:02d}")

    @property
    def first(self) -> Point:
        """The large backend's first resource."""
        return Point(self.large, "Thing00")

    @property
    def second(self) -> Point:
        """The large backend's second resource: the first with a ref, as the last has."""
        return Point(self.large, "Thing01")

    def median(self, point: Point, kind: str) -> Median | None:
        """Medians of a point's rounds of `kind` (list or get)."""
        runs = self.reads.get(point, {}).get(kind)
        return Median.of(runs) if runs else None


def scale_targets(scale: Scale | None) -> list[Row]:
    """The last resource of the large backend against its first, and the small backend.

    Then the same questions like for like: `Thing01` on (with `prev_id`) carry one
    column more per row than `Thing00`, so where a resource is routed is also
    measured between two resources of one shape (the last against `Thing01`, the
    second routed), and the size of the backend on one resource (`Thing00` of the
    large backend against `Thing00` of the small one).
    """
    large = scale.large if scale else 40
    last = f"Thing{large - 1:02d}"
    comparisons = {  # what is compared: (a point, its reference)
        "same": (
            f"{last} >= {SCALE_FLOOR}x Thing00, both in the {large}-resource backend",
            lambda s: (s.last, s.first),
        ),
        "small": (
            f"{last} of {large} resources >= {SCALE_FLOOR}x Thing00 of the 1-resource backend",
            lambda s: (s.last, s.base),
        ),
        "position": (
            f"{last} >= {SCALE_FLOOR}x Thing01, both in the {large}-resource backend "
            "(like for like: the same columns, routed 40th and 2nd)",
            lambda s: (s.last, s.second),
        ),
        "size": (
            f"Thing00 of {large} resources >= {SCALE_FLOOR}x Thing00 of the 1-resource "
            "backend (like for like: the same resource and rows)",
            lambda s: (s.first, s.base),
        ),
    }
    rows = []
    for text, points in comparisons.values():
        for kind in ("list", "get"):
            name = f"scale: {kind} on {text}"
            if scale is None:
                rows.append(verdict(name, None, bool, ""))
                continue
            point, reference = points(scale)
            mine, other = scale.median(point, kind), scale.median(reference, kind)
            value = ratio(mine, other)
            shown = ""
            if value is not None and mine is not None and other is not None:
                shown = (
                    f"{x(value)} ({mine.rps:,.0f} vs {other.rps:,.0f} req/s; "
                    f"by CPU {x(cpu_ratio(mine, other))})"
                )
            rows.append(verdict(name, value, lambda v: v >= SCALE_FLOOR, shown))
    return rows


def scale_section(scale: Scale | None) -> list[str]:
    """RESULTS.md: the scale phase."""
    if scale is None:
        return []
    fields = " ".join(f"`{token}`" for token in scale.fields)
    lines = [
        f"## A backend that grows: {scale.small} and {scale.large} resources",
        "",
        f"`new --database postgresql`, then {scale.large} resources `Thing00` ... "
        f"`Thing{scale.large - 1:02d}` generated in-process, each with {fields} and, from "
        "`Thing01` on, `prev:ref:<the Thing before>`; the "
        f"{scale.small}-resource backend is the same build copied aside after `Thing00`, so "
        "its files are those of a fresh one. Each backend has a fresh database, migrated, "
        f"and is served as `{scale.role}` (no superuser, no BYPASSRLS: row-level security "
        f"applies); the benchmark project holds {scale.rows} rows in `Thing00`, `Thing01` "
        f"and `Thing{scale.large - 1:02d}` (the same `Thing00` rows, ids included, in both "
        "databases) and one in each Thing between, for the refs. Both servers: "
        f"{scale.options}, pools of 20; wrk with {scale.connections} connections, "
        f"{scale.duration:.0f} s per measurement, {scale.rounds} round(s), every point in "
        "turn (the order rotates between rounds), after a warm-up; medians over rounds.",
        "",
    ]
    if scale.checks:
        lines += ["Checks before measuring:", "", *(f"- {c}" for c in scale.checks), ""]
    paths = {
        "list": f"GET /api/v1/thingNNs/?limit={scale.limit}",
        "get": "GET /api/v1/thingNNs/{id}",
    }
    for kind in ("list", "get"):
        base = scale.median(scale.base, kind)
        lines += [
            f"### {kind}: `{paths[kind]}`",
            "",
            "| resource | columns per row | req/s | p50 ms | p99 ms | errors | req/s per round "
            f"| server CPU ms/req | vs {scale.base.label} | by CPU |",
            "|---|---:|---:|---:|---:|---:|---|---:|---:|---:|",
        ]
        for point in scale.reads:
            summary = scale.median(point, kind)
            if summary is None:
                continue
            rounds = " / ".join(f"{value:,.0f}" for value in summary.rounds)
            cpu = f"{summary.cpu_ms:.2f}" if summary.cpu_ms else "n/a"
            lines.append(
                f"| {point.label} | {scale.columns.get(point, 0)} | {summary.rps:,.0f} "
                f"| {summary.p50_ms:.2f} | {summary.p99_ms:.2f} | {summary.errors} | {rounds} "
                f"| {cpu} | {x(ratio(summary, base))} | {x(cpu_ratio(summary, base))} |"
            )
        lines.append("")
    lines += [
        f"`Thing01` and `Thing{scale.large - 1:02d}` rows carry one column more than "
        "`Thing00`'s (`prev_id`); `Thing01` against "
        f"`Thing{scale.large - 1:02d}` compares two resources of the same shape, the second "
        "and the last one routed. `by CPU` is the CPU time of the server process per "
        "request, inverted (above 1: cheaper), which other load on the machine disturbs "
        "much less than req/s.",
        "",
    ]
    return lines


# -- memory -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Memory:
    """Resident memory (VmRSS, MiB) of one backend's worker process."""

    resources: int
    options: str
    processes: int  # in the server's process group; 1: the main process is the worker
    started: float  # after start-up, before any request
    warm: float  # after the warm-up of the measured endpoints
    every_route: float  # after one list and one get of every resource
    load_median: float  # during a list load
    load_peak: float
    load_rps: float
    samples: int  # taken during the load


def memory_section(memory: Sequence[Memory]) -> list[str]:
    """RESULTS.md: the memory phase."""
    if not memory:
        return []
    lines = [
        "## Memory per worker",
        "",
        f"VmRSS of the worker (MiB): a fresh server of each backend ({memory[0].options}), "
        "after start-up; after the warm-up of the endpoints measured above; after one list "
        "and one get of every resource; then sampled every 0.1 s during a list load on the "
        "last resource (wrk, same connections and duration as above).",
        "",
        "| backend | processes | after start-up | after warm-up | every route once "
        "| under load: median | peak | req/s meanwhile |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for m in memory:
        lines.append(
            f"| {m.resources} resource{'s' if m.resources != 1 else ''} | {m.processes} "
            f"| {m.started:.1f} | {m.warm:.1f} | {m.every_route:.1f} | {m.load_median:.1f} "
            f"| {m.load_peak:.1f} | {m.load_rps:,.0f} |"
        )
    lines.append("")
    growth = memory_per_resource(memory)
    if growth is not None:
        lines += [
            f"Each resource more costs {growth[0]:.2f} MiB per worker after start-up, "
            f"{growth[1]:.2f} MiB with every route used once.",
            "",
        ]
    if any(m.processes != 1 for m in memory):
        lines += [
            "More than one process in the server's group: the figures are the largest "
            "worker's (the supervisor left out).",
            "",
        ]
    else:
        lines += [
            "With `--workers 1` uvicorn runs the app in its main process (the process group "
            "held that one process): its VmRSS is the worker's.",
            "",
        ]
    return lines


def memory_per_resource(memory: Sequence[Memory]) -> tuple[float, float] | None:
    """MiB per resource more (after start-up, every route once), smallest to largest."""
    if len(memory) < 2:
        return None
    small, large = min(memory, key=lambda m: m.resources), max(memory, key=lambda m: m.resources)
    extra = large.resources - small.resources
    if extra <= 0:
        return None
    return (large.started - small.started) / extra, (large.every_route - small.every_route) / extra


# -- the generated test suites ------------------------------------------------------------


SCHEMATHESIS_FILE = "app/tests/test_schemathesis.py"


def file_times(junit_xml: str) -> dict[str, float]:
    """Seconds per test file, summed over its test cases, from pytest's JUnit XML.

    A test case's time covers its setup, call and teardown (pytest's default); fixtures
    set up once for the session count in the first test that uses them. The file is
    the module that collected the test (see `_file_of`). The schemathesis runs, one per
    tag of the OpenAPI document, count apart: `app/tests/test_schemathesis.py[thing00s]`.
    """
    times: dict[str, float] = {}
    for case in ET.fromstring(junit_xml).iter("testcase"):
        path = _file_of(case)
        name = case.get("name", "")
        if path.endswith(SCHEMATHESIS_FILE) and name.endswith("]") and "[" in name:
            path += name[name.index("[") :]
        times[path] = times.get(path, 0.0) + float(case.get("time") or 0.0)
    return times


def fuzz_of(path: str) -> bool:
    """A schemathesis run of one resource's operations (not the `base` run)."""
    return SCHEMATHESIS_FILE + "[" in path and not path.endswith("[base]")


def failures(junit_xml: str) -> list[str]:
    """The tests that failed or errored, as `file::name: first line of the message`."""
    found = []
    for case in ET.fromstring(junit_xml).iter("testcase"):
        problem = case.find("failure")
        if problem is None:
            problem = case.find("error")
        if problem is None:
            continue
        path = _file_of(case)
        message = (problem.get("message") or "").strip().splitlines()
        found.append(f"{path}::{case.get('name')}" + (f": {message[0][:200]}" if message else ""))
    return found


def _file_of(case: ET.Element) -> str:
    """The test module that collected a test case, from its class name.

    `app.tests.test_x.TestY` -> `app/tests/test_x.py`. The `file` attribute
    (`-o junit_family=xunit1`) names where the test function is written, which for a
    test inherited from the shared contract (`app/tests/contract.py`) is not the
    resource's module that runs it; it serves only when the class name names no module.
    """
    classname = case.get("classname", "")
    parts = classname.split(".")
    for end in range(len(parts), 0, -1):
        if parts[end - 1].startswith("test_"):
            return "/".join(parts[:end]) + ".py"
    return case.get("file") or classname or "(unknown)"


@dataclass(frozen=True)
class SuiteRun:
    """One run of a generated backend's own test suite."""

    resources: int
    database: str  # SQLite or PostgreSQL
    wall_s: float
    returncode: int | None  # None: stopped at the time limit
    summary: str  # pytest's last line
    files: dict[str, float]  # test file -> seconds
    resource_files: frozenset[str]  # which of `files` test a resource
    failed: tuple[str, ...] = ()  # tests that failed or errored (growth.failures)

    @property
    def base_s(self) -> float:
        """Seconds of the files that test no resource (and of schemathesis's base run)."""
        return sum(s for f, s in self.files.items() if self._base(f))

    def _base(self, path: str) -> bool:
        return path not in self.resource_files and not fuzz_of(path)

    @property
    def fuzz_s(self) -> float | None:
        """Mean seconds of schemathesis's run of one resource (None if none ran)."""
        times = [s for f, s in self.files.items() if fuzz_of(f)]
        return statistics.fmean(times) if times else None

    @property
    def per_resource(self) -> list[float]:
        """Seconds of each resource test file."""
        return [s for f, s in self.files.items() if f in self.resource_files]

    @property
    def per_resource_s(self) -> float | None:
        """Mean seconds per resource test file (None if none ran)."""
        times = self.per_resource
        return statistics.fmean(times) if times else None

    @property
    def complete(self) -> bool:
        """Finished (passed or not) before the time limit, with every resource file timed."""
        return self.returncode is not None and len(self.per_resource) == len(self.resource_files)

    def slowest_base(self, count: int = 3) -> list[tuple[str, float]]:
        """The slowest files that test no resource."""
        base = [(f, s) for f, s in self.files.items() if self._base(f)]
        return sorted(base, key=lambda item: -item[1])[:count]


def suite_targets(runs: Sequence[SuiteRun], databases: Iterable[str]) -> list[Row]:
    """Per resource file and base suite times, per database, the worst of every size run.

    A run stopped at the time limit, or without every resource file timed, fails.
    """
    rows = []
    for database in databases:
        mine = sorted((r for r in runs if r.database == database), key=lambda r: r.resources)
        limit = SUITE_PER_FILE_S[database]
        per_file = [
            r.per_resource_s if r.complete and r.per_resource_s is not None else math.inf
            for r in mine
        ]
        rows.append(
            verdict(
                f"suite on {database}: <= {limit:.0f} s per resource test file "
                "(each backend size)",
                max(per_file) if mine else None,
                lambda v, limit=limit: v <= limit,
                "; ".join(_suite_cell(r, r.per_resource_s) for r in mine),
            )
        )
        bases = [r.base_s if r.returncode is not None else math.inf for r in mine]
        rows.append(
            verdict(
                f"suite on {database}: base files < {SUITE_BASE_S:.0f} s (each backend size)",
                max(bases) if mine else None,
                lambda v: v < SUITE_BASE_S,
                "; ".join(_suite_cell(r, r.base_s) for r in mine),
            )
        )
    return rows


def _suite_cell(run: SuiteRun, seconds: float | None) -> str:
    """`10 resources: 1.5 s`, or why there is no figure."""
    head = f"{run.resources} resource{'s' if run.resources != 1 else ''}: "
    if run.returncode is None:
        return head + "stopped at the time limit"
    if seconds is None:
        return head + "no test file timed"
    return head + f"{seconds:.1f} s" + ("" if run.complete else " (some files not timed)")


def suite_section(runs: Sequence[SuiteRun], timeout_s: float) -> list[str]:
    """RESULTS.md: the generated suites' times."""
    if not runs:
        return []
    lines = [
        "## The generated test suites as a backend grows",
        "",
        "Each Thing backend's own suite (`python -m pytest -q -p no:cacheprovider`, in "
        "the backend's directory, with this venv), on SQLite and on PostgreSQL (a fresh "
        "database per run, `TEST_DATABASE_URL`). Per-file seconds are the sums of the "
        "test cases' times in pytest's JUnit XML (setup, call, teardown); a session "
        "fixture counts in the first test that uses it. Base files are those that test no "
        "resource (`test_thingNNs.py` are the resource files). Schemathesis runs once per "
        "tag of the OpenAPI document: its run of the account and project operations is a "
        "base file, its run of each resource's operations is shown apart (`schemathesis s "
        "per resource`); neither is in a resource file's time.",
        "",
        "| resources | database | result | wall s | base files s | resource files "
        "| s per resource file | slowest resource file s | schemathesis s per resource "
        "| slowest base files |",
        "|---:|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in runs:
        if r.returncode is None:
            result = f"stopped at {timeout_s:.0f} s"
        else:
            result = "passed" if r.returncode == 0 else f"FAILED (exit {r.returncode})"
            result += f": {r.summary}"
        per_file = f"{r.per_resource_s:.1f}" if r.per_resource_s is not None else "n/a"
        slowest = f"{max(r.per_resource):.1f}" if r.per_resource else "n/a"
        fuzz = f"{r.fuzz_s:.1f}" if r.fuzz_s is not None else "n/a"
        base = ", ".join(f"{f.rsplit('/', 1)[-1]} {s:.0f}" for f, s in r.slowest_base())
        lines.append(
            f"| {r.resources} | {r.database} | {result} | {r.wall_s:.0f} | {r.base_s:.1f} "
            f"| {len(r.per_resource)} of {len(r.resource_files)} | {per_file} | {slowest} "
            f"| {fuzz} | {base} |"
        )
    lines.append("")
    for r in runs:
        if r.failed:
            lines += [
                f"Failed in the {r.resources}-resource suite on {r.database}:",
                "",
                *(f"- `{test}`" for test in r.failed[:10]),
                *([f"- and {len(r.failed) - 10} more"] if len(r.failed) > 10 else []),
                "",
            ]
    return lines


# -- generating into a grown backend ------------------------------------------------------


@dataclass
class Generation:
    """Generating resources one after the other, and one more into the largest backend."""

    build_s: list[float] = field(default_factory=list)  # in-process, each resource in turn
    resources: int = 0  # in the backend the next one is generated into
    command_s: list[float] = field(default_factory=list)
    in_process_s: list[float] = field(default_factory=list)
    command: str = ""


def generation_targets(generation: Generation | None) -> list[Row]:
    """The 41st resource: as a command under 1 s, in-process under 0.4 s (medians)."""
    n = generation.resources + 1 if generation and generation.resources else 41
    rows = []
    for name, times, limit in (
        (
            f"generate the {_ordinal(n)} resource as a command: median < {COMMAND_S:g} s",
            generation.command_s if generation else [],
            COMMAND_S,
        ),
        (
            f"generate the {_ordinal(n)} resource in-process: median < {IN_PROCESS_S:g} s",
            generation.in_process_s if generation else [],
            IN_PROCESS_S,
        ),
    ):
        value = statistics.median(times) if times else None
        shown = f"{value:.2f} s (of {len(times)}, worst {max(times):.2f} s)" if times else ""
        rows.append(verdict(name, value, lambda v, limit=limit: v < limit, shown))
    return rows


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def generation_section(generation: Generation | None) -> list[str]:
    """RESULTS.md: generating into a backend as it grows."""
    if generation is None or not (generation.build_s or generation.command_s):
        return []
    lines = ["## Generating into a backend that grows", ""]
    build = generation.build_s
    if build:
        marks = sorted({1, 10, 20, 30, len(build)} & set(range(1, len(build) + 1)))
        lines += [
            "In-process (`plan_generate` + `apply_plan`), each Thing generated in turn into "
            "the backend of the ones before: "
            + ", ".join(f"resource {n}: {build[n - 1]:.2f} s" for n in marks)
            + f"; {sum(build):.0f} s for all {len(build)}.",
            "",
        ]
    if generation.command_s or generation.in_process_s:
        lines += [
            f"One more resource into the {generation.resources}-resource backend, each run on "
            "a fresh copy of it:",
            "",
            "| how | runs | median s | best s | worst s |",
            "|---|---:|---:|---:|---:|",
        ]
        for how, times in (
            (f"command: `{generation.command}`", generation.command_s),
            (
                "in-process: `plan_generate` + `apply_plan`, after a warm-up",
                generation.in_process_s,
            ),
        ):
            if times:
                lines.append(
                    f"| {how} | {len(times)} | {statistics.median(times):.2f} "
                    f"| {min(times):.2f} | {max(times):.2f} |"
                )
        lines.append("")
    return lines


# -- all of it --------------------------------------------------------------------------


@dataclass
class Growth:
    """What the growth phases measured; None or empty for a phase that did not run."""

    scale: Scale | None = None
    memory: list[Memory] = field(default_factory=list)
    suites: list[SuiteRun] = field(default_factory=list)
    suite_databases: tuple[str, ...] = tuple(SUITE_PER_FILE_S)
    suite_timeout_s: float = 0.0
    generation: Generation | None = None


def targets(growth: Growth) -> list[Row]:
    """Every target of the growth phases; n/a for those not measured."""
    return [
        *scale_targets(growth.scale),
        *suite_targets(growth.suites, growth.suite_databases),
        *generation_targets(growth.generation),
    ]


def section(growth: Growth) -> list[str]:
    """The growth phases' part of RESULTS.md."""
    return [
        *scale_section(growth.scale),
        *memory_section(growth.memory),
        *suite_section(growth.suites, growth.suite_timeout_s),
        *generation_section(growth.generation),
    ]
