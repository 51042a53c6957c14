"""Fixtures for the Telegram door tests: the fake Bot API server and a running door."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.app import App
from bot.handlers.telegram import TelegramDoor
from core import users as user_service
from tests.handlers.fake_telegram import FakeTelegram


@pytest.fixture(name="fake")
async def fake_fixture() -> AsyncIterator[FakeTelegram]:
    server = FakeTelegram()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture(name="door")
async def door_fixture(app: App, fake: FakeTelegram) -> AsyncIterator[TelegramDoor]:
    """The real PTB stack, long polling the fake server."""
    running = TelegramDoor(app.engine, fake.token, api_url=fake.url, poll_timeout=1)
    await running.start()
    yield running
    await running.stop()


def link(app: App, login: str, tg_user: dict[str, Any]) -> None:
    """Link a Telegram user id to a demo user (as a redeemed invite would)."""
    with app.db.session() as session:
        user = user_service.get_user_by_login(session, login)
        user_service.link_identity(session, user, platform="telegram",
                                   external_id=str(tg_user["id"]),
                                   chat_id=str(tg_user["id"]), now=app.clock.now())
