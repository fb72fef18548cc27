"""The checked-in example is exactly what the generator makes today."""

import difflib
import importlib.util
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _load_builder():
    spec = importlib.util.spec_from_file_location("examples_build", ROOT / "examples" / "build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _files(root: Path) -> dict[str, str]:
    """Text of every file, base copies included, but caches (`__pycache__`, `.ruff_cache`, ...)."""
    files = {}
    for path in sorted(root.rglob("*")):
        folders = path.relative_to(root).parts[:-1]
        cached = any(
            f == "__pycache__" or (f.startswith(".") and f != ".backend-builder") for f in folders
        )
        if path.is_file() and not cached:
            text = path.read_text(encoding="utf-8")
            if path.name == "backend-builder.toml":
                # Which black wrote the files is recorded; a newer black that formats the
                # same way must not make the example stale.
                text = re.sub(r'(?m)^black_version = ".*"$', 'black_version = "*"', text)
            files[path.relative_to(root).as_posix()] = text
    return files


def test_examples_match_the_generator(tmp_path: Path) -> None:
    fresh = tmp_path / "shop"
    _load_builder().build_shop(fresh)
    expected, actual = _files(fresh), _files(ROOT / "examples" / "shop")
    assert sorted(actual) == sorted(expected), "files differ: run `make examples`"
    for path, content in expected.items():
        if actual[path] != content:
            diff = "".join(
                difflib.unified_diff(
                    actual[path].splitlines(True), content.splitlines(True), path, path
                )
            )
            raise AssertionError(f"{path} is stale; run `make examples`:\n{diff}")
