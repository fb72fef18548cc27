"""Errors that the CLI reports as one clear message, never as a traceback.

A `BuilderError` is structured so that any front end (the CLI, an MCP server)
can present it: a stable `code` to branch on, a `message` that names the
problem, a `hint` that says what to do, and where it applies the offending
`token`, `field`, `resource` or `path`, plus free-form `details`. The core keeps
command-line wording (such as option names) out of messages where it can.
"""

from collections.abc import Mapping
from typing import Any

DEFAULT_HINTS = {
    "invalid_spec": "a resource is a singular noun (Invoice, InvoiceLine) and a field "
    "name:type[:modifier...]; README.md's field language lists the types and modifiers",
    "same_name": "nothing to rename: the field already has that name",
}
"""The hint of an error raised without one of its own, by its code."""


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
        self.hint = hint if hint is not None else DEFAULT_HINTS.get(code)
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
