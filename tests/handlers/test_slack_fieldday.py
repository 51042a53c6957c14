"""The field day on Slack (no location sharing there): where a location is asked the reply
says to paste a map link; a pasted Google Maps link, as Slack sends it (wrapped in <...>,
& escaped), is the location: customers near, a site set, a check-in verified."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from bot.app import App
from bot.handlers.slack import SlackDoor
from core.models import Company, User
from core.models.fieldday import VisitCheckin
from tests.handlers.fake_slack import FakeSlack
from tests.handlers.slack_fixtures import fake_fixture
from tests.handlers.slack_support import SignedSlack, SlackUser
from tests.handlers.test_slack import door, link, slack, slack_settings

__all__ = ["door", "fake_fixture", "slack", "slack_settings"]


@pytest.fixture
async def budi(app: App, door: SlackDoor, slack: SignedSlack, fake: FakeSlack
               ) -> AsyncIterator[SlackUser]:
    link(app, "budi", "U1")
    yield SlackUser(slack, fake, door, "U1")


async def test_map_links_stand_for_locations_on_slack(app: App, budi: SlackUser) -> None:
    with app.db.session() as s:
        sinar = s.scalars(select(Company).where(Company.name == "Sinar Jaya Abadi")).one()
        sinar.owner_id = s.scalars(select(User.id).where(User.login == "budi")).one()
        lat, lon = sinar.lat, sinar.lon
    out = await budi.cmd("near")
    assert "Where are you?" in out
    assert "Slack cannot share a location: paste a Google Maps or OpenStreetMap link" in out
    link_text = f"<https://www.google.com/maps/search/?api=1&amp;query={lat},{lon + 0.001}>"
    out = await budi.say(link_text)
    assert "Customers near you:" in out and "1. PT Sinar Jaya Abadi — 110 m" in out
    # a visit, then the link checks it in (verified)
    await budi.say("log visit hendro wibisono")
    await budi.press("👍 Positive")
    await budi.press("Skip")
    await budi.press("No next step")
    out = await budi.say(f"<https://www.google.com/maps/@{lat},{lon},18z>")
    assert "✅ Checked in at your visit to PT Sinar Jaya Abadi: verified" in out
    with app.db.session() as s:
        assert s.scalars(select(VisitCheckin.verified)).all() == [True]
