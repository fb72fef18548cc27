"""Formatting generated Python: black's results are remembered, within a bound."""

from collections import OrderedDict

import black
import pytest

from backend_builder import render


def test_black_results_are_remembered_the_least_recently_used_forgotten_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    formatted: list[str] = []
    real = black.format_str

    def format_str(source: str, *, mode: black.Mode) -> str:
        formatted.append(source)
        return real(source, mode=mode)

    monkeypatch.setattr(black, "format_str", format_str)
    monkeypatch.setattr(render, "_FORMATTED", OrderedDict())
    monkeypatch.setattr(render, "_FORMATTED_KEPT", 10)

    kept = "x  =  1\n"
    assert render.format_python(kept) == "x = 1\n"
    assert render.format_python(kept) == render.format_python("x = 1\n") == "x = 1\n"
    assert formatted == [kept]  # the result, and that it is formatted, remembered

    for number in range(20):
        render.format_python(f"y{number}  =  {number}\n")
        render.format_python(kept)  # used again each time: kept
    assert len(render._FORMATTED) <= 10
    assert len(formatted) == 21

    render.format_python("y0  =  0\n")  # long unused: forgotten, formatted again
    assert len(formatted) == 22
