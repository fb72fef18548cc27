"""Business logic of assets."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import NotFound
from app.core.tenancy import ProjectScope
from app.models.asset import Asset
from app.repositories.asset_repo import AssetRepository
from app.repositories.base import Page, SortOrder
from app.schemas.asset import AssetCreate, AssetListParams, AssetUpdate


class AssetNotFound(NotFound):
    """No such asset in the current project."""

    default_detail = "Asset not found"


class AssetService:
    """Assets of the caller's current project."""

    def __init__(self, db: AsyncSession, scope: ProjectScope) -> None:
        self.scope = scope
        self.repository = AssetRepository(db, scope.project_id)

    async def list_page(self, params: AssetListParams) -> Page[Asset]:
        """One page of assets, filtered and sorted."""
        return await self.repository.page(
            limit=params.limit,
            sort=SortOrder.parse(params.sort),
            cursor=params.cursor,
            filters=params.filters(),
        )

    async def get(self, asset_id: uuid.UUID) -> Asset:
        """The asset with this id, or 404."""
        asset = await self.repository.get(asset_id)
        if asset is None:
            raise AssetNotFound()
        return asset

    async def create(self, data: AssetCreate) -> Asset:
        """Create a asset in the current project."""
        values = data.model_dump()

        return await self.repository.create(values)

    async def update(self, asset_id: uuid.UUID, data: AssetUpdate) -> Asset:
        """Apply the fields sent to a asset."""
        asset = await self.get(asset_id)
        values = data.model_dump(exclude_unset=True)

        return await self.repository.update(asset, values)

    async def delete(self, asset_id: uuid.UUID) -> None:
        """Delete a asset."""
        await self.repository.delete(await self.get(asset_id))
