"""Domain errors: a code and parameters; the conversation layer turns them into words."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A rule of the domain refused an operation; nothing was changed.

    `code` is a stable identifier (e.g. ``"deal.gate_missing"``); `params` fill the
    localized message the bot shows for that code.
    """

    def __init__(self, code: str, **params: Any) -> None:
        super().__init__(code)
        self.code = code
        self.params = params

    def __repr__(self) -> str:
        return f"DomainError({self.code!r}, {self.params!r})"


class NotFound(DomainError):
    """The record does not exist or the user may not see it (never say which)."""


class Forbidden(DomainError):
    """The user's role or scope does not allow the operation."""


class Conflict(DomainError):
    """Someone else changed the record meanwhile (optimistic concurrency) or it is taken."""
