"""Shop: a multi-tenant FastAPI backend."""
