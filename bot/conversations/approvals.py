"""Approval requests in chat: approve / reject buttons for the approver, the answer back."""

from __future__ import annotations

from bot.conversations.registry import Registry


def register(registry: Registry) -> None:
    """Register the approval actions and notice renderers (filled in by the pipeline area)."""
