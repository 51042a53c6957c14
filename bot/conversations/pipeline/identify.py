"""Step 4, identify: the linked user of this chat identity (a stranger may redeem an
invite code with /start), read together with the locked conversation state row when it
exists (the common case in one statement). The row is read on the driver and the user and
identity made persistent objects of the session from it (core.prepared): the ORM's loading
of the two cost more than the rest of the step."""

from __future__ import annotations

import logging

from sqlalchemy import and_, bindparam, select

from bot.conversations.messages import Reply
from bot.conversations.models import ConversationState
from bot.conversations.pipeline.state import COLUMNS, loaded
from bot.conversations.pipeline.update import Update
from core import users as user_service
from core.errors import DomainError
from core.models import ChatIdentity, User
from core.prepared import Hydrator, Prepared, autoflush

log = logging.getLogger("bot.conversations.engine")

_USERS, _IDENTITIES = User.__table__.columns, ChatIdentity.__table__.columns
_IDENTITY_QUERY = (
    select(*_USERS, *_IDENTITIES)
    .join(ChatIdentity, ChatIdentity.user_id == User.id)
    .where(ChatIdentity.platform == bindparam("platform"),
           ChatIdentity.external_id == bindparam("external_id"))
)
_IDENTITY_STATE_QUERY = (
    select(*_USERS, *_IDENTITIES, *COLUMNS)
    .join(ChatIdentity, ChatIdentity.user_id == User.id)
    .join(ConversationState, and_(
        ConversationState.platform == ChatIdentity.platform,
        ConversationState.external_user_id == ChatIdentity.external_id,
        ConversationState.chat_id == bindparam("chat_id")))
    .where(ChatIdentity.platform == bindparam("platform"),
           ChatIdentity.external_id == bindparam("external_id"))
    .with_for_update(of=ConversationState)  # only the state row, as state.py's query
)
_READ_WITH_STATE = Prepared(_IDENTITY_STATE_QUERY)
_READ = Prepared(_IDENTITY_QUERY)
_USER, _IDENTITY = Hydrator(User.__mapper__), Hydrator(ChatIdentity.__mapper__)
_SPLIT = len(_USERS)
_END = _SPLIT + len(_IDENTITIES)


def identify(u: Update) -> list[Reply] | None:
    """Set u.user, u.identity (and u.state when the row exists) and the user's translator;
    or answer a stranger, a deactivated account."""
    session, inc = u.session, u.incoming
    assert session is not None
    params = {"platform": inc.platform, "external_id": inc.user_id, "chat_id": inc.chat_id}
    autoflush(session)  # as a query through the session would
    conn = session.connection()
    found = _READ_WITH_STATE.first(conn, params)
    if found is not None:
        loaded(u, found[_END:])
    else:
        found = _READ.first(conn, params)
        if found is None:
            return unlinked(u)
    user = _USER(session, found[:_SPLIT])
    identity = _IDENTITY(session, found[_SPLIT:_END])
    u.user, u.identity = user, identity
    u.t = u.t.in_language(user.locale, user.timezone)
    if not user.active:
        return [Reply(u.t("Your account is deactivated. Please contact your admin."))]
    if not inc.chat_is_group and identity.chat_id != inc.chat_id:
        identity.chat_id = inc.chat_id  # where pushes to this user go
    return None


def unlinked(u: Update) -> list[Reply]:
    """A chat identity no user is linked to: /start <invite code> links it."""
    session, inc, t = u.session, u.incoming, u.t
    assert session is not None
    text = inc.text or ""
    if text.startswith("/start") and not inc.chat_is_group:
        code = text[len("/start"):].strip()
        if code:
            try:
                with session.begin_nested():
                    user = user_service.redeem_invite(
                        session, code=code, platform=inc.platform, external_id=inc.user_id,
                        chat_id=inc.chat_id, now=u.now)
            except DomainError as exc:
                return [Reply(t.error(exc.code, exc.params))]
            t = t.in_language(user.locale, user.timezone)
            return [Reply(t("Welcome, {name}! Your chat is now linked.", name=user.name))]
    if inc.chat_is_group and not inc.button:
        log.debug("dropped a group message from an unlinked user (platform=%s)", inc.platform)
        return []
    return [Reply(t("Hello! I am the sales assistant of this company and I only talk to "
                    "registered users. To start, send /start followed by the invite code "
                    "your admin gave you."), ephemeral=True)]
