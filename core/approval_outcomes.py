"""What a decided approval does, per kind, named in one place (no area registers itself at
import time): a discount applies to its quote version or not, a contract approval unlocks
the deal's Order placed gate. Decide through `decide` here."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType

from sqlalchemy.orm import Session

from core import approvals, pipeline, quotes
from core.models import ApprovalRequest, User

OUTCOMES: Mapping[str, approvals.Outcome] = MappingProxyType({
    "contract": pipeline.on_contract_decided,
    "discount": quotes.on_discount_decided,
})


def decide(session: Session, *, request_id: int, user: User, approve: bool, now: datetime,
           note: str | None = None) -> ApprovalRequest:
    """Approve or reject a pending request (core.approvals.decide) with its kind's outcome."""
    return approvals.decide(session, request_id=request_id, user=user, approve=approve,
                            now=now, note=note, outcomes=OUTCOMES)
