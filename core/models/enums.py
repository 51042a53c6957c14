"""Enumerations stored as short strings (no database enum types: easy migrations)."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    REP = "rep"
    MANAGER = "manager"
    TECHNICIAN = "technician"
    ADMIN = "admin"


class Platform(StrEnum):
    TELEGRAM = "telegram"
    SLACK = "slack"
    CONSOLE = "console"


class Stage(StrEnum):
    """Deal stages in the order the source names them, plus Lost."""

    OPPORTUNITY = "opportunity"
    LEAD_ALLOCATED = "lead_allocated"
    CONTACTED = "contacted"
    QUALIFIED = "qualified"
    SOLUTION = "solution"
    ORDER_PLACED = "order_placed"
    LOST = "lost"


OPEN_STAGES: tuple[Stage, ...] = (
    Stage.OPPORTUNITY,
    Stage.LEAD_ALLOCATED,
    Stage.CONTACTED,
    Stage.QUALIFIED,
    Stage.SOLUTION,
)
STAGE_SEQUENCE: tuple[Stage, ...] = (*OPEN_STAGES, Stage.ORDER_PLACED)


class ActivityKind(StrEnum):
    VISIT = "visit"
    CALL = "call"
    MEETING = "meeting"
    EMAIL = "email"


class FollowUpStatus(StrEnum):
    OPEN = "open"
    DONE = "done"
    CANCELLED = "cancelled"


class NoticeStatus(StrEnum):
    PENDING = "pending"
    CLAIMED = "claimed"
    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"
