"""Errors that the CLI reports as one clear message, never as a traceback.

A `BuilderError` is structured so that any front end (the CLI, an MCP server)
can present it: a stable `code` to branch on, a `message` that names the
problem, a `hint` that says what to do, and where it applies the offending
`token`, `field`, `resource` or `path`, plus free-form `details`. The core keeps
command-line wording (such as option names) out of messages where it can.
"""

from collections.abc import Mapping
from typing import Any


class BuilderError(Exception):
    """A user mistake or an environment problem, with a message that names it."""

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        code: str = "error",
        token: str | None = None,
        field: str | None = None,
        resource: str | None = None,
        path: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.code = code
        self.token = token
        self.field = field
        self.resource = resource
        self.path = path
        self.details: dict[str, Any] = dict(details or {})

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form: `code` and `message` always, the rest when known."""
        document: dict[str, Any] = {"code": self.code, "message": self.message}
        for key in ("hint", "token", "field", "resource", "path"):
            value = getattr(self, key)
            if value is not None:
                document[key] = value
        if self.details:
            document["details"] = self.details
        return document
