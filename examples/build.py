"""Regenerate the example backends: `python examples/build.py` (or `make examples`).

The test suite builds them again in a temporary folder and fails on any
difference, so templates and examples never drift apart.
"""

import shutil
import sys
import tempfile
from pathlib import Path

from backend_builder.plan import apply_plan
from backend_builder.project import plan_new
from backend_builder.resource import evolve
from backend_builder.resource.generate import ALL_LAYERS, plan_generate

EXAMPLES = Path(__file__).resolve().parent
SHOP = (
    ("Customer", "name:str email:email:optional"),
    (
        "Invoice",
        "number:str:unique amount:decimal status:enum:draft,sent,paid:default=draft "
        "due_on:date:optional customer:ref",
    ),
    ("Notification", "title:str message:text:optional read:bool:default=false user:ref"),
    ("Asset", "name:str description:text:optional"),
)
# A hand edit of Asset's service, then five changes of Asset: every one keeps the edit.
ASSET_SERVICE_EDIT = '''
    async def names(self) -> list[str]:
        """The names on the first page of the project's assets (written by hand)."""
        page = await self.list_page(AssetListParams(limit=100))
        return [asset.name for asset in page.items]
'''
ASSET_CHANGES = (
    lambda root: evolve.plan_add_fields(root, "Asset", ["condition:enum:new,used:default=new"]),
    lambda root: evolve.plan_add_fields(root, "Asset", ["bought_on:date:optional"]),
    lambda root: evolve.plan_rename_field(root, "Asset", "description", "notes"),
    lambda root: evolve.plan_change_field(
        root, "Asset", "condition:enum:new,used,broken:default=new"
    ),
    lambda root: evolve.plan_remove_fields(root, "Asset", ["bought_on"]),
)


def build_shop(target: Path) -> None:
    """Generate the `shop` example backend at `target` (which must not exist).

    Its `.env` holds a random secret, as in every new backend: it is not part of
    the example.
    """
    apply_plan(plan_new(target))
    for name, fields in SHOP:
        apply_plan(plan_generate(target, name, fields.split(), layers=ALL_LAYERS).plan)
    service = target / "app/services/asset_service.py"
    service.write_text(service.read_text() + ASSET_SERVICE_EDIT)
    for change in ASSET_CHANGES:
        apply_plan(change(target).plan)
    (target / ".env").unlink()


def main() -> None:
    """Rebuild examples/shop in place."""
    with tempfile.TemporaryDirectory() as scratch:
        fresh = Path(scratch) / "shop"
        build_shop(fresh)
        shutil.rmtree(EXAMPLES / "shop", ignore_errors=True)
        shutil.copytree(fresh, EXAMPLES / "shop")
    print(f"rebuilt {EXAMPLES / 'shop'}", file=sys.stderr)


if __name__ == "__main__":
    main()
