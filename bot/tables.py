"""Every table of the product on one metadata: the sales domain's (core.models) and the chat
side's (conversation state, update records, the intake). Import this module before creating a
schema or comparing one (migrations/env.py, tests, benchmarks)."""

from __future__ import annotations

import bot.conversations.models
import bot.intake.models  # noqa: F401  (inbound_updates)
import core.models  # noqa: F401  (the sales domain's tables)
from core.models.base import Base

metadata = Base.metadata

__all__ = ["Base", "metadata"]
