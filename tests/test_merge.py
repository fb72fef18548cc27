"""Three-way merges of generated files with hand edits."""

import pytest

from backend_builder.merge import merge

BASE = '''"""Schemas."""

from pydantic import Field


class ThingBase(Input):
    """A thing."""

    name: str = Field(max_length=10)

    size: int


class ThingCreate(ThingBase):
    """A new thing."""
'''

# The generator adds a field at the end of ThingBase and an import.
GENERATED = BASE.replace(
    "from pydantic import Field", "from pydantic import Field, Strict"
).replace("    size: int\n", "    size: int\n\n    weight: Annotated[int, Strict()]\n")

# The user adds a validator at the end of ThingBase (the same place) and its import.
VALIDATOR = '''
    @field_validator("name")
    @classmethod
    def strip(cls, value: str) -> str:
        """Strip it.

        Multi-line docstrings keep their indentation.
        """
        return value.strip()
'''
CURRENT = BASE.replace(
    "from pydantic import Field", "from pydantic import Field, field_validator"
).replace("    size: int\n", "    size: int\n" + VALIDATOR)


def test_insertions_at_the_same_place_are_both_kept() -> None:
    result = merge("app/schemas/thing.py", BASE, CURRENT, GENERATED)
    assert result.clean
    assert "from pydantic import Field, Strict, field_validator" in result.content
    assert "weight: Annotated[int, Strict()]" in result.content
    assert VALIDATOR.strip() in result.content
    assert result.content.index("size: int") < result.content.index("def strip")
    compile(result.content, "thing.py", "exec")


def test_a_line_merge_of_the_same_text_conflicts_where_this_does_not() -> None:
    result = merge("notes.txt", BASE, CURRENT, GENERATED)
    assert not result.clean
    assert "<<<<<<< yours" in result.content and ">>>>>>> generated now" in result.content


def test_what_the_generator_drops_goes_unless_the_user_changed_it() -> None:
    generated = BASE.replace("\n    size: int\n", "\n")
    result = merge("thing.py", BASE, CURRENT, generated)
    assert result.clean
    assert "size: int" not in result.content and VALIDATOR.strip() in result.content

    edited = BASE.replace("    size: int\n", "    size: int  # in cm\n")
    conflict = merge("thing.py", BASE, edited, generated)
    assert not conflict.clean
    assert "# in cm" in conflict.content  # never lost


def test_both_changing_the_same_definition_is_a_conflict_with_hunks() -> None:
    current = BASE.replace("max_length=10", "max_length=20")
    generated = BASE.replace("max_length=10", "max_length=30")
    result = merge("thing.py", BASE, current, generated)
    assert len(result.hunks) == 1
    hunk = result.hunks[0]
    assert "max_length=20" in hunk.yours and "max_length=30" in hunk.generated
    lines = result.content.splitlines()
    assert lines[hunk.start - 1].startswith("<<<<<<< yours")
    assert lines[hunk.end - 1].startswith(">>>>>>> generated now")


def test_changes_of_different_definitions_merge() -> None:
    current = BASE.replace('"""A new thing."""', '"""A new thing, by hand."""')
    generated = BASE.replace("max_length=10", "max_length=30")
    result = merge("thing.py", BASE, current, generated)
    assert result.clean
    assert "by hand" in result.content and "max_length=30" in result.content


def test_a_module_that_does_not_parse_is_merged_by_lines() -> None:
    current = BASE + "\ndef broken(:\n"
    generated = BASE.replace('"""Schemas."""', '"""Schemas of things."""')
    result = merge("thing.py", BASE, current, generated)
    assert result.clean
    assert "def broken(:" in result.content and "Schemas of things" in result.content


@pytest.mark.parametrize("current", [BASE, GENERATED])
def test_an_untouched_or_already_updated_file_becomes_the_generated_one(current: str) -> None:
    assert merge("thing.py", BASE, current, GENERATED).content == GENERATED


def test_a_file_the_generator_does_not_change_stays_as_the_user_has_it() -> None:
    assert merge("thing.py", BASE, CURRENT, BASE).content == CURRENT
