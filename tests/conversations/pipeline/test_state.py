"""Step 5, lock state: the state row created once and read back; clearing moves the token."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from bot.conversations.models import ConversationState
from bot.conversations.pipeline.identify import identify
from bot.conversations.pipeline.state import LockState, clear, save
from bot.conversations.pipeline.update import State
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
    assert first.state.token == 0 and first.state.flow is None
    row = session.scalars(select(ConversationState)).one()
    assert row.user_id == linked.id
    first.state.flow = "pick"
    save(first)  # a changed state is written back
    session.expire_all()
    again = make_update(text="hi")
    identify(again)  # now reads the state row along with the identity
    assert again.state is not None and again.state.flow == "pick"
    assert step(again) is None
    assert session.scalar(select(func.count()).select_from(ConversationState)) == 1
    statements: list[str] = []

    def seen(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(session.get_bind(), "before_cursor_execute", seen)
    try:
        save(again)  # unchanged: no UPDATE
        again.state.token += 1
        save(again)
    finally:
        event.remove(session.get_bind(), "before_cursor_execute", seen)
    assert len(statements) == 1 and statements[0].startswith("UPDATE conversation_states")


def test_clear_moves_the_token_only_when_something_was_open(clock: ManualClock) -> None:
    state = State(flow=None, state=None, data={}, token=3, expires_at=None,
                  updated_at=clock.now())
    clear(state, clock)
    assert state.token == 3  # already clear: no write
    state.flow, state.state, state.data = "pick", "colour", {"x": 1}
    state.expires_at = clock.now() + timedelta(minutes=5)
    clock.advance(timedelta(minutes=1))
    clear(state, clock)
    assert (state.flow, state.state, state.data, state.expires_at) == (None, None, {}, None)
    assert state.token == 4 and state.updated_at == clock.now()
