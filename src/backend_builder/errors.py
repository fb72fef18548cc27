"""Errors that the CLI reports as one clear message, never as a traceback."""


class BuilderError(Exception):
    """A user mistake or an environment problem, with a message that names it."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
