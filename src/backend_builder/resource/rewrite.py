"""Re-rendered generated files, merged three-way with the user's edits.

Shared by the field commands and `update`: given what the generator would write
now for some recorded files, merge each with the user's file, using the stored
base copy (the content as last generated) as the common ancestor. The result is
data: the content to write, the new base copies and records, and the conflicts.
"""

from dataclasses import dataclass, field
from pathlib import Path

from backend_builder.errors import BuilderError
from backend_builder.manifest import FileRecord, base_path
from backend_builder.merge import Merge, conflict_markers_error, has_conflict_markers, merge


@dataclass(frozen=True)
class Rewrite:
    """Files to write, their new bases and records, and the merges that conflict."""

    writes: dict[str, str] = field(default_factory=dict)
    records: tuple[FileRecord, ...] = ()
    merged: tuple[str, ...] = ()  # files whose hand edits were kept by a clean merge
    conflicts: tuple[Merge, ...] = ()


def stored_base(root: Path, record: FileRecord | None) -> str | None:
    """The stored base copy of a recorded file, if it exists and matches its record."""
    if record is None or record.sha256 is None:
        return None
    copy = root / base_path(record.path)
    if not copy.is_file():
        return None
    content = copy.read_text(encoding="utf-8")
    return content if FileRecord.of(record.path, content).sha256 == record.sha256 else None


def rewrite(
    root: Path,
    generated: dict[str, tuple[str, FileRecord | None]],
    *,
    owner: str,
    layers: dict[str, str | None] | None = None,
) -> Rewrite:
    """Merge what would be generated now (`generated`: path -> (content, its record)).

    A recorded file that is missing is an error (restore it, or the manifest no
    longer matches the code). A file with no usable base (an old manifest) is
    merged against an empty base: any difference is a conflict, never a loss.
    """
    writes: dict[str, str] = {}
    records: list[FileRecord] = []
    merged: list[str] = []
    conflicts: list[Merge] = []
    marked: list[str] = []
    for path, (content, record) in generated.items():
        target = root / path
        if not target.is_file():
            raise BuilderError(
                f"{path} was generated for {owner} and is missing; it is not re-created "
                "over what may be a deliberate deletion",
                hint="restore it (for example from version control), then run the command again",
                code="file_missing",
                resource=None if owner == "backend" else owner,
                path=path,
            )
        try:
            current = target.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise BuilderError(
                f"cannot read {path}: {error}", code="unreadable", path=path
            ) from error
        if has_conflict_markers(current):
            marked.append(path)
            continue
        base = stored_base(root, record)
        if base is None:
            base = (
                current if record and FileRecord.of(path, current).sha256 == record.sha256 else ""
            )
        result = merge(path, base, current, content)
        if not result.clean:
            conflicts.append(result)
        elif current not in (base, content) and result.content != current:
            merged.append(path)
        writes[path] = result.content
        writes[base_path(path)] = content
        layer = (layers or {}).get(path, record.layer if record else None)
        records.append(FileRecord.of(path, content, layer))
    if marked:
        raise conflict_markers_error(marked)
    return Rewrite(writes, tuple(records), tuple(merged), tuple(conflicts))


def conflict_error(conflicts: tuple[Merge, ...], *, owner: str | None = None) -> BuilderError:
    """The refusal to write when merges conflict (nothing is written)."""
    listing = "; ".join(
        f"{m.path} (lines " + ", ".join(f"{h.start}-{h.end}" for h in m.hunks) + ")"
        for m in conflicts
    )
    return BuilderError(
        f"{len(conflicts)} file(s) have hand edits that conflict with the generated change: "
        f"{listing}; nothing was written",
        hint="resolve by hand: rerun asking for conflict markers to be written, then edit "
        "the marked hunks (yours / generated before / generated now)",
        code="merge_conflict",
        resource=owner,
        details={"files": [m.to_dict() for m in conflicts]},
    )
