"""The benchmark's own logic: reading wrk, summarizing latencies, and the verdicts.

`make bench` needs PostgreSQL and minutes of load; these tests check, in
milliseconds, that what it computes from its measurements is right.
"""

import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import faults
import growth
import load
import pgbouncer
import report
import things
from dataset import QUICK

SUITES = ("SQLite", "PostgreSQL")

WRK_OUTPUT = """\
Running 10s test @ http://127.0.0.1:8101
  2 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    15.90ms    3.10ms  60.00ms   90.00%
  Latency Distribution
     50%   15.59ms
     75%   17.00ms
     90%   19.00ms
     99%   21.73ms
  10080 requests in 10.00s, 20.00MB read
  Non-2xx or 3xx responses: 3
  Socket errors: connect 0, read 1, write 0, timeout 2
Requests/sec:   1008.00
Transfer/sec:      2.00MB
"""


def _run(rps: float, p99_ms: float = 10.0, errors: int = 0) -> load.LoadResult:
    return load.LoadResult(
        requests=int(rps * 10),
        seconds=10.0,
        rps=rps,
        p50_ms=p99_ms / 2,
        p99_ms=p99_ms,
        errors=errors,
        tool="wrk",
    )


def _results() -> report.Results:
    return report.Results(
        started=datetime.now(UTC),
        command="bench/run.py",
        sizes=QUICK,
        rounds=1,
        duration=3.0,
        write_duration=3.0,
        connections=16,
        tool="wrk",
        servers=["generated", "raw", "idiomatic", "seed_literal"],
    )


def _verdicts(results: report.Results) -> dict[str, str]:
    return {name: verdict for name, _, verdict in report.targets(results)}


def test_wrk_output_is_read_with_every_kind_of_error() -> None:
    result = load.parse_wrk(WRK_OUTPUT)
    assert (result.requests, result.rps) == (10080, 1008.0)
    assert (result.p50_ms, result.p99_ms) == (15.59, 21.73)
    assert result.errors == 3 + 1 + 2


def test_unexpected_wrk_output_is_an_error_not_a_zero() -> None:
    with pytest.raises(RuntimeError, match="unexpected wrk output"):
        load.parse_wrk("wrk: connection refused")


def test_quantiles_never_exceed_the_slowest_request() -> None:
    probe = load.Probe.of([0.001] * 98 + [0.050, 0.100], errors=1)
    assert probe.max_ms == pytest.approx(100.0)
    assert probe.p99_ms <= probe.max_ms
    assert probe.p50_ms == pytest.approx(1.0)
    assert (probe.requests, probe.errors) == (100, 1)


def test_the_list_script_keeps_the_token_and_the_path() -> None:
    scenario = load.Scenario("list", "http://127.0.0.1:1", "secret-token")
    script = load.lua_script(scenario, threads=2)
    assert '"Bearer secret-token"' in script
    assert load.LIST_PATH in script
    assert "function request()" not in script  # wrk's static request: the fastest


def test_targets_pass_and_fail_on_the_ratios() -> None:
    results = _results()
    for server, rps, p99 in (
        ("generated", 1000, 20.0),
        ("raw", 1900, 15.0),
        ("idiomatic", 450, 90.0),
        ("seed_literal", 300, 120.0),
    ):
        results.reads[server] = {"list": [_run(rps, p99)], "get": [_run(rps, p99)]}
    results.depth["generated"] = report.Depth([2.0] * 10 + [2.2] * 10, rows=2000)
    verdicts = _verdicts(results)
    assert verdicts["list: req/s >= 0.35x raw (aim 0.5x)"] == "PASS"
    assert verdicts["list: >= 2.0x idiomatic"] == "PASS"
    assert verdicts["list: >= 2.5x seed_literal"] == "PASS"
    assert verdicts["pagination: last 10 / first 10 pages <= 1.2"] == "PASS"
    assert verdicts["create: req/s >= 0.35x raw"] == "n/a"  # not measured is not a pass

    results.reads["generated"]["list"] = [_run(600, 40.0)]
    results.depth["generated"] = report.Depth([2.0] * 10 + [2.6] * 10, rows=2000)
    verdicts = _verdicts(results)
    assert verdicts["list: req/s >= 0.35x raw (aim 0.5x)"] == "FAIL"  # 600 / 1900
    assert verdicts["list: p99 within 2x raw's"] == "FAIL"
    assert verdicts["list: >= 2.0x idiomatic"] == "FAIL"
    assert verdicts["pagination: last 10 / first 10 pages <= 1.2"] == "FAIL"


def test_the_overload_and_pooler_targets_fail_on_a_single_problem() -> None:
    results = _results()
    quiet = load.Probe.of([0.01] * 20, errors=0)
    overload = report.Overload(
        pool=20,
        connections=80,
        logins=4,
        listed=_run(300, 500.0),
        login=quiet,
        health_idle=quiet,
        health=quiet,
        pool_timeouts=0,
        tracebacks=0,
    )
    results.overload = overload
    results.pooler = {"false": report.Pooled(_run(800), quiet, leaks=0)}
    verdicts = _verdicts(results)
    assert verdicts["overload: no errors, no pool timeouts"] == "PASS"
    assert verdicts["overload: /health p99 <= half the list's p50 beside it"] == "PASS"
    pooler = next(name for name in verdicts if name.startswith("behind PgBouncer"))
    assert verdicts[pooler] == "PASS"

    results.overload = replace(overload, pool_timeouts=1)
    results.pooler = {"false": report.Pooled(_run(800), quiet, leaks=1)}
    verdicts = _verdicts(results)
    assert verdicts["overload: no errors, no pool timeouts"] == "FAIL"
    assert verdicts[pooler] == "FAIL"


def test_recovery_runs_from_the_restart_to_the_first_success_once_failures_ended() -> None:
    requests = [
        (0.0, 0.1, "201"),
        (1.0, 1.2, "503"),
        (1.1, 1.5, "503"),
        (1.3, 1.6, "201"),  # began before the last failure ended
        (1.6, 1.7, "201"),
    ]
    assert faults._recovery(requests, 1.0, 1.3) == pytest.approx(0.7)
    successes = [(0.0, 0.1, "201"), (1.4, 1.45, "201")]
    assert faults._recovery(successes, 1.0, 1.3) == pytest.approx(0.45)
    assert faults._recovery([(1.4, 1.5, "503")], 1.0, 1.3) is None


def test_the_faults_target_fails_on_a_500_a_lost_write_a_traceback_or_no_recovery() -> None:
    results = _results()
    name = next(name for name in _verdicts(results) if name.startswith("faults:"))
    assert _verdicts(results)[name] == "n/a"
    faults = report.Faults(
        writers=8,
        seconds=6.0,
        restart_s=0.3,
        outcomes={"201": 900, "503": 20},
        acknowledged=900,
        lost=0,
        recovery_s=0.4,
        tracebacks=0,
        outage_lines=20,
    )
    results.faults = faults
    assert _verdicts(results)[name] == "PASS"
    for broken in (
        replace(faults, outcomes={"201": 900, "503": 19, "500": 1}),
        replace(faults, outcomes={"201": 900, "ReadError": 1}),
        replace(faults, lost=1),
        replace(faults, tracebacks=1),
        replace(faults, recovery_s=None),
        replace(faults, recovery_s=report.Faults.RECOVERY_LIMIT_S + 1),
    ):
        results.faults = broken
        assert _verdicts(results)[name] == "FAIL", broken


@pytest.mark.parametrize(
    ("banner", "supported"),
    [("PgBouncer 1.18.0", False), ("PgBouncer 1.21.0", True), ("PgBouncer 2.0.1", True)],
)
def test_pgbouncer_prepared_statements_from_1_21(banner: str, supported: bool) -> None:
    assert pgbouncer.supports_prepared_statements(banner) is supported


# -- the phases of a backend that grows (bench/growth.py) and serving with raw ----------

JUNIT = """\
<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" tests="5">
<testcase classname="app.tests.test_auth.TestLogin" name="a" file="app/tests/test_auth.py"
 time="2.5" />
<testcase classname="app.tests.test_auth.TestLogin" name="b" file="app/tests/test_auth.py"
 time="1.0"><skipped message="x" /></testcase>
<testcase classname="app.tests.test_thing00s" name="c" file="app/tests/test_thing00s.py"
 time="17.25" />
<testcase classname="app.tests.test_thing01s.TestList" name="d" time="3.0" />
<testcase classname="app.tests.test_thing01s.TestGet" name="f" file="app/tests/contract.py"
 time="0.25" />
<testcase classname="app.tests.test_schemathesis" name="test_schemathesis_finds_no_failure[base]"
 time="4.0" />
<testcase classname="app.tests.test_schemathesis"
 name="test_schemathesis_finds_no_failure[thing00s]" time="2.0" />
<testcase classname="app.tests.test_schemathesis"
 name="test_schemathesis_finds_no_failure[thing01s]" time="3.0" />
<testcase classname="app.tests.test_thing01s.TestList" name="e" time="0.5">
<failure message="assert 3 == 4&#10;more">trace</failure></testcase>
</testsuite></testsuites>
"""
RESOURCE_FILES = frozenset({"app/tests/test_thing00s.py", "app/tests/test_thing01s.py"})


def _suite(database: str, per_file: float, base: float, **changes: object) -> growth.SuiteRun:
    run = growth.SuiteRun(
        resources=2,
        database=database,
        wall_s=base + 2 * per_file + 5,
        returncode=0,
        summary="10 passed in 1.00s",
        files={
            "app/tests/test_auth.py": base,
            "app/tests/test_thing00s.py": per_file,
            "app/tests/test_thing01s.py": per_file,
        },
        resource_files=RESOURCE_FILES,
    )
    return replace(run, **changes)


def test_junit_times_are_summed_per_collecting_module() -> None:
    times = growth.file_times(JUNIT)
    assert times == {
        "app/tests/test_auth.py": pytest.approx(3.5),
        "app/tests/test_thing00s.py": pytest.approx(17.25),
        # from the class name; "f" is inherited from the contract module
        "app/tests/test_thing01s.py": pytest.approx(3.75),
        "app/tests/test_schemathesis.py[base]": pytest.approx(4.0),
        "app/tests/test_schemathesis.py[thing00s]": pytest.approx(2.0),
        "app/tests/test_schemathesis.py[thing01s]": pytest.approx(3.0),
    }
    run = _suite("SQLite", 0, 0, files=times)
    assert run.base_s == pytest.approx(3.5 + 4.0)
    assert run.per_resource_s == pytest.approx((17.25 + 3.75) / 2)
    assert run.fuzz_s == pytest.approx(2.5)
    assert run.slowest_base() == [
        ("app/tests/test_schemathesis.py[base]", 4.0),
        ("app/tests/test_auth.py", 3.5),
    ]
    assert run.complete
    assert growth.failures(JUNIT) == ["app/tests/test_thing01s.py::e: assert 3 == 4"]
    failed = replace(run, returncode=1, failed=tuple(growth.failures(JUNIT)))
    section = "\n".join(growth.suite_section([failed], 60.0))
    assert "FAILED (exit 1)" in section and "`app/tests/test_thing01s.py::e: assert 3" in section


def test_suite_targets_per_database_and_incomplete_runs_fail() -> None:
    runs = [_suite("SQLite", 1.5, 20.0), _suite("PostgreSQL", 2.5, 29.0)]
    rows = {name: (shown, verdict) for name, shown, verdict in growth.suite_targets(runs, SUITES)}
    per_file = [name for name in rows if "per resource test file" in name]
    assert [rows[name][1] for name in per_file] == ["PASS", "PASS"]  # 1.5 <= 2, 2.5 <= 3
    assert all(rows[name][1] == "PASS" for name in rows if "base files" in name)

    runs = [_suite("SQLite", 2.5, 31.0), _suite("PostgreSQL", 2.5, 29.0, returncode=None)]
    verdicts = {name: verdict for name, _, verdict in growth.suite_targets(runs, SUITES)}
    assert set(verdicts.values()) == {"FAIL"}  # too slow; stopped at the time limit
    missing = {name: verdict for name, _, verdict in growth.suite_targets([], SUITES)}
    assert set(missing.values()) == {"n/a"}


def test_a_suite_with_a_resource_file_missing_is_incomplete() -> None:
    run = _suite("SQLite", 1.0, 10.0)
    partial = replace(run, files={k: v for k, v in run.files.items() if "thing01s" not in k})
    assert not partial.complete
    rows = growth.suite_targets([partial], ("SQLite",))
    assert rows[0][2] == "FAIL" and "(some files not timed)" in rows[0][1]
    stopped = replace(run, returncode=None, files={})
    rows = growth.suite_targets([stopped], ("SQLite",))
    assert [(shown, verdict) for _, shown, verdict in rows] == [
        ("2 resources: stopped at the time limit", "FAIL"),
        ("2 resources: stopped at the time limit", "FAIL"),
    ]


def _scale(rps: dict[str, float]) -> growth.Scale:
    scale = growth.Scale(
        small=1,
        large=40,
        rows=60,
        limit=60,
        connections=16,
        duration=3.0,
        rounds=1,
        options="uvicorn",
        role="app",
        fields=("label:str",),
    )
    for label, value in rps.items():
        resource, _, resources = label.partition(" of ")
        point = growth.Point(int(resources), resource)
        scale.reads[point] = {"list": [_run(value)], "get": [_run(value)]}
    return scale


def test_scale_targets_compare_the_last_resource_with_the_first_and_the_small_backend() -> None:
    scale = _scale(
        {"Thing00 of 1": 1000, "Thing00 of 40": 980, "Thing01 of 40": 900, "Thing39 of 40": 940}
    )
    verdicts = [verdict for _, _, verdict in growth.scale_targets(scale)]
    # 940/980 = 0.96; 940/1000 = 0.94; 940/900 = 1.04; 980/1000 = 0.98 (list, then get)
    assert verdicts == ["PASS", "PASS", "FAIL", "FAIL", "PASS", "PASS", "PASS", "PASS"]
    assert [v for _, _, v in growth.scale_targets(None)] == ["n/a"] * 8
    section = "\n".join(growth.scale_section(scale))
    assert "| Thing39 of 40 | 0 | 940 |" in section
    assert "0.94x" in section


def test_memory_per_resource_is_the_difference_over_the_resources_added() -> None:
    def memory(resources: int, started: float, every_route: float) -> growth.Memory:
        return growth.Memory(resources, "uvicorn", 1, started, started, every_route, 0, 0, 0, 0)

    measured = [memory(1, 90.0, 94.0), memory(40, 109.5, 120.0)]
    assert growth.memory_per_resource(measured) == (pytest.approx(0.5), pytest.approx(26 / 39))
    assert growth.memory_per_resource(measured[:1]) is None
    assert "0.50 MiB per worker" in "\n".join(growth.memory_section(measured))


def test_generation_targets_on_the_medians() -> None:
    generation = growth.Generation(
        resources=40, command_s=[0.9, 0.8, 1.5], in_process_s=[0.3, 0.5, 0.6]
    )
    rows = growth.generation_targets(generation)
    assert [name.split(":")[0] for name, _, _ in rows] == [
        "generate the 41st resource as a command",
        "generate the 41st resource in-process",
    ]
    assert [verdict for _, _, verdict in rows] == ["PASS", "FAIL"]  # 0.9 < 1; 0.5 >= 0.4
    assert [verdict for _, _, verdict in growth.generation_targets(None)] == ["n/a", "n/a"]


def test_serving_targets_compare_generated_with_raw_under_the_same_settings() -> None:
    results = _results()
    results.serving = {
        "1 worker, asyncio + h11 (the settings above)": {
            "generated": {"list": [_run(100)], "get": [_run(100)]},
            "raw": {"list": [_run(1000)], "get": [_run(1000)]},
        },
        report.UVLOOP_1: {
            "generated": {"list": [_run(1300)], "get": [_run(600)]},
            "raw": {"list": [_run(2000)], "get": [_run(2000)]},
        },
    }
    serving = {n: v for n, v in _verdicts(results).items() if n.startswith("serving")}
    assert list(serving.values()) == ["PASS", "FAIL"]  # 0.65x; 0.30x
    markdown = "\n".join(report._serving_section(results))
    assert "| 1 worker, uvloop + httptools | list | 1,300 | 2,000 | 0.65x |" in markdown


def test_a_scenario_on_another_collection_keeps_its_path_and_limit() -> None:
    scenario = load.Scenario(
        "get", "http://127.0.0.1:1", "t", ("a", "b"), collection="/api/v1/thing39s/", limit=60
    )
    assert scenario.request(2) == ("GET", "/api/v1/thing39s/b", None)
    assert scenario.list_path == "/api/v1/thing39s/?limit=60"
    script = load.lua_script(scenario, threads=2)
    assert '"/api/v1/thing39s/?limit=60"' in script and load.ASSETS not in script


def test_things_refer_to_the_thing_before_and_rows_fill_first_second_and_last() -> None:
    assert things.tokens(0) == list(things.FIELDS)
    assert things.tokens(39)[-1] == "prev:ref:Thing38"
    assert things.test_file(7) == "app/tests/test_thing07s.py"
    assert things.row_counts(1, 60) == [60]
    assert things.row_counts(4, 60) == [60, 60, 1, 60]
    assert things.command_line("bb", Path("/b"), 40)[3:5] == ["Thing40", "label:str"]
