"""Database access; the only code that builds tenant queries."""
