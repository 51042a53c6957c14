"""Configure, price and approve quotes; PDF in the chat."""

from __future__ import annotations

from bot.conversations.registry import Registry


def register(registry: Registry) -> None:
    """Register this module's flows, intents and actions (filled in by its area)."""
