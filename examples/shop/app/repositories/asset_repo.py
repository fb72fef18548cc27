"""Database access for assets."""

from app.models.asset import Asset
from app.repositories.base import ProjectRepository


class AssetRepository(ProjectRepository):
    """The assets of one project."""

    model = Asset
    unique_fields = ()
