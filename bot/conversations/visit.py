"""Log a visit or call in a few taps."""

from __future__ import annotations

from bot.conversations.registry import Registry


def register(registry: Registry) -> None:
    """Register this module's flows, intents and actions (filled in by its area)."""
