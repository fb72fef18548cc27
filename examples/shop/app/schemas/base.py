"""Base classes shared by every schema."""

from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class ClientData(BaseModel):
    """Data from a client: text may not hold NUL characters, which databases refuse."""

    @field_validator("*", mode="after")
    @classmethod
    def reject_nul_characters(cls, value: Any) -> Any:
        """Refuse a string with a NUL character (PostgreSQL cannot store one)."""
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("must not contain NUL characters")
        return value


class InputSchema(ClientData):
    """A request body: unknown fields are rejected, so nothing can be mass-assigned."""

    model_config = ConfigDict(extra="forbid")


class UpdateSchema(InputSchema):
    """A partial update: only the fields sent are applied.

    Fields named in `non_nullable` may be left out, but not set to null.
    """

    non_nullable: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="after")
    def refuse_null_for_required_fields(self) -> Self:
        """Reject `null` for a field that the database requires."""
        for name in sorted(self.non_nullable & self.model_fields_set):
            if getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


class OutputSchema(BaseModel):
    """A response body, read from ORM objects."""

    model_config = ConfigDict(from_attributes=True)


class ListParams(ClientData):
    """Query parameters of a list: a page size, a cursor, a sort order and filters.

    Unknown parameters are rejected, so a misspelt filter never silently lists all.
    """

    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=50, ge=1, le=200, description="Items per page")
    cursor: str | None = Field(
        default=None, max_length=1024, description="The `cursor` of the next page link"
    )
    sort: str = Field(
        default="id", description="A field name; prefix with - to reverse"
    )

    def filters(self) -> dict[str, Any]:
        """The equality filters that were given."""
        return self.model_dump(exclude_none=True, exclude={"limit", "cursor", "sort"})
