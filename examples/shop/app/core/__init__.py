"""Configuration, database, security and errors."""
