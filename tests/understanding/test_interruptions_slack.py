"""The conversation of tests/understanding/scenario.py on Slack: signed requests to the real
bolt app and the fake Web API."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.app import App
from bot.handlers.slack import SlackDoor
from tests.handlers.fake_slack import FakeSlack
from tests.handlers.slack_fixtures import fake_fixture  # noqa: F401
from tests.handlers.slack_support import SignedSlack, SlackUser
from tests.handlers.test_slack import door, link, slack, slack_settings  # noqa: F401
from tests.understanding.scenario import STEPS, check


@pytest.fixture
async def slack_budi(app: App, door: SlackDoor, slack: SignedSlack,  # noqa: F811
                     fake: FakeSlack) -> AsyncIterator[SlackUser]:
    link(app, "budi", "U1")
    yield SlackUser(slack, fake, door, "U1")


async def test_the_conversation_on_slack(slack_budi: SlackUser) -> None:
    transcript = []
    for kind, arg, _ in STEPS:
        transcript.append(await (slack_budi.say(arg) if kind == "say"
                                 else slack_budi.press(arg)))
    check(transcript)


