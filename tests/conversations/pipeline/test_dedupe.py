"""Step 3, deduplicate: an update id recorded before stops the update."""

from __future__ import annotations

import pytest

from bot.conversations.pipeline.dedupe import AlreadyProcessed, Deduplicate
from core.db import Database
from tests.conversations.pipeline.conftest import MakeUpdate


def test_first_delivery_goes_on_a_redelivery_stops(database: Database,
                                                   make_update: MakeUpdate) -> None:
    step = Deduplicate(database.is_postgres)
    assert step(make_update(update_id="d-1", text="hi")) is None
    with pytest.raises(AlreadyProcessed):
        step(make_update(update_id="d-1", text="hi"))
    assert step(make_update(update_id="d-1", text="hi", platform="slack")) is None  # own ids


def test_an_update_without_id_is_never_a_redelivery(database: Database,
                                                     make_update: MakeUpdate) -> None:
    step = Deduplicate(database.is_postgres)
    assert step(make_update(text="hi")) is None
    assert step(make_update(text="hi")) is None
