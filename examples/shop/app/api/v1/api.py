"""The version 1 router: every resource router is included here.

Resource routers come first (the generator inserts them before the account
routers): FastAPI tries routes in order, and the resources carry the traffic.
"""

from fastapi import APIRouter

from app.api.v1.endpoints import (
    assets,
    auth,
    customers,
    invoices,
    notifications,
    projects,
    users,
)

api_router = APIRouter()
api_router.include_router(customers.router, prefix="/customers", tags=["customers"])
api_router.include_router(invoices.router, prefix="/invoices", tags=["invoices"])
api_router.include_router(
    notifications.router, prefix="/notifications", tags=["notifications"]
)
api_router.include_router(assets.router, prefix="/assets", tags=["assets"])
api_router.include_router(auth.router, prefix="/auth", tags=["auth"])
api_router.include_router(users.router, prefix="/users", tags=["users"])
api_router.include_router(projects.router, prefix="/projects", tags=["projects"])
