"""Search and lookup queries are length-capped: a huge query is cut, answered, and cheap."""

from __future__ import annotations

import time

from bot.app import App
from core import contact_search, knowledge_search
from tests.support.chat import CollectingChat, texts


async def test_huge_queries_are_cut_and_answered(app: App, chat: CollectingChat) -> None:
    assert knowledge_search.MAX_QUERY_CHARS == 200 and contact_search.MAX_QUERY_CHARS == 120
    budi = chat.as_user("budi")
    huge = "pricing policy " * 270  # ~4,000 characters, under the message limit
    started = time.perf_counter()
    out_kb = await budi.say(f"/kb {huge}")
    out_lookup = await budi.say(f"/find {'sinar jaya ' * 370}")
    assert texts(out_kb) and texts(out_lookup)
    assert "something went wrong" not in texts(out_kb) + texts(out_lookup)
    assert time.perf_counter() - started < 20
