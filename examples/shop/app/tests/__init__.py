"""Test suite of the backend."""
