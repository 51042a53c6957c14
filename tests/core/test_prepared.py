"""core.prepared: statements run on the driver give what Connection.execute gives (typed
values, row counts, wrapped errors, listeners served), and hydrated objects are the
session's own persistent objects."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import bindparam, event, insert, select, update
from sqlalchemy.exc import IntegrityError

from bot.conversations.models import ConversationState
from core.clock import ManualClock
from core.db import Database, KeptConnection
from core.models import ChatIdentity, User
from core.prepared import Hydrator, Prepared

_READ = Prepared(select(ConversationState.data, ConversationState.token,
                        ConversationState.expires_at, ConversationState.flow)
                 .where(ConversationState.platform == "t",
                        ConversationState.chat_id == bindparam("chat")))
_INSERT = Prepared(insert(ConversationState).values(
    platform="t", chat_id=bindparam("chat"), external_user_id="u", data=bindparam("data"),
    token=bindparam("token"), expires_at=bindparam("at"), updated_at=bindparam("at")))
_BUMP = Prepared(update(ConversationState).where(ConversationState.platform == "t")
                 .values(token=ConversationState.token + bindparam("by")))


def test_values_and_counts_as_connection_execute_gives_them(database: Database) -> None:
    at = datetime(2026, 3, 4, 5, 6, 7, 123456, tzinfo=UTC)
    with database.session() as session:
        conn = session.connection()
        assert _INSERT.execute(conn, {"chat": "a", "data": {"k": [1, "x"]}, "token": 3,
                                      "at": at}) == 1
        _INSERT.execute(conn, {"chat": "b", "data": {}, "token": 0, "at": at})
        row = _READ.first(conn, {"chat": "a"})
        assert row == ({"k": [1, "x"]}, 3, at, None)
        assert row == tuple(conn.execute(_READ.statement, {"chat": "a"}).one())
        assert row[2].tzinfo is not None
        assert _READ.first(conn, {"chat": "nobody"}) is None
        assert _BUMP.execute(conn, {"by": 2}) == 2
        assert _READ.first(conn, {"chat": "b"}) == ({}, 2, at, None)


def test_a_driver_error_is_sqlalchemys(database: Database) -> None:
    at = datetime(2026, 3, 4, tzinfo=UTC)
    with database.sessionmaker() as session, session.begin():
        conn = session.connection()
        _INSERT.execute(conn, {"chat": "a", "data": {}, "token": 0, "at": at})
        with pytest.raises(IntegrityError):
            _INSERT.execute(conn, {"chat": "a", "data": {}, "token": 0, "at": at})
        session.rollback()


def test_cursor_listeners_see_the_statements(database: Database) -> None:
    seen: list[str] = []

    def listener(*args: object) -> None:
        seen.append(str(args[2]))

    at = datetime(2026, 3, 4, tzinfo=UTC)
    event.listen(database.engine, "before_cursor_execute", listener)
    try:
        with database.session() as session:
            conn = session.connection()
            assert _INSERT.execute(conn, {"chat": "a", "data": {"n": 1}, "token": 5,
                                          "at": at}) == 1
            assert _READ.first(conn, {"chat": "a"}) == ({"n": 1}, 5, at, None)
    finally:
        event.remove(database.engine, "before_cursor_execute", listener)
    assert [s.split()[0] for s in seen] == ["INSERT", "SELECT"]


def test_hydrated_objects_are_the_sessions_own(database: Database, world: object,
                                               clock: ManualClock) -> None:
    hydrate = Hydrator(User.__mapper__)
    read = Prepared(select(*User.__table__.columns).where(User.login == bindparam("login")))
    with database.session() as session:
        values = read.first(session.connection(), {"login": "budi"})
        assert values is not None
        user = hydrate(session, values)
        assert user in session and not session.dirty
        assert hydrate(session, values) is user  # the identity map's object
        assert session.get(User, user.id) is user
        assert user.login == "budi" and user.team is not None  # relationships load lazily
        user.name = "Budi Renamed"
    with database.session() as session:
        assert session.scalars(select(User.name).where(User.login == "budi")).one() == (
            "Budi Renamed")
        loaded = session.scalars(select(User).where(User.login == "budi")).one()
        values = read.first(session.connection(), {"login": "budi"})
        assert values is not None and hydrate(session, values) is loaded
    with pytest.raises(ValueError):
        Hydrator(_with_an_expression())
    identity = Hydrator(ChatIdentity.__mapper__)
    assert identity.primary_key == [0] and len(identity.attributes) == 6


def _with_an_expression() -> Any:
    """A mapper with an attribute that is not one of its table's columns."""
    from sqlalchemy import Column, Integer, MetaData, String, Table, func
    from sqlalchemy.orm import column_property, registry

    table = Table("things", MetaData(), Column("id", Integer, primary_key=True),
                  Column("name", String(10)))

    class Thing:
        pass

    return registry().map_imperatively(Thing, table, properties={
        "upper": column_property(func.upper(table.c.name))})


def test_a_kept_connection_serves_one_transaction_after_another(database: Database,
                                                                 world: object) -> None:
    kept = KeptConnection(database)
    flushed: list[int] = []

    def on_flush(*args: object) -> None:
        flushed.append(1)

    event.listen(database.sessionmaker, "after_flush", on_flush)
    try:
        with kept.session() as session, session.begin():
            first = session.connection()
            session.scalars(select(User).where(User.login == "budi")).one().name = "Budi A"
        assert flushed  # the database's sessionmaker's listeners see its flushes
        with kept.session() as session, session.begin():
            assert session.connection() is first  # the same connection, no checkout
            session.scalars(select(User).where(User.login == "budi")).one().name = "Budi B"
            session.rollback()  # rolled back: the change is gone, the connection stays
        with kept.session() as session:
            assert session.scalars(select(User.name).where(User.login == "budi")).one() == (
                "Budi A")
        first.invalidate()  # a lost connection is replaced
        with kept.session() as session, session.begin():
            assert session.connection() is not first
            assert session.scalars(select(User.name).where(User.login == "budi")).one() == (
                "Budi A")
    finally:
        event.remove(database.sessionmaker, "after_flush", on_flush)
        kept.close()
