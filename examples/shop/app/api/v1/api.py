"""The version 1 router: every resource router is included here.

`app/main.py` includes each of these routers in the application under `/api/v1`,
behind an index that finds a request's router by its path (`app/core/routing.py`).
"""

from app.api.v1.endpoints import (
    assets,
    auth,
    customers,
    invoices,
    notifications,
    projects,
    users,
)
from app.core.routing import ApiRouter

api_router = ApiRouter()
api_router.include_router(customers.router, prefix="/customers", tags=["customers"])
api_router.include_router(invoices.router, prefix="/invoices", tags=["invoices"])
api_router.include_router(
    notifications.router, prefix="/notifications", tags=["notifications"]
)
api_router.include_router(assets.router, prefix="/assets", tags=["assets"])
api_router.include_router(auth.router, prefix="/auth", tags=["auth"])
api_router.include_router(users.router, prefix="/users", tags=["users"])
api_router.include_router(projects.router, prefix="/projects", tags=["projects"])
