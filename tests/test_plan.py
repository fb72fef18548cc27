"""Plans are checked before writing, and a failed write leaves nothing behind."""

from pathlib import Path

import pytest

from backend_builder import plan as plan_module
from backend_builder.errors import BuilderError
from backend_builder.plan import Action, apply_plan, plan_files


def test_actions(tmp_path: Path) -> None:
    (tmp_path / "same.txt").write_text("same")
    (tmp_path / "other.txt").write_text("old")
    (tmp_path / "edit.txt").write_text("before")
    plan = plan_files(
        tmp_path,
        {"new.txt": "new", "same.txt": "same", "other.txt": "new"},
        {"edit.txt": "after"},
    )
    actions = {op.path: op.action for op in plan.ops}
    assert actions == {
        "new.txt": Action.CREATE,
        "same.txt": Action.IDENTICAL,
        "other.txt": Action.CONFLICT,
        "edit.txt": Action.MODIFY,
    }
    assert "-before" in plan.ops[-1].diff() and "+after" in plan.ops[-1].diff()
    with pytest.raises(BuilderError, match=r"other\.txt"):
        apply_plan(plan)
    assert (tmp_path / "other.txt").read_text() == "old"
    assert not (tmp_path / "new.txt").exists()


def test_force_overwrites(tmp_path: Path) -> None:
    (tmp_path / "other.txt").write_text("old")
    plan = plan_files(tmp_path, {"other.txt": "new"}, force=True)
    assert plan.ops[0].action is Action.OVERWRITE
    apply_plan(plan)
    assert (tmp_path / "other.txt").read_text() == "new"


def test_failed_write_rolls_everything_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "edit.txt").write_text("before")
    plan = plan_files(tmp_path, {"a/b/new.txt": "new", "z/fails.txt": "x"}, {"edit.txt": "after"})
    real_write = plan_module._atomic_write

    def failing_write(target: Path, content: str) -> None:
        if target.name == "fails.txt":
            raise OSError(28, "No space left on device")
        real_write(target, content)

    monkeypatch.setattr(plan_module, "_atomic_write", failing_write)
    with pytest.raises(BuilderError, match="No space left on device"):
        apply_plan(plan)
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == ["edit.txt"]
    assert (tmp_path / "edit.txt").read_text() == "before"


def test_a_modified_file_that_does_not_exist_is_created(tmp_path: Path) -> None:
    plan = plan_files(tmp_path, {}, {"copies/a.txt": "a"})
    assert [(op.path, op.action) for op in plan.ops] == [("copies/a.txt", Action.CREATE)]
    apply_plan(plan)
    assert (tmp_path / "copies/a.txt").read_text() == "a"


def test_a_stale_plan_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "edit.txt").write_text("before")
    plan = plan_files(tmp_path, {"new.txt": "new"}, {"edit.txt": "after"})
    (tmp_path / "edit.txt").write_text("changed meanwhile")
    with pytest.raises(BuilderError) as raised:
        apply_plan(plan)
    assert raised.value.code == "stale_plan"
    assert raised.value.details["paths"] == ["edit.txt"]
    assert (tmp_path / "edit.txt").read_text() == "changed meanwhile"
    assert not (tmp_path / "new.txt").exists()


def test_a_file_created_after_the_plan_makes_it_stale(tmp_path: Path) -> None:
    plan = plan_files(tmp_path, {"new.txt": "new"})
    (tmp_path / "new.txt").write_text("mine")
    with pytest.raises(BuilderError, match="changed since the plan"):
        apply_plan(plan)
    assert (tmp_path / "new.txt").read_text() == "mine"
