"""One update on its way through the engine's steps: what each step found so far."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from bot.conversations.messages import Incoming
from bot.i18n import Translator
from core.models import ChatIdentity, User

if TYPE_CHECKING:
    from bot.conversations.understanding.understander import Understanding


@dataclass(slots=True, eq=False)
class State:
    """One conversation_states row's values as the steps see and change them (state.py
    reads it and writes it back when changed)."""

    flow: str | None
    state: str | None
    data: dict[str, Any]
    token: int
    expires_at: datetime | None
    updated_at: datetime


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
    state: State | None = None
    understanding: Understanding | None = None
    loaded: tuple[Any, ...] = ()  # the state's values as read (state.py saves changes)
