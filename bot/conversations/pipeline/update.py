"""One update on its way through the engine's steps: what each step found so far."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from bot.conversations.messages import Incoming
from bot.conversations.models import ConversationState
from bot.i18n import Translator
from core.models import ChatIdentity, User

if TYPE_CHECKING:
    from bot.conversations.understanding.understander import Understanding


@dataclass(slots=True, eq=False)
class Update:
    """The update being handled. `incoming` is the cleaned message; `t` the translator the
    answer is written with (the user's, or the language a request or flow was asked in)."""

    incoming: Incoming
    now: datetime
    t: Translator
    session: Session | None = None
    user: User | None = None
    identity: ChatIdentity | None = None
    state: ConversationState | None = None
    understanding: Understanding | None = None
