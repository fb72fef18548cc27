"""The forking runner of the tests (tests/zygote.py) runs a command as a new interpreter would."""

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.backend_checks import Zygote

REPORT = (
    "import json, os, random, sys\n"
    "print(json.dumps({'argv': sys.argv, 'path0': sys.path[0], 'cwd': os.getcwd(),\n"
    "    'env': os.environ.get('ZYGOTE_TEST'), 'main': __name__,\n"
    "    'random': random.random(), 'app': 'app' in sys.modules}))\n"
)


@pytest.fixture(scope="module")
def zygote() -> Iterator[Zygote]:
    runner = Zygote()
    yield runner
    runner.close()


def _report(output: str) -> dict[str, object]:
    return json.loads(output.strip().splitlines()[-1])


def test_code_runs_as_python_c(zygote: Zygote, tmp_path: Path) -> None:
    result = zygote.run(["-c", REPORT, "one", "two"], tmp_path, {"ZYGOTE_TEST": "yes"})
    assert result.returncode == 0, result.stderr
    report = _report(result.stdout)
    assert report["argv"] == ["-c", "one", "two"]
    assert report["path0"] == "" and report["cwd"] == str(tmp_path)
    assert report["env"] == "yes" and report["main"] == "__main__"


def test_a_module_runs_as_python_m(zygote: Zygote, tmp_path: Path) -> None:
    (tmp_path / "report.py").write_text(REPORT)
    result = zygote.run(["-m", "report", "x"], tmp_path, {})
    assert result.returncode == 0, result.stderr
    report = _report(result.stdout)
    assert report["argv"] == [str(tmp_path / "report.py"), "x"]
    assert report["path0"] == str(tmp_path) and report["env"] is None
    assert report["main"] == "__main__"


def test_a_script_runs_with_its_folder_first_on_the_path(zygote: Zygote, tmp_path: Path) -> None:
    folder = tmp_path / "scripts"
    folder.mkdir()
    (folder / "report.py").write_text(REPORT)
    result = zygote.run(["scripts/report.py", "y"], tmp_path, {})
    assert result.returncode == 0, result.stderr
    report = _report(result.stdout)
    assert report["argv"] == ["scripts/report.py", "y"] and report["path0"] == str(folder)


def test_each_command_is_a_process_of_its_own(zygote: Zygote, tmp_path: Path) -> None:
    code = "import sys, app\nsys.modules['json'].marker = 1\n" + REPORT
    (tmp_path / "app.py").write_text("")
    first, second = (zygote.run(["-c", code], tmp_path, {}) for _ in range(2))
    assert _report(first.stdout)["app"] and _report(second.stdout)["app"]
    assert _report(first.stdout)["random"] != _report(second.stdout)["random"]
    check = zygote.run(["-c", "import json, sys; sys.exit(hasattr(json, 'marker'))"], tmp_path, {})
    assert check.returncode == 0


def test_exit_status_and_errors_are_the_commands(zygote: Zygote, tmp_path: Path) -> None:
    assert zygote.run(["-c", "raise SystemExit(3)"], tmp_path, {}).returncode == 3
    assert zygote.run(["-c", "raise SystemExit('bad')"], tmp_path, {}).returncode == 1
    failed = zygote.run(["-c", "1 / 0"], tmp_path, {})
    assert failed.returncode == 1 and "ZeroDivisionError" in failed.stderr
    assert zygote.run(["-c", "import sys; sys.stdin.read()"], tmp_path, {}).returncode == 0


def test_pytest_runs_without_a_warning(zygote: Zygote, tmp_path: Path) -> None:
    """Nothing preloaded is a pytest plugin's package, whose asserts pytest must rewrite."""
    (tmp_path / "test_one.py").write_text("def test_one():\n    assert 1\n")
    result = zygote.run(["-m", "pytest", "-q", "-p", "no:cacheprovider"], tmp_path, {})
    assert result.returncode == 0, result.stdout
    assert result.stdout.strip().splitlines()[-1].startswith("1 passed in"), result.stdout


def test_the_commands_python_is_this_one(zygote: Zygote, tmp_path: Path) -> None:
    result = zygote.run(["-c", "import sys; print(sys.executable)"], tmp_path, {})
    assert result.stdout.strip() == sys.executable
