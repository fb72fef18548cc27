"""Assets: rows of a project."""

import enum

from sqlalchemy import Enum, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, ProjectScoped, enum_values


class AssetCondition(enum.StrEnum):
    """The values of `Asset.condition`."""

    NEW = "new"

    USED = "used"

    BROKEN = "broken"


class Asset(ProjectScoped, Base):
    """An asset; it belongs to one project, like every tenant row."""

    __tablename__ = "assets"

    name: Mapped[str] = mapped_column(String(255))

    notes: Mapped[str | None] = mapped_column(Text)

    condition: Mapped[AssetCondition] = mapped_column(
        Enum(
            AssetCondition,
            name="condition",
            native_enum=False,
            create_constraint=True,
            length=6,
            values_callable=enum_values,
        ),
        default=AssetCondition.NEW,
    )
