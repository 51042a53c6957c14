"""The sales domain's models; importing this package registers their tables on Base.metadata.

The chat side's tables (conversation state, update records, the intake) are
bot.conversations.models and bot.intake.models; `bot.tables` imports both halves (migrations,
tests and benchmarks that create a schema import it)."""

from core.models import (  # noqa: F401  (imported for their tables)
    configurator,
    contacts,
    coverage,
    customers,
    derived,
    fieldday,
    fieldservice,
    knowledge,
    organisation,
    pipeline,
    quotes,
    reports,
    scheduling,
)
from core.models.accounts import Company, Contact
from core.models.base import Base
from core.models.enums import (
    OPEN_STAGES,
    STAGE_SEQUENCE,
    ActivityKind,
    FollowUpStatus,
    NoticeStatus,
    Platform,
    Role,
    Stage,
)
from core.models.notices import NoticeRow
from core.models.org import ChatIdentity, InviteCode, Team, Territory, TerritoryRep, User
from core.models.sales import (
    Activity,
    ApprovalRequest,
    Deal,
    DealStageChange,
    FollowUp,
    MaterialSent,
)

__all__ = [
    "OPEN_STAGES",
    "STAGE_SEQUENCE",
    "Activity",
    "ActivityKind",
    "ApprovalRequest",
    "Base",
    "ChatIdentity",
    "Company",
    "Contact",
    "Deal",
    "DealStageChange",
    "FollowUp",
    "FollowUpStatus",
    "InviteCode",
    "MaterialSent",
    "NoticeRow",
    "NoticeStatus",
    "Platform",
    "Role",
    "Stage",
    "Team",
    "Territory",
    "TerritoryRep",
    "User",
]
