"""Pydantic schemas: request bodies and responses."""
