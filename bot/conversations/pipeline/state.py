"""Step 5, lock state: the conversation state row of (platform, chat, user), created when
missing and locked for the update's transaction (FOR UPDATE on PostgreSQL; SQLite's
BEGIN IMMEDIATE already serialises writers). Also how a state is cleared and saved.

The row is read as plain columns into a State the session does not track: the route step
changes it, and `save` writes it back with one UPDATE when anything changed
(no unit-of-work flush per update; the ORM skipped unchanged values the same way)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from bot.conversations.messages import Reply
from bot.conversations.models import ConversationState
from bot.conversations.pipeline.update import State, Update
from core.ports import Clock
from core.prepared import Prepared

# What a step may change, in this order (COLUMNS[i] is the i-th value of a snapshot).
COLUMNS = (ConversationState.flow, ConversationState.state, ConversationState.data,
           ConversationState.token, ConversationState.expires_at, ConversationState.updated_at)
_NAMES = tuple(c.key for c in COLUMNS)
_STATE_QUERY = (
    select(*COLUMNS)
    .where(ConversationState.platform == bindparam("platform"),
           ConversationState.chat_id == bindparam("chat_id"),
           ConversationState.external_user_id == bindparam("external_user_id"))
    .with_for_update()
)
_SAVE = Prepared(update(ConversationState)
                 .where(ConversationState.platform == bindparam("k_platform"),
                        ConversationState.chat_id == bindparam("k_chat_id"),
                        ConversationState.external_user_id == bindparam("k_external_user_id"))
                 .values({name: bindparam(name) for name in _NAMES}))


def loaded(u: Update, values: Any) -> None:
    """u.state from the row's COLUMNS values, and its snapshot to compare on save."""
    flow, state, data, token, expires_at, updated_at = values
    u.state = State(flow, state, data, token, expires_at, updated_at)
    u.loaded = (flow, state, dict(data) if isinstance(data, dict) else data, token,
                expires_at, updated_at)


def save(u: Update) -> None:
    """Write the state back in the update's transaction when a step changed it."""
    st = u.state
    if st is None or u.session is None:
        return
    now = (st.flow, st.state, st.data, st.token, st.expires_at, st.updated_at)
    if now == u.loaded:
        return
    inc = u.incoming
    _SAVE.execute(u.session.connection(), {
        "k_platform": inc.platform, "k_chat_id": inc.chat_id,
        "k_external_user_id": inc.user_id, **dict(zip(_NAMES, now, strict=True))})


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
        conn = session.connection()
        row = conn.execute(_STATE_QUERY, params).first()
        if row is None:
            conn.execute(self._insert(ConversationState).values(
                **params, user_id=user.id, data={}, token=0, updated_at=u.now,
            ).on_conflict_do_nothing())
            row = conn.execute(_STATE_QUERY, params).first()
        assert row is not None
        loaded(u, row)
        return None


def clear(state: State, clock: Clock) -> None:
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
