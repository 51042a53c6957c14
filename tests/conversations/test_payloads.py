"""A button's payload: what the engine writes on a button (`encode_payload`) the engine and
the doors read back with `decode_payload`, the one place that knows its format."""

from __future__ import annotations

import pytest

from bot.conversations.messages import Button
from bot.conversations.pipeline.run import Payload, decode_payload, encode_payload


def test_a_flow_buttons_payload_reads_back() -> None:
    payload = encode_payload(Button("Positive", "positive"), "visit", 0x1f)
    assert decode_payload(payload) == Payload("f", "visit", "positive", token="1f")


def test_an_action_buttons_payload_reads_back() -> None:
    payload = encode_payload(Button("Open", action="deal_open", arg="42"), None, 0)
    assert decode_payload(payload) == Payload("a", "deal_open", "42")


@pytest.mark.parametrize("junk", ["", "a", "a|x", "f|visit|1f", "x|a|b", "a|b|c|d|e",
                                  "f|v|1|2|3"])
def test_anything_the_engine_never_writes_reads_as_none(junk: str) -> None:
    assert decode_payload(junk) is None
