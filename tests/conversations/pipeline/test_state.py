"""Step 5, lock state: the state row created once and read back; clearing moves the token."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.conversations.models import ConversationState
from bot.conversations.pipeline.identify import identify
from bot.conversations.pipeline.state import LockState, clear
from core.clock import ManualClock
from core.db import Database
from core.models import User
from tests.conversations.pipeline.conftest import MakeUpdate


def test_state_row_created_once(linked: User, database: Database, session: Session,
                                make_update: MakeUpdate) -> None:
    step = LockState(database.is_postgres)
    first = make_update(text="hi")
    identify(first)
    assert step(first) is None and first.state is not None
    assert first.state.user_id == linked.id and first.state.token == 0
    first.state.flow = "pick"
    session.flush()
    again = make_update(text="hi")
    identify(again)  # now reads the state row along with the identity
    assert again.state is not None and again.state.flow == "pick"
    assert step(again) is None
    assert session.scalar(select(func.count()).select_from(ConversationState)) == 1


def test_clear_moves_the_token_only_when_something_was_open(clock: ManualClock) -> None:
    state = ConversationState(platform="console", chat_id="c", external_user_id="e",
                              flow=None, state=None, data={}, token=3, expires_at=None,
                              updated_at=clock.now())
    clear(state, clock)
    assert state.token == 3  # already clear: no write
    state.flow, state.state, state.data = "pick", "colour", {"x": 1}
    state.expires_at = clock.now() + timedelta(minutes=5)
    clock.advance(timedelta(minutes=1))
    clear(state, clock)
    assert (state.flow, state.state, state.data, state.expires_at) == (None, None, {}, None)
    assert state.token == 4 and state.updated_at == clock.now()
