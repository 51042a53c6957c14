"""Step 1, throttle: the per-user abuse limit."""

from __future__ import annotations

from datetime import timedelta

from bot.conversations.messages import Incoming
from bot.conversations.pipeline.throttle import Throttle
from core.clock import ManualClock
from core.settings import Settings


def _settings(settings: Settings, limit: int) -> Settings:
    return settings.model_copy(update={"rate_limit_messages": limit,
                                       "rate_limit_window_seconds": 10})


def test_over_the_limit_answered_once_then_silent(settings: Settings,
                                                  clock: ManualClock) -> None:
    throttle = Throttle(_settings(settings, 2), clock)
    inc = Incoming("telegram", "1", "1", text="hi")
    assert throttle(inc) is None
    assert throttle(inc) is None
    first = throttle(inc)
    assert first is not None and "faster than I can follow" in first[0].text
    assert throttle(inc) == []  # dropped in silence
    assert throttle(Incoming("telegram", "2", "2", text="hi")) is None  # another user
    clock.advance(timedelta(seconds=11))
    assert throttle(inc) is None  # the window has passed


def test_console_and_a_zero_limit_are_never_throttled(settings: Settings,
                                                      clock: ManualClock) -> None:
    console = Throttle(_settings(settings, 1), clock)
    assert all(console(Incoming("console", "1", "1", text="x")) is None for _ in range(5))
    off = Throttle(_settings(settings, 0), clock)
    assert all(off(Incoming("telegram", "1", "1", text="x")) is None for _ in range(5))


def test_answered_in_the_language_of_the_message(settings: Settings,
                                                 clock: ManualClock) -> None:
    throttle = Throttle(_settings(settings, 1), clock)
    inc = Incoming("telegram", "1", "1", text="halo", language="id")
    assert throttle(inc) is None
    replies = throttle(inc)
    assert replies is not None and "faster than I can follow" not in replies[0].text
