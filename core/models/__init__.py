"""All models; importing this package registers every table on Base.metadata."""

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
from core.models.conversation import ConversationState, ProcessedUpdate
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
from core.models.inbox import InboundUpdate as InboundUpdate  # re-exported
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
    "ConversationState",
    "Deal",
    "DealStageChange",
    "FollowUp",
    "FollowUpStatus",
    "InviteCode",
    "MaterialSent",
    "NoticeRow",
    "NoticeStatus",
    "Platform",
    "ProcessedUpdate",
    "Role",
    "Stage",
    "Team",
    "Territory",
    "TerritoryRep",
    "User",
]
