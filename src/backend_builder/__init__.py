"""backend-builder: generate multi-tenant FastAPI backends, correctly, every time."""

__version__ = "0.1.0"
