"""Fixtures for the Slack door tests: the fake Web API server and settings pointing at it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import SecretStr

from core.settings import Settings
from tests.handlers.fake_slack import FakeSlack
from tests.handlers.slack_support import BOT_TOKEN, SIGNING_SECRET


@pytest.fixture(name="fake")
async def fake_fixture() -> AsyncIterator[FakeSlack]:
    server = await FakeSlack(retry_after=0).start()
    yield server
    await server.stop()


def slack_settings_for(settings: Settings, fake: FakeSlack, **more: Any) -> Settings:
    """The test settings with Slack's token, signing secret and the fake's API URL."""
    return settings.model_copy(update={
        "slack_bot_token": SecretStr(BOT_TOKEN),
        "slack_signing_secret": SecretStr(SIGNING_SECRET),
        "slack_api_url": fake.api_url, **more})
