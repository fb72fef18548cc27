"""Business logic of assets."""

import uuid

from app.core.errors import NotFound
from app.core.sql import Connection
from app.core.tenancy import ProjectScope
from app.repositories.asset_repo import AssetRepository
from app.repositories.base import Page, SortOrder
from app.schemas.asset import AssetCreate, AssetListParams, AssetResponse, AssetUpdate


class AssetNotFound(NotFound):
    """No such asset in the current project."""

    default_detail = "Asset not found"
    code = "asset_not_found"


class AssetService:
    """Assets of the caller's current project."""

    def __init__(self, db: Connection, scope: ProjectScope) -> None:
        self.db = db
        self.scope = scope
        self.repository = AssetRepository(db, scope.project_id)

    async def list_page(self, params: AssetListParams) -> Page[AssetResponse]:
        """One page of assets, filtered and sorted."""
        page = await self.repository.page(
            limit=params.limit,
            sort=SortOrder.parse(params.sort),
            cursor=params.cursor,
            filters=params.filters(),
        )
        return Page(AssetResponse.from_rows(page.items), page.next_cursor)

    async def get(self, asset_id: uuid.UUID) -> AssetResponse:
        """The asset with this id, or 404."""
        row = await self.repository.get(asset_id)
        if row is None:
            raise AssetNotFound()
        return AssetResponse.model_validate(row)

    async def create(self, data: AssetCreate) -> AssetResponse:
        """Create an asset in the current project."""
        values = data.model_dump()

        return AssetResponse.model_validate(await self.repository.create(values))

    async def update(self, asset_id: uuid.UUID, data: AssetUpdate) -> AssetResponse:
        """Apply the fields sent to an asset."""
        values = data.model_dump(exclude_unset=True)

        row = await self.repository.update(asset_id, values)
        if row is None:
            raise AssetNotFound()
        return AssetResponse.model_validate(row)

    async def delete(self, asset_id: uuid.UUID) -> None:
        """Delete an asset."""
        if not await self.repository.delete(asset_id):
            raise AssetNotFound()

    async def names(self) -> list[str]:
        """The names on the first page of the project's assets (written by hand)."""
        page = await self.list_page(AssetListParams(limit=100))
        return [asset.name for asset in page.items]
