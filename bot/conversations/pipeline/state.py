"""Step 5, lock state: the conversation state row of (platform, chat, user), created when
missing and locked for the update's transaction (FOR UPDATE on PostgreSQL; SQLite's
BEGIN IMMEDIATE already serialises writers). Also how a state is cleared."""

from __future__ import annotations

from sqlalchemy import bindparam, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from bot.conversations.messages import Reply
from bot.conversations.models import ConversationState
from bot.conversations.pipeline.update import Update
from core.ports import Clock

_STATE_QUERY = (
    select(ConversationState)
    .where(ConversationState.platform == bindparam("platform"),
           ConversationState.chat_id == bindparam("chat_id"),
           ConversationState.external_user_id == bindparam("external_user_id"))
    .with_for_update()
    .execution_options(populate_existing=True)
)


class LockState:
    def __init__(self, is_postgres: bool) -> None:
        self._insert = pg_insert if is_postgres else sqlite_insert

    def __call__(self, u: Update) -> list[Reply] | None:
        """Set u.state (identify may have read it already)."""
        if u.state is not None:
            return None
        session, inc, user = u.session, u.incoming, u.user
        assert session is not None and user is not None
        params = {"platform": inc.platform, "chat_id": inc.chat_id,
                  "external_user_id": inc.user_id}
        state = session.scalar(_STATE_QUERY, params)
        if state is None:
            session.execute(self._insert(ConversationState).values(
                **params, user_id=user.id, data={}, token=0, updated_at=u.now,
            ).on_conflict_do_nothing())
            state = session.scalar(_STATE_QUERY, params)
        assert state is not None
        u.state = state
        return None


def clear(state: ConversationState, clock: Clock) -> None:
    """No flow open any more; the token moves on (the old buttons stop working)."""
    if (state.flow is None and state.state is None and not state.data
            and state.expires_at is None):
        # Already clear: no flow button can match it (a new flow always takes a fresh
        # token), so skip the write: a one-shot command (/whoami, a lookup) then costs
        # no UPDATE, and no autoflush runs in the middle of its step.
        return
    state.flow = None
    state.state = None
    state.data = {}
    state.expires_at = None
    state.token = (state.token or 0) + 1
    state.updated_at = clock.now()
