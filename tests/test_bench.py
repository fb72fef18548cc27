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
import load
import pgbouncer
import report
from dataset import QUICK

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
