"""Plans are checked before writing, and a failed write leaves nothing behind."""

import gc
from pathlib import Path

import pytest

from backend_builder import plan as plan_module
from backend_builder.errors import BuilderError
from backend_builder.plan import Action, apply_plan, collector_paused, plan_files


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


def test_a_deletion_is_planned_and_applied(tmp_path: Path) -> None:
    (tmp_path / "gone.txt").write_text("bye")
    plan = plan_files(tmp_path, {"new.txt": "new"}, deleted=["gone.txt", "never-was.txt"])
    assert [(op.path, op.action, op.previous) for op in plan.ops] == [
        ("new.txt", Action.CREATE, None),
        ("gone.txt", Action.DELETE, "bye"),
    ]
    deletion = plan.to_dict()["files"][1]
    assert (deletion["path"], deletion["action"]) == ("gone.txt", "delete")
    assert "-bye" in deletion["diff"]
    apply_plan(plan)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.txt"]


def test_deletions_prune_only_the_directories_they_empty(tmp_path: Path) -> None:
    for path in ("made/for/it/a.txt", "made/kept.txt", "standard/b.txt"):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text("x")
    plan = plan_files(
        tmp_path,
        {},
        deleted=["made/for/it/a.txt", "standard/b.txt"],
        prune=["made", "made/for", "made/for/it"],
    )
    apply_plan(plan)
    remaining = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*"))
    assert remaining == ["made", "made/kept.txt", "standard"]


def test_a_failed_deletion_restores_every_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "edit.txt").write_text("before")
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir/first.txt").write_text("first")
    (tmp_path / "second.txt").write_text("second")
    plan = plan_files(
        tmp_path,
        {"new.txt": "new"},
        {"edit.txt": "after"},
        deleted=["dir/first.txt", "second.txt"],
        prune=["dir"],
    )
    real_unlink = Path.unlink

    def failing_unlink(path: Path, missing_ok: bool = False) -> None:
        if path.name == "second.txt":
            raise OSError(13, "Permission denied")
        real_unlink(path, missing_ok=missing_ok)

    monkeypatch.setattr(Path, "unlink", failing_unlink)
    with pytest.raises(BuilderError, match=r"could not delete .*second\.txt: Permission denied"):
        apply_plan(plan)
    files = {
        p.relative_to(tmp_path).as_posix(): p.read_text()
        for p in tmp_path.rglob("*")
        if p.is_file()
    }
    assert files == {"edit.txt": "before", "dir/first.txt": "first", "second.txt": "second"}


def test_a_failed_prune_restores_the_deleted_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir/only.txt").write_text("only")
    plan = plan_files(tmp_path, {}, deleted=["dir/only.txt"], prune=["dir"])

    def failing_rmdir(path: Path) -> None:
        raise OSError(16, "Device or resource busy")

    monkeypatch.setattr(Path, "rmdir", failing_rmdir)
    with pytest.raises(BuilderError, match="busy") as raised:
        apply_plan(plan)
    assert raised.value.path == "dir"
    assert (tmp_path / "dir/only.txt").read_text() == "only"


@pytest.mark.parametrize("meanwhile", ["changed", "deleted"])
def test_a_deletion_of_a_file_changed_meanwhile_is_stale(tmp_path: Path, meanwhile: str) -> None:
    (tmp_path / "gone.txt").write_text("as planned")
    plan = plan_files(tmp_path, {"new.txt": "new"}, deleted=["gone.txt"])
    if meanwhile == "changed":
        (tmp_path / "gone.txt").write_text("edited after the plan")
    else:
        (tmp_path / "gone.txt").unlink()
    with pytest.raises(BuilderError) as raised:
        apply_plan(plan)
    assert raised.value.code == "stale_plan"
    assert raised.value.details["paths"] == ["gone.txt"]
    assert not (tmp_path / "new.txt").exists()
    if meanwhile == "changed":
        assert (tmp_path / "gone.txt").read_text() == "edited after the plan"


def test_planning_pauses_the_collector_and_restores_it() -> None:
    seen = []

    @collector_paused
    def plan(fail: bool) -> int:
        seen.append(gc.isenabled())
        if fail:
            raise BuilderError("no")
        return 1

    assert gc.isenabled()
    assert plan(False) == 1
    with pytest.raises(BuilderError):
        plan(True)
    assert seen == [False, False] and gc.isenabled()
    gc.disable()  # a caller that paused it already keeps it paused
    try:
        plan(False)
        assert not gc.isenabled()
    finally:
        gc.enable()
    assert plan.__name__ == "plan"
