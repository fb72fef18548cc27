"""The login flood phase's verdicts (bench/login_flood.py), from made-up measurements."""

import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import load
import login_flood
import report

from tests.test_bench import _results


def _probe(ms: float) -> load.Probe:
    return load.Probe.of([ms / 1000] * 100, errors=0)


def _verdicts(result: login_flood.LoginFlood | None) -> dict[str, str]:
    results = _results()
    results.login_flood = result
    return {name: verdict for name, _, verdict in report.targets(results)}


LATENCY = "login flood: GET p99 within 5x idle (or 20 ms)"
ANSWERS = "login flood: every login answered 200/401/429/503, every GET 200"
DEFENSES = "login flood: 429 from one client, 503 beyond the hashing cap"


def _result(one_client_ms: float, distributed_ms: float) -> login_flood.LoginFlood:
    return login_flood.LoginFlood(
        workers=2,
        clients=32,
        storage="redis",
        idle=_probe(8.0),
        idle_rss_mb=200.0,
        floods=[
            login_flood.Flood("one client", _probe(one_client_ms), {401: 60, 429: 5000}, 0, 250),
            login_flood.Flood("distributed", _probe(distributed_ms), {401: 40, 503: 900}, 0, 400),
        ],
    )


def test_the_flood_passes_within_the_factor_of_idle() -> None:
    verdicts = _verdicts(_result(12.0, 39.0))
    assert (verdicts[LATENCY], verdicts[ANSWERS], verdicts[DEFENSES]) == ("PASS",) * 3


def test_one_slow_flood_fails_the_latency_target() -> None:
    assert _verdicts(_result(12.0, 41.0))[LATENCY] == "FAIL"  # 5 x 8 ms = 40 ms


def test_tiny_idle_latencies_are_judged_against_the_floor() -> None:
    result = replace(_result(19.0, 19.0), idle=_probe(1.0))
    assert _verdicts(result)[LATENCY] == "PASS"


def test_errors_and_missing_defenses_fail() -> None:
    result = _result(12.0, 12.0)
    one_client, distributed = result.floods
    failing = replace(
        result,
        floods=[
            replace(one_client, statuses={401: 60, 500: 1}),
            replace(distributed, statuses={401: 900}),
        ],
    )
    verdicts = _verdicts(failing)
    assert verdicts[ANSWERS] == "FAIL"
    assert verdicts[DEFENSES] == "FAIL"


def test_not_measured_is_not_a_pass() -> None:
    verdicts = _verdicts(None)
    assert {verdicts[LATENCY], verdicts[ANSWERS], verdicts[DEFENSES]} == {"n/a"}
