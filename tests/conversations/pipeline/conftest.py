"""An Update in an open transaction, for the in-transaction steps."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.conversations.messages import Incoming
from bot.conversations.pipeline.update import Update
from bot.conversations.registry import build_registry
from bot.i18n import Translator
from core import users as user_service
from core.clock import ManualClock
from core.db import Database
from core.models import User

MakeUpdate = Callable[..., Update]


@pytest.fixture
def linked(database: Database, clock: ManualClock, world: object) -> User:
    """budi, linked as console user ext-budi in chat c-budi."""
    with database.session() as session:
        budi = session.scalars(select(User).where(User.login == "budi")).one()
        user_service.link_identity(session, budi, platform="console", external_id="ext-budi",
                                   chat_id="c-budi", now=clock.now())
        session.expunge(budi)
        return budi


@pytest.fixture
def session(database: Database) -> Iterator[Session]:
    with database.sessionmaker() as s, s.begin():
        yield s


@pytest.fixture
def make_update(session: Session, clock: ManualClock) -> MakeUpdate:
    errors = build_registry(()).errors  # the engine's own error texts, as the engine has them

    def make(**kw: object) -> Update:
        kw.setdefault("platform", "console")
        kw.setdefault("chat_id", "c-budi")
        kw.setdefault("user_id", "ext-budi")
        inc = Incoming(**kw)  # type: ignore[arg-type]
        return Update(inc, clock.now(), Translator("en", "Asia/Jakarta", errors=errors),
                      session)
    return make
