"""Database access for assets.

Queries of your own go in this class: build them once with `scoped_query` and run
them with `self.fetch` (see `app/repositories/base.py` and the README).
"""

from app.models.asset import Asset
from app.repositories.base import ProjectRepository


class AssetRepository(ProjectRepository):
    """The assets of one project."""

    model = Asset
    unique_fields = ()
    noun = "asset"
    a_noun = "an asset"
